using Ebpf.Btf;
using Ebpf.Loading;

namespace Ebpf.Xdp;

/// <summary>
/// What makes an object a libxdp-protocol dispatcher, read from its BTF and sections (kernel-semantics.md §6.2): the
/// XDP program <c>xdp_dispatcher</c> with global stubs <c>prog0..prog9</c>, the <c>conf</c> variable of
/// <c>struct xdp_dispatcher_config</c> in <c>.rodata</c> with the members of its version at libxdp's offsets, and the
/// version in the <c>xdp_metadata</c> section's <c>dispatcher_version</c> variable. Ours and libxdp's object both pass.
/// </summary>
public sealed record DispatcherLayout(byte Version, int ConfigSize, string RodataMap, IReadOnlyDictionary<string, int> MemberOffsets)
{
    /// <summary>The main function's (and program's) name.</summary>
    public const string MainFunction = "xdp_dispatcher";
    /// <summary>The section carrying the version variable.</summary>
    public const string MetadataSection = "xdp_metadata";

    /// <summary>libxdp's member offsets; each version has a prefix of this list (version 1 has its own).</summary>
    private static readonly (string Name, int Offset, byte Since)[] Members =
    [
        ("magic", 0, 2), ("dispatcher_version", 1, 2), ("num_progs_enabled", 2, 2), ("is_xdp_frags", 3, 2),
        ("chain_call_actions", 4, 1), ("run_prios", 44, 1), ("program_flags", 84, 2), ("is_xdp_devbound", 124, 3),
    ];

    /// <summary>The stub that slot <paramref name="slot"/> calls.</summary>
    public static string StubName(int slot) => $"prog{slot}";

    /// <summary>Reads and checks the layout; EINVAL naming what differs.</summary>
    public static DispatcherLayout Read(ObjectSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var btf = spec.Btf ?? throw Bad(spec, "has no BTF");
        var main = spec.FindProgram(MainFunction) ?? throw Bad(spec, $"has no program {MainFunction}");
        if (main.Type != Abi.ProgramType.Xdp)
            throw Bad(spec, $"{MainFunction} is {main.Type}, not XDP");
        for (int i = 0; i < XdpDispatcherConfig.MaxPrograms; i++)
        {
            var f = main.Functions.FirstOrDefault(f => f.Name == StubName(i));
            if (f is null || !f.IsGlobal)
                throw Bad(spec, $"has no global stub {StubName(i)} in {MainFunction}");
        }
        uint btfVersion = ReadBtfVersion(btf) ?? throw Bad(spec, $"has no dispatcher_version in {MetadataSection}");
        var rodata = spec.Maps.FirstOrDefault(m => m.SectionName == ".rodata") ?? throw Bad(spec, "has no .rodata");
        var datasec = btf.FindDatasec(".rodata") ?? throw Bad(spec, "has no .rodata DATASEC");
        var conf = btf.GetDatasecVariables(datasec).FirstOrDefault(v => v.Var.Name == "conf");
        if (conf.Var is null)
            throw Bad(spec, "has no conf variable in .rodata");
        if (btf.ResolveType(btf.SkipModifiers(conf.Var.Type)) is not BtfStruct config || config.Name != "xdp_dispatcher_config")
            throw Bad(spec, "conf is not a struct xdp_dispatcher_config");
        var offsets = config.Members.ToDictionary(m => m.Name, m => (int)m.ByteOffset);
        foreach (var (name, offset, since) in Members)
        {
            bool expected = since <= btfVersion && !(btfVersion == 1 && name is "magic" or "dispatcher_version" or "num_progs_enabled" or "is_xdp_frags");
            if (expected && (!offsets.TryGetValue(name, out int at) || at != offset))
                throw Bad(spec, $"config member {name} is {(offsets.TryGetValue(name, out int a) ? $"at offset {a}" : "missing")}, libxdp's version {btfVersion} has it at {offset}");
        }
        if (btfVersion == 1 && (!offsets.TryGetValue("num_progs_enabled", out int n) || n != 0))
            throw Bad(spec, "version 1 config must start with num_progs_enabled");
        int size = (int)config.Size;
        if (btfVersion <= XdpDispatcherConfig.CurrentVersion && size != XdpDispatcherConfig.SizeOf((byte)btfVersion))
            throw Bad(spec, $"config is {size} bytes, version {btfVersion} has {XdpDispatcherConfig.SizeOf((byte)btfVersion)}");
        return new DispatcherLayout((byte)btfVersion, size, rodata.Name, offsets);
    }

    /// <summary>The version in BTF: <c>dispatcher_version</c> of the xdp_metadata DATASEC, an int (*)[N].</summary>
    public static uint? ReadBtfVersion(BtfSpec btf)
    {
        ArgumentNullException.ThrowIfNull(btf);
        if (btf.FindDatasec(MetadataSection) is not { } sec)
            return null;
        foreach (var (v, _) in btf.GetDatasecVariables(sec))
            if (v.Name == "dispatcher_version" && btf.TryGetArrayCountBehindPointer(v.Type, out uint n))
                return n;
        return null;
    }

    private static BpfException Bad(ObjectSpec spec, string what) =>
        new(Errno.EINVAL, $"{spec.Name}: not an XDP dispatcher object: {what}");
}
