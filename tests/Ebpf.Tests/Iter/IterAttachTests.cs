using Ebpf.Abi;
using Ebpf.Btf;
using Ebpf.Collections;
using Ebpf.Isa;

namespace Ebpf.Tests.Iter;

/// <summary>
/// Load-time target checks of iterator programs (bpf_check_attach_target, bpf_iter_prog_supported), the same on the
/// managed runtime and on this machine's kernel: a missing attach_btf_id, one that is not a function, a function that
/// is no iterator target; and the libbpf-side lookup of SEC("iter/TARGET") for a target vmlinux lacks.
/// </summary>
public class IterAttachTests(ITestOutputHelper output)
{
    private static BtfSpec Vmlinux => BtfSpec.LoadFile("/sys/kernel/btf/vmlinux");

    private static BpfException Refusal(IBpfBackend backend, uint attachBtfId) => Assert.Throws<BpfException>(() =>
        backend.LoadProgram(new ProgramDefinition(ProgramType.Tracing, [Instruction.Mov64(0, 0), Instruction.Exit()], "iter_probe", "GPL",
            AttachType.TraceIter), options: new ProgramLoadOptions { AttachBtfId = attachBtfId, LogLevel = 1 }).Dispose());

    [Fact]
    public void Wrong_or_missing_targets_are_refused_alike()
    {
        if (!File.Exists("/sys/kernel/btf/vmlinux"))
            Requirement.Missing(Requirement.Vmlinux, "/sys/kernel/btf/vmlinux not present");
        var vmlinux = Vmlinux;
        uint structId = vmlinux.FindAllByName("bpf_map", BtfKind.Struct).First();
        uint plainFunc = vmlinux.FindAllByName("bpf_map_put", BtfKind.Func).FirstOrDefault();
        if (plainFunc == 0)
            plainFunc = vmlinux.FindAllByName("bpf_prog_put", BtfKind.Func).First();
        using var managed = TestBackend.Create(Backends.Managed);
        using var kernel = TestBackend.Create(Backends.Linux);
        foreach (uint id in new[] { 0u, structId, plainFunc })
        {
            var theirs = Refusal(kernel.Backend, id);
            var ours = Refusal(managed.Backend, id);
            Assert.True(theirs.Errno == ours.Errno, $"attach_btf_id {id}: kernel {theirs.Errno}, ours {ours.Errno}: {ours.Message}");
            string Last(BpfException e) => (e.Log ?? "").TrimEnd('\n').Split('\n').Where(l => !l.StartsWith("processed ", StringComparison.Ordinal)).LastOrDefault() ?? "";
            output.WriteLine($"{id}: {theirs.Errno} '{Last(theirs)}' | ours: {ours.Errno} '{Last(ours)}'");
            Assert.Equal(Last(theirs), Last(ours));
        }
    }
}
