using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Ebpf.Linux.Net;

/// <summary>The netlink constants of &lt;linux/netlink.h&gt; this code uses.</summary>
internal static class Netlink
{
    public const int HeaderSize = 16; // struct nlmsghdr
    public const ushort Noop = 1, Error = 2, Done = 3;
    public const ushort FRequest = 0x1, FMulti = 0x2, FAck = 0x4, FDump = 0x300;
    public const ushort FReplace = 0x100, FExcl = 0x200, FCreate = 0x400;
    public const ushort FCapped = 0x100, FAckTlvs = 0x200; // flags of an NLMSG_ERROR reply
    public const ushort NlaFNested = 0x8000, NlaTypeMask = 0x3fff;
    public const ushort ErrAttrMsg = 1, ErrAttrOffset = 2; // NLMSGERR_ATTR_MSG, NLMSGERR_ATTR_OFFS

    public static int Align(int length) => (length + 3) & ~3;
}

/// <summary>
/// One netlink request under construction: nlmsghdr, the family's fixed header, then attributes (nested ones by
/// <see cref="BeginNested"/>/<see cref="EndNested"/>), each padded to 4 bytes as NLMSG_ALIGN/NLA_ALIGN do.
/// </summary>
internal sealed class NetlinkRequest
{
    private byte[] _buffer = new byte[256];
    private int _length = Netlink.HeaderSize;

    public NetlinkRequest(ushort type, ushort flags)
    {
        Type = type;
        Flags = flags;
    }

    public ushort Type { get; }
    public ushort Flags { get; }

    /// <summary>The family header (struct ifinfomsg for rtnetlink links).</summary>
    public NetlinkRequest Fixed<T>(in T header) where T : unmanaged
    {
        Append(MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in header)));
        return this;
    }

    public NetlinkRequest Attribute(ushort type, ReadOnlySpan<byte> payload)
    {
        Span<byte> head = stackalloc byte[4];
        BinaryPrimitives.WriteUInt16LittleEndian(head, (ushort)(4 + payload.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(head[2..], type);
        Append(head);
        Append(payload);
        return this;
    }

    public NetlinkRequest U32(ushort type, uint value)
    {
        Span<byte> v = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(v, value);
        return Attribute(type, v);
    }

    public NetlinkRequest I32(ushort type, int value) => U32(type, (uint)value);

    /// <summary>A NUL-terminated string attribute (NLA_STRING / NLA_NUL_STRING accept it).</summary>
    public NetlinkRequest String(ushort type, string value) => Attribute(type, Encoding.UTF8.GetBytes(value + "\0"));

    /// <summary>Opens a nested attribute; its length is written by <see cref="EndNested"/>.</summary>
    public int BeginNested(ushort type)
    {
        int start = _length;
        Attribute((ushort)(type | Netlink.NlaFNested), []);
        return start;
    }

    public NetlinkRequest EndNested(int start)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(start), (ushort)(_length - start));
        return this;
    }

    /// <summary>The finished message with its header filled in.</summary>
    public byte[] Build(uint sequence, ushort extraFlags = 0)
    {
        var span = _buffer.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)_length);
        BinaryPrimitives.WriteUInt16LittleEndian(span[4..], Type);
        BinaryPrimitives.WriteUInt16LittleEndian(span[6..], (ushort)(Flags | extraFlags));
        BinaryPrimitives.WriteUInt32LittleEndian(span[8..], sequence);
        BinaryPrimitives.WriteUInt32LittleEndian(span[12..], 0); // port id 0: the kernel fills in ours
        return _buffer.AsSpan(0, _length).ToArray();
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        int padded = Netlink.Align(bytes.Length);
        if (_length + padded > _buffer.Length)
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + padded));
        bytes.CopyTo(_buffer.AsSpan(_length));
        _buffer.AsSpan(_length + bytes.Length, padded - bytes.Length).Clear();
        _length += padded;
    }
}

/// <summary>Reads a run of netlink attributes (struct nlattr + payload, 4-byte aligned); malformed lengths end the run.</summary>
internal static class NetlinkAttributes
{
    /// <summary>Every attribute as (type without the nested/byte-order flags, payload).</summary>
    public static List<(ushort Type, byte[] Payload)> Parse(ReadOnlySpan<byte> attributes)
    {
        var result = new List<(ushort, byte[])>();
        while (attributes.Length >= 4)
        {
            int length = BinaryPrimitives.ReadUInt16LittleEndian(attributes);
            ushort type = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(attributes[2..]) & Netlink.NlaTypeMask);
            if (length < 4 || length > attributes.Length)
                break;
            result.Add((type, attributes[4..length].ToArray()));
            attributes = attributes[Math.Min(Netlink.Align(length), attributes.Length)..];
        }
        return result;
    }

    public static byte[]? Find(List<(ushort Type, byte[] Payload)> attributes, ushort type)
    {
        foreach (var (t, payload) in attributes)
            if (t == type)
                return payload;
        return null;
    }

    public static uint? U32(List<(ushort Type, byte[] Payload)> attributes, ushort type) =>
        Find(attributes, type) is { Length: >= 4 } p ? BinaryPrimitives.ReadUInt32LittleEndian(p) : null;

    public static byte? U8(List<(ushort Type, byte[] Payload)> attributes, ushort type) =>
        Find(attributes, type) is { Length: >= 1 } p ? p[0] : null;

    /// <summary>A string attribute without its terminating NUL.</summary>
    public static string? String(List<(ushort Type, byte[] Payload)> attributes, ushort type) =>
        Find(attributes, type) is { } p ? Encoding.UTF8.GetString(p.AsSpan(0, p.AsSpan().IndexOf((byte)0) is var z and >= 0 ? z : p.Length)) : null;
}
