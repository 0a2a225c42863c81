using Ebpf.Abi;
using Ebpf.Linux;
using static Ebpf.Tests.Linux.KernelRequirement;

namespace Ebpf.Tests.Linux;

public class MapTests
{
    private static KernelMap Hash(uint maxEntries = 4, MapFlags flags = MapFlags.None, MapType type = MapType.Hash) =>
        KernelMap.Create(new MapCreateAttributes { Type = type, KeySize = 4, ValueSize = 8, MaxEntries = maxEntries, Flags = flags, Name = "test_hash" });

    [Fact]
    public void HashUpdateLookupDeleteAndErrnos()
    {
        Require();
        using var map = Hash();
        map.Update(U32(1), U64(100));
        Assert.Equal(U64(100), map.Lookup(U32(1)));

        var exists = Assert.Throws<BpfException>(() => map.Update(U32(1), U64(5), MapUpdateFlags.NoExist));
        Assert.Equal(Errno.EEXIST, exists.Errno);
        Assert.Equal("BPF_MAP_UPDATE_ELEM test_hash: File exists", exists.Message);

        var missing = Assert.Throws<BpfException>(() => map.Update(U32(2), U64(5), MapUpdateFlags.Exist));
        Assert.Equal(Errno.ENOENT, missing.Errno);

        map.Update(U32(1), U64(101), MapUpdateFlags.Exist);
        Assert.Equal(U64(101), map.Lookup(U32(1)));

        Assert.False(map.TryLookup(U32(9), new byte[8]));
        Assert.Equal(Errno.ENOENT, Assert.Throws<BpfException>(() => map.Lookup(U32(9))).Errno);
        Assert.True(map.Delete(U32(1)));
        Assert.False(map.Delete(U32(1)));

        var badFlags = Assert.Throws<BpfException>(() => map.Update(U32(3), U64(0), (MapUpdateFlags)8));
        Assert.Equal(Errno.EINVAL, badFlags.Errno);
    }

    [Fact]
    public void HashFullIsE2bigButUpdatingExistingKeySucceeds()
    {
        Require();
        using var map = Hash(maxEntries: 2);
        map.Update(U32(1), U64(1));
        map.Update(U32(2), U64(2));
        var full = Assert.Throws<BpfException>(() => map.Update(U32(3), U64(3)));
        Assert.Equal(Errno.E2BIG, full.Errno);
        map.Update(U32(2), U64(22));
        Assert.Equal(U64(22), map.Lookup(U32(2)));
    }

    [Fact]
    public void LruHashEvictsInsteadOfFailing()
    {
        Require();
        using var map = Hash(maxEntries: 4, type: MapType.LruHash);
        for (uint i = 0; i < 100; i++)
            map.Update(U32(i), U64(i));
        int count = map.Keys().Count();
        Assert.InRange(count, 1, 4);
    }

    [Fact]
    public void HashGetNextKeyWalksEveryKeyAndMissingKeyRestarts()
    {
        Require();
        using var map = Hash(maxEntries: 8);
        for (uint i = 10; i < 15; i++)
            map.Update(U32(i), U64(i * 2));
        var keys = map.Keys().Select(k => BitConverter.ToUInt32(k)).Order().ToArray();
        Assert.Equal(new uint[] { 10, 11, 12, 13, 14 }, keys);

        // A missing key returns the first key (htab_map_get_next_key → find_first_elem), not ENOENT.
        var first = new byte[4];
        Assert.True(map.TryGetNextKey([], first));
        var fromMissing = new byte[4];
        Assert.True(map.TryGetNextKey(U32(999), fromMissing));
        Assert.Equal(first, fromMissing);
    }

    [Fact]
    public void ArraySemantics()
    {
        Require();
        using var map = KernelMap.Create(new MapCreateAttributes { Type = MapType.Array, KeySize = 4, ValueSize = 4, MaxEntries = 3, Name = "arr" });
        Assert.Equal(new byte[4], map.Lookup(U32(2)));
        map.Update(U32(2), U32(7));
        Assert.Equal(U32(7), map.Lookup(U32(2)));
        Assert.Equal(Errno.E2BIG, Assert.Throws<BpfException>(() => map.Update(U32(3), U32(1))).Errno);
        Assert.Equal(Errno.EEXIST, Assert.Throws<BpfException>(() => map.Update(U32(0), U32(1), MapUpdateFlags.NoExist)).Errno);
        Assert.False(map.TryLookup(U32(3), new byte[4]));
        var delete = Assert.Throws<BpfException>(() => map.Delete(U32(0)));
        Assert.Equal(Errno.EINVAL, delete.Errno);
        Assert.Equal("BPF_MAP_DELETE_ELEM arr: Invalid argument", delete.Message);

        var next = new byte[4];
        Assert.True(map.TryGetNextKey(U32(99), next));
        Assert.Equal(U32(0), next);
        Assert.False(map.TryGetNextKey(U32(2), next));
    }

    [Fact]
    public void QueuePushPeekPop()
    {
        Require();
        using var queue = KernelMap.Create(new MapCreateAttributes { Type = MapType.Queue, KeySize = 0, ValueSize = 4, MaxEntries = 2, Name = "q" });
        queue.Update([], U32(1));
        queue.Update([], U32(2));
        Assert.Equal(Errno.E2BIG, Assert.Throws<BpfException>(() => queue.Update([], U32(3))).Errno);
        queue.Update([], U32(3), MapUpdateFlags.Exist); // overwrite the oldest
        Assert.Equal(U32(2), queue.Lookup([]));           // peek
        var value = new byte[4];
        Assert.True(queue.TryLookupAndDelete([], value));
        Assert.Equal(U32(2), value);
        Assert.True(queue.TryLookupAndDelete([], value));
        Assert.Equal(U32(3), value);
        Assert.False(queue.TryLookupAndDelete([], value));
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => queue.Delete([])).Errno);
    }

    [Fact]
    public void HashLookupAndDelete()
    {
        Require();
        using var map = Hash();
        map.Update(U32(5), U64(55));
        var value = new byte[8];
        Assert.True(map.TryLookupAndDelete(U32(5), value));
        Assert.Equal(U64(55), value);
        Assert.False(map.TryLookup(U32(5), value));
        Assert.False(map.TryLookupAndDelete(U32(5), value));
    }

    [Fact]
    public void PerCpuArrayValueHasOneSlotPerPossibleCpu()
    {
        Require();
        using var map = KernelMap.Create(new MapCreateAttributes { Type = MapType.PercpuArray, KeySize = 4, ValueSize = 12, MaxEntries = 1, Name = "pcpu" });
        int slot = 16;
        Assert.Equal(slot * PossibleCpus.Count, map.ValueBufferSize);
        var value = new byte[map.ValueBufferSize];
        for (int i = 0; i < value.Length; i++)
            value[i] = (byte)(i + 1);
        map.Update(U32(0), value);
        // The kernel copies whole rounded slots, padding included (program-types.md §4.5).
        Assert.Equal(value, map.Lookup(U32(0)));
        Assert.Throws<BpfException>(() => map.Update(U32(0), new byte[12]));
    }

    [Fact]
    public void FreezeBlocksUserSpaceWrites()
    {
        Require();
        using var map = KernelMap.Create(new MapCreateAttributes { Type = MapType.Array, KeySize = 4, ValueSize = 4, MaxEntries = 1, Name = "frozen" });
        map.Update(U32(0), U32(42));
        map.Freeze();
        var e = Assert.Throws<BpfException>(() => map.Update(U32(0), U32(1)));
        Assert.Equal(Errno.EPERM, e.Errno);
        Assert.Equal(U32(42), map.Lookup(U32(0)));
        // A second freeze: the frozen map's fd no longer has write permission, checked before "already frozen".
        Assert.Equal(Errno.EPERM, Assert.Throws<BpfException>(map.Freeze).Errno);
    }

    [Fact]
    public void BatchUpdateLookupDelete()
    {
        Require();
        using var map = Hash(maxEntries: 64);
        const int n = 40;
        var keys = new byte[n * 4];
        var values = new byte[n * 8];
        for (int i = 0; i < n; i++)
        {
            BitConverter.TryWriteBytes(keys.AsSpan(i * 4), (uint)i);
            BitConverter.TryWriteBytes(values.AsSpan(i * 8), (ulong)i * 3);
        }
        Assert.Equal(n, map.UpdateBatch(keys, values));

        var dumped = map.DumpBatched(chunk: 7);
        Assert.Equal(n, dumped.Count);
        foreach (var (k, v) in dumped)
            Assert.Equal(BitConverter.ToUInt32(k) * 3ul, BitConverter.ToUInt64(v));

        Assert.Equal(10, map.DeleteBatch(keys.AsSpan(0, 10 * 4)));
        Assert.Equal(n - 10, map.Keys().Count());
        var again = Assert.Throws<BpfBatchException>(() => map.DeleteBatch(keys.AsSpan(0, 4)));
        Assert.Equal(Errno.ENOENT, again.Errno);
        Assert.Equal(0u, again.Processed);

        // LOOKUP_AND_DELETE_BATCH drains the map.
        var cursorOut = new byte[map.BatchCursorSize];
        var outKeys = new byte[64 * 4];
        var outValues = new byte[64 * 8];
        int got = map.LookupBatch(default, cursorOut, outKeys, outValues, out bool done, delete: true);
        Assert.Equal(n - 10, got);
        Assert.True(done);
        Assert.Empty(map.Keys());
    }

    [Fact]
    public void BatchUpdateStopsWhenTheHashIsFull()
    {
        Require();
        using var map = Hash(maxEntries: 2);
        var keys = new byte[4 * 4];
        for (int i = 0; i < 4; i++)
            BitConverter.TryWriteBytes(keys.AsSpan(i * 4), (uint)i);
        var e = Assert.Throws<BpfBatchException>(() => map.UpdateBatch(keys, new byte[4 * 8]));
        Assert.Equal(Errno.E2BIG, e.Errno);
        Assert.Equal(2u, e.Processed);
        Assert.Equal(2, map.Keys().Count());
    }

    [Fact]
    public void BatchUpdateRejectsElementFlagsOtherThanLock()
    {
        Require();
        using var map = Hash(maxEntries: 8);
        var e = Assert.Throws<BpfBatchException>(() => map.UpdateBatch(U32(1), new byte[8], MapUpdateFlags.NoExist));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Empty(map.Keys());
    }

    [Fact]
    public void MapInfoAndMapInMap()
    {
        Require();
        using var inner = KernelMap.Create(new MapCreateAttributes { Type = MapType.Array, KeySize = 4, ValueSize = 4, MaxEntries = 1, Name = "inner" });
        using var outer = KernelMap.Create(new MapCreateAttributes { Type = MapType.ArrayOfMaps, KeySize = 4, ValueSize = 4, MaxEntries = 2, InnerMap = inner, Name = "outer" });
        outer.UpdateWithMap(U32(1), inner);
        uint innerId = inner.GetInfo().Id;
        // User space reads back the inner map's id, not an fd.
        Assert.Equal(U32(innerId), outer.Lookup(U32(1)));
        var info = outer.GetInfo();
        Assert.Equal(MapType.ArrayOfMaps, info.Type);
        Assert.Equal("outer", info.Name);
        Assert.Equal(2u, info.MaxEntries);
    }

    [Fact]
    public void BadCreateIsEinvalNamingTheMap()
    {
        Require();
        var e = Assert.Throws<BpfException>(() => KernelMap.Create(new MapCreateAttributes { Type = MapType.Array, KeySize = 8, ValueSize = 4, MaxEntries = 1, Name = "bad_array" }));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Equal("BPF_MAP_CREATE bad_array: Invalid argument", e.Message);
    }

    [Fact]
    public void WrongKeyOrValueSizeIsRejectedBeforeTheSyscall()
    {
        Require();
        using var map = Hash();
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => map.Update(U32(1), new byte[4])).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => map.Lookup(new byte[3])).Errno);
    }
}
