using Ebpf.Linux;

namespace Ebpf.Tests.CoRe.Scenarios;

/// <summary>
/// Differential with libbpf in the live kernel: an object of socket filters with CO-RE reads of vmlinux types
/// (tests/fixtures/core/vmlinux_reads.bpf.o) is loaded by libbpf (core_driver) and by our Linux backend, both
/// relocating against this machine's /sys/kernel/btf/vmlinux; the kernel's xlated programs must be identical
/// instruction for instruction.
/// </summary>
public class CoreXlatedDifferentialTests
{
    [Fact]
    public void Libbpf_and_our_linux_backend_hand_the_kernel_the_same_programs()
    {
        string obj = SharedData.Fixture("core/vmlinux_reads.bpf.o");
        var libbpf = LibbpfDriver.Xlated(obj);
        using var ours = LinuxKernel.LoadFile(obj);
        Assert.Equal(libbpf.Keys.Order(StringComparer.Ordinal), ours.Programs.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(10, libbpf.Count);
        foreach (var (name, prog) in ours.Programs)
        {
            var mine = prog.Kernel.GetTranslatedInstructions().Select(i => i.ToRaw()).ToList();
            Assert.True(libbpf[name].SequenceEqual(mine),
                $"{name}: libbpf {string.Join(' ', libbpf[name].Select(x => x.ToString("x16")))}\n ours {string.Join(' ', mine.Select(x => x.ToString("x16")))}");
        }
    }
}
