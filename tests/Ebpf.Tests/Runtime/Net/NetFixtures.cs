using Ebpf.Loading;
using Ebpf.Runtime;

namespace Ebpf.Tests.Runtime.Net;

/// <summary>The clang-built XDP programs of tests/fixtures/xdp/devices and frames for them.</summary>
internal static class NetFixtures
{
    public const int TagStart = 14, TagLength = 64;

    public static ObjectSpec Spec() => ObjectSpec.Load(SharedData.Fixture("xdp/devices/devices.bpf.o"));

    public static BpfCollection Load(BpfRuntime rt) => rt.Load(Spec());

    /// <summary>A 96-byte frame whose byte 0 is <paramref name="first"/> (verdict_by_byte's verdict) and byte 1 <paramref name="second"/>.</summary>
    public static byte[] Frame(byte first = 2, byte second = 0, int length = 96)
    {
        var f = new byte[length];
        f[0] = first;
        f[1] = second;
        for (int i = 5; i < length; i++)
            f[i] = (byte)(i * 7);
        return f;
    }

    /// <summary>True when bytes 14..77 all hold <paramref name="tag"/>.</summary>
    public static bool TaggedWholly(byte[] data, byte tag) =>
        data.Length >= TagStart + TagLength && data.AsSpan(TagStart, TagLength).IndexOfAnyExcept(tag) < 0;
}
