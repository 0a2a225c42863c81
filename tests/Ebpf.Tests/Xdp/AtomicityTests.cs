using System.Collections.Concurrent;
using Ebpf.Abi;
using Ebpf.Runtime;
using Ebpf.Xdp;
using static Ebpf.Tests.Xdp.XdpFixtures;

namespace Ebpf.Tests.Xdp;

/// <summary>
/// Frames on several threads while programs are added and removed: each frame must have gone through exactly one of
/// the sets that were installed (each component stamps its bit into the frame), never a mix and never a set with a
/// program missing. Pinned (libxdp) and program-owned dispatchers alike; the program-owned set leaves no ids behind.
/// </summary>
public class AtomicityTests
{
    private static readonly int Rounds = int.TryParse(Environment.GetEnvironmentVariable("EBPF_XDP_STRESS_ROUNDS"), out int r) ? r : 1;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Frames_see_the_old_set_or_the_new_one_frame_by_frame(bool programOwned)
    {
        var rt = new BpfRuntime();
        int ifindex = (int)rt.Network.AddDevice("d0").Ifindex;
        var options = new XdpMultiprogOptions { ProgramOwned = programOwned };
        var programs = Enumerable.Range(0, 10).Select(i => Stamp(i, priority: (uint)i)).ToList();
        var installed = new ConcurrentDictionary<ulong, byte>();
        installed[1] = 0;
        XdpMultiprog.Attach(rt.Backend, ifindex, [programs[0]], options).Dispose();

        var seen = new ConcurrentDictionary<ulong, long>();
        var errors = new ConcurrentBag<string>();
        long frames = 0;
        using var stop = new CancellationTokenSource();
        var injectors = Enumerable.Range(0, 3).Select(_ => new Thread(() =>
        {
            var frame = new byte[64];
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    var result = rt.Network.Inject("d0", frame);
                    var f = result.Frames[0];
                    if (f.Verdict != (uint)XdpAction.Pass)
                        errors.Add($"verdict {f.Verdict}");
                    seen.AddOrUpdate(Stamps(f.Data), 1, (_, n) => n + 1);
                    Interlocked.Increment(ref frames);
                }
            }
            catch (Exception e)
            {
                errors.Add(e.ToString());
            }
        })).ToList();
        injectors.ForEach(t => t.Start());
        try
        {
            for (int round = 0; round < Rounds; round++)
            {
                // Grow to ten components, one attach at a time, then shrink back to one.
                for (int k = 1; k < 10; k++)
                {
                    installed[(1ul << (k + 1)) - 1] = 0; // published before the swap can make it visible
                    XdpMultiprog.Attach(rt.Backend, ifindex, [programs[k]], options).Dispose();
                }
                for (int k = 9; k >= 1; k--)
                    XdpMultiprog.Detach(rt.Backend, ifindex, [programs[k].Id], options);
            }
        }
        finally
        {
            stop.Cancel();
            injectors.ForEach(t => t.Join());
        }
        Assert.Empty(errors);
        Assert.True(frames > 0);
        var torn = seen.Keys.Where(m => !installed.ContainsKey(m)).ToList();
        Assert.True(torn.Count == 0, $"frames ran a set that was never installed: {string.Join(", ", torn.Select(m => $"0x{m:x}"))}");
        Assert.True(seen.Count > 1, "the frames never saw a change of set");

        // Unload everything: with the caller's programs released, nothing of the set remains.
        XdpMultiprog.DetachAll(rt.Backend, ifindex, options);
        programs.ForEach(p => p.Dispose());
        Assert.Empty(rt.Backend.GetIds(ObjectKind.Program));
        Assert.Empty(rt.Backend.GetIds(ObjectKind.Link));
        Assert.Empty(rt.Backend.GetIds(ObjectKind.Map));
    }

    [Fact]
    public void A_program_owned_set_has_no_pins_and_lives_exactly_as_long_as_the_dispatcher()
    {
        var rt = new BpfRuntime();
        int ifindex = (int)rt.Network.AddDevice("d0").Ifindex;
        var options = new XdpMultiprogOptions { ProgramOwned = true };
        var a = Stamp(0, priority: 1);
        var b = Stamp(1, priority: 2);
        uint dispatcher;
        using (var mp = XdpMultiprog.Attach(rt.Backend, ifindex, [a, b], options))
        {
            Assert.Null(mp.PinDirectory);
            dispatcher = mp.MainProgram.Id;
        }
        Assert.Empty(rt.Backend.ListPins());
        a.Dispose();
        b.Dispose();
        // Only the dispatcher's attachment holds the set now.
        var r = rt.Network.Inject("d0", new byte[64]).Frames[0];
        Assert.Equal(0b11ul, Stamps(r.Data));
        using (var q = XdpMultiprog.Query(rt.Backend, ifindex, options)!)
        {
            Assert.Equal(dispatcher, q.MainProgram.Id);
            Assert.Equal(2, q.Programs.Count);
            Assert.Equal([1u, 2u], q.Programs.Select(p => p.Priority));
        }
        Assert.Equal(2, rt.Backend.GetIds(ObjectKind.Link).Count);
        // Something else takes the device (a plain netlink detach, not our API): the set goes with the dispatcher.
        using (var d = (BpfProgram)rt.Backend.Open(ObjectKind.Program, dispatcher))
            BpfProgram.XdpDetach(rt.Backend, ifindex, Ebpf.Collections.XdpFlags.None, null);
        Assert.Empty(rt.Backend.GetIds(ObjectKind.Program));
        Assert.Empty(rt.Backend.GetIds(ObjectKind.Link));
        Assert.Equal(0ul, Stamps(rt.Network.Inject("d0", new byte[64]).Frames[0].Data));
    }

    [Fact]
    public void Program_owned_mode_is_EOPNOTSUPP_where_the_backend_lacks_it()
    {
        var linux = Ebpf.Linux.LinuxKernel.Backend;
        using var a = Stamp(0);
        var e = Assert.Throws<BpfException>(() => XdpMultiprog.Attach(linux, 1, [a], new XdpMultiprogOptions { ProgramOwned = true }));
        Assert.Equal(Errno.EOPNOTSUPP, e.Errno);
    }
}
