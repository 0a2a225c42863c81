using Ebpf.Abi;
using Ebpf.Isa;
using Ebpf.Linux;
using Ebpf.Loading;
using Ebpf.Runtime;
using Ebpf.Runtime.Maps;
using Ebpf.Runtime.Memory;
using Ebpf.Runtime.Objects;
using Ebpf.Tests.Linux;
using static Ebpf.Isa.Instruction;

namespace Ebpf.Tests.Runtime;

/// <summary>
/// The one prog-array implementation (ProgArrayMap, with MapObject.ProgramSlots as its typed view):
/// host API, owner rules (bpf_prog_map_compatible / bpf_check_tail_call), the kernel as oracle, and
/// updates racing tail calls.
/// </summary>
public class ProgArrayTests
{
    private static byte[] U32(uint v) => BitConverter.GetBytes(v);

    /// <summary>r2 = prog array; r3 = 0; tail_call; r0 = 2; exit. <paramref name="mapRef"/> is the ld_imm64 pair naming the array.</summary>
    private static Instruction[] TailCaller((Instruction, Instruction) mapRef) =>
        [mapRef.Item1, mapRef.Item2, Mov64(3, 0), CallHelper(12), Mov64(0, 2), Exit()];

    private static Instruction[] RuntimeTailCaller() => TailCaller(LoadImm64(2, 0, LoadImm64Source.MapIndex));

    [Fact]
    public void Host_api_speaks_program_ids_with_the_kernels_errnos()
    {
        var rt = new BpfRuntime();
        using var jmp = RuntimeTestPrograms.ProgArray(rt, 2);
        using var a = RuntimeTestPrograms.Load(rt, name: "a");
        var storage = (ProgArrayMap)jmp.Map.Maps!;
        Assert.Same(storage, jmp.Map.ProgramSlots!.Storage); // one implementation, two faces
        storage.Update(U32(1), U32(a.Id));
        var v = new byte[4];
        storage.Lookup(U32(1), v);
        Assert.Equal(a.Id, BitConverter.ToUInt32(v));
        Assert.Same(a.Program, jmp.Map.ProgramSlots!.Get(1));
        Assert.Equal(2, a.Program.ReferenceCount); // handle + slot
        Assert.Equal(Errno.ENOENT, storage.LookupElem(U32(0), v));
        Assert.Equal(Errno.EBADF, storage.UpdateElem(U32(0), U32(9999)));
        Assert.Equal(Errno.E2BIG, storage.UpdateElem(U32(2), U32(a.Id)));
        Assert.Equal(Errno.EINVAL, storage.UpdateElem(U32(0), U32(a.Id), MapUpdateFlags.NoExist));
        Assert.Equal(Errno.E2BIG, storage.DeleteElem(U32(2)));
        Assert.Equal(Errno.ENOENT, storage.DeleteElem(U32(0)));
        Assert.Equal(Errno.E2BIG, Assert.Throws<BpfException>(() => jmp.Map.ProgramSlots!.Delete(7)).Errno);
        storage.Delete(U32(1));
        Assert.Equal(1, a.Program.ReferenceCount);
        // Frozen: host writes fail with EPERM through either face.
        jmp.Map.Freeze();
        Assert.Equal(Errno.EPERM, storage.UpdateElem(U32(0), U32(a.Id)));
        Assert.Equal(Errno.EPERM, Assert.Throws<BpfException>(() => jmp.Map.ProgramSlots!.Set(0, a.Program)).Errno);
        Assert.Equal(1, a.Program.ReferenceCount); // a refused store keeps no reference
    }

    [Fact]
    public void Owner_is_fixed_by_the_first_program_and_checked_on_store_and_load()
    {
        var rt = new BpfRuntime();
        using var jmp = RuntimeTestPrograms.ProgArray(rt, 2);
        using var caller = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, RuntimeTailCaller(), "caller"), [jmp]);
        var slots = jmp.Map.ProgramSlots!;
        Assert.Equal(new ProgArrayOwner(ProgramType.Xdp, AttachType.CgroupInetIngress), slots.Storage.Owner); // attach type 0
        using var devmapProg = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, RuntimeTestPrograms.ReturnConstant(2), "dm", ExpectedAttachType: AttachType.XdpDevmap));
        var e = Assert.Throws<BpfException>(() => slots.Set(0, devmapProg.Program));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("the program type must match", e.Message);
        using var frags = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, RuntimeTestPrograms.ReturnConstant(2), "fr", Flags: (uint)Ebpf.Loading.ProgramLoadFlags.XdpHasFrags));
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => slots.Set(0, frags.Program)).Errno);
        // bpf_check_tail_call: a tc program that uses an XDP-owned array is refused at load, and leaves no id.
        int before = rt.GetIds(ObjectKind.Program).Count;
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() =>
            rt.LoadProgram(new ProgramDefinition(ProgramType.SchedCls, RuntimeTailCaller(), "tc"), [jmp])).Errno);
        Assert.Equal(before, rt.GetIds(ObjectKind.Program).Count);
        // The owner survives the array being emptied.
        using var ok = RuntimeTestPrograms.Load(rt, name: "ok");
        slots.Set(0, ok.Program);
        slots.Delete(0);
        using var sf = RuntimeTestPrograms.Load(rt, ProgramType.SocketFilter, "sf");
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => slots.Set(0, sf.Program)).Errno);
    }

    [Fact]
    public void Owner_and_host_errnos_match_the_kernel()
    {
        KernelRequirement.Require();
        var kernel = new List<Errno>();
        using (var jmp = KernelMap.Create(new MapCreateAttributes { Type = MapType.ProgArray, KeySize = 4, ValueSize = 4, MaxEntries = 2, Name = "jmp" }))
        {
            var mapRef = LoadImm64(2, jmp.Fd.Value, LoadImm64Source.MapFd);
            using var caller = KernelProgram.Load(new ProgramLoadAttributes { Type = ProgramType.Xdp, Instructions = TailCaller(mapRef), Name = "caller" });
            kernel.Add(Try(() => KernelProgram.Load(new ProgramLoadAttributes { Type = ProgramType.SchedCls, Instructions = TailCaller(mapRef), Name = "tc", RetryWithLogOnFailure = false }).Dispose()));
            using var devmapProg = KernelProgram.Load(new ProgramLoadAttributes { Type = ProgramType.Xdp, Instructions = KernelRequirement.ReturnImm(2), ExpectedAttachType = AttachType.XdpDevmap });
            kernel.Add(Try(() => jmp.UpdateWithProgram(U32(0), devmapProg)));
            using var frags = KernelProgram.Load(new ProgramLoadAttributes { Type = ProgramType.Xdp, Instructions = KernelRequirement.ReturnImm(2), Flags = Ebpf.Linux.ProgramLoadFlags.XdpHasFrags });
            kernel.Add(Try(() => jmp.UpdateWithProgram(U32(0), frags)));
            using var good = KernelProgram.Load(new ProgramLoadAttributes { Type = ProgramType.Xdp, Instructions = KernelRequirement.ReturnImm(2) });
            kernel.Add(Try(() => jmp.UpdateWithProgram(U32(2), good)));
            kernel.Add(Try(() => jmp.UpdateWithProgram(U32(0), good, MapUpdateFlags.NoExist)));
            kernel.Add(Try(() => KernelDelete(jmp, 5)));
            kernel.Add(Try(() => KernelDelete(jmp, 0)));
            jmp.UpdateWithProgram(U32(1), good);
            Assert.Equal(good.GetInfo().Id, BitConverter.ToUInt32(jmp.Lookup(U32(1))));
        }

        var rt = new BpfRuntime();
        var ours = new List<Errno>();
        using (var jmp = RuntimeTestPrograms.ProgArray(rt, 2))
        {
            var slots = jmp.Map.ProgramSlots!;
            using var caller = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, RuntimeTailCaller(), "caller"), [jmp]);
            ours.Add(Try(() => rt.LoadProgram(new ProgramDefinition(ProgramType.SchedCls, RuntimeTailCaller(), "tc"), [jmp]).Dispose()));
            using var devmapProg = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, RuntimeTestPrograms.ReturnConstant(2), "dm", ExpectedAttachType: AttachType.XdpDevmap));
            ours.Add(Try(() => slots.Set(0, devmapProg.Program)));
            using var frags = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, RuntimeTestPrograms.ReturnConstant(2), "fr", Flags: (uint)Ebpf.Loading.ProgramLoadFlags.XdpHasFrags));
            ours.Add(Try(() => slots.Set(0, frags.Program)));
            using var good = RuntimeTestPrograms.Load(rt, name: "good");
            ours.Add(Try(() => slots.Storage.Update(U32(2), U32(good.Id))));
            ours.Add(Try(() => slots.Storage.Update(U32(0), U32(good.Id), MapUpdateFlags.NoExist)));
            ours.Add(Try(() => slots.Storage.Delete(U32(5))));
            ours.Add(Try(() => slots.Storage.Delete(U32(0))));
        }
        Assert.Equal([Errno.EINVAL, Errno.EINVAL, Errno.EINVAL, Errno.E2BIG, Errno.EINVAL, Errno.E2BIG, Errno.ENOENT], kernel);
        Assert.Equal(kernel, ours);
    }

    private static void KernelDelete(KernelMap map, uint key)
    {
        if (!map.Delete(U32(key)))
            throw new BpfException(Errno.ENOENT, "empty slot");
    }

    private static Errno Try(Action a)
    {
        try
        {
            a();
            return Errno.None;
        }
        catch (BpfException e)
        {
            return e.Errno;
        }
    }

    /// <summary>
    /// Two threads tail-call through slot 0 while a third keeps loading fresh copies of the target
    /// (each with its own global data and a unique tag), storing them, dropping its handles (the slot
    /// then holds the only reference) and replacing or deleting them. Every run must return either the
    /// fall-through value or the tag of a copy that was stored: a torn slot, or a program whose global
    /// data had already been freed, would show up as anything else (0xBAD when two reads disagree).
    /// </summary>
    [Fact]
    public void Updates_and_deletes_racing_tail_calls_never_run_a_torn_or_freed_program()
    {
        var spec = ObjectSpec.Load(SharedData.Fixture("runtime/tail_stress.bpf.o"));
        var rt = new BpfRuntime();
        using var main = rt.Load(spec);
        var slots = main.Maps["jmp"].Map.ProgramSlots!;
        var entry = main.Programs["entry"];
        const int Copies = 120;
        var published = new System.Collections.Concurrent.ConcurrentDictionary<uint, bool>();
        var seen = new System.Collections.Concurrent.ConcurrentDictionary<uint, int>();
        var bad = new System.Collections.Concurrent.ConcurrentQueue<uint>();
        var freed = new List<ProgramObject>();
        using var done = new CancellationTokenSource();
        var packet = new byte[64];

        void Reader()
        {
            while (!done.IsCancellationRequested)
            {
                uint r = rt.TestRun(entry, new TestRunOptions { DataIn = packet, Repeat = 4 }).ReturnValue;
                if (r != 1 && !published.ContainsKey(r))
                    bad.Enqueue(r);
                seen.AddOrUpdate(r, 1, (_, n) => n + 1);
            }
        }

        var readers = new[] { new Thread(Reader), new Thread(Reader) };
        foreach (var t in readers) t.Start();
        try
        {
            for (uint i = 1; i <= Copies; i++)
            {
                var copy = rt.Load(spec);
                uint tag = 0xC0DE0000 | i;
                copy.Maps.Values.Single(m => m.Map.Name.EndsWith(".data", StringComparison.Ordinal)).Map.Maps!.Update(U32(0), U32(tag));
                published[tag] = true;
                var target = copy.Programs["target"].Program;
                slots.Set(0, target);
                lock (freed) freed.Add(target);
                copy.Dispose(); // the slot now holds the only reference to this copy
                Assert.False(target.IsFreed);
                if (i % 5 == 0)
                    slots.Delete(0); // the copy is released right away
                Thread.Yield();
            }
        }
        finally
        {
            done.Cancel();
            foreach (var t in readers) t.Join();
        }
        Assert.Empty(bad);
        Assert.True(seen.Keys.Count(k => k != 1) > 1, $"tail calls reached only {seen.Count} distinct outcomes");
        Assert.True(seen.ContainsKey(1));
        slots.Clear();
        EpochManager.Synchronize();
        Assert.All(freed, p => Assert.True(p.IsFreed));
        // Only the main object's programs remain.
        Assert.Equal(main.Programs.Values.Select(p => p.Id).Order(), rt.GetIds(ObjectKind.Program));
    }
}
