using System.Buffers.Binary;

namespace Ebpf.Tests.Verification;

/// <summary>One input of a soundness run: a packet (skb/xdp test_run data_in) or a raw context block.</summary>
public sealed record SoundnessInput(string Name, byte[] Bytes);

/// <summary>
/// The inputs soundness runs feed to accepted programs: packets that take parsers down their main paths (IPv4 TCP and
/// UDP, IPv6) and their edges (a bare Ethernet header, a truncated IP header, random bytes), and zeroed or random
/// contexts for the types whose ctx is plain memory. Deterministic (fixed seeds), so a fault reproduces.
/// </summary>
public static class SoundnessInputs
{
    private const int EthHeader = 14;

    public static IReadOnlyList<SoundnessInput> Packets { get; } =
    [
        // A bare Ethernet header (an EtherType no parser follows: test_run refuses an IPv4 one without its 20 bytes).
        new("eth-only", Ethernet(0x88b5, [])),
        new("ipv4-tcp", Ethernet(0x0800, Ipv4(6, Tcp()))),
        new("ipv4-udp", Ethernet(0x0800, Ipv4(17, Udp(53, 8)))),
        new("ipv6-tcp", Ethernet(0x86dd, Ipv6(6, Tcp()))),
        // The IP header promises TCP, the frame ends 6 bytes into it.
        new("tcp-truncated", Ethernet(0x0800, Ipv4(6, Tcp())[..26])),
        // IP options (ihl 6): parsers that skip ihl*4 bytes land somewhere else than at 20.
        new("ipv4-options-udp", Ethernet(0x0800, Ipv4(17, Udp(4789, 16), optionWords: 1))),
        // An 802.1Q tag before the IPv4 header.
        new("vlan-ipv4-tcp", Ethernet(0x8100, [0x00, 0x0a, 0x08, 0x00, .. Ipv4(6, Tcp())])),
        new("random-128", Random(128, seed: 1)),
    ];

    /// <summary>A zeroed and a random context of <paramref name="size"/> bytes.</summary>
    public static IReadOnlyList<SoundnessInput> Contexts(int size) =>
    [
        new("ctx-zero", new byte[size]),
        new("ctx-random", Random(size, seed: 2)),
    ];

    public static byte[] Random(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static byte[] Ethernet(ushort etherType, byte[] payload)
    {
        var frame = new byte[EthHeader + payload.Length];
        byte[] dst = [0x02, 0, 0, 0, 0, 0x02], src = [0x02, 0, 0, 0, 0, 0x01];
        dst.CopyTo(frame, 0);
        src.CopyTo(frame, 6);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), etherType);
        payload.CopyTo(frame, EthHeader);
        return frame;
    }

    private static byte[] Ipv4(byte protocol, byte[] l4, int optionWords = 0)
    {
        int header = 20 + 4 * optionWords;
        var p = new byte[header + l4.Length];
        p[0] = (byte)(0x40 | (5 + optionWords));
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)p.Length);
        p[8] = 64;
        p[9] = protocol;
        byte[] saddr = [10, 0, 0, 1], daddr = [10, 0, 0, 2];
        saddr.CopyTo(p, 12);
        daddr.CopyTo(p, 16);
        uint sum = 0;
        for (int i = 0; i < header; i += 2)
            sum += BinaryPrimitives.ReadUInt16BigEndian(p.AsSpan(i));
        while (sum > 0xffff)
            sum = (sum & 0xffff) + (sum >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(10), (ushort)~sum);
        l4.CopyTo(p, header);
        return p;
    }

    private static byte[] Ipv6(byte nextHeader, byte[] l4)
    {
        var p = new byte[40 + l4.Length];
        p[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), (ushort)l4.Length);
        p[6] = nextHeader;
        p[7] = 64;
        p[8] = 0xfd;
        p[23] = 1;
        p[24] = 0xfd;
        p[39] = 2;
        l4.CopyTo(p, 40);
        return p;
    }

    private static byte[] Tcp()
    {
        var t = new byte[20 + 8];
        BinaryPrimitives.WriteUInt16BigEndian(t, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(2), 80);
        BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(4), 1);
        t[12] = 0x50;
        t[13] = 0x02; // SYN
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(14), 65535);
        return t;
    }

    private static byte[] Udp(ushort dstPort, int payload)
    {
        var u = new byte[8 + payload];
        BinaryPrimitives.WriteUInt16BigEndian(u, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(2), dstPort);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(4), (ushort)u.Length);
        return u;
    }
}
