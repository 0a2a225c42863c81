using Ebpf.Abi;
using Ebpf.Abi.Helpers;

namespace Ebpf.Verification;

/// <summary>check_map_func_compatibility, map side: map types that only some helpers may take.</summary>
internal static class MapCompatibility
{
    /// <summary>
    /// Whether a <paramref name="map"/> may be passed to <paramref name="helper"/> from this program type;
    /// <paramref name="sockmapContext"/> is set when the kernel refuses a sockmap/sockhash update or delete here
    /// (may_update_sockmap logs "cannot update sockmap in this context" first).
    /// </summary>
    public static bool MapAllows(MapType map, HelperId helper, ProgramType type, AttachType attach, out bool sockmapContext)
    {
        sockmapContext = false;
        switch (map)
        {
            case MapType.ProgArray: return helper == HelperId.TailCall;
            case MapType.PerfEventArray:
                return helper is HelperId.PerfEventRead or HelperId.PerfEventOutput or HelperId.SkbOutput or HelperId.PerfEventReadValue or HelperId.XdpOutput;
            case MapType.Ringbuf:
                return helper is HelperId.RingbufOutput or HelperId.RingbufReserve or HelperId.RingbufQuery or HelperId.RingbufReserveDynptr
                    or HelperId.RingbufSubmitDynptr or HelperId.RingbufDiscardDynptr;
            case MapType.UserRingbuf: return helper == HelperId.UserRingbufDrain;
            case MapType.StackTrace: return helper == HelperId.GetStackid;
            case MapType.CgroupArray: return helper is HelperId.SkbUnderCgroup or HelperId.CurrentTaskUnderCgroup;
            case MapType.CgroupStorage:
            case MapType.PercpuCgroupStorage: return helper == HelperId.GetLocalStorage;
            case MapType.Devmap:
            case MapType.DevmapHash:
            case MapType.Xskmap: return helper is HelperId.RedirectMap or HelperId.MapLookupElem;
            case MapType.Cpumap: return helper == HelperId.RedirectMap;
            case MapType.ArrayOfMaps:
            case MapType.HashOfMaps: return helper == HelperId.MapLookupElem;
            case MapType.Sockmap:
                if (helper is HelperId.SkRedirectMap or HelperId.SockMapUpdate or HelperId.MsgRedirectMap or HelperId.SkSelectReuseport or HelperId.MapLookupElem)
                    return true;
                return MayUpdateSockmap(helper, type, attach, out sockmapContext);
            case MapType.Sockhash:
                if (helper is HelperId.SkRedirectHash or HelperId.SockHashUpdate or HelperId.MsgRedirectHash or HelperId.SkSelectReuseport or HelperId.MapLookupElem)
                    return true;
                return MayUpdateSockmap(helper, type, attach, out sockmapContext);
            case MapType.ReuseportSockarray: return helper == HelperId.SkSelectReuseport;
            case MapType.Queue:
            case MapType.Stack: return helper is HelperId.MapPeekElem or HelperId.MapPopElem or HelperId.MapPushElem;
            case MapType.SkStorage: return helper is HelperId.SkStorageGet or HelperId.SkStorageDelete or HelperId.KptrXchg;
            case MapType.InodeStorage: return helper is HelperId.InodeStorageGet or HelperId.InodeStorageDelete or HelperId.KptrXchg;
            case MapType.TaskStorage: return helper is HelperId.TaskStorageGet or HelperId.TaskStorageDelete or HelperId.KptrXchg;
            case MapType.CgrpStorage: return helper is HelperId.CgrpStorageGet or HelperId.CgrpStorageDelete or HelperId.KptrXchg;
            case MapType.BloomFilter: return helper is HelperId.MapPeekElem or HelperId.MapPushElem;
            default: return true;
        }
    }

    /// <summary>may_update_sockmap: map_update/map_delete on a sockmap only where no locked socket can be reached.</summary>
    private static bool MayUpdateSockmap(HelperId helper, ProgramType type, AttachType attach, out bool logged)
    {
        logged = false;
        if (helper is not (HelperId.MapUpdateElem or HelperId.MapDeleteElem)) return false;
        bool ok = type switch
        {
            ProgramType.Tracing => attach == AttachType.TraceIter,
            ProgramType.SockOps => helper == HelperId.MapDeleteElem,
            ProgramType.SocketFilter or ProgramType.SchedCls or ProgramType.SchedAct or ProgramType.Xdp or ProgramType.SkReuseport
                or ProgramType.FlowDissector or ProgramType.SkLookup => true,
            _ => false,
        };
        logged = !ok;
        return ok;
    }
}
