using Ebpf.Btf;
using Ebpf.Loading;

namespace Ebpf.CoRe;

/// <summary>
/// bpftool's BTFGen (<c>gen min_core_btf</c>): the smallest BTF that resolves the CO-RE relocations of some objects
/// exactly as the full source BTF does, to ship as btf_custom_path for kernels without BTF. Each relocation is
/// resolved against the source; what its target spec walks through is kept — for field relocations the root and, on
/// the path, only the members used (and their types, pointers not followed); for type relocations the type and
/// everything it refers to, through pointers; for enum relocations the whole enum. Kept types keep their order;
/// members not kept are dropped (offsets and sizes stay), and references to types not kept become void.
/// </summary>
public static class MinimalCoreBtf
{
    /// <summary>The minimal BTF (raw bytes) for <paramref name="objects"/> against <paramref name="source"/>.</summary>
    public static byte[] Generate(Btf.BtfSpec source, IEnumerable<ObjectSpec> objects)
    {
        var marks = new Marks(source);
        foreach (var obj in objects)
        {
            if (obj.Btf is null)
                continue;
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
        return marks.Build();
    }

    private sealed class Marks(Btf.BtfSpec source)
    {
        private readonly SortedSet<uint> _types = [];
        private readonly Dictionary<uint, SortedSet<int>> _members = [];

        public void Record(CoreSpec target)
        {
            switch (CoreSpec.ClassOf(target.Kind))
            {
                case CoreRelocationClass.Field:
                    RecordField(target);
                    break;
                case CoreRelocationClass.Type:
                    MarkType(target.RootTypeId, followPointers: true);
                    if (target.Kind == BtfCoreReloKind.TypeMatches)
                        MarkAllMembers(target.RootTypeId, 0);
                    break;
                default:
                    MarkType(target.RootTypeId, followPointers: false);
                    break;
            }
        }

        private void RecordField(CoreSpec target)
        {
            uint id = target.RootTypeId;
            MarkType(id, followPointers: false);
            var t = source.GetType(id);
            for (int i = 1; i < target.Raw.Count; i++)
            {
                while (t is BtfReferenceType { Kind: not BtfKind.Ptr } r)
                {
                    id = r.Type;
                    t = source.GetType(id);
                }
                switch (t)
                {
                    case BtfComposite c:
                        int index = target.Raw[i];
                        if (!_members.TryGetValue(id, out var used))
                            _members[id] = used = [];
                        used.Add(index);
                        id = c.Members[index].Type;
                        t = source.GetType(id);
                        MarkType(id, followPointers: false);
                        break;
                    case BtfArray a:
                        id = a.ElementType;
                        t = source.GetType(id);
                        break;
                    default:
                        throw new BpfException(Errno.EINVAL, $"min_core_btf: unsupported kind {CoreNames.KindName(t)} ([{id}]) on a field path");
                }
            }
        }

        /// <summary>
        /// TYPE_MATCHES compares members by name and type: keep every member, recursively — except behind a pointer,
        /// where types_match only looks at the pointee's kind and name, so its members are not needed (as BTFGen).
        /// </summary>
        private void MarkAllMembers(uint id, int depth, bool behindPointer = false)
        {
            if (depth > CoreTypeRelations.MaxDepth)
                return;
            uint resolved = source.SkipTypedefs(id);
            switch (source.GetType(resolved))
            {
                case BtfComposite c when !behindPointer:
                    if (!_members.TryGetValue(resolved, out var used))
                        _members[resolved] = used = [];
                    for (int i = 0; i < c.Members.Count; i++)
                        if (used.Add(i))
                        {
                            MarkType(c.Members[i].Type, followPointers: false);
                            MarkAllMembers(c.Members[i].Type, depth + 1);
                        }
                    break;
                case BtfPtr p:
                    MarkAllMembers(p.Type, depth + 1, behindPointer: true);
                    break;
                case BtfArray a:
                    MarkAllMembers(a.ElementType, depth + 1);
                    break;
                case BtfFuncProto f:
                    MarkAllMembers(f.ReturnType, depth + 1);
                    foreach (var param in f.Parameters)
                        MarkAllMembers(param.Type, depth + 1);
                    break;
            }
        }

        private void MarkType(uint id, bool followPointers)
        {
            if (id == 0 || !_types.Add(id))
                return;
            switch (source.GetType(id))
            {
                case BtfPtr p:
                    // A type marked once is not visited again (as bpftool's BTFGen): a pointer first kept without its
                    // pointee stays so.
                    if (followPointers)
                        MarkType(p.Type, followPointers);
                    break;
                case BtfReferenceType r:
                    MarkType(r.Type, followPointers);
                    break;
                case BtfArray a:
                    MarkType(a.ElementType, followPointers);
                    MarkType(a.IndexType, followPointers);
                    break;
                case BtfFuncProto f:
                    MarkType(f.ReturnType, followPointers);
                    foreach (var p in f.Parameters)
                        MarkType(p.Type, followPointers);
                    break;
                case BtfInt or BtfFloat or BtfEnumType or BtfComposite or BtfFwd:
                    break;
                default:
                    throw new BpfException(Errno.EINVAL, $"min_core_btf: unsupported kind {CoreNames.KindName(source.GetType(id))} ([{id}])");
            }
        }

        public byte[] Build()
        {
            var map = new Dictionary<uint, uint> { [0] = 0 };
            uint next = 1;
            foreach (uint id in _types)
                map[id] = next++;
            uint Remap(uint id) => map.TryGetValue(id, out uint n) ? n : 0;
            var builder = new BtfBuilder();
            foreach (uint id in _types)
            {
                var t = source.GetType(id);
                builder.Add(t switch
                {
                    BtfStruct s => new BtfStruct(s.Name, s.Size, KeptMembers(id, s, Remap), s.KindFlag),
                    BtfUnion u => new BtfUnion(u.Name, u.Size, KeptMembers(id, u, Remap), u.KindFlag),
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

        private List<BtfMember> KeptMembers(uint id, BtfComposite c, Func<uint, uint> remap) =>
            _members.TryGetValue(id, out var used)
                ? used.Select(i => c.Members[i] with { Type = remap(c.Members[i].Type) }).ToList()
                : [];
    }
}
