using Ebpf.Cli.Commands.Runtime;
using Ebpf.Linux;
using Ebpf.Loading;
using Ebpf.Runtime;
using Ebpf.Tests.Linux;

namespace Ebpf.Tests.Cli;

/// <summary>
/// `map dump` of maps with BTF, compared with the real bpftool on the same kernel maps (text and -j):
/// our linux backend on the kernel maps, and the managed runtime holding the same bytes.
/// </summary>
[Collection(nameof(Ebpf.Tests.Linux.FdCountingCollection))]
public class BtfMapDumpTests
{
    private static readonly string[] MapNames = ["flows", "percpu", "names", "btf_dump.bss", "btf_dump.data"];

    /// <summary>
    /// The record of bpftool's output for one map, or null for the per-CPU map: which CPU test_run's fill ran on
    /// (and how many CPUs there are) is the machine's, so that one is compared with the live bpftool only.
    /// </summary>
    private static string? RecordName(string map, string verb, bool json) =>
        map == "percpu" ? null : $"map-dump/{map}.{verb}.{(json ? "json" : "txt")}";

    /// <summary>bpftool's output: live (and checked against its record), or the record when bpftool is absent; null
    /// when neither exists (the per-CPU map without bpftool).</summary>
    private static string? Bpftool(string? record, params string[] args)
    {
        if (record is not null)
            return BpftoolRecord.Output(record, args);
        if (BpftoolRecord.Tool() is not { } bpftool)
            return null;
        var r = ExternalTool.Run(bpftool, args);
        Assert.True(r.ExitCode == 0, $"bpftool {string.Join(' ', args)} failed: {r.Stderr}");
        return r.Stdout;
    }

    [Fact]
    public void Btf_formatted_dumps_match_bpftool_for_both_backends()
    {
        KernelRequirement.Require();
        string path = SharedData.Fixture("runtime/btf_dump.bpf.o");
        using var kernel = LinuxKernel.LoadFile(path);
        kernel.Programs["fill"].TestRun(new TestRunOptions { DataIn = new byte[64], DataSizeOut = 0 });

        var rt = new BpfRuntime();
        using var ours = rt.Load(ObjectSpec.Load(path));

        // A bpffs of our own: /sys/fs/bpf need not be mounted, and nothing is left behind.
        using var bpffs = new TemporaryBpfFs();
        string dir = bpffs.Path;
        try
        {
            foreach (var name in MapNames)
            {
                var km = kernel.Maps[name];
                string pin = Path.Combine(dir, name.Replace('.', '_'));
                km.Pin(pin);
                // The runtime map gets the kernel's bytes (per-CPU values included), through the host API.
                var rm = ours.Maps[name].Map;
                var entries = new List<(byte[] Key, byte[] Value)>();
                foreach (var key in km.Keys())
                {
                    var value = new byte[km.ValueBufferSize];
                    Assert.True(km.TryLookup(key, value));
                    rm.Maps!.Update(key, value);
                    entries.Add((key, value));
                }
                var info = rm.GetInfo();
                Assert.NotEqual(0u, info.BtfValueTypeId);
                var layout = BpftoolFormat.Layout(rm.Btf!.Data, info.Type, info.BtfKeyTypeId, info.BtfValueTypeId, info.ValueSize);
                Assert.NotNull(layout);

                foreach (bool json in new[] { false, true })
                {
                    string[] flag = json ? ["-j"] : [];
                    string? expected = Bpftool(RecordName(name, "dump", json), [.. flag, "map", "dump", "pinned", pin]);
                    if (expected is null)
                        continue;
                    var linux = CliRunner.Run([.. flag, "--backend", "linux", "map", "dump", "pinned", pin]);
                    Assert.True(linux.ExitCode == 0, linux.Stderr);
                    Assert.Equal(expected, linux.Stdout);
                    var runtimeOut = new StringWriter();
                    var runtimeEntries = ours.Maps[name].Map.Maps!.Keys().Select(k =>
                    {
                        var v = new byte[rm.Maps!.HostValueSize];
                        rm.Maps.Lookup(k, v);
                        return (k, v);
                    }).ToList();
                    BpftoolFormat.WriteDump(runtimeOut, runtimeEntries, json, layout);
                    Assert.Equal(expected, runtimeOut.ToString());

                    // map lookup of the first element: one formatted object, no array.
                    var (firstKey, firstValue) = entries[0];
                    string[] keyWords = [.. firstKey.Select(b => b.ToString(System.Globalization.CultureInfo.InvariantCulture))];
                    string expectedLookup = Bpftool(RecordName(name, "lookup", json), [.. flag, "map", "lookup", "pinned", pin, "key", .. keyWords])!;
                    var linuxLookup = CliRunner.Run([.. flag, "--backend", "linux", "map", "lookup", "pinned", pin, "key", .. keyWords]);
                    Assert.True(linuxLookup.ExitCode == 0, linuxLookup.Stderr);
                    Assert.Equal(expectedLookup, linuxLookup.Stdout);
                    var runtimeLookup = new StringWriter();
                    var v0 = new byte[rm.Maps!.HostValueSize];
                    rm.Maps.Lookup(firstKey, v0);
                    BpftoolFormat.WriteLookup(runtimeLookup, firstKey, v0, json, layout);
                    Assert.Equal(expectedLookup, runtimeLookup.ToString());
                }
            }
        }
        finally
        {
            foreach (var name in MapNames)
                File.Delete(Path.Combine(dir, name.Replace('.', '_'))); // unpinned before Dispose unmounts the bpffs
        }
    }

    /// <summary>Without the kernel or bpftool: the managed runtime runs `fill` itself and its dumps equal the records.</summary>
    [Fact]
    public void Runtime_btf_formatted_dumps_match_the_bpftool_records()
    {
        var rt = new BpfRuntime();
        using var ours = rt.Load(ObjectSpec.Load(SharedData.Fixture("runtime/btf_dump.bpf.o")));
        rt.TestRun(ours.Programs["fill"], new TestRunOptions { DataIn = new byte[64] });
        int compared = 0;
        foreach (var name in MapNames)
        {
            var rm = ours.Maps[name].Map;
            var info = rm.GetInfo();
            var layout = BpftoolFormat.Layout(rm.Btf!.Data, info.Type, info.BtfKeyTypeId, info.BtfValueTypeId, info.ValueSize);
            Assert.NotNull(layout);
            var entries = rm.Maps!.Keys().Select(k =>
            {
                var v = new byte[rm.Maps.HostValueSize];
                rm.Maps.Lookup(k, v);
                return (k, v);
            }).ToList();
            foreach (bool json in new[] { false, true })
            {
                if (RecordName(name, "dump", json) is not { } dumpRecord)
                    continue;
                var dump = new StringWriter();
                BpftoolFormat.WriteDump(dump, entries, json, layout);
                Assert.Equal(BpftoolRecord.Read(dumpRecord), dump.ToString());
                var lookup = new StringWriter();
                BpftoolFormat.WriteLookup(lookup, entries[0].k, entries[0].v, json, layout);
                Assert.Equal(BpftoolRecord.Read(RecordName(name, "lookup", json)!), lookup.ToString());
                compared += 2;
            }
        }
        Assert.Equal(16, compared); // four maps (the per-CPU one is live-only), dump and lookup, text and JSON
    }

    [Fact]
    public void Runtime_cli_dump_of_a_btf_map_is_formatted()
    {
        string file = Path.GetTempFileName();
        string pkt = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(pkt, new byte[64]);
            File.WriteAllText(file, $"""
                prog loadall {SharedData.Fixture("runtime/btf_dump.bpf.o")} /sys/fs/bpf/d pinmaps /sys/fs/bpf/m
                prog run pinned /sys/fs/bpf/d/fill data_in {pkt}
                map dump pinned /sys/fs/bpf/m/names
                map dump pinned /sys/fs/bpf/m/btf_dump_bss
                """);
            var r = CliRunner.Run("batch", "file", file);
            Assert.True(r.ExitCode == 0, r.Stderr);
            Assert.Contains("[{\n        \"key\": 0,\n        \"value\": \"abcd\"\n    },{\n        \"key\": 1,\n        \"value\": \"\"\n    }\n]\n", r.Stdout);
            Assert.Contains("[{\n        \"value\": {\n            \".bss\": [{\n                    \"counter\": 1\n                }\n            ]\n        }\n    }\n]\n", r.Stdout);
            Assert.DoesNotContain("Found", r.Stdout);
        }
        finally
        {
            File.Delete(file);
            File.Delete(pkt);
        }
    }
}
