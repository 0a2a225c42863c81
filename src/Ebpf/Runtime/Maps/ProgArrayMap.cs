using Ebpf.Collections;
using System.Buffers.Binary;
using Ebpf.Abi;

namespace Ebpf.Runtime.Maps;

/// <summary>
/// What a prog-array slot records about its program for bpf_prog_map_compatible: the owner of the
/// map is the first program stored or loaded against it, and every later one must match it.
/// </summary>
internal readonly record struct ProgArrayOwner(ProgramType Type, AttachType ExpectedAttachType, bool Jited = false, bool XdpHasFrags = false);

/// <summary>A program stored in a prog_array slot: its id, the runtime's program object and its owner-relevant traits.</summary>
internal sealed record ProgArrayEntry(uint Id, object Program)
{
    public ProgArrayOwner Traits { get; init; }

    /// <summary>Set once <see cref="ProgArrayMap.Admit"/> counted the program as a member (undone when the entry is dropped).</summary>
    public bool Admitted { get; set; }
}

/// <summary>
/// BPF_MAP_TYPE_PROG_ARRAY — the only implementation: the runtime's <c>MapObject.ProgramSlots</c>
/// is a typed view of this class, and bpf_tail_call reads <see cref="GetProgram"/>.
/// <list type="bullet">
/// <item>Slots hold one reference each. The host update path resolves the u32 value through
/// <see cref="Resolver"/>, which returns an entry whose reference the map then owns (null → EBADF);
/// whenever an entry leaves a slot (overwrite, delete, clear, free) or a store fails,
/// <see cref="EntryReleased"/> drops that reference — synchronously, as prog_fd_array_put_ptr
/// does; whatever the program's memory is, it is reclaimed through the epoch.</item>
/// <item>Owner (bpf_prog_map_compatible, 6.18): type, jited, xdp_has_frags and expected_attach_type
/// of the first program stored or checked with <see cref="CheckCompatible"/>; a mismatch → EINVAL.</item>
/// <item>Update flags must be BPF_ANY (EINVAL); index ≥ max_entries → E2BIG; frozen → EPERM.
/// Lookup returns the program id (ENOENT when empty). Delete: out of range → E2BIG, empty → ENOENT [6.18 observed].</item>
/// <item>Slot writes are single atomic exchanges, so a concurrent tail call sees the old or the new
/// program, never anything else.</item>
/// <item>When the last user reference goes the array is cleared (the kernel's map_release_uref),
/// which breaks prog → map → prog cycles.</item>
/// </list>
/// </summary>
public sealed class ProgArrayMap : BpfMapBase, IProgramHoldingMap
{
    private readonly ProgArrayEntry?[] _slots;

    internal ProgArrayMap(MapDefinition a) : base(a, a.MaxEntries) => _slots = new ProgArrayEntry?[a.MaxEntries];

    /// <summary>Maps the u32 value of a host update (an fd or id) to a program, taking a reference the map then owns; null → EBADF.</summary>
    internal Func<uint, ProgArrayEntry?>? Resolver { get; set; }

    /// <summary>Raised for every entry whose reference the map drops (overwrite, delete, clear, free, failed store).</summary>
    internal event Action<ProgArrayEntry>? EntryReleased;

    /// <summary>prog_fd_array_get_ptr's membership step: counts the entry's program as a member, or refuses it.</summary>
    internal Func<ProgArrayEntry, Errno>? Admit { get; set; }

    /// <summary>The owner traits fixed by the first compatible program, or null while none has been seen.</summary>
    internal ProgArrayOwner? Owner => ProgramOwner.Current;

    /// <summary>The owner record (expected_attach_type is part of it for prog arrays).</summary>
    internal MapProgramOwner ProgramOwner { get; } = new(compareAttachType: true);
    MapProgramOwner IProgramHoldingMap.ProgramOwner => ProgramOwner;

    /// <summary>Slot count (max_entries).</summary>
    internal int Length => _slots.Length;

    /// <summary>The tail-call target at <paramref name="index"/>, or null (out of range or empty): the interpreter's JMP_TAIL_CALL lookup.</summary>
    internal ProgArrayEntry? GetProgram(uint index) => index < (uint)_slots.Length ? Volatile.Read(ref _slots[index]) : null;

    /// <summary>
    /// bpf_prog_map_compatible: the first caller becomes the owner; later ones must match it
    /// (EINVAL otherwise). Used for stores and when a program that uses this map is loaded.
    /// </summary>
    internal Errno CheckCompatible(ProgArrayOwner traits) => ProgramOwner.Check(traits);

    /// <summary>Stores a program (the typed BPF_MAP_UPDATE_ELEM). The map owns <paramref name="entry"/>'s reference from here on, also on failure.</summary>
    internal void SetProgram(uint index, ProgArrayEntry entry) => Check(Set(index, entry), "update");

    /// <summary>Clears a slot (the typed BPF_MAP_DELETE_ELEM): E2BIG out of range, ENOENT when empty.</summary>
    internal void DeleteProgram(uint index) => Check(Remove(index), "delete");

    private Errno Set(uint index, ProgArrayEntry entry)
    {
        Errno e = IsFrozen || (Flags & MapFlags.Rdonly) != 0 ? Errno.EPERM
            : index >= (uint)_slots.Length ? Errno.E2BIG
            : CheckCompatible(entry.Traits);
        if (e == Errno.None && Admit is { } admit)
            e = admit(entry); // an extended program cannot enter a prog array (EBUSY)
        if (e != Errno.None)
        {
            Drop(entry);
            return e;
        }
        var old = Interlocked.Exchange(ref _slots[index], entry);
        if (old is not null) Drop(old);
        return Errno.None;
    }

    private Errno Remove(uint index)
    {
        if (IsFrozen || (Flags & MapFlags.Rdonly) != 0) return Errno.EPERM;
        if (index >= (uint)_slots.Length) return Errno.E2BIG; // fd_array_map_delete_elem [6.18 observed]
        var old = Interlocked.Exchange(ref _slots[index], null);
        if (old is null) return Errno.ENOENT;
        Drop(old);
        return Errno.None;
    }

    private void Drop(ProgArrayEntry e) => EntryReleased?.Invoke(e);

    /// <summary>Empties every slot (prog_array_map_clear).</summary>
    internal void Clear()
    {
        for (int i = 0; i < _slots.Length; i++)
        {
            var old = Interlocked.Exchange(ref _slots[i], null);
            if (old is not null) Drop(old);
        }
    }

    /// <summary>Ids stored per slot (0 = empty), for dumps.</summary>
    internal uint[] SnapshotIds()
    {
        var ids = new uint[_slots.Length];
        for (int i = 0; i < ids.Length; i++)
            ids[i] = Volatile.Read(ref _slots[i])?.Id ?? 0;
        return ids;
    }

    /// <summary>The runtime's usercnt reached zero (it keeps the user count itself).</summary>
    internal void ReleaseUserReferences() => Clear();

    private protected override void OnUserRefsReleased() => Clear();
    private protected override void FreeNative() => Clear();

    private protected override Errno UpdateCore(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, MapUpdateFlags flags)
    {
        if (flags != MapUpdateFlags.Any) return Errno.EINVAL;
        uint index = BinaryPrimitives.ReadUInt32LittleEndian(key);
        if (index >= (uint)_slots.Length) return Errno.E2BIG;
        var entry = Resolver?.Invoke(BinaryPrimitives.ReadUInt32LittleEndian(value));
        if (entry is null) return Errno.EBADF;
        return Set(index, entry);
    }

    private protected override Errno LookupCore(ReadOnlySpan<byte> key, Span<byte> value, MapUpdateFlags flags)
    {
        var e = GetProgram(BinaryPrimitives.ReadUInt32LittleEndian(key));
        if (e is null) return Errno.ENOENT;
        BinaryPrimitives.WriteUInt32LittleEndian(value, e.Id);
        return Errno.None;
    }

    private protected override Errno DeleteCore(ReadOnlySpan<byte> key) => Remove(BinaryPrimitives.ReadUInt32LittleEndian(key));

    private protected override Errno GetNextKeyCore(ReadOnlySpan<byte> key, Span<byte> nextKey) =>
        FdArrayKeys.Next(key, nextKey, (uint)_slots.Length);
}

internal static class FdArrayKeys
{
    /// <summary>array_map_get_next_key: NULL or out of range → 0; last → ENOENT.</summary>
    internal static Errno Next(ReadOnlySpan<byte> key, Span<byte> nextKey, uint max)
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
