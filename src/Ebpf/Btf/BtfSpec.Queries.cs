using System.Runtime.InteropServices;

namespace Ebpf.Btf;

/// <summary>A member found by <see cref="BtfSpec.FindMember(uint, string)"/>, possibly inside anonymous struct/union members.</summary>
/// <param name="Member">The member itself.</param>
/// <param name="Parent">The struct/union that declares it (an anonymous one when nested).</param>
/// <param name="BitOffset">Bit offset from the start of the outer type (anonymous members' offsets added).</param>
/// <param name="Path">Member indexes from the outer type down to the member (the CO-RE access path).</param>
public sealed record BtfMemberMatch(BtfMember Member, BtfComposite Parent, uint BitOffset, IReadOnlyList<int> Path);

public sealed partial class BtfSpec
{
    /// <summary>libbpf's MAX_RESOLVE_DEPTH: longer modifier/typedef/array chains are treated as cycles.</summary>
    internal const int MaxResolveDepth = 32;

    private Dictionary<string, uint[]>? _byName;
    private Dictionary<uint, BtfDeclTag[]>? _declTags;

    private Dictionary<string, uint[]> NameIndex
    {
        get
        {
            if (_byName is { } done)
                return done;
            // Most names are unique, so ids go straight into right-sized arrays that only grow (doubling) on a
            // repeat; no per-name list and no second dictionary.
            var index = new Dictionary<string, uint[]>(_types.Length, StringComparer.Ordinal);
            Dictionary<string, int>? counts = null;
            foreach (var t in _types)
            {
                if (t.IsAnonymous)
                    continue;
                ref uint[]? ids = ref CollectionsMarshal.GetValueRefOrAddDefault(index, t.Name, out bool exists);
                if (!exists)
                {
                    ids = [t.Id];
                    continue;
                }
                counts ??= new Dictionary<string, int>(StringComparer.Ordinal);
                ref int count = ref CollectionsMarshal.GetValueRefOrAddDefault(counts, t.Name, out bool counted);
                if (!counted)
                    count = 1;
                if (count == ids!.Length)
                    Array.Resize(ref ids, count * 2);
                ids[count++] = t.Id;
            }
            if (counts is not null)
            {
                foreach (var (name, count) in counts)
                {
                    ref uint[] ids = ref CollectionsMarshal.GetValueRefOrNullRef(index, name);
                    if (ids.Length != count)
                        Array.Resize(ref ids, count);
                }
            }
            Interlocked.CompareExchange(ref _byName, index, null);
            return _byName;
        }
    }

    /// <summary>Ids of every type named <paramref name="name"/> (base types first), optionally of one kind.</summary>
    public IEnumerable<uint> FindAllByName(string name, BtfKind? kind = null)
    {
        var fromBase = Base?.FindAllByName(name, kind) ?? [];
        var own = NameIndex.TryGetValue(name, out var ids) ? ids : [];
        return fromBase.Concat(kind is null ? own : own.Where(id => GetType(id).Kind == kind));
    }

    /// <summary>The first type named <paramref name="name"/> (of <paramref name="kind"/> when given), or null.</summary>
    public BtfType? FindByName(string name, BtfKind? kind = null) =>
        FindAllByName(name, kind).Select(GetType).FirstOrDefault();

    /// <summary>
    /// The first type named <paramref name="name"/> of <paramref name="kind"/>; false when there is none.
    /// </summary>
    public bool TryFindByName(string name, BtfKind kind, out BtfType type)
    {
        type = FindByName(name, kind)!;
        return type is not null;
    }

    /// <summary>
    /// The CO-RE "essential" name: everything before the last <c>X___Y</c> flavor separator, where X and Y are not
    /// underscores (<c>task_struct___old</c> → <c>task_struct</c>; <c>a____b</c> has none), as libbpf's and the
    /// kernel's bpf_core_essential_name_len.
    /// </summary>
    public static string EssentialName(string name) => name[..EssentialNameLength(name)];

    /// <summary>The length of <see cref="EssentialName"/>.</summary>
    public static int EssentialNameLength(string name)
    {
        for (int i = name.Length - 5; i >= 0; i--)
        {
            if (name[i] != '_' && name[i + 1] == '_' && name[i + 2] == '_' && name[i + 3] == '_' && name[i + 4] != '_')
                return i + 1;
        }
        return name.Length;
    }

    /// <summary>Ids of every type whose essential name is <paramref name="essentialName"/>, of <paramref name="kind"/> (CO-RE candidates).</summary>
    public IEnumerable<uint> FindByEssentialName(string essentialName, BtfKind kind) =>
        AllTypes.Where(t => t.Kind == kind && !t.IsAnonymous && EssentialName(t.Name) == essentialName).Select(t => t.Id);

    /// <summary>
    /// Byte offset of the first member whose type is <c>struct <paramref name="structName"/></c> inside
    /// <paramref name="typeId"/>, searching nested structs and unions up to 8 levels, or -1: how map creation
    /// finds a value's <c>bpf_spin_lock</c> or <c>bpf_timer</c>.
    /// </summary>
    public int OffsetOfStructMember(uint typeId, string structName) => OffsetOfStructMember(typeId, structName, 0);

    private int OffsetOfStructMember(uint typeId, string structName, int depth)
    {
        if (depth > 8 || !TryGetType(SkipTypedefs(typeId), out var t)) return -1;
        if (t is BtfDatasec sec)
        {
            // A global-data map's value is its section: look through each variable (the kernel parses DATASEC fields too).
            foreach (var v in sec.Variables)
            {
                if (!TryGetType(v.Type, out var vt) || vt is not BtfVar var) continue;
                if (TryGetType(SkipTypedefs(var.Type), out var vtt) && vtt is BtfComposite vc && vc.Name == structName) return (int)v.Offset;
                int inVar = OffsetOfStructMember(var.Type, structName, depth + 1);
                if (inVar >= 0) return (int)v.Offset + inVar;
            }
            return -1;
        }
        if (t is not BtfComposite c) return -1;
        foreach (var m in c.Members)
        {
            if (!TryGetType(SkipTypedefs(m.Type), out var mt)) continue;
            if (mt is BtfComposite mc && mc.Name == structName) return (int)m.ByteOffset;
            int inner = OffsetOfStructMember(m.Type, structName, depth + 1);
            if (inner >= 0) return (int)m.ByteOffset + inner;
        }
        return -1;
    }

    /// <summary>The DATASEC named <paramref name="name"/> (".data", ".bss", ".rodata", ".maps", …), or null.</summary>
    public BtfDatasec? FindDatasec(string name) => FindByName(name, BtfKind.Datasec) as BtfDatasec;

    /// <summary>Follows VOLATILE/CONST/RESTRICT/TYPE_TAG to the first other type.</summary>
    public uint SkipModifiers(uint id) => Skip(id, typedefs: false);

    /// <summary>Follows modifiers and TYPEDEFs to the underlying type (libbpf's skip_mods_and_typedefs).</summary>
    public uint SkipTypedefs(uint id) => Skip(id, typedefs: true);

    /// <summary><see cref="SkipTypedefs"/> returning the type.</summary>
    public BtfType ResolveType(uint id) => GetType(SkipTypedefs(id));

    private uint Skip(uint id, bool typedefs)
    {
        uint start = id;
        for (int depth = 0; depth <= MaxResolveDepth; depth++)
        {
            var t = GetType(id);
            if (t is BtfReferenceType r && (r.IsModifier || (typedefs && t.Kind == BtfKind.Typedef)))
                id = r.Type;
            else
                return id;
        }
        throw new BpfException(Errno.ELOOP, $"{GetType(start)}: modifier/typedef chain is cyclic or deeper than {MaxResolveDepth}");
    }

    /// <summary>
    /// The byte size of a type, like libbpf's btf__resolve_size: pointers are 8 bytes, arrays multiply,
    /// typedefs/modifiers/VARs resolve. Void, FUNC, FUNC_PROTO and FWD have no size (EINVAL); cycles ELOOP;
    /// sizes beyond 4 GiB E2BIG.
    /// </summary>
    public uint SizeOf(uint id)
    {
        ulong multiplier = 1;
        uint start = id;
        for (int depth = 0; depth <= MaxResolveDepth; depth++)
        {
            var t = GetType(id);
            ulong size;
            switch (t)
            {
                case BtfInt i: size = i.Size; break;
                case BtfFloat f: size = f.Size; break;
                case BtfComposite c: size = c.Size; break;
                case BtfEnumType e: size = e.Size; break;
                case BtfDatasec d: size = d.Size; break;
                case BtfPtr: size = 8; break;
                case BtfReferenceType r: id = r.Type; continue;
                case BtfVar v: id = v.Type; continue;
                case BtfArray a:
                    multiplier *= a.Count;
                    if (multiplier > uint.MaxValue)
                        throw new BpfException(Errno.E2BIG, $"{GetType(start)}: array size overflows 32 bits");
                    id = a.ElementType;
                    continue;
                default:
                    throw new BpfException(Errno.EINVAL, $"{GetType(start)}: {t.Kind.ToKernelName()} {(t.Id == 0 ? "void" : $"[{t.Id}]")} has no size");
            }
            ulong total = size * multiplier;
            if (total > uint.MaxValue)
                throw new BpfException(Errno.E2BIG, $"{GetType(start)}: size {total} overflows 32 bits");
            return (uint)total;
        }
        throw new BpfException(Errno.ELOOP, $"{GetType(start)}: type chain is cyclic or deeper than {MaxResolveDepth}");
    }

    /// <summary>
    /// The natural alignment of a type as clang lays it out for BPF (libbpf's btf__align_of): scalars
    /// min(size, 8), pointers 8, arrays their element's, structs the largest member's — or 1 when the
    /// layout shows the struct is packed (a member off its alignment, or a size not a multiple of it).
    /// </summary>
    public uint AlignOf(uint id) => AlignOf(id, 0);

    private uint AlignOf(uint id, int depth)
    {
        if (depth > MaxResolveDepth)
            throw new BpfException(Errno.ELOOP, $"{GetType(id)}: type chain is cyclic or deeper than {MaxResolveDepth}");
        var t = GetType(id);
        switch (t)
        {
            case BtfInt i: return Math.Clamp(i.Size, 1, 8);
            case BtfFloat f: return Math.Clamp(f.Size, 1, 8);
            case BtfEnumType e: return Math.Clamp(e.Size, 1, 8);
            case BtfPtr: return 8;
            case BtfReferenceType r: return AlignOf(r.Type, depth + 1);
            case BtfVar v: return AlignOf(v.Type, depth + 1);
            case BtfArray a: return AlignOf(a.ElementType, depth + 1);
            case BtfComposite c:
            {
                uint max = 1;
                foreach (var m in c.Members)
                {
                    uint align = AlignOf(m.Type, depth + 1);
                    max = Math.Max(max, align);
                    if (!m.IsBitfield && m.BitOffset % (8 * align) != 0)
                        return 1;
                }
                return c.Size % max != 0 ? 1 : max;
            }
            default:
                throw new BpfException(Errno.EINVAL, $"{t}: {t.Kind.ToKernelName()} has no alignment");
        }
    }

    /// <summary>
    /// Finds member <paramref name="name"/> of the struct/union <paramref name="compositeId"/> (typedefs and
    /// modifiers skipped), descending into anonymous struct/union members the way C name lookup does.
    /// </summary>
    public BtfMemberMatch? FindMember(uint compositeId, string name)
    {
        if (ResolveType(compositeId) is not BtfComposite c)
            throw new BpfException(Errno.EINVAL, $"{GetType(compositeId)}: not a struct or union");
        return FindMember(c, name, 0, [], 0);
    }

    private BtfMemberMatch? FindMember(BtfComposite c, string name, uint baseBits, List<int> path, int depth)
    {
        if (depth > MaxResolveDepth)
            throw new BpfException(Errno.ELOOP, $"{c}: anonymous members nest deeper than {MaxResolveDepth}");
        for (int i = 0; i < c.Members.Count; i++)
        {
            var m = c.Members[i];
            if (m.Name == name && name.Length > 0)
                return new BtfMemberMatch(m, c, baseBits + m.BitOffset, [.. path, i]);
            if (m.Name.Length == 0 && ResolveType(m.Type) is BtfComposite inner)
            {
                path.Add(i);
                var found = FindMember(inner, name, baseBits + m.BitOffset, path, depth + 1);
                path.RemoveAt(path.Count - 1);
                if (found is not null)
                    return found;
            }
        }
        return null;
    }

    /// <summary>
    /// The DECL_TAGs attached to <paramref name="id"/>: on the type itself (<paramref name="componentIndex"/> -1),
    /// or on member/parameter <paramref name="componentIndex"/> (e.g. "arg:ctx" on parameter 0 of a FUNC).
    /// </summary>
    public IReadOnlyList<BtfDeclTag> GetDeclTags(uint id, int componentIndex = -1)
    {
        var own = DeclTagIndex.TryGetValue(id, out var tags) ? tags.Where(t => t.ComponentIndex == componentIndex) : [];
        var fromBase = Base?.GetDeclTags(id, componentIndex) ?? [];
        return [.. fromBase, .. own];
    }

    /// <summary>The values of the DECL_TAGs on <paramref name="id"/>/<paramref name="componentIndex"/>.</summary>
    public IReadOnlyList<string> GetDeclTagValues(uint id, int componentIndex = -1) =>
        [.. GetDeclTags(id, componentIndex).Select(t => t.Value)];

    private Dictionary<uint, BtfDeclTag[]> DeclTagIndex
    {
        get
        {
            if (_declTags is { } done)
                return done;
            var index = _types.OfType<BtfDeclTag>().GroupBy(t => t.Type).ToDictionary(g => g.Key, g => g.ToArray());
            Interlocked.CompareExchange(ref _declTags, index, null);
            return _declTags;
        }
    }

    /// <summary>If <paramref name="id"/> (after modifiers/typedefs) is a PTR, its pointee.</summary>
    public bool TryGetPointee(uint id, out uint pointee)
    {
        pointee = 0;
        if (ResolveType(id) is not BtfPtr p)
            return false;
        pointee = p.Type;
        return true;
    }

    /// <summary>
    /// Decodes the BTF-defined map idiom <c>int (*name)[N]</c> (<c>__uint(name, N)</c>): the member type is a
    /// PTR (modifiers/typedefs skipped) to an ARRAY, and N is the array's element count.
    /// </summary>
    public bool TryGetArrayCountBehindPointer(uint id, out uint count)
    {
        count = 0;
        if (!TryGetPointee(id, out uint pointee) || !TryGetType(pointee, out var target) || target is not BtfArray a)
            return false;
        count = a.Count;
        return true;
    }

    /// <summary>
    /// The VARs of a DATASEC with their placement: what a loader needs for .data/.bss/.rodata/.kconfig
    /// and the BTF-defined .maps section.
    /// </summary>
    public IEnumerable<(BtfVar Var, BtfVarSecinfo Placement)> GetDatasecVariables(BtfDatasec datasec)
    {
        foreach (var v in datasec.Variables)
        {
            if (TryGetType(v.Type, out var t) && t is BtfVar var)
                yield return (var, v);
        }
    }
}
