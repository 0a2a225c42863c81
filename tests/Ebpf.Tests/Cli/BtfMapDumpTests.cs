using System.Diagnostics;
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
    private const string Bpftool = "/usr/sbin/bpftool";
    private static readonly string[] MapNames = ["flows", "percpu", "names", "btf_dump.bss", "btf_dump.data"];

    private static string RunBpftool(params string[] args)
    {
        var psi = new ProcessStartInfo(Bpftool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"bpftool {string.Join(' ', args)} failed");
        return stdout;
    }

    [Fact]
    public void Btf_formatted_dumps_match_bpftool_for_both_backends()
    {
        KernelRequirement.Require();
        if (!File.Exists(Bpftool))
            Requirement.Missing(Requirement.Bpftool, "bpftool is not installed");
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
                    string expected = RunBpftool([.. flag, "map", "dump", "pinned", pin]);
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
                    string expectedLookup = RunBpftool([.. flag, "map", "lookup", "pinned", pin, "key", .. keyWords]);
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
