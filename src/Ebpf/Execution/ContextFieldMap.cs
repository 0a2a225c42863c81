namespace Ebpf.Execution;

/// <summary>One ctx field that the kernel turns into a pointer: a 4-byte load at <see cref="UserOffset"/> yields the
/// 64-bit pointer stored at <see cref="InternalOffset"/> of the context block.</summary>
internal readonly record struct ContextPointerSlot(string Name, int UserOffset, int InternalOffset);

/// <summary>
/// For a program run without a verifier's proof (no translated program): how the checked interpreter reads the
/// context's pointer fields. The proof is replaced by the address itself: a 4-byte load whose address is the
/// invocation's ctx (r1 at entry) plus a pointer field's user-visible offset yields the internal pointer, wherever
/// the base register came from (a spill, a copy through a map, a path-dependent register); any other access that
/// touches such a field faults, as the kernel's context rules allow no other (narrow loads, writes, wider loads).
/// </summary>
internal sealed class ContextFieldMap(IReadOnlyList<ContextPointerSlot> slots)
{
    private readonly ContextPointerSlot[] _slots = [.. slots];

    public IReadOnlyList<ContextPointerSlot> Slots => _slots;

    /// <summary>The slot a 4-byte load at ctx + <paramref name="offset"/> reads, or null.</summary>
    internal ContextPointerSlot? LoadAt(long offset)
    {
        foreach (var s in _slots)
            if (s.UserOffset == offset)
                return s;
        return null;
    }

    /// <summary>The slot an access of <paramref name="size"/> bytes at ctx + <paramref name="offset"/> overlaps, or null.</summary>
    internal ContextPointerSlot? Overlapping(long offset, int size)
    {
        foreach (var s in _slots)
            if (offset < s.UserOffset + 4 && s.UserOffset < offset + size)
                return s;
        return null;
    }
}
