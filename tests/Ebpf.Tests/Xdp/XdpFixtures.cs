using Ebpf.Loading;
using Ebpf.Xdp;

namespace Ebpf.Tests.Xdp;

/// <summary>The clang-built objects of tests/fixtures/xdp/dispatcher and the frames the tests send.</summary>
internal static class XdpFixtures
{
    public const string LibxdpDispatcher = "/usr/lib/x86_64-linux-gnu/bpf/xdp-dispatcher.o";

    public static string FixturePath(string name) => SharedData.Fixture($"xdp/dispatcher/{name}.bpf.o");

    public static ObjectSpec Spec(string name) => ObjectSpec.Load(FixturePath(name));

    /// <summary>A stamp component: sets bit <paramref name="bit"/> of the frame's first word and returns <paramref name="verdict"/>.</summary>
    public static XdpProgram Stamp(int bit, XdpAction verdict = XdpAction.Pass, uint? priority = null, XdpChainActions? actions = null)
    {
        var spec = Spec("stamp");
        var rodata = spec.Maps.Single(m => m.SectionName == ".rodata");
        BitConverter.GetBytes((uint)bit).CopyTo(rodata.InitialValue!, 0);
        BitConverter.GetBytes((uint)verdict).CopyTo(rodata.InitialValue!, 4);
        var p = XdpProgram.FromObject(spec);
        if (priority is { } prio)
            p.Priority = prio;
        if (actions is { } a)
            p.ChainCallActions = a;
        return p;
    }

    /// <summary>The frame's first word after a run: the set of stamps it went through.</summary>
    public static ulong Stamps(byte[]? frame) => frame is null ? 0 : BitConverter.ToUInt64(frame, 0);
}
