using System.Buffers.Binary;
using System.Text;

namespace Ebpf.Btf;

/// <summary>The BTF_F_* flags of bpf_snprintf_btf / bpf_seq_printf_btf (the kernel's BTF_SHOW_* bits).</summary>
[Flags]
public enum BtfPrintFlags : ulong
{
    /// <summary>One member per line, indented, with type names and non-zero values only.</summary>
    None = 0,
    /// <summary>BTF_F_COMPACT: no newlines and no indentation.</summary>
    Compact = 1,
    /// <summary>BTF_F_NONAME: no member or type names.</summary>
    NoName = 2,
    /// <summary>BTF_F_PTR_RAW: pointers as their raw value (%px) rather than hashed (%p).</summary>
    PtrRaw = 4,
    /// <summary>BTF_F_ZERO: zero-valued members and nested aggregates are shown too.</summary>
    Zero = 8,
    /// <summary>Every flag the helpers accept (BTF_F_ALL); others are EINVAL.</summary>
    All = Compact | NoName | PtrRaw | Zero,
}

/// <summary>
/// Prints an object as the kernel's btf_type_show does for bpf_snprintf_btf, bpf_seq_printf_btf and bpftool's
/// kernel-side dumps: <c>(struct name){ .member = (type)value, … }</c> with the kernel's names, indentation,
/// delimiters, zero suppression (a nested aggregate whose members are all zero is left out unless
/// <see cref="BtfPrintFlags.Zero"/>), bitfields in hex, char arrays as characters up to their NUL, and its quirks
/// (an array of pointers or of arrays repeats its first element, as the kernel's element size is 0 for them; a
/// qualifier-typed member prints an empty type name). Output is bytes: characters ≥ 0xa0 are printable in the
/// kernel's ctype and are emitted raw.
/// </summary>
public sealed class BtfObjectPrinter
{
    private const int MaxNameIterations = 10; // BTF_SHOW_MAX_ITER
    private const int MaxIndent = 32;

    private readonly BtfSpec _btf;
    private readonly BtfPrintFlags _flags;
    private readonly Func<ulong, ulong> _hashPointer;
    private readonly List<byte> _out = [];
    private byte[] _data = [];

    // The kernel's show->state.
    private int _depth;
    private int _depthCheck;
    private int _depthToShow;
    private BtfMember? _member;
    private bool _arrayMember;
    private bool _arrayIsChars;
    private bool _arrayTerminated;
    private BtfType? _type;
    private uint _typeId;

    private BtfObjectPrinter(BtfSpec btf, BtfPrintFlags flags, Func<ulong, ulong>? hashPointer)
    {
        _btf = btf;
        _flags = flags;
        _hashPointer = hashPointer ?? (p => (uint)HashCode.Combine(p));
    }

    /// <summary>
    /// The text the kernel would produce for the object of type <paramref name="typeId"/> in <paramref name="btf"/>
    /// stored in <paramref name="data"/> (at least the type's size; shorter data reads as zero past its end).
    /// <paramref name="hashPointer"/> stands for the kernel's keyed pointer hash (%p without PTR_RAW); its low 32 bits
    /// are printed.
    /// </summary>
    public static byte[] Print(BtfSpec btf, uint typeId, ReadOnlySpan<byte> data, BtfPrintFlags flags, Func<ulong, ulong>? hashPointer = null)
    {
        ArgumentNullException.ThrowIfNull(btf);
        var printer = new BtfObjectPrinter(btf, flags, hashPointer);
        uint size = SizeOrZero(btf, typeId);
        var copy = new byte[Math.Max(size, (uint)data.Length) + 16]; // slack: the kernel reads whole ints/enums
        data.CopyTo(copy);
        printer._data = copy;
        printer.Show(btf.GetType(typeId), typeId, 0, 0);
        return printer._out.ToArray();
    }

    /// <summary>The object size the helpers read (btf_resolve_size), or 0 for types without one (FUNC, FWD, …).</summary>
    public static uint SizeOrZero(BtfSpec btf, uint typeId)
    {
        try { return btf.SizeOf(typeId); }
        catch (BpfException) { return 0; }
    }

    private void Show(BtfType t, uint id, int offset, int bitsOffset)
    {
        switch (t)
        {
            case BtfInt i: ShowInt(i, id, offset, bitsOffset); break;
            case BtfPtr: ShowPointer(t, id, offset); break;
            case BtfArray a: ShowArray(a, id, offset, bitsOffset); break;
            case BtfComposite c: ShowComposite(c, id, offset, bitsOffset); break;
            case BtfEnumType e: ShowEnum(e, id, offset); break;
            case BtfReferenceType r when r.IsModifier || r.Kind == BtfKind.Typedef:
            case BtfVar:
            {
                // btf_modifier_show / btf_var_show: the resolved type, shown under the resolved id.
                uint resolved = t is BtfVar v ? _btf.SkipTypedefs(v.Type) : _btf.SkipTypedefs(id);
                Show(_btf.GetType(resolved), resolved, offset, bitsOffset);
                break;
            }
            case BtfDatasec d: ShowDatasec(d, id, offset, bitsOffset); break;
            default: Emit($"<unsupported kind:{(int)t.Kind}>"); break;
        }
    }

    // ---- kinds ----

    private void ShowInt(BtfInt t, uint id, int offset, int bitsOffset)
    {
        StartType(t, id);
        if (bitsOffset != 0 || t.BitOffset != 0 || t.Bits % 8 != 0)
        {
            ShowIntBits(t, offset, bitsOffset);
            EndType();
            return;
        }
        var d = _data.AsSpan(offset);
        bool signed = t.IsSigned;
        switch (t.Bits)
        {
            case 128:
                ShowInt128(BinaryPrimitives.ReadUInt64LittleEndian(d), BinaryPrimitives.ReadUInt64LittleEndian(d[8..]));
                break;
            case 64:
            {
                ulong v = BinaryPrimitives.ReadUInt64LittleEndian(d);
                TypeValue(v != 0, signed ? ((long)v).ToString() : v.ToString());
                break;
            }
            case 32:
            {
                uint v = BinaryPrimitives.ReadUInt32LittleEndian(d);
                TypeValue(v != 0, signed ? ((int)v).ToString() : v.ToString());
                break;
            }
            case 16:
            {
                ushort v = BinaryPrimitives.ReadUInt16LittleEndian(d);
                TypeValue(v != 0, signed ? ((short)v).ToString() : v.ToString());
                break;
            }
            case 8:
            {
                byte b = d[0];
                if (_arrayIsChars)
                {
                    if (_arrayTerminated)
                        break;
                    if (b == 0)
                    {
                        _arrayTerminated = true;
                        break;
                    }
                    if (IsPrint(b))
                    {
                        TypeValue(true, "'" + (char)b + "'");
                        break;
                    }
                }
                TypeValue(b != 0, signed ? ((sbyte)b).ToString() : b.ToString());
                break;
            }
            default:
                ShowIntBits(t, offset, bitsOffset);
                break;
        }
        EndType();
    }

    /// <summary>The kernel's ctype isprint (Latin-1: 0x20–0x7e and 0xa0–0xff).</summary>
    private static bool IsPrint(byte b) => b is >= 0x20 and <= 0x7e or >= 0xa0;

    private void ShowIntBits(BtfInt t, int offset, int bitsOffset)
    {
        int total = bitsOffset + t.BitOffset;
        ShowBitfield(offset + total / 8, total % 8, t.Bits);
    }

    /// <summary>btf_bitfield_show: <paramref name="bits"/> bits from <paramref name="bitOffset"/>, printed as hex.</summary>
    private void ShowBitfield(int offset, int bitOffset, int bits)
    {
        int copyBytes = (bits + bitOffset + 7) / 8;
        Span<byte> buffer = stackalloc byte[16];
        buffer.Clear();
        _data.AsSpan(offset, Math.Min(copyBytes, 16)).CopyTo(buffer);
        UInt128 value = BinaryPrimitives.ReadUInt128LittleEndian(buffer) >> bitOffset;
        if (bits < 128)
            value &= (UInt128.One << bits) - 1;
        ShowInt128((ulong)value, (ulong)(value >> 64));
    }

    private void ShowInt128(ulong lower, ulong upper)
    {
        if (upper == 0)
            TypeValue(lower != 0, "0x" + lower.ToString("x"));
        else
            TypeValues("0x" + upper.ToString("x") + lower.ToString("x16"));
    }

    private void ShowPointer(BtfType t, uint id, int offset)
    {
        StartType(t, id);
        ulong p = BinaryPrimitives.ReadUInt64LittleEndian(_data.AsSpan(offset));
        // %px prints the value; %p hashes it, except NULL and error pointers (IS_ERR_OR_NULL), and keeps 32 bits.
        ulong shown = (_flags & BtfPrintFlags.PtrRaw) != 0 || p == 0 || p >= unchecked((ulong)-4095) ? p : _hashPointer(p) & 0xffffffff;
        TypeValue(p != 0, "0x" + shown.ToString("x16"));
        EndType();
    }

    private void ShowEnum(BtfEnumType t, uint id, int offset)
    {
        StartType(t, id);
        var d = _data.AsSpan(offset);
        if (t.Kind == BtfKind.Enum64)
        {
            ulong v = BinaryPrimitives.ReadUInt64LittleEndian(d);
            foreach (var e in t.Values)
            {
                if ((ulong)e.Value == v)
                {
                    TypeValue(true, e.Name);
                    EndType();
                    return;
                }
            }
            TypeValue(v != 0, t.IsSigned ? ((long)v).ToString() : v.ToString());
        }
        else
        {
            int v = BinaryPrimitives.ReadInt32LittleEndian(d); // the kernel reads an int whatever the enum's size
            foreach (var e in t.Values)
            {
                if ((int)e.Value == v)
                {
                    TypeValue(true, e.Name);
                    EndType();
                    return;
                }
            }
            TypeValue(v != 0, t.IsSigned ? v.ToString() : ((uint)v).ToString());
        }
        EndType();
    }

    private void ShowDatasec(BtfDatasec t, uint id, int offset, int bitsOffset)
    {
        StartType(t, id);
        TypeValue(true, $"section (\"{t.Name}\") = {{");
        for (int i = 0; i < t.Variables.Count; i++)
        {
            var vsi = t.Variables[i];
            if (i > 0)
                Emit(",");
            Show(_btf.GetType(vsi.Type), vsi.Type, offset + (int)vsi.Offset, bitsOffset);
        }
        EndType();
    }

    private void ShowArray(BtfArray t, uint id, int offset, int bitsOffset) =>
        WithZeroCheck(() => ShowArrayBody(t, id, offset, bitsOffset));

    private void ShowComposite(BtfComposite t, uint id, int offset, int bitsOffset) =>
        WithZeroCheck(() => ShowCompositeBody(t, id, offset));

    /// <summary>
    /// btf_struct_show / btf_array_show: below the top level and without BTF_F_ZERO, a dry run (no output) first finds
    /// whether anything inside is non-zero; only then is the aggregate shown.
    /// </summary>
    private void WithZeroCheck(Action body)
    {
        var member = _member;
        if (_depth > 0 && (_flags & BtfPrintFlags.Zero) == 0)
        {
            if (_depthCheck == 0)
            {
                _depthCheck = _depth + 1;
                _depthToShow = 0;
            }
            body();
            _member = member;
            if (_depthCheck != _depth + 1)
                return;
            _depthCheck = 0;
            if (_depthToShow <= _depth)
                return;
        }
        body();
    }

    private void ShowArrayBody(BtfArray t, uint id, int offset, int bitsOffset)
    {
        uint elementId = t.ElementType;
        var element = _btf.TryGetType(elementId, out _) ? _btf.GetType(_btf.SkipTypedefs(elementId)) : null;
        // btf_type_has_size: ints, composites, enums, floats, datasecs; pointers and arrays count 0 (the kernel's quirk).
        int elementSize = element switch
        {
            BtfInt i => (int)i.Size,
            BtfComposite c => (int)c.Size,
            BtfEnumType e => (int)e.Size,
            BtfFloat f => (int)f.Size,
            BtfDatasec d => (int)d.Size,
            _ => 0,
        };
        bool chars = element is BtfInt && elementSize == 1;
        _arrayIsChars = chars;
        _arrayTerminated = false;
        StartAggregate(t, id);
        if (element is not null)
        {
            for (uint i = 0; i < t.Count; i++)
            {
                _arrayMember = true;
                _member = null;
                Show(element, elementId, offset, bitsOffset); // the resolved type's ops, the declared id
                offset += elementSize;
                _arrayMember = false;
                _member = null;
                if (_arrayTerminated)
                    break;
            }
        }
        _arrayIsChars = false;
        _arrayTerminated = false;
        EndAggregate("]");
    }

    private void ShowCompositeBody(BtfComposite t, uint id, int offset)
    {
        StartAggregate(t, id);
        foreach (var m in t.Members)
        {
            _member = m;
            var memberType = _btf.GetType(m.Type);
            int byteOffset = offset + (int)(m.BitOffset / 8);
            int bits8 = (int)(m.BitOffset % 8);
            if (m.BitfieldSize != 0)
            {
                StartType(memberType, m.Type);
                ShowBitfield(byteOffset, bits8, (int)m.BitfieldSize);
                EndType();
            }
            else
            {
                Show(memberType, m.Type, byteOffset, bits8);
            }
            _member = null;
        }
        EndAggregate("}");
    }

    // ---- the kernel's btf_show_* framing ----

    private void StartType(BtfType t, uint id)
    {
        _type = t;
        _typeId = id;
    }

    private void EndType()
    {
        _type = null;
        _typeId = 0;
    }

    private void StartAggregate(BtfType t, uint id)
    {
        StartType(t, id);
        Emit(Indent() + Name() + Newline());
        _depth++;
    }

    private void EndAggregate(string suffix)
    {
        _depth--;
        Emit(Indent() + suffix + Delimiter() + Newline());
        EndType();
    }

    /// <summary>btf_show_type_value: shown when non-zero, with BTF_F_ZERO, or at the top level.</summary>
    private void TypeValue(bool nonZero, string value)
    {
        if (!nonZero && (_flags & BtfPrintFlags.Zero) == 0 && _depth != 0)
            return;
        TypeValues(value);
    }

    private void TypeValues(string value)
    {
        Emit(Indent() + Name() + value + Delimiter() + Newline());
        if (_depth > _depthToShow)
            _depthToShow = _depth;
    }

    private void Emit(string text)
    {
        if (_depthCheck != 0)
            return;
        foreach (char c in text)
            _out.Add((byte)c); // Latin-1: the kernel writes bytes
    }

    private bool Compact => (_flags & BtfPrintFlags.Compact) != 0;

    private string Indent() => Compact ? "" : new string(' ', Math.Min(_depth, MaxIndent));

    private string Newline() => Compact ? "" : "\n";

    private string Delimiter()
    {
        if (_depth == 0)
            return "";
        return Compact && _type?.Kind == BtfKind.Union ? "|" : ",";
    }

    /// <summary>btf_show_name: "[.member = ](prefix name *…[]…)" plus the opening "{" or "[" of an aggregate.</summary>
    private string Name()
    {
        if (_arrayMember)
            return "";
        uint id = _typeId;
        string member = "";
        if (_member is { } m)
        {
            member = m.Name;
            id = m.Type;
        }
        if (!_btf.TryGetType(id, out var t))
            return "";
        string? name = null;
        string prefix = "", parens = "";
        bool sawTypedef = false, sawArray = false, sawPointer = false;
        int arrays = 0, pointers = 0;
        int i;
        for (i = 0; i < MaxNameIterations; i++)
        {
            uint next;
            switch (t.Kind)
            {
                case BtfKind.Typedef:
                    name ??= t.Name;
                    sawTypedef = true;
                    next = ((BtfReferenceType)t).Type;
                    break;
                case BtfKind.Array:
                    sawArray = true;
                    parens = "[";
                    arrays++;
                    next = ((BtfArray)t).ElementType;
                    break;
                case BtfKind.Ptr:
                    sawPointer = true;
                    pointers++;
                    next = ((BtfReferenceType)t).Type;
                    break;
                default:
                    next = 0;
                    break;
            }
            if (next == 0)
                break;
            t = _btf.GetType(SkipQualifiers(next));
        }
        if (i == MaxNameIterations)
            return "";
        name ??= t.Name;
        switch (t.Kind)
        {
            case BtfKind.Struct:
            case BtfKind.Union:
                prefix = t.Kind == BtfKind.Struct ? "struct" : "union";
                if (!sawArray)
                    parens = "{";
                break;
            case BtfKind.Enum:
            case BtfKind.Enum64:
                prefix = "enum";
                break;
        }
        if (sawPointer)
            parens = "";
        if (sawTypedef)
            prefix = "";
        if ((_flags & BtfPrintFlags.NoName) != 0)
            return parens;
        var sb = new StringBuilder();
        if (member.Length > 0)
            sb.Append('.').Append(member).Append(" = ");
        sb.Append('(').Append(prefix);
        if (prefix.Length > 0 && name.Length > 0)
            sb.Append(' ');
        sb.Append(name);
        if (pointers > 0)
            sb.Append(' ').Append('*', pointers);
        for (int a = 0; a < arrays; a++)
            sb.Append("[]");
        sb.Append(')').Append(parens);
        return sb.ToString();
    }

    /// <summary>btf_type_skip_qualifiers: const/volatile/restrict/type tags, but not typedefs.</summary>
    private uint SkipQualifiers(uint id)
    {
        for (int n = 0; n < 64; n++)
        {
            if (!_btf.TryGetType(id, out var t) || t is not BtfReferenceType { IsModifier: true } r)
                return id;
            id = r.Type;
        }
        return id;
    }
}
