using Ebpf.Abi;
using Ebpf.Linux.Net;
using Ebpf.Loading;
using Ebpf.Runtime;
using Ebpf.Runtime.Net;

namespace Ebpf.Tests.Runtime.Net;

/// <summary>
/// The XDP metadata kfuncs (tests/fixtures/xdp/devices/rx_metadata.bpf.c): a device-bound program on a veth reads the
/// metadata injected with each frame; absent values are -ENODATA, a driver without the op gives -EOPNOTSUPP; a program
/// that is not device-bound is refused at load, as the kernel refuses it.
/// </summary>
public class DeviceBoundMetadataTests
{
    private const long ENODATA = -61, EOPNOTSUPP = -95;
    private const string Fixture = "xdp/devices/rx_metadata.bpf.o";

    private static ObjectSpec Spec(int ifindex)
    {
        var spec = ObjectSpec.Load(SharedData.Fixture(Fixture));
        var p = spec.Programs.Single(p => p.Name == "rx_metadata");
        if (ifindex != 0)
        {
            p.Ifindex = ifindex;
            p.Flags |= ProgramLoadFlags.XdpDevBoundOnly;
        }
        return spec;
    }

    /// <summary>The eight result slots: timestamp ret/value, hash ret/value/type, vlan ret/proto(__be16 as stored)/tci.</summary>
    private static long[] Results(BpfCollection c) =>
        Enumerable.Range(0, 8).Select(i => c.Maps["results"].Lookup<uint, long>((uint)i)).ToArray();

    private static (BpfRuntime Runtime, BpfCollection Collection) BoundOnVeth(bool jit, XdpMetadataOps? ops = null)
    {
        var rt = new BpfRuntime { JitEnabled = jit };
        var (veth0, _) = rt.Network.AddVethPair("veth0", "veth1");
        if (ops is { } o)
            veth0.XdpMetadata = o;
        var c = rt.Load(Spec((int)veth0.Ifindex));
        c.Programs["rx_metadata"].XdpAttach((int)veth0.Ifindex);
        return (rt, c);
    }

    [Theory, InlineData(false), InlineData(true)]
    public void A_bound_program_reads_each_frames_metadata(bool jit)
    {
        var (rt, c) = BoundOnVeth(jit);
        using var _ = c;
        var p = c.Programs["rx_metadata"].Program;
        Assert.Equal("verified and fully modelled", p.ExecutionModeReason);

        var meta = new XdpRxMetadata { Timestamp = 0x1122334455667788, Hash = 0xdeadbeef, RssType = 8, VlanProto = 0x8100, VlanTci = 0x2005 };
        var r = rt.Network.Inject("veth0", NetFixtures.Frame(), meta);
        Assert.Equal(XdpActions.Pass, Assert.Single(r.Frames).Verdict);
        // __be16 0x8100 stored as bytes 81 00: the little-endian s64 slot reads 0x0081.
        Assert.Equal([0L, 0x1122334455667788, 0, 0xdeadbeef, 8, 0, 0x0081, 0x2005], Results(c));

        // A batch: each frame its own metadata; absent values are -ENODATA (the outputs keep the program's zeros).
        var frames = new[] { NetFixtures.Frame(), NetFixtures.Frame() };
        rt.Network.InjectBatch("veth0", frames, [meta, new XdpRxMetadata { Hash = 7, RssType = 0 }]);
        Assert.Equal([ENODATA, 0, 0, 7, 0, ENODATA, 0, 0], Results(c));
        rt.Network.Inject("veth0", NetFixtures.Frame());
        Assert.Equal([ENODATA, 0, ENODATA, 0, 0, ENODATA, 0, 0], Results(c));
        rt.Network.Inject("veth0", NetFixtures.Frame(), new XdpRxMetadata { Timestamp = 5, VlanProto = 0x88a8, VlanTci = 1 });
        Assert.Equal([0L, 5, ENODATA, 0, 0, 0, 0xa888, 1], Results(c));

        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => rt.Network.InjectBatch("veth0", frames, [meta])).Errno);
    }

    [Theory, InlineData(false), InlineData(true)]
    public void Ops_the_driver_lacks_return_eopnotsupp(bool jit)
    {
        var (rt, c) = BoundOnVeth(jit, XdpMetadataOps.Hash);
        using var _ = c;
        var meta = new XdpRxMetadata { Timestamp = 9, Hash = 3, RssType = 1, VlanProto = 0x8100, VlanTci = 2 };
        rt.Network.Inject("veth0", NetFixtures.Frame(), meta);
        Assert.Equal([EOPNOTSUPP, 0, 0, 3, 1, EOPNOTSUPP, 0, 0], Results(c));
    }

    [Fact]
    public void The_interpreter_and_the_jit_agree_in_checked_mode()
    {
        foreach (bool jit in new[] { false, true })
        {
            var rt = new BpfRuntime { JitEnabled = jit };
            var (veth0, _) = rt.Network.AddVethPair("veth0", "veth1");
            using var c = rt.Load(Spec((int)veth0.Ifindex), new ObjectLoadOptions { AlwaysChecked = true });
            var denied = new List<CheckedHelperAccessDenial>();
            rt.CheckedHelperAccessDenied += denied.Add;
            c.Programs["rx_metadata"].XdpAttach((int)veth0.Ifindex);
            rt.Network.Inject("veth0", NetFixtures.Frame(), new XdpRxMetadata { Timestamp = 1, Hash = 2, RssType = 3, VlanProto = 0x8100, VlanTci = 4 });
            Assert.Equal([0L, 1, 0, 2, 3, 0, 0x0081, 4], Results(c));
            Assert.Empty(denied);
        }
    }

    [Fact]
    public void Frames_a_program_sends_on_carry_no_metadata()
    {
        // veth1's bound program sees what veth0's peer transmitted: an xdp_frame without an skb, so -ENODATA.
        var rt = new BpfRuntime();
        var (veth0, veth1) = rt.Network.AddVethPair("veth0", "veth1");
        using var devices = NetFixtures.Load(rt);
        devices.Programs["tag_tx"].XdpAttach((int)veth0.Ifindex);
        using var c = rt.Load(Spec((int)veth1.Ifindex));
        c.Programs["rx_metadata"].XdpAttach((int)veth1.Ifindex);
        var r = rt.Network.Inject("veth0", NetFixtures.Frame(), new XdpRxMetadata { Timestamp = 1, Hash = 2, VlanProto = 0x8100 });
        Assert.Equal(1, r.Delivered("veth1 stack"));
        Assert.Equal([ENODATA, 0, ENODATA, 0, 0, ENODATA, 0, 0], Results(c));
    }

    [Theory, ClassData(typeof(Backends))]
    public void The_verifier_checks_the_arguments_against_the_vmlinux_prototypes(string backend) => InNamespace(backend, b =>
    {
        // R2 of rx_timestamp must be 8 bytes of stack or map memory: from r10 - 4 they cross the frame's top.
        int a = b.Backend.CreateDevice("xa", "veth", "xb")[0].Ifindex;
        var spec = Spec(a);
        var prog = spec.Programs.Single(p => p.Name == "rx_metadata");
        int call = Array.FindIndex(prog.Instructions, i => i.IsCall); // bpf_xdp_metadata_rx_timestamp(ctx, r10 - 16)
        Assert.Equal(Ebpf.Isa.Instruction.Alu64(Ebpf.Isa.AluOperation.Add, 2, -16), prog.Instructions[call - 1]);
        prog.Instructions[call - 1] = Ebpf.Isa.Instruction.Alu64(Ebpf.Isa.AluOperation.Add, 2, -4);
        var e = Assert.ThrowsAny<BpfException>(() => b.Load(spec).Dispose());
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("\ninvalid read from stack R2 off=-4 size=8\n", e.Log ?? "", StringComparison.Ordinal);
        b.Backend.DeleteDevice(a);
    });

    /// <summary>Runs <paramref name="body"/> with the backend, on Linux on the thread of a fresh network namespace.</summary>
    private static void InNamespace(string backend, Action<TestBackend> body)
    {
        using var b = TestBackend.Create(backend);
        if (!b.IsLinux)
        {
            body(b);
            return;
        }
        using var ns = NetworkNamespace.Create();
        ns.Invoke(() => body(b));
    }

    [Theory, ClassData(typeof(Backends))]
    public void Load_and_attach_verdicts_match_the_kernel(string backend) => InNamespace(backend, Scenario);

    private static void Scenario(TestBackend b)
    {
        var pair = b.Backend.CreateDevice("xa", "veth", "xb");
        int a = pair[0].Ifindex, other = pair[1].Ifindex;
        // Not device-bound: refused before the walk (bpf_dev_bound_kfunc_check).
        var e = Assert.ThrowsAny<BpfException>(() => b.Load(Spec(0)).Dispose());
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("metadata kfuncs require device-bound program", e.Log ?? e.Message, StringComparison.Ordinal);
        // Bound to xa: loads, attaches natively to xa and nowhere else.
        using var c = b.Load(Spec(a));
        var p = c.Programs["rx_metadata"];
        var wrong = Assert.ThrowsAny<BpfException>(() => p.XdpAttach(other, XdpFlags.DrvMode));
        Assert.Equal(Errno.EINVAL, wrong.Errno);
        Assert.Equal(Errno.EINVAL, Assert.ThrowsAny<BpfException>(() => p.XdpAttach(a, XdpFlags.SkbMode)).Errno);
        p.XdpAttach(a, XdpFlags.DrvMode);
        Assert.Equal(p.Id, b.Backend.XdpQuery(a).DriverProgramId);
        b.Backend.DeleteDevice(a);
    }
}
