using System.Text;

namespace Ebpf.Layering;

/// <summary>
/// C# source reduced to its code: comments, string and character literals blanked out (newlines kept), so a scan for
/// namespace names sees only what the compiler would bind. Interpolation holes are blanked with their string: a
/// fully-qualified name inside one is missed, which no file here relies on.
/// </summary>
public static class CSharpText
{
    public static string CodeOnly(string source)
    {
        var s = new StringBuilder(source.Length);
        int i = 0;
        while (i < source.Length)
        {
            char c = source[i];
            char next = i + 1 < source.Length ? source[i + 1] : '\0';
            if (c == '/' && next == '/')
                i = SkipUntil(source, i, "\n", s, keepEnd: true);
            else if (c == '/' && next == '*')
                i = SkipUntil(source, i + 2, "*/", s, keepEnd: false);
            else if (c == '"' && next == '"' && i + 2 < source.Length && source[i + 2] == '"')
                i = SkipRawString(source, i, s);
            else if (c == '"')
                i = SkipRegularString(source, i + 1, verbatim: IsVerbatimPrefix(source, i), s);
            else if (c == '\'')
                i = SkipCharLiteral(source, i, s);
            else
            {
                s.Append(c);
                i++;
            }
        }
        return s.ToString();
    }

    // @"…" and $@"…"/@$"…": quotes double instead of backslash escapes.
    private static bool IsVerbatimPrefix(string source, int quote) =>
        (quote >= 1 && source[quote - 1] == '@') || (quote >= 2 && source[quote - 2] == '@' && source[quote - 1] == '$');

    private static int SkipUntil(string source, int i, string end, StringBuilder s, bool keepEnd)
    {
        int at = source.IndexOf(end, i, StringComparison.Ordinal);
        int stop = at < 0 ? source.Length : at;
        KeepNewlines(source, i, stop, s);
        if (at < 0)
            return source.Length;
        if (keepEnd)
            return at; // the newline itself is copied by the main loop
        return at + end.Length;
    }

    private static int SkipRegularString(string source, int i, bool verbatim, StringBuilder s)
    {
        s.Append("\"\"");
        while (i < source.Length)
        {
            char c = source[i];
            if (!verbatim && c == '\\') { i += 2; continue; }
            if (c == '"')
            {
                if (verbatim && i + 1 < source.Length && source[i + 1] == '"') { i += 2; continue; }
                return i + 1;
            }
            if (c == '\n') s.Append('\n');
            i++;
        }
        return i;
    }

    private static int SkipRawString(string source, int i, StringBuilder s)
    {
        int quotes = 0;
        while (i + quotes < source.Length && source[i + quotes] == '"') quotes++;
        string end = new('"', quotes);
        s.Append("\"\"");
        return SkipUntil(source, i + quotes, end, s, keepEnd: false);
    }

    private static int SkipCharLiteral(string source, int i, StringBuilder s)
    {
        int j = i + 1;
        if (j < source.Length && source[j] == '\\') j += 2; else j += 1;
        while (j < source.Length && source[j] != '\'' && source[j] != '\n') j++;
        s.Append("' '");
        return Math.Min(source.Length, j + 1);
    }

    private static void KeepNewlines(string source, int from, int to, StringBuilder s)
    {
        for (int k = from; k < to; k++)
            if (source[k] == '\n') s.Append('\n');
    }
}
