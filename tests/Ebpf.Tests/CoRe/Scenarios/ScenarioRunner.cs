using Ebpf.Loading;
using Ebpf.Runtime;

namespace Ebpf.Tests.CoRe.Scenarios;

/// <summary>What running a scenario program produced: the output bytes, or the load failure.</summary>
public sealed record ScenarioOutcome(byte[]? Output, BpfException? Failure);

/// <summary>
/// Runs a scenario program in the managed runtime as upstream's driver does in the kernel: load the object with the
/// target BTF as btf_custom_path, write the input blob into .bss, run the raw_tp program once (test_run), read the
/// output half of .bss back.
/// </summary>
public static class ScenarioRunner
{
    public const int Half = 256;

    public static ScenarioOutcome Run(string objectPath, string program, string? targetBtf, byte[] input, int outputLength, BpfRuntime? runtime = null)
    {
        var rt = runtime ?? new BpfRuntime();
        var spec = ObjectSpec.Load(objectPath);
        BpfCollection collection;
        try
        {
            // As loaded: verified programs run unchecked (JIT), so the probed reads (bpf_probe_read_kernel of the
            // program's own .bss) exercise the unchecked path of ProbeReadHelpers.
            collection = rt.Load(spec, new ObjectLoadOptions { BtfCustomPath = targetBtf });
        }
        catch (BpfException e)
        {
            return new ScenarioOutcome(null, e);
        }
        using (collection)
        {
            var bssMap = collection.Maps.Single(m => m.Key.EndsWith(".bss", StringComparison.Ordinal)).Value.Map;
            var bss = bssMap.Maps!;
            var value = new byte[bssMap.Definition.ValueSize];
            Assert.True(value.Length >= 2 * Half, $"{objectPath}: .bss is {value.Length} bytes, the scenario block needs {2 * Half}");
            input.AsSpan(0, Math.Min(input.Length, Half)).CopyTo(value);
            var key = new byte[4];
            bss.Update(key, value);
            var result = rt.TestRun(collection.Programs[program], new TestRunOptions { ContextIn = new byte[64] });
            Assert.Equal(0u, result.ReturnValue);
            bss.Lookup(key, value);
            return new ScenarioOutcome(value.AsSpan(Half, outputLength).ToArray(), null);
        }
    }

    /// <summary>The failure's errno and text (the message, or the verifier log that travels with it) match.</summary>
    public static void AssertFails(CoreFailure expected, BpfException? actual, string what)
    {
        Assert.True(actual is not null, $"{what}: loaded, but must fail with {expected.Errno} \"{expected.Text}\"");
        string text = actual.ToString() + "\n" + actual.Log;
        Assert.True(actual.Errno == expected.Errno && text.Contains(expected.Text, StringComparison.Ordinal),
            $"{what}: expected {expected.Errno} \"{expected.Text}\", got {actual.Errno}: {actual.Message}\n{actual.Log}");
    }
}
