using Ebpf.Abi;
using Ebpf.Runtime.Maps;
using static Ebpf.Tests.Runtime.Maps.MapTestUtil;

namespace Ebpf.Tests.Runtime.Maps;

public unsafe class MapLifetimeTests
{
    [Fact]
    public void DisposeClosesTheCreatorsHandleAndTheLastReferenceFrees()
    {
        var m = Make<HashMap>(MapType.Hash, 4, 4, 4);
        int releasing = 0;
        m.Releasing += _ => releasing++;
        Assert.Equal(1, m.RefCount);
        Assert.Equal(1, m.UserRefCount);
        m.AddRef();                  // a program using it
        m.Dispose();
        m.Dispose();                 // idempotent
        Assert.False(m.IsFreed);
        Assert.Equal(0, m.UserRefCount);
        m.Update(U32(1), U32(1));    // still usable by whoever holds it
        m.Release();
        Assert.True(m.IsFreed);
        Assert.Equal(1, releasing);
        Assert.Equal(Errno.ENOENT, ErrnoOf(m.AddRef));
        Assert.Equal(Errno.EBADF, ErrnoOf(() => m.Update(U32(1), U32(1))));
    }

    [Fact]
    public void NativeHandleRoundTripsAndInfoReportsTheSpec()
    {
        using var m = BpfMapFactory.Create<ArrayMap>(new MapDefinition
        {
            Type = MapType.Array, KeySize = 4, ValueSize = 12, MaxEntries = 3, Name = "my_map.data",
            Flags = MapFlags.RdonlyProg, BtfKeyTypeId = 5, BtfValueTypeId = 6,
        });
        m.Id = 42;
        Assert.Same(m, BpfMapBase.FromNativeHandle(m.NativeHandle));
        var info = m.Info;
        Assert.Equal(new MapInfo { Type = MapType.Array, Id = 42, KeySize = 4, ValueSize = 12, MaxEntries = 3, Flags = MapFlags.RdonlyProg, Name = "my_map.data", BtfKeyTypeId = 5, BtfValueTypeId = 6 }, info);
        Assert.False(m.ProgramCanWrite);
        Assert.True(m.ProgramCanRead);
        Assert.True(m.ValueBase != null);
        uint k = 2;
        Assert.True(m.ProgramLookup((byte*)&k, 0) == m.ValueBase + 2 * m.Stride);
    }

    [Fact]
    public void WrongTypedCreateDisposesAndThrows() =>
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => BpfMapFactory.Create<HashMap>(new MapDefinition
            { Type = MapType.Array, KeySize = 4, ValueSize = 4, MaxEntries = 1 })));
}
