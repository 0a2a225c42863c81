using System.Buffers.Binary;
using Ebpf.Runtime.Memory;

namespace Ebpf.Runtime.Maps;

/// <summary>A program stored in a prog_array slot: its id and the runtime's program object.</summary>
public sealed record ProgArrayEntry(uint Id, object Program);

/// <summary>
/// BPF_MAP_TYPE_PROG_ARRAY: slots of program references for bpf_tail_call. The host API speaks
/// u32 ids/fds: update resolves the value through <see cref="Resolver"/> (set by the runtime;
/// EBADF if it cannot), lookup returns the stored id (ENOENT when empty), delete clears the slot
/// (ENOENT when empty, EINVAL out of range). Update flags must be BPF_ANY (EINVAL), index ≥
/// max_entries → E2BIG. When the last user reference goes away every slot is cleared (the kernel's
/// release_uref), which breaks prog → map → prog cycles.
/// </summary>
public sealed class ProgArrayMap : BpfMapBase
{
    private readonly ProgArrayEntry?[] _slots;

    internal ProgArrayMap(MapAttributes a) : base(a, a.MaxEntries) => _slots = new ProgArrayEntry?[a.MaxEntries];

    /// <summary>Maps the u32 value of a host update (an fd or id) to a program; null → EBADF.</summary>
    public Func<uint, ProgArrayEntry?>? Resolver { get; set; }

    /// <summary>Checks a program before it is stored (bpf_prog_map_compatible): return 0 or the errno (EINVAL).</summary>
    public Func<ProgArrayEntry, Errno>? Compatibility { get; set; }

    /// <summary>Raised for every entry leaving a slot (overwrite, delete, clear, free): drop its program reference.</summary>
    public event Action<ProgArrayEntry>? EntryReleased;

    /// <summary>The tail-call target at <paramref name="index"/>, or null (out of range or empty): the interpreter's JMP_TAIL_CALL lookup.</summary>
    public ProgArrayEntry? GetProgram(uint index) => index < (uint)_slots.Length ? Volatile.Read(ref _slots[index]) : null;

    /// <summary>Stores a program directly (the typed form of BPF_MAP_UPDATE_ELEM).</summary>
    public void SetProgram(uint index, ProgArrayEntry entry) => Check(Set(index, entry), "update");

    private Errno Set(uint index, ProgArrayEntry entry)
    {
        if (IsFrozen) return Errno.EPERM;
        if (index >= (uint)_slots.Length) return Errno.E2BIG;
        var c = Compatibility?.Invoke(entry) ?? Errno.None;
        if (c != 0) return c;
        var old = Interlocked.Exchange(ref _slots[index], entry);
        if (old is not null) ReleaseEntry(old);
        return Errno.None;
    }

    private void ReleaseEntry(ProgArrayEntry e)
    {
        // A running program may be tail-calling into it right now: release after the epoch.
        var handler = EntryReleased;
        if (handler is not null) EpochManager.Retire(() => handler(e));
    }

    /// <summary>Empties every slot.</summary>
    public void Clear()
    {
        for (int i = 0; i < _slots.Length; i++)
        {
            var old = Interlocked.Exchange(ref _slots[i], null);
            if (old is not null) ReleaseEntry(old);
        }
    }

    protected override void OnUserRefsReleased() => Clear();
    protected override void FreeNative() => Clear();

    protected override Errno UpdateCore(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, Abi.MapUpdateFlags flags)
    {
        if (flags != Abi.MapUpdateFlags.Any) return Errno.EINVAL;
        uint index = BinaryPrimitives.ReadUInt32LittleEndian(key);
        if (index >= (uint)_slots.Length) return Errno.E2BIG;
        var entry = Resolver?.Invoke(BinaryPrimitives.ReadUInt32LittleEndian(value));
        if (entry is null) return Errno.EBADF;
        return Set(index, entry);
    }

    protected override Errno LookupCore(ReadOnlySpan<byte> key, Span<byte> value, Abi.MapUpdateFlags flags)
    {
        var e = GetProgram(BinaryPrimitives.ReadUInt32LittleEndian(key));
        if (e is null) return Errno.ENOENT;
        BinaryPrimitives.WriteUInt32LittleEndian(value, e.Id);
        return Errno.None;
    }

    protected override Errno DeleteCore(ReadOnlySpan<byte> key)
    {
        uint index = BinaryPrimitives.ReadUInt32LittleEndian(key);
        if (index >= (uint)_slots.Length) return Errno.EINVAL;
        var old = Interlocked.Exchange(ref _slots[index], null);
        if (old is null) return Errno.ENOENT;
        ReleaseEntry(old);
        return Errno.None;
    }

    protected override Errno GetNextKeyCore(ReadOnlySpan<byte> key, Span<byte> nextKey) =>
        FdArrayKeys.Next(key, nextKey, (uint)_slots.Length);
}

internal static class FdArrayKeys
{
    /// <summary>array_map_get_next_key: NULL or out of range → 0; last → ENOENT.</summary>
    public static Errno Next(ReadOnlySpan<byte> key, Span<byte> nextKey, uint max)
    {
        uint next = 0;
        if (!key.IsEmpty)
        {
            uint idx = BinaryPrimitives.ReadUInt32LittleEndian(key);
            if (idx < max)
            {
                if (idx == max - 1) return Errno.ENOENT;
                next = idx + 1;
            }
        }
        BinaryPrimitives.WriteUInt32LittleEndian(nextKey, next);
        return Errno.None;
    }
}
