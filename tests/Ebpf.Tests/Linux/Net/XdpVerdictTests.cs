using Ebpf.Collections;
using Ebpf.Linux;
using Ebpf.Linux.Net;
using static Ebpf.Tests.Linux.Net.XdpFixture;

namespace Ebpf.Tests.Linux.Net;

/// <summary>
/// A clang-built XDP program on a real veth in a private namespace, attached through netlink or through a bpf_link,
/// in generic (skb) and native (drv) mode: frames sent from the peer are counted per verdict by the program, and what
/// comes out is checked at both ends with packet sockets (XDP_PASS reaches A's stack, XDP_TX comes back to B with the
/// MAC addresses swapped by the program, XDP_DROP/ABORTED reach nobody).
/// </summary>
public class XdpVerdictTests
{
    private static readonly TimeSpan Arrival = TimeSpan.FromSeconds(2), Quiet = TimeSpan.FromMilliseconds(300);
    private const int Frames = 4;

    public static TheoryData<string, string, uint> Cases()
    {
        var data = new TheoryData<string, string, uint>();
        foreach (var how in new[] { "netlink", "link" })
            foreach (var mode in new[] { "skb", "drv" })
                foreach (var verdict in new[] { Aborted, Drop, Pass, Tx })
                    data.Add(how, mode, verdict);
        return data;
    }

    [Theory, MemberData(nameof(Cases))]
    public void VerdictIsCountedAndFramesGoWhereTheKernelSends(string how, string mode, uint verdict)
    {
        using var veth = VethNamespace.Create();
        using var xdp = new XdpFixture();
        using var peerXdp = new XdpFixture();
        XdpFlags modeFlag = mode == "skb" ? XdpFlags.SkbMode : XdpFlags.DrvMode;
        xdp.SetVerdict(verdict);
        KernelLink? link = null;
        try
        {
            veth.Invoke(() =>
            {
                if (how == "netlink")
                    XdpNetlink.Attach(veth.A.Ifindex, xdp.Verdict, modeFlag | XdpFlags.UpdateIfNoExist);
                else
                    link = XdpLinks.Create(xdp.Verdict, veth.A.Ifindex, modeFlag);
                // A native XDP_TX on a veth is delivered through the peer's NAPI, which exists only while the peer has an
                // XDP program (or GRO) of its own; xdp_second passes everything and counts what reaches B.
                if (mode == "drv")
                    XdpNetlink.Attach(veth.B.Ifindex, peerXdp.Second, XdpFlags.DrvMode);
            });
            var state = veth.Invoke(() => XdpNetlink.Query(veth.A.Ifindex));
            Assert.Equal(mode == "skb" ? XdpAttachMode.Generic : XdpAttachMode.Driver, state.Attached);
            Assert.Equal(xdp.VerdictId, state.ProgramId);
            Assert.Equal(xdp.VerdictId, mode == "skb" ? state.GenericProgramId : state.DriverProgramId);

            var atA = veth.Socket(veth.A);
            var atB = veth.Socket(veth.B);
            var sent = new List<byte[]>();
            for (int i = 0; i < Frames; i++)
            {
                var frame = veth.FrameToA([(byte)i, 0xde, 0xad, (byte)verdict]);
                sent.Add(frame);
                atB.Send(frame);
            }

            var arrivedAtA = Collect(atA, verdict == Pass ? Frames : 0);
            var arrivedAtB = Collect(atB, verdict == Tx ? Frames : 0);
            var counts = xdp.Counts();
            Assert.Equal((ulong)Frames, counts[verdict]);
            Assert.Equal((ulong)Frames, counts.Aggregate(0UL, (a, b) => a + b)); // nothing else was counted

            if (verdict == Pass)
                Assert.Equal(sent.Select(Convert.ToHexString), arrivedAtA.Select(Convert.ToHexString));
            else
                Assert.Empty(arrivedAtA);
            if (verdict == Tx)
                Assert.Equal(sent.Select(Reflected).Select(Convert.ToHexString), arrivedAtB.Select(Convert.ToHexString));
            else
                Assert.Empty(arrivedAtB);
            if (mode == "drv")
                Assert.Equal(verdict == Tx ? (ulong)Frames : 0, peerXdp.Count(SecondSlot));
        }
        finally
        {
            link?.Dispose();
        }
    }

    /// <summary>Waits for <paramref name="expected"/> frames, then listens a little longer for any extra one.</summary>
    private static List<byte[]> Collect(PacketSocket socket, int expected)
    {
        var frames = new List<byte[]>();
        while (frames.Count < expected && socket.Receive(Arrival) is { } frame)
            frames.Add(frame);
        frames.AddRange(socket.Drain(Quiet));
        return frames;
    }

    /// <summary>What the program sends back on XDP_TX: the same frame with source and destination MACs exchanged.</summary>
    private static byte[] Reflected(byte[] frame)
    {
        var copy = (byte[])frame.Clone();
        frame.AsSpan(0, 6).CopyTo(copy.AsSpan(6));
        frame.AsSpan(6, 6).CopyTo(copy.AsSpan(0));
        return copy;
    }
}
