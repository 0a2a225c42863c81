using Ebpf.Abi;

namespace Ebpf.Runtime.Objects;

/// <summary>
/// The slots of a prog array: each non-empty slot owns one reference on its program (§1.3,
/// "PROG_ARRAY slot → program"). Reads are lock-free (a tail call reads one slot); writes swap
/// the slot atomically and drop the old program's reference after the swap.
/// </summary>
public sealed class ProgramArraySlots
{
    private readonly MapObject _owner;
    private readonly ProgramObject?[] _slots;
    private ProgramType? _ownerType; // the first program stored fixes the type (bpf_prog_map_compatible)

    internal ProgramArraySlots(MapObject owner, uint maxEntries)
    {
        _owner = owner;
        _slots = new ProgramObject?[maxEntries];
    }

    public int Length => _slots.Length;

    /// <summary>The program in a slot, or null (tail_call falls through on null).</summary>
    public ProgramObject? Get(uint index) => index < (uint)_slots.Length ? Volatile.Read(ref _slots[index]) : null;

    /// <summary>Stores a program (taking a reference). E2BIG out of range; EINVAL on a type mismatch.</summary>
    public void Set(uint index, ProgramObject program)
    {
        if (index >= (uint)_slots.Length)
            throw new BpfException(Errno.E2BIG, $"prog array {_owner.Id}: index {index} >= max_entries {_slots.Length}");
        lock (_slots)
        {
            if (_ownerType is { } type && type != program.Type)
                throw new BpfException(Errno.EINVAL, $"prog array {_owner.Id} holds {type} programs; program {program.Id} is {program.Type}");
            _ownerType ??= program.Type;
        }
        program.Acquire();
        var old = Interlocked.Exchange(ref _slots[index], program);
        old?.Release();
    }

    /// <summary>Clears a slot: ENOENT when it is already empty (fd_array delete), E2BIG out of range.</summary>
    public void Delete(uint index)
    {
        if (index >= (uint)_slots.Length)
            throw new BpfException(Errno.E2BIG, $"prog array {_owner.Id}: index {index} >= max_entries {_slots.Length}");
        var old = Interlocked.Exchange(ref _slots[index], null);
        if (old is null)
            throw new BpfException(Errno.ENOENT, $"prog array {_owner.Id}: slot {index} is empty");
        old.Release();
    }

    /// <summary>Empties every slot (user references gone, or the map freed).</summary>
    public void Clear()
    {
        for (int i = 0; i < _slots.Length; i++)
            Interlocked.Exchange(ref _slots[i], null)?.Release();
    }

    /// <summary>Ids stored per slot (0 = empty), for dumps.</summary>
    public uint[] SnapshotIds()
    {
        var ids = new uint[_slots.Length];
        for (int i = 0; i < ids.Length; i++)
            ids[i] = Volatile.Read(ref _slots[i])?.Id ?? 0;
        return ids;
    }
}
