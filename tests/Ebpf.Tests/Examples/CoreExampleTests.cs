using Ebpf.Btf;
using Ebpf.Collections;
using Ebpf.CoRe;
using Ebpf.Loading;
using Ebpf.Runtime;

namespace Ebpf.Tests.Examples;

/// <summary>The demo's CO-RE step: examples/task_fields.bpf.o returns task_struct's layout of the kernel it is relocated for.</summary>
public class CoreExampleTests
{
    private static string Example => Path.Combine(SharedData.RepoRoot, "examples", "task_fields.bpf.o");

    private static Dictionary<string, uint> Run(BtfSpec kernel)
    {
        var runtime = new BpfRuntime { KernelBtf = CoreTargets.Custom("kernel", kernel) };
        using var collection = runtime.Load(ObjectSpec.Load(Example));
        return collection.Programs.ToDictionary(p => p.Key, p => p.Value.TestRun(new TestRunOptions { DataIn = new byte[64] }).ReturnValue);
    }

    [Fact]
    public void Task_fields_follow_the_kernel_they_are_relocated_for()
    {
        var other = BtfSpec.Parse(BtfWriter.Write(new List<BtfType>
        {
            new BtfInt("int", 4, BtfIntEncoding.Signed, 0, 32),
            new BtfInt("char", 1, BtfIntEncoding.Signed, 0, 8),
            new BtfArray(2, 1, 16),
            new BtfStruct("task_struct", 64, [new BtfMember("state", 1, 0), new BtfMember("comm", 3, 64), new BtfMember("pid", 1, 256)]),
        }));
        Assert.Equal(new Dictionary<string, uint> { ["pid_offset"] = 32, ["comm_size"] = 16, ["tgid_exists"] = 0 }, Run(other));

        if (!File.Exists("/sys/kernel/btf/vmlinux"))
            Requirement.Missing(Requirement.Vmlinux, "/sys/kernel/btf/vmlinux not present");
        var vmlinux = BtfSpec.LoadVmlinux();
        uint task = vmlinux.FindByName("task_struct", BtfKind.Struct)!.Id;
        var results = Run(vmlinux);
        Assert.Equal(vmlinux.FindMember(task, "pid")!.BitOffset / 8, results["pid_offset"]);
        Assert.Equal(1u, results["tgid_exists"]);
    }
}
