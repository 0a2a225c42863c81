using Ebpf.Abi;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// Each targeted case must give the kernel's message verbatim (or be accepted). Where bpf(2) works, the
/// same instructions also go to the running kernel: the verdicts must agree and the kernel's log must
/// contain the same message.
/// </summary>
public class VerifierMessageTests
{
    public static TheoryData<string> CaseNames => new(VerifierCases.All.Select(c => c.Name));

    private static VerifierCase Case(string name) => VerifierCases.All.Single(c => c.Name == name);

    /// <summary>The instruction the kernel (6.18) stops at for each rejected case (the last "N:" line of its log before
    /// the message; -1 when it stops before walking any); ours must stop at the same one.</summary>
    private static readonly Dictionary<string, int> RejectedAt = new(StringComparer.Ordinal)
    {
        ["32-bit pointer math"] = 1,
        ["array key from an 8-byte zero store is not constant"] = 6,
        ["array lookup out-of-range key"] = 6,
        ["cgroup_skb return range"] = 1,
        ["ctx cb crossing"] = 0,
        ["ctx data in socket filter"] = 0,
        ["ctx write len"] = 0,
        ["deref scalar"] = 1,
        ["div by zero imm"] = 1,
        ["exit without r0"] = 0,
        ["helper not for type"] = 0,
        ["helper scalar map"] = 4,
        ["infinite loop"] = 1,
        ["invalid helper id"] = 0,
        ["jump out of range"] = -1,
        ["kprobe out of range"] = 0,
        ["last insn not exit"] = -1,
        ["ld_abs in xdp"] = 1,
        ["lookup no null check"] = 6,
        ["lookup on ringbuf"] = 5,
        ["map ptr arithmetic"] = 2,
        ["map value past end"] = 7,
        ["map value unbounded add"] = 11,
        ["map value variable index too big"] = 11,
        ["misaligned stack"] = 0,
        ["modified ctx"] = 1,
        ["pkt_end arithmetic"] = 1,
        ["pointer bitwise"] = 1,
        ["probe_read negative size"] = 7,
        ["r1 after call"] = 1,
        ["read uninit r2"] = 0,
        ["ringbuf leak"] = 6,
        ["ringbuf non-constant size"] = 5,
        ["ringbuf use after submit"] = 10,
        ["stack read at fp"] = 0,
        ["stack write above fp"] = 0,
        ["stack write below limit"] = 0,
        ["too deep"] = 14,
        ["tracepoint header hidden"] = 0,
        ["unbounded pointer math"] = 10,
        ["unreachable"] = -1,
        ["write r10"] = 0,
        ["xdp 2 byte read"] = 0,
        ["xdp packet after adjust_head"] = 11,
        ["xdp packet checked short"] = 6,
        ["xdp packet no check"] = 1,
    };

    /// <summary>check_cfg's refusals come before the kernel walks any instruction (no "N:" line: -1); its message names
    /// the instruction, which is where ours reports it.</summary>
    private static readonly Dictionary<string, int> OursBeforeTheWalk = new(StringComparer.Ordinal)
    {
        ["unreachable"] = 2,
        ["last insn not exit"] = 0,
        ["jump out of range"] = 1,
    };

    private static void AssertRejectedAt(string name, int actual, string who, string log)
    {
        bool known = RejectedAt.TryGetValue(name, out int at);
        if (who == "ours" && OursBeforeTheWalk.TryGetValue(name, out int named))
            at = named;
        Assert.True(known && at == actual, $"{name}: {who} stopped at insn {actual}, the kernel's is {(known ? at.ToString(System.Globalization.CultureInfo.InvariantCulture) : "not recorded")}\n{log}");
    }

    private static Dictionary<int, IVerifierMapInfo>? Maps(VerifierCase c, int fd) =>
        c.Map is null ? null : new() { [fd] = new VerifierMapInfo(c.Map.Type, c.Map.KeySize, c.Map.ValueSize, c.Map.MaxEntries, c.Map.Flags) };

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Managed_verifier_reproduces_the_kernel_message(string name)
    {
        var c = Case(name);
        const int fakeFd = 3;
        var result = Asm.Verify(c.Build(fakeFd), c.Type, Maps(c, fakeFd), attach: c.Attach);
        if (c.Expected is null)
        {
            Assert.True(result.Accepted, $"expected acceptance, got: {result.Error}\n{result.Log}");
        }
        else
        {
            Assert.False(result.Accepted, $"expected rejection with '{c.Expected}'\n{result.Log}");
            Assert.Contains(c.Expected, result.Log);
            Assert.Contains(c.Expected, result.Error!);
            AssertRejectedAt(name, result.ErrorInstruction, "ours", result.Log);
        }
        Assert.EndsWith(result.StatsLine + "\n", result.Log);
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Kernel_agrees(string name)
    {
        if (KernelBpf.Unavailable() is { } why) Requirement.Missing(Requirement.Kernel, why);
        var c = Case(name);
        int fd = -1;
        if (c.Map is not null)
        {
            fd = KernelBpf.CreateMap((uint)c.Map.Type, c.Map.KeySize, c.Map.ValueSize, c.Map.MaxEntries, (uint)c.Map.Flags);
            Assert.True(fd >= 0, $"map create failed: errno {-fd}");
        }
        try
        {
            var insns = c.Build(fd);
            var kernel = KernelBpf.Load(insns, (uint)c.Type, (uint)c.Attach);
            var ours = Asm.Verify(insns, c.Type, Maps(c, fd), attach: c.Attach);
            Assert.True(kernel.Accepted == ours.Accepted,
                $"kernel accepted={kernel.Accepted} (errno {kernel.Errno}), ours accepted={ours.Accepted}\n--- kernel log ---\n{kernel.Log}\n--- our log ---\n{ours.Log}");
            if (c.Expected is not null)
            {
                Assert.True(kernel.Log.Contains(c.Expected, StringComparison.Ordinal), $"kernel log lacks '{c.Expected}':\n{kernel.Log}\n--- our log ---\n{ours.Log}");
                AssertRejectedAt(name, Rejection.OfKernelLog(kernel.Log).Insn, "the kernel", kernel.Log);
            }
            if (!kernel.Accepted) Assert.Equal(kernel.Errno, (int)ours.Errno);
        }
        finally
        {
            KernelBpf.Close(fd);
        }
    }
}
