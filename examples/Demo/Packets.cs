using System.Buffers.Binary;

namespace Ebpf.Demo;

/// <summary>Builds the small Ethernet frames the demo feeds to the XDP program.</summary>
internal static class Packets
{
    public const byte Tcp = 6;
    public const byte Udp = 17;

    public static byte[] Ipv4(byte protocol, ushort destinationPort)
    {
        var frame = new byte[14 + 20 + 20];
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x0800); // EtherType IPv4
        var ip = frame.AsSpan(14);
        ip[0] = 0x45;                                                     // version 4, IHL 5
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], 40);
        ip[8] = 64;
        ip[9] = protocol;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], 0x0a000001);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], 0x0a000002);
        var l4 = frame.AsSpan(34);
        BinaryPrimitives.WriteUInt16BigEndian(l4, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(l4[2..], destinationPort);
        return frame;
    }

    public static byte[] Arp()
    {
        var frame = new byte[14 + 28];
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x0806);
        return frame;
    }

    public static IEnumerable<(string Name, byte[] Frame)> Sample() =>
    [
        ("tcp :80", Ipv4(Tcp, 80)),
        ("tcp :23", Ipv4(Tcp, 23)),
        ("tcp :2323", Ipv4(Tcp, 2323)),
        ("udp :53", Ipv4(Udp, 53)),
        ("arp", Arp()),
    ];

    public static string XdpAction(uint action) => action switch
    {
        0 => "XDP_ABORTED",
        1 => "XDP_DROP",
        2 => "XDP_PASS",
        3 => "XDP_TX",
        4 => "XDP_REDIRECT",
        _ => action.ToString(),
    };
}
