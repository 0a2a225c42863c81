using Ebpf.Elf;
using Ebpf.Linux;
using Ebpf.Loading;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// The kernel rules issue 17 found missing (fixtures/verifier/ver17b/kernel_rules.bpf.c): socket pointer fields
/// (sock_common, sock, tcp_sock, xdp_sock), sockmap/sockhash/xskmap lookups and the map-side helper rules, packet
/// pointers after a tail-calling global function, data_meta ranges, sign-extending context loads, tracepoint buffers,
/// zero-sized stack accesses, write-only maps, spin locks, the sk_msg and sk_skb contexts. Our verdict and message are
/// checked here, and against the live kernel (6.18) where bpf(2) is usable.
/// </summary>
public class KernelRuleTests
{
    /// <summary>(program, the lines our log must hold in order, or null for accepted).</summary>
    private static readonly (string Program, string? Expected)[] Rows =
    [
        ("sock_common_type", "R1 invalid sock_common access off=8 size=4"),
        ("sock_common_family", null),
        ("fullsock_type", null),
        ("fullsock_dst_port_padding", "R0 invalid sock access off=50 size=2"),
        ("fullsock_dst_port_byte", null),
        ("fullsock_mark_narrow", "R0 invalid sock access off=16 size=2"),
        ("fullsock_past_end", "R0 invalid sock access off=80 size=4"),
        ("tcp_sock_bytes_acked", null),
        ("tcp_sock_wide_dsack_dups", "R0 invalid tcp_sock access off=96 size=8"),
        ("sk_storage_lookup", "cannot pass map_type 24 into func bpf_map_lookup_elem#1"),
        ("sockhash_delete_from_sk_skb", "cannot update sockmap in this context\ncannot pass map_type 18 into func bpf_map_delete_elem#3"),
        ("sockhash_delete_from_tc", null),
        ("sockmap_lookup_leak", "Unreleased reference id=2 alloc_insn=6\nBPF_EXIT instruction in main prog would lead to reference leak"),
        ("sockmap_lookup_release", null),
        ("xsk_queue_id_half", "R0 invalid xdp_sock access off=0 size=2"),
        ("packet_after_tail_call", "R6 invalid mem access 'scalar'"),
        ("meta_checked_against_data", null),
        ("meta_checked_against_end", "invalid access to packet, off=0 size=1, R2(id=0,off=0,r=0)\nR2 offset is outside of the packet"),
        ("meta_checked_against_moved_data", "invalid access to packet, off=0 size=1, R2(id=0,off=0,r=0)\nR2 offset is outside of the packet"),
        ("ldsx_ctx_data", "invalid bpf_context access off=0 size=4"),
        ("ldsx_ctx_ifindex", null),
        ("tp_buffer_variable_offset", "R6 invalid variable buffer offset: off=0, var_off=(0x0; 0xff)"),
        ("tp_buffer_negative_offset", "R6 invalid tracepoint buffer access: off=-8, size=8"),
        ("zero_size_stack_past_fp", "invalid variable-offset write to stack R1 var_off=(0x0; 0xffffffffffffffff) off=0 size=0"),
        ("write_only_value_to_helper", "read from map forbidden, value_size=8 off=0 size=4"),
        ("unlock_other_lookup", "bpf_spin_unlock of different lock"),
        ("unlock_same_lookup", null),
        ("lock_twice", "function calls are not allowed while holding a lock"),
        ("sk_msg_fields", null),
        ("sk_msg_narrow_family", "invalid bpf_context access off=16 size=2"),
        ("sk_msg_sk_type", null),
        ("sk_skb_remote_ip6", null),
        ("sk_skb_mark", "invalid bpf_context access off=8 size=4"),
        ("fp_subtract", "R1 subtraction from stack pointer prohibited"),
        ("atomic_misaligned_value", "misaligned value access off 0+0+1 size 4"),
        ("array_key_past_end", "R0 invalid mem access 'map_value_or_null'"),
        ("same_insn_ctx_or_socket", "same insn cannot be used with different pointers"),
        ("local_storage_read", null),
        ("local_storage_flags_on_one_path", "get_local_storage() doesn't support non-zero flags"),
        ("sockmap_update_with_socket", null),
        ("sock_ctx_dst_port_padding", "invalid bpf_context access off=50 size=2"),
        ("sock_ctx_dst_port_word", null),
        ("helper_ctx_negative_offset", "negative offset ctx ptr R1 off=-8 disallowed"),
        ("cgroup_dev_fields", null),
        ("cgroup_dev_narrow_major", "invalid bpf_context access off=4 size=2"),
        ("sk_lookup_port_padding", null),
        ("sk_reuseport_hash_narrow", "invalid bpf_context access off=32 size=2"),
        ("sk_reuseport_fields", null),
        ("sockmap_update_with_stack", "R3 type=fp expected=sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_"),
    ];

    public static TheoryData<string, string?> Programs => new(Rows);

    private static readonly VerifierFixture Fixture = new("verifier/ver17b/kernel_rules.bpf.o");

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
}
