namespace Ebpf.Abi.Helpers;

/// <summary>
/// Helper function ids, exactly the kernel's <c>enum bpf_func_id</c> (<c>__BPF_FUNC_MAPPER</c>, 6.18: 0..211).
/// The kernel name of each is <c>bpf_</c> + the snake_case form, see <see cref="HelperNames"/>.
/// </summary>
public enum HelperId
{
    /// <summary>BPF_FUNC_unspec: id 0 is no helper; a call to it is rejected as an unknown function.</summary>
    Unspec = 0,
    /// <summary><c>bpf_map_lookup_elem</c>, helper id BPF_FUNC_map_lookup_elem (its prototype is in HelperPrototypes).</summary>
    MapLookupElem = 1,
    /// <summary><c>bpf_map_update_elem</c>, helper id BPF_FUNC_map_update_elem (its prototype is in HelperPrototypes).</summary>
    MapUpdateElem = 2,
    /// <summary><c>bpf_map_delete_elem</c>, helper id BPF_FUNC_map_delete_elem (its prototype is in HelperPrototypes).</summary>
    MapDeleteElem = 3,
    /// <summary><c>bpf_probe_read</c>, helper id BPF_FUNC_probe_read (its prototype is in HelperPrototypes).</summary>
    ProbeRead = 4,
    /// <summary><c>bpf_ktime_get_ns</c>, helper id BPF_FUNC_ktime_get_ns (its prototype is in HelperPrototypes).</summary>
    KtimeGetNs = 5,
    /// <summary><c>bpf_trace_printk</c>, helper id BPF_FUNC_trace_printk (its prototype is in HelperPrototypes).</summary>
    TracePrintk = 6,
    /// <summary><c>bpf_get_prandom_u32</c>, helper id BPF_FUNC_get_prandom_u32 (its prototype is in HelperPrototypes).</summary>
    GetPrandomU32 = 7,
    /// <summary><c>bpf_get_smp_processor_id</c>, helper id BPF_FUNC_get_smp_processor_id (its prototype is in HelperPrototypes).</summary>
    GetSmpProcessorId = 8,
    /// <summary><c>bpf_skb_store_bytes</c>, helper id BPF_FUNC_skb_store_bytes (its prototype is in HelperPrototypes).</summary>
    SkbStoreBytes = 9,
    /// <summary><c>bpf_l3_csum_replace</c>, helper id BPF_FUNC_l3_csum_replace (its prototype is in HelperPrototypes).</summary>
    L3CsumReplace = 10,
    /// <summary><c>bpf_l4_csum_replace</c>, helper id BPF_FUNC_l4_csum_replace (its prototype is in HelperPrototypes).</summary>
    L4CsumReplace = 11,
    /// <summary><c>bpf_tail_call</c>, helper id BPF_FUNC_tail_call (its prototype is in HelperPrototypes).</summary>
    TailCall = 12,
    /// <summary><c>bpf_clone_redirect</c>, helper id BPF_FUNC_clone_redirect (its prototype is in HelperPrototypes).</summary>
    CloneRedirect = 13,
    /// <summary><c>bpf_get_current_pid_tgid</c>, helper id BPF_FUNC_get_current_pid_tgid (its prototype is in HelperPrototypes).</summary>
    GetCurrentPidTgid = 14,
    /// <summary><c>bpf_get_current_uid_gid</c>, helper id BPF_FUNC_get_current_uid_gid (its prototype is in HelperPrototypes).</summary>
    GetCurrentUidGid = 15,
    /// <summary><c>bpf_get_current_comm</c>, helper id BPF_FUNC_get_current_comm (its prototype is in HelperPrototypes).</summary>
    GetCurrentComm = 16,
    /// <summary><c>bpf_get_cgroup_classid</c>, helper id BPF_FUNC_get_cgroup_classid (its prototype is in HelperPrototypes).</summary>
    GetCgroupClassid = 17,
    /// <summary><c>bpf_skb_vlan_push</c>, helper id BPF_FUNC_skb_vlan_push (its prototype is in HelperPrototypes).</summary>
    SkbVlanPush = 18,
    /// <summary><c>bpf_skb_vlan_pop</c>, helper id BPF_FUNC_skb_vlan_pop (its prototype is in HelperPrototypes).</summary>
    SkbVlanPop = 19,
    /// <summary><c>bpf_skb_get_tunnel_key</c>, helper id BPF_FUNC_skb_get_tunnel_key (its prototype is in HelperPrototypes).</summary>
    SkbGetTunnelKey = 20,
    /// <summary><c>bpf_skb_set_tunnel_key</c>, helper id BPF_FUNC_skb_set_tunnel_key (its prototype is in HelperPrototypes).</summary>
    SkbSetTunnelKey = 21,
    /// <summary><c>bpf_perf_event_read</c>, helper id BPF_FUNC_perf_event_read (its prototype is in HelperPrototypes).</summary>
    PerfEventRead = 22,
    /// <summary><c>bpf_redirect</c>, helper id BPF_FUNC_redirect (its prototype is in HelperPrototypes).</summary>
    Redirect = 23,
    /// <summary><c>bpf_get_route_realm</c>, helper id BPF_FUNC_get_route_realm (its prototype is in HelperPrototypes).</summary>
    GetRouteRealm = 24,
    /// <summary><c>bpf_perf_event_output</c>, helper id BPF_FUNC_perf_event_output (its prototype is in HelperPrototypes).</summary>
    PerfEventOutput = 25,
    /// <summary><c>bpf_skb_load_bytes</c>, helper id BPF_FUNC_skb_load_bytes (its prototype is in HelperPrototypes).</summary>
    SkbLoadBytes = 26,
    /// <summary><c>bpf_get_stackid</c>, helper id BPF_FUNC_get_stackid (its prototype is in HelperPrototypes).</summary>
    GetStackid = 27,
    /// <summary><c>bpf_csum_diff</c>, helper id BPF_FUNC_csum_diff (its prototype is in HelperPrototypes).</summary>
    CsumDiff = 28,
    /// <summary><c>bpf_skb_get_tunnel_opt</c>, helper id BPF_FUNC_skb_get_tunnel_opt (its prototype is in HelperPrototypes).</summary>
    SkbGetTunnelOpt = 29,
    /// <summary><c>bpf_skb_set_tunnel_opt</c>, helper id BPF_FUNC_skb_set_tunnel_opt (its prototype is in HelperPrototypes).</summary>
    SkbSetTunnelOpt = 30,
    /// <summary><c>bpf_skb_change_proto</c>, helper id BPF_FUNC_skb_change_proto (its prototype is in HelperPrototypes).</summary>
    SkbChangeProto = 31,
    /// <summary><c>bpf_skb_change_type</c>, helper id BPF_FUNC_skb_change_type (its prototype is in HelperPrototypes).</summary>
    SkbChangeType = 32,
    /// <summary><c>bpf_skb_under_cgroup</c>, helper id BPF_FUNC_skb_under_cgroup (its prototype is in HelperPrototypes).</summary>
    SkbUnderCgroup = 33,
    /// <summary><c>bpf_get_hash_recalc</c>, helper id BPF_FUNC_get_hash_recalc (its prototype is in HelperPrototypes).</summary>
    GetHashRecalc = 34,
    /// <summary><c>bpf_get_current_task</c>, helper id BPF_FUNC_get_current_task (its prototype is in HelperPrototypes).</summary>
    GetCurrentTask = 35,
    /// <summary><c>bpf_probe_write_user</c>, helper id BPF_FUNC_probe_write_user (its prototype is in HelperPrototypes).</summary>
    ProbeWriteUser = 36,
    /// <summary><c>bpf_current_task_under_cgroup</c>, helper id BPF_FUNC_current_task_under_cgroup (its prototype is in HelperPrototypes).</summary>
    CurrentTaskUnderCgroup = 37,
    /// <summary><c>bpf_skb_change_tail</c>, helper id BPF_FUNC_skb_change_tail (its prototype is in HelperPrototypes).</summary>
    SkbChangeTail = 38,
    /// <summary><c>bpf_skb_pull_data</c>, helper id BPF_FUNC_skb_pull_data (its prototype is in HelperPrototypes).</summary>
    SkbPullData = 39,
    /// <summary><c>bpf_csum_update</c>, helper id BPF_FUNC_csum_update (its prototype is in HelperPrototypes).</summary>
    CsumUpdate = 40,
    /// <summary><c>bpf_set_hash_invalid</c>, helper id BPF_FUNC_set_hash_invalid (its prototype is in HelperPrototypes).</summary>
    SetHashInvalid = 41,
    /// <summary><c>bpf_get_numa_node_id</c>, helper id BPF_FUNC_get_numa_node_id (its prototype is in HelperPrototypes).</summary>
    GetNumaNodeId = 42,
    /// <summary><c>bpf_skb_change_head</c>, helper id BPF_FUNC_skb_change_head (its prototype is in HelperPrototypes).</summary>
    SkbChangeHead = 43,
    /// <summary><c>bpf_xdp_adjust_head</c>, helper id BPF_FUNC_xdp_adjust_head (its prototype is in HelperPrototypes).</summary>
    XdpAdjustHead = 44,
    /// <summary><c>bpf_probe_read_str</c>, helper id BPF_FUNC_probe_read_str (its prototype is in HelperPrototypes).</summary>
    ProbeReadStr = 45,
    /// <summary><c>bpf_get_socket_cookie</c>, helper id BPF_FUNC_get_socket_cookie (its prototype is in HelperPrototypes).</summary>
    GetSocketCookie = 46,
    /// <summary><c>bpf_get_socket_uid</c>, helper id BPF_FUNC_get_socket_uid (its prototype is in HelperPrototypes).</summary>
    GetSocketUid = 47,
    /// <summary><c>bpf_set_hash</c>, helper id BPF_FUNC_set_hash (its prototype is in HelperPrototypes).</summary>
    SetHash = 48,
    /// <summary><c>bpf_setsockopt</c>, helper id BPF_FUNC_setsockopt (its prototype is in HelperPrototypes).</summary>
    Setsockopt = 49,
    /// <summary><c>bpf_skb_adjust_room</c>, helper id BPF_FUNC_skb_adjust_room (its prototype is in HelperPrototypes).</summary>
    SkbAdjustRoom = 50,
    /// <summary><c>bpf_redirect_map</c>, helper id BPF_FUNC_redirect_map (its prototype is in HelperPrototypes).</summary>
    RedirectMap = 51,
    /// <summary><c>bpf_sk_redirect_map</c>, helper id BPF_FUNC_sk_redirect_map (its prototype is in HelperPrototypes).</summary>
    SkRedirectMap = 52,
    /// <summary><c>bpf_sock_map_update</c>, helper id BPF_FUNC_sock_map_update (its prototype is in HelperPrototypes).</summary>
    SockMapUpdate = 53,
    /// <summary><c>bpf_xdp_adjust_meta</c>, helper id BPF_FUNC_xdp_adjust_meta (its prototype is in HelperPrototypes).</summary>
    XdpAdjustMeta = 54,
    /// <summary><c>bpf_perf_event_read_value</c>, helper id BPF_FUNC_perf_event_read_value (its prototype is in HelperPrototypes).</summary>
    PerfEventReadValue = 55,
    /// <summary><c>bpf_perf_prog_read_value</c>, helper id BPF_FUNC_perf_prog_read_value (its prototype is in HelperPrototypes).</summary>
    PerfProgReadValue = 56,
    /// <summary><c>bpf_getsockopt</c>, helper id BPF_FUNC_getsockopt (its prototype is in HelperPrototypes).</summary>
    Getsockopt = 57,
    /// <summary><c>bpf_override_return</c>, helper id BPF_FUNC_override_return (its prototype is in HelperPrototypes).</summary>
    OverrideReturn = 58,
    /// <summary><c>bpf_sock_ops_cb_flags_set</c>, helper id BPF_FUNC_sock_ops_cb_flags_set (its prototype is in HelperPrototypes).</summary>
    SockOpsCbFlagsSet = 59,
    /// <summary><c>bpf_msg_redirect_map</c>, helper id BPF_FUNC_msg_redirect_map (its prototype is in HelperPrototypes).</summary>
    MsgRedirectMap = 60,
    /// <summary><c>bpf_msg_apply_bytes</c>, helper id BPF_FUNC_msg_apply_bytes (its prototype is in HelperPrototypes).</summary>
    MsgApplyBytes = 61,
    /// <summary><c>bpf_msg_cork_bytes</c>, helper id BPF_FUNC_msg_cork_bytes (its prototype is in HelperPrototypes).</summary>
    MsgCorkBytes = 62,
    /// <summary><c>bpf_msg_pull_data</c>, helper id BPF_FUNC_msg_pull_data (its prototype is in HelperPrototypes).</summary>
    MsgPullData = 63,
    /// <summary><c>bpf_bind</c>, helper id BPF_FUNC_bind (its prototype is in HelperPrototypes).</summary>
    Bind = 64,
    /// <summary><c>bpf_xdp_adjust_tail</c>, helper id BPF_FUNC_xdp_adjust_tail (its prototype is in HelperPrototypes).</summary>
    XdpAdjustTail = 65,
    /// <summary><c>bpf_skb_get_xfrm_state</c>, helper id BPF_FUNC_skb_get_xfrm_state (its prototype is in HelperPrototypes).</summary>
    SkbGetXfrmState = 66,
    /// <summary><c>bpf_get_stack</c>, helper id BPF_FUNC_get_stack (its prototype is in HelperPrototypes).</summary>
    GetStack = 67,
    /// <summary><c>bpf_skb_load_bytes_relative</c>, helper id BPF_FUNC_skb_load_bytes_relative (its prototype is in HelperPrototypes).</summary>
    SkbLoadBytesRelative = 68,
    /// <summary><c>bpf_fib_lookup</c>, helper id BPF_FUNC_fib_lookup (its prototype is in HelperPrototypes).</summary>
    FibLookup = 69,
    /// <summary><c>bpf_sock_hash_update</c>, helper id BPF_FUNC_sock_hash_update (its prototype is in HelperPrototypes).</summary>
    SockHashUpdate = 70,
    /// <summary><c>bpf_msg_redirect_hash</c>, helper id BPF_FUNC_msg_redirect_hash (its prototype is in HelperPrototypes).</summary>
    MsgRedirectHash = 71,
    /// <summary><c>bpf_sk_redirect_hash</c>, helper id BPF_FUNC_sk_redirect_hash (its prototype is in HelperPrototypes).</summary>
    SkRedirectHash = 72,
    /// <summary><c>bpf_lwt_push_encap</c>, helper id BPF_FUNC_lwt_push_encap (its prototype is in HelperPrototypes).</summary>
    LwtPushEncap = 73,
    /// <summary><c>bpf_lwt_seg6_store_bytes</c>, helper id BPF_FUNC_lwt_seg6_store_bytes (its prototype is in HelperPrototypes).</summary>
    LwtSeg6StoreBytes = 74,
    /// <summary><c>bpf_lwt_seg6_adjust_srh</c>, helper id BPF_FUNC_lwt_seg6_adjust_srh (its prototype is in HelperPrototypes).</summary>
    LwtSeg6AdjustSrh = 75,
    /// <summary><c>bpf_lwt_seg6_action</c>, helper id BPF_FUNC_lwt_seg6_action (its prototype is in HelperPrototypes).</summary>
    LwtSeg6Action = 76,
    /// <summary><c>bpf_rc_repeat</c>, helper id BPF_FUNC_rc_repeat (its prototype is in HelperPrototypes).</summary>
    RcRepeat = 77,
    /// <summary><c>bpf_rc_keydown</c>, helper id BPF_FUNC_rc_keydown (its prototype is in HelperPrototypes).</summary>
    RcKeydown = 78,
    /// <summary><c>bpf_skb_cgroup_id</c>, helper id BPF_FUNC_skb_cgroup_id (its prototype is in HelperPrototypes).</summary>
    SkbCgroupId = 79,
    /// <summary><c>bpf_get_current_cgroup_id</c>, helper id BPF_FUNC_get_current_cgroup_id (its prototype is in HelperPrototypes).</summary>
    GetCurrentCgroupId = 80,
    /// <summary><c>bpf_get_local_storage</c>, helper id BPF_FUNC_get_local_storage (its prototype is in HelperPrototypes).</summary>
    GetLocalStorage = 81,
    /// <summary><c>bpf_sk_select_reuseport</c>, helper id BPF_FUNC_sk_select_reuseport (its prototype is in HelperPrototypes).</summary>
    SkSelectReuseport = 82,
    /// <summary><c>bpf_skb_ancestor_cgroup_id</c>, helper id BPF_FUNC_skb_ancestor_cgroup_id (its prototype is in HelperPrototypes).</summary>
    SkbAncestorCgroupId = 83,
    /// <summary><c>bpf_sk_lookup_tcp</c>, helper id BPF_FUNC_sk_lookup_tcp (its prototype is in HelperPrototypes).</summary>
    SkLookupTcp = 84,
    /// <summary><c>bpf_sk_lookup_udp</c>, helper id BPF_FUNC_sk_lookup_udp (its prototype is in HelperPrototypes).</summary>
    SkLookupUdp = 85,
    /// <summary><c>bpf_sk_release</c>, helper id BPF_FUNC_sk_release (its prototype is in HelperPrototypes).</summary>
    SkRelease = 86,
    /// <summary><c>bpf_map_push_elem</c>, helper id BPF_FUNC_map_push_elem (its prototype is in HelperPrototypes).</summary>
    MapPushElem = 87,
    /// <summary><c>bpf_map_pop_elem</c>, helper id BPF_FUNC_map_pop_elem (its prototype is in HelperPrototypes).</summary>
    MapPopElem = 88,
    /// <summary><c>bpf_map_peek_elem</c>, helper id BPF_FUNC_map_peek_elem (its prototype is in HelperPrototypes).</summary>
    MapPeekElem = 89,
    /// <summary><c>bpf_msg_push_data</c>, helper id BPF_FUNC_msg_push_data (its prototype is in HelperPrototypes).</summary>
    MsgPushData = 90,
    /// <summary><c>bpf_msg_pop_data</c>, helper id BPF_FUNC_msg_pop_data (its prototype is in HelperPrototypes).</summary>
    MsgPopData = 91,
    /// <summary><c>bpf_rc_pointer_rel</c>, helper id BPF_FUNC_rc_pointer_rel (its prototype is in HelperPrototypes).</summary>
    RcPointerRel = 92,
    /// <summary><c>bpf_spin_lock</c>, helper id BPF_FUNC_spin_lock (its prototype is in HelperPrototypes).</summary>
    SpinLock = 93,
    /// <summary><c>bpf_spin_unlock</c>, helper id BPF_FUNC_spin_unlock (its prototype is in HelperPrototypes).</summary>
    SpinUnlock = 94,
    /// <summary><c>bpf_sk_fullsock</c>, helper id BPF_FUNC_sk_fullsock (its prototype is in HelperPrototypes).</summary>
    SkFullsock = 95,
    /// <summary><c>bpf_tcp_sock</c>, helper id BPF_FUNC_tcp_sock (its prototype is in HelperPrototypes).</summary>
    TcpSock = 96,
    /// <summary><c>bpf_skb_ecn_set_ce</c>, helper id BPF_FUNC_skb_ecn_set_ce (its prototype is in HelperPrototypes).</summary>
    SkbEcnSetCe = 97,
    /// <summary><c>bpf_get_listener_sock</c>, helper id BPF_FUNC_get_listener_sock (its prototype is in HelperPrototypes).</summary>
    GetListenerSock = 98,
    /// <summary><c>bpf_skc_lookup_tcp</c>, helper id BPF_FUNC_skc_lookup_tcp (its prototype is in HelperPrototypes).</summary>
    SkcLookupTcp = 99,
    /// <summary><c>bpf_tcp_check_syncookie</c>, helper id BPF_FUNC_tcp_check_syncookie (its prototype is in HelperPrototypes).</summary>
    TcpCheckSyncookie = 100,
    /// <summary><c>bpf_sysctl_get_name</c>, helper id BPF_FUNC_sysctl_get_name (its prototype is in HelperPrototypes).</summary>
    SysctlGetName = 101,
    /// <summary><c>bpf_sysctl_get_current_value</c>, helper id BPF_FUNC_sysctl_get_current_value (its prototype is in HelperPrototypes).</summary>
    SysctlGetCurrentValue = 102,
    /// <summary><c>bpf_sysctl_get_new_value</c>, helper id BPF_FUNC_sysctl_get_new_value (its prototype is in HelperPrototypes).</summary>
    SysctlGetNewValue = 103,
    /// <summary><c>bpf_sysctl_set_new_value</c>, helper id BPF_FUNC_sysctl_set_new_value (its prototype is in HelperPrototypes).</summary>
    SysctlSetNewValue = 104,
    /// <summary><c>bpf_strtol</c>, helper id BPF_FUNC_strtol (its prototype is in HelperPrototypes).</summary>
    Strtol = 105,
    /// <summary><c>bpf_strtoul</c>, helper id BPF_FUNC_strtoul (its prototype is in HelperPrototypes).</summary>
    Strtoul = 106,
    /// <summary><c>bpf_sk_storage_get</c>, helper id BPF_FUNC_sk_storage_get (its prototype is in HelperPrototypes).</summary>
    SkStorageGet = 107,
    /// <summary><c>bpf_sk_storage_delete</c>, helper id BPF_FUNC_sk_storage_delete (its prototype is in HelperPrototypes).</summary>
    SkStorageDelete = 108,
    /// <summary><c>bpf_send_signal</c>, helper id BPF_FUNC_send_signal (its prototype is in HelperPrototypes).</summary>
    SendSignal = 109,
    /// <summary><c>bpf_tcp_gen_syncookie</c>, helper id BPF_FUNC_tcp_gen_syncookie (its prototype is in HelperPrototypes).</summary>
    TcpGenSyncookie = 110,
    /// <summary><c>bpf_skb_output</c>, helper id BPF_FUNC_skb_output (its prototype is in HelperPrototypes).</summary>
    SkbOutput = 111,
    /// <summary><c>bpf_probe_read_user</c>, helper id BPF_FUNC_probe_read_user (its prototype is in HelperPrototypes).</summary>
    ProbeReadUser = 112,
    /// <summary><c>bpf_probe_read_kernel</c>, helper id BPF_FUNC_probe_read_kernel (its prototype is in HelperPrototypes).</summary>
    ProbeReadKernel = 113,
    /// <summary><c>bpf_probe_read_user_str</c>, helper id BPF_FUNC_probe_read_user_str (its prototype is in HelperPrototypes).</summary>
    ProbeReadUserStr = 114,
    /// <summary><c>bpf_probe_read_kernel_str</c>, helper id BPF_FUNC_probe_read_kernel_str (its prototype is in HelperPrototypes).</summary>
    ProbeReadKernelStr = 115,
    /// <summary><c>bpf_tcp_send_ack</c>, helper id BPF_FUNC_tcp_send_ack (its prototype is in HelperPrototypes).</summary>
    TcpSendAck = 116,
    /// <summary><c>bpf_send_signal_thread</c>, helper id BPF_FUNC_send_signal_thread (its prototype is in HelperPrototypes).</summary>
    SendSignalThread = 117,
    /// <summary><c>bpf_jiffies64</c>, helper id BPF_FUNC_jiffies64 (its prototype is in HelperPrototypes).</summary>
    Jiffies64 = 118,
    /// <summary><c>bpf_read_branch_records</c>, helper id BPF_FUNC_read_branch_records (its prototype is in HelperPrototypes).</summary>
    ReadBranchRecords = 119,
    /// <summary><c>bpf_get_ns_current_pid_tgid</c>, helper id BPF_FUNC_get_ns_current_pid_tgid (its prototype is in HelperPrototypes).</summary>
    GetNsCurrentPidTgid = 120,
    /// <summary><c>bpf_xdp_output</c>, helper id BPF_FUNC_xdp_output (its prototype is in HelperPrototypes).</summary>
    XdpOutput = 121,
    /// <summary><c>bpf_get_netns_cookie</c>, helper id BPF_FUNC_get_netns_cookie (its prototype is in HelperPrototypes).</summary>
    GetNetnsCookie = 122,
    /// <summary><c>bpf_get_current_ancestor_cgroup_id</c>, helper id BPF_FUNC_get_current_ancestor_cgroup_id (its prototype is in HelperPrototypes).</summary>
    GetCurrentAncestorCgroupId = 123,
    /// <summary><c>bpf_sk_assign</c>, helper id BPF_FUNC_sk_assign (its prototype is in HelperPrototypes).</summary>
    SkAssign = 124,
    /// <summary><c>bpf_ktime_get_boot_ns</c>, helper id BPF_FUNC_ktime_get_boot_ns (its prototype is in HelperPrototypes).</summary>
    KtimeGetBootNs = 125,
    /// <summary><c>bpf_seq_printf</c>, helper id BPF_FUNC_seq_printf (its prototype is in HelperPrototypes).</summary>
    SeqPrintf = 126,
    /// <summary><c>bpf_seq_write</c>, helper id BPF_FUNC_seq_write (its prototype is in HelperPrototypes).</summary>
    SeqWrite = 127,
    /// <summary><c>bpf_sk_cgroup_id</c>, helper id BPF_FUNC_sk_cgroup_id (its prototype is in HelperPrototypes).</summary>
    SkCgroupId = 128,
    /// <summary><c>bpf_sk_ancestor_cgroup_id</c>, helper id BPF_FUNC_sk_ancestor_cgroup_id (its prototype is in HelperPrototypes).</summary>
    SkAncestorCgroupId = 129,
    /// <summary><c>bpf_ringbuf_output</c>, helper id BPF_FUNC_ringbuf_output (its prototype is in HelperPrototypes).</summary>
    RingbufOutput = 130,
    /// <summary><c>bpf_ringbuf_reserve</c>, helper id BPF_FUNC_ringbuf_reserve (its prototype is in HelperPrototypes).</summary>
    RingbufReserve = 131,
    /// <summary><c>bpf_ringbuf_submit</c>, helper id BPF_FUNC_ringbuf_submit (its prototype is in HelperPrototypes).</summary>
    RingbufSubmit = 132,
    /// <summary><c>bpf_ringbuf_discard</c>, helper id BPF_FUNC_ringbuf_discard (its prototype is in HelperPrototypes).</summary>
    RingbufDiscard = 133,
    /// <summary><c>bpf_ringbuf_query</c>, helper id BPF_FUNC_ringbuf_query (its prototype is in HelperPrototypes).</summary>
    RingbufQuery = 134,
    /// <summary><c>bpf_csum_level</c>, helper id BPF_FUNC_csum_level (its prototype is in HelperPrototypes).</summary>
    CsumLevel = 135,
    /// <summary><c>bpf_skc_to_tcp6_sock</c>, helper id BPF_FUNC_skc_to_tcp6_sock (its prototype is in HelperPrototypes).</summary>
    SkcToTcp6Sock = 136,
    /// <summary><c>bpf_skc_to_tcp_sock</c>, helper id BPF_FUNC_skc_to_tcp_sock (its prototype is in HelperPrototypes).</summary>
    SkcToTcpSock = 137,
    /// <summary><c>bpf_skc_to_tcp_timewait_sock</c>, helper id BPF_FUNC_skc_to_tcp_timewait_sock (its prototype is in HelperPrototypes).</summary>
    SkcToTcpTimewaitSock = 138,
    /// <summary><c>bpf_skc_to_tcp_request_sock</c>, helper id BPF_FUNC_skc_to_tcp_request_sock (its prototype is in HelperPrototypes).</summary>
    SkcToTcpRequestSock = 139,
    /// <summary><c>bpf_skc_to_udp6_sock</c>, helper id BPF_FUNC_skc_to_udp6_sock (its prototype is in HelperPrototypes).</summary>
    SkcToUdp6Sock = 140,
    /// <summary><c>bpf_get_task_stack</c>, helper id BPF_FUNC_get_task_stack (its prototype is in HelperPrototypes).</summary>
    GetTaskStack = 141,
    /// <summary><c>bpf_load_hdr_opt</c>, helper id BPF_FUNC_load_hdr_opt (its prototype is in HelperPrototypes).</summary>
    LoadHdrOpt = 142,
    /// <summary><c>bpf_store_hdr_opt</c>, helper id BPF_FUNC_store_hdr_opt (its prototype is in HelperPrototypes).</summary>
    StoreHdrOpt = 143,
    /// <summary><c>bpf_reserve_hdr_opt</c>, helper id BPF_FUNC_reserve_hdr_opt (its prototype is in HelperPrototypes).</summary>
    ReserveHdrOpt = 144,
    /// <summary><c>bpf_inode_storage_get</c>, helper id BPF_FUNC_inode_storage_get (its prototype is in HelperPrototypes).</summary>
    InodeStorageGet = 145,
    /// <summary><c>bpf_inode_storage_delete</c>, helper id BPF_FUNC_inode_storage_delete (its prototype is in HelperPrototypes).</summary>
    InodeStorageDelete = 146,
    /// <summary><c>bpf_d_path</c>, helper id BPF_FUNC_d_path (its prototype is in HelperPrototypes).</summary>
    DPath = 147,
    /// <summary><c>bpf_copy_from_user</c>, helper id BPF_FUNC_copy_from_user (its prototype is in HelperPrototypes).</summary>
    CopyFromUser = 148,
    /// <summary><c>bpf_snprintf_btf</c>, helper id BPF_FUNC_snprintf_btf (its prototype is in HelperPrototypes).</summary>
    SnprintfBtf = 149,
    /// <summary><c>bpf_seq_printf_btf</c>, helper id BPF_FUNC_seq_printf_btf (its prototype is in HelperPrototypes).</summary>
    SeqPrintfBtf = 150,
    /// <summary><c>bpf_skb_cgroup_classid</c>, helper id BPF_FUNC_skb_cgroup_classid (its prototype is in HelperPrototypes).</summary>
    SkbCgroupClassid = 151,
    /// <summary><c>bpf_redirect_neigh</c>, helper id BPF_FUNC_redirect_neigh (its prototype is in HelperPrototypes).</summary>
    RedirectNeigh = 152,
    /// <summary><c>bpf_per_cpu_ptr</c>, helper id BPF_FUNC_per_cpu_ptr (its prototype is in HelperPrototypes).</summary>
    PerCpuPtr = 153,
    /// <summary><c>bpf_this_cpu_ptr</c>, helper id BPF_FUNC_this_cpu_ptr (its prototype is in HelperPrototypes).</summary>
    ThisCpuPtr = 154,
    /// <summary><c>bpf_redirect_peer</c>, helper id BPF_FUNC_redirect_peer (its prototype is in HelperPrototypes).</summary>
    RedirectPeer = 155,
    /// <summary><c>bpf_task_storage_get</c>, helper id BPF_FUNC_task_storage_get (its prototype is in HelperPrototypes).</summary>
    TaskStorageGet = 156,
    /// <summary><c>bpf_task_storage_delete</c>, helper id BPF_FUNC_task_storage_delete (its prototype is in HelperPrototypes).</summary>
    TaskStorageDelete = 157,
    /// <summary><c>bpf_get_current_task_btf</c>, helper id BPF_FUNC_get_current_task_btf (its prototype is in HelperPrototypes).</summary>
    GetCurrentTaskBtf = 158,
    /// <summary><c>bpf_bprm_opts_set</c>, helper id BPF_FUNC_bprm_opts_set (its prototype is in HelperPrototypes).</summary>
    BprmOptsSet = 159,
    /// <summary><c>bpf_ktime_get_coarse_ns</c>, helper id BPF_FUNC_ktime_get_coarse_ns (its prototype is in HelperPrototypes).</summary>
    KtimeGetCoarseNs = 160,
    /// <summary><c>bpf_ima_inode_hash</c>, helper id BPF_FUNC_ima_inode_hash (its prototype is in HelperPrototypes).</summary>
    ImaInodeHash = 161,
    /// <summary><c>bpf_sock_from_file</c>, helper id BPF_FUNC_sock_from_file (its prototype is in HelperPrototypes).</summary>
    SockFromFile = 162,
    /// <summary><c>bpf_check_mtu</c>, helper id BPF_FUNC_check_mtu (its prototype is in HelperPrototypes).</summary>
    CheckMtu = 163,
    /// <summary><c>bpf_for_each_map_elem</c>, helper id BPF_FUNC_for_each_map_elem (its prototype is in HelperPrototypes).</summary>
    ForEachMapElem = 164,
    /// <summary><c>bpf_snprintf</c>, helper id BPF_FUNC_snprintf (its prototype is in HelperPrototypes).</summary>
    Snprintf = 165,
    /// <summary><c>bpf_sys_bpf</c>, helper id BPF_FUNC_sys_bpf (its prototype is in HelperPrototypes).</summary>
    SysBpf = 166,
    /// <summary><c>bpf_btf_find_by_name_kind</c>, helper id BPF_FUNC_btf_find_by_name_kind (its prototype is in HelperPrototypes).</summary>
    BtfFindByNameKind = 167,
    /// <summary><c>bpf_sys_close</c>, helper id BPF_FUNC_sys_close (its prototype is in HelperPrototypes).</summary>
    SysClose = 168,
    /// <summary><c>bpf_timer_init</c>, helper id BPF_FUNC_timer_init (its prototype is in HelperPrototypes).</summary>
    TimerInit = 169,
    /// <summary><c>bpf_timer_set_callback</c>, helper id BPF_FUNC_timer_set_callback (its prototype is in HelperPrototypes).</summary>
    TimerSetCallback = 170,
    /// <summary><c>bpf_timer_start</c>, helper id BPF_FUNC_timer_start (its prototype is in HelperPrototypes).</summary>
    TimerStart = 171,
    /// <summary><c>bpf_timer_cancel</c>, helper id BPF_FUNC_timer_cancel (its prototype is in HelperPrototypes).</summary>
    TimerCancel = 172,
    /// <summary><c>bpf_get_func_ip</c>, helper id BPF_FUNC_get_func_ip (its prototype is in HelperPrototypes).</summary>
    GetFuncIp = 173,
    /// <summary><c>bpf_get_attach_cookie</c>, helper id BPF_FUNC_get_attach_cookie (its prototype is in HelperPrototypes).</summary>
    GetAttachCookie = 174,
    /// <summary><c>bpf_task_pt_regs</c>, helper id BPF_FUNC_task_pt_regs (its prototype is in HelperPrototypes).</summary>
    TaskPtRegs = 175,
    /// <summary><c>bpf_get_branch_snapshot</c>, helper id BPF_FUNC_get_branch_snapshot (its prototype is in HelperPrototypes).</summary>
    GetBranchSnapshot = 176,
    /// <summary><c>bpf_trace_vprintk</c>, helper id BPF_FUNC_trace_vprintk (its prototype is in HelperPrototypes).</summary>
    TraceVprintk = 177,
    /// <summary><c>bpf_skc_to_unix_sock</c>, helper id BPF_FUNC_skc_to_unix_sock (its prototype is in HelperPrototypes).</summary>
    SkcToUnixSock = 178,
    /// <summary><c>bpf_kallsyms_lookup_name</c>, helper id BPF_FUNC_kallsyms_lookup_name (its prototype is in HelperPrototypes).</summary>
    KallsymsLookupName = 179,
    /// <summary><c>bpf_find_vma</c>, helper id BPF_FUNC_find_vma (its prototype is in HelperPrototypes).</summary>
    FindVma = 180,
    /// <summary><c>bpf_loop</c>, helper id BPF_FUNC_loop (its prototype is in HelperPrototypes).</summary>
    Loop = 181,
    /// <summary><c>bpf_strncmp</c>, helper id BPF_FUNC_strncmp (its prototype is in HelperPrototypes).</summary>
    Strncmp = 182,
    /// <summary><c>bpf_get_func_arg</c>, helper id BPF_FUNC_get_func_arg (its prototype is in HelperPrototypes).</summary>
    GetFuncArg = 183,
    /// <summary><c>bpf_get_func_ret</c>, helper id BPF_FUNC_get_func_ret (its prototype is in HelperPrototypes).</summary>
    GetFuncRet = 184,
    /// <summary><c>bpf_get_func_arg_cnt</c>, helper id BPF_FUNC_get_func_arg_cnt (its prototype is in HelperPrototypes).</summary>
    GetFuncArgCnt = 185,
    /// <summary><c>bpf_get_retval</c>, helper id BPF_FUNC_get_retval (its prototype is in HelperPrototypes).</summary>
    GetRetval = 186,
    /// <summary><c>bpf_set_retval</c>, helper id BPF_FUNC_set_retval (its prototype is in HelperPrototypes).</summary>
    SetRetval = 187,
    /// <summary><c>bpf_xdp_get_buff_len</c>, helper id BPF_FUNC_xdp_get_buff_len (its prototype is in HelperPrototypes).</summary>
    XdpGetBuffLen = 188,
    /// <summary><c>bpf_xdp_load_bytes</c>, helper id BPF_FUNC_xdp_load_bytes (its prototype is in HelperPrototypes).</summary>
    XdpLoadBytes = 189,
    /// <summary><c>bpf_xdp_store_bytes</c>, helper id BPF_FUNC_xdp_store_bytes (its prototype is in HelperPrototypes).</summary>
    XdpStoreBytes = 190,
    /// <summary><c>bpf_copy_from_user_task</c>, helper id BPF_FUNC_copy_from_user_task (its prototype is in HelperPrototypes).</summary>
    CopyFromUserTask = 191,
    /// <summary><c>bpf_skb_set_tstamp</c>, helper id BPF_FUNC_skb_set_tstamp (its prototype is in HelperPrototypes).</summary>
    SkbSetTstamp = 192,
    /// <summary><c>bpf_ima_file_hash</c>, helper id BPF_FUNC_ima_file_hash (its prototype is in HelperPrototypes).</summary>
    ImaFileHash = 193,
    /// <summary><c>bpf_kptr_xchg</c>, helper id BPF_FUNC_kptr_xchg (its prototype is in HelperPrototypes).</summary>
    KptrXchg = 194,
    /// <summary><c>bpf_map_lookup_percpu_elem</c>, helper id BPF_FUNC_map_lookup_percpu_elem (its prototype is in HelperPrototypes).</summary>
    MapLookupPercpuElem = 195,
    /// <summary><c>bpf_skc_to_mptcp_sock</c>, helper id BPF_FUNC_skc_to_mptcp_sock (its prototype is in HelperPrototypes).</summary>
    SkcToMptcpSock = 196,
    /// <summary><c>bpf_dynptr_from_mem</c>, helper id BPF_FUNC_dynptr_from_mem (its prototype is in HelperPrototypes).</summary>
    DynptrFromMem = 197,
    /// <summary><c>bpf_ringbuf_reserve_dynptr</c>, helper id BPF_FUNC_ringbuf_reserve_dynptr (its prototype is in HelperPrototypes).</summary>
    RingbufReserveDynptr = 198,
    /// <summary><c>bpf_ringbuf_submit_dynptr</c>, helper id BPF_FUNC_ringbuf_submit_dynptr (its prototype is in HelperPrototypes).</summary>
    RingbufSubmitDynptr = 199,
    /// <summary><c>bpf_ringbuf_discard_dynptr</c>, helper id BPF_FUNC_ringbuf_discard_dynptr (its prototype is in HelperPrototypes).</summary>
    RingbufDiscardDynptr = 200,
    /// <summary><c>bpf_dynptr_read</c>, helper id BPF_FUNC_dynptr_read (its prototype is in HelperPrototypes).</summary>
    DynptrRead = 201,
    /// <summary><c>bpf_dynptr_write</c>, helper id BPF_FUNC_dynptr_write (its prototype is in HelperPrototypes).</summary>
    DynptrWrite = 202,
    /// <summary><c>bpf_dynptr_data</c>, helper id BPF_FUNC_dynptr_data (its prototype is in HelperPrototypes).</summary>
    DynptrData = 203,
    /// <summary><c>bpf_tcp_raw_gen_syncookie_ipv4</c>, helper id BPF_FUNC_tcp_raw_gen_syncookie_ipv4 (its prototype is in HelperPrototypes).</summary>
    TcpRawGenSyncookieIpv4 = 204,
    /// <summary><c>bpf_tcp_raw_gen_syncookie_ipv6</c>, helper id BPF_FUNC_tcp_raw_gen_syncookie_ipv6 (its prototype is in HelperPrototypes).</summary>
    TcpRawGenSyncookieIpv6 = 205,
    /// <summary><c>bpf_tcp_raw_check_syncookie_ipv4</c>, helper id BPF_FUNC_tcp_raw_check_syncookie_ipv4 (its prototype is in HelperPrototypes).</summary>
    TcpRawCheckSyncookieIpv4 = 206,
    /// <summary><c>bpf_tcp_raw_check_syncookie_ipv6</c>, helper id BPF_FUNC_tcp_raw_check_syncookie_ipv6 (its prototype is in HelperPrototypes).</summary>
    TcpRawCheckSyncookieIpv6 = 207,
    /// <summary><c>bpf_ktime_get_tai_ns</c>, helper id BPF_FUNC_ktime_get_tai_ns (its prototype is in HelperPrototypes).</summary>
    KtimeGetTaiNs = 208,
    /// <summary><c>bpf_user_ringbuf_drain</c>, helper id BPF_FUNC_user_ringbuf_drain (its prototype is in HelperPrototypes).</summary>
    UserRingbufDrain = 209,
    /// <summary><c>bpf_cgrp_storage_get</c>, helper id BPF_FUNC_cgrp_storage_get (its prototype is in HelperPrototypes).</summary>
    CgrpStorageGet = 210,
    /// <summary><c>bpf_cgrp_storage_delete</c>, helper id BPF_FUNC_cgrp_storage_delete (its prototype is in HelperPrototypes).</summary>
    CgrpStorageDelete = 211,
}

/// <summary>Kernel names of the helpers (as the verifier log prints them: <c>bpf_map_lookup_elem</c>).</summary>
public static class HelperNames
{
    /// <summary>One past the highest helper id this table knows (<c>__BPF_FUNC_MAX_ID</c>).</summary>
    public const int MaxId = 212;

    private static readonly string[] Names =
    [
        "unspec",
        "map_lookup_elem",
        "map_update_elem",
        "map_delete_elem",
        "probe_read",
        "ktime_get_ns",
        "trace_printk",
        "get_prandom_u32",
        "get_smp_processor_id",
        "skb_store_bytes",
        "l3_csum_replace",
        "l4_csum_replace",
        "tail_call",
        "clone_redirect",
        "get_current_pid_tgid",
        "get_current_uid_gid",
        "get_current_comm",
        "get_cgroup_classid",
        "skb_vlan_push",
        "skb_vlan_pop",
        "skb_get_tunnel_key",
        "skb_set_tunnel_key",
        "perf_event_read",
        "redirect",
        "get_route_realm",
        "perf_event_output",
        "skb_load_bytes",
        "get_stackid",
        "csum_diff",
        "skb_get_tunnel_opt",
        "skb_set_tunnel_opt",
        "skb_change_proto",
        "skb_change_type",
        "skb_under_cgroup",
        "get_hash_recalc",
        "get_current_task",
        "probe_write_user",
        "current_task_under_cgroup",
        "skb_change_tail",
        "skb_pull_data",
        "csum_update",
        "set_hash_invalid",
        "get_numa_node_id",
        "skb_change_head",
        "xdp_adjust_head",
        "probe_read_str",
        "get_socket_cookie",
        "get_socket_uid",
        "set_hash",
        "setsockopt",
        "skb_adjust_room",
        "redirect_map",
        "sk_redirect_map",
        "sock_map_update",
        "xdp_adjust_meta",
        "perf_event_read_value",
        "perf_prog_read_value",
        "getsockopt",
        "override_return",
        "sock_ops_cb_flags_set",
        "msg_redirect_map",
        "msg_apply_bytes",
        "msg_cork_bytes",
        "msg_pull_data",
        "bind",
        "xdp_adjust_tail",
        "skb_get_xfrm_state",
        "get_stack",
        "skb_load_bytes_relative",
        "fib_lookup",
        "sock_hash_update",
        "msg_redirect_hash",
        "sk_redirect_hash",
        "lwt_push_encap",
        "lwt_seg6_store_bytes",
        "lwt_seg6_adjust_srh",
        "lwt_seg6_action",
        "rc_repeat",
        "rc_keydown",
        "skb_cgroup_id",
        "get_current_cgroup_id",
        "get_local_storage",
        "sk_select_reuseport",
        "skb_ancestor_cgroup_id",
        "sk_lookup_tcp",
        "sk_lookup_udp",
        "sk_release",
        "map_push_elem",
        "map_pop_elem",
        "map_peek_elem",
        "msg_push_data",
        "msg_pop_data",
        "rc_pointer_rel",
        "spin_lock",
        "spin_unlock",
        "sk_fullsock",
        "tcp_sock",
        "skb_ecn_set_ce",
        "get_listener_sock",
        "skc_lookup_tcp",
        "tcp_check_syncookie",
        "sysctl_get_name",
        "sysctl_get_current_value",
        "sysctl_get_new_value",
        "sysctl_set_new_value",
        "strtol",
        "strtoul",
        "sk_storage_get",
        "sk_storage_delete",
        "send_signal",
        "tcp_gen_syncookie",
        "skb_output",
        "probe_read_user",
        "probe_read_kernel",
        "probe_read_user_str",
        "probe_read_kernel_str",
        "tcp_send_ack",
        "send_signal_thread",
        "jiffies64",
        "read_branch_records",
        "get_ns_current_pid_tgid",
        "xdp_output",
        "get_netns_cookie",
        "get_current_ancestor_cgroup_id",
        "sk_assign",
        "ktime_get_boot_ns",
        "seq_printf",
        "seq_write",
        "sk_cgroup_id",
        "sk_ancestor_cgroup_id",
        "ringbuf_output",
        "ringbuf_reserve",
        "ringbuf_submit",
        "ringbuf_discard",
        "ringbuf_query",
        "csum_level",
        "skc_to_tcp6_sock",
        "skc_to_tcp_sock",
        "skc_to_tcp_timewait_sock",
        "skc_to_tcp_request_sock",
        "skc_to_udp6_sock",
        "get_task_stack",
        "load_hdr_opt",
        "store_hdr_opt",
        "reserve_hdr_opt",
        "inode_storage_get",
        "inode_storage_delete",
        "d_path",
        "copy_from_user",
        "snprintf_btf",
        "seq_printf_btf",
        "skb_cgroup_classid",
        "redirect_neigh",
        "per_cpu_ptr",
        "this_cpu_ptr",
        "redirect_peer",
        "task_storage_get",
        "task_storage_delete",
        "get_current_task_btf",
        "bprm_opts_set",
        "ktime_get_coarse_ns",
        "ima_inode_hash",
        "sock_from_file",
        "check_mtu",
        "for_each_map_elem",
        "snprintf",
        "sys_bpf",
        "btf_find_by_name_kind",
        "sys_close",
        "timer_init",
        "timer_set_callback",
        "timer_start",
        "timer_cancel",
        "get_func_ip",
        "get_attach_cookie",
        "task_pt_regs",
        "get_branch_snapshot",
        "trace_vprintk",
        "skc_to_unix_sock",
        "kallsyms_lookup_name",
        "find_vma",
        "loop",
        "strncmp",
        "get_func_arg",
        "get_func_ret",
        "get_func_arg_cnt",
        "get_retval",
        "set_retval",
        "xdp_get_buff_len",
        "xdp_load_bytes",
        "xdp_store_bytes",
        "copy_from_user_task",
        "skb_set_tstamp",
        "ima_file_hash",
        "kptr_xchg",
        "map_lookup_percpu_elem",
        "skc_to_mptcp_sock",
        "dynptr_from_mem",
        "ringbuf_reserve_dynptr",
        "ringbuf_submit_dynptr",
        "ringbuf_discard_dynptr",
        "dynptr_read",
        "dynptr_write",
        "dynptr_data",
        "tcp_raw_gen_syncookie_ipv4",
        "tcp_raw_gen_syncookie_ipv6",
        "tcp_raw_check_syncookie_ipv4",
        "tcp_raw_check_syncookie_ipv6",
        "ktime_get_tai_ns",
        "user_ringbuf_drain",
        "cgrp_storage_get",
        "cgrp_storage_delete",
    ];

    /// <summary>True when <paramref name="id"/> names a helper (1..MaxId-1; 0 is <c>unspec</c>).</summary>
    public static bool IsKnown(int id) => id > 0 && id < MaxId;

    /// <summary>The snake_case name without the <c>bpf_</c> prefix, e.g. <c>map_lookup_elem</c>.</summary>
    public static string ShortName(int id) => id >= 0 && id < MaxId ? Names[id] : "unknown";

    /// <summary>The name the verifier log uses: <c>bpf_map_lookup_elem</c>, or <c>unknown</c> for an invalid id.</summary>
    public static string KernelName(int id) => IsKnown(id) ? "bpf_" + Names[id] : "unknown";

    /// <summary>Looks a helper up by name, with or without the <c>bpf_</c> prefix.</summary>
    public static bool TryParse(string name, out HelperId id)
    {
        string s = name.StartsWith("bpf_", StringComparison.Ordinal) ? name[4..] : name;
        int index = Array.IndexOf(Names, s);
        id = (HelperId)index;
        return index > 0;
    }
}
