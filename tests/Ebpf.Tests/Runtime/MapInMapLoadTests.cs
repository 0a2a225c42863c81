using Ebpf.Abi;
using Ebpf.Execution;
using Ebpf.Loading;
using Ebpf.Runtime;
using Ebpf.Runtime.Maps;
using Ebpf.Runtime.Objects;

namespace Ebpf.Tests.Runtime;

/// <summary>array_of_maps from an object: inner template, initial slots, lookups through the outer map.</summary>
public class MapInMapLoadTests
{
    private static TestRunOptions Packet(byte first) => new() { DataIn = [first, .. new byte[63]] };

    [Fact]
    public void Loading_fixture_fills_outer_slots_with_the_named_inner_maps()
    {
        var rt = new BpfRuntime();
        var spec = ObjectSpec.Load(SharedData.Fixture("loading/maps.bpf.o"));
        // Linux 6.18 refuses classify too (EACCES: tc may not read __sk_buff->remote_ip4 at off 92);
        // the runtime does the same and leaves nothing behind.
        var refused = Assert.Throws<BpfException>(() => rt.Load(spec));
        Assert.Equal(Errno.EACCES, refused.Errno);
        Assert.Contains("invalid bpf_context access off=92 size=4", refused.Message);
        Assert.Empty(rt.GetIds(ObjectKind.Map));
        Assert.Empty(rt.GetIds(ObjectKind.Program));
        using var coll = rt.Load(spec, new ObjectLoadOptions { AllowUnverified = true });
        var outer = Assert.IsType<MapInMap>(coll.Maps["outer"].Map.Maps!);
        Assert.Same(coll.Maps["inner_a"].Map.Maps, outer.GetInner(BitConverter.GetBytes(0u)));
        Assert.Null(outer.GetInner(BitConverter.GetBytes(1u)));
        Assert.Same(coll.Maps["inner_b"].Map.Maps, outer.GetInner(BitConverter.GetBytes(2u)));
        Assert.False(coll.Maps.ContainsKey("outer.inner"));
        // classify (checked: unverified) looks up through outer and then in the inner map it got,
        // then tail-calls jumps[1] = tail_one (returns 1).
        Assert.Equal(ExecutionMode.Checked, coll.Programs["classify"].Program.ExecutionMode);
        var r = rt.TestRun(coll.Programs["classify"], new TestRunOptions { DataIn = new byte[64] });
        Assert.Equal(1u, r.ReturnValue);
    }

    [Fact]
    public void Program_reads_the_inner_map_chosen_through_the_outer_map()
    {
        var rt = new BpfRuntime();
        using var coll = rt.Load(ObjectSpec.Load(SharedData.Fixture("runtime/map_in_map.bpf.o")));
        var pick = coll.Programs["pick"];
        Assert.True(pick.Program.Verification!.Accepted, pick.Program.Verification!.Log);
        Assert.Equal(ExecutionMode.Unchecked, pick.Program.ExecutionMode);
        coll.Maps["inner_a"].Map.Maps!.Update(BitConverter.GetBytes(0u), BitConverter.GetBytes(11ul));
        coll.Maps["inner_b"].Map.Maps!.Update(BitConverter.GetBytes(0u), BitConverter.GetBytes(22ul));
        Assert.Equal(11u, rt.TestRun(pick, Packet(0)).ReturnValue);
        Assert.Equal(22u, rt.TestRun(pick, Packet(1)).ReturnValue);
        Assert.Equal(99u, rt.TestRun(pick, Packet(2)).ReturnValue); // empty slot
        Assert.Equal(99u, rt.TestRun(pick, Packet(9)).ReturnValue); // out of range

        // The host swaps slot 2 in by map id (the u32 an fd would be): the program sees it at once.
        using var extra = rt.CreateMap(new MapDefinition(MapType.Array, 4, 8, 2, Name: "extra"));
        extra.Map.Maps!.Update(BitConverter.GetBytes(0u), BitConverter.GetBytes(33ul));
        coll.Maps["outer"].Map.Maps!.Update(BitConverter.GetBytes(2u), BitConverter.GetBytes(extra.Map.Id));
        Assert.Equal(33u, rt.TestRun(pick, Packet(2)).ReturnValue);
    }

    [Fact]
    public void Inner_map_not_matching_the_template_is_refused()
    {
        var rt = new BpfRuntime();
        using var coll = rt.Load(ObjectSpec.Load(SharedData.Fixture("runtime/map_in_map.bpf.o")));
        using var wrong = rt.CreateMap(new MapDefinition(MapType.Array, 4, 8, 3, Name: "wrong")); // max_entries 3 ≠ 2
        var e = Assert.Throws<BpfException>(() => coll.Maps["outer"].Map.Maps!.Update(BitConverter.GetBytes(2u), BitConverter.GetBytes(wrong.Map.Id)));
        Assert.Equal(Errno.EINVAL, e.Errno);
        var bad = Assert.Throws<BpfException>(() => coll.Maps["outer"].Map.Maps!.Update(BitConverter.GetBytes(2u), BitConverter.GetBytes(99999u)));
        Assert.Equal(Errno.EBADF, bad.Errno);
    }

    [Fact]
    public void Map_in_map_without_inner_definition_fails_cleanly_and_leaves_no_ids()
    {
        var rt = new BpfRuntime();
        var spec = ObjectSpec.Load(SharedData.Fixture("runtime/map_in_map.bpf.o"));
        spec.Maps.Single(m => m.Name == "outer").InnerMap = null;
        var e = Assert.Throws<BpfException>(() => rt.Load(spec));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("outer", e.Message);
        Assert.Empty(rt.GetIds(ObjectKind.Map));
        Assert.Empty(rt.GetIds(ObjectKind.Program));
    }

    [Fact]
    public void CreateMap_with_inner_map_id_needs_a_live_template()
    {
        var rt = new BpfRuntime();
        var e = Assert.Throws<BpfException>(() => rt.CreateMap(new MapDefinition(MapType.HashOfMaps, 4, 4, 8, Name: "hom", InnerMapId: 12345)));
        Assert.Equal(Errno.EBADF, e.Errno);
        using var template = rt.CreateMap(new MapDefinition(MapType.Hash, 4, 8, 8, Name: "t"));
        using var hom = rt.CreateMap(new MapDefinition(MapType.HashOfMaps, 4, 4, 8, Name: "hom", InnerMapId: template.Map.Id));
        using var inner = rt.CreateMap(new MapDefinition(MapType.Hash, 4, 8, 8, Name: "i"));
        hom.Map.Maps!.Update(BitConverter.GetBytes(5u), BitConverter.GetBytes(inner.Map.Id));
        Assert.Same(inner.Map.Maps, ((MapInMap)hom.Map.Maps!).GetInner(BitConverter.GetBytes(5u)));
    }
}
