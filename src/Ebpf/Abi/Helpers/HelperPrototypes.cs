using static Ebpf.Abi.Helpers.HelperArgKind;
using static Ebpf.Abi.Helpers.HelperArgFlags;

namespace Ebpf.Abi.Helpers;

/// <summary>
/// The prototype table (program-types.md §4.1, 6.1 source with the 6.12 MEM_WRITE backports). Only helpers
/// of 6.18's <c>enum bpf_func_id</c> has a row; the few that need machinery the verifier lacks (dynptrs, kptrs)
/// carry <see cref="HelperPrototype.Unsupported"/> and are rejected, never let through unchecked.
/// </summary>
public static class HelperPrototypes
{
    // Shorthand for the argument vocabulary, so each row below reads like the kernel's proto.
    private static readonly HelperArg Any = new(Anything);
    private static readonly HelperArg Map = new(ConstMapPtr);
    private static readonly HelperArg Key = new(PtrToMapKey);
    private static readonly HelperArg Value = new(PtrToMapValue);
    private static readonly HelperArg UninitValue = new(PtrToMapValue, Uninit | Write);
    private static readonly HelperArg Mem = new(PtrToMem);
    private static readonly HelperArg MemRo = new(PtrToMem, ReadOnly);
    private static readonly HelperArg MemRoOrNull = new(PtrToMem, ReadOnly | MaybeNull);
    private static readonly HelperArg MemOrNullW = new(PtrToMem, MaybeNull | Write);
    private static readonly HelperArg UninitMem = new(PtrToMem, Uninit | Write);
    private static readonly HelperArg Size = new(ConstSize);
    private static readonly HelperArg SizeOrZero = new(ConstSizeOrZero);
    private static readonly HelperArg AllocSize = new(ConstAllocSizeOrZero);
    private static readonly HelperArg Ctx = new(PtrToCtx);
    private static readonly HelperArg Func = new(PtrToFunc);
    private static readonly HelperArg StackOrNull = new(PtrToStack, MaybeNull);
    private static readonly HelperArg ConstStr = new(PtrToConstStr);
    private static readonly HelperArg RingbufRelease = new(PtrToRingbufMem, Release);
    private static readonly HelperArg SpinLock = new(PtrToSpinLock);
    private static readonly HelperArg Timer = new(PtrToTimer);
    private static readonly HelperArg Sock = new(PtrToSocket);
    private static readonly HelperArg Uninit8 = new(PtrToMem, Uninit | Write | FixedSize | Aligned, 8);
    /// <summary>An in/out u32 (check_mtu's mtu_len: read, then written): it must be initialized.</summary>
    private static readonly HelperArg InOut4 = new(PtrToMem, Write | FixedSize | Aligned, 4);
    private static readonly HelperArg MemW = new(PtrToMem, Write);
    private static readonly HelperArg SockCommon = new(PtrToBtfIdSockCommon);
    private static readonly HelperArg CtxOrNull = new(PtrToCtx, MaybeNull);
    private static readonly HelperArg ValueOrNull = new(PtrToMapValue, MaybeNull);
    private static readonly HelperArg SockCommonOrNull = new(PtrToSocket, MaybeNull);
    private static HelperArg Btf(string type) => new(PtrToBtfId, BtfType: type);
    private static HelperArg BtfOrNull(string type) => new(PtrToBtfId, MaybeNull, BtfType: type);
    private static HelperArg FixedRo(int size) => new(PtrToMem, ReadOnly | FixedSize, size);

    private static readonly MapType[] MapElementTypes =
    [
        MapType.Hash, MapType.Array, MapType.PercpuHash, MapType.PercpuArray, MapType.LruHash, MapType.LruPercpuHash,
        MapType.LpmTrie, MapType.ArrayOfMaps, MapType.HashOfMaps, MapType.Devmap, MapType.DevmapHash,
        MapType.Sockmap, MapType.Sockhash, MapType.Cpumap, MapType.Xskmap, MapType.ReuseportSockarray,
        MapType.CgroupStorage, MapType.PercpuCgroupStorage, MapType.SkStorage, MapType.InodeStorage,
        MapType.TaskStorage, MapType.CgrpStorage, MapType.StackTrace, MapType.CgroupArray, MapType.PerfEventArray,
        MapType.ProgArray, MapType.StructOps,
    ];

    private static readonly Dictionary<HelperId, HelperPrototype> Table = Build();

    /// <summary>The prototype of <paramref name="id"/>, or null when this table does not model it.</summary>
    public static HelperPrototype? Get(HelperId id) => Table.GetValueOrDefault(id);

    /// <summary>The prototype <paramref name="type"/>'s <c>get_func_proto</c> hands out for <paramref name="id"/>:
    /// a few helpers have per-type variants with different argument types.</summary>
    public static HelperPrototype? Get(HelperId id, ProgramType type) => (id, type) switch
    {
        // bpf_sk_storage_get_cg_sock_proto: the socket is the context itself.
        (HelperId.SkStorageGet, ProgramType.CgroupSock) => SkStorageGetCgSock,
        // bpf_sk_lookup_assign_proto: a socket or NULL, not a BTF pointer.
        (HelperId.SkAssign, ProgramType.SkLookup) => SkAssignSkLookup,
        // bpf_sk_setsockopt_proto / bpf_sk_getsockopt_proto (struct_ops): the socket is a BTF pointer, not the context.
        (HelperId.Setsockopt, ProgramType.StructOps) => SkSetsockopt,
        (HelperId.Getsockopt, ProgramType.StructOps) => SkGetsockopt,
        _ => Get(id),
    };

    private static readonly HelperPrototype SkSetsockopt = P(HelperId.Setsockopt, HelperReturnKind.Integer, SockCommon, Any, Any, MemRo, Size);
    private static readonly HelperPrototype SkGetsockopt = P(HelperId.Getsockopt, HelperReturnKind.Integer, SockCommon, Any, Any, UninitMem, Size);
    private static readonly HelperPrototype SkStorageGetCgSock =
        P(HelperId.SkStorageGet, HelperReturnKind.MapValueOrNull, Map, Ctx, ValueOrNull, Any) with { AcceptedMapTypes = [MapType.SkStorage] };
    private static readonly HelperPrototype SkAssignSkLookup = P(HelperId.SkAssign, HelperReturnKind.Integer, Ctx, SockCommonOrNull, Any);

    /// <summary>Every modelled prototype, by id.</summary>
    public static IEnumerable<HelperPrototype> All => Table.Values.OrderBy(p => p.Id);

    private static HelperPrototype P(HelperId id, HelperReturnKind ret, params HelperArg[] args) => new(id, ret, args);

    private static Dictionary<HelperId, HelperPrototype> Build()
    {
        const HelperReturnKind Int = HelperReturnKind.Integer, Void = HelperReturnKind.Void;
        var list = new List<HelperPrototype>
        {
            // Maps (kernel/bpf/helpers.c)
            P(HelperId.MapLookupElem, HelperReturnKind.MapValueOrNull, Map, Key) with { PacketAccess = true },
            P(HelperId.MapUpdateElem, Int, Map, Key, Value, Any) with { PacketAccess = true },
            P(HelperId.MapDeleteElem, Int, Map, Key) with { PacketAccess = true },
            P(HelperId.MapPushElem, Int, Map, Value, Any) with { PacketAccess = true, AcceptedMapTypes = [MapType.Queue, MapType.Stack, MapType.BloomFilter] },
            P(HelperId.MapPopElem, Int, Map, UninitValue) with { AcceptedMapTypes = [MapType.Queue, MapType.Stack] },
            P(HelperId.MapPeekElem, Int, Map, UninitValue) with { AcceptedMapTypes = [MapType.Queue, MapType.Stack, MapType.BloomFilter] },
            P(HelperId.MapLookupPercpuElem, HelperReturnKind.MapValueOrNull, Map, Key, Any) with { PacketAccess = true, AcceptedMapTypes = [MapType.PercpuHash, MapType.PercpuArray, MapType.LruPercpuHash] },
            P(HelperId.ForEachMapElem, Int, Map, Func, StackOrNull, Any),
            P(HelperId.Loop, Int, Any, Func, StackOrNull, Any),
            P(HelperId.TailCall, Void, Ctx, Map, Any) with { AcceptedMapTypes = [MapType.ProgArray] },

            // Time, randomness, cpu
            P(HelperId.KtimeGetNs, Int),
            P(HelperId.KtimeGetBootNs, Int),
            P(HelperId.KtimeGetCoarseNs, Int),
            P(HelperId.KtimeGetTaiNs, Int),
            P(HelperId.Jiffies64, Int),
            P(HelperId.GetPrandomU32, Int),
            P(HelperId.GetSmpProcessorId, Int),
            P(HelperId.GetNumaNodeId, Int),

            // Printing and strings
            new HelperPrototype(HelperId.TracePrintk, Int, [MemRo, Size], GplOnly: true),
            new HelperPrototype(HelperId.TraceVprintk, Int, [MemRo, Size, MemRoOrNull, SizeOrZero], GplOnly: true),
            new HelperPrototype(HelperId.Snprintf, Int, [MemOrNullW, SizeOrZero, ConstStr, MemRoOrNull, SizeOrZero], GplOnly: true),
            P(HelperId.Strncmp, Int, Mem, Size, ConstStr),
            P(HelperId.Strtol, Int, MemRo, Size, Any, Uninit8),
            P(HelperId.Strtoul, Int, MemRo, Size, Any, Uninit8),

            // Ring buffer (kernel/bpf/ringbuf.c)
            P(HelperId.RingbufOutput, Int, Map, MemRo, SizeOrZero, Any) with { AcceptedMapTypes = [MapType.Ringbuf] },
            P(HelperId.RingbufReserve, HelperReturnKind.RingbufMemOrNull, Map, AllocSize, Any) with { AcceptedMapTypes = [MapType.Ringbuf] },
            P(HelperId.RingbufSubmit, Void, RingbufRelease, Any),
            P(HelperId.RingbufDiscard, Void, RingbufRelease, Any),
            P(HelperId.RingbufQuery, Int, Map, Any) with { AcceptedMapTypes = [MapType.Ringbuf] },

            // Perf events and stacks
            new HelperPrototype(HelperId.PerfEventOutput, Int, [Ctx, Map, Any, MemRo, SizeOrZero], GplOnly: true) { AcceptedMapTypes = [MapType.PerfEventArray] },
            new HelperPrototype(HelperId.PerfEventRead, Int, [Map, Any], GplOnly: true) { AcceptedMapTypes = [MapType.PerfEventArray] },
            new HelperPrototype(HelperId.PerfEventReadValue, Int, [Map, Any, UninitMem, Size], GplOnly: true) { AcceptedMapTypes = [MapType.PerfEventArray] },
            new HelperPrototype(HelperId.PerfProgReadValue, Int, [Ctx, UninitMem, Size], GplOnly: true),
            new HelperPrototype(HelperId.GetStackid, Int, [Ctx, Map, Any], GplOnly: true) { AcceptedMapTypes = [MapType.StackTrace] },
            new HelperPrototype(HelperId.GetStack, Int, [Ctx, UninitMem, SizeOrZero, Any], GplOnly: true) { ReturnBoundedBySizeArg = 2 },

            // Probing memory (kernel/trace/bpf_trace.c)
            new HelperPrototype(HelperId.ProbeRead, Int, [UninitMem, SizeOrZero, Any], GplOnly: true),
            new HelperPrototype(HelperId.ProbeReadKernel, Int, [UninitMem, SizeOrZero, Any], GplOnly: true),
            new HelperPrototype(HelperId.ProbeReadUser, Int, [UninitMem, SizeOrZero, Any], GplOnly: true),
            new HelperPrototype(HelperId.ProbeReadStr, Int, [UninitMem, SizeOrZero, Any], GplOnly: true) { ReturnBoundedBySizeArg = 1 },
            new HelperPrototype(HelperId.ProbeReadKernelStr, Int, [UninitMem, SizeOrZero, Any], GplOnly: true) { ReturnBoundedBySizeArg = 1 },
            new HelperPrototype(HelperId.ProbeReadUserStr, Int, [UninitMem, SizeOrZero, Any], GplOnly: true) { ReturnBoundedBySizeArg = 1 },
            new HelperPrototype(HelperId.ProbeWriteUser, Int, [Any, MemRo, Size], GplOnly: true),
            new HelperPrototype(HelperId.CopyFromUser, Int, [UninitMem, SizeOrZero, Any], GplOnly: true) { SleepableOnly = true },
            new HelperPrototype(HelperId.CopyFromUserTask, Int, [UninitMem, SizeOrZero, Any, Btf("task_struct"), Any], GplOnly: true) { SleepableOnly = true },

            // Current task
            P(HelperId.GetCurrentPidTgid, Int),
            P(HelperId.GetCurrentUidGid, Int),
            P(HelperId.GetCurrentComm, Int, UninitMem, Size),
            new HelperPrototype(HelperId.GetCurrentTask, Int, [], GplOnly: true),
            new HelperPrototype(HelperId.GetCurrentTaskBtf, HelperReturnKind.BtfId, [], GplOnly: true) { ReturnBtfType = "task_struct" },
            P(HelperId.GetCurrentCgroupId, Int),
            P(HelperId.GetCurrentAncestorCgroupId, Int, Any),
            new HelperPrototype(HelperId.SendSignal, Int, [Any]),
            new HelperPrototype(HelperId.SendSignalThread, Int, [Any]),
            new HelperPrototype(HelperId.GetFuncIp, Int, [Ctx], GplOnly: true),
            P(HelperId.GetAttachCookie, Int, Ctx),
            new HelperPrototype(HelperId.GetFuncArg, Int, [Ctx, Any, Uninit8]),
            new HelperPrototype(HelperId.GetFuncRet, Int, [Ctx, Uninit8]),
            new HelperPrototype(HelperId.GetFuncArgCnt, Int, [Ctx]),
            new HelperPrototype(HelperId.SnprintfBtf, Int, [new HelperArg(PtrToMem, Write), Size, MemRo, Size, Any]),

            // Locks and timers
            P(HelperId.SpinLock, Void, SpinLock),
            P(HelperId.SpinUnlock, Void, SpinLock),
            P(HelperId.TimerInit, Int, Timer, Map, Any),
            P(HelperId.TimerSetCallback, Int, Timer, Func),
            P(HelperId.TimerStart, Int, Timer, Any, Any),
            P(HelperId.TimerCancel, Int, Timer),

            // XDP (net/core/filter.c)
            P(HelperId.XdpAdjustHead, Int, Ctx, Any) with { ChangesPacketData = true },
            P(HelperId.XdpAdjustTail, Int, Ctx, Any) with { ChangesPacketData = true },
            P(HelperId.XdpAdjustMeta, Int, Ctx, Any) with { ChangesPacketData = true },
            P(HelperId.XdpGetBuffLen, Int, Ctx),
            P(HelperId.XdpLoadBytes, Int, Ctx, Any, UninitMem, Size),
            P(HelperId.XdpStoreBytes, Int, Ctx, Any, MemRo, Size) with { ChangesPacketData = true },
            P(HelperId.Redirect, Int, Any, Any),
            P(HelperId.RedirectMap, Int, Map, Any, Any) with { AcceptedMapTypes = [MapType.Devmap, MapType.DevmapHash, MapType.Cpumap, MapType.Xskmap] },

            // sock_ops / cgroup_sock_addr (net/core/filter.c)
            P(HelperId.Setsockopt, Int, Ctx, Any, Any, MemRo, Size),
            P(HelperId.Getsockopt, Int, Ctx, Any, Any, UninitMem, Size),
            P(HelperId.SockOpsCbFlagsSet, Int, Ctx, Any),
            P(HelperId.Bind, Int, Ctx, MemRo, Size),
            P(HelperId.SockMapUpdate, Int, Ctx, Map, Key, Any) with { AcceptedMapTypes = [MapType.Sockmap] },
            P(HelperId.SockHashUpdate, Int, Ctx, Map, Key, Any) with { AcceptedMapTypes = [MapType.Sockhash] },
            P(HelperId.LoadHdrOpt, Int, Ctx, MemW, Size, Any),
            P(HelperId.StoreHdrOpt, Int, Ctx, MemRo, Size, Any),
            P(HelperId.ReserveHdrOpt, Int, Ctx, Any, Any),

            // skb (net/core/filter.c)
            P(HelperId.SkbLoadBytes, Int, Ctx, Any, UninitMem, Size),
            P(HelperId.SkbLoadBytesRelative, Int, Ctx, Any, UninitMem, Size, Any),
            P(HelperId.SkbStoreBytes, Int, Ctx, Any, MemRo, Size, Any) with { ChangesPacketData = true },
            P(HelperId.CsumDiff, Int, MemRoOrNull, SizeOrZero, MemRoOrNull, SizeOrZero, Any) with { PacketAccess = true },
            P(HelperId.CsumUpdate, Int, Ctx, Any),
            P(HelperId.CsumLevel, Int, Ctx, Any),
            P(HelperId.SetHashInvalid, Void, Ctx),
            P(HelperId.SetHash, Int, Ctx, Any),
            P(HelperId.GetHashRecalc, Int, Ctx),
            P(HelperId.L3CsumReplace, Int, Ctx, Any, Any, Any, Any) with { ChangesPacketData = true },
            P(HelperId.L4CsumReplace, Int, Ctx, Any, Any, Any, Any) with { ChangesPacketData = true },
            P(HelperId.CloneRedirect, Int, Ctx, Any, Any) with { ChangesPacketData = true },
            P(HelperId.SkbPullData, Int, Ctx, Any) with { ChangesPacketData = true },
            P(HelperId.SkbVlanPush, Int, Ctx, Any, Any) with { ChangesPacketData = true },
            P(HelperId.SkbVlanPop, Int, Ctx) with { ChangesPacketData = true },
            P(HelperId.SkbChangeProto, Int, Ctx, Any, Any) with { ChangesPacketData = true },
            P(HelperId.SkbChangeType, Int, Ctx, Any),
            P(HelperId.SkbChangeTail, Int, Ctx, Any, Any) with { ChangesPacketData = true },
            P(HelperId.SkbChangeHead, Int, Ctx, Any, Any) with { ChangesPacketData = true },
            P(HelperId.SkbAdjustRoom, Int, Ctx, Any, Any, Any) with { ChangesPacketData = true },
            P(HelperId.SkbUnderCgroup, Int, Ctx, Map, Any) with { AcceptedMapTypes = [MapType.CgroupArray] },
            P(HelperId.SkbCgroupId, Int, Ctx),
            P(HelperId.SkbAncestorCgroupId, Int, Ctx, Any),
            P(HelperId.GetCgroupClassid, Int, Ctx),
            P(HelperId.GetRouteRealm, Int, Ctx),
            P(HelperId.GetSocketCookie, Int, Ctx),
            P(HelperId.GetSocketUid, Int, Ctx),
            P(HelperId.SkbGetTunnelKey, Int, Ctx, UninitMem, Size, Any),
            P(HelperId.SkbSetTunnelKey, Int, Ctx, MemRo, Size, Any),
            P(HelperId.SkbGetTunnelOpt, Int, Ctx, UninitMem, Size),
            P(HelperId.SkbSetTunnelOpt, Int, Ctx, MemRo, Size),
            P(HelperId.SkbEcnSetCe, Int, Ctx),
            P(HelperId.SkbSetTstamp, Int, Ctx, Any, Any),
            P(HelperId.RedirectNeigh, Int, Any, MemRoOrNull, SizeOrZero, Any),
            P(HelperId.RedirectPeer, Int, Any, Any),
            P(HelperId.FibLookup, Int, Ctx, MemW, Size, Any),
            P(HelperId.CheckMtu, Int, Ctx, Any, InOut4, Any, Any),
            P(HelperId.SkRelease, Int, new HelperArg(PtrToBtfIdSockCommon, Release)),
            P(HelperId.SkFullsock, HelperReturnKind.SocketOrNull, Sock) with { CastsReference = true },
            P(HelperId.TcpSock, HelperReturnKind.TcpSockOrNull, Sock) with { CastsReference = true },
            P(HelperId.GetListenerSock, HelperReturnKind.SocketOrNull, Sock),
            P(HelperId.SkLookupTcp, HelperReturnKind.SocketOrNull, Ctx, MemRo, Size, Any, Any) with { PacketAccess = true },
            P(HelperId.SkLookupUdp, HelperReturnKind.SocketOrNull, Ctx, MemRo, Size, Any, Any) with { PacketAccess = true },
            P(HelperId.SkcLookupTcp, HelperReturnKind.SockCommonOrNull, Ctx, MemRo, Size, Any, Any) with { PacketAccess = true },

            // Cgroups, storage
            P(HelperId.GetLocalStorage, HelperReturnKind.MapValueOrNull, Map, Any) with { AcceptedMapTypes = [MapType.CgroupStorage, MapType.PercpuCgroupStorage] },

            // Syscall programs
            P(HelperId.SysBpf, Int, Any, MemRo, Size),
            P(HelperId.SysClose, Int, Any),
            P(HelperId.KallsymsLookupName, Int, MemRo, Size, Any, Uninit8),

            // sk_msg / sk_skb (net/core/filter.c, net/core/sock_map.c)
            P(HelperId.SkRedirectMap, Int, Ctx, Map, Any, Any) with { AcceptedMapTypes = [MapType.Sockmap] },
            P(HelperId.SkRedirectHash, Int, Ctx, Map, Key, Any) with { AcceptedMapTypes = [MapType.Sockhash] },
            P(HelperId.MsgRedirectMap, Int, Ctx, Map, Any, Any) with { AcceptedMapTypes = [MapType.Sockmap] },
            P(HelperId.MsgRedirectHash, Int, Ctx, Map, Key, Any) with { AcceptedMapTypes = [MapType.Sockhash] },
            P(HelperId.MsgApplyBytes, Int, Ctx, Any),
            P(HelperId.MsgCorkBytes, Int, Ctx, Any),
            P(HelperId.MsgPullData, Int, Ctx, Any, Any, Any) with { ChangesPacketData = true },
            P(HelperId.MsgPushData, Int, Ctx, Any, Any, Any) with { ChangesPacketData = true },
            P(HelperId.MsgPopData, Int, Ctx, Any, Any, Any) with { ChangesPacketData = true },
            P(HelperId.SkSelectReuseport, Int, Ctx, Map, Key, Any) with { AcceptedMapTypes = [MapType.ReuseportSockarray, MapType.Sockmap, MapType.Sockhash] },

            // lwt / seg6
            P(HelperId.LwtPushEncap, Int, Ctx, Any, MemRo, Size) with { ChangesPacketData = true },
            P(HelperId.LwtSeg6StoreBytes, Int, Ctx, Any, MemRo, Size) with { ChangesPacketData = true },
            P(HelperId.LwtSeg6AdjustSrh, Int, Ctx, Any, Any) with { ChangesPacketData = true },
            P(HelperId.LwtSeg6Action, Int, Ctx, Any, MemRo, Size) with { ChangesPacketData = true },

            // lirc_mode2 (drivers/media/rc/bpf-lirc.c)
            new HelperPrototype(HelperId.RcRepeat, Int, [Ctx], GplOnly: true),
            new HelperPrototype(HelperId.RcKeydown, Int, [Ctx, Any, Any, Any], GplOnly: true),
            new HelperPrototype(HelperId.RcPointerRel, Int, [Ctx, Any, Any], GplOnly: true),

            // More skb and socket helpers
            P(HelperId.SkbGetXfrmState, Int, Ctx, Any, UninitMem, Size, Any),
            P(HelperId.SkbCgroupClassid, Int, Ctx),
            P(HelperId.GetNetnsCookie, Int, CtxOrNull),
            P(HelperId.SkAssign, Int, Ctx, SockCommon, Any),
            P(HelperId.SkCgroupId, Int, SockCommon),
            P(HelperId.SkAncestorCgroupId, Int, SockCommon, Any),
            P(HelperId.TcpCheckSyncookie, Int, SockCommon, MemRo, Size, MemRo, Size) with { PacketAccess = true },
            new HelperPrototype(HelperId.TcpGenSyncookie, Int, [SockCommon, MemRo, Size, MemRo, Size], GplOnly: true, PacketAccess: true),
            P(HelperId.TcpSendAck, Int, Btf("tcp_sock"), Any),
            new HelperPrototype(HelperId.TcpRawGenSyncookieIpv4, Int, [FixedRo(20), FixedRo(20), SizeOrZero], GplOnly: true, PacketAccess: true),
            new HelperPrototype(HelperId.TcpRawGenSyncookieIpv6, Int, [FixedRo(40), FixedRo(20), SizeOrZero], GplOnly: true, PacketAccess: true),
            new HelperPrototype(HelperId.TcpRawCheckSyncookieIpv4, Int, [FixedRo(20), FixedRo(20)], GplOnly: true, PacketAccess: true),
            new HelperPrototype(HelperId.TcpRawCheckSyncookieIpv6, Int, [FixedRo(40), FixedRo(20)], GplOnly: true, PacketAccess: true),
            P(HelperId.SkcToTcp6Sock, HelperReturnKind.BtfIdOrNull, SockCommon) with { ReturnBtfType = "tcp6_sock", CastsReference = true },
            P(HelperId.SkcToTcpSock, HelperReturnKind.BtfIdOrNull, SockCommon) with { ReturnBtfType = "tcp_sock", CastsReference = true },
            P(HelperId.SkcToTcpTimewaitSock, HelperReturnKind.BtfIdOrNull, SockCommon) with { ReturnBtfType = "tcp_timewait_sock", CastsReference = true },
            P(HelperId.SkcToTcpRequestSock, HelperReturnKind.BtfIdOrNull, SockCommon) with { ReturnBtfType = "tcp_request_sock", CastsReference = true },
            P(HelperId.SkcToUdp6Sock, HelperReturnKind.BtfIdOrNull, SockCommon) with { ReturnBtfType = "udp6_sock", CastsReference = true },
            P(HelperId.SkcToUnixSock, HelperReturnKind.BtfIdOrNull, SockCommon) with { ReturnBtfType = "unix_sock", CastsReference = true },
            P(HelperId.SkcToMptcpSock, HelperReturnKind.BtfIdOrNull, SockCommon) with { ReturnBtfType = "mptcp_sock", CastsReference = true },
            P(HelperId.SockFromFile, HelperReturnKind.BtfIdOrNull, Btf("file")) with { ReturnBtfType = "socket" },

            // Local storage (net/core/bpf_sk_storage.c, kernel/bpf/bpf_{inode,task,cgrp}_storage.c)
            P(HelperId.SkStorageGet, HelperReturnKind.MapValueOrNull, Map, SockCommon, ValueOrNull, Any) with { AcceptedMapTypes = [MapType.SkStorage] },
            P(HelperId.SkStorageDelete, Int, Map, SockCommon) with { AcceptedMapTypes = [MapType.SkStorage] },
            P(HelperId.InodeStorageGet, HelperReturnKind.MapValueOrNull, Map, BtfOrNull("inode"), ValueOrNull, Any) with { AcceptedMapTypes = [MapType.InodeStorage] },
            P(HelperId.InodeStorageDelete, Int, Map, BtfOrNull("inode")) with { AcceptedMapTypes = [MapType.InodeStorage] },
            P(HelperId.TaskStorageGet, HelperReturnKind.MapValueOrNull, Map, BtfOrNull("task_struct"), ValueOrNull, Any) with { AcceptedMapTypes = [MapType.TaskStorage] },
            P(HelperId.TaskStorageDelete, Int, Map, BtfOrNull("task_struct")) with { AcceptedMapTypes = [MapType.TaskStorage] },
            P(HelperId.CgrpStorageGet, HelperReturnKind.MapValueOrNull, Map, BtfOrNull("cgroup"), ValueOrNull, Any) with { AcceptedMapTypes = [MapType.CgrpStorage] },
            P(HelperId.CgrpStorageDelete, Int, Map, BtfOrNull("cgroup")) with { AcceptedMapTypes = [MapType.CgrpStorage] },

            // cgroup sysctl / sockopt
            P(HelperId.SysctlGetName, Int, Ctx, MemW, Size, Any),
            P(HelperId.SysctlGetCurrentValue, Int, Ctx, UninitMem, Size),
            P(HelperId.SysctlGetNewValue, Int, Ctx, UninitMem, Size),
            P(HelperId.SysctlSetNewValue, Int, Ctx, MemRo, Size),
            P(HelperId.GetRetval, Int),
            P(HelperId.SetRetval, Int, Any),

            // Tracing (kernel/trace/bpf_trace.c)
            P(HelperId.CurrentTaskUnderCgroup, Int, Map, Any) with { AcceptedMapTypes = [MapType.CgroupArray] },
            new HelperPrototype(HelperId.OverrideReturn, Int, [Ctx, Any], GplOnly: true),
            new HelperPrototype(HelperId.ReadBranchRecords, Int, [Ctx, MemOrNullW, SizeOrZero, Any], GplOnly: true),
            P(HelperId.GetNsCurrentPidTgid, Int, Any, Any, UninitMem, Size),
            new HelperPrototype(HelperId.SkbOutput, Int, [Btf("sk_buff"), Map, Any, MemRo, SizeOrZero], GplOnly: true) { AcceptedMapTypes = [MapType.PerfEventArray] },
            new HelperPrototype(HelperId.XdpOutput, Int, [Btf("xdp_buff"), Map, Any, MemRo, SizeOrZero], GplOnly: true) { AcceptedMapTypes = [MapType.PerfEventArray] },
            new HelperPrototype(HelperId.SeqPrintf, Int, [Btf("seq_file"), MemRo, Size, MemRoOrNull, SizeOrZero], GplOnly: true),
            new HelperPrototype(HelperId.SeqWrite, Int, [Btf("seq_file"), MemRo, SizeOrZero], GplOnly: true),
            P(HelperId.SeqPrintfBtf, Int, Btf("seq_file"), MemRo, SizeOrZero, Any),
            P(HelperId.GetTaskStack, Int, Btf("task_struct"), UninitMem, SizeOrZero, Any) with { ReturnBoundedBySizeArg = 2 },
            P(HelperId.TaskPtRegs, HelperReturnKind.BtfId, Btf("task_struct")) with { ReturnBtfType = "pt_regs" },
            new HelperPrototype(HelperId.GetBranchSnapshot, Int, [UninitMem, SizeOrZero, Any], GplOnly: true),
            P(HelperId.FindVma, Int, Btf("task_struct"), Any, Func, StackOrNull, Any),
            P(HelperId.BprmOptsSet, Int, Btf("linux_binprm"), Any),
            P(HelperId.ImaInodeHash, Int, Btf("inode"), UninitMem, Size) with { SleepableOnly = true },
            P(HelperId.ImaFileHash, Int, Btf("file"), UninitMem, Size) with { SleepableOnly = true },
            P(HelperId.BtfFindByNameKind, Int, MemRo, Size, Any, Any),

            // Not modelled: rejected with a reason rather than let through unchecked.
            P(HelperId.DPath, Int, Btf("path"), MemW, SizeOrZero) with { Unsupported = "the d_path attach-target allowlist" },
            P(HelperId.PerCpuPtr, HelperReturnKind.MemOrBtfId, new HelperArg(PtrToPercpuBtfId), Any),
            P(HelperId.ThisCpuPtr, HelperReturnKind.MemOrBtfId, new HelperArg(PtrToPercpuBtfId)),
            P(HelperId.KptrXchg, HelperReturnKind.BtfIdOrNull, new HelperArg(PtrToKptr), BtfOrNull("")) with { Unsupported = "kptr fields" },
            P(HelperId.DynptrFromMem, Int, UninitMem, SizeOrZero, Any, new HelperArg(PtrToDynptr, Uninit)),
            P(HelperId.RingbufReserveDynptr, Int, Map, Any, Any, new HelperArg(PtrToDynptr, Uninit)),
            P(HelperId.RingbufSubmitDynptr, Void, new HelperArg(PtrToDynptr, Release), Any),
            P(HelperId.RingbufDiscardDynptr, Void, new HelperArg(PtrToDynptr, Release), Any),
            P(HelperId.DynptrRead, Int, UninitMem, SizeOrZero, new HelperArg(PtrToDynptr, ReadOnly), Any, Any),
            P(HelperId.DynptrWrite, Int, new HelperArg(PtrToDynptr, ReadOnly), Any, MemRo, SizeOrZero, Any),
            P(HelperId.DynptrData, HelperReturnKind.MemOrNull, new HelperArg(PtrToDynptr, ReadOnly), Any, AllocSize),
            P(HelperId.UserRingbufDrain, Int, Map, Func, StackOrNull, Any) with { AcceptedMapTypes = [MapType.UserRingbuf], Unsupported = "dynptr helpers" },
        };
        var table = new Dictionary<HelperId, HelperPrototype>();
        foreach (var p in list) table.Add(p.Id, p);
        return table;
    }

    /// <summary>Map types that only specific helpers may use (<c>check_map_func_compatibility</c>, map side).</summary>
    public static bool MapTypeAllowsGenericElementAccess(MapType type) => Array.IndexOf(MapElementTypes, type) >= 0;
}
