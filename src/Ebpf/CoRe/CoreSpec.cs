using System.Globalization;
using System.Text;
using Ebpf.Btf;

namespace Ebpf.CoRe;

/// <summary>
/// One high-level step of a CO-RE access: the root (an index into the root pointer as an array), a named
/// struct/union member, an array element, or for enum relocations the enumerator.
/// </summary>
/// <param name="TypeId">The (modifier-stripped) type the step indexes into; for array steps the element type.</param>
/// <param name="Index">Member, element or enumerator index.</param>
/// <param name="Name">The member or enumerator name; null for the root and array steps.</param>
public readonly record struct CoreAccessor(uint TypeId, int Index, string? Name);

/// <summary>The class of a relocation kind, which decides how its access string is read.</summary>
public enum CoreRelocationClass
{
    /// <summary>Field relocations (byte offset, size, existence, signedness, bitfield shifts): walk members and elements.</summary>
    Field,
    /// <summary>Type relocations (id, existence, size, match): the access string is just "0".</summary>
    Type,
    /// <summary>Enumerator relocations (existence, value): the access string is "0:&lt;enumerator index&gt;".</summary>
    EnumValue,
}

/// <summary>
/// A parsed access string against one BTF (libbpf's bpf_core_spec): the raw numbers, the high-level accessors
/// (root, named members, array elements; anonymous members are walked through without one) and the bit offset they
/// add up to. Built for the local BTF by <see cref="Parse"/> and for each target by <see cref="CoreSpecMatcher"/>.
/// </summary>
public sealed class CoreSpec
{
    /// <summary>BPF_CORE_SPEC_MAX_LEN: the most numbers an access string may hold.</summary>
    public const int MaxLength = 64;

    internal CoreSpec(Btf.BtfSpec btf, uint rootTypeId, BtfCoreReloKind kind)
    {
        Btf = btf;
        RootTypeId = rootTypeId;
        Kind = kind;
    }

    /// <summary>The BTF the spec is resolved against.</summary>
    public Btf.BtfSpec Btf { get; }
    /// <summary>The type id the access string starts from.</summary>
    public uint RootTypeId { get; }
    /// <summary>The relocation kind, which decides how the string is read.</summary>
    public BtfCoreReloKind Kind { get; }
    internal List<int> RawList { get; } = [];
    internal List<CoreAccessor> AccessorList { get; } = [];
    /// <summary>The numbers of the access string as written ("0:1:2" is 0, 1, 2).</summary>
    public IReadOnlyList<int> Raw => RawList;
    /// <summary>The named steps the string resolves to (root, members, array elements).</summary>
    public IReadOnlyList<CoreAccessor> Accessors => AccessorList;
    /// <summary>Bit offset of the accessed field from the root type's start.</summary>
    public uint BitOffset { get; internal set; }

    /// <summary>How the access string of a relocation of <paramref name="kind"/> is read.</summary>
    public static CoreRelocationClass ClassOf(BtfCoreReloKind kind) => kind switch
    {
        BtfCoreReloKind.FieldByteOffset or BtfCoreReloKind.FieldByteSize or BtfCoreReloKind.FieldExists or BtfCoreReloKind.FieldSigned
            or BtfCoreReloKind.FieldLShiftU64 or BtfCoreReloKind.FieldRShiftU64 => CoreRelocationClass.Field,
        BtfCoreReloKind.TypeIdLocal or BtfCoreReloKind.TypeIdTarget or BtfCoreReloKind.TypeExists or BtfCoreReloKind.TypeSize
            or BtfCoreReloKind.TypeMatches => CoreRelocationClass.Type,
        BtfCoreReloKind.EnumValueExists or BtfCoreReloKind.EnumValueValue => CoreRelocationClass.EnumValue,
        _ => throw new BpfException(Errno.EOPNOTSUPP, $"unrecognized CO-RE relocation kind {(uint)kind}"),
    };

    /// <summary>libbpf's names for the kinds in its messages ("byte_off", "enumval_value", …).</summary>
    public static string KindName(BtfCoreReloKind kind) => kind switch
    {
        BtfCoreReloKind.FieldByteOffset => "byte_off",
        BtfCoreReloKind.FieldByteSize => "byte_sz",
        BtfCoreReloKind.FieldExists => "field_exists",
        BtfCoreReloKind.FieldSigned => "signed",
        BtfCoreReloKind.FieldLShiftU64 => "lshift_u64",
        BtfCoreReloKind.FieldRShiftU64 => "rshift_u64",
        BtfCoreReloKind.TypeIdLocal => "local_type_id",
        BtfCoreReloKind.TypeIdTarget => "target_type_id",
        BtfCoreReloKind.TypeExists => "type_exists",
        BtfCoreReloKind.TypeMatches => "type_matches",
        BtfCoreReloKind.TypeSize => "type_size",
        BtfCoreReloKind.EnumValueExists => "enumval_exists",
        BtfCoreReloKind.EnumValueValue => "enumval_value",
        _ => "unknown",
    };

    /// <summary>
    /// bpf_core_parse_spec: reads <paramref name="access"/> ("0:1:2") against <paramref name="rootTypeId"/> of
    /// <paramref name="btf"/>. Throws <see cref="BpfException"/> (EINVAL, E2BIG) naming what is wrong.
    /// </summary>
    public static CoreSpec Parse(Btf.BtfSpec btf, uint rootTypeId, string access, BtfCoreReloKind kind)
    {
        var spec = new CoreSpec(btf, rootTypeId, kind);
        var cls = ClassOf(kind);
        if (cls == CoreRelocationClass.Type)
        {
            if (access != "0")
                throw Invalid($"type-based relocation needs access string \"0\", got \"{access}\"");
            return spec;
        }
        if (access.Length == 0 || access[0] == ':')
            throw Invalid($"malformed access string \"{access}\"");
        foreach (string part in access.Split(':'))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int n))
                throw Invalid($"malformed access string \"{access}\"");
            if (spec.RawList.Count == MaxLength)
                throw new BpfException(Errno.E2BIG, $"access string \"{access}\" has more than {MaxLength} components");
            spec.RawList.Add(n);
        }

        var root = Resolve(btf, rootTypeId);
        int first = spec.RawList[0];
        spec.AccessorList.Add(new CoreAccessor(root.Id, first, null));
        if (cls == CoreRelocationClass.EnumValue)
        {
            if (root.Type is not BtfEnumType e || spec.RawList.Count > 1 || first >= e.Values.Count)
                throw Invalid($"enum value access \"{access}\" does not name an enumerator of {root.Type}");
            spec.AccessorList[0] = new CoreAccessor(root.Id, first, e.Values[first].Name);
            return spec;
        }

        uint id = root.Id;
        spec.BitOffset = OffsetBits(spec.BitOffset, first, SizeOf(btf, id), access);
        for (int i = 1; i < spec.RawList.Count; i++)
        {
            var (t, tid) = Resolve(btf, id);
            id = tid;
            int index = spec.RawList[i];
            switch (t)
            {
                case BtfComposite c:
                    if (index >= c.Members.Count)
                        throw Invalid($"member index {index} out of range for {t}");
                    var m = c.Members[index];
                    spec.BitOffset = OffsetBits(spec.BitOffset, 1, m.BitOffset, access, bits: true);
                    if (m.Name.Length > 0)
                        spec.AccessorList.Add(new CoreAccessor(id, index, m.Name));
                    id = m.Type;
                    break;
                case BtfArray a:
                    var element = Resolve(btf, a.ElementType);
                    if (!IsFlexibleArray(btf, spec.AccessorList[^1], a) && index >= a.Count)
                        throw Invalid($"array index {index} out of range for {t} ({a.Count} elements)");
                    spec.AccessorList.Add(new CoreAccessor(element.Id, index, null));
                    id = element.Id;
                    spec.BitOffset = OffsetBits(spec.BitOffset, index, SizeOf(btf, id), access);
                    break;
                default:
                    throw Invalid($"relo for [{rootTypeId}] {btf.GetType(rootTypeId).Name} (at idx {i}) captures type [{id}] of unexpected kind {CoreNames.KindName(t)}");
            }
        }
        return spec;
    }

    /// <summary>
    /// <paramref name="bitOffset"/> plus <paramref name="count"/> elements of <paramref name="size"/> bytes (or bits),
    /// refused with E2BIG when it leaves 32 bits: an access string may index anything, and a wrapped offset would
    /// patch a wrong one silently.
    /// </summary>
    internal static uint OffsetBits(uint bitOffset, long count, uint size, string access, bool bits = false)
    {
        ulong total = bitOffset + (ulong)count * size * (bits ? 1UL : 8UL);
        return total <= uint.MaxValue ? (uint)total
            : throw new BpfException(Errno.E2BIG, $"access string \"{access}\" reaches past a 32-bit bit offset");
    }

    /// <summary>A zero-length array that is the last member of its struct, reached through a named member.</summary>
    internal static bool IsFlexibleArray(Btf.BtfSpec btf, CoreAccessor previous, BtfArray array) =>
        previous.Name is not null && array.Count == 0
        && btf.TryGetType(previous.TypeId, out var t) && t is BtfComposite c && previous.Index == c.Members.Count - 1;

    internal static (BtfType Type, uint Id) Resolve(Btf.BtfSpec btf, uint id)
    {
        uint resolved = btf.SkipTypedefs(id);
        return (btf.GetType(resolved), resolved);
    }

    internal static uint SizeOf(Btf.BtfSpec btf, uint id)
    {
        try
        {
            return btf.SizeOf(id);
        }
        catch (BpfException e)
        {
            throw new BpfException(Errno.EINVAL, $"cannot size {btf.GetType(id)}: {e.Message}");
        }
    }

    private static BpfException Invalid(string message) => new(Errno.EINVAL, message);

    /// <summary>libbpf's spec text: <c>&lt;byte_off&gt; [12] struct s.a[3].b (0:1:3:0 @ offset 16)</c>.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        var root = Btf.GetType(RootTypeId);
        sb.Append(CultureInfo.InvariantCulture, $"<{KindName(Kind)}> [{RootTypeId}] {CoreNames.KindName(root)} {(root.IsAnonymous ? "<anon>" : root.Name)}");
        switch (ClassOf(Kind))
        {
            case CoreRelocationClass.Type:
                return sb.ToString();
            case CoreRelocationClass.EnumValue:
                if (Btf.ResolveType(RootTypeId) is BtfEnumType e && Raw.Count > 0 && Raw[0] < e.Values.Count)
                {
                    var v = e.Values[Raw[0]];
                    sb.Append("::").Append(v.Name).Append(" = ");
                    sb.Append(e.IsSigned ? v.Value.ToString(CultureInfo.InvariantCulture) : (e is BtfEnum ? ((uint)v.Value).ToString(CultureInfo.InvariantCulture) : ((ulong)v.Value).ToString(CultureInfo.InvariantCulture)));
                }
                return sb.ToString();
        }
        for (int i = 0; i < Accessors.Count; i++)
        {
            var a = Accessors[i];
            if (a.Name is not null)
                sb.Append('.').Append(a.Name);
            else if (i > 0 || a.Index > 0)
                sb.Append(CultureInfo.InvariantCulture, $"[{a.Index}]");
        }
        sb.Append(" (").Append(string.Join(':', Raw));
        sb.Append(BitOffset % 8 != 0
            ? string.Create(CultureInfo.InvariantCulture, $" @ offset {BitOffset / 8}.{BitOffset % 8})")
            : string.Create(CultureInfo.InvariantCulture, $" @ offset {BitOffset / 8})"));
        return sb.ToString();
    }
}
