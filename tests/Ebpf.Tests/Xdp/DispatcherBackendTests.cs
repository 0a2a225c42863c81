using Ebpf.Xdp;
using static Ebpf.Tests.Xdp.XdpFixtures;

namespace Ebpf.Tests.Xdp;

/// <summary>
/// The dispatcher on both backends: the live kernel's verifier is the oracle that our dispatcher (and libxdp's, with
/// our config written into it) is a valid XDP program that passes frames through unreplaced slots; the components
/// load as extensions of it where the backend allows freplace (this kernel refuses them: the fallback's trigger).
/// </summary>
public class DispatcherBackendTests
{
    [Theory, ClassData(typeof(Backends))]
    public void Our_and_libxdps_dispatchers_load_with_a_config_and_pass_frames(string backend)
    {
        using var b = TestBackend.Create(backend);
        var objects = new List<DispatcherObject> { DispatcherObject.Default };
        if (File.Exists(LibxdpDispatcher))
            objects.Add(DispatcherObject.FromFile(LibxdpDispatcher));
        foreach (var d in objects)
        {
            foreach (byte count in new byte[] { 0, 1, 10 })
            {
                var config = new XdpDispatcherConfig { Version = d.Layout.Version, ProgramCount = count };
                for (int i = 0; i < 10; i++)
                    config.ChainCallActions[i] = (1u << 2) | (1u << 31);
                using var c = d.Load(b.Backend, config);
                var prog = c.Programs["xdp_dispatcher"];
                Assert.Equal(2u, prog.TestRun(new TestRunOptions { DataIn = new byte[64] }).ReturnValue);
                // The map libxdp recognises a dispatcher by: one entry, 4-byte key, the config as value, RDONLY_PROG.
                var map = prog.GetInfo().MapIds;
                Assert.Single(map);
                var rodata = c.Maps.Values.Single();
                var value = new byte[d.Layout.ConfigSize];
                rodata.Lookup(new byte[4], value);
                Assert.Equal(config.Encode(), value);
                Assert.Equal(count, XdpDispatcherConfig.Parse(value, d.Layout.Version).ProgramCount);
            }
        }
    }

    [Theory, ClassData(typeof(Backends))]
    public void A_component_loads_as_an_extension_of_a_slot_where_freplace_is_allowed(string backend)
    {
        using var b = TestBackend.Create(backend);
        var config = new XdpDispatcherConfig { ProgramCount = 2 };
        for (int i = 0; i < 10; i++)
            config.ChainCallActions[i] = (1u << 2) | (1u << 31);
        using var c = DispatcherObject.Default.Load(b.Backend, config);
        var dispatcher = c.Programs["xdp_dispatcher"];
        using var stamp = Stamp(3);
        using var other = Stamp(4);
        try
        {
            stamp.Load(b.Backend, dispatcher, "prog0");
            other.Load(b.Backend, dispatcher, "prog1");
        }
        catch (BpfException e) when (backend == Backends.Linux)
        {
            // This kernel has no function tracer: freplace loads are refused, which is what sends libxdp (and us) to
            // the single-program fallback.
            Assert.Equal(Errno.EPERM, e.Errno);
            return;
        }
        Assert.Equal(Abi.ProgramType.Ext, stamp.Program!.Type);
        using var l0 = stamp.Program.AttachTracing();
        using var l1 = other.Program!.AttachTracing();
        var r = dispatcher.TestRun(new TestRunOptions { DataIn = new byte[64], DataSizeOut = 64 });
        Assert.Equal((2u, (1ul << 3) | (1ul << 4)), (r.ReturnValue, Stamps(r.DataOut)));
    }
}
