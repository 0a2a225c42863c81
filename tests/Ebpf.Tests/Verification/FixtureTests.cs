using Ebpf.Isa;
using Ebpf.Loading;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>clang-built programs under tests/fixtures/verifier: expected verdicts, and agreement with the kernel.</summary>
public class FixtureTests
{
    public static TheoryData<string, string, string?> Programs => new()
    {
        { "xdp_parse", "xdp_parse_checked", null },
        { "xdp_parse", "xdp_parse_unchecked", "invalid access to packet, off=23 size=1" },
        { "maps", "lookup_checked", null },
        { "maps", "lookup_unchecked", "invalid mem access 'map_value_or_null'" },
        { "maps", "index_unbounded", "max value is outside of the allowed memory range" },
        { "loops", "bounded_loop", null },
        { "loops", "with_bpf_loop", null },
        { "loops", "ringbuf_ok", null },
        { "loops", "ringbuf_leak", "BPF_EXIT instruction in main prog would lead to reference leak" },
    };

    /// <summary>The instruction the kernel (6.18) stops at for each rejected row, "file/program" → insn (the last
    /// "N:" line of its log before the message); ours must stop at the same one.</summary>
    private static readonly Dictionary<string, int> RejectedAt = new(StringComparer.Ordinal)
    {
        ["loops/ringbuf_leak"] = 18,
        ["maps/index_unbounded"] = 12,
        ["maps/lookup_unchecked"] = 7,
        ["xdp_parse/xdp_parse_unchecked"] = 6,
    };

    private static void AssertRejectedAt(string file, string program, int actual, string who, string log)
    {
        bool known = RejectedAt.TryGetValue($"{file}/{program}", out int at);
        Assert.True(known && at == actual, $"{file}/{program}: {who} stopped at insn {actual}, the kernel's is {(known ? at.ToString(System.Globalization.CultureInfo.InvariantCulture) : "not recorded")}\n{log}");
    }

    private static (ObjectSpec Obj, ProgramSpec Prog) Load(string file, string program)
    {
        var obj = ObjectSpec.Load(SharedData.Fixture($"verifier/{file}.bpf.o"));
        return (obj, obj.FindProgram(program) ?? throw new InvalidOperationException($"{program} not in {file}"));
    }

    [Theory]
    [MemberData(nameof(Programs))]
    public void Verdict_matches_expectation(string file, string program, string? expected)
    {
        var (obj, prog) = Load(file, program);
        var result = Verifier.Verify(ProgramSpecInput.Create(obj, prog, logLevel: 1));
        if (expected is null)
        {
            Assert.True(result.Accepted, $"{result.Error}\n{result.Log}");
            Assert.NotNull(result.Program);
            Assert.True(result.ProcessedInstructions >= prog.Instructions.Length / 2);
        }
        else
        {
            Assert.False(result.Accepted, result.Log);
            Assert.Contains(expected, result.Error!);
            AssertRejectedAt(file, program, result.ErrorInstruction, "ours", result.Log);
        }
    }

    [Theory]
    [MemberData(nameof(Programs))]
    public void Kernel_agrees_on_fixture(string file, string program, string? expected)
    {
        if (KernelBpf.Unavailable() is { } why) Requirement.Missing(Requirement.Kernel, why);
        var (obj, prog) = Load(file, program);
        var fds = new List<int>();
        try
        {
            foreach (var m in obj.Maps)
            {
                int fd = KernelBpf.CreateMap((uint)m.Type, m.KeySize, m.ValueSize, m.MaxEntries, (uint)m.Flags);
                Assert.True(fd >= 0, $"map {m.Name}: errno {-fd}");
                fds.Add(fd);
            }
            var insns = prog.Instructions.ToArray();
            for (int i = 0; i < insns.Length; i++)
            {
                if (!insns[i].IsLoadImm64) continue;
                if (insns[i].Src == (byte)LoadImm64Source.MapIndex)
                    insns[i] = insns[i].WithSrc((byte)LoadImm64Source.MapFd).WithImm(fds[insns[i].Imm]);
                else if (insns[i].Src == (byte)LoadImm64Source.MapIndexValue)
                    insns[i] = insns[i].WithSrc((byte)LoadImm64Source.MapValue).WithImm(fds[insns[i].Imm]);
                i++;
            }
            var kernel = KernelBpf.Load(insns, (uint)prog.Type, (uint)(prog.ExpectedAttachType ?? 0), license: "GPL",
                funcInfo: null);
            var ours = Verifier.Verify(ProgramSpecInput.Create(obj, prog, logLevel: 1));
            Assert.True(kernel.Accepted == ours.Accepted || (kernel.Errno == 22 && kernel.Log.Contains("missing btf func_info")),
                $"kernel accepted={kernel.Accepted}\n{kernel.Log}\n--- ours ---\n{ours.Log}");
            if (expected is not null && kernel.Log.Length > 0 && !kernel.Log.Contains("missing btf func_info"))
            {
                Assert.Contains(expected, kernel.Log);
                AssertRejectedAt(file, program, Rejection.OfKernelLog(kernel.Log).Insn, "the kernel", kernel.Log);
            }
        }
        finally
        {
            foreach (int fd in fds) KernelBpf.Close(fd);
        }
    }
}
