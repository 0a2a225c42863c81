using Ebpf.Abi;
using Ebpf.Runtime.ProgramTypes;

namespace Ebpf.Runtime.Helpers;

/// <summary>
/// The packet behind skb, xdp and skb_meta dynptrs (bpf_dynptr_from_skb / from_xdp / from_skb_meta): the invocation's
/// <see cref="SkbContext"/> (linear: our skb has no paged part) or <see cref="XdpContext"/> (the linear part, then the
/// frags), read, written and pointed into as the kernel's __bpf_skb_load_bytes / __bpf_skb_store_bytes /
/// skb_header_pointer and bpf_xdp_pointer / bpf_xdp_copy_buf do. Offsets are from the packet's current start
/// (skb->data, xdp->data), as the kernel's are. Our skb never carries metadata (skb_metadata_len 0, as in the kernel's
/// BPF_PROG_TEST_RUN), so an skb_meta dynptr is empty.
/// </summary>
internal static unsafe class PacketDynptrs
{
    public const uint TypeSkb = 3, TypeXdp = 4, TypeSkbMeta = 5;

    private static SkbContext? Skb => HelperInvocation.Current?.PacketState as SkbContext;
    private static XdpContext? Xdp => HelperInvocation.Current?.PacketState as XdpContext;

    /// <summary>The size a new dynptr of <paramref name="type"/> gets (skb->len, xdp_get_buff_len, the metadata
    /// length), or null when the invocation has no such packet.</summary>
    public static uint? NewSize(uint type) => type switch
    {
        TypeSkb => Skb?.Length,
        TypeSkbMeta => Skb is null ? null : 0u,
        TypeXdp => Xdp is { } x ? (uint)(x.DataEnd - x.Data) + (uint)x.FragsSize : null,
        _ => null,
    };

    /// <summary>
    /// Why this runtime cannot run <paramref name="program"/>'s packet dynptr constructors, or null when it can. The
    /// kernel lets netfilter, tracing (tp_btf) and sk_skb programs make skb dynptrs over an sk_buff they hold (a
    /// projection-typed argument, btf_is_projection_of); here a packet dynptr reads the run's own packet (an skb or xdp
    /// test run, an attached XDP program's frame), so such a program is refused at load rather than run wrong.
    /// </summary>
    public static string? WhyUnbacked(Objects.ProgramObject program, Btf.BtfSpec? vmlinux)
    {
        var kind = program.TypeInfo.TestRun;
        var insns = program.Instructions;
        for (int pc = 0; pc < insns.Length; pc++)
        {
            if (insns[pc].IsLoadImm64)
            {
                pc++;
                continue;
            }
            string? name = DynptrHelpers.KfuncOf(insns[pc], vmlinux);
            bool backed = name switch
            {
                "bpf_dynptr_from_skb" or "bpf_dynptr_from_skb_meta" => kind == TestRunKind.Skb,
                "bpf_dynptr_from_xdp" => kind == TestRunKind.Xdp,
                _ => true,
            };
            if (!backed)
                return $"insn {pc}: {name} in a {program.ResolvedType} program is not supported by the managed runtime (its packet is not the program's context)";
        }
        return null;
    }

    /// <summary>may_access_direct_pkt_data(BPF_WRITE): the program types whose skb dynptrs are writable (the verifier
    /// calls bpf_dynptr_from_skb_rdonly for the others).</summary>
    public static bool MayWritePacket(ProgramType? type) => type is ProgramType.SchedCls or ProgramType.SchedAct or ProgramType.Xdp
        or ProgramType.LwtXmit or ProgramType.SkSkb or ProgramType.SkMsg or ProgramType.CgroupSockopt;

    /// <summary>__bpf_dynptr_read's packet cases: 0, or -EFAULT (skb_copy_bits / bpf_xdp_pointer failed) / -EINVAL.</summary>
    public static long Read(uint type, ulong offset, Span<byte> to)
    {
        switch (type)
        {
            case TypeSkb:
                return Skb is { } skb ? skb.LoadBytes(offset, to) : -(long)Errno.EFAULT;
            case TypeXdp:
                return Xdp is { } xdp ? XdpCopy(xdp, offset, to, toPacket: false) : -(long)Errno.EFAULT;
            case TypeSkbMeta:
                return to.IsEmpty ? 0 : -(long)Errno.EFAULT; // no metadata: only an empty read passes the size check
            default:
                return -(long)Errno.EINVAL;
        }
    }

    /// <summary>__bpf_dynptr_write's packet cases (the dynptr's size and read-only bit already checked): skb writes take
    /// bpf_skb_store_bytes' flags, the others none.</summary>
    public static long Write(uint type, ulong offset, ReadOnlySpan<byte> from, ulong flags)
    {
        switch (type)
        {
            case TypeSkb:
                return Skb is { } skb ? skb.StoreBytes(offset, from, flags) : -(long)Errno.EFAULT;
            case TypeXdp:
                if (flags != 0) return -(long)Errno.EINVAL;
                return Xdp is { } xdp ? XdpCopy(xdp, offset, MemoryMarshalSpan(from), toPacket: true) : -(long)Errno.EFAULT;
            case TypeSkbMeta:
                if (flags != 0) return -(long)Errno.EINVAL;
                return from.IsEmpty ? 0 : -(long)Errno.EFAULT;
            default:
                return -(long)Errno.EINVAL;
        }
    }

    /// <summary>
    /// bpf_dynptr_slice's packet cases: a direct pointer when [offset, offset+len) is contiguous packet memory; else the
    /// bytes copied into <paramref name="buffer"/> (when given) and the buffer returned; else 0.
    /// </summary>
    public static ulong Slice(uint type, ulong offset, ulong len, ulong buffer)
    {
        switch (type)
        {
            case TypeSkb:
            {
                // skb_header_pointer / skb_pointer_if_linear: our skb is all head, so the range is direct or outside.
                if (Skb is not { } skb || offset + len > skb.Length) return 0;
                return skb.DataPointer + offset;
            }
            case TypeXdp:
            {
                if (Xdp is not { } xdp) return 0;
                long direct = XdpPointer(xdp, offset, len);
                if (direct > 0) return (ulong)direct;
                if (buffer == 0 || direct < 0 || !HelperMemory.CanAccess(buffer, len, write: true)) return 0;
                XdpCopy(xdp, offset, HelperMemory.Bytes(buffer, len), toPacket: false);
                return buffer;
            }
            case TypeSkbMeta:
                // bpf_skb_meta_pointer: the metadata ends where the packet (the mac header) starts.
                return Skb is { } meta && offset + len == 0 ? meta.DataPointer : 0;
            default:
                return 0;
        }
    }

    private static Span<byte> MemoryMarshalSpan(ReadOnlySpan<byte> s) =>
        System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(s), s.Length);

    /// <summary>bpf_xdp_pointer: the address of [offset, offset+len) when it lies within the linear part or within one
    /// frag, 0 when it spans them, negative errno when out of range.</summary>
    private static long XdpPointer(XdpContext xdp, ulong offset, ulong len)
    {
        if (offset > 0xffff || len > 0xffff) return -(long)Errno.EFAULT;
        ulong linear = xdp.DataEnd - xdp.Data;
        if (offset + len > linear + (ulong)xdp.FragsSize) return -(long)Errno.EINVAL;
        if (offset < linear) return offset + len <= linear ? (long)(xdp.Data + offset) : 0;
        offset -= linear;
        for (int i = 0; i < xdp.FragCount; i++)
        {
            var (address, length) = xdp.FragRegion(i);
            if (offset < (ulong)length) return offset + len <= (ulong)length ? (long)((ulong)address + offset) : 0;
            offset -= (ulong)length;
        }
        return 0;
    }

    /// <summary>__bpf_xdp_load_bytes / __bpf_xdp_store_bytes: bytes across the linear part and the frags.</summary>
    private static long XdpCopy(XdpContext xdp, ulong offset, Span<byte> buffer, bool toPacket)
    {
        ulong len = (ulong)buffer.Length;
        if (offset > 0xffff || len > 0xffff) return -(long)Errno.EFAULT;
        ulong linear = xdp.DataEnd - xdp.Data;
        if (offset + len > linear + (ulong)xdp.FragsSize) return -(long)Errno.EINVAL;
        int done = 0;
        ulong at = offset;
        for (int i = -1; i < xdp.FragCount && done < buffer.Length; i++)
        {
            var area = i < 0 ? xdp.Packet : xdp.Frag(i);
            if (at >= (ulong)area.Length)
            {
                at -= (ulong)area.Length;
                continue;
            }
            int n = (int)Math.Min((ulong)area.Length - at, (ulong)(buffer.Length - done));
            var part = area.Slice((int)at, n);
            if (toPacket) buffer.Slice(done, n).CopyTo(part);
            else part.CopyTo(buffer.Slice(done, n));
            done += n;
            at = 0;
        }
        return 0;
    }
}
