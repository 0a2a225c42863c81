using Ebpf.Abi;
using Ebpf.Runtime.Maps;
using Ebpf.Runtime.Memory;
using static Ebpf.Tests.Runtime.Maps.MapTestUtil;

namespace Ebpf.Tests.Runtime.Maps;

public unsafe class LruHashTests
{
    [Theory]
    [InlineData(MapType.LruHash, MapFlags.None)]
    [InlineData(MapType.LruPercpuHash, MapFlags.None)]
    [InlineData(MapType.LruHash, MapFlags.NoCommonLru)]
    public void InsertingBeyondCapacityEvictsInsteadOfFailing(MapType type, MapFlags flags)
    {
        using var m = Make<HashMap>(type, 4, 4, 4, flags);
        var v = new byte[m.HostValueSize];
        for (uint i = 0; i < 100; i++)
        {
            Assert.Equal(Errno.None, m.UpdateElem(U32(i), v));
            Assert.True(m.Count <= (int)m.MaxEntries);
        }
        // One inserting CPU: with per-CPU lists (BPF_F_NO_COMMON_LRU) only that CPU's share of the map is used.
        int expected = (flags & MapFlags.NoCommonLru) != 0 ? (int)(m.MaxEntries / (uint)BpfCpu.PossibleCount) : (int)m.MaxEntries;
        Assert.Equal(expected, m.Keys().Count);
        Assert.True(m.TryLookup(U32(99), v)); // the newest survives
    }

    [Fact]
    public void RecentlyLookedUpKeySurvivesEviction()
    {
        using var m = Make<HashMap>(MapType.LruHash, 4, 4, 8);
        for (uint i = 0; i < 8; i++) m.Update(U32(i), U32(i));
        uint hot = 0;
        for (uint i = 100; i < 140; i++)
        {
            EpochManager.Enter();
            try { Assert.True(m.ProgramLookup((byte*)&hot, 0) != null); } // sets the ref bit
            finally { EpochManager.Exit(); }
            m.Update(U32(i), U32(i));
        }
        Assert.True(m.TryLookup(U32(0), new byte[4]));
        Assert.False(m.TryLookup(U32(1), new byte[4]));
        Assert.Equal(8, m.Count);
    }

    [Fact]
    public void DeleteFreesASlot()
    {
        using var m = Make<HashMap>(MapType.LruHash, 4, 4, 2);
        m.Update(U32(1), U32(1));
        m.Update(U32(2), U32(2));
        m.Delete(U32(1));
        m.Update(U32(3), U32(3));
        Assert.True(m.TryLookup(U32(2), new byte[4])); // no eviction was needed
        Assert.True(m.TryLookup(U32(3), new byte[4]));
    }
}
