using Ebpf.Abi;
using Ebpf.Linux;
using Ebpf.Runtime;
using Ebpf.Runtime.Maps;
using Ebpf.Runtime.Memory;
using Ebpf.Runtime.Objects;
using Ebpf.Tests.Linux;

namespace Ebpf.Tests.Runtime;

/// <summary>
/// An inner map held only by an outer map's slot keeps its id (GET_NEXT_ID, GET_FD_BY_ID) — the slot
/// holds the bpf_map itself (kernel-semantics §1.3 "Map-in-map slot → inner map") — and loses it when
/// the slot lets go. Checked against the live kernel.
/// </summary>
public class InnerMapIdTests
{
    private static byte[] U32(uint v) => BitConverter.GetBytes(v);

    /// <summary>What the scenario observes: id visible/openable after each step.</summary>
    private sealed record Observation(bool VisibleWhileHeld, bool OpenableWhileHeld, uint ValueThroughReopen, bool VisibleAfterDelete, Errno DeleteOutOfRange);

    [Fact]
    public void Inner_map_keeps_its_id_while_an_outer_slot_holds_it_like_the_kernel()
    {
        KernelRequirement.Require();
        Observation kernel;
        {
            var inner = KernelMap.Create(new MapCreateAttributes { Type = MapType.Array, KeySize = 4, ValueSize = 4, MaxEntries = 1, Name = "inner" });
            using var outer = KernelMap.Create(new MapCreateAttributes { Type = MapType.ArrayOfMaps, KeySize = 4, ValueSize = 4, MaxEntries = 2, InnerMap = inner, Name = "outer" });
            uint id = inner.GetInfo().Id;
            inner.Update(U32(0), U32(77));
            outer.UpdateWithMap(U32(1), inner);
            inner.Dispose();
            bool visible = KernelObjects.EnumerateMapIds().Contains(id);
            uint value = 0;
            bool openable = true;
            try
            {
                using var again = KernelMap.FromId(id);
                value = BitConverter.ToUInt32(again.Lookup(U32(0)));
            }
            catch (BpfException) { openable = false; }
            Errno oob = Errno.None;
            try { outer.Delete(U32(5)); } catch (BpfException e) { oob = e.Errno; }
            outer.Delete(U32(1));
            // The kernel frees the inner map after an RCU grace period: its id goes at the put, but poll a little.
            bool after = true;
            for (int i = 0; i < 200 && after; i++)
            {
                after = KernelObjects.EnumerateMapIds().Contains(id);
                if (after) Thread.Sleep(10);
            }
            kernel = new Observation(visible, openable, value, after, oob);
        }

        var rt = new BpfRuntime();
        Observation ours;
        {
            var inner = rt.CreateMap(new MapDefinition(MapType.Array, 4, 4, 1, Name: "inner"));
            using var outer = rt.CreateMap(new MapDefinition(MapType.ArrayOfMaps, 4, 4, 2, Name: "outer", InnerMapId: inner.Id));
            uint id = inner.Id;
            inner.Map.Maps!.Update(U32(0), U32(77));
            outer.Map.Maps!.Update(U32(1), U32(id));
            var innerObject = inner.Map;
            inner.Dispose();
            bool visible = rt.GetIds(ObjectKind.Map).Contains(id);
            uint value = 0;
            bool openable = true;
            try
            {
                using var again = rt.OpenMapById(id);
                var v = new byte[4];
                again.Map.Maps!.Lookup(U32(0), v);
                value = BitConverter.ToUInt32(v);
            }
            catch (BpfException) { openable = false; }
            var oob = outer.Map.Maps!.DeleteElem(U32(5));
            outer.Map.Maps!.Delete(U32(1));
            bool after = rt.GetIds(ObjectKind.Map).Contains(id); // the id goes at once
            ours = new Observation(visible, openable, value, after, oob);
            Assert.True(innerObject.IsFreed);
            EpochManager.Synchronize();
            Assert.True(innerObject.Maps!.IsFreed); // the storage follows after the epoch
        }
        Assert.Equal(new Observation(true, true, 77, false, Errno.E2BIG), kernel);
        Assert.Equal(kernel, ours);
    }

    [Fact]
    public void Freeing_the_outer_map_releases_inner_ids()
    {
        var rt = new BpfRuntime();
        var a = rt.CreateMap(new MapDefinition(MapType.Hash, 4, 4, 4, Name: "a"));
        var b = rt.CreateMap(new MapDefinition(MapType.Hash, 4, 4, 4, Name: "b"));
        var outer = rt.CreateMap(new MapDefinition(MapType.HashOfMaps, 4, 4, 4, Name: "outer", InnerMapId: a.Id));
        var storage = (MapInMap)outer.Map.Maps!;
        storage.Update(U32(10), U32(a.Id));
        storage.Update(U32(20), U32(b.Id));
        storage.Update(U32(30), U32(b.Id)); // the same map in two slots: two references
        uint aId = a.Id, bId = b.Id;
        a.Dispose();
        b.Dispose();
        Assert.Equal([aId, bId, outer.Id], rt.GetIds(ObjectKind.Map));
        storage.Delete(U32(20));
        Assert.Contains(bId, rt.GetIds(ObjectKind.Map)); // still in slot 30
        outer.Dispose();
        Assert.Empty(rt.GetIds(ObjectKind.Map));
    }
}
