using System.Text;

namespace Ebpf.Btf;

/// <summary>
/// Builds a deduplicated BTF string section. For split BTF, strings the base already holds are referenced
/// at their base offset (as libbpf does) and new ones continue after the base's table.
/// </summary>
internal sealed class BtfStringTableBuilder
{
    private readonly Dictionary<string, uint> _offsets = new(StringComparer.Ordinal);
    private readonly BtfSpec? _base;
    private readonly uint _start;
    private byte[] _bytes = new byte[256];
    private int _length;

    private readonly BtfSpec? _preserved;

    public BtfStringTableBuilder(BtfSpec? baseBtf, BtfSpec? preserve = null)
    {
        _base = baseBtf;
        _start = baseBtf?.TotalStringLength ?? 0;
        _offsets[""] = 0;
        if (preserve is not null)
        {
            // Keep the original table byte for byte so every old offset (e.g. .BTF.ext line_info strings,
            // which no type references) stays valid; new strings are appended.
            _preserved = preserve;
            var table = preserve.StringTable;
            _bytes = new byte[Math.Max(table.Length * 2, 256)];
            table.CopyTo(_bytes);
            _length = table.Length;
        }
        else if (baseBtf is null)
        {
            _length = 1; // the mandatory empty string at offset 0
        }
    }

    public uint Add(string s)
    {
        if (_offsets.TryGetValue(s, out uint off))
            return off;
        if (_preserved is not null && _preserved.TryFindString(s, out off))
        {
            _offsets[s] = off;
            return off;
        }
        if (_base is not null && _base.TryFindString(s, out off))
        {
            _offsets[s] = off;
            return off;
        }
        int needed = Encoding.UTF8.GetByteCount(s) + 1;
        if (_length + needed > _bytes.Length)
            Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, _length + needed));
        off = _start + (uint)_length;
        _length += Encoding.UTF8.GetBytes(s, _bytes.AsSpan(_length));
        _bytes[_length++] = 0;
        if (off > BtfSpec.MaxNameOffset)
            throw new BpfException(Errno.E2BIG, $"string section exceeds the maximum name offset {BtfSpec.MaxNameOffset}");
        _offsets[s] = off;
        return off;
    }

    public ReadOnlySpan<byte> Bytes => _bytes.AsSpan(0, _length);
}
