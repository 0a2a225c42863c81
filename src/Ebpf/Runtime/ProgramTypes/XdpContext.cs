using System.Buffers.Binary;
using Ebpf.Runtime.Helpers;

namespace Ebpf.Runtime.ProgramTypes;

/// <summary>
/// An xdp_buff as bpf_prog_test_run_xdp builds it (program-types.md §3.3): one 4096-byte frame,
/// XDP_PACKET_HEADROOM 256 (minus metadata), the packet, tailroom for skb_shared_info (320);
/// bytes beyond the linear part become frags. The program's ctx is the internal block
/// (xdp_md then data/data_end/data_meta as u64). The xdp_adjust_* helpers act on this object.
/// </summary>
internal sealed unsafe class XdpContext : IDisposable, IPacketBuffer
{
    public const int FrameSize = 4096;
    public const int Headroom = 256;
    public const int Tailroom = 320;
    public const int XdpFrameSize = 40;
    public const int EthernetHeaderLength = 14;
    public const int MaxLinear = FrameSize - Headroom - Tailroom; // 3520
    public const int MaxFrags = 17;
    public const int MaxMetadata = 255;

    private readonly NativeBlock _frame = new(FrameSize);
    private readonly NativeBlock _ctx = new(ProgramTypeInfo.XdpInternalSize);
    /// <summary>The frags (skb_shared_info's), each a page of native memory of which the first Length bytes are data:
    /// a dynptr slice may point into one, as bpf_xdp_pointer does.</summary>
    private readonly List<(NativeBlock Page, int Length)> _frags = new();

    private XdpContext() { }

    public nint ContextPointer => _ctx.Pointer;
    public nint HardStart => _frame.Pointer;

    /// <summary>How many frags the buffer has.</summary>
    public int FragCount => _frags.Count;

    /// <summary>Frag <paramref name="i"/>'s data bytes (skb_frag_address, skb_frag_size).</summary>
    public Span<byte> Frag(int i) => _frags[i].Page.Span[.._frags[i].Length];

    /// <summary>Frag <paramref name="i"/>'s page, for the checked interpreter's regions.</summary>
    public (nint Address, int Length) FragRegion(int i) => (_frags[i].Page.Pointer, _frags[i].Length);

    public ulong Data { get => Read(ProgramTypeInfo.XdpDataSlot); set => Write(ProgramTypeInfo.XdpDataSlot, value); }
    public ulong DataEnd { get => Read(ProgramTypeInfo.XdpDataEndSlot); set => Write(ProgramTypeInfo.XdpDataEndSlot, value); }
    public ulong DataMeta { get => Read(ProgramTypeInfo.XdpDataMetaSlot); set => Write(ProgramTypeInfo.XdpDataMetaSlot, value); }
    public uint IngressIfindex => BinaryPrimitives.ReadUInt32LittleEndian(_ctx.Span[12..]);
    public uint RxQueueIndex => BinaryPrimitives.ReadUInt32LittleEndian(_ctx.Span[16..]);

    /// <summary>The redirect the program's last bpf_redirect/bpf_redirect_map call recorded (null after a failed lookup).</summary>
    public XdpRedirect? Redirect { get; set; }

    /// <summary>What the driver reported with the frame, for the XDP metadata kfuncs (null: nothing, -ENODATA).</summary>
    public Net.XdpRxMetadata? RxMetadata { get; set; }

    /// <summary>Linear packet bytes (data .. data_end).</summary>
    public Span<byte> Packet => new((void*)Data, (int)(DataEnd - Data));
    Span<byte> IPacketBuffer.Data => Packet;

    private ulong Read(int slot) => *(ulong*)(_ctx.Pointer + slot);
    private void Write(int slot, ulong v) => *(ulong*)(_ctx.Pointer + slot) = v;

    /// <summary>
    /// Builds the buffer from data_in and an optional ctx_in (already length-checked), applying
    /// every EINVAL/ENODEV rule of §3.3 steps 5–12. <paramref name="hasCtx"/> is true when ctx_in or
    /// ctx_out was given (a zeroed ctx then still applies: data_end 0 ⇒ empty linear part).
    /// </summary>
    public static XdpContext Build(ReadOnlySpan<byte> dataIn, ReadOnlySpan<byte> ctxIn, bool hasCtx, NetDevices devices)
    {
        var md = new byte[ProgramTypeInfo.XdpMdUserSize];
        ctxIn[..Math.Min(ctxIn.Length, md.Length)].CopyTo(md);
        uint ctxData = BinaryPrimitives.ReadUInt32LittleEndian(md.AsSpan(0));
        uint ctxDataEnd = BinaryPrimitives.ReadUInt32LittleEndian(md.AsSpan(4));
        uint ctxDataMeta = BinaryPrimitives.ReadUInt32LittleEndian(md.AsSpan(8));
        uint ingress = BinaryPrimitives.ReadUInt32LittleEndian(md.AsSpan(12));
        uint rxQueue = BinaryPrimitives.ReadUInt32LittleEndian(md.AsSpan(16));
        uint egress = BinaryPrimitives.ReadUInt32LittleEndian(md.AsSpan(20));

        int headroom = Headroom;
        int metaSize = 0;
        long linear = dataIn.Length;
        if (hasCtx)
        {
            if (ctxDataMeta != 0)
                throw new BpfException(Errno.EINVAL, "xdp_md.data_meta must be 0 in ctx_in");
            if (ctxDataEnd > dataIn.Length)
                throw new BpfException(Errno.EINVAL, $"xdp_md.data_end {ctxDataEnd} is beyond data_size_in {dataIn.Length}");
            if (ctxData > ctxDataEnd)
                throw new BpfException(Errno.EINVAL, $"xdp_md.data {ctxData} is beyond data_end {ctxDataEnd}");
            metaSize = (int)ctxData;
            if (metaSize % 4 != 0 || metaSize > MaxMetadata || metaSize > Headroom - XdpFrameSize)
                throw new BpfException(Errno.EINVAL, $"metadata size {metaSize} is not 4-aligned or larger than {Headroom - XdpFrameSize}");
            headroom -= metaSize;
            linear = ctxDataEnd;
        }
        int maxLinear = FrameSize - headroom - Tailroom;
        linear = Math.Min(linear, maxLinear);
        if (dataIn.Length - metaSize < EthernetHeaderLength)
            throw new BpfException(Errno.EINVAL, $"data_size_in {dataIn.Length} leaves less than an Ethernet header after {metaSize} bytes of metadata");

        var ctx = new XdpContext();
        try
        {
            dataIn[..(int)linear].CopyTo(ctx._frame.Span[headroom..]);
            ulong start = (ulong)ctx._frame.Pointer + (ulong)headroom;
            ctx.DataMeta = start;
            ctx.Data = start;
            ctx.DataEnd = start + (ulong)linear;
            // xdp_convert_md_to_buff
            if (egress != 0)
                throw new BpfException(Errno.EINVAL, "xdp_md.egress_ifindex must be 0");
            if (rxQueue != 0 && ingress == 0)
                throw new BpfException(Errno.EINVAL, "xdp_md.rx_queue_index needs ingress_ifindex");
            uint ifindex = NetDevices.Loopback;
            if (ingress != 0)
            {
                var dev = devices.Find(ingress) ?? throw new BpfException(Errno.ENODEV, $"no device with ifindex {ingress}");
                if (rxQueue >= dev.RxQueues)
                    throw new BpfException(Errno.EINVAL, $"rx_queue_index {rxQueue} >= {dev.RxQueues} queues of ifindex {ingress}");
                ifindex = ingress;
            }
            ctx.Data = ctx.DataMeta + (ulong)metaSize;
            var user = ctx._ctx.Span;
            BinaryPrimitives.WriteUInt32LittleEndian(user[12..], ifindex);
            BinaryPrimitives.WriteUInt32LittleEndian(user[16..], rxQueue);
            // Frags: the rest of data_in, PAGE_SIZE each.
            int offset = (int)linear;
            while (offset < dataIn.Length)
            {
                if (ctx._frags.Count == MaxFrags)
                    throw new BpfException(Errno.ENOMEM, $"data_size_in {dataIn.Length} needs more than {MaxFrags} frags");
                int n = Math.Min(FrameSize, dataIn.Length - offset);
                var page = new NativeBlock(FrameSize);
                dataIn.Slice(offset, n).CopyTo(page.Span);
                ctx._frags.Add((page, n));
                offset += n;
            }
            ctx.RefreshUserView();
            return ctx;
        }
        catch
        {
            ctx.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Keeps the u32 fields of the user view in step with the pointers (as xdp_convert_buff_to_md
    /// reports them: offsets from data_meta), so a program that loads data with a plain ctx read
    /// the rewrite did not catch sees a sane value rather than garbage.
    /// </summary>
    internal void RefreshUserView()
    {
        var user = _ctx.Span;
        BinaryPrimitives.WriteUInt32LittleEndian(user, (uint)(Data - DataMeta));
        BinaryPrimitives.WriteUInt32LittleEndian(user[4..], (uint)(DataEnd - DataMeta));
        BinaryPrimitives.WriteUInt32LittleEndian(user[8..], 0);
    }

    /// <summary>data_out: metadata + linear packet + frag bytes (§3.3 step 16).</summary>
    public byte[] Output()
    {
        int linear = (int)(DataEnd - DataMeta);
        var result = new byte[linear + FragsSize];
        new ReadOnlySpan<byte>((void*)DataMeta, linear).CopyTo(result);
        int o = linear;
        for (int i = 0; i < _frags.Count; i++)
        {
            Frag(i).CopyTo(result.AsSpan(o));
            o += _frags[i].Length;
        }
        return result;
    }

    public int FragsSize => _frags.Sum(f => f.Length);

    /// <summary>ctx_out: xdp_md with data = metadata length, data_end = data_end − data_meta; ifindex/queue as given.</summary>
    public byte[] ContextOutput()
    {
        var md = _ctx.Span[..ProgramTypeInfo.XdpMdUserSize].ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(md, (uint)(Data - DataMeta));
        BinaryPrimitives.WriteUInt32LittleEndian(md.AsSpan(4), (uint)(DataEnd - DataMeta));
        BinaryPrimitives.WriteUInt32LittleEndian(md.AsSpan(8), 0);
        return md;
    }

    /// <summary>xdp->txq->dev: what a devmap program reads as egress_ifindex.</summary>
    internal void SetEgress(uint ifindex) => BinaryPrimitives.WriteUInt32LittleEndian(_ctx.Span[20..], ifindex);

    /// <summary>Restores the ingress fields as given in ctx_in (the kernel leaves them as they were).</summary>
    internal void SetIngress(uint ifindex, uint queue)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_ctx.Span[12..], ifindex);
        BinaryPrimitives.WriteUInt32LittleEndian(_ctx.Span[16..], queue);
    }

    // ---- helpers (bpf_xdp_adjust_head / _meta / _tail) ----

    private ulong FrameEnd => (ulong)_frame.Pointer + XdpFrameSize; // xdp_frame lives at hard_start

    /// <summary>bpf_xdp_adjust_head: moves data (and the metadata with it).</summary>
    public long AdjustHead(int delta)
    {
        ulong metaLen = Data - DataMeta;
        ulong newData = (ulong)((long)Data + delta);
        ulong newMeta = newData - metaLen;
        if ((long)newData < (long)(FrameEnd + metaLen) || (long)newData > (long)DataEnd - EthernetHeaderLength)
            return -(long)Errno.EINVAL;
        if (metaLen != 0)
            Buffer.MemoryCopy((void*)DataMeta, (void*)newMeta, metaLen, metaLen);
        DataMeta = newMeta;
        Data = newData;
        RefreshUserView();
        return 0;
    }

    /// <summary>bpf_xdp_adjust_meta.</summary>
    public long AdjustMeta(int delta)
    {
        ulong newMeta = (ulong)((long)DataMeta + delta);
        if ((long)newMeta < (long)FrameEnd || newMeta > Data)
            return -(long)Errno.EINVAL;
        ulong metaLen = Data - newMeta;
        if (metaLen % 4 != 0 || metaLen > MaxMetadata)
            return -(long)Errno.EACCES;
        DataMeta = newMeta;
        RefreshUserView();
        return 0;
    }

    /// <summary>bpf_xdp_adjust_tail (linear part; with frags the last frag is adjusted).</summary>
    public long AdjustTail(int delta)
    {
        if (_frags.Count > 0)
        {
            var (page, length) = _frags[^1];
            long size = length + (long)delta;
            if (size < 0 || size > FrameSize)
                return -(long)Errno.EINVAL;
            if (size == 0)
            {
                page.Dispose();
                _frags.RemoveAt(_frags.Count - 1);
            }
            else
            {
                if (size > length) page.Span[length..(int)size].Clear(); // grown bytes read as zero
                _frags[^1] = (page, (int)size);
            }
            return 0;
        }
        ulong newEnd = (ulong)((long)DataEnd + delta);
        ulong maxEnd = (ulong)_frame.Pointer + FrameSize - Tailroom;
        if ((long)newEnd > (long)maxEnd || (long)newEnd < (long)Data + EthernetHeaderLength)
            return -(long)Errno.EINVAL;
        if (delta > 0)
            new Span<byte>((void*)DataEnd, delta).Clear();
        DataEnd = newEnd;
        RefreshUserView();
        return 0;
    }

    public void Dispose()
    {
        _frame.Dispose();
        _ctx.Dispose();
        foreach (var (page, _) in _frags)
            page.Dispose();
    }
}
