using Ebpf.Elf;
using Ebpf.Linux;
using Ebpf.Loading;
using Ebpf.Runtime;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// The memory rules issue 17 found missing (fixtures/verifier/v17mem/mem_rules.bpf.c): reads of a map's kernel struct
/// through its pointer (check_ptr_to_map_access over vmlinux BTF), MEM_ALIGNED helper arguments, check_reg_sane_offset's
/// order, bpf_get_stack's return range through the &lt;&lt;32 s&gt;&gt;32 sign extension, and a spin lock held across a
/// subprogram return. Our verdict and message are checked here, and against the live kernel where bpf(2) is usable: the
/// kernel's log must hold the same line.
/// </summary>
public class MemoryRuleTests
{
    /// <summary>(program, the lines our log must hold in order, or null for accepted).</summary>
    private static readonly (string Program, string? Expected)[] Rows =
    [
        ("map_ptr_read_ops", null),
        ("map_ptr_read_returned", null),
        // 6.18's struct bpf_map starts with a byte array (the map's hash), so a narrow read inside it is a scalar.
        ("map_ptr_read_inside_pointer", null),
        ("map_ptr_read_negative", "R1 is bpf_array invalid negative access: off=-8"),
        ("map_ptr_write_array", "only read from bpf_array is supported"),
        ("map_ptr_write_hash", "only read from bpf_htab is supported"),
        ("inner_map_read", null),
        ("inner_map_write", "only read from bpf_array is supported"),
        ("strtoul_result_misaligned", "misaligned stack access off 0+-20+0 size 8"),
        ("strtoul_result_aligned", null),
        ("fp_plus_too_big_constant", "math between fp pointer and 2147483647 is not allowed"),
        ("fp_offset_out_of_range", "fp pointer offset 1073741822 is not allowed"),
        ("get_stack_result_indexes_buffer", null),
        ("get_stack_result_past_buffer", "invalid access to map value, value_size=48 off=48 size=1\nR7 max value is outside of the allowed memory range"),
        ("lock_taken_in_subprog", null),
        ("exit_holding_lock", "BPF_EXIT instruction in main prog cannot be used inside bpf_spin_lock-ed region"),
        ("timer_callback_exits_locked", "BPF_EXIT instruction in main prog cannot be used inside bpf_spin_lock-ed region"),
        ("timer_callback_unlocks", null),
    ];

    public static TheoryData<string, string?> Programs => new(Rows);

    private static readonly VerifierFixture Fixture = new("verifier/v17mem/mem_rules.bpf.o");

    private static VerificationResult Ours(string program, out ProgramSpec prog, out ObjectSpec obj) =>
        Fixture.Ours(program, out prog, out obj);

    [Fact]
    public void Every_program_of_the_fixture_is_listed()
    {
        var listed = Rows.Select(row => row.Program).Order(StringComparer.Ordinal);
        var inObject = Fixture.ProgramNames;
        Assert.Equal(inObject, listed);
    }

    [Theory]
    [MemberData(nameof(Programs))]
    public void Verdict_and_message(string program, string? expected)
    {
        var result = Ours(program, out _, out _);
        if (expected is null)
        {
            Assert.True(result.Accepted, $"{result.Error}\n{result.Log}");
            return;
        }
        Assert.False(result.Accepted, result.Log);
        VerifierFixture.AssertLinesInOrder(expected, result.Log, "ours");
    }

    [Theory]
    [MemberData(nameof(Programs))]
    public void Kernel_agrees(string program, string? expected)
    {
        var ours = Ours(program, out var prog, out var obj);
        var (kernelAccepted, log) = Fixture.Kernel(obj, prog);
        Assert.True(ours.Accepted == kernelAccepted, $"kernel accepted={kernelAccepted}\n{log}\n--- ours ---\n{ours.Log}");
        Assert.Equal(expected is null, kernelAccepted);
        if (expected is not null) VerifierFixture.AssertLinesInOrder(expected, log, "the kernel");
    }

    /// <summary>A map pointer read is a probe load: the verifier says so, and the runtime runs it reading 0 (it does
    /// not lay the kernel's struct bpf_array out) instead of touching memory it does not own.</summary>
    [Fact]
    public void Map_pointer_read_runs_as_a_probe_load()
    {
        var verdict = Ours("map_ptr_read_returned", out _, out var spec);
        Assert.True(verdict.Accepted, verdict.Log);
        Assert.True(verdict.Program!.ReadsKernelPointers);
        var rt = new BpfRuntime();
        using var objects = rt.Load(spec, new ObjectLoadOptions { ProgramFilter = p => p.Name == "map_ptr_read_returned" });
        var program = objects.Programs["map_ptr_read_returned"];
        Assert.Contains("kernel pointers", program.Program.ExecutionModeReason, StringComparison.Ordinal);
        Assert.Equal(0u, rt.TestRun(program, new TestRunOptions { DataIn = new byte[64] }).ReturnValue);
    }
}
