using System.Runtime.CompilerServices;
using Ebpf.Btf;

namespace Ebpf.CoRe;

/// <summary>One BTF relocations may resolve against: vmlinux, a kernel module's split BTF, or a custom target.</summary>
/// <param name="Name">"vmlinux", the module's name, or the custom file's name (for messages).</param>
/// <param name="Btf">The parsed BTF (a module's is split BTF on top of vmlinux).</param>
public sealed record CoreTargetBtf(string Name, Btf.BtfSpec Btf)
{
    /// <summary>The first type id this BTF owns (a module's split BTF starts after its base).</summary>
    public uint FirstOwnTypeId => Btf.FirstTypeId;
}

/// <summary>
/// Where candidates are searched, in libbpf's order (§4.4): the main BTF first (the running kernel's vmlinux, or a
/// custom target given like btf_custom_path); module BTFs only when the main one has no candidate and no custom
/// target was given.
/// </summary>
public sealed class CoreTargets
{
    private static readonly ConditionalWeakTable<Btf.BtfSpec, Dictionary<string, List<uint>>> NameIndexes = new();

    private readonly Lazy<IReadOnlyList<CoreTargetBtf>> _modules;

    /// <summary>Targets with the module BTFs already read.</summary>
    public CoreTargets(CoreTargetBtf main, IReadOnlyList<CoreTargetBtf>? modules = null, bool isCustom = false)
        : this(main, () => modules ?? [], isCustom)
    {
    }

    /// <summary>Module BTFs are read only when a relocation needs them (libbpf's load_module_btfs is lazy too).</summary>
    public CoreTargets(CoreTargetBtf main, Func<IReadOnlyList<CoreTargetBtf>> modules, bool isCustom = false)
    {
        Main = main;
        _modules = new Lazy<IReadOnlyList<CoreTargetBtf>>(modules);
        IsCustom = isCustom;
    }

    /// <summary>The BTF searched first: the running kernel's vmlinux or the custom target.</summary>
    public CoreTargetBtf Main { get; }
    /// <summary>Kernel module BTFs, searched when the main BTF has no candidate (read on first use).</summary>
    public IReadOnlyList<CoreTargetBtf> Modules => _modules.Value;
    /// <summary>The main BTF was given instead of the kernel's (btf_custom_path): modules are not consulted.</summary>
    public bool IsCustom { get; }

    /// <summary>A custom target BTF (btf_custom_path): only it is searched.</summary>
    public static CoreTargets Custom(string name, Btf.BtfSpec btf) => new(new CoreTargetBtf(name, btf), (IReadOnlyList<CoreTargetBtf>?)null, isCustom: true);

    /// <summary>A custom target read from a file (raw BTF or an ELF object's .BTF), as libbpf's btf_custom_path.</summary>
    public static CoreTargets FromFile(string path) => Custom(Path.GetFileName(path), BtfElf.LoadAny(path));

    /// <summary>
    /// The running kernel's BTF as libbpf finds it: <c>/sys/kernel/btf/vmlinux</c>, then each module's split BTF
    /// under <c>/sys/kernel/btf/</c> when vmlinux has no candidate. ENOENT when the kernel exposes no BTF.
    /// </summary>
    public static CoreTargets RunningKernel() => RunningKernelOnce.Value;

    private static readonly Lazy<CoreTargets> RunningKernelOnce = new(() => RunningKernel("/sys/kernel/btf"));

    /// <summary><see cref="RunningKernel()"/> from another directory laid out like /sys/kernel/btf (read afresh).</summary>
    public static CoreTargets RunningKernel(string directory)
    {
        string vmlinux = Path.Combine(directory, "vmlinux");
        if (!File.Exists(vmlinux))
            throw new BpfException(Errno.ENOENT, $"{vmlinux} not found: the kernel exposes no BTF to relocate CO-RE programs against (give a target BTF, as btf_custom_path)");
        // The same parsed vmlinux the verifier's profile uses (one ~100 ms parse per process, not one per consumer).
        var main = Abi.Profiles.KernelBtfCache.Get(vmlinux)
            ?? throw new BpfException(Errno.EINVAL, $"{vmlinux}: not readable as BTF");
        return new CoreTargets(new CoreTargetBtf("vmlinux", main), () => Directory.EnumerateFiles(directory)
            .Where(f => Path.GetFileName(f) != "vmlinux")
            .Order(StringComparer.Ordinal)
            .Select(f => new CoreTargetBtf(Path.GetFileName(f), Btf.BtfSpec.LoadFile(f, main)))
            .ToList());
    }

    /// <summary>
    /// bpf_core_find_cands: every type of the targets with the local root's essential name and a compatible kind,
    /// vmlinux first and modules only if vmlinux has none. Throws EINVAL for an anonymous local root.
    /// </summary>
    internal List<(CoreTargetBtf Target, uint Id)> FindCandidates(Btf.BtfSpec local, uint localId, Action<string>? debug)
    {
        var localType = local.GetType(localId);
        if (localType.IsAnonymous)
            throw new BpfException(Errno.EINVAL, "anonymous types have no candidates");
        string essential = CoreNames.Essential(localType.Name);
        var found = new List<(CoreTargetBtf, uint)>();
        Add(Main, local, localId, localType, essential, found, debug);
        if (found.Count > 0 || IsCustom)
            return found;
        foreach (var module in Modules)
            Add(module, local, localId, localType, essential, found, debug);
        return found;
    }

    private static void Add(CoreTargetBtf target, Btf.BtfSpec local, uint localId, BtfType localType, string essential,
        List<(CoreTargetBtf, uint)> found, Action<string>? debug)
    {
        if (!IndexOf(target.Btf).TryGetValue(essential, out var ids))
            return;
        foreach (uint id in ids)
        {
            var t = target.Btf.GetType(id);
            if (!CoreNames.KindsCompatible(t, localType))
                continue;
            debug?.Invoke($"CO-RE relocating [{localId}] {CoreNames.KindName(localType)} {localType.Name}: found target candidate [{id}] {CoreNames.KindName(t)} {t.Name} in [{target.Name}]");
            found.Add((target, id));
        }
    }

    /// <summary>Essential name → own type ids, built once per BTF (vmlinux has ~125k types; relocations are many).</summary>
    private static Dictionary<string, List<uint>> IndexOf(Btf.BtfSpec btf) => NameIndexes.GetValue(btf, static b =>
    {
        var index = new Dictionary<string, List<uint>>(StringComparer.Ordinal);
        for (uint id = b.FirstTypeId; id <= b.MaxTypeId; id++)
        {
            var t = b.GetType(id);
            if (t.IsAnonymous)
                continue;
            string key = CoreNames.Essential(t.Name);
            if (!index.TryGetValue(key, out var list))
                index[key] = list = [];
            list.Add(id);
        }
        return index;
    });
}
