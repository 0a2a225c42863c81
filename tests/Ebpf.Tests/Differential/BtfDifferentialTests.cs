using Ebpf.Btf;
using BtfObject = Ebpf.Btf.BtfSpec;
using Ebpf.Linux;
using Ebpf.Loading;
using Ebpf.Tests.Linux;

namespace Ebpf.Tests.Differential;

/// <summary>
/// Every BTF our writer produces is checked by the kernel's BTF verifier (BPF_BTF_LOAD) and must come back
/// byte-identical through BPF_OBJ_GET_INFO_BY_FD: the clang-built fixtures' BTF (as our loader fixed it up,
/// and as the kernel backend sanitizes it) and vmlinux re-written by us.
/// </summary>
public class BtfDifferentialTests(ITestOutputHelper output)
{
    public static TheoryData<string> Fixtures()
    {
        var data = new TheoryData<string>();
        foreach (string dir in new[] { "tests/fixtures", "examples" })
        {
            string root = Path.Combine(SharedData.RepoRoot, dir);
            foreach (string path in Directory.EnumerateFiles(root, "*.bpf.o", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
                data.Add(Path.GetRelativePath(SharedData.RepoRoot, path));
        }
        return data;
    }

    /// <summary>
    /// KNOWN GAP (the Linux backend's sanitizer): an extern FUNC is rewritten to a non-extern FUNC whose prototype
    /// keeps its unnamed parameters, which the kernel refuses; the collection loader then loads without BTF (with a
    /// warning). Fixture → the kernel's exact refusal, until the sanitizer fixes it.
    /// </summary>
    private static readonly Dictionary<string, string> SanitizerKnownGap = new(StringComparer.Ordinal)
    {
        ["tests/fixtures/loading/unresolved.bpf.o"] = "EINVAL: [20] FUNC defined_elsewhere type_id=19 Invalid arg#1",
    };

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Fixture_btf_as_we_write_it_is_accepted_and_reads_back_identical(string fixture)
    {
        KernelRequirement.Require();
        string path = Path.Combine(SharedData.RepoRoot, fixture);
        var elf = Ebpf.Elf.ElfFile.Open(path);
        ObjectSpec spec;
        try
        {
            spec = ObjectSpec.Parse(elf.Image, fixture);
        }
        catch (BpfException e)
        {
            Assert.Fail($"{fixture}: our loader refuses it: {e.Message}");
            return;
        }
        // Every fixture is built with -g: a missing .BTF is a broken fixture, not a reason to compare nothing.
        Assert.True(spec.Btf is not null, $"{fixture}: no .BTF section (rebuild with tests/fixtures/build.sh)");

        // 1. Our loader's BTF (DATASEC sizes and VAR offsets filled in) as our writer serializes it.
        byte[] ours = spec.Btf!.ToBytes();
        try
        {
            using var kernelBtf = KernelBtf.Load(ours);
            Assert.Equal(ours, kernelBtf.ReadBytes());
            output.WriteLine($"{fixture}: loader BTF accepted ({ours.Length} bytes), identical on read-back");
        }
        catch (BpfException e)
        {
            // The kernel refuses some things clang emits that libbpf sanitizes too; the sanitized form below must pass.
            output.WriteLine($"{fixture}: loader BTF refused: {ConformanceDifferentialTests.Reason(e)}");
        }

        // 2. What the kernel backend hands to BPF_BTF_LOAD: must be accepted and identical.
        var (sanitized, raw, problem) = BtfSanitizer.Sanitize(spec, elf);
        Assert.True(raw is not null, $"{fixture}: sanitizer gave up: {problem}");
        try
        {
            using var kernelBtf = KernelBtf.Load(raw!, VerifierLogLevel.Level1);
            Assert.Equal(raw, kernelBtf.ReadBytes());
        }
        catch (BpfException e) when (SanitizerKnownGap.TryGetValue(fixture, out var expected))
        {
            // The known gap, asserted exactly: the kernel's refusal is the one recorded below, nothing else.
            Assert.Equal(expected, ConformanceDifferentialTests.Reason(e));
            output.WriteLine($"{fixture}: KNOWN GAP: the kernel refuses the sanitized BTF: {expected}");
            return;
        }
        catch (BpfException e)
        {
            Assert.Fail($"{fixture}: the kernel refuses the sanitized BTF: {ConformanceDifferentialTests.Reason(e)}");
        }
        Assert.False(SanitizerKnownGap.ContainsKey(fixture),
            $"{fixture}: the kernel now takes its sanitized BTF: remove it from {nameof(SanitizerKnownGap)}");
        output.WriteLine($"{fixture}: sanitized BTF accepted ({raw!.Length} bytes), identical on read-back");

        // 3. The sanitized Btf object serialized again by our writer: accepted and identical too.
        byte[] rewritten = sanitized!.ToBytes();
        using var again = KernelBtf.Load(rewritten);
        Assert.Equal(rewritten, again.ReadBytes());
    }

    [Fact]
    public void Vmlinux_rewritten_by_us_is_accepted_and_reads_back_identical()
    {
        KernelRequirement.Require();
        const string vmlinuxPath = "/sys/kernel/btf/vmlinux";
        if (!File.Exists(vmlinuxPath))
            Requirement.Missing(Requirement.Vmlinux, "no /sys/kernel/btf/vmlinux");
        byte[] original = File.ReadAllBytes(vmlinuxPath);
        byte[] ours = BtfObject.Parse(original).ToBytes();
        output.WriteLine($"vmlinux: {original.Length} bytes from the kernel, {ours.Length} bytes rewritten, identical: {original.AsSpan().SequenceEqual(ours)}");
        using var kernelBtf = KernelBtf.Load(ours);
        Assert.Equal(ours, kernelBtf.ReadBytes());
    }

    /// <summary>
    /// BPF_BTF_LOAD has no base-BTF argument (bpf_attr: btf, log, size, flags, token fd only): user space
    /// cannot load split BTF, only the kernel does (module BTF). Our split writer's output is therefore
    /// refused: it refers to vmlinux type ids the loaded object does not contain. This pins that fact
    /// so a kernel that gains the feature shows up here.
    /// </summary>
    [Fact]
    public void Split_btf_on_vmlinux_is_refused_by_BTF_LOAD()
    {
        KernelRequirement.Require();
        if (!File.Exists("/sys/kernel/btf/vmlinux"))
            Requirement.Missing(Requirement.Vmlinux, "no /sys/kernel/btf/vmlinux");
        var vmlinux = BtfObject.LoadVmlinux();
        Assert.True(vmlinux.TryFindByName("task_struct", BtfKind.Struct, out var task));
        var builder = new BtfBuilder(vmlinux);
        uint ptr = builder.AddPtr(task.Id);
        builder.AddTypedef("task_ptr_t", ptr);
        byte[] split = builder.ToBytes();
        // Our own reader takes it back on the same base.
        Assert.Equal(2, BtfObject.Parse(split, vmlinux).Types.Count);
        var e = Assert.Throws<BpfException>(() => KernelBtf.Load(split, VerifierLogLevel.Level1));
        output.WriteLine($"split BTF refused: {ConformanceDifferentialTests.Reason(e)}");
        Assert.Equal(Errno.EINVAL, e.Errno);
    }
}
