using System.Buffers.Binary;
using Ebpf.Linux.Net;

namespace Ebpf.Tests.Linux.Net;

/// <summary>
/// A private network namespace with one veth pair, both ends up: frames sent on <see cref="B"/> arrive at
/// <see cref="A"/>'s receive path, where the test's XDP program runs; XDP_TX sends them back out of A, to B. Disposing
/// deletes the pair and ends the namespace, so nothing stays on the machine even when the test fails.
/// </summary>
internal sealed class VethNamespace : IDisposable
{
    /// <summary>IEEE 802 "local experimental" EtherType: the fixture counts only these frames, the sockets see only these.</summary>
    public const ushort TestEtherType = 0x88b5;

    private readonly List<IDisposable> _owned = [];

    private VethNamespace(NetworkNamespace ns) => Namespace = ns;

    public NetworkNamespace Namespace { get; }
    public RtnlLink A { get; private set; } = null!;
    public RtnlLink B { get; private set; } = null!;

    /// <summary>Skips (fails under EBPF_REQUIRE=kernel) unless bpf(2) works and a namespace can be made here.</summary>
    public static VethNamespace Create(string a = "xa", string b = "xb")
    {
        KernelRequirement.Require();
        NetworkNamespace ns;
        try
        {
            ns = NetworkNamespace.Create();
        }
        catch (BpfException e)
        {
            Requirement.Missing(Requirement.Kernel, $"cannot create a network namespace: {e.Message}");
            throw;
        }
        var veth = new VethNamespace(ns);
        try
        {
            ns.Invoke(() =>
            {
                using var rtnl = RtnlClient.Open();
                rtnl.CreateVeth(a, b);
                veth.A = rtnl.GetLink(a);
                veth.B = rtnl.GetLink(b);
                rtnl.SetUp(veth.A.Ifindex);
                rtnl.SetUp(veth.B.Ifindex);
            });
            return veth;
        }
        catch
        {
            veth.Dispose();
            throw;
        }
    }

    public T Invoke<T>(Func<T> action) => Namespace.Invoke(action);
    public void Invoke(Action action) => Namespace.Invoke(action);

    /// <summary>A packet socket on a device of the namespace, closed with the namespace.</summary>
    public PacketSocket Socket(RtnlLink device)
    {
        var socket = Namespace.Invoke(() => PacketSocket.Open(device.Ifindex, TestEtherType));
        _owned.Add(socket);
        return socket;
    }

    /// <summary>A frame from B to A: A's MAC, B's MAC, the test EtherType, then <paramref name="payload"/>.</summary>
    public byte[] FrameToA(ReadOnlySpan<byte> payload)
    {
        var frame = new byte[14 + Math.Max(payload.Length, 46)];
        A.Address.CopyTo(frame, 0);
        B.Address.CopyTo(frame, 6);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), TestEtherType);
        payload.CopyTo(frame.AsSpan(14));
        return frame;
    }

    public RtnlLink Refresh(RtnlLink device) => Namespace.Invoke(() =>
    {
        using var rtnl = RtnlClient.Open();
        return rtnl.GetLink(device.Ifindex);
    });

    /// <summary>Deletes the device (and its veth peer) now.</summary>
    public void Delete(RtnlLink device) => Namespace.Invoke(() =>
    {
        using var rtnl = RtnlClient.Open();
        rtnl.DeleteLink(device.Ifindex);
    });

    public void Dispose()
    {
        foreach (var owned in _owned)
            owned.Dispose();
        try
        {
            Namespace.Invoke(() =>
            {
                using var rtnl = RtnlClient.Open();
                foreach (var link in rtnl.GetLinks())
                {
                    try
                    {
                        if (link.Kind == "veth")
                            rtnl.DeleteLink(link.Ifindex);
                    }
                    catch (NetlinkException e) when (e.Errno == Errno.ENODEV)
                    {
                        // the peer of a pair deleted just before
                    }
                }
            });
        }
        finally
        {
            Namespace.Dispose();
        }
    }
}
