namespace Ebpf.Abi.Helpers;

/// <summary>How privileged the loader is, for the capability tiers of <c>bpf_base_func_proto</c> (§4.3).</summary>
public enum HelperPrivilege
{
    /// <summary>No CAP_BPF: only the first tier (map ops, ktime, prandom, ringbuf, tail_call, strncmp, …).</summary>
    Unprivileged,
    /// <summary>CAP_BPF without CAP_PERFMON: no printk/probe_read/snprintf/get_current_comm for networking types.</summary>
    Bpf,
    /// <summary>CAP_BPF + CAP_PERFMON (or CAP_SYS_ADMIN): everything the type offers.</summary>
    Full,
}

/// <summary>
/// Which helpers a program type may call (<c>get_func_proto</c>), from the 6.18 observations in
/// program-types.md Appendix A and the tiers of §4.3.
/// </summary>
public static class HelperAvailability
{
    /// <summary>Helpers every type gets without CAP_BPF (tier 1 of bpf_base_func_proto).</summary>
    private static readonly HashSet<int> Tier1 =
    [
        1, 2, 3, 87, 88, 89, 195 /* map_lookup_percpu_elem */, 7, 8, 42, 12, 5, 125, 208, 130, 131, 132, 133, 134, 182, 105, 106,
    ];

    /// <summary>Helpers that need CAP_PERFMON in networking program types (§4.3 tier 3, observed).</summary>
    private static readonly HashSet<int> PerfmonOnly = [6, 177, 165, 112, 113, 114, 115, 16, 149, 35, 158];

    private static readonly HashSet<ProgramType> NetworkingTypes =
        [ProgramType.SocketFilter, ProgramType.SchedCls, ProgramType.SchedAct, ProgramType.Xdp, ProgramType.CgroupSkb];

    private static readonly Dictionary<ProgramType, HashSet<int>> ByType = new()
    {
        [ProgramType.SocketFilter] = [.. HelperAvailabilityData.SocketFilter],
        [ProgramType.Kprobe] = [.. HelperAvailabilityData.Kprobe],
        [ProgramType.SchedCls] = [.. HelperAvailabilityData.SchedCls],
        [ProgramType.SchedAct] = [.. HelperAvailabilityData.SchedAct],
        [ProgramType.Tracepoint] = [.. HelperAvailabilityData.Tracepoint],
        [ProgramType.Xdp] = [.. HelperAvailabilityData.Xdp],
        [ProgramType.PerfEvent] = [.. HelperAvailabilityData.PerfEvent],
        [ProgramType.RawTracepoint] = [.. HelperAvailabilityData.RawTracepoint],
        [ProgramType.RawTracepointWritable] = [.. HelperAvailabilityData.RawTracepoint],
        [ProgramType.Tracing] = [.. HelperAvailabilityData.TracingRawTp],
        [ProgramType.Syscall] = [.. HelperAvailabilityData.Syscall],
    };

    /// <summary>
    /// Helpers specific to types without observed data, added to the base fallback: the type's own entries of
    /// <c>sock_ops_func_proto</c>, <c>sock_filter_func_proto</c>, <c>sock_addr_func_proto</c> and the lwt protos (net/core/filter.c).
    /// </summary>
    private static readonly Dictionary<ProgramType, HashSet<int>> TypeSpecific = new()
    {
        // setsockopt, getsockopt, sock_ops_cb_flags_set, sock_map_update, sock_hash_update, get_local_storage,
        // tcp_sock, load/store/reserve_hdr_opt, get_socket_cookie, get_netns_cookie, perf_event_output, sk_storage_get/delete.
        [ProgramType.SockOps] = [49, 57, 59, 53, 70, 81, 96, 142, 143, 144, 46, 122, 25, 107, 108],
        // get_current_uid_gid, get_local_storage, get_socket_cookie, get_netns_cookie, perf_event_output, get_current_pid_tgid,
        // get_current_comm, get_current_cgroup_id, get_current_ancestor_cgroup_id, get_cgroup_classid, sk_storage_get/delete.
        [ProgramType.CgroupSock] = [15, 81, 46, 122, 25, 14, 16, 80, 123, 17, 107, 108],
        // as cgroup_sock, plus bind, sk_lookup_tcp/udp, sk_release, skc_lookup_tcp, setsockopt, getsockopt.
        [ProgramType.CgroupSockAddr] = [15, 81, 46, 122, 25, 14, 16, 80, 123, 17, 107, 108, 64, 84, 85, 86, 99, 49, 57],
        // cg_skb_func_proto: get_local_storage, sk_fullsock, sk_storage_get/delete, perf_event_output, skb_cgroup_id,
        // skb_ancestor_cgroup_id, sk_cgroup_id, sk_ancestor_cgroup_id, tcp_sock, get_listener_sock, skb_ecn_set_ce,
        // then sk_filter_func_proto (skb_load_bytes, skb_load_bytes_relative, get_socket_cookie, get_socket_uid).
        [ProgramType.CgroupSkb] = [81, 95, 107, 108, 25, 79, 83, 128, 129, 96, 98, 97, 26, 68, 46, 47],
        // sk_skb_func_proto.
        [ProgramType.SkSkb] = [9, 26, 39, 38, 43, 50, 46, 47, 52, 72, 25, 84, 85, 86, 99],
        // sk_msg_func_proto.
        [ProgramType.SkMsg] = [60, 71, 61, 62, 63, 90, 91, 25, 15, 14, 107, 108, 122, 80, 123, 17],
        // sk_lookup_func_proto.
        [ProgramType.SkLookup] = [124, 86, 25],
        // sk_reuseport_func_proto.
        [ProgramType.SkReuseport] = [82, 26, 68, 46],
        // sysctl_func_proto (plus cgroup_current_func_proto's cgroup ids).
        [ProgramType.CgroupSysctl] = [101, 102, 103, 104, 105, 106, 81, 80, 123],
        // cg_sockopt_func_proto.
        [ProgramType.CgroupSockopt] = [107, 108, 49, 57, 122, 96, 186, 187, 81, 80, 123],
        // lirc_mode2_func_proto.
        [ProgramType.LircMode2] = [77, 78, 92],
        // lwt_out_func_proto: skb_load_bytes, skb_pull_data, csum_diff, get_cgroup_classid, get_route_realm, get_hash_recalc,
        // perf_event_output, skb_under_cgroup.
        [ProgramType.LwtOut] = [26, 39, 28, 17, 24, 34, 25, 37],
        [ProgramType.LwtIn] = [26, 39, 28, 17, 24, 34, 25, 37, 73],
        // lwt_xmit adds the tunnel, redirect, store/csum and head/tail helpers.
        [ProgramType.LwtXmit] = [26, 39, 28, 17, 24, 34, 25, 37, 20, 21, 29, 30, 23, 13, 38, 43, 9, 40, 10, 11, 41, 73],
    };

    /// <summary>True when this table has observed data for <paramref name="type"/>.</summary>
    public static bool IsKnownType(ProgramType type) => ByType.ContainsKey(type);

    /// <summary>
    /// True when <paramref name="type"/> may call helper <paramref name="id"/> at the given privilege.
    /// Types without observed data (cgroup, lsm, …) fall back to the base set (tier 1 + what a tracing
    /// program gets), which is an approximation.
    /// </summary>
    public static bool IsAllowed(ProgramType type, int id, HelperPrivilege privilege = HelperPrivilege.Full)
    {
        if (!HelperNames.IsKnown(id)) return false;
        if (privilege == HelperPrivilege.Unprivileged) return Tier1.Contains(id) && (!ByType.TryGetValue(type, out var s0) || s0.Contains(id));
        if (privilege == HelperPrivilege.Bpf && NetworkingTypes.Contains(type) && PerfmonOnly.Contains(id)) return false;
        if (ByType.TryGetValue(type, out var set)) return set.Contains(id);
        if (TypeSpecific.TryGetValue(type, out var extra) && extra.Contains(id)) return true;
        return Tier1.Contains(id) || HelperAvailabilityData.SocketFilter.Contains(id);
    }

    /// <summary>The ids allowed for <paramref name="type"/> at full privilege (for listings, e.g. `feature probe`).</summary>
    public static IEnumerable<int> AllowedIds(ProgramType type) =>
        Enumerable.Range(1, HelperNames.MaxId - 1).Where(id => IsAllowed(type, id));
}
