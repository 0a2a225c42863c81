using Ebpf.Btf;
using Ebpf.Loading;

namespace Ebpf.CoRe;

/// <summary>
/// bpftool's BTFGen (<c>gen min_core_btf</c>): the smallest BTF that resolves the CO-RE relocations of some objects
/// exactly as the full source BTF does, to ship as btf_custom_path for kernels without BTF. Each relocation is
/// resolved against the source and its target spec marks types and members by bpftool's rules
/// (<see cref="MinimalCoreBtfMarks"/>). Kept types keep their order; members not kept are dropped (offsets and sizes
/// stay), and references to types not kept become void, so the output is byte for byte bpftool's.
/// </summary>
public static class MinimalCoreBtf
{
    /// <summary>The minimal BTF (raw bytes) for <paramref name="objects"/> against <paramref name="source"/>.</summary>
    /// <exception cref="BpfException">An object has no .BTF (ENOENT) or no .BTF.ext (EINVAL), as bpftool refuses it;
    /// a relocation fails to resolve; or the source holds a kind BTFGen cannot keep.</exception>
    public static byte[] Generate(Btf.BtfSpec source, IEnumerable<ObjectSpec> objects)
    {
        var marks = new MinimalCoreBtfMarks(source);
        foreach (var obj in objects)
        {
            // bpftool refuses these rather than skipping them: an object given for its relocations that has none to read.
            if (obj.Btf is null)
                throw new BpfException(Errno.ENOENT, $"min_core_btf: {obj.Name}: no .BTF section");
            if (obj.BtfExt is null)
                throw new BpfException(Errno.EINVAL, $"min_core_btf: {obj.Name}: section .BTF.ext not found");
            var relocator = new CoreRelocator(obj.Btf, CoreTargets.Custom("source", source));
            foreach (var prog in obj.Programs)
                for (int i = 0; i < prog.CoreRelocations.Count; i++)
                {
                    var r = prog.CoreRelocations[i];
                    if (r.Kind == BtfCoreReloKind.TypeIdLocal)
                        continue;
                    var res = relocator.Resolve(prog.Name, i, new CoreRelocation(r.InstructionIndex, r.TypeId, r.AccessString, r.Kind));
                    if (res.Target is { } target)
                        marks.Record(target);
                }
        }
        return Build(source, marks);
    }

    /// <summary>
    /// The new BTF as bpftool writes it: marked types in source order, renumbered from 1; a composite keeps its name
    /// and size and only its marked members (kind_flag set only when a kept member needs it, as libbpf's
    /// btf__add_field does); every other type is copied whole; references to unmarked types become void.
    /// </summary>
    private static byte[] Build(Btf.BtfSpec source, MinimalCoreBtfMarks marks)
    {
        var map = new Dictionary<uint, uint> { [0] = 0 };
        uint next = 1;
        foreach (uint id in marks.Types)
            map[id] = next++;
        uint Remap(uint id) => map.TryGetValue(id, out uint n) ? n : 0;
        var builder = new BtfBuilder();
        foreach (uint id in marks.Types)
        {
            var t = source.GetType(id);
            builder.Add(t switch
            {
                BtfStruct s when KeptMembers(marks, id, s, Remap) is var kept => new BtfStruct(s.Name, s.Size, kept, NeedsKindFlag(kept)),
                BtfUnion u when KeptMembers(marks, id, u, Remap) is var kept => new BtfUnion(u.Name, u.Size, kept, NeedsKindFlag(kept)),
                BtfPtr p => new BtfPtr(Remap(p.Type)),
                BtfTypedef td => new BtfTypedef(td.Name, Remap(td.Type)),
                BtfConst c => new BtfConst(Remap(c.Type)),
                BtfVolatile v => new BtfVolatile(Remap(v.Type)),
                BtfRestrict r => new BtfRestrict(Remap(r.Type)),
                BtfTypeTag tt => new BtfTypeTag(tt.Name, Remap(tt.Type), tt.IsAttribute),
                BtfArray a => new BtfArray(Remap(a.ElementType), Remap(a.IndexType), a.Count),
                BtfFuncProto f => new BtfFuncProto(Remap(f.ReturnType), f.Parameters.Select(p => new BtfParam(p.Name, Remap(p.Type))).ToList()),
                BtfInt i => new BtfInt(i.Name, i.Size, i.Encoding, i.BitOffset, i.Bits),
                BtfFloat fl => new BtfFloat(fl.Name, fl.Size),
                BtfEnum e => new BtfEnum(e.Name, e.Size, e.Values, e.IsSigned),
                BtfEnum64 e64 => new BtfEnum64(e64.Name, e64.Size, e64.Values, e64.IsSigned),
                BtfFwd fw => new BtfFwd(fw.Name, fw.IsUnion),
                _ => throw new BpfException(Errno.EINVAL, $"min_core_btf: cannot copy {t}"),
            });
        }
        return builder.ToBytes();
    }

    // libbpf's btf__add_field sets kind_flag for a bitfield or a member not on a byte boundary, whatever the source had.
    private static bool NeedsKindFlag(List<BtfMember> kept) => kept.Any(m => m.BitfieldSize != 0 || m.BitOffset % 8 != 0);

    private static List<BtfMember> KeptMembers(MinimalCoreBtfMarks marks, uint id, BtfComposite c, Func<uint, uint> remap) =>
        [.. marks.MembersOf(id).Select(i => c.Members[i] with { Type = remap(c.Members[i].Type) })];
}
