using System.CommandLine;
using Ebpf.Abi;
using Ebpf.Cli.Commands.Loading;
using Ebpf.Linux.Probes;

namespace Ebpf.Cli.Commands.Linux;

/// <summary>
/// `ebpf feature probe [--helpers]`: what the running kernel supports, found by loading tiny programs and
/// creating tiny maps (bpftool feature probe kernel). Needs bpf(2) (root or CAP_BPF).
/// </summary>
internal sealed class FeatureProbeCommand : ICliVerb
{
    public IReadOnlyList<string> Path => ["feature", "probe"];

    public Command Create()
    {
        var helpers = new Option<bool>("--helpers") { Description = "Also probe which helpers each program type may call" };
        var kfuncs = new Option<bool>("--kfuncs") { Description = "Also probe which vmlinux kfuncs each program type may call" };
        var profile = new Option<bool>("--profile") { Description = "Print the running kernel as a kernel profile (JSON) for `prog verify --kernel FILE`" };
        var command = new Command("probe", "Probe the running kernel's program types, map types, helpers, kfuncs and BTF features") { helpers, kfuncs, profile };
        CliConsole.SetBody(command, pr =>
        {
            var bpf = KernelFeatures.Bpf;
            if (!bpf.Supported)
                throw new BpfException(bpf.Errno, $"bpf(2) is not usable: {bpf.Detail}");
            if (pr.GetValue(profile))
            {
                CliConsole.Out.WriteLine(LiveKernelProfile.Probe(includeKfuncs: true).ToJson());
                return 0;
            }
            var progTypes = Enum.GetValues<ProgramType>().Where(t => t != ProgramType.Unspec)
                .Select(t => (Name: KernelNames.Of(t), Type: t, Probe: KernelFeatures.ProbeProgramType(t))).ToList();
            var mapTypes = Enum.GetValues<MapType>().Where(t => t != MapType.Unspec)
                .Select(t => (Name: KernelNames.Of(t), Probe: KernelFeatures.ProbeMapType(t))).ToList();
            var helperSets = pr.GetValue(helpers)
                ? progTypes.Where(p => p.Probe.Supported).ToDictionary(p => p.Name, p => KernelFeatures.SupportedHelpers(p.Type))
                : null;
            var kfuncSets = pr.GetValue(kfuncs) ? ProbeKfuncs(progTypes.Select(p => (p.Name, p.Type)).ToList()) : null;
            bool argCtx = KernelFeatures.SupportsArgCtxTag;
            if (CliConsole.IsJson(pr))
            {
                CliConsole.WriteJson(new
                {
                    program_types = progTypes.ToDictionary(p => p.Name, p => p.Probe.Supported),
                    map_types = mapTypes.ToDictionary(m => m.Name, m => m.Probe.Supported),
                    helpers = helperSets,
                    kfuncs = kfuncSets,
                    vmlinux_kfuncs = kfuncSets is null ? null : KernelFunctionProbes.VmlinuxKfuncs().Select(k => k.Name).ToList(),
                    arg_ctx_decl_tag = argCtx,
                });
                return 0;
            }
            var o = CliConsole.Out;
            o.WriteLine("Scanning eBPF program types...");
            foreach (var p in progTypes)
                o.WriteLine($"eBPF program_type {p.Name} is {(p.Probe.Supported ? "" : "NOT ")}available");
            o.WriteLine();
            o.WriteLine("Scanning eBPF map types...");
            foreach (var m in mapTypes)
                o.WriteLine($"eBPF map_type {m.Name} is {(m.Probe.Supported ? "" : "NOT ")}available");
            if (helperSets is not null)
            {
                o.WriteLine();
                o.WriteLine("Scanning eBPF helper functions...");
                foreach (var (name, ids) in helperSets)
                    o.WriteLine($"eBPF helpers supported for program type {name}: {string.Join(", ", ids)}");
            }
            if (kfuncSets is not null)
            {
                o.WriteLine();
                o.WriteLine("Scanning kfuncs...");
                foreach (var (name, names) in kfuncSets)
                    o.WriteLine($"kfuncs supported for program type {name}: {string.Join(", ", names)}");
            }
            o.WriteLine();
            o.WriteLine($"Global subprogram arg:ctx decl tag is {(argCtx ? "" : "NOT ")}supported");
            return 0;
        });
        return command;
    }

    /// <summary>Per probe-able program type, the vmlinux kfuncs it may call (types needing an attach target are left out).</summary>
    private static Dictionary<string, List<string>> ProbeKfuncs(List<(string Name, ProgramType Type)> types)
    {
        var all = KernelFunctionProbes.VmlinuxKfuncs();
        var result = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (name, type) in types.Where(t => KernelFunctionProbes.CanProbe(t.Type)))
            result[name] = all.Where(k => KernelFunctionProbes.Probe(type, k.BtfId).Supported).Select(k => k.Name).ToList();
        return result;
    }
}
