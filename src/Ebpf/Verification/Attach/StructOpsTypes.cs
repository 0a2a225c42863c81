using Ebpf.Abi;
using Ebpf.Abi.Helpers;

namespace Ebpf.Verification.Attach;

/// <summary>
/// What 6.18's registered struct_ops types add to the BTF-visible facts (net/ipv4/bpf_tcp_ca.c,
/// net/bpf/bpf_dummy_struct_ops.c): the members whose cfi stub is NULL (bpf_struct_ops_supported refuses them,
/// ENOTSUPP), the type's check_member, the context promotion of its is_valid_access, and its get_func_proto. A struct
/// with a <c>bpf_struct_ops_NAME</c> wrapper in the kernel BTF but no entry here is refused as not modelled.
/// <see cref="WriteAccess"/> is the type's btf_struct_access op (writes through typed pointers; null: none allowed).
/// </summary>
internal sealed record StructOpsType(
    string Name,
    IReadOnlySet<string> UnsupportedMembers,
    Func<string, bool, Errno>? CheckMember,
    IReadOnlyDictionary<string, string> PromotedArguments,
    Func<string, int, bool> OwnHelper,
    bool BaseHelpers = true,
    Func<Btf.BtfSpec, string, int, int, string?>? WriteAccess = null)
{
    /// <summary>bpf_tcp_ca_get_func_proto's own entries on top of bpf_base_func_proto.</summary>
    private static bool TcpCaHelper(string member, int id) => (HelperId)id switch
    {
        HelperId.TcpSendAck or HelperId.SkStorageGet or HelperId.SkStorageDelete or HelperId.KtimeGetCoarseNs => true,
        // "Does not allow release() to call setsockopt"; getsockopt goes with it.
        HelperId.Setsockopt or HelperId.Getsockopt => member != "release",
        _ => false,
    };

    /// <summary>The types this verifier models, by struct name.</summary>
    public static readonly IReadOnlyDictionary<string, StructOpsType> Known = new Dictionary<string, StructOpsType>(StringComparer.Ordinal)
    {
        // get_info has no stub in __bpf_ops_tcp_congestion_ops; bpf_tcp_ca_is_valid_access promotes struct sock to
        // tcp_sock (every tcp_congestion_ops socket is one).
        ["tcp_congestion_ops"] = new("tcp_congestion_ops", new HashSet<string>(StringComparer.Ordinal) { "get_info" }, null,
            new Dictionary<string, string>(StringComparer.Ordinal) { ["sock"] = "tcp_sock" }, TcpCaHelper,
            WriteAccess: StructOpsWrites.TcpCongestionOps),
        // bpf_dummy_ops_check_member: only test_sleepable may be sleepable (EINVAL). Its verifier ops have no
        // get_func_proto, so no helper at all.
        ["bpf_dummy_ops"] = new("bpf_dummy_ops", new HashSet<string>(StringComparer.Ordinal),
            (member, sleepable) => sleepable && member != "test_sleepable" ? Errno.EINVAL : 0,
            new Dictionary<string, string>(StringComparer.Ordinal), static (_, _) => false, BaseHelpers: false,
            WriteAccess: StructOpsWrites.DummyOps),
    };

    /// <summary>get_func_proto of this type for member <paramref name="member"/>: its own entries, then
    /// bpf_base_func_proto (the netfilter program type's whole set, which is exactly the base set).</summary>
    public bool AllowsHelper(Abi.Profiles.KernelProfile profile, string member, int id, HelperPrivilege privilege) =>
        OwnHelper(member, id) || BaseHelpers && profile.IsHelperAllowed(ProgramType.Netfilter, id, privilege);
}
