namespace Ebpf.Runtime.Maps;

/// <summary>
/// The values programs hold as map pointers (the kernel's <c>struct bpf_map *</c> of an lddw, an inner map
/// returned by a map-in-map lookup). A register is program-controlled, so its value is never turned into an
/// object directly: it is a handle into this table, and every conversion validates it (tag, slot, generation),
/// answering null for anything that is not a live entry. A stale handle (its map freed, the slot reused)
/// fails the generation check instead of reaching another map.
/// </summary>
/// <remarks>
/// Layout of a handle: bits 63–48 <see cref="Tag"/>, bits 47–24 the slot's generation, bits 23–0 the slot.
/// The tag makes every handle a non-canonical x86-64 address, so it can never alias real memory either.
/// Slots live in fixed-size chunks that are never moved or shrunk: a lookup racing with a registration
/// reads either the old or the new entry, both of them whole objects.
/// </remarks>
internal static class MapHandleTable
{
    public const ulong Tag = 0xB9F0UL << 48;
    private const ulong TagMask = 0xFFFFUL << 48;
    private const int SlotBits = 24;
    private const int GenerationBits = 24;
    private const uint GenerationMask = (1u << GenerationBits) - 1;
    private const int ChunkBits = 10;
    private const int ChunkSize = 1 << ChunkBits;
    private const int MaxSlots = 1 << SlotBits;

    /// <summary>One slot's state; replaced whole, so a reader never sees a target with another entry's generation.</summary>
    private sealed record Entry(object? Target, uint Generation);

    private static readonly Entry?[]?[] Chunks = new Entry?[]?[MaxSlots / ChunkSize];
    private static readonly Stack<int> FreeSlots = new();
    private static readonly object WriteLock = new();
    private static int _nextSlot;

    /// <summary>Number of live entries (tests check that released maps give theirs back).</summary>
    public static int LiveCount { get; private set; }

    /// <summary>A new handle for <paramref name="target"/> (a MapObject or a map's storage).</summary>
    public static ulong Add(object target)
    {
        ArgumentNullException.ThrowIfNull(target);
        lock (WriteLock)
        {
            int slot;
            if (!FreeSlots.TryPop(out slot))
            {
                if (_nextSlot >= MaxSlots)
                    throw new BpfException(Errno.ENOMEM, $"map handle table is full ({MaxSlots} live map pointers)");
                slot = _nextSlot++;
            }
            var chunk = Chunks[slot >> ChunkBits] ??= new Entry?[ChunkSize];
            // A reused slot gets the next generation, so handles of its previous tenant stay dead.
            uint generation = ((chunk[slot & (ChunkSize - 1)]?.Generation ?? 0) + 1) & GenerationMask;
            Volatile.Write(ref chunk[slot & (ChunkSize - 1)], new Entry(target, generation));
            LiveCount++;
            return Tag | (ulong)generation << SlotBits | (uint)slot;
        }
    }

    /// <summary>The object behind <paramref name="handle"/>, or null when it is not a live handle of this table.</summary>
    public static object? Find(ulong handle)
    {
        if ((handle & TagMask) != Tag)
            return null;
        int slot = (int)(handle & (MaxSlots - 1));
        uint generation = (uint)(handle >> SlotBits) & GenerationMask;
        var chunk = Volatile.Read(ref Chunks[slot >> ChunkBits]);
        if (chunk is null)
            return null;
        var entry = Volatile.Read(ref chunk[slot & (ChunkSize - 1)]);
        return entry is not null && entry.Generation == generation ? entry.Target : null;
    }

    /// <summary>Ends <paramref name="handle"/>: later lookups of it answer null. Unknown or stale handles are ignored.</summary>
    public static void Remove(ulong handle)
    {
        if ((handle & TagMask) != Tag)
            return;
        int slot = (int)(handle & (MaxSlots - 1));
        uint generation = (uint)(handle >> SlotBits) & GenerationMask;
        lock (WriteLock)
        {
            var chunk = Chunks[slot >> ChunkBits];
            if (chunk?[slot & (ChunkSize - 1)] is not { Target: not null } entry || entry.Generation != generation)
                return;
            Volatile.Write(ref chunk[slot & (ChunkSize - 1)], new Entry(null, generation));
            FreeSlots.Push(slot);
            LiveCount--;
        }
    }
}
