using Ebpf.Abi;
using Ebpf.Runtime;
using Ebpf.Xdp;
using static Ebpf.Tests.Xdp.XdpFixtures;

namespace Ebpf.Tests.Xdp;

/// <summary>libxdp's attach/detach protocol (§6.4–6.7) on the managed runtime's devices.</summary>
public class MultiprogTests
{
    private const string Root = "/sys/fs/bpf";

    private static (BpfRuntime Rt, int Ifindex) Device(string name = "d0")
    {
        var rt = new BpfRuntime();
        var dev = rt.Network.AddDevice(name);
        return (rt, (int)dev.Ifindex);
    }

    private static (uint Verdict, ulong Stamps) Send(BpfRuntime rt, string dev = "d0")
    {
        var r = rt.Network.Inject(dev, new byte[64]);
        return (r.Frames[0].Verdict, Stamps(r.Frames[0].Data));
    }

    private static string[] PinDirs(BpfRuntime rt) =>
        rt.Backend.ListPinDirectory(Root + "/xdp").Where(e => e.IsDirectory).Select(e => Path.GetFileName(e.Path.TrimEnd('/'))).ToArray();

    [Fact]
    public void Three_components_run_in_priority_order_and_are_pinned_as_libxdp_pins_them()
    {
        var (rt, ifindex) = Device();
        using var a = Stamp(0, priority: 30);
        using var b = Stamp(1, priority: 10);
        using var c = Stamp(2, priority: 20);
        using var mp = XdpMultiprog.Attach(rt.Backend, ifindex, [a, b, c]);
        Assert.Equal(["stamp", "stamp", "stamp"], mp.Programs.Select(p => p.Name));
        Assert.Equal([10u, 20u, 30u], mp.Programs.Select(p => p.Priority));
        Assert.Equal((2, 0, 1), (a.Slot, b.Slot, c.Slot));
        Assert.Equal((2u, 0b111ul), Send(rt));
        Assert.Equal(DispatcherLayout.MainFunction, mp.MainProgram.Name);
        Assert.Equal(mp.MainProgram.Id, rt.Backend.XdpQuery(ifindex).ProgramId);
        string dir = $"{Root}/xdp/dispatch-{ifindex}-{mp.MainProgram.Id}";
        Assert.Equal(dir, mp.PinDirectory);
        var names = rt.Backend.ListPinDirectory(dir).Select(e => Path.GetFileName(e.Path)).Order().ToArray();
        Assert.Equal(["prog0-link", "prog0-prog", "prog1-link", "prog1-prog", "prog2-link", "prog2-prog"], names);
        // The config the dispatcher runs with: priorities and chain actions per slot, bit 31 set.
        Assert.Equal(3, mp.Config!.ProgramCount);
        Assert.Equal([10u, 20u, 30u], mp.Config.RunPriorities.Take(3));
        Assert.All(mp.Config.ChainCallActions.Take(3), x => Assert.Equal((1u << 2) | (1u << 31), x));
        // Read back from the device: the same set, from the pins and the config.
        using var q = XdpMultiprog.Query(rt.Backend, ifindex)!;
        Assert.Equal(mp.Programs.Select(p => p.Id), q.Programs.Select(p => p.Id));
        Assert.Equal([10u, 20u, 30u], q.Programs.Select(p => p.Priority));
        Assert.Equal(3, q.Version);
    }

    [Fact]
    public void A_verdict_outside_the_chain_actions_stops_the_chain()
    {
        var (rt, ifindex) = Device();
        using var first = Stamp(0, XdpAction.Drop, priority: 1);
        using var second = Stamp(1, priority: 2);
        using (XdpMultiprog.Attach(rt.Backend, ifindex, [first, second]))
            Assert.Equal((1u, 0b01ul), Send(rt)); // XDP_DROP is not in first's actions: stop there
        XdpMultiprog.DetachAll(rt.Backend, ifindex);
        using var cont = Stamp(0, XdpAction.Drop, priority: 1, actions: XdpChainActions.Drop | XdpChainActions.Pass);
        using var next = Stamp(1, priority: 2);
        using (XdpMultiprog.Attach(rt.Backend, ifindex, [cont, next]))
            Assert.Equal((2u, 0b11ul), Send(rt)); // continue after DROP; the last verdict decides
    }

    [Fact]
    public void One_component_replaces_the_dispatchers_main_function()
    {
        var (rt, ifindex) = Device();
        using var only = Stamp(5);
        using var mp = XdpMultiprog.Attach(rt.Backend, ifindex, [only]);
        using var link = (BpfLink)rt.Backend.GetPinned($"{mp.PinDirectory}/prog0-link")!;
        var info = link.GetInfo();
        Assert.Equal(mp.MainProgram.Id, info.TargetObjectId);
        Assert.Equal(BpfProgram.FindFunction(mp.MainProgram, "xdp_dispatcher"), info.TargetBtfId);
        Assert.Equal((2u, 1ul << 5), Send(rt));
    }

    [Fact]
    public void Adding_a_program_builds_a_new_dispatcher_and_moves_the_loaded_components_to_it()
    {
        var (rt, ifindex) = Device();
        using var a = Stamp(0, priority: 20);
        uint oldId;
        using (var first = XdpMultiprog.Attach(rt.Backend, ifindex, [a]))
            oldId = first.MainProgram.Id;
        uint aId = a.Id;
        using var b = Stamp(1, priority: 10);
        using var second = XdpMultiprog.Attach(rt.Backend, ifindex, [b]);
        Assert.NotEqual(oldId, second.MainProgram.Id);
        Assert.Equal([b.Id, aId], second.Programs.Select(p => p.Id)); // a is the same program, re-attached
        Assert.Equal([$"dispatch-{ifindex}-{second.MainProgram.Id}"], PinDirs(rt)); // the old directory is gone
        Assert.Equal((2u, 0b11ul), Send(rt));
        // The old dispatcher is freed once nothing holds it (its links went with its pins).
        Assert.DoesNotContain(oldId, rt.Backend.GetIds(ObjectKind.Program));
    }

    [Fact]
    public void Partial_detach_keeps_the_rest_and_detaching_the_last_leaves_nothing()
    {
        var (rt, ifindex) = Device();
        using var a = Stamp(0, priority: 1);
        using var b = Stamp(1, priority: 2);
        using var c = Stamp(2, priority: 3);
        using (XdpMultiprog.Attach(rt.Backend, ifindex, [a, b, c])) { }
        XdpMultiprog.Detach(rt.Backend, ifindex, [b.Id]);
        Assert.Equal((2u, 0b101ul), Send(rt));
        using (var q = XdpMultiprog.Query(rt.Backend, ifindex)!)
            Assert.Equal([a.Id, c.Id], q.Programs.Select(p => p.Id));
        XdpMultiprog.Detach(rt.Backend, ifindex, [a.Id, c.Id]);
        Assert.Null(XdpMultiprog.Query(rt.Backend, ifindex));
        Assert.Empty(PinDirs(rt));
        Assert.Equal((2u, 0ul), Send(rt)); // no program: the frame passes untouched
        Assert.Equal(Errno.ENOENT, Assert.Throws<BpfException>(() => XdpMultiprog.Detach(rt.Backend, ifindex, [a.Id])).Errno);
    }

    [Fact]
    public void An_eleventh_program_is_E2BIG_and_changes_nothing()
    {
        var (rt, ifindex) = Device();
        var programs = Enumerable.Range(0, 10).Select(i => Stamp(i, priority: (uint)i)).ToList();
        using (var mp = XdpMultiprog.Attach(rt.Backend, ifindex, programs))
            Assert.Equal((2u, 0x3fful), Send(rt));
        using var extra = Stamp(10);
        var e = Assert.Throws<BpfException>(() => XdpMultiprog.Attach(rt.Backend, ifindex, [extra]));
        Assert.Equal(Errno.E2BIG, e.Errno);
        Assert.Contains("Not enough free slots in the dispatcher.", e.Message);
        Assert.Equal((2u, 0x3fful), Send(rt));
        Assert.Single(PinDirs(rt));
        foreach (var p in programs)
            p.Dispose();
    }

    [Fact]
    public void A_non_dispatcher_program_or_an_older_dispatcher_is_EBUSY()
    {
        var (rt, ifindex) = Device();
        using var plain = rt.Load(Spec("stamp"));
        plain.Programs["stamp"].XdpAttach(ifindex);
        using var a = Stamp(0);
        var legacy = Assert.Throws<BpfException>(() => XdpMultiprog.Attach(rt.Backend, ifindex, [a]));
        Assert.Equal(Errno.EBUSY, legacy.Errno);
        Assert.Contains("unload", legacy.Message);
        using (var q = XdpMultiprog.Query(rt.Backend, ifindex)!)
        {
            Assert.True(q.IsLegacy);
            Assert.Equal(plain.Programs["stamp"].Id, q.MainProgram.Id);
        }
        XdpMultiprog.DetachAll(rt.Backend, ifindex);
        Assert.Null(XdpMultiprog.Query(rt.Backend, ifindex));
        if (!File.Exists(LibxdpDispatcher))
            return;
        // libxdp's own (version 2) dispatcher, driven by our code: its config written, components attached, run.
        var theirs = DispatcherObject.FromFile(LibxdpDispatcher);
        using var b = Stamp(1, priority: 1);
        using (var old = XdpMultiprog.Attach(rt.Backend, ifindex, [a, b], new XdpMultiprogOptions { Dispatcher = theirs }))
        {
            Assert.Equal(2, old.Version);
            Assert.Equal((2u, 0b11ul), Send(rt));
        }
        using (var q = XdpMultiprog.Query(rt.Backend, ifindex)!)
            Assert.Equal((2, 2), (q.Version, q.Programs.Count));
        using var c = Stamp(2);
        var older = Assert.Throws<BpfException>(() => XdpMultiprog.Attach(rt.Backend, ifindex, [c]));
        Assert.Equal(Errno.EBUSY, older.Errno);
        Assert.Contains("older", older.Message);
    }

    [Fact]
    public void A_device_changed_under_the_swap_makes_it_retry_and_the_new_dispatcher_is_rolled_back()
    {
        var (rt, ifindex) = Device();
        using var a = Stamp(0);
        uint first;
        using (var mp = XdpMultiprog.Attach(rt.Backend, ifindex, [a]))
            first = mp.MainProgram.Id;
        using var intruder = rt.Load(Spec("stamp"));
        using var b = Stamp(1);
        int swaps = 0;
        var options = new XdpMultiprogOptions
        {
            BeforeSwap = () =>
            {
                // Another writer replaces the dispatcher just before our REPLACE: expected no longer matches.
                if (swaps++ == 0)
                    using (var cur = (BpfProgram)rt.Backend.Open(ObjectKind.Program, first))
                        intruder.Programs["stamp"].XdpAttach(ifindex, Ebpf.Collections.XdpFlags.Replace, cur);
            },
        };
        var e = Assert.Throws<BpfException>(() => XdpMultiprog.Attach(rt.Backend, ifindex, [b], options));
        // The retry read the device again and found a non-dispatcher program there.
        Assert.Equal(Errno.EBUSY, e.Errno);
        Assert.Equal(1, swaps);
        // The dispatcher built for the failed swap left no pins (only the replaced dispatcher's remain).
        Assert.Equal([$"dispatch-{ifindex}-{first}"], PinDirs(rt));
        Assert.Equal(intruder.Programs["stamp"].Id, rt.Backend.XdpQuery(ifindex).ProgramId);
    }

    [Fact]
    public void Concurrent_attaches_on_one_device_lose_nothing()
    {
        var (rt, ifindex) = Device();
        var programs = Enumerable.Range(0, 10).Select(i => Stamp(i, priority: (uint)i)).ToList();
        var errors = new System.Collections.Concurrent.ConcurrentBag<Exception>();
        var threads = Enumerable.Range(0, 2).Select(t => new Thread(() =>
        {
            try
            {
                for (int i = t; i < 10; i += 2)
                    XdpMultiprog.Attach(rt.Backend, ifindex, [programs[i]]).Dispose();
            }
            catch (Exception e)
            {
                errors.Add(e);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Empty(errors);
        Assert.Equal((2u, 0x3fful), Send(rt));
        using (var q = XdpMultiprog.Query(rt.Backend, ifindex)!)
            Assert.Equal(programs.Select(p => p.Id), q.Programs.Select(p => p.Id));
        Assert.Single(PinDirs(rt));
        programs.ForEach(p => p.Dispose());
    }

    [Fact]
    public void Run_config_changes_are_refused_once_attached()
    {
        var (rt, ifindex) = Device();
        using var a = Stamp(0);
        using var mp = XdpMultiprog.Attach(rt.Backend, ifindex, [a]);
        Assert.Equal(Errno.EBUSY, Assert.Throws<BpfException>(() => a.Priority = 3).Errno);
    }
}
