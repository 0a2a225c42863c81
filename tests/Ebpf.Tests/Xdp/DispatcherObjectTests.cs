using Ebpf.Btf;
using Ebpf.Runtime;
using Ebpf.Xdp;
using static Ebpf.Tests.Xdp.XdpFixtures;

namespace Ebpf.Tests.Xdp;

/// <summary>The dispatcher object (ours and libxdp's), its config layout and its run-time behaviour (§6.2).</summary>
public class DispatcherObjectTests
{
    [Fact]
    public void Our_dispatcher_has_the_layout_libxdp_checks_and_version_3()
    {
        var layout = DispatcherObject.Default.Layout;
        Assert.Equal(3, layout.Version);
        Assert.Equal(128, layout.ConfigSize);
        Assert.Equal("xdp_disp.rodata", layout.RodataMap);
        Assert.Equal(124, layout.MemberOffsets["is_xdp_devbound"]);
        // The committed object is what the library embeds.
        var committed = DispatcherLayout.Read(Spec("xdp_dispatcher"));
        Assert.Equal((committed.Version, committed.ConfigSize), (layout.Version, layout.ConfigSize));
        Assert.Equal(committed.MemberOffsets.OrderBy(kv => kv.Value), layout.MemberOffsets.OrderBy(kv => kv.Value));
        var spec = DispatcherObject.Default.Parse();
        Assert.Equal(["xdp", "xdp"], spec.Programs.Select(p => p.SectionName));
        Assert.Equal(["xdp_dispatcher", "xdp_pass"], spec.Programs.Select(p => p.Name));
        Assert.Equal(3u, DispatcherLayout.ReadBtfVersion(spec.Btf!));
    }

    [Fact]
    public void Libxdps_own_dispatcher_is_recognised_with_the_same_config_layout()
    {
        if (!File.Exists(LibxdpDispatcher))
            Assert.Skip($"{LibxdpDispatcher} (Debian's xdp-tools) is not installed");
        var theirs = DispatcherObject.FromFile(LibxdpDispatcher);
        var ours = DispatcherObject.Default;
        Assert.Equal(2, theirs.Layout.Version); // xdp-tools 1.3.1 ships version 2
        Assert.Equal(ours.Layout.RodataMap, theirs.Layout.RodataMap);
        // Every member libxdp's version has sits where ours has it; ours only appends is_xdp_devbound.
        foreach (var (name, offset) in theirs.Layout.MemberOffsets)
            Assert.Equal(offset, ours.Layout.MemberOffsets[name]);
        Assert.Equal(["is_xdp_devbound"], ours.Layout.MemberOffsets.Keys.Except(theirs.Layout.MemberOffsets.Keys));
        // Same BTF shape of the config: the struct's member names and types, the stubs' prototypes.
        var a = theirs.Parse().Btf!;
        var b = ours.Parse().Btf!;
        Assert.Equal(Describe(a, "xdp_dispatcher_config").Take(7), Describe(b, "xdp_dispatcher_config").Take(7));
        for (int i = 0; i < 10; i++)
            Assert.Equal(FuncShape(a, $"prog{i}"), FuncShape(b, $"prog{i}"));
        Assert.Equal(theirs.Parse().Programs.Select(p => (p.Name, p.SectionName)), ours.Parse().Programs.Select(p => (p.Name, p.SectionName)));
    }

    private static IEnumerable<string> Describe(BtfSpec btf, string structName)
    {
        var s = (BtfStruct)btf.FindByName(structName, BtfKind.Struct)!;
        return s.Members.Select(m => $"{m.Name}@{m.ByteOffset}:{btf.SizeOf(m.Type)}");
    }

    private static string FuncShape(BtfSpec btf, string func)
    {
        var f = (BtfFunc)btf.FindByName(func, BtfKind.Func)!;
        var proto = (BtfFuncProto)btf.GetType(f.ProtoType);
        return $"{f.Linkage} {btf.ResolveType(proto.ReturnType).Name}({string.Join(",", proto.Parameters.Select(p => p.Name))})";
    }

    [Fact]
    public void Config_round_trips_in_every_version_and_refuses_what_libxdp_refuses()
    {
        var c = new XdpDispatcherConfig { ProgramCount = 3, IsXdpFrags = true, IsXdpDevBound = true };
        c.ChainCallActions[0] = (1u << 2) | (1u << 31);
        c.RunPriorities[2] = 70;
        c.ProgramFlags[1] = XdpDispatcherConfig.HasFragsFlag;
        var bytes = c.Encode();
        Assert.Equal(128, bytes.Length);
        Assert.Equal(236, bytes[0]);
        Assert.Equal(3, bytes[1]);
        var back = XdpDispatcherConfig.Parse(bytes, 3);
        Assert.Equal((3, true, true), (back.ProgramCount, back.IsXdpFrags, back.IsXdpDevBound));
        Assert.Equal(c.ChainCallActions, back.ChainCallActions);
        Assert.Equal(c.RunPriorities, back.RunPriorities);
        Assert.Equal(c.ProgramFlags, back.ProgramFlags);
        // Version 1 has no magic: its version comes from BTF.
        var v1 = (c with { Version = 1 }).Encode();
        Assert.Equal(84, v1.Length);
        Assert.Equal(3, v1[0]);
        Assert.Equal(1, XdpDispatcherConfig.Parse(v1, 1).Version);
        // Higher than ours: EOPNOTSUPP; more than ten programs: EINVAL.
        var v4 = (byte[])bytes.Clone();
        v4[1] = 4;
        Assert.Equal(Errno.EOPNOTSUPP, Assert.Throws<BpfException>(() => XdpDispatcherConfig.Parse(v4, 4)).Errno);
        var eleven = (byte[])bytes.Clone();
        eleven[2] = 11;
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => XdpDispatcherConfig.Parse(eleven, 3)).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => XdpDispatcherConfig.Parse(bytes.AsSpan(0, 100), 3)).Errno);
    }

    [Theory]
    [InlineData(0, 2u)]
    [InlineData(3, 2u)]
    [InlineData(10, 2u)]
    public void An_empty_or_unreplaced_dispatcher_passes_every_frame(int enabled, uint expected)
    {
        var rt = new BpfRuntime();
        var config = new XdpDispatcherConfig { ProgramCount = (byte)enabled };
        for (int i = 0; i < 10; i++)
            config.ChainCallActions[i] = 1u << 31;
        using var d = DispatcherObject.Default.Load(rt.Backend, config);
        var r = d.Programs["xdp_dispatcher"].TestRun(new TestRunOptions { DataIn = new byte[64] });
        Assert.Equal(expected, r.ReturnValue);
    }
}
