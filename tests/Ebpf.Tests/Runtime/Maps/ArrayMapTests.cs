using Ebpf.Abi;
using Ebpf.Runtime.Maps;
using Ebpf.Runtime.Memory;
using static Ebpf.Tests.Runtime.Maps.MapTestUtil;

namespace Ebpf.Tests.Runtime.Maps;

public unsafe class ArrayMapTests
{
    [Fact]
    public void KernelObservedSemantics()
    {
        using var m = Make<ArrayMap>(MapType.Array, 4, 8, 4);
        var v = new byte[8];
        m.Lookup(U32(3), v);
        Assert.Equal(new byte[8], v); // preallocated zeroes
        Assert.Equal(Errno.ENOENT, m.LookupElem(U32(4), v));
        Assert.Equal(Errno.E2BIG, m.UpdateElem(U32(4), U64(1)));
        Assert.Equal(Errno.EEXIST, m.UpdateElem(U32(0), U64(1), MapUpdateFlags.NoExist));
        Assert.Equal(Errno.None, m.UpdateElem(U32(0), U64(7), MapUpdateFlags.Exist));
        Assert.Equal(Errno.EINVAL, m.UpdateElem(U32(0), U64(7), (MapUpdateFlags)8));
        Assert.Equal(Errno.EINVAL, m.UpdateElem(U32(0), U64(7), MapUpdateFlags.Lock)); // no spin lock
        Assert.Equal(Errno.EINVAL, m.DeleteElem(U32(0)));
        m.Lookup(U32(0), v);
        Assert.Equal(7ul, BitConverter.ToUInt64(v));
    }

    [Fact]
    public void GetNextKeyFollowsArrayRules()
    {
        using var m = Make<ArrayMap>(MapType.Array, 4, 4, 3);
        var next = new byte[4];
        Assert.True(m.GetNextKey(default, next));
        Assert.Equal(0u, BitConverter.ToUInt32(next));
        Assert.True(m.GetNextKey(U32(99), next)); // out of range → 0
        Assert.Equal(0u, BitConverter.ToUInt32(next));
        Assert.True(m.GetNextKey(U32(1), next));
        Assert.Equal(2u, BitConverter.ToUInt32(next));
        Assert.False(m.GetNextKey(U32(2), next));
        Assert.Equal(3, m.Keys().Count);
    }

    [Fact]
    public void ProgramLookupReturnsStablePointerIntoValues()
    {
        using var m = Make<ArrayMap>(MapType.Array, 4, 12, 4);
        uint k = 2;
        EpochManager.Enter();
        try
        {
            byte* p = m.ProgramLookup((byte*)&k, 0);
            Assert.True(p != null);
            *(uint*)p = 0xdeadbeef;
            Assert.True(m.ProgramLookup((byte*)&k, 0) == p);
            k = 4;
            Assert.True(m.ProgramLookup((byte*)&k, 0) == null);
            Assert.Equal(-(long)Errno.E2BIG, m.ProgramUpdate((byte*)&k, p, 0, 0));
            Assert.Equal(-(long)Errno.EINVAL, m.ProgramDelete((byte*)&k, 0));
        }
        finally { EpochManager.Exit(); }
        var v = new byte[12];
        m.Lookup(U32(2), v);
        Assert.Equal(0xdeadbeefu, BitConverter.ToUInt32(v));
    }

    [Fact]
    public void PercpuArrayHostValueHasOneRoundedSlotPerCpu()
    {
        using var m = Make<ArrayMap>(MapType.PercpuArray, 4, 12, 2);
        int n = BpfCpu.PossibleCount;
        Assert.Equal(16 * n, m.HostValueSize);
        var buf = new byte[16 * n];
        for (int c = 0; c < n; c++) BitConverter.GetBytes(100u + (uint)c).CopyTo(buf, c * 16);
        m.Update(U32(1), buf);
        uint k = 1;
        EpochManager.Enter();
        try
        {
            for (int c = 0; c < n; c++)
            {
                Assert.Equal(100u + (uint)c, *(uint*)m.ProgramLookup((byte*)&k, c));
                Assert.Equal(100u + (uint)c, *(uint*)m.ProgramLookupPercpu((byte*)&k, (uint)c));
            }
            Assert.True(m.ProgramLookupPercpu((byte*)&k, (uint)n) == null);
            uint nv = 5;
            Assert.Equal(0, m.ProgramUpdate((byte*)&k, (byte*)&nv, 0, 0)); // only this CPU's slot
        }
        finally { EpochManager.Exit(); }
        var back = new byte[16 * n];
        m.Lookup(U32(1), back);
        Assert.Equal(5u, BitConverter.ToUInt32(back, 0));
        if (n > 1) Assert.Equal(101u, BitConverter.ToUInt32(back, 16));
    }

    [Fact]
    public void MmapableArrayExposesItsMemory()
    {
        using var m = Make<ArrayMap>(MapType.Array, 4, 4, 10, MapFlags.Mmapable);
        Assert.Equal(0, (long)m.Memory % 4096);
        Assert.Equal(4096u, m.MemoryLength);
        m.Update(U32(3), U32(42));
        Assert.Equal(42u, *(uint*)(m.Memory + 3 * m.Stride));
        using var plain = Make<ArrayMap>(MapType.Array, 4, 4, 10);
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => { _ = plain.Memory; }));
    }

    [Fact]
    public void FreezeBlocksHostWritesNotProgramWrites()
    {
        using var m = Make<ArrayMap>(MapType.Array, 4, 4, 2);
        m.Freeze();
        Assert.True(m.IsFrozen);
        Assert.Equal(Errno.EBUSY, ErrnoOf(m.Freeze));
        Assert.Equal(Errno.EPERM, m.UpdateElem(U32(0), U32(1)));
        uint k = 0, v = 9;
        EpochManager.Enter();
        try { Assert.Equal(0, m.ProgramUpdate((byte*)&k, (byte*)&v, 0, 0)); }
        finally { EpochManager.Exit(); }
        var o = new byte[4];
        m.Lookup(U32(0), o);
        Assert.Equal(9u, BitConverter.ToUInt32(o));
    }

    [Fact]
    public void RdonlyAndWronlyRestrictTheHostSide()
    {
        using var ro = Make<ArrayMap>(MapType.Array, 4, 4, 2, MapFlags.Rdonly);
        Assert.Equal(Errno.EPERM, ro.UpdateElem(U32(0), U32(1)));
        Assert.Equal(Errno.None, ro.LookupElem(U32(0), new byte[4]));
        Assert.Equal(Errno.EPERM, ErrnoOf(ro.Freeze));
        using var wo = Make<ArrayMap>(MapType.Array, 4, 4, 2, MapFlags.Wronly);
        Assert.Equal(Errno.EPERM, wo.LookupElem(U32(0), new byte[4]));
        Assert.Equal(Errno.EPERM, wo.GetNextKeyElem(default, new byte[4]));
        Assert.Equal(Errno.None, wo.UpdateElem(U32(0), U32(1)));
    }

    [Fact]
    public void SpinLockValueCopiesSkipTheLockWord()
    {
        using var m = Make<ArrayMap>(MapType.Array, 4, 16, 1, spinLock: 4);
        var v = new byte[16];
        for (int i = 0; i < 16; i++) v[i] = (byte)(i + 1);
        m.Update(U32(0), v, MapUpdateFlags.Lock);
        var o = new byte[16];
        m.Lookup(U32(0), o, MapUpdateFlags.Lock);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 0, 0, 0, 0, 9, 10, 11, 12, 13, 14, 15, 16 }, o);
        Assert.Equal(Errno.ENOTSUPP, ErrnoOf(m.Freeze));
    }

    [Fact]
    public void ForEachVisitsAllIndexesAndCountsTheStoppingOne()
    {
        using var m = Make<ArrayMap>(MapType.Array, 4, 4, 5);
        var seen = new List<uint>();
        long n = m.ForEachElement((map, k, v) => { seen.Add(*(uint*)k); return *(uint*)k == 2 ? 1 : 0; }, 0, 0);
        Assert.Equal(3, n);
        Assert.Equal(new uint[] { 0, 1, 2 }, seen);
        Assert.Equal(-(long)Errno.EINVAL, m.ForEachElement((_, _, _) => 0, 1, 0));
        Assert.Equal(5, m.ForEachElement((_, _, _) => 0, 0, 0));
    }

    [Fact]
    public void GenericBatchLookupWalksKeysAndEndsWithEnoent()
    {
        using var m = Make<ArrayMap>(MapType.Array, 4, 4, 5);
        for (uint i = 0; i < 5; i++) m.Update(U32(i), U32(i * 10));
        var keys = new byte[4 * 3];
        var vals = new byte[4 * 3];
        var token = new byte[4];
        var r = m.LookupBatch(default, token, keys, vals, 3);
        Assert.Equal(new MapBatchResult(3, Errno.None), r);
        Assert.Equal(2u, BitConverter.ToUInt32(token));
        var r2 = m.LookupBatch(token.ToArray(), token, keys, vals, 3);
        Assert.Equal(new MapBatchResult(2, Errno.ENOENT), r2);
        Assert.Equal(40u, BitConverter.ToUInt32(vals, 4));
        Assert.Equal(Errno.EINVAL, m.LookupBatch(default, token, keys, vals, 3, flags: 1).Errno);
        Assert.Equal(Errno.ENOTSUPP, m.LookupAndDeleteBatch(default, token, keys, vals, 3).Errno);
        var ur = m.UpdateBatch([.. U32(0), .. U32(9)], [.. U32(1), .. U32(2)], 2);
        Assert.Equal(new MapBatchResult(1, Errno.E2BIG), ur);
    }

    [Fact]
    public void HostApiRejectsWrongBufferSizes()
    {
        using var m = Make<ArrayMap>(MapType.Array, 4, 8, 2);
        Assert.Equal(Errno.EINVAL, m.LookupElem(new byte[3], new byte[8]));
        Assert.Equal(Errno.EINVAL, m.LookupElem(U32(0), new byte[4]));
        m.Dispose();
        Assert.Equal(Errno.EBADF, ErrnoOf(() => m.LookupElem(U32(0), new byte[8])));
    }
}
