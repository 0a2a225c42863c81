namespace Ebpf.Abi.Helpers;

/// <summary>
/// Helper function ids, exactly the kernel's <c>enum bpf_func_id</c> (<c>__BPF_FUNC_MAPPER</c>, 6.18: 0..211).
/// The kernel name of each is <c>bpf_</c> + the snake_case form, see <see cref="HelperNames"/>.
/// </summary>
public enum HelperId
{
    /// <summary>BPF_FUNC_unspec: id 0 is no helper; a call to it is rejected as an unknown function.</summary>
    Unspec = 0,
    /// <summary>BPF_FUNC_map_lookup_elem (<c>bpf_map_lookup_elem</c>): Perform a lookup in map for an entry associated to key.</summary>
    MapLookupElem = 1,
    /// <summary>BPF_FUNC_map_update_elem (<c>bpf_map_update_elem</c>): Add or update the value of the entry associated to key in map with value.</summary>
    MapUpdateElem = 2,
    /// <summary>BPF_FUNC_map_delete_elem (<c>bpf_map_delete_elem</c>): Delete entry with key from map.</summary>
    MapDeleteElem = 3,
    /// <summary>BPF_FUNC_probe_read (<c>bpf_probe_read</c>): For tracing programs, safely attempt to read size bytes from kernel space address unsafe_ptr and store the data in dst.</summary>
    ProbeRead = 4,
    /// <summary>BPF_FUNC_ktime_get_ns (<c>bpf_ktime_get_ns</c>): Return the time elapsed since system boot, in nanoseconds.</summary>
    KtimeGetNs = 5,
    /// <summary>BPF_FUNC_trace_printk (<c>bpf_trace_printk</c>): This helper is a "printk()-like" facility for debugging.</summary>
    TracePrintk = 6,
    /// <summary>BPF_FUNC_get_prandom_u32 (<c>bpf_get_prandom_u32</c>): Get a pseudo-random number.</summary>
    GetPrandomU32 = 7,
    /// <summary>BPF_FUNC_get_smp_processor_id (<c>bpf_get_smp_processor_id</c>): Get the SMP (symmetric multiprocessing) processor id.</summary>
    GetSmpProcessorId = 8,
    /// <summary>BPF_FUNC_skb_store_bytes (<c>bpf_skb_store_bytes</c>): Store len bytes from address from into the packet associated to skb, at offset.</summary>
    SkbStoreBytes = 9,
    /// <summary>BPF_FUNC_l3_csum_replace (<c>bpf_l3_csum_replace</c>): Recompute the layer 3 (e.g. IP) checksum for the packet associated to skb.</summary>
    L3CsumReplace = 10,
    /// <summary>BPF_FUNC_l4_csum_replace (<c>bpf_l4_csum_replace</c>): Recompute the layer 4 (e.g. TCP, UDP or ICMP) checksum for the packet associated to skb.</summary>
    L4CsumReplace = 11,
    /// <summary>BPF_FUNC_tail_call (<c>bpf_tail_call</c>): This special helper is used to trigger a "tail call", or in other words, to jump into another eBPF program.</summary>
    TailCall = 12,
    /// <summary>BPF_FUNC_clone_redirect (<c>bpf_clone_redirect</c>): Clone and redirect the packet associated to skb to another net device of index ifindex.</summary>
    CloneRedirect = 13,
    /// <summary>BPF_FUNC_get_current_pid_tgid (<c>bpf_get_current_pid_tgid</c>): Get the current pid and tgid.</summary>
    GetCurrentPidTgid = 14,
    /// <summary>BPF_FUNC_get_current_uid_gid (<c>bpf_get_current_uid_gid</c>): Get the current uid and gid.</summary>
    GetCurrentUidGid = 15,
    /// <summary>BPF_FUNC_get_current_comm (<c>bpf_get_current_comm</c>): Copy the comm attribute of the current task into buf of size_of_buf.</summary>
    GetCurrentComm = 16,
    /// <summary>BPF_FUNC_get_cgroup_classid (<c>bpf_get_cgroup_classid</c>): Retrieve the classid for the current task, i.e. for the net_cls cgroup to which skb belongs.</summary>
    GetCgroupClassid = 17,
    /// <summary>BPF_FUNC_skb_vlan_push (<c>bpf_skb_vlan_push</c>): Push a vlan_tci (VLAN tag control information) of protocol vlan_proto to the packet associated to skb, then update the checksum.</summary>
    SkbVlanPush = 18,
    /// <summary>BPF_FUNC_skb_vlan_pop (<c>bpf_skb_vlan_pop</c>): Pop a VLAN header from the packet associated to skb.</summary>
    SkbVlanPop = 19,
    /// <summary>BPF_FUNC_skb_get_tunnel_key (<c>bpf_skb_get_tunnel_key</c>): Get tunnel metadata.</summary>
    SkbGetTunnelKey = 20,
    /// <summary>BPF_FUNC_skb_set_tunnel_key (<c>bpf_skb_set_tunnel_key</c>): Populate tunnel metadata for packet associated to skb. The tunnel metadata is set to the contents of key, of size.</summary>
    SkbSetTunnelKey = 21,
    /// <summary>BPF_FUNC_perf_event_read (<c>bpf_perf_event_read</c>): Read the value of a perf event counter.</summary>
    PerfEventRead = 22,
    /// <summary>BPF_FUNC_redirect (<c>bpf_redirect</c>): Redirect the packet to another net device of index ifindex.</summary>
    Redirect = 23,
    /// <summary>BPF_FUNC_get_route_realm (<c>bpf_get_route_realm</c>): Retrieve the realm or the route, that is to say the tclassid field of the destination for the skb.</summary>
    GetRouteRealm = 24,
    /// <summary>BPF_FUNC_perf_event_output (<c>bpf_perf_event_output</c>): Write raw data blob into a special BPF perf event held by map of type BPF_MAP_TYPE_PERF_EVENT_ARRAY.</summary>
    PerfEventOutput = 25,
    /// <summary>BPF_FUNC_skb_load_bytes (<c>bpf_skb_load_bytes</c>): This helper was provided as an easy way to load data from a packet.</summary>
    SkbLoadBytes = 26,
    /// <summary>BPF_FUNC_get_stackid (<c>bpf_get_stackid</c>): Walk a user or a kernel stack and return its id.</summary>
    GetStackid = 27,
    /// <summary>BPF_FUNC_csum_diff (<c>bpf_csum_diff</c>): Compute a checksum difference, from the raw buffer pointed by from, of length from_size (that must be a multiple of 4), towards the raw buffer pointed by to, of size to_size (same remark).</summary>
    CsumDiff = 28,
    /// <summary>BPF_FUNC_skb_get_tunnel_opt (<c>bpf_skb_get_tunnel_opt</c>): Retrieve tunnel options metadata for the packet associated to skb, and store the raw tunnel option data to the buffer opt of size.</summary>
    SkbGetTunnelOpt = 29,
    /// <summary>BPF_FUNC_skb_set_tunnel_opt (<c>bpf_skb_set_tunnel_opt</c>): Set tunnel options metadata for the packet associated to skb to the option data contained in the raw buffer opt of size.</summary>
    SkbSetTunnelOpt = 30,
    /// <summary>BPF_FUNC_skb_change_proto (<c>bpf_skb_change_proto</c>): Change the protocol of the skb to proto.</summary>
    SkbChangeProto = 31,
    /// <summary>BPF_FUNC_skb_change_type (<c>bpf_skb_change_type</c>): Change the packet type for the packet associated to skb.</summary>
    SkbChangeType = 32,
    /// <summary>BPF_FUNC_skb_under_cgroup (<c>bpf_skb_under_cgroup</c>): Check whether skb is a descendant of the cgroup2 held by map of type BPF_MAP_TYPE_CGROUP_ARRAY, at index.</summary>
    SkbUnderCgroup = 33,
    /// <summary>BPF_FUNC_get_hash_recalc (<c>bpf_get_hash_recalc</c>): Retrieve the hash of the packet, skb-&gt;hash.</summary>
    GetHashRecalc = 34,
    /// <summary>BPF_FUNC_get_current_task (<c>bpf_get_current_task</c>): Get the current task.</summary>
    GetCurrentTask = 35,
    /// <summary>BPF_FUNC_probe_write_user (<c>bpf_probe_write_user</c>): Attempt in a safe way to write len bytes from the buffer src to dst in memory.</summary>
    ProbeWriteUser = 36,
    /// <summary>BPF_FUNC_current_task_under_cgroup (<c>bpf_current_task_under_cgroup</c>): Check whether the probe is being run is the context of a given subset of the cgroup2 hierarchy.</summary>
    CurrentTaskUnderCgroup = 37,
    /// <summary>BPF_FUNC_skb_change_tail (<c>bpf_skb_change_tail</c>): Resize (trim or grow) the packet associated to skb to the new len.</summary>
    SkbChangeTail = 38,
    /// <summary>BPF_FUNC_skb_pull_data (<c>bpf_skb_pull_data</c>): Pull in non-linear data in case the skb is non-linear and not all of len are part of the linear section.</summary>
    SkbPullData = 39,
    /// <summary>BPF_FUNC_csum_update (<c>bpf_csum_update</c>): Add the checksum csum into skb-&gt;csum in case the driver has supplied a checksum for the entire packet into that field.</summary>
    CsumUpdate = 40,
    /// <summary>BPF_FUNC_set_hash_invalid (<c>bpf_set_hash_invalid</c>): Invalidate the current skb-&gt;hash.</summary>
    SetHashInvalid = 41,
    /// <summary>BPF_FUNC_get_numa_node_id (<c>bpf_get_numa_node_id</c>): Return the id of the current NUMA node.</summary>
    GetNumaNodeId = 42,
    /// <summary>BPF_FUNC_skb_change_head (<c>bpf_skb_change_head</c>): Grows headroom of packet associated to skb and adjusts the offset of the MAC header accordingly, adding len bytes of space.</summary>
    SkbChangeHead = 43,
    /// <summary>BPF_FUNC_xdp_adjust_head (<c>bpf_xdp_adjust_head</c>): Adjust (move) xdp_md-&gt;data by delta bytes.</summary>
    XdpAdjustHead = 44,
    /// <summary>BPF_FUNC_probe_read_str (<c>bpf_probe_read_str</c>): Copy a NUL terminated string from an unsafe kernel address unsafe_ptr to dst.</summary>
    ProbeReadStr = 45,
    /// <summary>BPF_FUNC_get_socket_cookie (<c>bpf_get_socket_cookie</c>): If the struct sk_buff pointed by skb has a known socket, retrieve the cookie (generated by the kernel) of this socket.</summary>
    GetSocketCookie = 46,
    /// <summary>BPF_FUNC_get_socket_uid (<c>bpf_get_socket_uid</c>): Get the owner UID of the socked associated to skb.</summary>
    GetSocketUid = 47,
    /// <summary>BPF_FUNC_set_hash (<c>bpf_set_hash</c>): Set the full hash for skb (set the field skb-&gt;hash) to value hash.</summary>
    SetHash = 48,
    /// <summary>BPF_FUNC_setsockopt (<c>bpf_setsockopt</c>): Emulate a call to setsockopt() on the socket associated to bpf_socket, which must be a full socket.</summary>
    Setsockopt = 49,
    /// <summary>BPF_FUNC_skb_adjust_room (<c>bpf_skb_adjust_room</c>): Grow or shrink the room for data in the packet associated to skb by len_diff, and according to the selected mode.</summary>
    SkbAdjustRoom = 50,
    /// <summary>BPF_FUNC_redirect_map (<c>bpf_redirect_map</c>): Redirect the packet to the endpoint referenced by map at index key.</summary>
    RedirectMap = 51,
    /// <summary>BPF_FUNC_sk_redirect_map (<c>bpf_sk_redirect_map</c>): Redirect the packet to the socket referenced by map (of type BPF_MAP_TYPE_SOCKMAP) at index key.</summary>
    SkRedirectMap = 52,
    /// <summary>BPF_FUNC_sock_map_update (<c>bpf_sock_map_update</c>): Add an entry to, or update a map referencing sockets.</summary>
    SockMapUpdate = 53,
    /// <summary>BPF_FUNC_xdp_adjust_meta (<c>bpf_xdp_adjust_meta</c>): Adjust the address pointed by xdp_md-&gt;data_meta by delta (which can be positive or negative).</summary>
    XdpAdjustMeta = 54,
    /// <summary>BPF_FUNC_perf_event_read_value (<c>bpf_perf_event_read_value</c>): Read the value of a perf event counter, and store it into buf of size buf_size.</summary>
    PerfEventReadValue = 55,
    /// <summary>BPF_FUNC_perf_prog_read_value (<c>bpf_perf_prog_read_value</c>): For en eBPF program attached to a perf event, retrieve the value of the event counter associated to ctx and store it in the structure pointed by buf and of size buf_size.</summary>
    PerfProgReadValue = 56,
    /// <summary>BPF_FUNC_getsockopt (<c>bpf_getsockopt</c>): Emulate a call to getsockopt() on the socket associated to bpf_socket, which must be a full socket.</summary>
    Getsockopt = 57,
    /// <summary>BPF_FUNC_override_return (<c>bpf_override_return</c>): Used for error injection, this helper uses kprobes to override the return value of the probed function, and to set it to rc.</summary>
    OverrideReturn = 58,
    /// <summary>BPF_FUNC_sock_ops_cb_flags_set (<c>bpf_sock_ops_cb_flags_set</c>): Attempt to set the value of the bpf_sock_ops_cb_flags field for the full TCP socket associated to bpf_sock_ops to argval.</summary>
    SockOpsCbFlagsSet = 59,
    /// <summary>BPF_FUNC_msg_redirect_map (<c>bpf_msg_redirect_map</c>): This helper is used in programs implementing policies at the socket level.</summary>
    MsgRedirectMap = 60,
    /// <summary>BPF_FUNC_msg_apply_bytes (<c>bpf_msg_apply_bytes</c>): For socket policies, apply the verdict of the eBPF program to the next bytes (number of bytes) of message msg.</summary>
    MsgApplyBytes = 61,
    /// <summary>BPF_FUNC_msg_cork_bytes (<c>bpf_msg_cork_bytes</c>): For socket policies, prevent the execution of the verdict eBPF program for message msg until bytes (byte number) have been accumulated.</summary>
    MsgCorkBytes = 62,
    /// <summary>BPF_FUNC_msg_pull_data (<c>bpf_msg_pull_data</c>): For socket policies, pull in non-linear data from user space for msg and set pointers msg-&gt;data and msg-&gt;data_end to start and end bytes offsets into msg, respectively.</summary>
    MsgPullData = 63,
    /// <summary>BPF_FUNC_bind (<c>bpf_bind</c>): Bind the socket associated to ctx to the address pointed by addr, of length addr_len.</summary>
    Bind = 64,
    /// <summary>BPF_FUNC_xdp_adjust_tail (<c>bpf_xdp_adjust_tail</c>): Adjust (move) xdp_md-&gt;data_end by delta bytes.</summary>
    XdpAdjustTail = 65,
    /// <summary>BPF_FUNC_skb_get_xfrm_state (<c>bpf_skb_get_xfrm_state</c>): Retrieve the XFRM state (IP transform framework, see also ip-xfrm(8)) at index in XFRM "security path" for skb.</summary>
    SkbGetXfrmState = 66,
    /// <summary>BPF_FUNC_get_stack (<c>bpf_get_stack</c>): Return a user or a kernel stack in bpf program provided buffer.</summary>
    GetStack = 67,
    /// <summary>BPF_FUNC_skb_load_bytes_relative (<c>bpf_skb_load_bytes_relative</c>): This helper is similar to bpf_skb_load_bytes() in that it provides an easy way to load len bytes from offset from the packet associated to skb, into the buffer pointed by to.</summary>
    SkbLoadBytesRelative = 68,
    /// <summary>BPF_FUNC_fib_lookup (<c>bpf_fib_lookup</c>): Do FIB lookup in kernel tables using parameters in params.</summary>
    FibLookup = 69,
    /// <summary>BPF_FUNC_sock_hash_update (<c>bpf_sock_hash_update</c>): Add an entry to, or update a sockhash map referencing sockets.</summary>
    SockHashUpdate = 70,
    /// <summary>BPF_FUNC_msg_redirect_hash (<c>bpf_msg_redirect_hash</c>): This helper is used in programs implementing policies at the socket level.</summary>
    MsgRedirectHash = 71,
    /// <summary>BPF_FUNC_sk_redirect_hash (<c>bpf_sk_redirect_hash</c>): This helper is used in programs implementing policies at the skb socket level.</summary>
    SkRedirectHash = 72,
    /// <summary>BPF_FUNC_lwt_push_encap (<c>bpf_lwt_push_encap</c>): Encapsulate the packet associated to skb within a Layer 3 protocol header.</summary>
    LwtPushEncap = 73,
    /// <summary>BPF_FUNC_lwt_seg6_store_bytes (<c>bpf_lwt_seg6_store_bytes</c>): Store len bytes from address from into the packet associated to skb, at offset.</summary>
    LwtSeg6StoreBytes = 74,
    /// <summary>BPF_FUNC_lwt_seg6_adjust_srh (<c>bpf_lwt_seg6_adjust_srh</c>): Adjust the size allocated to TLVs in the outermost IPv6 Segment Routing Header contained in the packet associated to skb, at position offset by delta bytes.</summary>
    LwtSeg6AdjustSrh = 75,
    /// <summary>BPF_FUNC_lwt_seg6_action (<c>bpf_lwt_seg6_action</c>): Apply an IPv6 Segment Routing action of type action to the packet associated to skb.</summary>
    LwtSeg6Action = 76,
    /// <summary>BPF_FUNC_rc_repeat (<c>bpf_rc_repeat</c>): This helper is used in programs implementing IR decoding, to report a successfully decoded repeat key message.</summary>
    RcRepeat = 77,
    /// <summary>BPF_FUNC_rc_keydown (<c>bpf_rc_keydown</c>): This helper is used in programs implementing IR decoding, to report a successfully decoded key press with scancode, toggle value in the given protocol.</summary>
    RcKeydown = 78,
    /// <summary>BPF_FUNC_skb_cgroup_id (<c>bpf_skb_cgroup_id</c>): Return the cgroup v2 id of the socket associated with the skb.</summary>
    SkbCgroupId = 79,
    /// <summary>BPF_FUNC_get_current_cgroup_id (<c>bpf_get_current_cgroup_id</c>): Get the current cgroup id based on the cgroup within which the current task is running.</summary>
    GetCurrentCgroupId = 80,
    /// <summary>BPF_FUNC_get_local_storage (<c>bpf_get_local_storage</c>): Get the pointer to the local storage area.</summary>
    GetLocalStorage = 81,
    /// <summary>BPF_FUNC_sk_select_reuseport (<c>bpf_sk_select_reuseport</c>): Select a SO_REUSEPORT socket from a BPF_MAP_TYPE_REUSEPORT_SOCKARRAY map.</summary>
    SkSelectReuseport = 82,
    /// <summary>BPF_FUNC_skb_ancestor_cgroup_id (<c>bpf_skb_ancestor_cgroup_id</c>): Return id of cgroup v2 that is ancestor of cgroup associated with the skb at the ancestor_level.</summary>
    SkbAncestorCgroupId = 83,
    /// <summary>BPF_FUNC_sk_lookup_tcp (<c>bpf_sk_lookup_tcp</c>): Look for TCP socket matching tuple, optionally in a child network namespace netns.</summary>
    SkLookupTcp = 84,
    /// <summary>BPF_FUNC_sk_lookup_udp (<c>bpf_sk_lookup_udp</c>): Look for UDP socket matching tuple, optionally in a child network namespace netns.</summary>
    SkLookupUdp = 85,
    /// <summary>BPF_FUNC_sk_release (<c>bpf_sk_release</c>): Release the reference held by sock.</summary>
    SkRelease = 86,
    /// <summary>BPF_FUNC_map_push_elem (<c>bpf_map_push_elem</c>): Push an element value in map.</summary>
    MapPushElem = 87,
    /// <summary>BPF_FUNC_map_pop_elem (<c>bpf_map_pop_elem</c>): Pop an element from map.</summary>
    MapPopElem = 88,
    /// <summary>BPF_FUNC_map_peek_elem (<c>bpf_map_peek_elem</c>): Get an element from map without removing it.</summary>
    MapPeekElem = 89,
    /// <summary>BPF_FUNC_msg_push_data (<c>bpf_msg_push_data</c>): For socket policies, insert len bytes into msg at offset start.</summary>
    MsgPushData = 90,
    /// <summary>BPF_FUNC_msg_pop_data (<c>bpf_msg_pop_data</c>): Will remove len bytes from a msg starting at byte start.</summary>
    MsgPopData = 91,
    /// <summary>BPF_FUNC_rc_pointer_rel (<c>bpf_rc_pointer_rel</c>): This helper is used in programs implementing IR decoding, to report a successfully decoded pointer movement.</summary>
    RcPointerRel = 92,
    /// <summary>BPF_FUNC_spin_lock (<c>bpf_spin_lock</c>): Acquire a spinlock represented by the pointer lock, which is stored as part of a value of a map.</summary>
    SpinLock = 93,
    /// <summary>BPF_FUNC_spin_unlock (<c>bpf_spin_unlock</c>): Release the lock previously locked by a call to bpf_spin_lock(lock).</summary>
    SpinUnlock = 94,
    /// <summary>BPF_FUNC_sk_fullsock (<c>bpf_sk_fullsock</c>): This helper gets a struct bpf_sock pointer such that all the fields in this bpf_sock can be accessed.</summary>
    SkFullsock = 95,
    /// <summary>BPF_FUNC_tcp_sock (<c>bpf_tcp_sock</c>): This helper gets a struct bpf_tcp_sock pointer from a struct bpf_sock pointer.</summary>
    TcpSock = 96,
    /// <summary>BPF_FUNC_skb_ecn_set_ce (<c>bpf_skb_ecn_set_ce</c>): Set ECN (Explicit Congestion Notification) field of IP header to CE (Congestion Encountered) if current value is ECT (ECN Capable Transport).</summary>
    SkbEcnSetCe = 97,
    /// <summary>BPF_FUNC_get_listener_sock (<c>bpf_get_listener_sock</c>): Return a struct bpf_sock pointer in TCP_LISTEN state.</summary>
    GetListenerSock = 98,
    /// <summary>BPF_FUNC_skc_lookup_tcp (<c>bpf_skc_lookup_tcp</c>): Look for TCP socket matching tuple, optionally in a child network namespace netns.</summary>
    SkcLookupTcp = 99,
    /// <summary>BPF_FUNC_tcp_check_syncookie (<c>bpf_tcp_check_syncookie</c>): Check whether iph and th contain a valid SYN cookie ACK for the listening socket in sk.</summary>
    TcpCheckSyncookie = 100,
    /// <summary>BPF_FUNC_sysctl_get_name (<c>bpf_sysctl_get_name</c>): Get name of sysctl in /proc/sys/ and copy it into provided by program buffer buf of size buf_len.</summary>
    SysctlGetName = 101,
    /// <summary>BPF_FUNC_sysctl_get_current_value (<c>bpf_sysctl_get_current_value</c>): Get current value of sysctl as it is presented in /proc/sys (incl.</summary>
    SysctlGetCurrentValue = 102,
    /// <summary>BPF_FUNC_sysctl_get_new_value (<c>bpf_sysctl_get_new_value</c>): Get new value being written by user space to sysctl (before the actual write happens) and copy it as a string into provided by program buffer buf of size buf_len.</summary>
    SysctlGetNewValue = 103,
    /// <summary>BPF_FUNC_sysctl_set_new_value (<c>bpf_sysctl_set_new_value</c>): Override new value being written by user space to sysctl with value provided by program in buffer buf of size buf_len.</summary>
    SysctlSetNewValue = 104,
    /// <summary>BPF_FUNC_strtol (<c>bpf_strtol</c>): Convert the initial part of the string from buffer buf of size buf_len to a long integer according to the given base and save the result in res.</summary>
    Strtol = 105,
    /// <summary>BPF_FUNC_strtoul (<c>bpf_strtoul</c>): Convert the initial part of the string from buffer buf of size buf_len to an unsigned long integer according to the given base and save the result in res.</summary>
    Strtoul = 106,
    /// <summary>BPF_FUNC_sk_storage_get (<c>bpf_sk_storage_get</c>): Get a bpf-local-storage from a sk.</summary>
    SkStorageGet = 107,
    /// <summary>BPF_FUNC_sk_storage_delete (<c>bpf_sk_storage_delete</c>): Delete a bpf-local-storage from a sk.</summary>
    SkStorageDelete = 108,
    /// <summary>BPF_FUNC_send_signal (<c>bpf_send_signal</c>): Send signal sig to the process of the current task.</summary>
    SendSignal = 109,
    /// <summary>BPF_FUNC_tcp_gen_syncookie (<c>bpf_tcp_gen_syncookie</c>): Try to issue a SYN cookie for the packet with corresponding IP/TCP headers, iph and th, on the listening socket in sk.</summary>
    TcpGenSyncookie = 110,
    /// <summary>BPF_FUNC_skb_output (<c>bpf_skb_output</c>): Write raw data blob into a special BPF perf event held by map of type BPF_MAP_TYPE_PERF_EVENT_ARRAY.</summary>
    SkbOutput = 111,
    /// <summary>BPF_FUNC_probe_read_user (<c>bpf_probe_read_user</c>): Safely attempt to read size bytes from user space address unsafe_ptr and store the data in dst.</summary>
    ProbeReadUser = 112,
    /// <summary>BPF_FUNC_probe_read_kernel (<c>bpf_probe_read_kernel</c>): Safely attempt to read size bytes from kernel space address unsafe_ptr and store the data in dst.</summary>
    ProbeReadKernel = 113,
    /// <summary>BPF_FUNC_probe_read_user_str (<c>bpf_probe_read_user_str</c>): Copy a NUL terminated string from an unsafe user address unsafe_ptr to dst.</summary>
    ProbeReadUserStr = 114,
    /// <summary>BPF_FUNC_probe_read_kernel_str (<c>bpf_probe_read_kernel_str</c>): Copy a NUL terminated string from an unsafe kernel address unsafe_ptr to dst.</summary>
    ProbeReadKernelStr = 115,
    /// <summary>BPF_FUNC_tcp_send_ack (<c>bpf_tcp_send_ack</c>): Send out a tcp-ack.</summary>
    TcpSendAck = 116,
    /// <summary>BPF_FUNC_send_signal_thread (<c>bpf_send_signal_thread</c>): Send signal sig to the thread corresponding to the current task.</summary>
    SendSignalThread = 117,
    /// <summary>BPF_FUNC_jiffies64 (<c>bpf_jiffies64</c>): Obtain the 64bit jiffies</summary>
    Jiffies64 = 118,
    /// <summary>BPF_FUNC_read_branch_records (<c>bpf_read_branch_records</c>): For an eBPF program attached to a perf event, retrieve the branch records (struct perf_branch_entry) associated to ctx and store it in the buffer pointed by buf up to size size bytes.</summary>
    ReadBranchRecords = 119,
    /// <summary>BPF_FUNC_get_ns_current_pid_tgid (<c>bpf_get_ns_current_pid_tgid</c>): Returns 0 on success, values for pid and tgid as seen from the current namespace will be returned in nsdata.</summary>
    GetNsCurrentPidTgid = 120,
    /// <summary>BPF_FUNC_xdp_output (<c>bpf_xdp_output</c>): Write raw data blob into a special BPF perf event held by map of type BPF_MAP_TYPE_PERF_EVENT_ARRAY.</summary>
    XdpOutput = 121,
    /// <summary>BPF_FUNC_get_netns_cookie (<c>bpf_get_netns_cookie</c>): Retrieve the cookie (generated by the kernel) of the network namespace the input ctx is associated with.</summary>
    GetNetnsCookie = 122,
    /// <summary>BPF_FUNC_get_current_ancestor_cgroup_id (<c>bpf_get_current_ancestor_cgroup_id</c>): Return id of cgroup v2 that is ancestor of the cgroup associated with the current task at the ancestor_level.</summary>
    GetCurrentAncestorCgroupId = 123,
    /// <summary>BPF_FUNC_sk_assign (<c>bpf_sk_assign</c>): Helper is overloaded depending on BPF program type.</summary>
    SkAssign = 124,
    /// <summary>BPF_FUNC_ktime_get_boot_ns (<c>bpf_ktime_get_boot_ns</c>): Return the time elapsed since system boot, in nanoseconds.</summary>
    KtimeGetBootNs = 125,
    /// <summary>BPF_FUNC_seq_printf (<c>bpf_seq_printf</c>): bpf_seq_printf() uses seq_file seq_printf() to print out the format string.</summary>
    SeqPrintf = 126,
    /// <summary>BPF_FUNC_seq_write (<c>bpf_seq_write</c>): bpf_seq_write() uses seq_file seq_write() to write the data.</summary>
    SeqWrite = 127,
    /// <summary>BPF_FUNC_sk_cgroup_id (<c>bpf_sk_cgroup_id</c>): Return the cgroup v2 id of the socket sk.</summary>
    SkCgroupId = 128,
    /// <summary>BPF_FUNC_sk_ancestor_cgroup_id (<c>bpf_sk_ancestor_cgroup_id</c>): Return id of cgroup v2 that is ancestor of cgroup associated with the sk at the ancestor_level.</summary>
    SkAncestorCgroupId = 129,
    /// <summary>BPF_FUNC_ringbuf_output (<c>bpf_ringbuf_output</c>): Copy size bytes from data into a ring buffer ringbuf.</summary>
    RingbufOutput = 130,
    /// <summary>BPF_FUNC_ringbuf_reserve (<c>bpf_ringbuf_reserve</c>): Reserve size bytes of payload in a ring buffer ringbuf.</summary>
    RingbufReserve = 131,
    /// <summary>BPF_FUNC_ringbuf_submit (<c>bpf_ringbuf_submit</c>): Submit reserved ring buffer sample, pointed to by data.</summary>
    RingbufSubmit = 132,
    /// <summary>BPF_FUNC_ringbuf_discard (<c>bpf_ringbuf_discard</c>): Discard reserved ring buffer sample, pointed to by data.</summary>
    RingbufDiscard = 133,
    /// <summary>BPF_FUNC_ringbuf_query (<c>bpf_ringbuf_query</c>): Query various characteristics of provided ring buffer.</summary>
    RingbufQuery = 134,
    /// <summary>BPF_FUNC_csum_level (<c>bpf_csum_level</c>): Change the skbs checksum level by one layer up or down, or reset it entirely to none in order to have the stack perform checksum validation.</summary>
    CsumLevel = 135,
    /// <summary>BPF_FUNC_skc_to_tcp6_sock (<c>bpf_skc_to_tcp6_sock</c>): Dynamically cast a sk pointer to a tcp6_sock pointer.</summary>
    SkcToTcp6Sock = 136,
    /// <summary>BPF_FUNC_skc_to_tcp_sock (<c>bpf_skc_to_tcp_sock</c>): Dynamically cast a sk pointer to a tcp_sock pointer.</summary>
    SkcToTcpSock = 137,
    /// <summary>BPF_FUNC_skc_to_tcp_timewait_sock (<c>bpf_skc_to_tcp_timewait_sock</c>): Dynamically cast a sk pointer to a tcp_timewait_sock pointer.</summary>
    SkcToTcpTimewaitSock = 138,
    /// <summary>BPF_FUNC_skc_to_tcp_request_sock (<c>bpf_skc_to_tcp_request_sock</c>): Dynamically cast a sk pointer to a tcp_request_sock pointer.</summary>
    SkcToTcpRequestSock = 139,
    /// <summary>BPF_FUNC_skc_to_udp6_sock (<c>bpf_skc_to_udp6_sock</c>): Dynamically cast a sk pointer to a udp6_sock pointer.</summary>
    SkcToUdp6Sock = 140,
    /// <summary>BPF_FUNC_get_task_stack (<c>bpf_get_task_stack</c>): Return a user or a kernel stack in bpf program provided buffer.</summary>
    GetTaskStack = 141,
    /// <summary>BPF_FUNC_load_hdr_opt (<c>bpf_load_hdr_opt</c>): Load header option.</summary>
    LoadHdrOpt = 142,
    /// <summary>BPF_FUNC_store_hdr_opt (<c>bpf_store_hdr_opt</c>): Store header option.</summary>
    StoreHdrOpt = 143,
    /// <summary>BPF_FUNC_reserve_hdr_opt (<c>bpf_reserve_hdr_opt</c>): Reserve len bytes for the bpf header option.</summary>
    ReserveHdrOpt = 144,
    /// <summary>BPF_FUNC_inode_storage_get (<c>bpf_inode_storage_get</c>): Get a bpf_local_storage from an inode.</summary>
    InodeStorageGet = 145,
    /// <summary>BPF_FUNC_inode_storage_delete (<c>bpf_inode_storage_delete</c>): Delete a bpf_local_storage from an inode.</summary>
    InodeStorageDelete = 146,
    /// <summary>BPF_FUNC_d_path (<c>bpf_d_path</c>): Return full path for given struct path object, which needs to be the kernel BTF path object.</summary>
    DPath = 147,
    /// <summary>BPF_FUNC_copy_from_user (<c>bpf_copy_from_user</c>): Read size bytes from user space address user_ptr and store the data in dst.</summary>
    CopyFromUser = 148,
    /// <summary>BPF_FUNC_snprintf_btf (<c>bpf_snprintf_btf</c>): Use BTF to store a string representation of ptr-&gt;ptr in str, using ptr-&gt;type_id.</summary>
    SnprintfBtf = 149,
    /// <summary>BPF_FUNC_seq_printf_btf (<c>bpf_seq_printf_btf</c>): Use BTF to write to seq_write a string representation of ptr-&gt;ptr, using ptr-&gt;type_id as per bpf_snprintf_btf().</summary>
    SeqPrintfBtf = 150,
    /// <summary>BPF_FUNC_skb_cgroup_classid (<c>bpf_skb_cgroup_classid</c>): See bpf_get_cgroup_classid() for the main description.</summary>
    SkbCgroupClassid = 151,
    /// <summary>BPF_FUNC_redirect_neigh (<c>bpf_redirect_neigh</c>): Redirect the packet to another net device of index ifindex and fill in L2 addresses from neighboring subsystem.</summary>
    RedirectNeigh = 152,
    /// <summary>BPF_FUNC_per_cpu_ptr (<c>bpf_per_cpu_ptr</c>): Take a pointer to a percpu ksym and return a pointer to the variable of the given CPU.</summary>
    PerCpuPtr = 153,
    /// <summary>BPF_FUNC_this_cpu_ptr (<c>bpf_this_cpu_ptr</c>): Take a pointer to a percpu ksym, percpu_ptr, and return a pointer to the percpu kernel variable on this cpu.</summary>
    ThisCpuPtr = 154,
    /// <summary>BPF_FUNC_redirect_peer (<c>bpf_redirect_peer</c>): Redirect the packet to another net device of index ifindex.</summary>
    RedirectPeer = 155,
    /// <summary>BPF_FUNC_task_storage_get (<c>bpf_task_storage_get</c>): Get a bpf_local_storage from the task.</summary>
    TaskStorageGet = 156,
    /// <summary>BPF_FUNC_task_storage_delete (<c>bpf_task_storage_delete</c>): Delete a bpf_local_storage from a task.</summary>
    TaskStorageDelete = 157,
    /// <summary>BPF_FUNC_get_current_task_btf (<c>bpf_get_current_task_btf</c>): Return a BTF pointer to the "current" task.</summary>
    GetCurrentTaskBtf = 158,
    /// <summary>BPF_FUNC_bprm_opts_set (<c>bpf_bprm_opts_set</c>): Set or clear certain options on bprm:</summary>
    BprmOptsSet = 159,
    /// <summary>BPF_FUNC_ktime_get_coarse_ns (<c>bpf_ktime_get_coarse_ns</c>): Return a coarse-grained version of the time elapsed since system boot, in nanoseconds.</summary>
    KtimeGetCoarseNs = 160,
    /// <summary>BPF_FUNC_ima_inode_hash (<c>bpf_ima_inode_hash</c>): Returns the stored IMA hash of the inode (if it's available).</summary>
    ImaInodeHash = 161,
    /// <summary>BPF_FUNC_sock_from_file (<c>bpf_sock_from_file</c>): If the given file represents a socket, returns the associated socket.</summary>
    SockFromFile = 162,
    /// <summary>BPF_FUNC_check_mtu (<c>bpf_check_mtu</c>): Check packet size against exceeding MTU of net device (based on ifindex).</summary>
    CheckMtu = 163,
    /// <summary>BPF_FUNC_for_each_map_elem (<c>bpf_for_each_map_elem</c>): For each element in map, call callback_fn function with map, callback_ctx and other map-specific parameters.</summary>
    ForEachMapElem = 164,
    /// <summary>BPF_FUNC_snprintf (<c>bpf_snprintf</c>): Outputs a string into the str buffer of size str_size based on a format string stored in a read-only map pointed by fmt.</summary>
    Snprintf = 165,
    /// <summary>BPF_FUNC_sys_bpf (<c>bpf_sys_bpf</c>): Execute bpf syscall with given arguments.</summary>
    SysBpf = 166,
    /// <summary>BPF_FUNC_btf_find_by_name_kind (<c>bpf_btf_find_by_name_kind</c>): Find BTF type with given name and kind in vmlinux BTF or in module's BTFs.</summary>
    BtfFindByNameKind = 167,
    /// <summary>BPF_FUNC_sys_close (<c>bpf_sys_close</c>): Execute close syscall for given FD.</summary>
    SysClose = 168,
    /// <summary>BPF_FUNC_timer_init (<c>bpf_timer_init</c>): Initialize the timer.</summary>
    TimerInit = 169,
    /// <summary>BPF_FUNC_timer_set_callback (<c>bpf_timer_set_callback</c>): Configure the timer to call callback_fn static function.</summary>
    TimerSetCallback = 170,
    /// <summary>BPF_FUNC_timer_start (<c>bpf_timer_start</c>): Set timer expiration N nanoseconds from the current time.</summary>
    TimerStart = 171,
    /// <summary>BPF_FUNC_timer_cancel (<c>bpf_timer_cancel</c>): Cancel the timer and wait for callback_fn to finish if it was running.</summary>
    TimerCancel = 172,
    /// <summary>BPF_FUNC_get_func_ip (<c>bpf_get_func_ip</c>): Get address of the traced function (for tracing and kprobe programs).</summary>
    GetFuncIp = 173,
    /// <summary>BPF_FUNC_get_attach_cookie (<c>bpf_get_attach_cookie</c>): Get bpf_cookie value provided (optionally) during the program attachment.</summary>
    GetAttachCookie = 174,
    /// <summary>BPF_FUNC_task_pt_regs (<c>bpf_task_pt_regs</c>): Get the struct pt_regs associated with task.</summary>
    TaskPtRegs = 175,
    /// <summary>BPF_FUNC_get_branch_snapshot (<c>bpf_get_branch_snapshot</c>): Get branch trace from hardware engines like Intel LBR.</summary>
    GetBranchSnapshot = 176,
    /// <summary>BPF_FUNC_trace_vprintk (<c>bpf_trace_vprintk</c>): Behaves like bpf_trace_printk() helper, but takes an array of u64 to format and can handle more format args as a result.</summary>
    TraceVprintk = 177,
    /// <summary>BPF_FUNC_skc_to_unix_sock (<c>bpf_skc_to_unix_sock</c>): Dynamically cast a sk pointer to a unix_sock pointer.</summary>
    SkcToUnixSock = 178,
    /// <summary>BPF_FUNC_kallsyms_lookup_name (<c>bpf_kallsyms_lookup_name</c>): Get the address of a kernel symbol, returned in res.</summary>
    KallsymsLookupName = 179,
    /// <summary>BPF_FUNC_find_vma (<c>bpf_find_vma</c>): Find vma of task that contains addr, call callback_fn function with task, vma, and callback_ctx.</summary>
    FindVma = 180,
    /// <summary>BPF_FUNC_loop (<c>bpf_loop</c>): For nr_loops, call callback_fn function with callback_ctx as the context parameter.</summary>
    Loop = 181,
    /// <summary>BPF_FUNC_strncmp (<c>bpf_strncmp</c>): Do strncmp() between s1 and s2.</summary>
    Strncmp = 182,
    /// <summary>BPF_FUNC_get_func_arg (<c>bpf_get_func_arg</c>): Get n-th argument register (zero based) of the traced function (for tracing programs) returned in value.</summary>
    GetFuncArg = 183,
    /// <summary>BPF_FUNC_get_func_ret (<c>bpf_get_func_ret</c>): Get return value of the traced function (for tracing programs) in value.</summary>
    GetFuncRet = 184,
    /// <summary>BPF_FUNC_get_func_arg_cnt (<c>bpf_get_func_arg_cnt</c>): Get number of registers of the traced function (for tracing programs) where function arguments are stored in these registers.</summary>
    GetFuncArgCnt = 185,
    /// <summary>BPF_FUNC_get_retval (<c>bpf_get_retval</c>): Get the BPF program's return value that will be returned to the upper layers.</summary>
    GetRetval = 186,
    /// <summary>BPF_FUNC_set_retval (<c>bpf_set_retval</c>): Set the BPF program's return value that will be returned to the upper layers.</summary>
    SetRetval = 187,
    /// <summary>BPF_FUNC_xdp_get_buff_len (<c>bpf_xdp_get_buff_len</c>): Get the total size of a given xdp buff (linear and paged area)</summary>
    XdpGetBuffLen = 188,
    /// <summary>BPF_FUNC_xdp_load_bytes (<c>bpf_xdp_load_bytes</c>): This helper is provided as an easy way to load data from a xdp buffer.</summary>
    XdpLoadBytes = 189,
    /// <summary>BPF_FUNC_xdp_store_bytes (<c>bpf_xdp_store_bytes</c>): Store len bytes from buffer buf into the frame associated to xdp_md, at offset.</summary>
    XdpStoreBytes = 190,
    /// <summary>BPF_FUNC_copy_from_user_task (<c>bpf_copy_from_user_task</c>): Read size bytes from user space address user_ptr in tsk's address space, and stores the data in dst.</summary>
    CopyFromUserTask = 191,
    /// <summary>BPF_FUNC_skb_set_tstamp (<c>bpf_skb_set_tstamp</c>): Change the __sk_buff-&gt;tstamp_type to tstamp_type and set tstamp to the __sk_buff-&gt;tstamp together.</summary>
    SkbSetTstamp = 192,
    /// <summary>BPF_FUNC_ima_file_hash (<c>bpf_ima_file_hash</c>): Returns a calculated IMA hash of the file.</summary>
    ImaFileHash = 193,
    /// <summary>BPF_FUNC_kptr_xchg (<c>bpf_kptr_xchg</c>): Exchange kptr at pointer map_value with ptr, and return the old value.</summary>
    KptrXchg = 194,
    /// <summary>BPF_FUNC_map_lookup_percpu_elem (<c>bpf_map_lookup_percpu_elem</c>): Perform a lookup in percpu map for an entry associated to key on cpu.</summary>
    MapLookupPercpuElem = 195,
    /// <summary>BPF_FUNC_skc_to_mptcp_sock (<c>bpf_skc_to_mptcp_sock</c>): Dynamically cast a sk pointer to a mptcp_sock pointer.</summary>
    SkcToMptcpSock = 196,
    /// <summary>BPF_FUNC_dynptr_from_mem (<c>bpf_dynptr_from_mem</c>): Get a dynptr to local memory data.</summary>
    DynptrFromMem = 197,
    /// <summary>BPF_FUNC_ringbuf_reserve_dynptr (<c>bpf_ringbuf_reserve_dynptr</c>): Reserve size bytes of payload in a ring buffer ringbuf through the dynptr interface.</summary>
    RingbufReserveDynptr = 198,
    /// <summary>BPF_FUNC_ringbuf_submit_dynptr (<c>bpf_ringbuf_submit_dynptr</c>): Submit reserved ring buffer sample, pointed to by data, through the dynptr interface.</summary>
    RingbufSubmitDynptr = 199,
    /// <summary>BPF_FUNC_ringbuf_discard_dynptr (<c>bpf_ringbuf_discard_dynptr</c>): Discard reserved ring buffer sample through the dynptr interface.</summary>
    RingbufDiscardDynptr = 200,
    /// <summary>BPF_FUNC_dynptr_read (<c>bpf_dynptr_read</c>): Read len bytes from src into dst, starting from offset into src.</summary>
    DynptrRead = 201,
    /// <summary>BPF_FUNC_dynptr_write (<c>bpf_dynptr_write</c>): Write len bytes from src into dst, starting from offset into dst.</summary>
    DynptrWrite = 202,
    /// <summary>BPF_FUNC_dynptr_data (<c>bpf_dynptr_data</c>): Get a pointer to the underlying dynptr data.</summary>
    DynptrData = 203,
    /// <summary>BPF_FUNC_tcp_raw_gen_syncookie_ipv4 (<c>bpf_tcp_raw_gen_syncookie_ipv4</c>): Try to issue a SYN cookie for the packet with corresponding IPv4/TCP headers, iph and th, without depending on a listening socket.</summary>
    TcpRawGenSyncookieIpv4 = 204,
    /// <summary>BPF_FUNC_tcp_raw_gen_syncookie_ipv6 (<c>bpf_tcp_raw_gen_syncookie_ipv6</c>): Try to issue a SYN cookie for the packet with corresponding IPv6/TCP headers, iph and th, without depending on a listening socket.</summary>
    TcpRawGenSyncookieIpv6 = 205,
    /// <summary>BPF_FUNC_tcp_raw_check_syncookie_ipv4 (<c>bpf_tcp_raw_check_syncookie_ipv4</c>): Check whether iph and th contain a valid SYN cookie ACK without depending on a listening socket.</summary>
    TcpRawCheckSyncookieIpv4 = 206,
    /// <summary>BPF_FUNC_tcp_raw_check_syncookie_ipv6 (<c>bpf_tcp_raw_check_syncookie_ipv6</c>): Check whether iph and th contain a valid SYN cookie ACK without depending on a listening socket.</summary>
    TcpRawCheckSyncookieIpv6 = 207,
    /// <summary>BPF_FUNC_ktime_get_tai_ns (<c>bpf_ktime_get_tai_ns</c>): A nonsettable system-wide clock derived from wall-clock time but ignoring leap seconds.</summary>
    KtimeGetTaiNs = 208,
    /// <summary>BPF_FUNC_user_ringbuf_drain (<c>bpf_user_ringbuf_drain</c>): Drain samples from the specified user ring buffer, and invoke the provided callback for each such sample:</summary>
    UserRingbufDrain = 209,
    /// <summary>BPF_FUNC_cgrp_storage_get (<c>bpf_cgrp_storage_get</c>): Get a bpf_local_storage from the given cgroup, creating it when BPF_LOCAL_STORAGE_GET_F_CREATE is passed.</summary>
    CgrpStorageGet = 210,
    /// <summary>BPF_FUNC_cgrp_storage_delete (<c>bpf_cgrp_storage_delete</c>): Delete a bpf_local_storage from the given cgroup.</summary>
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
