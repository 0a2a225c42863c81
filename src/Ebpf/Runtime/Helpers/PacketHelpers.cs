using Ebpf.Abi.Helpers;
using Ebpf.Abi;
using Ebpf.Runtime.ProgramTypes;

namespace Ebpf.Runtime.Helpers;

/// <summary>Packet helpers that act on the invocation's skb or xdp buffer (program-types.md §4.2 "XDP", "skb helpers").</summary>
internal static unsafe class PacketHelpers
{
    public const ulong XdpAborted = 0, XdpRedirect = 4;
    public const ulong TcActShot = 2, TcActRedirect = 7;
    public const ulong BpfFIngress = 1;

    public static void RegisterAll(HelperRegistry r)
    {
        r.SetBuiltin(HelperId.XdpAdjustHead, "xdp_adjust_head", XdpAdjustHead);
        r.SetBuiltin(HelperId.XdpAdjustMeta, "xdp_adjust_meta", XdpAdjustMeta);
        r.SetBuiltin(HelperId.XdpAdjustTail, "xdp_adjust_tail", XdpAdjustTail);
        r.SetBuiltin(HelperId.XdpGetBuffLen, "xdp_get_buff_len", XdpGetBuffLen);
        r.SetBuiltin(HelperId.SkbLoadBytes, "skb_load_bytes", SkbLoadBytes);
        r.SetBuiltin(HelperId.SkbStoreBytes, "skb_store_bytes", SkbStoreBytes);
        r.SetBuiltin(HelperId.Redirect, "redirect", Redirect);
    }

    private static XdpContext? Xdp => HelperInvocation.Current?.PacketState as XdpContext;
    private static SkbContext? Skb => HelperInvocation.Current?.PacketState as SkbContext;

    public static ulong XdpAdjustHead(ulong ctx, ulong delta, ulong r3, ulong r4, ulong r5) =>
        Xdp is { } x ? (ulong)x.AdjustHead((int)delta) : BuiltinHelpers.Err(Errno.EINVAL);

    public static ulong XdpAdjustMeta(ulong ctx, ulong delta, ulong r3, ulong r4, ulong r5) =>
        Xdp is { } x ? (ulong)x.AdjustMeta((int)delta) : BuiltinHelpers.Err(Errno.EINVAL);

    public static ulong XdpAdjustTail(ulong ctx, ulong delta, ulong r3, ulong r4, ulong r5) =>
        Xdp is { } x ? (ulong)x.AdjustTail((int)delta) : BuiltinHelpers.Err(Errno.EINVAL);

    /// <summary>bpf_xdp_get_buff_len(xdp_md) (188): the linear part (data to data_end) plus every frag.</summary>
    public static ulong XdpGetBuffLen(ulong ctx, ulong r2, ulong r3, ulong r4, ulong r5) =>
        Xdp is { } x ? (ulong)((long)(x.DataEnd - x.Data) + x.FragsSize) : BuiltinHelpers.Err(Errno.EINVAL);

    /// <summary>bpf_skb_load_bytes(skb, off, to, len) (26).</summary>
    public static ulong SkbLoadBytes(ulong ctx, ulong offset, ulong to, ulong len, ulong r5)
    {
        if (Skb is not { } skb || !HelperMemory.CanAccess(to, len, write: true))
            return BuiltinHelpers.Err(Errno.EFAULT);
        return (ulong)skb.LoadBytes((uint)offset, HelperMemory.Bytes(to, len));
    }

    /// <summary>bpf_skb_store_bytes(skb, off, from, len, flags) (9).</summary>
    public static ulong SkbStoreBytes(ulong ctx, ulong offset, ulong from, ulong len, ulong flags)
    {
        if (Skb is not { } skb || !HelperMemory.CanAccess(from, len, write: false))
            return BuiltinHelpers.Err(Errno.EFAULT);
        return (ulong)skb.StoreBytes((uint)offset, HelperMemory.Bytes(from, len), flags);
    }

    /// <summary>bpf_redirect(ifindex, flags) (23): records the target; XDP: XDP_REDIRECT / XDP_ABORTED, tc: TC_ACT_REDIRECT / TC_ACT_SHOT.</summary>
    public static ulong Redirect(ulong ifindex, ulong flags, ulong r3, ulong r4, ulong r5)
    {
        var inv = HelperInvocation.Current;
        bool xdp = inv?.Program?.Type == ProgramType.Xdp;
        if (xdp ? flags != 0 : (flags & ~BpfFIngress) != 0)
            return xdp ? XdpAborted : TcActShot;
        if (inv is not null)
            inv.RedirectTarget = (uint)ifindex;
        if (xdp && inv?.PacketState is XdpContext buffer)
            buffer.Redirect = new ProgramTypes.XdpRedirect(MapType.Unspec, 0, (uint)ifindex, 0, null);
        return xdp ? XdpRedirect : TcActRedirect;
    }
}
