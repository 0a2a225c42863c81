using Ebpf.Abi;
using Ebpf.Runtime;
using Ebpf.Runtime.Objects;
using static Ebpf.Tests.Runtime.RuntimeTestPrograms;

namespace Ebpf.Tests.Runtime;

public class ObjectLifecycleTests
{
    [Fact]
    public void Ids_start_at_one_and_are_per_kind()
    {
        var rt = new BpfRuntime();
        using var m = Hash(rt);
        using var p = Load(rt);
        Assert.Equal(1u, m.Id);
        Assert.Equal(1u, p.Id);
        using var m2 = Hash(rt);
        Assert.Equal(2u, m2.Id);
    }

    [Fact]
    public void Id_disappears_when_last_handle_disposed_and_is_not_reused()
    {
        var rt = new BpfRuntime();
        var m = Hash(rt);
        uint id = m.Id;
        m.Dispose();
        Assert.Throws<BpfException>(() => rt.OpenMapById(id));
        Assert.Empty(rt.GetIds(ObjectKind.Map));
        using var again = Hash(rt);
        Assert.NotEqual(id, again.Id);
    }

    [Fact]
    public void Closed_handle_is_EBADF()
    {
        var rt = new BpfRuntime();
        var m = Hash(rt);
        m.Dispose();
        m.Dispose(); // harmless
        var e = Assert.Throws<BpfException>(() => m.Map);
        Assert.Equal(Errno.EBADF, e.Errno);
    }

    [Fact]
    public void Ids_wrap_cyclically_and_skip_live_ones()
    {
        var rt = new BpfRuntime();
        using var low = Hash(rt); // id 1
        rt.Table(ObjectKind.Map).NextCandidate = int.MaxValue - 1;
        using var top = Hash(rt);
        Assert.Equal((uint)int.MaxValue - 1, top.Id);
        using var wrapped = Hash(rt);
        Assert.Equal(2u, wrapped.Id); // 1 is alive, INT_MAX is excluded
    }

    [Fact]
    public void GetNextId_walks_live_ids_and_reports_ENOENT_and_EINVAL()
    {
        var rt = new BpfRuntime();
        using var a = Hash(rt);
        var b = Hash(rt);
        using var c = Hash(rt);
        b.Dispose();
        Assert.Equal(1u, rt.GetNextId(ObjectKind.Map, 0));
        Assert.Equal(3u, rt.GetNextId(ObjectKind.Map, 1));
        Assert.Equal(Errno.ENOENT, Assert.Throws<BpfException>(() => rt.GetNextId(ObjectKind.Map, 3)).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => rt.GetNextId(ObjectKind.Map, int.MaxValue)).Errno);
        Assert.Equal(Errno.ENOENT, Assert.Throws<BpfException>(() => rt.GetNextId(ObjectKind.Program, 0)).Errno);
    }

    [Fact]
    public void Map_stays_alive_while_a_program_uses_it()
    {
        var rt = new BpfRuntime();
        var map = Hash(rt);
        uint mapId = map.Id;
        var mapObj = map.Map;
        var prog = Load(rt, maps: [map]);
        map.Dispose();
        Assert.False(mapObj.IsFreed);
        Assert.Equal(0, mapObj.UserReferenceCount);
        using (var reopened = rt.OpenMapById(mapId))
            Assert.Equal(mapId, reopened.Id);
        Assert.Equal([mapId], prog.GetInfo().MapIds);
        prog.Dispose();
        Assert.True(mapObj.IsFreed);
        Assert.Empty(rt.GetIds(ObjectKind.Map));
        Assert.Empty(rt.GetIds(ObjectKind.Program));
    }

    [Fact]
    public void Program_holds_its_btf()
    {
        var rt = new BpfRuntime();
        var btf = rt.LoadBtf(new byte[] { 0x9f, 0xeb, 1, 0 });
        var btfObj = btf.Btf;
        var prog = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, ReturnConstant(1), "x"), btf: btf);
        btf.Dispose();
        Assert.Single(rt.GetIds(ObjectKind.Btf));
        using (var again = rt.OpenBtfById(btfObj.Id)) { }
        Assert.Equal(btfObj.Id, prog.GetInfo().BtfId);
        prog.Dispose();
        Assert.True(btfObj.IsFreed);
        Assert.Empty(rt.GetIds(ObjectKind.Btf));
    }

    [Fact]
    public void Map_holds_its_btf()
    {
        var rt = new BpfRuntime();
        var btf = rt.LoadBtf(new byte[] { 1 });
        var map = rt.CreateMap(new MapDefinition(MapType.Array, 4, 4, 1, Name: "a"), btf);
        btf.Dispose();
        Assert.Single(rt.GetIds(ObjectKind.Btf));
        map.Dispose();
        Assert.Empty(rt.GetIds(ObjectKind.Btf));
    }

    [Fact]
    public void Prog_array_slot_holds_program_until_user_refs_drop()
    {
        var rt = new BpfRuntime();
        var jmp = ProgArray(rt);
        var target = Load(rt, name: "target");
        var targetObj = target.Program;
        var caller = Load(rt, name: "caller", maps: [jmp]);
        jmp.Map.ProgramSlots!.Set(1, targetObj);
        target.Dispose();
        Assert.False(targetObj.IsFreed); // the slot holds it
        Assert.Same(targetObj, jmp.Map.ProgramSlots!.Get(1));

        var jmpObj = jmp.Map;
        jmp.Dispose(); // last user reference: the array is cleared (breaks prog -> map -> prog cycles)
        Assert.False(jmpObj.IsFreed); // still used by caller
        Assert.Null(jmpObj.ProgramSlots!.Get(1));
        Assert.True(targetObj.IsFreed);
        caller.Dispose();
        Assert.True(jmpObj.IsFreed);
        Assert.Empty(rt.GetIds(ObjectKind.Program));
        Assert.Empty(rt.GetIds(ObjectKind.Map));
    }

    [Fact]
    public void Prog_array_rejects_mixed_types_and_bad_index()
    {
        var rt = new BpfRuntime();
        using var jmp = ProgArray(rt, 2);
        using var a = Load(rt, ProgramType.Xdp);
        using var b = Load(rt, ProgramType.SocketFilter);
        jmp.Map.ProgramSlots!.Set(0, a.Program);
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => jmp.Map.ProgramSlots!.Set(1, b.Program)).Errno);
        Assert.Equal(Errno.E2BIG, Assert.Throws<BpfException>(() => jmp.Map.ProgramSlots!.Set(2, a.Program)).Errno);
        Assert.Equal(Errno.ENOENT, Assert.Throws<BpfException>(() => jmp.Map.ProgramSlots!.Delete(1)).Errno);
        jmp.Map.ProgramSlots!.Delete(0);
        Assert.Equal(1, a.Program.ReferenceCount);
    }

    [Fact]
    public void User_release_hook_runs_once_when_user_count_reaches_zero()
    {
        var rt = new BpfRuntime();
        var map = Hash(rt);
        int calls = 0;
        map.Map.UserReferencesReleased += _ => calls++;
        var dup = map.Duplicate();
        rt.Pins.Pin(map, "/sys/fs/bpf/m");
        map.Dispose();
        dup.Dispose();
        Assert.Equal(0, calls); // the pin is a user reference
        rt.Pins.Unpin("/sys/fs/bpf/m");
        Assert.Equal(1, calls);
    }

    [Fact]
    public void Open_by_id_takes_a_reference_and_map_access_flags()
    {
        var rt = new BpfRuntime();
        var map = Hash(rt);
        using var ro = rt.OpenMapById(map.Id, BpfRuntime.AccessFromFlags((uint)MapFlags.Rdonly));
        map.Dispose();
        Assert.Equal(MapAccess.ReadOnly, ro.Access);
        Assert.Equal(Errno.EPERM, Assert.Throws<BpfException>(ro.RequireWritable).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => BpfRuntime.AccessFromFlags((uint)(MapFlags.Rdonly | MapFlags.Wronly))).Errno);
        Assert.Single(rt.GetIds(ObjectKind.Map));
    }

    [Fact]
    public void Link_holds_program_and_detaches_on_last_reference()
    {
        var rt = new BpfRuntime();
        var prog = Load(rt);
        var progObj = prog.Program;
        var attachment = new RecordingAttachment();
        var link = rt.CreateLink(prog, LinkType.Xdp, AttachType.Xdp, _ => attachment);
        prog.Dispose();
        Assert.False(progObj.IsFreed);
        using (var byId = rt.OpenProgramById(progObj.Id)) { } // no fd, still reachable by id
        Assert.Equal(progObj.Id, link.GetInfo().ProgramId);
        link.Dispose();
        Assert.Equal(1, attachment.Releases);
        Assert.True(progObj.IsFreed);
        Assert.Empty(rt.GetIds(ObjectKind.Link));
    }

    [Fact]
    public void Pinned_link_survives_handle_and_detaches_at_unpin()
    {
        var rt = new BpfRuntime();
        using var prog = Load(rt);
        var attachment = new RecordingAttachment();
        var link = rt.CreateLink(prog, LinkType.Xdp, AttachType.Xdp, _ => attachment);
        rt.Pins.Pin(link, "/sys/fs/bpf/link");
        link.Dispose();
        Assert.Equal(0, attachment.Releases);
        rt.Pins.Unpin("/sys/fs/bpf/link");
        Assert.Equal(1, attachment.Releases);
    }

    [Fact]
    public void Failed_attach_exposes_no_link_id_and_keeps_program_reference()
    {
        var rt = new BpfRuntime();
        using var prog = Load(rt);
        uint? seenId = null;
        var e = Assert.Throws<BpfException>(() => rt.CreateLink(prog, LinkType.Xdp, AttachType.Xdp, l =>
        {
            seenId = l.ReservedId;
            Assert.Equal(Errno.EAGAIN, Assert.Throws<BpfException>(() => rt.OpenLinkById(l.ReservedId)).Errno);
            Assert.Empty(rt.GetIds(ObjectKind.Link));
            throw new BpfException(Errno.EBUSY, "slot busy");
        }));
        Assert.Equal(Errno.EBUSY, e.Errno);
        Assert.Empty(rt.GetIds(ObjectKind.Link));
        Assert.Equal(1, prog.Program.ReferenceCount);
        Assert.Equal(Errno.ENOENT, Assert.Throws<BpfException>(() => rt.OpenLinkById(seenId!.Value)).Errno);
    }

    [Fact]
    public void Link_detach_and_update_rules()
    {
        var rt = new BpfRuntime();
        using var p1 = Load(rt, name: "a");
        using var p2 = Load(rt, name: "b");
        using var other = Load(rt, ProgramType.SocketFilter, "c");
        var attachment = new RecordingAttachment();
        using var link = rt.CreateLink(p1, LinkType.Xdp, AttachType.Xdp, _ => attachment);
        Assert.Equal(Errno.EPERM, Assert.Throws<BpfException>(() => link.Link.Update(p2.Program, expectedOld: p2.Program)).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => link.Link.Update(other.Program)).Errno);
        link.Link.Update(p2.Program, expectedOld: p1.Program);
        Assert.Equal(p2.Id, link.GetInfo().ProgramId);
        Assert.Equal(1, p1.Program.ReferenceCount);
        link.Link.Detach();
        Assert.True(link.GetInfo().Detached);
        Assert.Equal(p2.Id, link.GetInfo().ProgramId); // still reports its program
        Assert.Equal((Errno)67, Assert.Throws<BpfException>(() => link.Link.Update(p1.Program)).Errno);
        Assert.Equal(1, attachment.Releases);
    }

    [Fact]
    public void Program_load_rules()
    {
        var rt = new BpfRuntime();
        Assert.Equal(Errno.E2BIG, Assert.Throws<BpfException>(() => rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, []))).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => rt.LoadProgram(new ProgramDefinition((ProgramType)999, ReturnConstant(0)))).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, ReturnConstant(0), "bad-name"))).Errno);
        Assert.Empty(rt.GetIds(ObjectKind.Program));
    }

    [Theory]
    [InlineData(MapType.Unspec, 4u, 4u, 1u, Errno.EINVAL)]
    [InlineData((MapType)1000, 4u, 4u, 1u, Errno.EINVAL)]
    [InlineData(MapType.Hash, 4u, 4u, 0u, Errno.EINVAL)]
    [InlineData(MapType.Hash, 0u, 4u, 1u, Errno.EINVAL)]
    [InlineData(MapType.Hash, 513u, 4u, 1u, Errno.E2BIG)]
    [InlineData(MapType.Array, 8u, 4u, 1u, Errno.EINVAL)]
    [InlineData(MapType.ProgArray, 4u, 8u, 1u, Errno.EINVAL)]
    [InlineData(MapType.Queue, 4u, 4u, 1u, Errno.EINVAL)]
    public void Bad_map_definitions_leave_nothing_behind(MapType type, uint key, uint value, uint max, Errno expected)
    {
        var rt = new BpfRuntime();
        Assert.Equal(expected, Assert.Throws<BpfException>(() => rt.CreateMap(new MapDefinition(type, key, value, max, Name: "bad"))).Errno);
        Assert.Empty(rt.GetIds(ObjectKind.Map));
    }

    [Fact]
    public void Program_tag_ignores_map_references()
    {
        var a = new[] { Ebpf.Isa.Instruction.FromRaw(0x0000_0005_0000_1018UL), Ebpf.Isa.Instruction.FromRaw(0), Ebpf.Isa.Instruction.FromRaw(0x95) };
        var b = new[] { Ebpf.Isa.Instruction.FromRaw(0x0000_0009_0000_1018UL), Ebpf.Isa.Instruction.FromRaw(0), Ebpf.Isa.Instruction.FromRaw(0x95) };
        Assert.Equal(ProgramObject.ComputeTag(a), ProgramObject.ComputeTag(b));
        Assert.NotEqual(ProgramObject.ComputeTag(a), ProgramObject.ComputeTag(ReturnConstant(1)));
    }

    [Fact]
    public void Concurrent_open_and_dispose_keeps_counts_exact()
    {
        var rt = new BpfRuntime();
        var map = Hash(rt);
        uint id = map.Id;
        Parallel.For(0, 8, _ =>
        {
            for (int i = 0; i < 2000; i++)
            {
                using var h = rt.OpenMapById(id);
                using var d = h.Duplicate();
            }
        });
        Assert.Equal(1, map.Map.ReferenceCount);
        Assert.Equal(1, map.Map.UserReferenceCount);
        map.Dispose();
        Assert.Empty(rt.GetIds(ObjectKind.Map));
    }

    [Fact]
    public void Concurrent_creation_never_hands_out_duplicate_ids()
    {
        var rt = new BpfRuntime();
        var handles = new System.Collections.Concurrent.ConcurrentBag<BpfMap>();
        Parallel.For(0, 8, _ =>
        {
            for (int i = 0; i < 200; i++) handles.Add(Hash(rt));
        });
        Assert.Equal(1600, handles.Select(h => h.Id).Distinct().Count());
        foreach (var h in handles) h.Dispose();
        Assert.Empty(rt.GetIds(ObjectKind.Map));
    }

    [Fact]
    public void Leaked_handle_is_released_by_finalizer()
    {
        var rt = new BpfRuntime();
        CreateAndLeak(rt);
        for (int i = 0; i < 5 && rt.GetIds(ObjectKind.Map).Count > 0; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        Assert.Empty(rt.GetIds(ObjectKind.Map));

        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
        static void CreateAndLeak(BpfRuntime rt) => Hash(rt);
    }

    private sealed class RecordingAttachment : ILinkAttachment
    {
        public int Releases;
        public void Release(LinkObject link) => Releases++;
        public Action<LinkObject, ProgramObject>? UpdateProgram => (_, _) => { };
    }
}
