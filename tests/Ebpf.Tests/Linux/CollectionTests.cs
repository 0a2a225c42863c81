using Ebpf.Abi;
using Ebpf.Linux;
using Ebpf.Loading;
using static Ebpf.Tests.Linux.KernelRequirement;

namespace Ebpf.Tests.Linux;

public class CollectionTests(ITestOutputHelper output)
{
    private static string CollectionObject => SharedData.Fixture("linux/collection.bpf.o");

    private void PrintWarnings(BpfCollection c)
    {
        foreach (var w in c.Warnings)
            output.WriteLine(w);
    }

    private static BpfMap DataMap(BpfCollection c, string suffix) =>
        c.Maps.Values.Single(m => m.Name.EndsWith(suffix, StringComparison.Ordinal));

    [Fact]
    public void CollectionLoadsAndRuns()
    {
        Require();
        using var c = LinuxKernel.LoadFile(CollectionObject);
        PrintWarnings(c);
        Assert.Empty(c.Warnings);
        Assert.NotNull(c.Btf);
        Assert.Equal(["do_tail", "entry", "tail_target"], c.Programs.Keys.Order());

        var data = DataMap(c, ".data");
        var rodata = DataMap(c, ".rodata");
        var bss = DataMap(c, ".bss");
        Assert.Equal(U32(5), data.Lookup(U32(0)));
        Assert.Equal(U32(2), rodata.Lookup(U32(0)));
        Assert.Equal(U64(0), bss.Lookup(U32(0)));
        // .rodata is frozen after initialisation.
        Assert.Equal(Errno.EPERM, Assert.Throws<BpfException>(() => rodata.Update(U32(0), U32(1))).Errno);

        // Initial slots: outer[1] = inner_a (reads back as its id), jumps[0] = tail_target (its id).
        Assert.Equal(U32(c.Maps["inner_a"].GetInfo().Id), c.Maps["outer"].Lookup(U32(1)));
        Assert.Equal(U32(c.Programs["tail_target"].GetInfo().Id), c.Maps["jumps"].Lookup(U32(0)));

        var entry = c.Programs["entry"];
        var info = entry.GetInfo();
        Assert.Equal(2u, info.FuncInfoCount); // entry + global_bump
        Assert.True(info.LineInfoCount > 0);
        Assert.Equal(c.Btf!.GetInfo().Id, info.BtfId);

        var run = entry.TestRun(new TestRunOptions { DataIn = Packet(64), Repeat = 3, DataSizeOut = 0 });
        Assert.Equal(2u, run.ReturnValue);
        // seen += ingress_ifindex + 1 (1 on test_run's loopback) per run; runs++ per run; counts[0] counts runs.
        Assert.Equal(U64(3), bss.Lookup(U32(0)));
        Assert.Equal(U64(3), c.Maps["counts"].Lookup(U32(0)));
        uint seen = BitConverter.ToUInt32(data.Lookup(U32(0)));
        Assert.True(seen is 8 or 11, $"seen = {seen}");
        Assert.Equal(U32(77), c.Maps["inner_a"].Lookup(U32(0)));

        Assert.Equal(3u, c.Programs["do_tail"].TestRun(new TestRunOptions { DataIn = Packet(64), DataSizeOut = 0 }).ReturnValue);
    }

    [Fact]
    public void RodataEditedInTheSpecIsWhatTheProgramSees()
    {
        Require();
        var elf = Ebpf.Elf.ElfFile.Open(CollectionObject);
        var spec = ObjectSpec.Parse(elf.Image, CollectionObject);
        var rodata = spec.Maps.Single(m => m.SectionName == ".rodata");
        BitConverter.TryWriteBytes(rodata.InitialValue!, 1u); // XDP_DROP
        using var c = LinuxKernel.Load(spec, new ObjectLoadOptions { Elf = elf });
        Assert.Equal(1u, c.Programs["entry"].TestRun(new TestRunOptions { DataIn = Packet(64), DataSizeOut = 0 }).ReturnValue);
    }

    [Fact]
    public void WithoutTheElfTheDatasecsOfOneVariableStillLoadWithBtf()
    {
        Require();
        // Every data section of this object holds one variable, so the offsets are known without symbols.
        // .maps has several variables and needs symbols: the loader must fall back to no BTF, as libbpf does
        // when the kernel refuses BTF, and still load everything.
        var spec = ObjectSpec.Load(CollectionObject);
        using var c = LinuxKernel.Load(spec);
        PrintWarnings(c);
        Assert.Contains(c.Warnings, w => w.Contains("loading without BTF", StringComparison.Ordinal));
        Assert.Null(c.Btf);
        Assert.Equal(2u, c.Programs["entry"].TestRun(new TestRunOptions { DataIn = Packet(64), DataSizeOut = 0 }).ReturnValue);
    }

    [Fact]
    public void LoadingFixtureMapsAndTailProgramsLoad()
    {
        Require();
        // classify reads __sk_buff->local_port, which tc programs may not (invalid bpf_context access off=92),
        // so only the tail programs are loaded; every map, including the pinned-by-name LRU, is created.
        using var fs = new TemporaryBpfFs();
        using var c = LinuxKernel.LoadFile(SharedData.Fixture("loading/maps.bpf.o"),
            new ObjectLoadOptions { PinRoot = fs.Path, ProgramFilter = p => p.Name != "classify" });
        PrintWarnings(c);
        Assert.Empty(c.Warnings);
        Assert.Equal(U32(c.Maps["inner_a"].GetInfo().Id), c.Maps["outer"].Lookup(U32(0)));
        Assert.Equal(U32(c.Maps["inner_b"].GetInfo().Id), c.Maps["outer"].Lookup(U32(2)));
        Assert.Equal(U32(c.Programs["tail_one"].GetInfo().Id), c.Maps["jumps"].Lookup(U32(1)));
        Assert.Equal(U32(c.Programs["tail_two"].GetInfo().Id), c.Maps["jumps"].Lookup(U32(3)));
        var flows = c.Maps["flows"].GetInfo();
        Assert.Equal(c.Btf!.GetInfo().Id, flows.BtfId);
        Assert.NotEqual(0u, flows.BtfKeyTypeId);
        Assert.True(File.Exists(fs["pinned_lru"]));

        // A second load reuses the pinned map.
        c.Maps["pinned_lru"].Update(U32(5), U32(55));
        using var second = LinuxKernel.LoadFile(SharedData.Fixture("loading/maps.bpf.o"),
            new ObjectLoadOptions { PinRoot = fs.Path, ProgramFilter = _ => false });
        Assert.Equal(c.Maps["pinned_lru"].GetInfo().Id, second.Maps["pinned_lru"].GetInfo().Id);
        Assert.Equal(U32(55), second.Maps["pinned_lru"].Lookup(U32(5)));
    }

    [Fact]
    public void ClassifyIsRejectedWithTheVerifiersReason()
    {
        Require();
        // maps.bpf.o pins a map by name: a private bpffs keeps the host's /sys/fs/bpf untouched (not even mounted).
        using var fs = new TemporaryBpfFs();
        var e = Assert.Throws<BpfException>(() => LinuxKernel.LoadFile(SharedData.Fixture("loading/maps.bpf.o"),
            new ObjectLoadOptions { PinRoot = fs.Path, ProgramFilter = p => p.Name == "classify" }));
        Assert.Equal(Errno.EACCES, e.Errno);
        Assert.StartsWith("maps: load program classify (tc): BPF_PROG_LOAD classify: Permission denied", e.Message);
        Assert.Contains("invalid bpf_context access off=92 size=4", e.Log);
    }

    [Fact]
    public void ProgramsFixtureLoadsGlobalDataAndKconfig()
    {
        Require();
        // trace_open is loaded separately below: this kernel cannot resolve its ksym variable's address.
        using var c = LinuxKernel.LoadFile(SharedData.Fixture("loading/programs.bpf.o"),
            new ObjectLoadOptions { ProgramFilter = p => p.Autoload && p.Name != "trace_open" });
        PrintWarnings(c);
        Assert.Empty(c.Warnings);
        Assert.DoesNotContain("optional_probe", c.Programs.Keys); // SEC("?kprobe/…")
        Assert.Equal(["xdp_first", "xdp_second"], c.Programs.Keys.Order());

        var data = DataMap(c, ".data");
        Assert.Equal(U32(7), data.Lookup(U32(0)));
        Assert.Equal(U32(42), DataMap(c, ".rodata").Lookup(U32(0)));
        // xdp_first: counter = (ingress_ifindex + 1) * limit, ingress_ifindex being 1 (lo) under test_run.
        Assert.Equal(2u, c.Programs["xdp_first"].TestRun(new TestRunOptions { DataIn = Packet(64), DataSizeOut = 0 }).ReturnValue);
        output.WriteLine($"counter after xdp_first: {BitConverter.ToUInt32(data.Lookup(U32(0)))}");
        Assert.Equal(U32(84), data.Lookup(U32(0)));

        var kconfig = DataMap(c, ".kconfig");
        var release = File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        var image = kconfig.Lookup(U32(0));
        var ext = c.Programs.Count > 0 ? ObjectSpec.Load(SharedData.Fixture("loading/programs.bpf.o")).Externs.Single(x => x.Name == "LINUX_KERNEL_VERSION") : null;
        Assert.Equal(KernelConfig.VersionCode(release), BitConverter.ToUInt32(image, (int)ext!.DataOffset));
    }

    [Fact]
    public void KsymVariableReachesTheKernelAsABtfId()
    {
        Require();
        // The relocation turns `&bpf_prog_active` into lddw src=3 with the vmlinux BTF id of the VAR; this kernel
        // then fails to find the per-CPU symbol's address (no data symbols in kallsyms), which proves the id was valid.
        var e = Assert.Throws<BpfException>(() => LinuxKernel.LoadFile(SharedData.Fixture("loading/programs.bpf.o"),
            new ObjectLoadOptions { ProgramFilter = p => p.Name == "trace_open" }));
        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.Contains("ldimm64 failed to find the address for kernel symbol 'bpf_prog_active'.", e.Log);
    }

    [Fact]
    public void RejectedProgramNamesObjectAndProgramAndKeepsTheLog()
    {
        Require();
        var spec = ObjectSpec.Load(CollectionObject);
        spec.FindProgram("tail_target")!.Instructions = [Ebpf.Isa.Instruction.Exit()];
        var e = Assert.Throws<BpfException>(() => LinuxKernel.Load(spec, new ObjectLoadOptions { LoadBtf = false }));
        Assert.Equal(Errno.EACCES, e.Errno);
        Assert.Contains("load program tail_target (xdp)", e.Message);
        Assert.Contains("R0 !read_ok", e.Log);
    }

    [Fact]
    public void KernelVersionCodeMatchesTheMacro()
    {
        Assert.Equal((6u << 16) | (18u << 8) | 3u, KernelConfig.VersionCode("6.18.3-amd64"));
        Assert.Equal((5u << 16) | (4u << 8) | 255u, KernelConfig.VersionCode("5.4.300"));
        Assert.Equal(6u << 16, KernelConfig.VersionCode("6"));
    }
}
