using Ebpf.Btf;

namespace Ebpf.CoRe;

/// <summary>
/// The three relations CO-RE decides candidates with (kernel-semantics.md §4.5): field compatibility (the leaf and
/// intermediate fields of a field relocation), type compatibility (TYPE_EXISTS/SIZE/ID_TARGET) and the stricter type
/// match (TYPE_MATCHES). Each answers 1 (yes), 0 (no) or a negative errno (malformed or too deep).
/// </summary>
internal static class CoreTypeRelations
{
    /// <summary>Recursion limit of the type relations.</summary>
    public const int MaxDepth = 32;

    private static (BtfType Type, uint Id)? Skip(Btf.BtfSpec btf, uint id)
    {
        try
        {
            uint resolved = btf.SkipTypedefs(id);
            return btf.TryGetType(resolved, out var t) ? (t, resolved) : null;
        }
        catch (BpfException)
        {
            return null;
        }
    }

    /// <summary>Legacy "bitfield-like" INTs (a non-zero bit offset in the INT encoding) are never compatible.</summary>
    private static bool PlainInts(BtfType a, BtfType b) => a is BtfInt { BitOffset: 0 } && b is BtfInt { BitOffset: 0 };

    /// <summary>bpf_core_fields_are_compat.</summary>
    public static int FieldsAreCompatible(Btf.BtfSpec local, uint localId, Btf.BtfSpec target, uint targetId)
    {
        for (int depth = 0; depth <= MaxDepth; depth++)
        {
            if (Skip(local, localId) is not var (lt, lid) || Skip(target, targetId) is not var (tt, tid))
                return -(int)Errno.EINVAL;
            if (lt is BtfComposite && tt is BtfComposite)
                return 1;
            if (!CoreNames.KindsCompatible(lt, tt))
                return 0;
            switch (lt)
            {
                case BtfPtr:
                case BtfFloat:
                    return 1;
                case BtfFwd:
                case BtfEnumType:
                    int ll = CoreNames.EssentialLength(lt.Name), tl = CoreNames.EssentialLength(tt.Name);
                    return ll == 0 || tl == 0 || (ll == tl && string.CompareOrdinal(lt.Name, 0, tt.Name, 0, ll) == 0) ? 1 : 0;
                case BtfInt:
                    return PlainInts(lt, tt) ? 1 : 0;
                case BtfArray la:
                    localId = la.ElementType;
                    targetId = ((BtfArray)tt).ElementType;
                    continue;
                default:
                    return 0;
            }
        }
        return -(int)Errno.EINVAL;
    }

    /// <summary>bpf_core_types_are_compat: names were matched at the root by the candidate search and are ignored below it.</summary>
    public static int TypesAreCompatible(Btf.BtfSpec local, uint localId, Btf.BtfSpec target, uint targetId) =>
        !local.TryGetType(localId, out var l) || !target.TryGetType(targetId, out var t) ? -(int)Errno.EINVAL
            : !CoreNames.KindsCompatible(l, t) ? 0
            : TypesAreCompatible(local, localId, target, targetId, MaxDepth);

    private static int TypesAreCompatible(Btf.BtfSpec local, uint localId, Btf.BtfSpec target, uint targetId, int depth)
    {
        while (true)
        {
            if (--depth < 0)
                return -(int)Errno.EINVAL;
            if (Skip(local, localId) is not var (lt, _) || Skip(target, targetId) is not var (tt, _))
                return -(int)Errno.EINVAL;
            if (!CoreNames.KindsCompatible(lt, tt))
                return 0;
            switch (lt)
            {
                case BtfVoid or BtfComposite or BtfEnumType or BtfFwd:
                    return 1;
                case BtfInt:
                    return PlainInts(lt, tt) ? 1 : 0;
                case BtfPtr lp:
                    localId = lp.Type;
                    targetId = ((BtfPtr)tt).Type;
                    continue;
                case BtfArray la:
                    localId = la.ElementType;
                    targetId = ((BtfArray)tt).ElementType;
                    continue;
                case BtfFuncProto lf:
                    var tf = (BtfFuncProto)tt;
                    if (lf.Parameters.Count != tf.Parameters.Count)
                        return 0;
                    for (int i = 0; i < lf.Parameters.Count; i++)
                    {
                        int r = TypesAreCompatible(local, lf.Parameters[i].Type, target, tf.Parameters[i].Type, depth - 1);
                        if (r <= 0)
                            return r;
                    }
                    localId = lf.ReturnType;
                    targetId = tf.ReturnType;
                    continue;
                default:
                    return 0;
            }
        }
    }

    /// <summary>bpf_core_types_match: would the local definition describe the target, member by member.</summary>
    public static int TypesMatch(Btf.BtfSpec local, uint localId, Btf.BtfSpec target, uint targetId) =>
        TypesMatch(local, localId, target, targetId, behindPointer: false, MaxDepth);

    private static int TypesMatch(Btf.BtfSpec local, uint localId, Btf.BtfSpec target, uint targetId, bool behindPointer, int depth)
    {
        while (true)
        {
            if (--depth < 0)
                return -(int)Errno.EINVAL;
            if (Skip(local, localId) is not var (lt, _) || Skip(target, targetId) is not var (tt, _))
                return -(int)Errno.EINVAL;
            if (!CoreNames.Match(lt.Name, tt.Name))
                return 0;
            switch (lt)
            {
                case BtfVoid:
                    return tt.Kind == lt.Kind ? 1 : 0;
                case BtfFwd lf:
                    if (tt is BtfFwd tf)
                        return lf.IsUnion == tf.IsUnion ? 1 : 0;
                    // A forward declaration behind a pointer stands for the struct (kflag 0) or union (kflag 1) itself.
                    return behindPointer && ((tt is BtfStruct && !lf.IsUnion) || (tt is BtfUnion && lf.IsUnion)) ? 1 : 0;
                case BtfEnumType le:
                    return tt is BtfEnumType te && EnumsMatch(le, te) ? 1 : 0;
                case BtfComposite lc:
                    if (behindPointer)
                        return tt.Kind == lt.Kind || (tt is BtfFwd fwd && fwd.IsUnion == lc.IsUnion) ? 1 : 0;
                    return tt.Kind != lt.Kind ? 0 : CompositesMatch(local, lc, target, (BtfComposite)tt, behindPointer, depth);
                case BtfInt li:
                    return tt is BtfInt ti && li.Size == ti.Size && li.IsSigned == ti.IsSigned ? 1 : 0;
                case BtfPtr lp:
                    if (tt is not BtfPtr tp)
                        return 0;
                    behindPointer = true;
                    localId = lp.Type;
                    targetId = tp.Type;
                    continue;
                case BtfArray la:
                    if (tt is not BtfArray ta || la.Count != ta.Count)
                        return 0;
                    localId = la.ElementType;
                    targetId = ta.ElementType;
                    continue;
                case BtfFuncProto lf:
                    if (tt is not BtfFuncProto tfp || lf.Parameters.Count != tfp.Parameters.Count)
                        return 0;
                    for (int i = 0; i < lf.Parameters.Count; i++)
                    {
                        int r = TypesMatch(local, lf.Parameters[i].Type, target, tfp.Parameters[i].Type, behindPointer, depth - 1);
                        if (r <= 0)
                            return r;
                    }
                    localId = lf.ReturnType;
                    targetId = tfp.ReturnType;
                    continue;
                default:
                    return 0;
            }
        }
    }

    private static bool EnumsMatch(BtfEnumType local, BtfEnumType target) =>
        local.Size == target.Size && local.Values.Count <= target.Values.Count
        && local.Values.All(lv => target.Values.Any(tv => CoreNames.Match(lv.Name, tv.Name)));

    private static int CompositesMatch(Btf.BtfSpec local, BtfComposite lc, Btf.BtfSpec target, BtfComposite tc, bool behindPointer, int depth)
    {
        if (lc.Members.Count > tc.Members.Count)
            return 0;
        foreach (var lm in lc.Members)
        {
            bool matched = false;
            foreach (var tm in tc.Members)
            {
                if (!CoreNames.Match(lm.Name, tm.Name))
                    continue;
                int r = TypesMatch(local, lm.Type, target, tm.Type, behindPointer, depth - 1);
                if (r < 0)
                    return r;
                if (r > 0)
                {
                    matched = true;
                    break;
                }
            }
            if (!matched)
                return 0;
        }
        return 1;
    }
}
