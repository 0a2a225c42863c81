using System.Globalization;
using System.Text;

namespace Ebpf.Btf;

/// <summary>
/// Prints BTF as a compilable C header, the equivalent of <c>bpftool btf dump file F format c</c> (vmlinux.h):
/// types ordered so every definition precedes its use, forward declarations where a pointer cycle needs
/// them, anonymous structs/unions/enums inline, bitfields and explicit padding, packed structs,
/// function pointers and arrays of them, the preserve_access_index pragma and include guard.
/// Duplicate names of distinct types get a <c>___N</c> suffix as bpftool does.
/// </summary>
public sealed class BtfCPrinter
{
    private enum Order : byte { None, Ordering, Ordered }
    private enum Emit : byte { None, Emitting, Emitted }

    private readonly BtfSpec _btf;
    private readonly Order[] _order;
    private readonly Emit[] _emit;
    private readonly bool[] _fwdEmitted;
    private readonly bool[] _referenced;
    private readonly string?[] _cachedNames;
    private readonly Dictionary<string, int> _typeNames = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _identNames = new(StringComparer.Ordinal);
    private readonly List<uint> _queue = [];
    private TextWriter _w = TextWriter.Null;
    private int _depth;

    /// <summary>Deeper nesting than this can only come from a cycle in malformed BTF.</summary>
    private const int MaxDepth = 512;

    /// <summary>Padding gaps larger than this (in bits) can only come from malformed sizes; refuse to print megabytes of it.</summary>
    private const long MaxPaddingBits = 1L << 20;

    private DepthScope Enter(uint id)
    {
        if (++_depth > MaxDepth)
        {
            _depth = 0;
            throw new BpfException(Errno.ELOOP, $"[{id}] type references nest deeper than {MaxDepth}: cyclic BTF cannot be printed as C");
        }
        return new DepthScope(this);
    }

    private readonly struct DepthScope(BtfCPrinter printer) : IDisposable
    {
        public void Dispose() => printer._depth = Math.Max(0, printer._depth - 1);
    }

    /// <summary>
    /// A printer of every type of <paramref name="btf"/> as a C header, in the order <c>bpftool btf dump format
    /// c</c> emits them.
    /// </summary>
    public BtfCPrinter(BtfSpec btf)
    {
        _btf = btf;
        int n = (int)btf.MaxTypeId + 1;
        _order = new Order[n];
        _emit = new Emit[n];
        _fwdEmitted = new bool[n];
        _referenced = new bool[n];
        _cachedNames = new string?[n];
        MarkReferenced();
    }

    /// <summary>
    /// Adds <c>__attribute__((mode(byte|word)))</c> to enums whose BTF size C would not choose by itself (1-byte
    /// enums, 8-byte enums whose values fit 32 bits), as current libbpf does. bpftool 7.1 (libbpf 1.1) predates
    /// this; turn it off to reproduce that output byte for byte.
    /// </summary>
    public bool EnumSizeAttributes { get; init; } = true;

    /// <summary>The whole header (guard, pragma, every type of this BTF, closing lines).</summary>
    public string Print()
    {
        var sb = new StringBuilder();
        using var w = new StringWriter(sb, CultureInfo.InvariantCulture) { NewLine = "\n" };
        Print(w);
        return sb.ToString();
    }

    /// <summary>Writes the whole header (guard, pragma, every type, closing lines) to <paramref name="w"/>.</summary>
    public void Print(TextWriter w)
    {
        w.Write("#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n\n");
        w.Write("#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n");
        w.Write("#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n");
        w.Write("#endif\n\n");
        for (uint id = _btf.FirstTypeId; id <= _btf.MaxTypeId; id++)
            EmitTopLevel(id, w);
        w.Write("#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n");
        w.Write("#endif /* __VMLINUX_H__ */\n");
    }

    /// <summary>Emits one type and whatever it depends on that was not emitted yet (btf_dump__dump_type).</summary>
    internal void EmitTopLevel(uint id, TextWriter w)
    {
        _w = w;
        _queue.Clear();
        if (OrderType(id, throughPtr: false) < 0)
            return;
        foreach (uint q in _queue)
            EmitType(q, 0);
    }

    private BtfType T(uint id) => _btf.GetType(id);

    private void MarkReferenced()
    {
        foreach (var t in _btf.AllTypes)
        {
            switch (t)
            {
                case BtfFuncProto p:
                    foreach (var param in p.Parameters)
                        Mark(param.Type);
                    break;
                default:
                    foreach (uint r in t.References())
                        Mark(r);
                    break;
            }
        }

        void Mark(uint id)
        {
            if (id < _referenced.Length)
                _referenced[id] = true;
        }
    }

    // ---- ordering: a type is queued once everything it embeds is queued; pointers only need a forward
    // declaration, so they break cycles. Returns 1 when the type forms a "strong" (by-value) link.

    private int OrderType(uint id, bool throughPtr)
    {
        using var _ = Enter(id);
        if (id == 0 || !_btf.TryGetType(id, out var t))
            return 0;
        if (_order[id] == Order.Ordered)
            return 1;
        if (_order[id] == Order.Ordering)
        {
            // A loop through a pointer to a named struct/union is satisfied by a forward declaration.
            if (t is BtfComposite && throughPtr && !t.IsAnonymous)
                return 0;
            return -1; // unsatisfiable type cycle
        }
        switch (t)
        {
            case BtfInt or BtfFloat:
                _order[id] = Order.Ordered;
                return 0;
            case BtfPtr p:
            {
                int err = OrderType(p.Type, throughPtr: true);
                _order[id] = Order.Ordered;
                return err;
            }
            case BtfArray a:
                return OrderType(a.ElementType, throughPtr: false);
            case BtfComposite c:
            {
                if (throughPtr && !c.IsAnonymous)
                    return 0;
                _order[id] = Order.Ordering;
                foreach (var m in c.Members)
                {
                    if (OrderType(m.Type, throughPtr: false) < 0)
                        return -1;
                }
                if (!c.IsAnonymous)
                    _queue.Add(id);
                _order[id] = Order.Ordered;
                return 1;
            }
            case BtfEnumType or BtfFwd:
                // Named or unreferenced enums (and forward declarations) are top-level declarations.
                if (!t.IsAnonymous || !_referenced[id])
                    _queue.Add(id);
                _order[id] = Order.Ordered;
                return 1;
            case BtfTypedef td:
            {
                int strong = OrderType(td.Type, throughPtr);
                if (strong < 0)
                    return strong;
                if (throughPtr && strong == 0)
                    return 0;
                _queue.Add(id);
                _order[id] = Order.Ordered;
                return 1;
            }
            case BtfReferenceType modifier:
                return OrderType(modifier.Type, throughPtr);
            case BtfFuncProto proto:
            {
                int err = OrderType(proto.ReturnType, throughPtr);
                if (err < 0)
                    return err;
                bool strong = err > 0;
                foreach (var p in proto.Parameters)
                {
                    err = OrderType(p.Type, throughPtr);
                    if (err < 0)
                        return err;
                    strong |= err > 0;
                }
                return strong ? 1 : 0;
            }
            default: // FUNC, VAR, DATASEC, DECL_TAG are not emitted
                _order[id] = Order.Ordered;
                return 0;
        }
    }

    // ---- emission

    private static bool IsBlacklisted(BtfType t) => t is BtfTypedef && t.Name == "__builtin_va_list";

    private void EmitType(uint id, uint containerId)
    {
        using var _ = Enter(id);
        if (id == 0 || !_btf.TryGetType(id, out var t))
            return;
        bool topLevel = containerId == 0;
        if (_emit[id] == Emit.Emitted)
            return;
        if (_emit[id] == Emit.Emitting)
        {
            if (_fwdEmitted[id])
                return;
            switch (t)
            {
                case BtfComposite c:
                    if (id == containerId || c.IsAnonymous)
                        return;
                    _w.Write(StructFwd(id, c));
                    _w.Write(";\n\n");
                    _fwdEmitted[id] = true;
                    break;
                case BtfTypedef td:
                    if (!IsBlacklisted(td))
                    {
                        EmitTypedefDef(id, td, 0);
                        _w.Write(";\n\n");
                    }
                    _fwdEmitted[id] = true;
                    break;
            }
            return;
        }
        switch (t)
        {
            case BtfInt:
                _emit[id] = Emit.Emitted;
                break;
            case BtfEnumType e:
                if (topLevel)
                {
                    EmitEnumDef(id, e, 0);
                    _w.Write(";\n\n");
                }
                _emit[id] = Emit.Emitted;
                break;
            case BtfPtr or BtfVolatile or BtfConst or BtfRestrict or BtfTypeTag:
                EmitType(((BtfReferenceType)t).Type, containerId);
                break;
            case BtfArray a:
                EmitType(a.ElementType, containerId);
                break;
            case BtfFwd f:
                _w.Write(FwdDef(id, f));
                _w.Write(";\n\n");
                _emit[id] = Emit.Emitted;
                break;
            case BtfTypedef td:
                _emit[id] = Emit.Emitting;
                EmitType(td.Type, id);
                if (!_fwdEmitted[id] && !IsBlacklisted(td))
                {
                    EmitTypedefDef(id, td, 0);
                    _w.Write(";\n\n");
                }
                _emit[id] = Emit.Emitted;
                break;
            case BtfComposite c:
                _emit[id] = Emit.Emitting;
                // A definition prints every member's type, so those need their own declarations first;
                // a mere reference to a named struct needs only a forward declaration.
                if (topLevel || c.IsAnonymous)
                {
                    uint inner = c.IsAnonymous ? containerId : id;
                    foreach (var m in c.Members)
                        EmitType(m.Type, inner);
                }
                else if (!_fwdEmitted[id] && id != containerId)
                {
                    _w.Write(StructFwd(id, c));
                    _w.Write(";\n\n");
                    _fwdEmitted[id] = true;
                }
                if (topLevel)
                {
                    EmitStructDef(id, c, 0);
                    _w.Write(";\n\n");
                    _emit[id] = Emit.Emitted;
                }
                else
                {
                    _emit[id] = Emit.None;
                }
                break;
            case BtfFuncProto proto:
                EmitType(proto.ReturnType, containerId);
                foreach (var p in proto.Parameters)
                    EmitType(p.Type, containerId);
                break;
        }
    }

    // ---- names

    private string ResolveName(uint id, Dictionary<string, int> names)
    {
        var t = T(id);
        if (t.IsAnonymous)
            return "";
        if (_cachedNames[id] is { } cached)
            return cached;
        int dups = Dups(names, t.Name);
        string name = dups > 1 ? $"{t.Name}___{dups}" : t.Name;
        _cachedNames[id] = name;
        return name;
    }

    private static int Dups(Dictionary<string, int> names, string name)
    {
        names.TryGetValue(name, out int count);
        names[name] = ++count;
        return count;
    }

    private string TypeName(uint id) => ResolveName(id, _typeNames);
    private string IdentName(uint id) => ResolveName(id, _identNames);

    private static string Indent(int level) => new('\t', Math.Max(level, 0));

    private string StructFwd(uint id, BtfComposite c) =>
        $"{(c.IsUnion ? "union" : "struct")}{(c.IsAnonymous ? "" : " ")}{TypeName(id)}";

    private string FwdDef(uint id, BtfFwd f) => $"{(f.IsUnion ? "union" : "struct")} {TypeName(id)}";

    private string EnumFwd(uint id, BtfEnumType e) => $"enum{(e.IsAnonymous ? "" : " ")}{TypeName(id)}";

    private void EmitTypedefDef(uint id, BtfTypedef td, int level)
    {
        string name = IdentName(id);
        // Old GCC emitted __gnuc_va_list as a typedef of void; that would not compile.
        if (td.Type == 0 && name == "__gnuc_va_list")
        {
            _w.Write("typedef __builtin_va_list __gnuc_va_list");
            return;
        }
        _w.Write("typedef ");
        EmitTypeDecl(td.Type, name, level);
    }

    private void EmitEnumDef(uint id, BtfEnumType e, int level)
    {
        _w.Write(EnumFwd(id, e));
        if (e.Values.Count == 0)
            return;
        _w.Write(" {");
        foreach (var v in e.Values)
        {
            int dups = Dups(_identNames, v.Name);
            string name = dups > 1 ? $"{v.Name}___{dups}" : v.Name;
            string value = e switch
            {
                BtfEnum when e.IsSigned => ((int)v.Value).ToString(CultureInfo.InvariantCulture),
                BtfEnum => ((uint)v.Value).ToString(CultureInfo.InvariantCulture),
                _ when e.IsSigned => v.Value.ToString(CultureInfo.InvariantCulture) + "LL",
                _ => ((ulong)v.Value).ToString(CultureInfo.InvariantCulture) + "ULL",
            };
            _w.Write($"\n{Indent(level + 1)}{name} = {value},");
        }
        _w.Write($"\n{Indent(level)}}}");
        // Enums whose size C would not pick on its own need a mode attribute.
        if (!EnumSizeAttributes)
            return;
        if (e.Size == 1)
            _w.Write(" __attribute__((mode(byte)))");
        else if (e.Size == 8 && (e is BtfEnum || e.Values.All(v => ((ulong)v.Value >> 32) == 0 && !(e.IsSigned && v.Value < int.MinValue))))
            _w.Write(" __attribute__((mode(word)))");
    }

    /// <summary>
    /// A struct must be printed packed when a non-bitfield member sits off its natural alignment or the size
    /// is not a multiple of the largest member alignment (the layout cannot come from C's default rules).
    /// </summary>
    private bool IsPacked(BtfComposite c, out uint maxAlign)
    {
        maxAlign = 1;
        foreach (var m in c.Members)
        {
            uint a = SafeAlign(m.Type);
            if (a != 0 && m.BitfieldSize == 0 && m.BitOffset % (8 * a) != 0)
                return true;
            maxAlign = Math.Max(maxAlign, a);
        }
        return c.Size % maxAlign != 0;
    }

    private uint SafeAlign(uint id)
    {
        try
        {
            return _btf.AlignOf(id);
        }
        catch (BpfException)
        {
            return 0;
        }
    }

    private long SafeSize(uint id)
    {
        try
        {
            return _btf.SizeOf(id);
        }
        catch (BpfException)
        {
            return 0;
        }
    }

    private void EmitStructDef(uint id, BtfComposite c, int level)
    {
        using var _ = Enter(id);
        uint structAlign = 1;
        bool packed = !c.IsUnion && IsPacked(c, out structAlign);
        _w.Write(StructFwd(id, c));
        _w.Write(" {");
        long off = 0;
        bool prevBitfield = false;
        foreach (var m in c.Members)
        {
            long mOff = m.BitOffset;
            long mSize = m.BitfieldSize;
            uint align = packed ? 1 : SafeAlign(m.Type);
            bool inBitfield = prevBitfield && mSize != 0;
            EmitBitPadding(off, mOff, align, inBitfield, level + 1);
            _w.Write($"\n{Indent(level + 1)}");
            EmitTypeDecl(m.Type, m.Name, level + 1);
            if (mSize != 0)
            {
                _w.Write($": {mSize}");
                off = mOff + mSize;
                prevBitfield = true;
            }
            else
            {
                off = mOff + SafeSize(m.Type) * 8;
                prevBitfield = false;
            }
            _w.Write(';');
        }
        if (!c.IsUnion)
            EmitBitPadding(off, (long)c.Size * 8, packed ? 1 : structAlign, false, level + 1);
        if (c.Members.Count > 0 || c.Size > 0)
            _w.Write($"\n{Indent(level)}}}");
        else
            _w.Write('}');
        if (packed)
            _w.Write(" __attribute__((packed))");
    }

    private static readonly (string Name, int Bits)[] Pads = [("long", 64), ("int", 32), ("short", 16), ("char", 8)];

    /// <summary>
    /// Fills the gap between the end of the previous member and the next one with unnamed bitfields, relying
    /// on natural alignment where the compiler would pad anyway, so the printed struct has the same layout.
    /// </summary>
    private void EmitBitPadding(long cur, long next, uint nextAlign, bool inBitfield, int level)
    {
        if (cur >= next)
            return;
        if (next - cur > MaxPaddingBits)
            throw new BpfException(Errno.E2BIG, $"padding gap of {next - cur} bits (from bit {cur} to {next}) is too large to print");
        long newOff = 0;
        int padBits = 0;
        string padType = "";
        foreach (var (name, bits) in Pads)
        {
            padBits = bits;
            padType = name;
            newOff = RoundUp(cur, bits);
            if (newOff <= next)
                break;
        }
        if (newOff > cur && newOff <= next)
        {
            if (inBitfield
                || (newOff == next && RoundUp(cur, nextAlign * 8L) != newOff)
                || (newOff != next && next - newOff <= newOff - cur))
                _w.Write($"\n{Indent(level)}{padType}: {(inBitfield ? newOff - cur : 0)};");
            cur = newOff;
        }
        while (cur != next)
        {
            long bits = Math.Min(next - cur, padBits);
            if (bits == padBits)
            {
                _w.Write($"\n{Indent(level)}{padType}: {padBits};");
                cur += bits;
                continue;
            }
            for (int i = Pads.Length - 1; i >= 0; i--)
            {
                if (Pads[i].Bits < bits)
                    continue;
                _w.Write($"\n{Indent(level)}{Pads[i].Name}: {bits};");
                cur += bits;
                break;
            }
        }
    }

    private static long RoundUp(long value, long to) => to <= 0 ? value : (value + to - 1) / to * to;

    // ---- declarators: collect the chain from the declared type down to its base type, then print the base
    // type first and unwind the chain, adding parentheses where C precedence needs them.

    private void EmitTypeDecl(uint id, string name, int level)
    {
        using var _ = Enter(id);
        var chain = new List<uint>();
        for (int guard = 0; guard < 4096; guard++)
        {
            chain.Add(id);
            if (id == 0 || !_btf.TryGetType(id, out var t))
                break;
            if (t is BtfPtr or BtfVolatile or BtfConst or BtfRestrict or BtfTypeTag)
                id = ((BtfReferenceType)t).Type;
            else if (t is BtfFuncProto fp)
                id = fp.ReturnType;
            else if (t is BtfArray a)
                id = a.ElementType;
            else
                break;
        }
        EmitChain(chain, name, level);
    }

    private bool Top(List<uint> chain, out BtfType t)
    {
        t = BtfVoid.Instance;
        return chain.Count > 0 && _btf.TryGetType(chain[^1], out t);
    }

    private void EmitMods(List<uint> chain)
    {
        while (Top(chain, out var t))
        {
            switch (t)
            {
                case BtfVolatile: _w.Write("volatile "); break;
                case BtfConst: _w.Write("const "); break;
                case BtfRestrict: _w.Write("restrict "); break;
                default: return;
            }
            chain.RemoveAt(chain.Count - 1);
        }
    }

    private void DropMods(List<uint> chain)
    {
        while (Top(chain, out var t) && t is BtfReferenceType { IsModifier: true })
            chain.RemoveAt(chain.Count - 1);
    }

    private void EmitName(string name, bool lastWasPtr)
    {
        if (name.Length > 0)
            _w.Write(lastWasPtr ? name : " " + name);
    }

    private void EmitChain(List<uint> chain, string name, int level)
    {
        bool lastWasPtr = true;
        while (chain.Count > 0)
        {
            uint id = chain[^1];
            chain.RemoveAt(chain.Count - 1);
            if (id == 0 || !_btf.TryGetType(id, out var t))
            {
                EmitMods(chain);
                _w.Write("void");
                lastWasPtr = false;
                continue;
            }
            switch (t)
            {
                case BtfInt or BtfFloat:
                    EmitMods(chain);
                    _w.Write(t.Name);
                    break;
                case BtfComposite c:
                    EmitMods(chain);
                    if (c.IsAnonymous)
                        EmitStructDef(id, c, level);
                    else
                        _w.Write(StructFwd(id, c));
                    break;
                case BtfEnumType e:
                    EmitMods(chain);
                    if (e.IsAnonymous)
                        EmitEnumDef(id, e, level);
                    else
                        _w.Write(EnumFwd(id, e));
                    break;
                case BtfFwd f:
                    EmitMods(chain);
                    _w.Write(FwdDef(id, f));
                    break;
                case BtfTypedef:
                    EmitMods(chain);
                    _w.Write(IdentName(id));
                    break;
                case BtfPtr:
                    _w.Write(lastWasPtr ? "*" : " *");
                    break;
                case BtfVolatile:
                    _w.Write(" volatile");
                    break;
                case BtfConst:
                    _w.Write(" const");
                    break;
                case BtfRestrict:
                    _w.Write(" restrict");
                    break;
                case BtfTypeTag tag:
                    EmitMods(chain);
                    _w.Write(tag.IsAttribute ? $" __attribute__(({tag.Name}))" : $" __attribute__((btf_type_tag(\"{tag.Name}\")))");
                    break;
                case BtfArray a:
                {
                    // Qualifiers on an array (a GCC quirk) carry no meaning in C; drop them.
                    DropMods(chain);
                    if (chain.Count == 0)
                    {
                        EmitName(name, lastWasPtr);
                        _w.Write($"[{a.Count}]");
                        return;
                    }
                    bool multiDim = Top(chain, out var next) && next is BtfArray;
                    if (name.Length > 0 && !lastWasPtr)
                        _w.Write(' ');
                    if (!multiDim)
                        _w.Write('(');
                    EmitChain(chain, name, level);
                    if (!multiDim)
                        _w.Write(')');
                    _w.Write($"[{a.Count}]");
                    return;
                }
                case BtfFuncProto proto:
                {
                    DropMods(chain);
                    if (chain.Count > 0)
                    {
                        _w.Write(" (");
                        EmitChain(chain, name, level);
                        _w.Write(')');
                    }
                    else
                    {
                        EmitName(name, lastWasPtr);
                    }
                    _w.Write('(');
                    var ps = proto.Parameters;
                    // clang encodes "(void)" as no params or a single void param.
                    if (ps.Count == 0 || (ps.Count == 1 && ps[0].Type == 0))
                    {
                        _w.Write("void)");
                        return;
                    }
                    for (int i = 0; i < ps.Count; i++)
                    {
                        if (i > 0)
                            _w.Write(", ");
                        if (i == ps.Count - 1 && ps[i].Type == 0)
                        {
                            _w.Write("...");
                            break;
                        }
                        EmitTypeDecl(ps[i].Type, ps[i].Name, level);
                    }
                    _w.Write(')');
                    return;
                }
                default:
                    // FUNC/VAR/DATASEC/DECL_TAG cannot appear in a declarator; print something that will not compile silently.
                    _w.Write($"/* unexpected {t.Kind.ToKernelName()} [{id}] */ void");
                    break;
            }
            lastWasPtr = t is BtfPtr;
        }
        EmitName(name, lastWasPtr);
    }
}
