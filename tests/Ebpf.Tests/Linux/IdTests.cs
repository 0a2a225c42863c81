using Ebpf.Abi;
using Ebpf.Linux;
using static Ebpf.Tests.Linux.KernelRequirement;

namespace Ebpf.Tests.Linux;

public class IdTests
{
    [Fact]
    public void GetNextIdFindsOurProgramAndGetFdByIdOpensIt()
    {
        Require();
        using var prog = LoadSocketFilter(ReturnImm(3), "id_prog");
        uint id = prog.GetInfo().Id;
        Assert.Contains(id, KernelObjects.EnumerateProgramIds());
        using var byId = KernelProgram.FromId(id);
        Assert.Equal("id_prog", byId.Name);
        Assert.Equal(id, byId.GetInfo().Id);
        Assert.Equal(3u, byId.TestRun(new TestRunOptions { DataIn = Packet(20), DataSizeOut = 0 }).ReturnValue);
    }

    [Fact]
    public void MapIdsAreEnumerableAndBoundMapsShowInProgramInfo()
    {
        Require();
        using var map = KernelMap.Create(new MapCreateAttributes { Type = MapType.Array, KeySize = 4, ValueSize = 4, MaxEntries = 1, Name = "bound" });
        uint mapId = map.GetInfo().Id;
        Assert.Contains(mapId, KernelObjects.EnumerateMapIds());
        using var prog = LoadSocketFilter(ReturnImm(0), "binder");
        Assert.Empty(prog.GetInfo().MapIds);
        prog.BindMap(map);
        Assert.Equal(new[] { mapId }, prog.GetInfo().MapIds);
    }

    [Fact]
    public void UnknownIdsAreEnoent()
    {
        Require();
        var e = Assert.Throws<BpfException>(() => KernelProgram.FromId(uint.MaxValue));
        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.Equal("BPF_PROG_GET_FD_BY_ID id 4294967295: No such file or directory", e.Message);
        Assert.Equal(Errno.ENOENT, Assert.Throws<BpfException>(() => KernelMap.FromId(uint.MaxValue)).Errno);
        Assert.Equal(Errno.ENOENT, Assert.Throws<BpfException>(() => KernelBtf.FromId(uint.MaxValue)).Errno);
        Assert.Equal(Errno.ENOENT, Assert.Throws<BpfException>(() => KernelLink.FromId(uint.MaxValue)).Errno);
    }

    [Fact]
    public void VmlinuxBtfIsAKernelBtfObject()
    {
        Require();
        foreach (uint id in KernelObjects.EnumerateBtfIds())
        {
            using var btf = KernelBtf.FromId(id);
            var info = btf.GetInfo();
            if (info.Name == "vmlinux")
            {
                Assert.True(info.IsKernel);
                Assert.Equal(new FileInfo("/sys/kernel/btf/vmlinux").Length, info.Size);
                return;
            }
        }
        Assert.Fail("no vmlinux BTF object among the kernel's BTF ids");
    }
}
