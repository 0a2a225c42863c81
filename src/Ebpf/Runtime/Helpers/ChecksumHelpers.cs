namespace Ebpf.Runtime.Helpers;

/// <summary>A writable packet the skb helpers work on (the context builders provide it per invocation).</summary>
internal interface IPacketBuffer
{
    /// <summary>The packet from skb->data to the end of the linear data.</summary>
    Span<byte> Data { get; }
}

/// <summary>csum_diff, l3_csum_replace, l4_csum_replace (6.13+ folded csum_diff semantics).</summary>
internal static unsafe class ChecksumHelpers
{
    public const ulong HeaderFieldMask = 0xf;
    public const ulong PseudoHeader = 0x10;
    public const ulong MarkMangled0 = 0x20;
    public const ulong MarkEnforce = 0x40;
    public const ulong Ipv6 = 0x80;
    private const ushort CsumMangled0 = 0xffff;

    /// <summary>bpf_csum_diff(from, from_size, to, to_size, seed) (28).</summary>
    public static ulong CsumDiff(ulong from, ulong fromSize, ulong to, ulong toSize, ulong seed)
    {
        if (fromSize > int.MaxValue || toSize > int.MaxValue)
            return BuiltinHelpers.Err(Errno.EINVAL);
        if ((fromSize != 0 && !HelperMemory.CanAccess(from, fromSize, false)) || (toSize != 0 && !HelperMemory.CanAccess(to, toSize, false)))
            return BuiltinHelpers.Err(Errno.EFAULT);
        uint s = (uint)seed;
        var f = fromSize == 0 ? default : HelperMemory.Bytes(from, fromSize);
        var t = toSize == 0 ? default : HelperMemory.Bytes(to, toSize);
        if (fromSize != 0 && toSize != 0)
            return Checksum.From32To16(Checksum.Sub(Checksum.Partial(t, s), Checksum.Partial(f, 0)));
        if (toSize != 0)
            return Checksum.From32To16(Checksum.Partial(t, s));
        if (fromSize != 0)
            return Checksum.From32To16(~Checksum.Partial(f, ~s));
        return seed;
    }

    /// <summary>bpf_l3_csum_replace(skb, off, from, to, flags) (10).</summary>
    public static ulong L3CsumReplace(ulong ctx, ulong offset, ulong from, ulong to, ulong flags)
    {
        if ((flags & ~HeaderFieldMask) != 0)
            return BuiltinHelpers.Err(Errno.EINVAL);
        if (!TryField(offset, out var field))
            return BuiltinHelpers.Err(Errno.EFAULT);
        ushort sum = (ushort)(field[0] | (field[1] << 8));
        switch (flags & HeaderFieldMask)
        {
            case 0:
                if (from != 0) return BuiltinHelpers.Err(Errno.EINVAL);
                sum = Checksum.ReplaceByDiff(sum, (uint)to);
                break;
            case 2:
                sum = Checksum.Replace2(sum, (ushort)from, (ushort)to);
                break;
            case 4:
                sum = Checksum.Replace4(sum, (uint)from, (uint)to);
                break;
            default:
                return BuiltinHelpers.Err(Errno.EINVAL);
        }
        field[0] = (byte)sum;
        field[1] = (byte)(sum >> 8);
        return 0;
    }

    /// <summary>bpf_l4_csum_replace(skb, off, from, to, flags) (11).</summary>
    public static ulong L4CsumReplace(ulong ctx, ulong offset, ulong from, ulong to, ulong flags)
    {
        if ((flags & ~(MarkMangled0 | MarkEnforce | PseudoHeader | HeaderFieldMask | Ipv6)) != 0)
            return BuiltinHelpers.Err(Errno.EINVAL);
        if (!TryField(offset, out var field))
            return BuiltinHelpers.Err(Errno.EFAULT);
        ushort sum = (ushort)(field[0] | (field[1] << 8));
        bool mangled0 = (flags & MarkMangled0) != 0;
        if (mangled0 && (flags & MarkEnforce) == 0 && sum == 0)
            return 0;
        switch (flags & HeaderFieldMask)
        {
            case 0:
                if (from != 0) return BuiltinHelpers.Err(Errno.EINVAL);
                sum = Checksum.ReplaceByDiff(sum, (uint)to);
                break;
            case 2:
                sum = Checksum.Replace4(sum, (ushort)from, (ushort)to);
                break;
            case 4:
                sum = Checksum.Replace4(sum, (uint)from, (uint)to);
                break;
            default:
                return BuiltinHelpers.Err(Errno.EINVAL);
        }
        if (mangled0 && sum == 0)
            sum = CsumMangled0;
        // inet_proto_csum_replace*: with a pseudo-header field and CHECKSUM_COMPLETE, skb->csum follows the change.
        if ((flags & PseudoHeader) != 0 && HelperInvocation.Current?.PacketState is ProgramTypes.SkbContext { ChecksumComplete: true } skb)
        {
            uint diff = (flags & HeaderFieldMask) == 0 ? (uint)to : Checksum.Add(~(uint)from, (uint)to);
            skb.Csum = ~Checksum.Add(diff, ~skb.Csum);
        }
        field[0] = (byte)sum;
        field[1] = (byte)(sum >> 8);
        return 0;
    }

    /// <summary>bpf_csum_update(skb, csum) (40): adds to skb->csum under CHECKSUM_COMPLETE (returns it), else -ENOTSUPP.</summary>
    public static ulong CsumUpdate(ulong ctx, ulong csum, ulong r3, ulong r4, ulong r5)
    {
        if (HelperInvocation.Current?.PacketState is not ProgramTypes.SkbContext { ChecksumComplete: true } skb)
            return BuiltinHelpers.Err(Errno.ENOTSUPP);
        skb.Csum = Checksum.Add(skb.Csum, (uint)csum);
        return skb.Csum;
    }

    private static bool TryField(ulong offset, out Span<byte> field)
    {
        field = default;
        if (offset > 0xffff || HelperInvocation.Current?.PacketState is not IPacketBuffer packet)
            return false;
        var data = packet.Data;
        if ((ulong)data.Length < offset + 2)
            return false;
        field = data.Slice((int)offset, 2);
        return true;
    }
}
