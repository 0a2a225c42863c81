using Ebpf.Abi;
using Ebpf.Elf;
using Ebpf.Loading;

namespace Ebpf.Collections;

/// <summary>How <see cref="BpfCollection.Load"/> loads an object, on every backend.</summary>
public sealed record ObjectLoadOptions
{
    /// <summary>Where maps with pinning = by-name are looked up and pinned (libbpf's pin_root_path).</summary>
    public string PinRoot { get; init; } = "/sys/fs/bpf";
    /// <summary>Overrides the program type of every program (bpftool `prog load … type TYPE`).</summary>
    public ProgramType? ProgramType { get; init; }
    /// <summary>Which programs to load; default: those with Autoload (not SEC("?...")).</summary>
    public Func<ProgramSpec, bool>? ProgramFilter { get; init; }
    /// <summary>Managed runtime: load programs the verifier rejects and run them checked (see <see cref="ProgramLoadOptions.AllowUnverified"/>).</summary>
    public bool AllowUnverified { get; init; }
    /// <summary>Verifier log level of each program load (see <see cref="ProgramLoadOptions.LogLevel"/>; null: the backend's default).</summary>
    public int? LogLevel { get; init; }
    /// <summary>Managed runtime: run every program checked (see <see cref="ProgramLoadOptions.AlwaysChecked"/>).</summary>
    public bool AlwaysChecked { get; init; }
    /// <summary>The managed verifier's processed-instruction budget per program.</summary>
    public int VerifierInstructionLimit { get; init; } = 1_000_000;
    /// <summary>See <see cref="ProgramLoadOptions.Untranslated"/>.</summary>
    internal bool Untranslated { get; init; }
    /// <summary>
    /// libbpf's btf_custom_path: CO-RE relocations resolve against this BTF file (raw BTF or an ELF object's .BTF)
    /// only, instead of the backend's kernel BTF.
    /// </summary>
    public string? BtfCustomPath { get; init; }
    /// <summary>
    /// Kernel-side CO-RE, as light skeletons (libbpf's gen_loader) do it: the programs' CO-RE relocations are not
    /// applied by the loader but sent with BPF_PROG_LOAD (core_relos) for the kernel's verifier to apply against the
    /// kernel's own BTF — the managed runtime's verifier does the same. Needs the object's BTF loaded.
    /// </summary>
    public bool KernelSideCoRe { get; init; }
    /// <summary>
    /// Receives libbpf's debug lines of CO-RE relocation as the loader produces them (candidates found, each
    /// relocation's spec, matching and non-matching candidates, patched or poisoned instructions), in libbpf's order.
    /// Its warning lines (failed relocations, ambiguities) go to <see cref="BpfCollection.Warnings"/>, and with a
    /// failed load to the exception's <see cref="BpfException.Log"/>.
    /// </summary>
    public Action<string>? CoreDebugLog { get; init; }
    /// <summary>Load the object's BTF (and pass func_info/line_info); when the backend refuses it, load without, as libbpf does.</summary>
    public bool LoadBtf { get; init; } = true;
    /// <summary>
    /// The program the object's tracing (fentry/fexit) and extension (freplace) programs are loaded against, each
    /// against the function its section names (libbpf's bpf_program__set_attach_target(prog, target_fd, NULL);
    /// bpftool's `prog loadall … target PROG`).
    /// </summary>
    public BpfProgram? AttachTarget { get; init; }
    /// <summary>The target function of every tracing/extension program, instead of its section's (`func NAME`).</summary>
    public string? AttachFunction { get; init; }
    /// <summary>
    /// The kernel the loader adapts the object to (libbpf's feature probes): without
    /// <see cref="Abi.Profiles.KernelFeature.ArgCtxTag"/> the arg:ctx fallback rewrites func_info, without a BTF kind
    /// the BTF is sanitised. Null: the backend's own profile (the running kernel's on Linux).
    /// </summary>
    public Abi.Profiles.KernelProfile? FeatureProfile { get; init; }
    /// <summary>The object's ELF, for the BTF DATASEC fix-ups (set by <see cref="BpfCollection.LoadFile"/>).</summary>
    public ElfFile? Elf { get; init; }
}

/// <summary>
/// The live objects of one loaded object file, the same type on every backend: maps created (inner maps from their
/// templates, global data initialised and .rodata/.kconfig frozen), BTF loaded, programs relocated and loaded,
/// prog-array and map-in-map initial slots filled. Dispose drops the collection's handles.
/// </summary>
public sealed class BpfCollection : IDisposable
{
    internal BpfCollection(IBpfBackend backend, Dictionary<string, BpfMap> maps, Dictionary<string, BpfProgram> programs, BtfHandle? btf, List<string> warnings)
    {
        Backend = backend;
        Maps = maps;
        Programs = programs;
        Btf = btf;
        Warnings = warnings;
    }

    /// <summary>The backend the objects live in.</summary>
    public IBpfBackend Backend { get; }

    /// <summary>The object's BTF as loaded (held by its programs and BTF-defined maps), if it had one the backend took.</summary>
    public BtfHandle? Btf { get; }

    /// <summary>The maps by name.</summary>
    public IReadOnlyDictionary<string, BpfMap> Maps { get; }

    /// <summary>The loaded programs by name.</summary>
    public IReadOnlyDictionary<string, BpfProgram> Programs { get; }

    /// <summary>What was downgraded on the way (BTF refused, a map created without BTF …), as libbpf warns.</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>
    /// Loads an object like libbpf's bpf_object__load. On any failure everything created so far is released: no
    /// objects and no new pins remain.
    /// </summary>
    public static BpfCollection Load(IBpfBackend backend, ObjectSpec spec, ObjectLoadOptions? options = null) =>
        CollectionLoader.Load(backend, spec, options ?? new ObjectLoadOptions());

    /// <summary>Reads a clang-built object and loads it, with the ELF at hand for the BTF fix-ups.</summary>
    public static BpfCollection LoadFile(IBpfBackend backend, string path, ObjectLoadOptions? options = null)
    {
        var elf = ElfFile.Open(path);
        var spec = ObjectSpec.Parse(elf.Image, path);
        spec.Name = ObjectSpec.ObjectNameFromPath(path);
        options ??= new ObjectLoadOptions();
        return Load(backend, spec, options.Elf is null ? options with { Elf = elf } : options);
    }

    /// <summary>Drops every handle the collection holds (objects still used by others, or pinned, live on).</summary>
    public void Dispose()
    {
        foreach (var p in Programs.Values)
            p.Dispose();
        foreach (var m in Maps.Values)
            m.Dispose();
        Btf?.Dispose();
    }
}
