using System.Collections.Concurrent;
using Ebpf.Abi;
using Ebpf.Isa;

namespace Ebpf.Linux.Probes;

/// <summary>
/// Which kfuncs each program type may call in the running kernel. The kernel registers kfunc id sets per
/// program type (register_btf_kfunc_id_set), and that table is not in vmlinux BTF, so it is learned the way
/// bpftool learns helper availability: load <c>call kfunc; exit</c> and read the verifier's verdict.
/// "calling kernel function X is not allowed" means the type may not call it; any other complaint is about the
/// (deliberately missing) arguments, so the call itself is allowed.
/// </summary>
public static class KernelFunctionProbes
{
    private static readonly ConcurrentDictionary<(ProgramType, uint), FeatureProbe> Probes = new();

    private static readonly Lazy<IReadOnlyList<(string Name, uint BtfId)>> Kfuncs = new(ReadVmlinuxKfuncs);

    /// <summary>Every kfunc of vmlinux BTF (FUNCs tagged <c>bpf_kfunc</c>): name and BTF id, by name. Read once.</summary>
    public static IReadOnlyList<(string Name, uint BtfId)> VmlinuxKfuncs() => Kfuncs.Value;

    private static IReadOnlyList<(string Name, uint BtfId)> ReadVmlinuxKfuncs()
    {
        var vmlinux = Btf.BtfSpec.LoadVmlinux();
        return vmlinux.AllTypes
            .Where(t => t is Btf.BtfFunc && vmlinux.GetDeclTagValues(t.Id).Contains("bpf_kfunc"))
            .Select(t => (t.Name, t.Id))
            .OrderBy(k => k.Name, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>Program types a kfunc probe can answer for: those that load without a BTF attach target.</summary>
    public static bool CanProbe(ProgramType type) =>
        type is not (ProgramType.Unspec or ProgramType.Tracing or ProgramType.Ext or ProgramType.Lsm or ProgramType.StructOps)
        && KernelFeatures.SupportsProgramType(type);

    /// <summary>Loads a program of this type calling the vmlinux kfunc with this BTF id once per process and remembers the answer.</summary>
    public static FeatureProbe Probe(ProgramType type, uint btfId) => Probes.GetOrAdd((type, btfId), static key =>
    {
        var (type, id) = key;
        Instruction[] insns = [new Instruction(Opcodes.Call, 0, (byte)CallSource.Kfunc, 0, (int)id), Instruction.Exit()];
        try
        {
            using var p = KernelProgram.Load(new ProgramLoadAttributes
            {
                Type = type,
                Instructions = insns,
                Name = "kfunc_probe",
                ExpectedAttachType = KernelFeatures.ProbeAttachType(type),
                Flags = type == ProgramType.Syscall ? ProgramLoadFlags.Sleepable : ProgramLoadFlags.None,
                LogLevel = VerifierLogLevel.Level1,
                LogSize = 16 * 1024,
                RetryWithLogOnFailure = false,
            });
            return new FeatureProbe(true, Errno.None, "loaded");
        }
        catch (BpfException e)
        {
            string log = e.Log ?? "";
            if (log.Length == 0)
                return new FeatureProbe(false, e.Errno, e.Message);
            bool gated = log.Contains("calling kernel function ", StringComparison.Ordinal) && log.Contains(" is not allowed", StringComparison.Ordinal);
            string line = log.Split('\n').FirstOrDefault(l => l.Length > 0 && !char.IsAsciiDigit(l[0])) ?? e.Message;
            return new FeatureProbe(!gated, e.Errno, line);
        }
    });
}
