namespace Ebpf.Btf;

/// <summary>
/// The kernel's BPF_BTF_LOAD checks (btf_parse_hdr, btf_check_all_metas, btf_check_all_types/btf_resolve):
/// header layout, per-kind meta rules (names, vlen, kind_flag, sizes), type ids in range, members and
/// params of valid kinds and within their struct, no cycles except through pointers, DATASEC variables
/// sorted and in range, DECL_TAG targets and component indexes. The first violation is reported as
/// EINVAL (ENOTSUPP for unsupported encodings, EEXIST for loops, as the kernel returns) with a message in the kernel's log style:
/// <c>[id] KIND name problem</c>.
/// </summary>
public static class BtfValidator
{
    /// <summary>KSYM_NAME_LEN: identifiers must be shorter than this.</summary>
    internal const int MaxNameLength = 512;

    /// <summary>Validates like the kernel; throws <see cref="BpfException"/> on the first problem.</summary>
    public static void Validate(BtfSpec btf)
    {
        if (Check(btf) is { } error)
            throw error;
    }

    /// <summary>The first violation as an exception (not thrown), or null when the BTF is acceptable.</summary>
    public static BpfException? Check(BtfSpec btf)
    {
        try
        {
            CheckHeader(btf);
            foreach (var t in btf.Types)
                CheckMeta(btf, t);
            CheckPointerLoops(btf);
            CheckCycles(btf);
            foreach (var t in btf.Types)
                CheckResolved(btf, t);
            return null;
        }
        catch (BpfException e)
        {
            return e;
        }
    }

    private static BpfException Fail(BtfType t, string problem, Errno errno = Errno.EINVAL) =>
        new(errno, $"{Describe(t)} {problem}");

    private static string Describe(BtfType t) => $"[{t.Id}] {t.Kind.ToKernelName()} {(t.IsAnonymous ? "(anon)" : t.Name)}";

    private static void CheckHeader(BtfSpec btf)
    {
        var h = btf.Header;
        if (btf.SourceLength is not int length)
            return;
        // The kernel wants the sections to tile the data after the header exactly, types before strings.
        var sections = new[] { (Name: "type", Off: h.TypeOffset, Len: h.TypeLength), (Name: "string", Off: h.StringOffset, Len: h.StringLength) }
            .OrderBy(s => s.Off).ToArray();
        ulong total = 0, expected = (ulong)length - h.HeaderLength;
        foreach (var s in sections)
        {
            if (s.Off > total)
                throw new BpfException(Errno.EINVAL, $"Unsupported section found: gap before the {s.Name} section at {s.Off}");
            if (s.Off < total)
                throw new BpfException(Errno.EINVAL, "Section overlap found");
            total += s.Len;
        }
        if (total != expected)
            throw new BpfException(Errno.EINVAL, $"Unsupported section found: {expected - total} trailing bytes after the sections");
        if (btf.Base is null && h.TypeLength == 0)
            throw new BpfException(Errno.EINVAL, "No type found");
    }

    internal static bool IsIdentifier(string name)
    {
        if (name.Length == 0 || name.Length >= MaxNameLength)
            return false;
        if (!(char.IsAsciiLetter(name[0]) || name[0] == '_'))
            return false;
        foreach (char c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '_'))
                return false;
        }
        return true;
    }

    // DATASEC names are section names (".data", ".rodata.str1.1", ".data..percpu", "license").
    private static bool IsSectionName(string name) =>
        name.Length > 0 && name.Length < MaxNameLength && name.All(c => c > ' ' && c < 0x7f);

    private static bool ValidId(BtfSpec btf, uint id) => id <= btf.MaxTypeId;

    private static void CheckMeta(BtfSpec btf, BtfType t)
    {
        uint info = t.RawInfo ?? 0;
        bool rawKflag = t.RawInfo is not null ? (info >> 31) != 0 : t.KindFlag;
        int rawVlen = t.RawInfo is not null ? (int)(info & 0xffff) : t.Vlen;
        if (t.RawInfo is not null && (info & 0x60ff0000) != 0)
            throw Fail(t, $"Invalid btf_info:{info:x}");

        void NoVlen()
        {
            if (rawVlen != 0)
                throw Fail(t, "vlen != 0");
        }
        void NoKflag()
        {
            if (rawKflag)
                throw Fail(t, "Invalid btf_info kind_flag");
        }
        bool EmptyAtNonZero(int component) => btf.EmptyNamesAtNonZeroOffset.Contains((t.Id, component));
        void NoName()
        {
            if (!t.IsAnonymous || EmptyAtNonZero(-1))
                throw Fail(t, "Invalid name");
        }
        void IdentifierName()
        {
            if (!IsIdentifier(t.Name))
                throw Fail(t, "Invalid name");
        }
        void OptionalIdentifierName()
        {
            if ((!t.IsAnonymous || EmptyAtNonZero(-1)) && !IsIdentifier(t.Name))
                throw Fail(t, "Invalid name");
        }

        switch (t)
        {
            case BtfInt i:
            {
                NoVlen();
                NoKflag();
                uint word = i.RawIntWord ?? (((uint)i.Encoding << 24) | ((uint)i.BitOffset << 16) | i.Bits);
                if ((word & ~0x0f00ffffu) != 0)
                    throw Fail(t, $"Invalid int_data:{word:x}");
                uint nrBits = i.Bits + (uint)i.BitOffset;
                if (nrBits > 128)
                    throw Fail(t, "nr_bits exceeds 128");
                if ((nrBits + 7) / 8 > i.Size)
                    throw Fail(t, "nr_bits exceeds type_size");
                if (i.Encoding is not (BtfIntEncoding.None or BtfIntEncoding.Signed or BtfIntEncoding.Char or BtfIntEncoding.Bool))
                    throw Fail(t, "Unsupported encoding", Errno.ENOTSUPP);
                break;
            }
            case BtfReferenceType r:
                NoVlen();
                if (t is not BtfTypeTag)
                    NoKflag();
                if (!ValidId(btf, r.Type))
                    throw Fail(t, "Invalid type_id");
                if (t is BtfTypedef)
                    IdentifierName();
                else if (t is BtfTypeTag)
                {
                    if (t.IsAnonymous)
                        throw Fail(t, "Invalid name");
                }
                else
                    NoName();
                break;
            case BtfArray a:
                NoName();
                NoVlen();
                NoKflag();
                if (a.RawSizeOrType != 0)
                    throw Fail(t, "size != 0");
                if (a.ElementType == 0 || !ValidId(btf, a.ElementType))
                    throw Fail(t, "Invalid elem");
                if (a.IndexType == 0 || !ValidId(btf, a.IndexType))
                    throw Fail(t, "Invalid index");
                break;
            case BtfComposite c:
            {
                OptionalIdentifierName();
                ulong last = 0;
                for (int m = 0; m < c.Members.Count; m++)
                {
                    var member = c.Members[m];
                    string where = $"member '{member.Name}' (#{m}) type_id={member.Type} bits_offset={member.BitOffset}";
                    if ((member.Name.Length > 0 || EmptyAtNonZero(m)) && !IsIdentifier(member.Name))
                        throw Fail(t, $"{where} Invalid name");
                    if (member.Type == 0 || !ValidId(btf, member.Type))
                        throw Fail(t, $"{where} Invalid type_id");
                    if (c.IsUnion && member.BitOffset != 0)
                        throw Fail(t, $"{where} Invalid member bits_offset");
                    if (last > member.BitOffset)
                        throw Fail(t, $"{where} Invalid member bits_offset");
                    if ((member.BitOffset + 7UL) / 8 > c.Size)
                        throw Fail(t, $"{where} Member bits_offset exceeds its struct size");
                    last = member.BitOffset;
                }
                break;
            }
            case BtfEnumType e:
                OptionalIdentifierName();
                if (e.Size is not (1 or 2 or 4 or 8))
                    throw Fail(t, "Unexpected size");
                foreach (var v in e.Values)
                {
                    if (!IsIdentifier(v.Name))
                        throw Fail(t, $"enumerator '{v.Name}' Invalid name");
                }
                break;
            case BtfFwd:
                NoVlen();
                IdentifierName();
                break;
            case BtfFunc f:
                NoKflag();
                IdentifierName();
                if (rawVlen > (int)BtfFuncLinkage.Global)
                    throw Fail(t, "Invalid func linkage");
                if (!ValidId(btf, f.ProtoType))
                    throw Fail(t, "Invalid type_id");
                break;
            case BtfFuncProto p:
                NoName();
                NoKflag();
                if (!ValidId(btf, p.ReturnType))
                    throw Fail(t, "Invalid return type");
                for (int i = 0; i < p.Parameters.Count; i++)
                {
                    var param = p.Parameters[i];
                    bool variadicMarker = param.Type == 0 && i == p.Parameters.Count - 1;
                    if (variadicMarker && (param.Name.Length > 0 || EmptyAtNonZero(i)))
                        throw Fail(t, $"Invalid arg#{i + 1}");
                    if (param.Type == 0 && !variadicMarker)
                        throw Fail(t, $"Invalid arg#{i + 1}");
                    if (!ValidId(btf, param.Type))
                        throw Fail(t, $"Invalid arg#{i + 1}");
                    if ((param.Name.Length > 0 || EmptyAtNonZero(i)) && !IsIdentifier(param.Name))
                        throw Fail(t, $"Invalid arg#{i + 1}");
                }
                break;
            case BtfVar v:
                NoVlen();
                NoKflag();
                IdentifierName();
                if (v.Type == 0 || !ValidId(btf, v.Type))
                    throw Fail(t, "Invalid type_id");
                if (v.Linkage is not (BtfVarLinkage.Static or BtfVarLinkage.GlobalAllocated))
                    throw Fail(t, "Linkage not supported");
                break;
            case BtfDatasec d:
            {
                if (d.Variables.Count == 0)
                    throw Fail(t, "vlen == 0");
                if (d.Size == 0)
                    throw Fail(t, "size == 0");
                NoKflag();
                if (!IsSectionName(d.Name))
                    throw Fail(t, "Invalid name");
                ulong lastEnd = 0;
                for (int i = 0; i < d.Variables.Count; i++)
                {
                    var v = d.Variables[i];
                    string where = $"var #{i} type_id={v.Type} offset={v.Offset} size={v.Size}";
                    if (v.Type == 0 || !ValidId(btf, v.Type))
                        throw Fail(t, $"{where} Invalid type_id");
                    if (v.Offset < lastEnd || v.Offset >= d.Size)
                        throw Fail(t, $"{where} Invalid offset");
                    if (v.Size == 0 || v.Size > d.Size)
                        throw Fail(t, $"{where} Invalid size");
                    lastEnd = (ulong)v.Offset + v.Size;
                    if (lastEnd > d.Size)
                        throw Fail(t, $"{where} Invalid offset+size");
                }
                break;
            }
            case BtfFloat f:
                NoVlen();
                NoKflag();
                if (f.Size is not (2 or 4 or 8 or 12 or 16))
                    throw Fail(t, "Invalid type_size");
                break;
            case BtfDeclTag tag:
                NoVlen();
                if (t.IsAnonymous)
                    throw Fail(t, "Invalid value");
                if (tag.ComponentIndex < -1)
                    throw Fail(t, "Invalid component_idx");
                if (!ValidId(btf, tag.Type))
                    throw Fail(t, "Invalid type_id");
                break;
        }
    }

    /// <summary>Kinds that have no size and so cannot be a member, array element or variable.</summary>
    private static bool IsNoSize(BtfType t) => t.Kind is BtfKind.Unknown or BtfKind.Fwd or BtfKind.Func or BtfKind.FuncProto;

    /// <summary>Kinds only valid at the top (never as a member/element/pointee).</summary>
    private static bool IsSourceOnly(BtfType t) => t.Kind is BtfKind.Var or BtfKind.Datasec or BtfKind.DeclTag;

    /// <summary>The kernel's btf_type_int_is_regular: no bit offset and a whole 1/2/4/8-byte bit count.</summary>
    private static bool IsRegularInt(BtfInt i) =>
        i.BitOffset == 0 && i.Bits % 8 == 0 && i.Bits / 8 is 1 or 2 or 4 or 8;

    /// <summary>
    /// Finds cycles that do not pass through a pointer (typedef loops, a struct containing itself, an array
    /// of itself): the kernel rejects those with "Loop detected". Iterative DFS, so deep chains cannot
    /// overflow the stack.
    /// </summary>
    private static void CheckCycles(BtfSpec btf)
    {
        uint first = btf.FirstTypeId;
        var state = new byte[btf.Types.Count]; // 0 new, 1 on stack, 2 done
        var stack = new Stack<(uint Id, IEnumerator<uint> Next)>();
        foreach (var root in btf.Types)
        {
            if (state[root.Id - first] != 0)
                continue;
            state[root.Id - first] = 1;
            stack.Push((root.Id, LayoutEdges(root).GetEnumerator()));
            while (stack.Count > 0)
            {
                var (id, next) = stack.Peek();
                if (!next.MoveNext())
                {
                    state[id - first] = 2;
                    stack.Pop();
                    continue;
                }
                uint child = next.Current;
                if (child < first || child > btf.MaxTypeId)
                    continue; // void, base types (already validated) or out of range (reported by the meta pass)
                switch (state[child - first])
                {
                    case 1:
                        throw Fail(btf.GetType(child), "Loop detected", Errno.EEXIST);
                    case 0:
                        state[child - first] = 1;
                        stack.Push((child, LayoutEdges(btf.GetType(child)).GetEnumerator()));
                        break;
                }
            }
        }
    }

    /// <summary>
    /// A chain of only PTR, TYPEDEF and modifiers that comes back on itself never reaches a real type
    /// (<c>typedef T *T</c>): the kernel's pointer resolution reports "Loop detected" for it.
    /// </summary>
    private static void CheckPointerLoops(BtfSpec btf)
    {
        uint first = btf.FirstTypeId;
        var state = new byte[btf.Types.Count]; // 0 new, 1 on the current walk, 2 known to end
        var walk = new List<uint>();
        foreach (var start in btf.Types)
        {
            walk.Clear();
            var t = start;
            while (t is BtfReferenceType r && t.Id >= first && state[t.Id - first] == 0)
            {
                state[t.Id - first] = 1;
                walk.Add(t.Id);
                if (!btf.TryGetType(r.Type, out var next))
                    break;
                t = next;
            }
            if (t.Id >= first && t.Id <= btf.MaxTypeId && state[t.Id - first] == 1 && t is BtfReferenceType)
                throw Fail(t, "Loop detected", Errno.EEXIST);
            foreach (uint id in walk)
                state[id - first] = 2;
        }
    }

    /// <summary>References that must resolve before this type does: every reference except a PTR's.</summary>
    private static IEnumerable<uint> LayoutEdges(BtfType t) => t is BtfPtr ? [] : t.References();

    private static void CheckResolved(BtfSpec btf, BtfType t)
    {
        switch (t)
        {
            case BtfPtr or BtfReferenceType:
            {
                var r = (BtfReferenceType)t;
                var target = btf.GetType(r.Type);
                bool ok = target.Kind is BtfKind.Unknown or BtfKind.Fwd or BtfKind.FuncProto
                    || (!IsNoSize(target) && !IsSourceOnly(target));
                if (!ok)
                    throw Fail(t, "Invalid type_id");
                break;
            }
            case BtfArray a:
            {
                var elem = btf.GetType(a.ElementType);
                var resolvedElem = btf.ResolveType(a.ElementType);
                if (IsNoSize(resolvedElem) || IsSourceOnly(elem) || IsSourceOnly(resolvedElem))
                    throw Fail(t, "Invalid elem");
                if (resolvedElem is BtfInt ei && !IsRegularInt(ei))
                    throw Fail(t, "Invalid array of int");
                // The index must be a regular int (clang uses a 4-byte "__ARRAY_SIZE_TYPE__"); pointers,
                // arrays and the like are refused by the kernel.
                if (btf.ResolveType(a.IndexType) is not BtfInt index || !IsRegularInt(index))
                    throw Fail(t, "Invalid index");
                uint elemSize = btf.SizeOf(a.ElementType);
                if (a.Count != 0 && elemSize > uint.MaxValue / a.Count)
                    throw Fail(t, "Array size overflows U32_MAX");
                break;
            }
            case BtfComposite c:
                foreach (var m in c.Members)
                    CheckMember(btf, c, m);
                break;
            case BtfFunc f:
            {
                if (btf.GetType(f.ProtoType) is not BtfFuncProto proto)
                    throw Fail(t, "Invalid type_id");
                for (int i = 0; i < proto.Parameters.Count; i++)
                {
                    var p = proto.Parameters[i];
                    if (p.Name.Length == 0 && p.Type != 0)
                        throw Fail(t, $"Invalid arg#{i + 1}");
                }
                break;
            }
            case BtfFuncProto proto:
            {
                if (proto.ReturnType != 0)
                {
                    var ret = btf.ResolveType(proto.ReturnType);
                    if (ret.Kind is BtfKind.Func or BtfKind.FuncProto || IsSourceOnly(ret) || IsSourceOnly(btf.GetType(proto.ReturnType)))
                        throw Fail(t, "Invalid return type");
                }
                for (int i = 0; i < proto.Parameters.Count; i++)
                {
                    var p = proto.Parameters[i];
                    if (p.Type == 0)
                        continue;
                    var arg = btf.ResolveType(p.Type);
                    if (arg.Kind is BtfKind.Unknown or BtfKind.Func or BtfKind.FuncProto || IsSourceOnly(arg) || IsSourceOnly(btf.GetType(p.Type)))
                        throw Fail(t, $"Invalid arg#{i + 1}");
                }
                break;
            }
            case BtfVar v:
            {
                var target = btf.GetType(v.Type);
                var resolved = btf.ResolveType(v.Type);
                if (IsNoSize(resolved) || IsSourceOnly(target) || IsSourceOnly(resolved))
                    throw Fail(t, "Invalid type_id");
                break;
            }
            case BtfDatasec d:
                for (int i = 0; i < d.Variables.Count; i++)
                {
                    var vsi = d.Variables[i];
                    if (btf.GetType(vsi.Type) is not BtfVar var)
                        throw Fail(t, $"var #{i} type_id={vsi.Type} Not a VAR kind member");
                    if (vsi.Size < btf.SizeOf(var.Type))
                        throw Fail(t, $"var #{i} type_id={vsi.Type} Invalid size");
                }
                break;
            case BtfDeclTag tag:
            {
                var target = btf.GetType(tag.Type);
                if (target.Kind is not (BtfKind.Struct or BtfKind.Union or BtfKind.Func or BtfKind.Var or BtfKind.Typedef))
                    throw Fail(t, "Invalid type_id");
                if (tag.ComponentIndex != -1)
                {
                    int vlen = target switch
                    {
                        BtfComposite c => c.Members.Count,
                        BtfFunc f when btf.GetType(f.ProtoType) is BtfFuncProto p => p.Parameters.Count,
                        _ => -1,
                    };
                    if (vlen < 0 || tag.ComponentIndex >= vlen)
                        throw Fail(t, "Invalid component_idx");
                }
                break;
            }
        }
    }

    private static void CheckMember(BtfSpec btf, BtfComposite c, BtfMember m)
    {
        string where = $"member '{m.Name}' type_id={m.Type} bits_offset={m.BitOffset}";
        var direct = btf.GetType(m.Type);
        var resolved = btf.ResolveType(m.Type);
        if (IsNoSize(resolved) || IsSourceOnly(direct) || IsSourceOnly(resolved))
            throw Fail(c, $"{where} Invalid member");
        ulong size = btf.SizeOf(m.Type);
        if (m.IsBitfield || (c.KindFlag && m.BitfieldSize != 0))
        {
            if (resolved is not (BtfInt or BtfEnumType))
                throw Fail(c, $"{where} Invalid member bitfield_size");
            if (m.BitfieldSize > 128 || m.BitfieldSize > size * 8)
                throw Fail(c, $"{where} Invalid member bitfield_size");
            if ((m.BitOffset + (ulong)m.BitfieldSize + 7) / 8 > c.Size)
                throw Fail(c, $"{where} Member exceeds struct_size");
            return;
        }
        if (resolved is BtfInt i && !c.KindFlag)
        {
            // Without kind_flag an INT member may itself be a bitfield through its own offset/bits.
            ulong bitsOff = (ulong)m.BitOffset + i.BitOffset;
            ulong nrCopyBits = i.Bits + bitsOff % 8;
            if (nrCopyBits > 128)
                throw Fail(c, $"{where} nr_copy_bits exceeds 128");
            if (c.Size < bitsOff / 8 || c.Size - bitsOff / 8 < (nrCopyBits + 7) / 8)
                throw Fail(c, $"{where} Member exceeds struct_size");
            return;
        }
        if (m.BitOffset % 8 != 0)
            throw Fail(c, $"{where} Member is not byte aligned");
        if (c.Size < m.BitOffset / 8 || c.Size - m.BitOffset / 8 < size)
            throw Fail(c, $"{where} Member exceeds struct_size");
    }
}
