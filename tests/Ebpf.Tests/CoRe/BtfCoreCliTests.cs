using System.Text.Json;
using Ebpf.Btf;
using BtfData = Ebpf.Btf.BtfSpec;

namespace Ebpf.Tests.CoRe;

/// <summary>`ebpf btf core OBJ [--btf FILE]...`: the relocation table, one result column per target BTF.</summary>
public class BtfCoreCliTests
{
    private static string Fixture => SharedData.Fixture("core/vmlinux_reads.bpf.o");

    [Fact]
    public void Two_targets_make_a_portability_table()
    {
        // A second "kernel" whose task_struct has only pid, at offset 8: the other fields are poisoned there.
        var b = new BtfBuilder();
        uint i = b.AddInt("int", 4, BtfIntEncoding.Signed);
        uint l = b.AddInt("long", 8, BtfIntEncoding.Signed);
        b.AddStructLayout("task_struct", ("state", l), ("pid", i));
        string dir = Directory.CreateTempSubdirectory("ebpf-core-").FullName;
        try
        {
            string small = Path.Combine(dir, "small.btf");
            File.WriteAllBytes(small, b.ToBytes());
            var r = CliRunner.Run("btf", "core", Fixture, "--btf", small, "--btf", small);
            Assert.Equal(0, r.ExitCode);
            var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(["Program", "#", "Insn", "Kind", "Local", "small.btf", "small.btf"], lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
            string[] Results(string program) => lines.First(x => x.StartsWith(program + " ", StringComparison.Ordinal))
                .Split(' ', StringSplitOptions.RemoveEmptyEntries)[^2..];
            Assert.Equal(["8", "8"], Results("pid_offset"));
            Assert.Equal(["16", "16"], Results("task_size"));
            Assert.Equal(["poison", "poison"], Results("comm_size"));
            Assert.Equal(["poison", "poison"], Results("sid_value"));
            Assert.Equal(["0", "0"], Results("list_head_matches"));
            Assert.Contains("11 relocations; small.btf: 7 resolved, 4 poisoned, 0 errors; small.btf: 7 resolved, 4 poisoned, 0 errors", r.Stdout);

            var j = CliRunner.Run("btf", "core", Fixture, "--btf", small, "-j");
            var rows = JsonDocument.Parse(j.Stdout).RootElement.EnumerateArray().ToList();
            Assert.Equal(11, rows.Count);
            var pid = rows.First(e => e.GetProperty("program").GetString() == "pid_offset");
            Assert.Equal("byte_off", pid.GetProperty("kind").GetString());
            Assert.Equal("0:0", pid.GetProperty("access").GetString());
            Assert.Equal("8", pid.GetProperty("targets")[0].GetProperty("result").GetString());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Without_btf_the_target_is_this_machines_vmlinux()
    {
        if (!File.Exists("/sys/kernel/btf/vmlinux"))
            Requirement.Missing(Requirement.Vmlinux, "/sys/kernel/btf/vmlinux not present");
        var r = CliRunner.Run("btf", "core", Fixture);
        Assert.Equal(0, r.ExitCode);
        uint task = BtfData.LoadVmlinux().FindByName("task_struct", BtfKind.Struct)!.Id;
        uint pid = BtfData.LoadVmlinux().FindMember(task, "pid")!.BitOffset / 8;
        Assert.Contains(r.Stdout.Split('\n'), x => x.StartsWith("pid_offset ", StringComparison.Ordinal) && x.EndsWith($"  {pid}", StringComparison.Ordinal));
        Assert.Contains("11 relocations; vmlinux: 10 resolved, 1 poisoned, 0 errors", r.Stdout);
    }

    [Fact]
    public void No_relocations_and_a_missing_file_are_reported_plainly()
    {
        var none = CliRunner.Run("btf", "core", SharedData.Fixture("isa/alu32.bpf.o"), "--btf", SharedData.Fixture("isa/alu32.bpf.o"));
        Assert.Equal(0, none.ExitCode);
        Assert.Contains("0 relocations", none.Stdout);
        var missing = CliRunner.Run("btf", "core", "/nonexistent.bpf.o");
        Assert.NotEqual(0, missing.ExitCode);
        Assert.StartsWith("Error: ", missing.Stderr);
        Assert.DoesNotContain("   at ", missing.Stderr);
    }
}

/// <summary>`prog load OBJ PATH kernel_btf FILE`: CO-RE relocations resolve against the given BTF (btf_custom_path).</summary>
public class ProgLoadKernelBtfCliTests
{
    [Fact]
    public void Prog_load_relocates_against_the_given_kernel_btf()
    {
        string fixture = SharedData.Fixture("loading/core_reloc.bpf.o");
        string dir = Directory.CreateTempSubdirectory("ebpf-kbtf-").FullName;
        try
        {
            // A kernel whose xdp_md has no data_end: the read is poisoned and the verifier refuses it, naming the call.
            string small = CoreTestKit.WriteXdpMdWithoutDataEnd(dir);
            var refused = CliRunner.Run("prog", "load", fixture, "/sys/fs/bpf/core", "kernel_btf", small);
            Assert.NotEqual(0, refused.ExitCode);
            Assert.Contains("invalid func unknown#195896080", refused.Stdout + refused.Stderr);
            Assert.DoesNotContain("   at ", refused.Stderr);

            if (!File.Exists("/sys/kernel/btf/vmlinux"))
                Requirement.Missing(Requirement.Vmlinux, "/sys/kernel/btf/vmlinux not present");
            var loaded = CliRunner.Run("prog", "load", fixture, "/sys/fs/bpf/core", "kernel_btf", "/sys/kernel/btf/vmlinux");
            Assert.True(loaded.ExitCode == 0, loaded.Stderr);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

/// <summary>`prog verify --kernel FILE`: CO-RE relocations resolve against that kernel's BTF before verification.</summary>
public class ProgVerifyCoreTests
{
    [Fact]
    public void A_kernel_whose_btf_lacks_a_field_rejects_the_poisoned_read()
    {
        string fixture = SharedData.Fixture("loading/core_reloc.bpf.o");
        string dir = Directory.CreateTempSubdirectory("ebpf-vcore-").FullName;
        try
        {
            string btf = CoreTestKit.WriteXdpMdWithoutDataEnd(dir);
            var reference = Ebpf.Abi.Profiles.KernelProfile.Reference;
            var old = new Ebpf.Abi.Profiles.KernelProfile { Name = "old", Helpers = reference.Helpers, KernelBtfPath = btf };
            string profile = Path.Combine(dir, "old.json");
            File.WriteAllText(profile, old.ToJson());

            var r = CliRunner.Run("prog", "verify", fixture, "--kernel", profile);
            Assert.Equal(1, r.ExitCode);
            Assert.Contains(r.Stdout.Split('\n'), l => l.Contains("read_end") && l.Contains("failure") && l.Contains("invalid func unknown#195896080"));

            if (!File.Exists("/sys/kernel/btf/vmlinux"))
                Requirement.Missing(Requirement.Vmlinux, "/sys/kernel/btf/vmlinux not present");
            Assert.Equal(0, CliRunner.Run("prog", "verify", fixture, "--kernel", "6.18").ExitCode);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
