using Ebpf.Abi;
using Ebpf.Runtime.Maps;
using Ebpf.Runtime.Memory;
using static Ebpf.Tests.Runtime.Maps.MapTestUtil;

namespace Ebpf.Tests.Runtime.Maps;

public unsafe class FdMapTests
{
    [Fact]
    public void ProgArrayStoresIdsAndClearsWhenUserRefsDrop()
    {
        var m = Make<ProgArrayMap>(MapType.ProgArray, 4, 4, 4);
        var progs = new Dictionary<uint, ProgArrayEntry> { [7] = new(7, "prog7"), [8] = new(8, "prog8") };
        m.Resolver = id => progs.GetValueOrDefault(id);
        var released = new List<uint>();
        m.EntryReleased += e => { lock (released) released.Add(e.Id); };
        Assert.Equal(Errno.EBADF, m.UpdateElem(U32(0), U32(99)));
        Assert.Equal(Errno.E2BIG, m.UpdateElem(U32(4), U32(7)));
        Assert.Equal(Errno.EINVAL, m.UpdateElem(U32(0), U32(7), MapUpdateFlags.NoExist));
        m.Update(U32(0), U32(7));
        m.Update(U32(1), U32(8));
        var v = new byte[4];
        m.Lookup(U32(1), v);
        Assert.Equal(8u, BitConverter.ToUInt32(v));
        Assert.Equal("prog7", m.GetProgram(0)!.Program);
        Assert.Null(m.GetProgram(2));
        Assert.Null(m.GetProgram(100));
        Assert.Equal(Errno.ENOENT, m.LookupElem(U32(2), v));
        Assert.Equal(Errno.ENOENT, m.DeleteElem(U32(2)));
        Assert.Equal(Errno.E2BIG, m.DeleteElem(U32(9))); // fd_array_map_delete_elem [6.18 observed]

        m.AddRef();              // a program that uses the map
        m.ReleaseUserRef();      // the last handle closes
        Assert.Null(m.GetProgram(0));
        Assert.Null(m.GetProgram(1));
        Assert.False(m.IsFreed);
        EpochManager.Synchronize();
        lock (released) Assert.Equal(new uint[] { 7, 8 }, released.Order());
        m.Release();             // the program goes away
        Assert.True(m.IsFreed);
    }

    [Fact]
    public void ArrayOfMapsChecksTheTemplateAndHoldsReferences()
    {
        using var template = Make<ArrayMap>(MapType.Array, 4, 8, 16);
        var outer = BpfMapFactory.Create<MapInMap>(new MapDefinition
            { Type = MapType.ArrayOfMaps, KeySize = 4, ValueSize = 4, MaxEntries = 4, InnerTemplate = template });
        var good = Make<ArrayMap>(MapType.Array, 4, 8, 16);
        good.Id = 31;
        using var wrongSize = Make<ArrayMap>(MapType.Array, 4, 8, 17);
        using var wrongType = Make<HashMap>(MapType.Hash, 4, 8, 16);
        Assert.Equal(Errno.EINVAL, outer.CheckCompatible(wrongSize));
        Assert.Equal(Errno.EINVAL, outer.CheckCompatible(wrongType));
        outer.SetInner(U32(1), good);
        Assert.Equal(2, good.RefCount);
        var v = new byte[4];
        outer.Lookup(U32(1), v);
        Assert.Equal(31u, BitConverter.ToUInt32(v));
        uint k = 1;
        EpochManager.Enter();
        try { Assert.Same(good, BpfMapBase.FromNativeHandle((nint)outer.ProgramLookup((byte*)&k, 0))); }
        finally { EpochManager.Exit(); }
        outer.Delete(U32(1));
        EpochManager.Synchronize();
        Assert.Equal(1, good.RefCount);
        outer.SetInner(U32(2), good);
        good.Dispose();          // the creator's handle
        Assert.False(good.IsFreed);
        outer.Dispose();
        EpochManager.Synchronize();
        Assert.True(good.IsFreed);
    }

    [Fact]
    public void InnerMapFlagRelaxesMaxEntries()
    {
        using var template = BpfMapFactory.Create<ArrayMap>(new MapDefinition
            { Type = MapType.Array, KeySize = 4, ValueSize = 4, MaxEntries = 1, Flags = MapFlags.InnerMap });
        using var outer = BpfMapFactory.Create<MapInMap>(new MapDefinition
            { Type = MapType.HashOfMaps, KeySize = 8, ValueSize = 4, MaxEntries = 4, InnerTemplate = template });
        using var big = BpfMapFactory.Create<ArrayMap>(new MapDefinition
            { Type = MapType.Array, KeySize = 4, ValueSize = 4, MaxEntries = 100, Flags = MapFlags.InnerMap });
        outer.SetInner(U64(5), big);
        Assert.Same(big, outer.GetInner(U64(5)));
        Assert.Null(outer.GetInner(U64(6)));
        Assert.Equal(Errno.EEXIST, ErrnoOf(() => outer.SetInner(U64(5), big, MapUpdateFlags.NoExist)));
        Assert.Single(outer.Keys());
    }

    [Fact]
    public void PerfEventArrayOutputAndConsumer()
    {
        using var m = Make<PerfEventArrayMap>(MapType.PerfEventArray, 4, 4, (uint)BpfCpu.PossibleCount);
        Assert.Equal(-(long)Errno.ENOENT, m.Output(PerfEventArrayMap.CurrentCpu, new byte[4], 0));
        using var reader = new PerfEventReader(m, pageCount: 1);
        Assert.Equal(-(long)Errno.EINVAL, m.Output(1ul << 32, new byte[4], 0));
        Assert.Equal(-(long)Errno.E2BIG, m.Output((ulong)BpfCpu.PossibleCount, new byte[4], 0));
        if (BpfCpu.PossibleCount > 1) Assert.Equal(-(long)Errno.EOPNOTSUPP, m.Output(1, new byte[4], 0));
        Assert.Equal(0, m.Output(PerfEventArrayMap.CurrentCpu, new byte[] { 1, 2, 3 }, 0));
        int ok = 0;
        while (m.Output(0, new byte[100], 0) == 0) ok++;
        Assert.Equal(-(long)Errno.ENOSPC, m.Output(0, new byte[100], 0));
        var samples = new List<(int, int)>();
        ulong lost = 0;
        int n = reader.Consume((cpu, d) => samples.Add((cpu, d.Length)), (cpu, l) => lost += l);
        Assert.Equal(2ul, lost);
        Assert.Equal(ok + 1, samples.Count);
        Assert.Equal((0, 3), samples[0]);
        Assert.Equal(ok + 2, n);
        Assert.Equal(0, reader.Consume((_, _) => { }, null));
        // wraps around correctly
        for (int i = 0; i < 200; i++)
        {
            var data = Enumerable.Range(0, 37).Select(j => (byte)(i + j)).ToArray();
            Assert.Equal(0, m.Output(0, data, 0));
            byte[]? got = null;
            reader.Consume((_, d) => got = d.ToArray());
            Assert.Equal(data, got);
        }
    }
}
