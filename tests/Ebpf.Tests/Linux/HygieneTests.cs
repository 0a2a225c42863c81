using System.Runtime.CompilerServices;
using Ebpf.Abi;
using Ebpf.Isa;
using Ebpf.Linux;
using Ebpf.Linux.Probes;
using static Ebpf.Tests.Linux.KernelRequirement;

namespace Ebpf.Tests.Linux;

[CollectionDefinition(nameof(FdCountingCollection), DisableParallelization = true)]
public class FdCountingCollection;

/// <summary>
/// Every bpf fd the backend opens is closed again, on success and on every error path. Counts the
/// process's bpf anon-inode descriptors (/proc/self/fd → anon_inode:bpf-prog, bpf-map, btf, bpf_link),
/// in a collection that runs alone so other tests' fds do not interfere.
/// </summary>
[Collection(nameof(FdCountingCollection))]
public class HygieneTests
{
    private static int CountBpfFds()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        int n = 0;
        foreach (var entry in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            string? target = null;
            try
            {
                target = new FileInfo(entry).LinkTarget;
            }
            catch (IOException)
            {
                // the fd closed while we looked (e.g. the directory enumeration's own fd)
            }
            if (target is not null && (target.StartsWith("anon_inode:bpf", StringComparison.Ordinal) || target == "anon_inode:btf"))
                n++;
        }
        return n;
    }

    [Fact]
    public void WorkloadClosesEveryDescriptor()
    {
        Require();
        int before = CountBpfFds();

        using (var map = KernelMap.Create(new MapCreateAttributes { Type = MapType.Hash, KeySize = 4, ValueSize = 4, MaxEntries = 2, Name = "hyg" }))
        using (var prog = LoadSocketFilter(ReturnImm(1), "hyg"))
        {
            Assert.True(CountBpfFds() >= before + 2, "the count sees our descriptors");
            map.Update(U32(1), U32(1));
            map.GetInfo();
            prog.BindMap(map);
            prog.GetInfo();
            prog.TestRun(new TestRunOptions { DataIn = Packet(32), Repeat = 3, DataSizeOut = 0 });
            using (var fs = new TemporaryBpfFs())
            {
                map.Pin(fs["m"]);
                using var again = KernelMap.LoadPinned(fs["m"]);
                Assert.Throws<BpfException>(() => map.Pin(fs["m"]));
            }
            using var byId = KernelProgram.FromId(prog.GetInfo().Id);
            var b = new TinyBtf();
            b.Int("int", 4);
            using var btf = KernelBtf.Load(b.ToArray());
            btf.ReadBytes();
        }

        // Error paths: a rejected load (with the log retry), a bad BTF, a bad map, a bad id.
        Assert.Throws<BpfException>(() => LoadSocketFilter([Instruction.Exit()], "bad"));
        Assert.Throws<BpfException>(() => KernelProgram.Load(new ProgramLoadAttributes
        {
            Type = ProgramType.Xdp, Instructions = ReturnImm(2), LogLevel = VerifierLogLevel.Level2, LogSize = 16, MaxLogSize = 32,
        }));
        var bad = new TinyBtf();
        bad.Pointer(9);
        Assert.Throws<BpfException>(() => KernelBtf.Load(bad.ToArray()));
        Assert.Throws<BpfException>(() => KernelMap.Create(new MapCreateAttributes { Type = MapType.Array, KeySize = 3, ValueSize = 4, MaxEntries = 1 }));
        Assert.Throws<BpfException>(() => KernelMap.FromId(uint.MaxValue));
        // A whole collection (BTF, maps, inner templates, programs), and a failing one.
        using (var c = LinuxKernel.LoadFile(SharedData.Fixture("linux/collection.bpf.o")))
            c.Programs["entry"].TestRun(new TestRunOptions { DataIn = Packet(64), DataSizeOut = 0 });
        var broken = Ebpf.Loading.ObjectSpec.Load(SharedData.Fixture("linux/collection.bpf.o"));
        broken.FindProgram("do_tail")!.Instructions = [Instruction.Exit()];
        Assert.Throws<BpfException>(() => LinuxKernel.Load(broken));
        // Probes create and drop objects of every kind.
        KernelFeatures.ProbeMapType(MapType.SkStorage);
        KernelFeatures.ProbeMapType(MapType.HashOfMaps);
        _ = KernelFeatures.ArgCtxTagProbe;

        Assert.Equal(before, CountBpfFds());
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void CreateAndForget()
    {
        for (int i = 0; i < 5; i++)
            KernelMap.Create(new MapCreateAttributes { Type = MapType.Array, KeySize = 4, ValueSize = 4, MaxEntries = 1, Name = "forgotten" });
    }

    [Fact]
    public void FinalizerClosesForgottenDescriptors()
    {
        Require();
        int before = CountBpfFds();
        CreateAndForget();
        Assert.Equal(before, CountBpfFds());
    }

    [Fact]
    public void DisposedHandleIsNotReused()
    {
        Require();
        var map = KernelMap.Create(new MapCreateAttributes { Type = MapType.Array, KeySize = 4, ValueSize = 4, MaxEntries = 1, Name = "disposed" });
        map.Dispose();
        map.Dispose(); // idempotent
        Assert.Throws<ObjectDisposedException>(() => map.Lookup(U32(0)));
    }
}
