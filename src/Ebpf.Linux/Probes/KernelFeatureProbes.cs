using Ebpf.Abi;
using Ebpf.Abi.Profiles;
using Ebpf.Isa;

namespace Ebpf.Linux.Probes;

/// <summary>
/// Probes for the <see cref="KernelFeature"/> bits: BTF kinds by loading a tiny BTF blob that uses the kind (libbpf's
/// probe_kern_btf_* do the same), instructions by loading a socket filter that uses them, XDP live frames by a test
/// run with the flag. Each answers yes only on success; an errno other than the "unknown" one still means no.
/// </summary>
internal static class KernelFeatureProbes
{
    public static FeatureProbe Probe(KernelFeature feature) => feature switch
    {
        KernelFeature.ArgCtxTag => KernelFeatures.ArgCtxTagProbe,
        KernelFeature.BtfDeclTag => BtfLoads(b => b.DeclTag("tag", b.Struct("s", 4, ("a", b.Int("int", 4), 0)), -1)),
        KernelFeature.BtfTypeTag => BtfLoads(b => b.Pointer(b.TypeTag("tag", b.Int("int", 4)))),
        KernelFeature.BtfEnum64 => BtfLoads(b => b.Enum64("e", ("a", 1UL << 40))),
        KernelFeature.BtfFloat => BtfLoads(b => b.Float("float", 4)),
        // libbpf's probe_kern_btf_datasec: static int a; in a ".data" DATASEC.
        KernelFeature.BtfDatasec => BtfLoads(b => b.Datasec(".data", 4, (b.Var("a", b.Int("", 4), 0), 0, 4))),
        KernelFeature.MayGoto => SocketFilterLoads([new Instruction(OpcodeExtras.MayGoto, 0, 0, 0, 0), Instruction.Mov64(0, 0), Instruction.Exit()]),
        KernelFeature.LoadAcquireStoreRelease => SocketFilterLoads(
        [
            Instruction.Mov64(0, 0),
            new Instruction(0x7b, 10, 0, -8, 0),                                   // *(u64 *)(r10 - 8) = r0
            new Instruction(0xdb, 0, 10, -8, OpcodeExtras.LoadAcquire),            // r0 = load_acquire((u64 *)(r10 - 8))
            Instruction.Exit(),
        ]),
        KernelFeature.XdpLiveFrames => XdpLiveFramesRun(),
        _ => throw new ArgumentOutOfRangeException(nameof(feature)),
    };

    private static FeatureProbe BtfLoads(Action<TinyBtf> build)
    {
        var btf = new TinyBtf();
        build(btf);
        try
        {
            using var loaded = KernelBtf.Load(btf.ToArray());
            return new FeatureProbe(true, Errno.None, "BTF loaded");
        }
        catch (BpfException e)
        {
            return new FeatureProbe(false, e.Errno, e.Message);
        }
    }

    private static FeatureProbe SocketFilterLoads(Instruction[] insns)
    {
        try
        {
            using var p = KernelProgram.Load(new ProgramLoadAttributes
            {
                Type = ProgramType.SocketFilter, Instructions = insns, License = "GPL", Name = "feature_probe",
                LogLevel = VerifierLogLevel.Level1, LogSize = 16 * 1024, RetryWithLogOnFailure = false,
            });
            return new FeatureProbe(true, Errno.None, "loaded");
        }
        catch (BpfException e)
        {
            return new FeatureProbe(false, e.Errno, e.Log?.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? e.Message);
        }
    }

    private static FeatureProbe XdpLiveFramesRun()
    {
        try
        {
            using var p = KernelProgram.Load(new ProgramLoadAttributes
            {
                Type = ProgramType.Xdp, Instructions = new[] { Instruction.Mov64(0, 1), Instruction.Exit() }, License = "GPL",
                Name = "feature_probe", RetryWithLogOnFailure = false,
            });
            p.TestRun(new Collections.TestRunOptions { DataIn = new byte[64], Flags = Collections.TestRunFlags.XdpLiveFrames });
            return new FeatureProbe(true, Errno.None, "test_run with BPF_F_TEST_XDP_LIVE_FRAMES succeeded");
        }
        catch (BpfException e)
        {
            return new FeatureProbe(false, e.Errno, e.Message);
        }
    }
}
