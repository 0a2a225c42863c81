using System.Buffers.Binary;
using System.Text;
using Ebpf.Linux.Net;

namespace Ebpf.Tests.Linux.Net;

/// <summary>
/// The netlink encoding without a kernel: requests laid out as the uapi says (lengths, 4-byte padding, nested lengths),
/// and error replies decoded in both shapes the kernel sends (the whole request echoed, or capped to its header) with
/// or without extack TLVs.
/// </summary>
public class NetlinkMessageTests
{
    [Fact]
    public void RequestIsLaidOutAsTheUapiSays()
    {
        var request = new NetlinkRequest(Rtnl.SetLink, 0).Fixed(new IfInfoMsg { Index = 7 });
        int nest = request.BeginNested(Rtnl.IflaXdp);
        request.I32(Rtnl.IflaXdpFd, -1).String(Rtnl.IflaIfname, "ab");
        request.EndNested(nest);
        byte[] m = request.Build(42, Netlink.FRequest | Netlink.FAck);
        // nlmsghdr 16 + ifinfomsg 16 + nest 4 + (fd 8) + (name 4+3 -> 8) = 52
        Assert.Equal(52, m.Length);
        Assert.Equal(52u, BinaryPrimitives.ReadUInt32LittleEndian(m));
        Assert.Equal(Rtnl.SetLink, BinaryPrimitives.ReadUInt16LittleEndian(m.AsSpan(4)));
        Assert.Equal(Netlink.FRequest | Netlink.FAck, BinaryPrimitives.ReadUInt16LittleEndian(m.AsSpan(6)));
        Assert.Equal(42u, BinaryPrimitives.ReadUInt32LittleEndian(m.AsSpan(8)));
        Assert.Equal(7, BinaryPrimitives.ReadInt32LittleEndian(m.AsSpan(16 + 4)));
        Assert.Equal(20, BinaryPrimitives.ReadUInt16LittleEndian(m.AsSpan(32))); // the nest covers its own 4 + 8 + 8
        Assert.Equal(Rtnl.IflaXdp | Netlink.NlaFNested, BinaryPrimitives.ReadUInt16LittleEndian(m.AsSpan(34)));
        var inner = NetlinkAttributes.Parse(m.AsSpan(36, 16));
        Assert.Equal(unchecked((uint)-1), NetlinkAttributes.U32(inner, Rtnl.IflaXdpFd));
        Assert.Equal("ab", NetlinkAttributes.String(inner, Rtnl.IflaIfname));
        Assert.Equal(0, m[51]); // padding is zero
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(false, false)]
    public void ErrorReplyCarriesErrnoAndExtack(bool capped, bool withExtack)
    {
        byte[] original = new NetlinkRequest(Rtnl.SetLink, 0).Fixed(new IfInfoMsg { Index = 3 }).U32(Rtnl.IflaMtu, 1500).Build(1);
        var payload = new List<byte>();
        payload.AddRange(BitConverter.GetBytes(-(int)Errno.EEXIST));
        payload.AddRange(capped ? original.AsSpan(0, 16).ToArray() : original);
        ushort flags = (ushort)((capped ? Netlink.FCapped : 0) | (withExtack ? Netlink.FAckTlvs : 0));
        if (withExtack)
        {
            byte[] text = Encoding.ASCII.GetBytes("Active program does not match expected\0");
            payload.AddRange(BitConverter.GetBytes((ushort)(4 + text.Length)));
            payload.AddRange(BitConverter.GetBytes(Netlink.ErrAttrMsg));
            payload.AddRange(text);
            while (payload.Count % 4 != 0)
                payload.Add(0);
            payload.AddRange([8, 0, (byte)Netlink.ErrAttrOffset, 0, 32, 0, 0, 0]); // NLMSGERR_ATTR_OFFS, ignored
        }
        var error = Assert.IsType<NetlinkException>(NetlinkSocket.ErrorOf(payload.ToArray(), flags, "RTM_SETLINK ifindex 3 IFLA_XDP"));
        Assert.Equal(Errno.EEXIST, error.Errno);
        if (withExtack)
        {
            Assert.Equal("Active program does not match expected", error.ExtendedAck);
            Assert.Equal("RTM_SETLINK ifindex 3 IFLA_XDP: Active program does not match expected (File exists)", error.Message);
        }
        else
        {
            Assert.Null(error.ExtendedAck);
            Assert.Equal("RTM_SETLINK ifindex 3 IFLA_XDP: File exists", error.Message);
        }
        Assert.Null(NetlinkSocket.ErrorOf(new byte[20], 0, "ack")); // error 0 is the ack
        Assert.Equal(Errno.EBADMSG, NetlinkSocket.ErrorOf(new byte[2], 0, "short")!.Errno);
    }

    [Fact]
    public void MalformedAttributesEndTheRunInsteadOfOverreading()
    {
        byte[] attrs = [8, 0, 1, 0, 1, 2, 3, 4, /* claims 200 bytes */ 200, 0, 2, 0, 9, 9];
        var parsed = NetlinkAttributes.Parse(attrs);
        Assert.Single(parsed);
        Assert.Equal(0x04030201u, NetlinkAttributes.U32(parsed, 1));
        Assert.Empty(NetlinkAttributes.Parse([2, 0, 1, 0])); // length below the header
        Assert.Null(RtnlClient.Parse(new byte[10])); // shorter than ifinfomsg
    }
}
