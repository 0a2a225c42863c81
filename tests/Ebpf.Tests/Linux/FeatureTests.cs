using Ebpf.Abi;
using Ebpf.Linux.Probes;
using static Ebpf.Tests.Linux.KernelRequirement;

namespace Ebpf.Tests.Linux;

public class FeatureTests(ITestOutputHelper output)
{
    [Fact]
    public void CommonProgramTypesAreSupportedAndUnknownOnesAreNot()
    {
        Require();
        foreach (var t in new[] { ProgramType.SocketFilter, ProgramType.Xdp, ProgramType.SchedCls, ProgramType.Kprobe,
                     ProgramType.CgroupSkb, ProgramType.CgroupSockAddr, ProgramType.RawTracepoint, ProgramType.SkLookup, ProgramType.Syscall })
            Assert.True(KernelFeatures.SupportsProgramType(t), $"{t}: {KernelFeatures.ProbeProgramType(t).Detail}");
        Assert.False(KernelFeatures.SupportsProgramType((ProgramType)200));
        foreach (var t in Enum.GetValues<ProgramType>())
            output.WriteLine($"{t,-24} {KernelFeatures.ProbeProgramType(t)}");
    }

    [Fact]
    public void TypesNeedingAnAttachTargetAreRecognisedThroughTheVerifierLog()
    {
        Require();
        // 6.18 has all of these; the probe must not report them missing just because no target was given.
        foreach (var t in new[] { ProgramType.Tracing, ProgramType.Ext, ProgramType.Lsm, ProgramType.StructOps })
            output.WriteLine($"{t,-12} {KernelFeatures.ProbeProgramType(t)}");
        foreach (var t in new[] { ProgramType.Tracing, ProgramType.Ext, ProgramType.StructOps })
            Assert.True(KernelFeatures.SupportsProgramType(t), KernelFeatures.ProbeProgramType(t).Detail);
    }

    [Fact]
    public void EveryMapTypeOfThisKernelIsFound()
    {
        Require();
        foreach (var t in Enum.GetValues<MapType>())
            output.WriteLine($"{t,-24} {KernelFeatures.ProbeMapType(t)}");
        // Linux 6.18 knows every type up to ARENA (33). A type refused with EPERM is known too: map_create checks
        // the type before the permissions it needs (this VM refuses arena creation with EPERM although we run as
        // root); an unknown type is EINVAL.
        var missing = Enum.GetValues<MapType>()
            .Where(t => t != MapType.Unspec && KernelFeatures.ProbeMapType(t) is { Supported: false } p && p.Errno != Errno.EPERM).ToList();
        Assert.Empty(missing);
        Assert.False(KernelFeatures.SupportsMapType((MapType)200));
    }

    [Fact]
    public void HelperGateMatchesTheObservedTable()
    {
        Require();
        // program-types.md appendix A: xdp may call 44 (xdp_adjust_head); socket_filter may not.
        Assert.True(KernelFeatures.SupportsHelper(ProgramType.Xdp, 44), KernelFeatures.ProbeHelper(ProgramType.Xdp, 44).Detail);
        Assert.False(KernelFeatures.SupportsHelper(ProgramType.SocketFilter, 44));
        Assert.Contains("program of this type cannot use helper bpf_xdp_adjust_head#44", KernelFeatures.ProbeHelper(ProgramType.SocketFilter, 44).Detail);
        Assert.True(KernelFeatures.SupportsHelper(ProgramType.SocketFilter, 1)); // map_lookup_elem
        Assert.False(KernelFeatures.SupportsHelper(ProgramType.SocketFilter, 999));
        Assert.Contains("invalid func unknown#999", KernelFeatures.ProbeHelper(ProgramType.SocketFilter, 999).Detail);
    }

    [Fact]
    public void SocketFilterHelperSetEqualsAppendixA()
    {
        Require();
        int[] expected = [1, 2, 3, 5, 6, 7, 8, 12, 14, 15, 16, 17, 22, 25, 26, 35, 37, 42, 46, 47, 55, 68, 80, 87, 88, 89, 93, 94, 105, 106, 109, 112, 113, 114, 115, 117, 118, 120, 122, 123, 125, 130, 131, 132, 133, 134, 136, 137, 138, 139, 140, 141, 149, 153, 154, 156, 157, 158, 160, 164, 165, 169, 170, 171, 172, 175, 176, 177, 178, 180, 181, 182, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 208, 209, 210, 211];
        // Appendix A lists the get_func_proto gate plus the two sleepable-only helpers (148, 191), which pass the gate
        // and fail later ("helper call might sleep"), so the probe counts them as allowed too.
        var probed = KernelFeatures.SupportedHelpers(ProgramType.SocketFilter).ToHashSet();
        probed.Remove(148);
        probed.Remove(191);
        Assert.Equal(expected, probed.Order().ToArray());
    }

    [Fact]
    public void ArgCtxDeclTagIsSupportedOn618()
    {
        Require();
        var probe = KernelFeatures.ArgCtxTagProbe;
        output.WriteLine(probe.ToString());
        Assert.True(probe.Supported, probe.Detail);
    }

    [Fact]
    public void ProbesAreCached()
    {
        Require();
        Assert.Same(KernelFeatures.ProbeMapType(MapType.Hash), KernelFeatures.ProbeMapType(MapType.Hash));
        Assert.Same(KernelFeatures.ProbeHelper(ProgramType.Xdp, 1), KernelFeatures.ProbeHelper(ProgramType.Xdp, 1));
    }
}

public class FeatureProbeCliTests
{
    [Fact]
    public void FeatureProbePrintsBpftoolStyleLines()
    {
        KernelRequirement.Require();
        var r = CliRunner.Run("feature", "probe");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("eBPF program_type xdp is available", r.Stdout);
        Assert.Contains("eBPF map_type percpu_hash is available", r.Stdout);
        Assert.Contains("Global subprogram arg:ctx decl tag is supported", r.Stdout);
    }

    [Fact]
    public void FeatureProbeJson()
    {
        KernelRequirement.Require();
        var r = CliRunner.Run("-j", "feature", "probe");
        Assert.Equal(0, r.ExitCode);
        using var doc = System.Text.Json.JsonDocument.Parse(r.Stdout);
        Assert.True(doc.RootElement.GetProperty("program_types").GetProperty("sched_cls").GetBoolean());
        Assert.True(doc.RootElement.GetProperty("arg_ctx_decl_tag").GetBoolean());
    }
}
