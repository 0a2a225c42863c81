using Ebpf.Btf;

namespace Ebpf.CoRe;

/// <summary>
/// The types and members of a source BTF that BTFGen keeps, marked by the rules of bpftool's
/// <c>gen min_core_btf</c>: field relocations keep the root and, along the target spec's path, each member used and
/// its type (pointers not followed); TYPE_ID_TARGET, TYPE_EXISTS and TYPE_SIZE keep the type and what it refers to
/// through pointers (a struct reached keeps no members); TYPE_MATCHES keeps every member recursively, stopping at
/// a struct behind a pointer (kept without members); enum relocations keep the enum. A type is marked once however
/// it is reached, but a later walk that goes further than an earlier one (following pointers, or not behind a
/// pointer) walks it again, so the result does not depend on the order of the relocations.
/// </summary>
internal sealed class MinimalCoreBtfMarks(BtfSpec source)
{
    private readonly SortedSet<uint> _types = [];
    private readonly Dictionary<uint, SortedSet<int>> _members = [];
    // Walks already done, to stop repeats (and cycles in malformed BTF): a following walk covers a plain one.
    private readonly HashSet<uint> _walked = [], _walkedFollowing = [];
    // TYPE_MATCHES walks already done: one not behind a pointer covers one behind.
    private readonly HashSet<uint> _matched = [], _matchedBehindPointer = [];

    /// <summary>The marked type ids in source order.</summary>
    public IReadOnlyCollection<uint> Types => _types;

    /// <summary>The marked member indices of composite <paramref name="id"/>, in source order (none if unmarked).</summary>
    public IEnumerable<int> MembersOf(uint id) => _members.TryGetValue(id, out var used) ? used : [];

    /// <summary>Marks what the resolved target spec <paramref name="target"/> needs.</summary>
    public void Record(CoreSpec target)
    {
        switch (CoreSpec.ClassOf(target.Kind))
        {
            case CoreRelocationClass.Field:
                RecordField(target);
                break;
            case CoreRelocationClass.Type when target.Kind == BtfCoreReloKind.TypeMatches:
                MarkMatch(target.RootTypeId, behindPointer: false);
                break;
            case CoreRelocationClass.Type:
                MarkType(target.RootTypeId, followPointers: true);
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
            // Typedefs and modifiers (type tags included) are stepped over without marking more.
            while (t is BtfReferenceType { Kind: not BtfKind.Ptr } r)
            {
                id = r.Type;
                t = source.GetType(id);
            }
            switch (t)
            {
                case BtfComposite c:
                    int index = target.Raw[i];
                    MarkMember(id, index);
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

    private void MarkMember(uint id, int index)
    {
        if (!_members.TryGetValue(id, out var used))
            _members[id] = used = [];
        used.Add(index);
    }

    private void MarkType(uint id, bool followPointers)
    {
        if (id == 0 || _walkedFollowing.Contains(id) || (!followPointers && _walked.Contains(id)))
            return;
        (followPointers ? _walkedFollowing : _walked).Add(id);
        _types.Add(id);
        switch (source.GetType(id))
        {
            case BtfPtr p:
                if (followPointers)
                    MarkType(p.Type, followPointers);
                break;
            case BtfReferenceType r:
                // TYPEDEF, CONST, VOLATILE, RESTRICT; TYPE_TAG too (bpftool refuses it, we keep it as a modifier).
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
                // Composites keep only the members a field relocation marks; a FWD (refused by bpftool) is kept as is.
                break;
            default:
                throw new BpfException(Errno.EINVAL, $"min_core_btf: unsupported kind {CoreNames.KindName(source.GetType(id))} ([{id}])");
        }
    }

    /// <summary>
    /// TYPE_MATCHES compares members by name and type: keep every member and its type, recursively — except behind a
    /// pointer, where the match only looks at the pointee's kind and name, so a composite there keeps no members.
    /// Arrays and function prototypes start afresh (not behind a pointer) for their element, return and parameters.
    /// </summary>
    private void MarkMatch(uint id, bool behindPointer)
    {
        if (id == 0 || _matched.Contains(id) || (behindPointer && _matchedBehindPointer.Contains(id)))
            return;
        (behindPointer ? _matchedBehindPointer : _matched).Add(id);
        _types.Add(id);
        switch (source.GetType(id))
        {
            case BtfComposite c:
                if (behindPointer)
                    break;
                for (int i = 0; i < c.Members.Count; i++)
                {
                    MarkMember(id, i);
                    MarkMatch(c.Members[i].Type, behindPointer: false);
                }
                break;
            case BtfPtr p:
                MarkMatch(p.Type, behindPointer: true);
                break;
            case BtfReferenceType r:
                MarkMatch(r.Type, behindPointer);
                break;
            case BtfArray a:
                MarkMatch(a.ElementType, behindPointer: false);
                MarkMatch(a.IndexType, behindPointer: false);
                break;
            case BtfFuncProto f:
                MarkMatch(f.ReturnType, behindPointer: false);
                foreach (var p in f.Parameters)
                    MarkMatch(p.Type, behindPointer: false);
                break;
            case BtfInt or BtfFloat or BtfEnumType or BtfFwd:
                break;
            default:
                throw new BpfException(Errno.EINVAL, $"min_core_btf: unsupported kind {CoreNames.KindName(source.GetType(id))} ([{id}])");
        }
    }
}
