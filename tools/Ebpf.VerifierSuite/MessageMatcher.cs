using System.Text;
using System.Text.RegularExpressions;

namespace Ebpf.VerifierSuite;

/// <summary>
/// test_loader.c's __msg check: every expected message is found in the log, each after the previous one; "{{…}}"
/// inside a message is a regular expression, the rest is literal.
/// </summary>
internal static class MessageMatcher
{
    public static bool AllInOrder(string log, IReadOnlyList<string> messages)
    {
        int from = 0;
        foreach (string message in messages)
        {
            var match = ToRegex(message).Match(log, from);
            if (!match.Success) return false;
            from = match.Index + match.Length;
        }
        return true;
    }

    private static Regex ToRegex(string message)
    {
        var pattern = new StringBuilder();
        int i = 0;
        while (i < message.Length)
        {
            int open = message.IndexOf("{{", i, StringComparison.Ordinal);
            int close = open < 0 ? -1 : message.IndexOf("}}", open + 2, StringComparison.Ordinal);
            if (open < 0 || close < 0)
            {
                pattern.Append(Regex.Escape(message[i..]));
                break;
            }
            pattern.Append(Regex.Escape(message[i..open])).Append(message[(open + 2)..close]);
            i = close + 2;
        }
        return new Regex(pattern.ToString(), RegexOptions.CultureInvariant, TimeSpan.FromSeconds(5));
    }
}
