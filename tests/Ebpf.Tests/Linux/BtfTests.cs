using Ebpf.Abi;
using Ebpf.Linux;
using Ebpf.Linux.Probes;
using static Ebpf.Tests.Linux.KernelRequirement;

namespace Ebpf.Tests.Linux;

public class BtfTests
{
    private static byte[] SmallBtf()
    {
        var btf = new TinyBtf();
        uint intId = btf.Int("int", 4);
        uint u64 = btf.Int("unsigned long long", 8, signed: false);
        btf.Struct("pair", 16, ("a", intId, 0), ("b", u64, 64));
        btf.Pointer(intId);
        return btf.ToArray();
    }

    [Fact]
    public void LoadAndReadBackIsByteIdentical()
    {
        Require();
        byte[] blob = SmallBtf();
        using var btf = KernelBtf.Load(blob);
        Assert.Equal(blob, btf.ReadBytes());
        var info = btf.GetInfo();
        Assert.Equal((uint)blob.Length, info.Size);
        Assert.False(info.IsKernel);
        Assert.True(info.Id > 0);
        Assert.Contains(info.Id, KernelObjects.EnumerateBtfIds());
    }

    [Fact]
    public void LoadWithLogLevelReturnsTheLog()
    {
        Require();
        using var btf = KernelBtf.Load(SmallBtf(), VerifierLogLevel.Level1);
        Assert.NotNull(btf.Log);
    }

    [Fact]
    public void InvalidBtfIsEinvalWithTheKernelsExplanation()
    {
        Require();
        var b = new TinyBtf();
        b.Pointer(42); // dangling type id
        var e = Assert.Throws<BpfException>(() => KernelBtf.Load(b.ToArray()));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.StartsWith("BPF_BTF_LOAD (", e.Message);
        Assert.NotNull(e.Log);
        Assert.Contains("Invalid type_id", e.Log);
    }

    [Fact]
    public void GarbageIsRejected()
    {
        Require();
        var e = Assert.Throws<BpfException>(() => KernelBtf.Load(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }));
        Assert.Equal(Errno.EINVAL, e.Errno);
    }

    [Fact]
    public void MapWithBtfReportsItsTypeIds()
    {
        Require();
        var b = new TinyBtf();
        uint intId = b.Int("int", 4);
        uint valueId = b.Struct("val", 8, ("x", intId, 0), ("y", intId, 32));
        using var btf = KernelBtf.Load(b.ToArray());
        using var map = KernelMap.Create(new MapCreateAttributes
        {
            Type = MapType.Hash, KeySize = 4, ValueSize = 8, MaxEntries = 1, Name = "with_btf",
            Btf = btf.Fd, BtfKeyTypeId = intId, BtfValueTypeId = valueId,
        });
        var info = map.GetInfo();
        Assert.Equal(btf.GetInfo().Id, info.BtfId);
        Assert.Equal(intId, info.BtfKeyTypeId);
        Assert.Equal(valueId, info.BtfValueTypeId);
    }

    [Fact]
    public void ProgramWithFuncInfoReportsBtfAndFuncInfoCount()
    {
        Require();
        var b = new TinyBtf();
        uint intId = b.Int("int", 4);
        uint ctxPtr = b.Pointer(0);
        uint proto = b.FuncProto(intId, ("ctx", ctxPtr));
        uint func = b.Func("main_fn", proto, global: true);
        using var btf = KernelBtf.Load(b.ToArray());
        var funcInfo = new byte[8];
        BitConverter.TryWriteBytes(funcInfo.AsSpan(4), func);
        using var prog = KernelProgram.Load(new ProgramLoadAttributes
        {
            Type = ProgramType.SocketFilter, Instructions = ReturnImm(0), Name = "with_btf",
            Btf = btf.Fd, FuncInfo = funcInfo, FuncInfoRecordSize = 8,
        });
        var info = prog.GetInfo();
        Assert.Equal(btf.GetInfo().Id, info.BtfId);
        Assert.Equal(1u, info.FuncInfoCount);
    }
}
