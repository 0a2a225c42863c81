using Ebpf.Btf;
using BtfData = Ebpf.Btf.BtfSpec;

namespace Ebpf.Tests.CoRe;

/// <summary>
/// `gen min_core_btf` against the machine's vmlinux writes exactly the file bpftool's BTFGen writes, for every CO-RE
/// fixture object alone: same types in the same order, same members, same strings, same bytes.
/// </summary>
public class MinimalCoreBtfBpftoolParityTests(ITestOutputHelper output) : IDisposable
{
    private const string VmlinuxPath = "/sys/kernel/btf/vmlinux";
    private readonly string _dir = Directory.CreateTempSubdirectory("ebpf-btfgen-parity-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Every object under tests/fixtures/core, relative to tests/fixtures.</summary>
    public static TheoryData<string> CoreObjects() => new(CoreObjectPaths());

    private static List<string> CoreObjectPaths()
    {
        string root = SharedData.Fixture("core");
        return [.. Directory.EnumerateFiles(root, "*.o", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(Path.GetDirectoryName(root)!, p))
            .Order(StringComparer.Ordinal)];
    }

    private static string Bpftool()
    {
        if (!File.Exists(VmlinuxPath))
            Requirement.Missing(Requirement.Vmlinux, $"{VmlinuxPath} not present");
        return ExternalTool.Require(Requirement.Bpftool, "bpftool", "our minimal BTF is compared byte for byte with bpftool gen min_core_btf's");
    }

    [Fact]
    public void The_fixture_list_covers_the_scenarios_and_the_kernel_object()
    {
        var objects = CoreObjectPaths();
        Assert.Contains("core/scenarios/kernel.bpf.o", objects);
        Assert.Contains("core/vmlinux_reads.bpf.o", objects);
        Assert.True(objects.Count >= 20, $"only {objects.Count} objects under tests/fixtures/core");
    }

    [Theory]
    [MemberData(nameof(CoreObjects))]
    public void Ours_is_byte_identical_to_bpftools(string fixture)
    {
        string bpftool = Bpftool();
        string obj = SharedData.Fixture(fixture);
        string ours = Path.Combine(_dir, "ours.btf"), theirs = Path.Combine(_dir, "bpftool.btf");
        var b = ExternalTool.Run(bpftool, ["gen", "min_core_btf", VmlinuxPath, theirs, obj]);
        var r = CliRunner.Run("gen", "min_core_btf", VmlinuxPath, ours, obj);
        if (b.ExitCode != 0)
        {
            // What bpftool refuses we must refuse too (a typed error, not a crash or a silent file).
            Assert.True(r.ExitCode != 0, $"bpftool failed ({b.Stderr.Trim()}) but ours succeeded");
            return;
        }
        Assert.True(r.ExitCode == 0, r.Stderr);
        byte[] expected = File.ReadAllBytes(theirs), actual = File.ReadAllBytes(ours);
        output.WriteLine($"{fixture}: bpftool {expected.Length} bytes, ours {actual.Length} bytes");
        // The dumps first, so a mismatch shows which type differs rather than a byte offset.
        Assert.Equal(Dump(bpftool, theirs), Dump(bpftool, ours));
        Assert.Equal(expected.Length, actual.Length);
        Assert.True(expected.AsSpan().SequenceEqual(actual), $"{fixture}: same types but the bytes differ (string table order?)");
    }

    /// <summary>
    /// The case that once differed: TYPE_MATCHES on task_struct keeps all its members, and a struct a member points to
    /// (task_struct.mm) is kept without members (name and size only) rather than the pointer turned into void*.
    /// </summary>
    [Fact]
    public void A_struct_behind_a_pointer_of_a_type_matches_relocation_is_kept_empty()
    {
        Bpftool();
        string ours = Path.Combine(_dir, "kernel.btf");
        var r = CliRunner.Run("gen", "min_core_btf", VmlinuxPath, ours, SharedData.Fixture("core/scenarios/kernel.bpf.o"));
        Assert.True(r.ExitCode == 0, r.Stderr);
        var min = BtfData.LoadFile(ours);
        var vmlinux = BtfData.LoadVmlinux();
        var mm = Assert.Single(min.AllTypes.OfType<BtfStruct>(), t => t.Name == "mm_struct");
        Assert.Empty(mm.Members);
        Assert.Equal(vmlinux.AllTypes.OfType<BtfStruct>().First(t => t.Name == "mm_struct").Size, mm.Size);
        Assert.Contains(min.AllTypes.OfType<BtfPtr>(), p => p.Type == mm.Id);
    }

    /// <summary>An object without BTF has no relocations to read: bpftool refuses it, and so do we (ENOENT, named).</summary>
    [Fact]
    public void An_object_without_btf_is_refused_as_bpftool_refuses_it()
    {
        string bpftool = Bpftool();
        string obj = SharedData.Require("corpus/objects/build/map_in_map_legacy.o");
        var b = ExternalTool.Run(bpftool, ["gen", "min_core_btf", VmlinuxPath, Path.Combine(_dir, "bpftool.btf"), obj]);
        Assert.True(b.ExitCode != 0, "bpftool accepted an object without BTF");
        string ours = Path.Combine(_dir, "ours.btf");
        var r = CliRunner.Run("gen", "min_core_btf", VmlinuxPath, ours, obj);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("no .BTF section", r.Stderr);
        Assert.False(File.Exists(ours));
    }

    private static string Dump(string bpftool, string file)
    {
        var d = ExternalTool.Run(bpftool, ["btf", "dump", "file", file]);
        Assert.True(d.ExitCode == 0, d.Stderr);
        return d.Stdout;
    }
}
