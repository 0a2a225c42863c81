using Ebpf.Loading;
using Ebpf.Runtime;

namespace Ebpf.Tests.Runtime.Links;

/// <summary>The clang-built objects of tests/fixtures/links and the runs the tests make of them.</summary>
internal static class LinkFixtures
{
    /// <summary>A 64-byte frame: the target's check() sees 64, so the original returns 65 and new_check 1064.</summary>
    public const int FrameLength = 64;
    public const uint Original = FrameLength + 1, Extended = FrameLength + 1000;

    public static ObjectSpec Spec(string name) => ObjectSpec.Load(SharedData.Fixture($"links/{name}.bpf.o"));

    /// <summary>An object with only the named "?"-section programs turned on.</summary>
    public static ObjectSpec SpecWith(string name, params string[] programs)
    {
        var spec = Spec(name);
        foreach (var p in spec.Programs)
            p.Autoload = programs.Contains(p.Name);
        return spec;
    }

    public static uint Run(BpfRuntime rt, BpfProgram program, int length = FrameLength) =>
        rt.TestRun(program, new TestRunOptions { DataIn = new byte[length] }).ReturnValue;

    public static ulong Global(BpfCollection coll, string mapSuffix, int offset)
    {
        var map = coll.Maps.First(m => m.Key.EndsWith(mapSuffix, StringComparison.Ordinal)).Value.Map.Maps!;
        var value = new byte[map.ValueSize];
        map.Lookup(BitConverter.GetBytes(0u), value);
        return BitConverter.ToUInt64(value, offset);
    }
}
