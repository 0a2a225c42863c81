using System.Buffers.Binary;
using Ebpf.Abi;
using Ebpf.Runtime.Helpers;

namespace Ebpf.Runtime.ProgramTypes;

/// <summary>
/// An sk_buff as bpf_prog_test_run_skb builds it (program-types.md §3.2), reduced to what BPF can
/// observe: a linear buffer (headroom 64, the frame, tailroom 320), eth_type_trans's protocol /
/// pkt_type / 14-byte pull, the dummy socket (bpf_sock) with the IP addresses, and the
/// __sk_buff fields ctx_in may set. The program's ctx is the internal block: __sk_buff then
/// data/data_end/data_meta as u64.
/// </summary>
internal sealed unsafe class SkbContext : IDisposable, IPacketBuffer, Ebpf.Execution.ILegacyPacketAccess
{
    public const int Headroom = 64;
    public const int Tailroom = 320;
    public const int PageSize = 4096;
    public const int MaxDataIn = PageSize - Headroom - Tailroom; // 3712
    public const int EthernetHeaderLength = 14;
    public const int BpfSockSize = 80;
    public const uint WireLenMax = 65536;
    public const uint GsoMaxSegs = 65535;

    // __sk_buff offsets
    private const int OffLen = 0, OffPktType = 4, OffMark = 8, OffProtocol = 16, OffPriority = 32, OffIngressIfindex = 36,
        OffIfindex = 40, OffCb = 48, OffTstamp = 152, OffWireLen = 160, OffGsoSegs = 164, OffSk = 168, OffGsoSize = 176, OffHwtstamp = 184;

    /// <summary>Bytes of __sk_buff that ctx_in may set (convert___skb_to_skb); anything else non-zero → EINVAL.</summary>
    private static readonly (int Start, int End)[] WritableRanges =
        [(OffMark, OffMark + 4), (OffPriority, OffIfindex + 4), (OffCb, OffCb + 20), (OffTstamp, OffGsoSegs + 4), (OffGsoSize, OffGsoSize + 4), (OffHwtstamp, OffHwtstamp + 8)];

    private readonly NativeBlock _buffer = new(PageSize);
    private readonly NativeBlock _ctx = new(ProgramTypeInfo.SkbInternalSize);
    private readonly NativeBlock _sock = new(BpfSockSize);
    private byte[] _ctxIn = new byte[ProgramTypeInfo.SkBuffUserSize];

    private SkbContext(bool isL2) { IsL2 = isL2; }

    public bool IsL2 { get; }
    public nint ContextPointer => _ctx.Pointer;
    /// <summary>skb->data.</summary>
    public ulong DataPointer { get; private set; }
    /// <summary>skb->len (linear: all of it).</summary>
    public uint Length { get; private set; }
    public uint Ifindex { get; private set; }
    /// <summary>The dummy socket (struct bpf_sock) skb->sk points to.</summary>
    public nint SockPointer => _sock.Pointer;

    /// <summary>ip_summed == CHECKSUM_COMPLETE (BPF_F_TEST_SKB_CHECKSUM_COMPLETE): <see cref="Csum"/> is maintained.</summary>
    public bool ChecksumComplete { get; private set; }

    /// <summary>skb->csum (an unfolded wsum) over the network part, kept up to date by the csum-aware helpers.</summary>
    public uint Csum { get; internal set; }

    /// <summary>Offset of the network header from skb->data (skb_network_offset: 14 for tc, 0 for L3 programs).</summary>
    private int NetworkOffset => IsL2 ? EthernetHeaderLength : 0;

    /// <summary>skb_checksum over the network part of the current packet.</summary>
    private uint NetworkChecksum() => Checksum.Partial(Packet[NetworkOffset..], 0);

    /// <summary>
    /// bpf_prog_test_run_skb after the run with CHECKSUM_COMPLETE: the packet's checksum must still fold to
    /// the maintained skb->csum, or the program changed bytes without fixing it → EBADMSG.
    /// </summary>
    public void VerifyChecksumComplete()
    {
        if (ChecksumComplete && Checksum.Fold(Csum) != Checksum.Fold(NetworkChecksum()))
            throw new BpfException(Errno.EBADMSG, "CHECKSUM_COMPLETE: skb->csum no longer matches the packet (bytes changed without a csum update)");
    }

    /// <summary>csum_block_add / csum_block_sub: a partial sum of bytes at an odd offset is byte-rotated first.</summary>
    private static uint Block(uint sum, int offset) => (offset & 1) != 0 ? (sum >> 8) | (sum << 24) : sum;

    /// <summary>
    /// LD_ABS/LD_IND: offsets from skb->data; SKF_NET_OFF (-0x100000) addresses the network header
    /// and SKF_LL_OFF (-0x200000) the MAC header. Big-endian bytes; false outside the packet.
    /// </summary>
    public bool TryLoad(ulong skb, long offset, int size, out uint value)
    {
        value = 0;
        ulong frameStart = (ulong)_buffer.Pointer + Headroom;
        ulong baseAddress = DataPointer;
        if (offset >= -0x200000 && offset < -0x100000)
        {
            baseAddress = frameStart;
            offset += 0x200000;
        }
        else if (offset >= -0x100000 && offset < 0)
        {
            baseAddress = frameStart + EthernetHeaderLength;
            offset += 0x100000;
        }
        else if (offset < 0)
            return false;
        ulong start = baseAddress + (ulong)offset;
        ulong end = DataPointer + Length;
        if (start < frameStart || start + (ulong)size > end)
            return false;
        for (int i = 0; i < size; i++)
            value = (value << 8) | *(byte*)(start + (ulong)i);
        return true;
    }

    /// <summary>The packet from skb->data (what skb_load_bytes offsets and LD_ABS address).</summary>
    public Span<byte> Packet => new((void*)DataPointer, (int)Length);
    Span<byte> IPacketBuffer.Data => Packet;

    private Span<byte> User => _ctx.Span[..ProgramTypeInfo.SkBuffUserSize];

    public static SkbContext Build(ProgramTypeInfo type, ReadOnlySpan<byte> dataIn, byte[]? ctxIn, bool hasCtx, uint flags, NetDevices devices)
    {
        if (dataIn.Length < EthernetHeaderLength)
            throw new BpfException(Errno.EINVAL, $"data_size_in {dataIn.Length} is shorter than an Ethernet header");
        if (dataIn.Length > MaxDataIn)
            throw new BpfException(Errno.EINVAL, $"data_size_in {dataIn.Length} is larger than {MaxDataIn}");
        var skb = new SkbContext(type.SeesL2);
        try
        {
            skb.Initialise(type, dataIn, ctxIn, hasCtx, devices);
            if ((flags & BpfRuntime.TestSkbChecksumComplete) != 0)
            {
                skb.ChecksumComplete = true;
                skb.Csum = skb.NetworkChecksum();
            }
            return skb;
        }
        catch
        {
            skb.Dispose();
            throw;
        }
    }

    private void Initialise(ProgramTypeInfo type, ReadOnlySpan<byte> dataIn, byte[]? ctxIn, bool hasCtx, NetDevices devices)
    {
        if (ctxIn is not null)
            ctxIn.AsSpan(0, Math.Min(ctxIn.Length, _ctxIn.Length)).CopyTo(_ctxIn);
        var frame = _buffer.Span.Slice(Headroom, dataIn.Length);
        dataIn.CopyTo(frame);

        uint ctxIfindex = BinaryPrimitives.ReadUInt32LittleEndian(_ctxIn.AsSpan(OffIfindex));
        var dev = devices.Find(NetDevices.Loopback)!;
        if (hasCtx && ctxIfindex > 1)
            dev = devices.Find(ctxIfindex) ?? throw new BpfException(Errno.ENODEV, $"no device with ifindex {ctxIfindex}");
        Ifindex = dev.Ifindex;

        // eth_type_trans
        var dst = frame[..6];
        uint pktType;
        if (dst.SequenceEqual(dev.Address))
            pktType = 0; // PACKET_HOST
        else if ((dst[0] & 1) != 0)
            pktType = dst.SequenceEqual(new byte[6]) ? 1u : 2u; // lo's broadcast address is all-zero
        else
            pktType = 3; // PACKET_OTHERHOST
        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        ushort protocolBe; // as the program reads it: a u16 load of a __be16
        if (etherType >= 0x600)
            protocolBe = BinaryPrimitives.ReadUInt16LittleEndian(frame[12..]);
        else
        {
            bool raw8023 = frame.Length >= 16 && frame[14] == 0xff && frame[15] == 0xff;
            protocolBe = BinaryPrimitives.ReverseEndianness((ushort)(raw8023 ? 0x0001 : 0x0004));
        }
        int l3Length = dataIn.Length - EthernetHeaderLength;
        var l3 = frame[EthernetHeaderLength..];

        // dummy socket
        var sock = _sock.Span;
        BinaryPrimitives.WriteUInt32LittleEndian(sock[72..], 7); // TCP_CLOSE
        BinaryPrimitives.WriteInt32LittleEndian(sock[76..], -1); // no rx queue mapping
        if (etherType == 0x0800)
        {
            if (l3Length < 20)
                throw new BpfException(Errno.EINVAL, $"IPv4 frame has {l3Length} bytes of L3 (needs 20)");
            BinaryPrimitives.WriteUInt32LittleEndian(sock[4..], 2); // AF_INET
            l3.Slice(12, 4).CopyTo(sock[24..]); // src_ip4 = rcv_saddr = iph->saddr
            l3.Slice(16, 4).CopyTo(sock[52..]); // dst_ip4 = daddr
        }
        else if (etherType == 0x86dd)
        {
            if (l3Length < 40)
                throw new BpfException(Errno.EINVAL, $"IPv6 frame has {l3Length} bytes of L3 (needs 40)");
            BinaryPrimitives.WriteUInt32LittleEndian(sock[4..], 10); // AF_INET6
            l3.Slice(8, 16).CopyTo(sock[28..]);
            l3.Slice(24, 16).CopyTo(sock[56..]);
        }

        ulong frameStart = (ulong)_buffer.Pointer + Headroom;
        DataPointer = IsL2 ? frameStart : frameStart + EthernetHeaderLength;
        Length = (uint)(IsL2 ? dataIn.Length : l3Length);

        var user = User;
        BinaryPrimitives.WriteUInt32LittleEndian(user[OffLen..], Length);
        BinaryPrimitives.WriteUInt32LittleEndian(user[OffPktType..], pktType);
        BinaryPrimitives.WriteUInt32LittleEndian(user[OffProtocol..], protocolBe);
        BinaryPrimitives.WriteUInt32LittleEndian(user[OffIfindex..], Ifindex);
        BinaryPrimitives.WriteUInt64LittleEndian(user[OffSk..], (ulong)_sock.Pointer);

        if (hasCtx)
        {
            // convert___skb_to_skb: only the writable fields may be non-zero.
            for (int i = 0; i < ProgramTypeInfo.SkBuffUserSize; i++)
            {
                if (_ctxIn[i] != 0 && !WritableRanges.Any(r => i >= r.Start && i < r.End))
                    throw new BpfException(Errno.EINVAL, $"ctx_in: __sk_buff byte {i} must be zero");
            }
            Copy(_ctxIn, user, OffMark, 4);
            Copy(_ctxIn, user, OffPriority, 8); // priority, ingress_ifindex
            Copy(_ctxIn, user, OffCb, 20);
            Copy(_ctxIn, user, OffTstamp, 8);
            uint wireLen = BinaryPrimitives.ReadUInt32LittleEndian(_ctxIn.AsSpan(OffWireLen));
            if (wireLen == 0)
                wireLen = Length;
            else if (wireLen < Length || wireLen > WireLenMax)
                throw new BpfException(Errno.EINVAL, $"ctx_in: wire_len {wireLen} is outside [{Length}, {WireLenMax}]");
            BinaryPrimitives.WriteUInt32LittleEndian(user[OffWireLen..], wireLen);
            uint gsoSegs = BinaryPrimitives.ReadUInt32LittleEndian(_ctxIn.AsSpan(OffGsoSegs));
            if (gsoSegs > GsoMaxSegs)
                throw new BpfException(Errno.EINVAL, $"ctx_in: gso_segs {gsoSegs} > {GsoMaxSegs}");
            BinaryPrimitives.WriteUInt32LittleEndian(user[OffGsoSegs..], gsoSegs);
            Copy(_ctxIn, user, OffGsoSize, 4);
            Copy(_ctxIn, user, OffHwtstamp, 8);
        }
        UpdatePointers();
    }

    private static void Copy(byte[] from, Span<byte> to, int offset, int length) => from.AsSpan(offset, length).CopyTo(to[offset..]);

    private void UpdatePointers()
    {
        *(ulong*)(_ctx.Pointer + ProgramTypeInfo.SkbDataSlot) = DataPointer;
        *(ulong*)(_ctx.Pointer + ProgramTypeInfo.SkbDataEndSlot) = DataPointer + Length;
        *(ulong*)(_ctx.Pointer + ProgramTypeInfo.SkbDataMetaSlot) = DataPointer; // never metadata in skb test_run
    }

    /// <summary>data_out: the final frame; L3 programs get 14 zero bytes in front (§3.2 step 18).</summary>
    public byte[] Output()
    {
        if (IsL2)
            return Packet.ToArray();
        var result = new byte[Length + EthernetHeaderLength];
        Packet.CopyTo(result.AsSpan(EthernetHeaderLength));
        return result;
    }

    /// <summary>ctx_out per convert_skb_to___skb: the fields written back; gso_size, tc_index, tc_classid, queue_mapping keep ctx_in.</summary>
    public byte[] ContextOutput()
    {
        var output = (byte[])_ctxIn.Clone();
        var user = User;
        foreach (var (off, len) in new[] { (OffMark, 4), (OffPriority, 4), (OffIngressIfindex, 4), (OffCb, 20), (OffTstamp, 8), (OffWireLen, 4), (OffGsoSegs, 4), (OffHwtstamp, 8) })
            user.Slice(off, len).CopyTo(output.AsSpan(off));
        BinaryPrimitives.WriteUInt32LittleEndian(output.AsSpan(OffIfindex), Ifindex);
        return output;
    }

    // ---- helpers ----

    /// <summary>bpf_skb_load_bytes: -EFAULT (and zeroed destination) outside the packet.</summary>
    public long LoadBytes(ulong offset, Span<byte> to)
    {
        if (offset > 0xffff || offset + (ulong)to.Length > Length)
        {
            to.Clear();
            return -(long)Errno.EFAULT;
        }
        Packet.Slice((int)offset, to.Length).CopyTo(to);
        return 0;
    }

    /// <summary>bpf_skb_store_bytes: flags ⊆ {RECOMPUTE_CSUM, INVALIDATE_HASH}; -EFAULT outside the packet.</summary>
    public long StoreBytes(ulong offset, ReadOnlySpan<byte> from, ulong flags)
    {
        if ((flags & ~3UL) != 0)
            return -(long)Errno.EINVAL;
        if (offset > 0xffff || offset + (ulong)from.Length > Length)
            return -(long)Errno.EFAULT;
        bool recompute = (flags & 1) != 0 && ChecksumComplete; // BPF_F_RECOMPUTE_CSUM: skb_postpull/postpush_rcsum
        if (recompute)
            Csum = Checksum.Sub(Csum, Block(Checksum.Partial(Packet.Slice((int)offset, from.Length), 0), (int)offset));
        from.CopyTo(Packet[(int)offset..]);
        if (recompute)
            Csum = Checksum.Add(Csum, Block(Checksum.Partial(from, 0), (int)offset));
        if ((flags & 2) != 0)
            BinaryPrimitives.WriteUInt32LittleEndian(User[68..], 0); // hash invalidated
        return 0;
    }

    public void Dispose()
    {
        _buffer.Dispose();
        _ctx.Dispose();
        _sock.Dispose();
    }
}
