using Ebpf.Abi;
using Ebpf.Runtime.Maps;

namespace Ebpf.Runtime.Objects;

/// <summary>
/// The typed, program-object view of a prog array's storage (<see cref="ProgArrayMap"/>, the one
/// implementation): each non-empty slot owns one reference on its program (§1.3, "PROG_ARRAY slot →
/// program"). Reads are lock-free (a tail call reads one slot); writes swap the slot atomically and
/// drop the old program's reference after the swap. Programs whose reference drops to zero lose
/// their id at once; their memory (maps, global data) is reclaimed through the epoch, so a tail
/// call already running in them finishes safely, as under the kernel's RCU.
/// </summary>
public sealed class ProgramArraySlots
{
    private readonly MapObject _owner;

    internal ProgramArraySlots(MapObject owner, ProgArrayMap storage)
    {
        _owner = owner;
        Storage = storage;
    }

    /// <summary>The map storage behind this view.</summary>
    public ProgArrayMap Storage { get; }

    /// <summary>The number of slots (the map's max_entries).</summary>
    public int Length => Storage.Length;

    /// <summary>The program in a slot, or null (tail_call falls through on null).</summary>
    public ProgramObject? Get(uint index) => Storage.GetProgram(index)?.Program as ProgramObject;

    /// <summary>Stores a program (taking a reference). E2BIG out of range; EINVAL when it does not match the array's owner; EPERM when frozen.</summary>
    public void Set(uint index, ProgramObject program)
    {
        if (!program.TryAcquire())
            throw new BpfException(Errno.EBADF, $"prog array {_owner.Id}: program {program.Id} is being freed");
        try
        {
            Storage.SetProgram(index, Entry(program)); // owns the reference, also on failure
        }
        catch (BpfException e)
        {
            throw new BpfException(e.Errno, e.Errno switch
            {
                Errno.E2BIG => $"prog array {_owner.Id}: index {index} >= max_entries {Length}",
                Errno.EBUSY => $"prog array {_owner.Id}: program {program.Id} ({program.Name}) is extended by a freplace program",
                Errno.EINVAL => $"prog array {_owner.Id} holds {Storage.Owner} programs; program {program.Id} is {Traits(program)} (the program type must match)",
                _ => $"prog array {_owner.Id}: update of slot {index}: {e.Message}",
            });
        }
    }

    /// <summary>Clears a slot: ENOENT when it is already empty, E2BIG out of range (fd_array_map_delete_elem).</summary>
    public void Delete(uint index)
    {
        try
        {
            Storage.DeleteProgram(index);
        }
        catch (BpfException e)
        {
            throw new BpfException(e.Errno, e.Errno == Errno.ENOENT
                ? $"prog array {_owner.Id}: slot {index} is empty"
                : $"prog array {_owner.Id}: delete of slot {index}: {e.Message}");
        }
    }

    /// <summary>Empties every slot (user references gone, or the map freed).</summary>
    public void Clear() => Storage.Clear();

    /// <summary>Ids stored per slot (0 = empty), for dumps.</summary>
    public uint[] SnapshotIds() => Storage.SnapshotIds();

    /// <summary>What bpf_prog_map_compatible compares (the runtime never JITs; frags from BPF_F_XDP_HAS_FRAGS).</summary>
    internal static ProgArrayOwner Traits(ProgramObject p) =>
        new(p.ResolvedType, p.VerifiedAttachType, Jited: false, XdpHasFrags: (p.Definition.Flags & (uint)Loading.ProgramLoadFlags.XdpHasFrags) != 0);

    /// <summary>The slot entry for a program whose reference the caller has taken.</summary>
    internal static ProgArrayEntry Entry(ProgramObject p) => new(p.Id, p) { Traits = Traits(p) };

    /// <summary>Drops the reference a slot entry held.</summary>
    internal static void ReleaseEntry(ProgArrayEntry e)
    {
        var program = (ProgramObject)e.Program;
        if (e.Admitted)
            program.LeaveProgramArray();
        program.Release();
    }

    /// <summary>prog_fd_array_get_ptr (6.12+): a program an extension replaces cannot become a member (EBUSY).</summary>
    internal static Errno Admit(ProgArrayEntry e)
    {
        if (!((ProgramObject)e.Program).TryJoinProgramArray())
            return Errno.EBUSY;
        e.Admitted = true;
        return Errno.None;
    }
}
