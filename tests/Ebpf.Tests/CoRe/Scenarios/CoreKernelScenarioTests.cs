using System.Buffers.Binary;
using Ebpf.Btf;
using Ebpf.CoRe;
using Ebpf.Runtime;
using BtfData = Ebpf.Btf.BtfSpec;

namespace Ebpf.Tests.CoRe.Scenarios;

/// <summary>
/// Upstream's three core_reloc cases without a target file. "kernel": relocation against this machine's
/// /sys/kernel/btf/vmlinux (the runtime's kernel BTF), reading a blob laid out as this kernel's struct sk_buff, with
/// libbpf + the live kernel as the oracle. "module_probed" / "module_direct": the type exists only in a module's split
/// BTF, which the test builds on top of vmlinux (this machine has no bpf_testmod) and gives the runtime as a module.
/// </summary>
public class CoreKernelScenarioTests
{
    private static string Scenario(string obj) => Path.Combine(CoreScenario.Directory, obj + ".bpf.o");

    private static BtfData Vmlinux()
    {
        if (!File.Exists("/sys/kernel/btf/vmlinux"))
            Requirement.Missing(Requirement.Vmlinux, "/sys/kernel/btf/vmlinux not present");
        return Ebpf.Abi.Profiles.KernelBtfCache.Get("/sys/kernel/btf/vmlinux")!;
    }

    /// <summary>The kernel scenario's input (sk_buff laid out as this kernel has it) and expected output.</summary>
    private static (byte[] Input, byte[] Expected) KernelBlobs(BtfData vmlinux)
    {
        uint skb = vmlinux.FindByName("sk_buff", BtfKind.Struct)!.Id;
        var input = new byte[ScenarioRunner.Half];
        void Put(string field, ulong value, int size)
        {
            var m = vmlinux.FindMember(skb, field) ?? throw new InvalidOperationException($"sk_buff has no {field}");
            int off = (int)(m.BitOffset / 8);
            Assert.True(off + size <= input.Length, $"sk_buff.{field} at {off} lies beyond the scenario's input block");
            for (int i = 0; i < size; i++)
                input[off + i] = (byte)(value >> (8 * i));
        }
        Put("len", 0x1234, 4);
        Put("data_len", 0x56, 4);
        Put("mark", 0xabcdef, 4);
        Put("protocol", 0x0008, 2);
        var expected = new byte[16 + 40];
        BinaryPrimitives.WriteUInt32LittleEndian(expected, 0x1234);
        BinaryPrimitives.WriteUInt32LittleEndian(expected.AsSpan(4), 0x56);
        BinaryPrimitives.WriteUInt32LittleEndian(expected.AsSpan(8), 0xabcdef);
        BinaryPrimitives.WriteUInt16LittleEndian(expected.AsSpan(12), 0x0008);
        for (int i = 0; i < 10; i++)
            BinaryPrimitives.WriteInt32LittleEndian(expected.AsSpan(16 + 4 * i), 1); // every validity check holds
        return (input, expected);
    }

    [Fact]
    public void Kernel()
    {
        var vmlinux = Vmlinux();
        var (input, expected) = KernelBlobs(vmlinux);
        var rt = new BpfRuntime { KernelBtf = new CoreTargets(new CoreTargetBtf("vmlinux", vmlinux)) };
        var outcome = ScenarioRunner.Run(Scenario("kernel"), "kernel", null, input, expected.Length, rt);
        Assert.True(outcome.Failure is null, outcome.Failure?.Message);
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(outcome.Output!));
    }

    [Fact]
    public void Kernel_libbpf_and_the_live_kernel_agree()
    {
        var (input, expected) = KernelBlobs(Vmlinux());
        string dir = Directory.CreateTempSubdirectory("ebpf-core-kernel-").FullName;
        try
        {
            string inputPath = Path.Combine(dir, "kernel.in");
            File.WriteAllBytes(inputPath, input);
            var (output, log) = LibbpfDriver.Run(Scenario("kernel"), "kernel", "-", inputPath, expected.Length);
            Assert.True(output is not null, log);
            Assert.Equal(Convert.ToHexString(expected), output);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// A module BTF split on top of vmlinux holding ebpf_testmod_read_ctx with a layout unlike the program's (a member
    /// first that the program does not know, so every offset moves).
    /// </summary>
    private static BtfData Module(BtfData vmlinux)
    {
        var b = new BtfBuilder(vmlinux);
        uint ul = b.AddInt("unsigned long", 8);
        uint ll = b.AddInt("long long", 8, BtfIntEncoding.Signed);
        uint ch = b.AddInt("char", 1);
        b.AddStructLayout("ebpf_testmod_read_ctx", ("flags", ul), ("buf", b.AddPtr(ch)), ("off", ll), ("len", ul));
        return BtfData.Parse(b.ToBytes(), vmlinux);
    }

    [Theory]
    [InlineData("module_probed")]
    [InlineData("module_direct")]
    public void Module_types_are_found_in_the_module_split_btf(string program)
    {
        var vmlinux = Vmlinux();
        var module = Module(vmlinux);
        Assert.Null(vmlinux.FindByName("ebpf_testmod_read_ctx", BtfKind.Struct));
        var input = new byte[ScenarioRunner.Half];
        BinaryPrimitives.WriteInt64LittleEndian(input.AsSpan(16), 77);   // off, after flags and buf
        BinaryPrimitives.WriteUInt64LittleEndian(input.AsSpan(24), 123); // len
        var rt = new BpfRuntime { KernelBtf = new CoreTargets(new CoreTargetBtf("vmlinux", vmlinux), [new CoreTargetBtf("ebpf_testmod", module)]) };
        var outcome = ScenarioRunner.Run(Scenario("module"), program, null, input, 28, rt);
        Assert.True(outcome.Failure is null, outcome.Failure?.Message);
        var o = outcome.Output!;
        Assert.Equal(77, BinaryPrimitives.ReadInt64LittleEndian(o));
        Assert.Equal(123ul, BinaryPrimitives.ReadUInt64LittleEndian(o.AsSpan(8)));
        Assert.Equal(1, BinaryPrimitives.ReadInt32LittleEndian(o.AsSpan(16)));  // len exists
        Assert.Equal(0, BinaryPrimitives.ReadInt32LittleEndian(o.AsSpan(20)));  // a type nowhere: not in vmlinux, not in the module
        Assert.Equal(32, BinaryPrimitives.ReadInt32LittleEndian(o.AsSpan(24))); // the module's size of the type
    }

    [Fact]
    public void Without_the_module_the_reads_are_poisoned()
    {
        var vmlinux = Vmlinux();
        var rt = new BpfRuntime { KernelBtf = new CoreTargets(new CoreTargetBtf("vmlinux", vmlinux)) };
        var outcome = ScenarioRunner.Run(Scenario("module"), "module_direct", null, new byte[ScenarioRunner.Half], 28, rt);
        ScenarioRunner.AssertFails(CoreFailure.Poisoned, outcome.Failure, "module_direct without its module");
    }
}
