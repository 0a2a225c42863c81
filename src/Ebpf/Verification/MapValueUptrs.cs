using Ebpf.Btf;

namespace Ebpf.Verification;

/// <summary>A <c>__uptr</c> field of a map value: an 8-byte user pointer at <paramref name="Offset"/> to a struct of
/// <paramref name="PointeeSize"/> bytes (<paramref name="PointeeTypeId"/> in the map's BTF).</summary>
internal readonly record struct UptrField(int Offset, int PointeeSize, string PointeeName, uint PointeeTypeId);

/// <summary>Map metadata that knows the value's <c>__uptr</c> fields (the loader's map specs do; maps of the managed
/// runtime never have any, since it refuses such maps at creation).</summary>
internal interface IUptrFieldSource
{
    /// <summary>The value's uptr fields, by offset (empty when none).</summary>
    IReadOnlyList<UptrField> UptrFields { get; }
}

/// <summary>
/// The <c>__uptr</c> fields of a map value's BTF, found as 6.18's btf_parse_fields finds them (BPF_UPTR, 6.12+): a
/// member that is a pointer (volatile allowed) to a single TYPE_TAG "uptr" (no kind_flag) over a struct, directly, in
/// a nested struct (not through a typedef) or in arrays of either. A malformed tagged pointer (an unknown tag, two tags,
/// a pointee that is no struct, a forward declaration included) makes the kernel's parse fail, and map_check_btf then
/// ignores the value's special fields altogether: so do we (the list is empty).
/// </summary>
internal static class MapValueUptrs
{
    private const int MaxDepth = 32; // MAX_RESOLVE_DEPTH
    private const int PointerSize = 8;

    /// <summary>The uptr fields of <paramref name="map"/>, empty when it has none or its metadata does not say.</summary>
    public static IReadOnlyList<UptrField> Of(IVerifierMapInfo map) => map is IUptrFieldSource s ? s.UptrFields : [];

    /// <summary>The uptr fields of the value type <paramref name="valueTypeId"/> (empty when none, or when the kernel's
    /// parse of the value's fields would fail).</summary>
    public static IReadOnlyList<UptrField> Find(BtfSpec btf, uint valueTypeId)
    {
        var found = new List<UptrField>();
        try
        {
            if (!btf.TryGetType(valueTypeId, out var value)) return [];
            bool ok = value switch
            {
                BtfStruct s => WalkStruct(btf, s, 0, 0, found),
                BtfDatasec sec => WalkDatasec(btf, sec, found),
                _ => true,
            };
            return ok ? found.OrderBy(f => f.Offset).ToArray() : [];
        }
        catch (BpfException)
        {
            return []; // a broken type chain: the kernel's parse fails too
        }
    }

    private static bool WalkDatasec(BtfSpec btf, BtfDatasec sec, List<UptrField> found)
    {
        foreach (var v in sec.Variables)
            if (btf.GetType(v.Type) is BtfVar var && !WalkMember(btf, var.Type, v.Offset, 0, found))
                return false;
        return true;
    }

    private static bool WalkStruct(BtfSpec btf, BtfStruct s, long baseOffset, int depth, List<UptrField> found)
    {
        if (depth > MaxDepth) return false;
        foreach (var m in s.Members)
        {
            if (m.IsBitfield) continue;
            if (!WalkMember(btf, m.Type, baseOffset + m.ByteOffset, depth, found)) return false;
        }
        return true;
    }

    /// <summary>One member (btf_find_field_one): arrays multiply, a non-special struct is walked, anything else may be
    /// a tagged pointer. False when the kernel's parse would fail.</summary>
    private static bool WalkMember(BtfSpec btf, uint typeId, long offset, int depth, List<UptrField> found)
    {
        var t = btf.GetType(typeId);
        long count = 1;
        while (t is BtfArray a)
        {
            count *= a.Count;
            t = btf.GetType(a.ElementType);
        }
        if (count == 0) return true;
        if (t is BtfStruct nested)
        {
            if (IsSpecialStruct(nested.Name)) return true;
            var inner = new List<UptrField>();
            if (!WalkStruct(btf, nested, 0, depth + 1, inner)) return false;
            for (long i = 0; i < count && inner.Count > 0; i++)
                foreach (var f in inner)
                    found.Add(f with { Offset = checked((int)(offset + i * nested.Size + f.Offset)) });
            return true;
        }
        if (t is BtfVolatile v) t = btf.GetType(v.Type);
        if (t is not BtfPtr ptr || btf.GetType(ptr.Type) is not BtfTypeTag tag || tag.IsAttribute) return true;
        if (btf.GetType(tag.Type) is BtfTypeTag) return false;                  // extra tags
        bool uptr = tag.Name == "uptr";
        if (!uptr && tag.Name is not ("kptr" or "kptr_untrusted" or "percpu_kptr")) return false;
        uint pointeeId = btf.SkipModifiers(tag.Type);
        if (btf.GetType(pointeeId) is not BtfStruct pointee) return false;      // only pointers to structs
        if (uptr)
            for (long i = 0; i < count; i++)
                found.Add(new UptrField(checked((int)(offset + i * PointerSize)), (int)pointee.Size, pointee.Name, pointeeId));
        return true;
    }

    /// <summary>The structs btf_get_field_type recognises by name: special fields of their own, never walked.</summary>
    private static bool IsSpecialStruct(string name) => name is "bpf_spin_lock" or "bpf_res_spin_lock" or "bpf_timer"
        or "bpf_wq" or "bpf_list_head" or "bpf_list_node" or "bpf_rb_root" or "bpf_rb_node" or "bpf_refcount"
        or "bpf_task_work";
}
