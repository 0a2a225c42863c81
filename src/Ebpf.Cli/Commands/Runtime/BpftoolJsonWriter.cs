using System.Text;

namespace Ebpf.Cli.Commands.Runtime;

/// <summary>
/// bpftool's json_writer, byte for byte: compact for <c>-j</c>, "pretty" (4-space indents, a newline
/// before every member name and before a closing bracket that closes something non-empty, array
/// elements glued with ',') for the BTF plain-text dump. Values are written raw, as its jsonw_printf.
/// </summary>
internal sealed class BpftoolJsonWriter(bool pretty)
{
    private readonly StringBuilder _out = new();
    private int _depth;
    private char _sep;

    public override string ToString() => _out.ToString();

    private void Indent()
    {
        for (int i = 0; i < _depth; i++) _out.Append("    ");
    }

    private void Eol()
    {
        if (!pretty) return;
        _out.Append('\n');
        Indent();
    }

    private void Eor()
    {
        if (_sep != '\0') _out.Append(_sep);
        _sep = ',';
    }

    private void Begin(char c)
    {
        Eor();
        _out.Append(c);
        _depth++;
        _sep = '\0';
    }

    private void End(char c)
    {
        _depth--;
        if (_sep != '\0') Eol();
        _out.Append(c);
        _sep = ',';
    }

    public void StartObject() => Begin('{');
    public void EndObject() => End('}');
    public void StartArray() => Begin('[');
    public void EndArray() => End(']');

    public void Name(string name)
    {
        Eor();
        Eol();
        _sep = '\0';
        AppendString(name);
        _out.Append(':');
        if (pretty) _out.Append(' ');
    }

    /// <summary>jsonw_printf: a raw value.</summary>
    public void Raw(string value)
    {
        Eor();
        _out.Append(value);
    }

    /// <summary>jsonw_string: a quoted, escaped string.</summary>
    public void String(string value)
    {
        Eor();
        AppendString(value);
    }

    private void AppendString(string s)
    {
        _out.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '\t': _out.Append("\\t"); break;
                case '\n': _out.Append("\\n"); break;
                case '\r': _out.Append("\\r"); break;
                case '\f': _out.Append("\\f"); break;
                case '\b': _out.Append("\\b"); break;
                case '\\': _out.Append("\\\\"); break;
                case '"': _out.Append("\\\""); break;
                default: _out.Append(c); break;
            }
        }
        _out.Append('"');
    }
}
