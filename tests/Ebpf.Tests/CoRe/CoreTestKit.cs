using BtfData = Ebpf.Btf.BtfSpec;
using Ebpf.Btf;
using Ebpf.CoRe;
using Ebpf.Isa;

namespace Ebpf.Tests.CoRe;

/// <summary>Builds small local/target BTF pairs and runs one relocation through the engine, keeping the log.</summary>
internal sealed class CoreTestKit
{
    public List<string> Debug { get; } = [];
    public List<string> Warnings { get; } = [];

    public static BtfData Build(Action<BtfBuilder> build)
    {
        var b = new BtfBuilder();
        build(b);
        return BtfData.Parse(b.ToBytes());
    }

    /// <summary>The id of the named type in <paramref name="btf"/>.</summary>
    public static uint Id(BtfData btf, string name) =>
        btf.AllTypes.First(t => t.Name == name).Id;

    /// <summary>
    /// Writes a target BTF whose xdp_md has data but no data_end into <paramref name="dir"/>: against it the
    /// core_reloc fixture's data_end read is poisoned (an older or stripped kernel, as far as that field goes).
    /// </summary>
    public static string WriteXdpMdWithoutDataEnd(string dir)
    {
        var b = new BtfBuilder();
        b.AddStructLayout("xdp_md", ("data", b.AddInt("unsigned int", 4)));
        string path = Path.Combine(dir, "no_data_end.btf");
        File.WriteAllBytes(path, b.ToBytes());
        return path;
    }

    public CoreRelocator Relocator(BtfData local, BtfData target) =>
        new(local, CoreTargets.Custom("target", target), new CoreLog { Debug = Debug.Add, Warn = Warnings.Add });

    public CoreRelocationResult Resolve(BtfData local, BtfData target, string root, string access, BtfCoreReloKind kind) =>
        Relocator(local, target).Resolve("prog", 0, new CoreRelocation(0, Id(local, root), access, kind));

    /// <summary>Resolves and patches one instruction; returns the patched program.</summary>
    public Instruction[] Patch(BtfData local, BtfData target, string root, string access, BtfCoreReloKind kind, params Instruction[] program)
    {
        var insns = (Instruction[])program.Clone();
        Relocator(local, target).Apply("prog", insns, [new CoreRelocation(0, Id(local, root), access, kind)]);
        return insns;
    }
}
