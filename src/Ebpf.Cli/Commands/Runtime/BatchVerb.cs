using System.CommandLine;
using System.Text;

namespace Ebpf.Cli.Commands.Runtime;

/// <summary>
/// `ebpf batch file FILE`: one command per line ('#' starts a comment, quotes group words, a
/// trailing '\' continues the line), all lines against ONE runtime instance, stopping at the
/// first failing line as bpftool does.
/// </summary>
internal sealed class BatchFileVerb : ICliVerb
{
    public IReadOnlyList<string> Path => ["batch", "file"];

    public Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "Command file ('-' for stdin)" };
        var command = new Command("file", "Run the commands of FILE in one managed runtime") { file };
        CliConsole.SetBody(command, pr =>
        {
            string path = pr.GetValue(file)!;
            string text = path == "-" ? Console.In.ReadToEnd()
                : File.Exists(path) ? File.ReadAllText(path)
                : throw new BpfException(Errno.ENOENT, $"can't open file ({path}): No such file or directory");
            bool json = CliConsole.IsJson(pr);
            var runtime = CliRuntime.Create();
            using var _ = CliRuntime.Share(runtime);
            var stdout = CliConsole.Out;
            var stderr = CliConsole.Error;
            int processed = 0;
            foreach (var (lineNumber, words) in SplitLines(text))
            {
                var args = json ? words.Prepend("-j").ToArray() : words.ToArray();
                if (words.Count > 0 && words[0] == "batch")
                {
                    stderr.WriteLine($"Error: line {lineNumber}: recursive batch is not allowed");
                    return 1;
                }
                int rc = EbpfCli.Run(args, stdout, stderr);
                if (rc != 0)
                {
                    stderr.WriteLine($"Error: error in line {lineNumber}: processed {processed} commands");
                    return rc;
                }
                processed++;
            }
            if (!json)
                stdout.WriteLine($"processed {processed} commands");
            return 0;
        });
        return command;
    }

    /// <summary>Splits the file into (line number, words), honouring quotes, comments and continuations.</summary>
    internal static IEnumerable<(int Line, List<string> Words)> SplitLines(string text)
    {
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var pending = new StringBuilder();
        int start = 0;
        for (int i = 0; i < lines.Length; i++)
        {
            if (pending.Length == 0) start = i + 1;
            string line = lines[i];
            if (line.EndsWith('\\'))
            {
                pending.Append(line, 0, line.Length - 1).Append(' ');
                continue;
            }
            pending.Append(line);
            var words = SplitWords(pending.ToString(), start);
            pending.Clear();
            if (words.Count > 0)
                yield return (start, words);
        }
    }

    private static List<string> SplitWords(string line, int lineNumber)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        bool inWord = false;
        char quote = '\0';
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quote != '\0')
            {
                if (c == quote) quote = '\0';
                else current.Append(c);
                continue;
            }
            if (c is '"' or '\'') { quote = c; inWord = true; continue; }
            if (c == '#') break;
            if (char.IsWhiteSpace(c))
            {
                if (inWord) { words.Add(current.ToString()); current.Clear(); inWord = false; }
                continue;
            }
            current.Append(c);
            inWord = true;
        }
        if (quote != '\0')
            throw new CliUsageException($"line {lineNumber}: unterminated quote");
        if (inWord) words.Add(current.ToString());
        return words;
    }
}
