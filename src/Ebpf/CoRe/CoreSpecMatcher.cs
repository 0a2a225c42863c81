using Ebpf.Btf;

namespace Ebpf.CoRe;

/// <summary>
/// bpf_core_spec_match: does one target candidate satisfy a local spec, and where (the target spec). Field
/// relocations follow the local named members by exact name, looking through anonymous structs and unions, and
/// the local array steps by index; type relocations use type compatibility or the type match; enum relocations find
/// the enumerator by essential name.
/// </summary>
internal static class CoreSpecMatcher
{
    /// <summary>1 and the target spec when <paramref name="targetId"/> matches; 0 when not; a negative errno on malformed BTF.</summary>
    public static (int Result, CoreSpec? Target) Match(CoreSpec local, Btf.BtfSpec target, uint targetId)
    {
        var spec = new CoreSpec(target, targetId, local.Kind);
        switch (CoreSpec.ClassOf(local.Kind))
        {
            case CoreRelocationClass.Type:
                int r = local.Kind == BtfCoreReloKind.TypeMatches
                    ? CoreTypeRelations.TypesMatch(local.Btf, local.RootTypeId, target, targetId)
                    : CoreTypeRelations.TypesAreCompatible(local.Btf, local.RootTypeId, target, targetId);
                return (r, r > 0 ? spec : null);
            case CoreRelocationClass.EnumValue:
                return MatchEnumValue(local, spec, target, targetId);
        }

        uint id = targetId;
        for (int i = 0; i < local.Accessors.Count; i++)
        {
            var la = local.Accessors[i];
            if (la.Name is not null)
            {
                var (found, next) = MatchMember(local.Btf, la, target, id, spec);
                if (found <= 0)
                    return (found, null);
                id = next;
                continue;
            }
            if (i > 0)
            {
                // An array step: the target's current type must be an array with room for the local index.
                var (t, tid) = Skip(target, id);
                if (t is not BtfArray a)
                    return (0, null);
                if (!CoreSpec.IsFlexibleArray(target, spec.AccessorList[^1], a) && la.Index >= a.Count)
                    return (0, null);
                id = Skip(target, a.ElementType).Id;
                _ = tid;
            }
            if (spec.RawList.Count == CoreSpec.MaxLength)
                return (-(int)Errno.E2BIG, null);
            spec.AccessorList.Add(new CoreAccessor(id, la.Index, null));
            spec.RawList.Add(la.Index);
            uint size;
            try
            {
                size = target.SizeOf(id);
            }
            catch (BpfException e)
            {
                return (-(int)e.Errno, null);
            }
            ulong total = spec.BitOffset + (ulong)(uint)la.Index * size * 8;
            if (total > uint.MaxValue)
                return (-(int)Errno.E2BIG, null);
            spec.BitOffset = (uint)total;
        }
        return (1, spec);
    }

    private static (BtfType Type, uint Id) Skip(Btf.BtfSpec btf, uint id)
    {
        uint resolved = btf.SkipTypedefs(id);
        return (btf.GetType(resolved), resolved);
    }

    private static (int, CoreSpec?) MatchEnumValue(CoreSpec local, CoreSpec spec, Btf.BtfSpec target, uint targetId)
    {
        var (t, tid) = Skip(target, targetId);
        if (t is not BtfEnumType e)
            return (0, null);
        string localName = local.Accessors[0].Name!;
        for (int i = 0; i < e.Values.Count; i++)
        {
            if (CoreNames.EssentialLength(e.Values[i].Name) != CoreNames.EssentialLength(localName)
                || string.CompareOrdinal(e.Values[i].Name, 0, localName, 0, CoreNames.EssentialLength(localName)) != 0)
                continue;
            spec.AccessorList.Add(new CoreAccessor(tid, i, e.Values[i].Name));
            spec.RawList.Add(i);
            return (1, spec);
        }
        return (0, null);
    }

    /// <summary>
    /// bpf_core_match_member: the target member named like the local one, searched depth-first through anonymous
    /// members. The raw spec and bit offset grow speculatively and shrink again on a miss, as libbpf's do.
    /// </summary>
    private static (int Found, uint Next) MatchMember(Btf.BtfSpec localBtf, CoreAccessor la, Btf.BtfSpec target, uint targetId, CoreSpec spec)
    {
        var localComposite = (BtfComposite)localBtf.GetType(la.TypeId);
        var localMember = localComposite.Members[la.Index];
        var (t, tid) = Skip(target, targetId);
        if (t is not BtfComposite c)
            return (0, 0);
        for (int i = 0; i < c.Members.Count; i++)
        {
            var m = c.Members[i];
            if (spec.RawList.Count == CoreSpec.MaxLength)
                return (-(int)Errno.E2BIG, 0);
            spec.BitOffset += m.BitOffset;
            spec.RawList.Add(i);
            if (m.Name.Length == 0)
            {
                var (found, next) = MatchMember(localBtf, la, target, m.Type, spec);
                if (found != 0)
                    return (found, next);
            }
            else if (m.Name == la.Name)
            {
                spec.AccessorList.Add(new CoreAccessor(tid, i, m.Name));
                int compatible = CoreTypeRelations.FieldsAreCompatible(localBtf, localMember.Type, target, m.Type);
                if (compatible == 0)
                    spec.AccessorList.RemoveAt(spec.AccessorList.Count - 1);
                return (compatible, m.Type);
            }
            spec.BitOffset -= m.BitOffset;
            spec.RawList.RemoveAt(spec.RawList.Count - 1);
        }
        return (0, 0);
    }
}
