using Ebpf.Abi;
using Ebpf.Runtime.Maps;
using static Ebpf.Tests.Runtime.Maps.MapTestUtil;

namespace Ebpf.Tests.Runtime.Maps;

public class BloomFilterTests
{
    [Fact]
    public void NoFalseNegativesFewFalsePositives()
    {
        using var b = Make<BloomFilterMap>(MapType.BloomFilter, 0, 8, 1000);
        Assert.Equal(5, b.HashCount);
        for (ulong i = 0; i < 1000; i++) b.Push(U64(i * 3));
        for (ulong i = 0; i < 1000; i++) Assert.True(b.MayContain(U64(i * 3)));
        int fp = 0;
        for (ulong i = 0; i < 10000; i++) if (b.MayContain(U64(1_000_000 + i))) fp++;
        Assert.True(fp < 500, $"false positive rate too high: {fp}/10000");
    }

    [Fact]
    public void FlagsAndUnsupportedCommands()
    {
        using var b = Make<BloomFilterMap>(MapType.BloomFilter, 0, 4, 10, extra: 3);
        Assert.Equal(3, b.HashCount);
        Assert.Equal(Errno.EINVAL, b.UpdateElem(default, U32(1), MapUpdateFlags.Exist));
        Assert.Equal(Errno.ENOENT, b.LookupElem(default, U32(1)));
        Assert.Equal(Errno.EOPNOTSUPP, b.DeleteElem(default));
        Assert.Equal(Errno.EOPNOTSUPP, b.GetNextKeyElem(default, default));
    }
}
