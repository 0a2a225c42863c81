using static Ebpf.Abi.Helpers.HelperArgKind;
using static Ebpf.Abi.Helpers.HelperArgFlags;

namespace Ebpf.Abi.Helpers;

/// <summary>
/// The prototype table (program-types.md §4.1, 6.1 source with the 6.12 MEM_WRITE backports). Only helpers
/// listed here are modelled precisely; <see cref="Get"/> returns null for the others, and the verifier then
/// reports them as not supported rather than guessing their arguments.
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
    private static readonly HelperArg BtfId = new(PtrToBtfId);
    private static readonly HelperArg Sock = new(PtrToSocket);
    private static readonly HelperArg SockRelease = new(PtrToSocket, Release);
    private static readonly HelperArg Uninit8 = new(PtrToMem, Uninit | Write | FixedSize | Aligned, 8);
    private static readonly HelperArg Uninit4 = new(PtrToMem, Uninit | Write | FixedSize | Aligned, 4);

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
            new HelperPrototype(HelperId.CopyFromUserTask, Int, [UninitMem, SizeOrZero, Any, BtfId, Any], GplOnly: true) { SleepableOnly = true },

            // Current task
            P(HelperId.GetCurrentPidTgid, Int),
            P(HelperId.GetCurrentUidGid, Int),
            P(HelperId.GetCurrentComm, Int, UninitMem, Size),
            new HelperPrototype(HelperId.GetCurrentTask, Int, [], GplOnly: true),
            new HelperPrototype(HelperId.GetCurrentTaskBtf, HelperReturnKind.BtfId, [], GplOnly: true),
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
            P(HelperId.LoadHdrOpt, Int, Ctx, Mem, Size, Any),
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
            P(HelperId.FibLookup, Int, Ctx, Mem, Size, Any),
            P(HelperId.CheckMtu, Int, Ctx, Any, Uninit4, Any, Any),
            P(HelperId.SkRelease, Int, SockRelease),
            P(HelperId.SkFullsock, HelperReturnKind.SocketOrNull, Sock),
            P(HelperId.TcpSock, HelperReturnKind.TcpSockOrNull, Sock),
            P(HelperId.GetListenerSock, HelperReturnKind.SocketOrNull, Sock),
            P(HelperId.SkLookupTcp, HelperReturnKind.SocketOrNull, Ctx, Mem, Size, Any, Any),
            P(HelperId.SkLookupUdp, HelperReturnKind.SocketOrNull, Ctx, Mem, Size, Any, Any),
            P(HelperId.SkcLookupTcp, HelperReturnKind.SockCommonOrNull, Ctx, Mem, Size, Any, Any),

            // Cgroups, storage
            P(HelperId.GetLocalStorage, HelperReturnKind.MapValueOrNull, Map, Any) with { AcceptedMapTypes = [MapType.CgroupStorage, MapType.PercpuCgroupStorage] },

            // Syscall programs
            P(HelperId.SysBpf, Int, Any, MemRo, Size),
            P(HelperId.SysClose, Int, Any),
            P(HelperId.KallsymsLookupName, Int, MemRo, Size, Any, Uninit8),
        };
        var table = new Dictionary<HelperId, HelperPrototype>();
        foreach (var p in list) table.Add(p.Id, p);
        return table;
    }

    /// <summary>Map types that only specific helpers may use (<c>check_map_func_compatibility</c>, map side).</summary>
    public static bool MapTypeAllowsGenericElementAccess(MapType type) => Array.IndexOf(MapElementTypes, type) >= 0;
}
