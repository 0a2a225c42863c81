using Ebpf.Abi.Helpers;
using Ebpf.Elf;
using Ebpf.Linux;
using Ebpf.Loading;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// The verifier's unprivileged mode on tests/fixtures/verifier/v17unpriv/unpriv.bpf.c. Every program there is valid for
/// a loader with CAP_BPF and CAP_PERFMON: the live kernel (as root) and our verifier at full privilege both accept it.
/// Without those capabilities the kernel refuses most of them; this machine cannot show it (it sets
/// kernel.unprivileged_bpf_disabled, so no unprivileged load reaches the verifier), so the expected unprivileged
/// verdicts and messages below are the kernel source's (kernel/bpf/verifier.c, 6.18), not a live observation.
/// </summary>
public class UnprivilegedModeTests
{
    /// <summary>(program, the kernel's unprivileged message lines in order, or null for accepted).</summary>
    public static TheoryData<string, string[]?> Programs => new()
    {
        { "return_stack_pointer", ["R0 leaks addr as return value"] },
        { "pointer_into_map_value", ["R0 leaks addr into map"] },
        { "compare_ctx_with_zero", ["R1 pointer comparison prohibited"] },
        { "compare_map_pointer_with_zero", null },
        { "compare_ctx_with_frame_pointer", ["R10 pointer comparison prohibited"] },
        { "frame_pointer_plus_zero", ["R1 stack pointer arithmetic goes out of range, prohibited for !root; off=0"] },
        { "map_value_plus_mixed_sign", ["R1 has unknown scalar with mixed signed bounds, pointer arithmetic with it prohibited for !root"] },
        { "ctx_plus_register", ["R1 has pointer with unsupported alu operation, pointer arithmetic with it prohibited for !root"] },
        { "map_value_to_its_end", ["invalid access to map value, value_size=8 off=8 size=1", "R0 pointer arithmetic of map value goes out of range, prohibited for !root"] },
        { "corrupt_spilled_pointer", ["attempt to corrupt spilled pointer on stack"] },
        { "spilled_pointer_as_key", ["invalid read from stack R2 off -8+0 size 8"] },
        { "partial_copy_of_pointer", ["R10 partial copy of pointer"] },
        { "tail_call_two_arrays", ["tail_call abusing map_ptr"] },
        { "add_pointer_and_scalar_paths", ["R3 tried to add from different maps, paths or scalars, pointer arithmetic with it prohibited for !root"] },
        { "jiffies_helper", ["program of this type cannot use helper bpf_jiffies64#118"] },
        { "socket_cookie_helper", null },
        { "cgroup_skb_data", ["invalid bpf_context access off=76 size=4"] },
    };

    private static string ObjectPath => SharedData.Fixture("verifier/v17unpriv/unpriv.bpf.o");

    private static VerificationResult Ours(string program, HelperPrivilege privilege, out ObjectSpec obj, out ProgramSpec prog)
    {
        obj = ObjectSpec.Load(ObjectPath);
        prog = obj.FindProgram(program) ?? throw new InvalidOperationException($"{program} not in unpriv.bpf.o");
        return Verifier.Verify(ProgramSpecInput.Create(obj, prog, logLevel: 1, privilege: privilege));
    }

    [Theory]
    [MemberData(nameof(Programs))]
    public void Without_capabilities_the_verdict_and_messages_are_the_kernel_sources(string program, string[]? expected)
    {
        var result = Ours(program, HelperPrivilege.Unprivileged, out _, out _);
        if (expected is null)
        {
            Assert.True(result.Accepted, $"{program}: {result.Error}\n{result.Log}");
            return;
        }
        Assert.False(result.Accepted, $"{program} accepted without capabilities\n{result.Log}");
        string log = result.Log ?? "";
        int from = 0;
        foreach (string line in expected)
        {
            int at = log.IndexOf("\n" + line + "\n", from, StringComparison.Ordinal);
            Assert.True(at >= 0, $"{program}: '{line}' not in our log (in order)\n{log}");
            from = at + line.Length;
        }
        Assert.Equal(expected[^1], result.Error!.Split('\n')[^1]);
    }

    [Theory]
    [MemberData(nameof(Programs))]
    public void With_full_privilege_the_kernel_and_ours_accept(string program, string[]? expected)
    {
        _ = expected;
        var ours = Ours(program, HelperPrivilege.Full, out var obj, out var prog);
        Assert.True(ours.Accepted, $"{program}: {ours.Error}\n{ours.Log}");
        if (!LinuxKernel.IsAvailable) Requirement.Missing(Requirement.Kernel, $"bpf(2) is not usable here: {LinuxKernel.UnavailableReason}");
        using var bpffs = new TemporaryBpfFs();
        using var collection = LinuxKernel.Load(obj, new ObjectLoadOptions
        {
            Elf = ElfFile.Open(ObjectPath),
            ProgramFilter = p => ReferenceEquals(p, prog),
            LogLevel = 1,
            PinRoot = bpffs.Path,
        });
        Assert.NotNull(collection.Programs[program]);
    }

    [Fact]
    public void Errnos_are_the_kernels()
    {
        // do_misc_fixups refuses the poisoned tail call with EINVAL; the other refusals are EACCES.
        Assert.Equal(Errno.EINVAL, Ours("tail_call_two_arrays", HelperPrivilege.Unprivileged, out _, out _).Errno);
        Assert.Equal(Errno.EACCES, Ours("return_stack_pointer", HelperPrivilege.Unprivileged, out _, out _).Errno);
        Assert.Equal(Errno.EACCES, Ours("frame_pointer_plus_zero", HelperPrivilege.Unprivileged, out _, out _).Errno);
    }

    [Fact]
    public void CAP_BPF_without_CAP_PERFMON_still_forbids_pointer_leaks_but_has_the_second_helper_tier()
    {
        // allow_ptr_leaks and bypass_spec_v1 follow CAP_PERFMON; the base set's second tier follows CAP_BPF.
        Assert.Equal("R0 leaks addr as return value", Ours("return_stack_pointer", HelperPrivilege.Bpf, out _, out _).Error);
        Assert.StartsWith("R1 stack pointer arithmetic goes out of range", Ours("frame_pointer_plus_zero", HelperPrivilege.Bpf, out _, out _).Error);
        var jiffies = Ours("jiffies_helper", HelperPrivilege.Bpf, out _, out _);
        Assert.True(jiffies.Accepted, jiffies.Error);
    }
}
