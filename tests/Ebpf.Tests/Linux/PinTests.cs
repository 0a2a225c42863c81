using Ebpf.Abi;
using Ebpf.Linux;
using static Ebpf.Tests.Linux.KernelRequirement;

namespace Ebpf.Tests.Linux;

public class PinTests
{
    [Fact]
    public void PinAndGetUnderTemporaryBpffs()
    {
        Require();
        string mountPath;
        using (var fs = new TemporaryBpfFs())
        {
            mountPath = fs.Path;
            Assert.Contains($" {fs.Path} bpf ", File.ReadAllText("/proc/self/mounts"));

            using var map = KernelMap.Create(new MapCreateAttributes { Type = MapType.Array, KeySize = 4, ValueSize = 4, MaxEntries = 2, Name = "pinned" });
            map.Update(U32(1), U32(77));
            map.Pin(fs["pinned_map"]);
            Assert.True(File.Exists(fs["pinned_map"]));

            var again = Assert.Throws<BpfException>(() => map.Pin(fs["pinned_map"]));
            Assert.Equal(Errno.EEXIST, again.Errno);
            Assert.Contains(fs["pinned_map"], again.Message);

            using (var reopened = KernelMap.LoadPinned(fs["pinned_map"]))
            {
                Assert.Equal(U32(77), reopened.Lookup(U32(1)));
                Assert.Equal("pinned", reopened.Name);
                Assert.Equal(map.GetInfo().Id, reopened.GetInfo().Id);
            }

            using var prog = LoadSocketFilter(ReturnImm(0), "pinned_prog");
            prog.Pin(fs["prog"]);
            using var prog2 = KernelProgram.LoadPinned(fs["prog"]);
            Assert.Equal(prog.GetInfo().Id, prog2.GetInfo().Id);
            Assert.Equal(ProgramType.SocketFilter, prog2.Type);

            // Unlinking the pin drops that reference; the path is gone for OBJ_GET.
            File.Delete(fs["prog"]);
            Assert.Equal(Errno.ENOENT, Assert.Throws<BpfException>(() => KernelProgram.LoadPinned(fs["prog"])).Errno);
        }
        Assert.False(Directory.Exists(mountPath));
        Assert.DoesNotContain($" {mountPath} ", File.ReadAllText("/proc/self/mounts"));
    }

    [Fact]
    public void PinOutsideBpffsFails()
    {
        Require();
        using var map = KernelMap.Create(new MapCreateAttributes { Type = MapType.Array, KeySize = 4, ValueSize = 4, MaxEntries = 1, Name = "m" });
        string dir = Directory.CreateTempSubdirectory("ebpf-notbpffs-").FullName;
        try
        {
            var e = Assert.Throws<BpfException>(() => map.Pin(Path.Combine(dir, "x")));
            Assert.Equal(Errno.EPERM, e.Errno);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void PinnedObjectOutlivesItsFdAndDiesWithTheMount()
    {
        Require();
        uint id;
        using (var fs = new TemporaryBpfFs())
        {
            using (var map = KernelMap.Create(new MapCreateAttributes { Type = MapType.Hash, KeySize = 4, ValueSize = 4, MaxEntries = 1, Name = "outlive" }))
            {
                id = map.GetInfo().Id;
                map.Pin(fs["m"]);
            }
            // Only the pin holds it now.
            using var byId = KernelMap.FromId(id);
            Assert.Equal("outlive", byId.Name);
        }
        // The map is freed asynchronously (RCU) after the unmount dropped the last reference.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (KernelObjects.EnumerateMapIds().Contains(id) && DateTime.UtcNow < deadline)
            Thread.Sleep(20);
        Assert.DoesNotContain(id, KernelObjects.EnumerateMapIds());
    }
}
