namespace Ebpf.Loading;

/// <summary>
/// A clang-built BPF object read the way libbpf reads it: programs (linked, with the relocations still to apply at
/// load), maps (BTF-defined, legacy, global data, .kconfig), BTF and .BTF.ext, externs, license and kernel version.
/// Plain data: every part may be edited before a backend loads it, like cilium/ebpf's CollectionSpec.
/// </summary>
public sealed class ObjectSpec
{
    /// <summary>The object's name as libbpf derives it: the file name up to its first '.', at most 15 characters.</summary>
    public required string Name { get; set; }
    /// <summary>The entry programs, each linked with the subprograms it calls.</summary>
    public List<ProgramSpec> Programs { get; set; } = [];
    /// <summary>The maps the object asks for, global-data maps included.</summary>
    public List<MapSpec> Maps { get; set; } = [];
    /// <summary>The object's BTF (.BTF), or null when it has none (or it was unusable and nothing needed it).</summary>
    public Ebpf.Btf.BtfSpec? Btf { get; set; }
    /// <summary>The object's .BTF.ext, or null when it has none.</summary>
    internal Ebpf.Btf.BtfExt? BtfExt { get; set; }
    /// <summary>What the reader skipped, as libbpf would warn (e.g. a malformed .BTF.ext nothing depended on).</summary>
    public List<string> Warnings { get; set; } = [];
    /// <summary>Contents of the "license" section ("" when there is none).</summary>
    public string License { get; set; } = "";
    /// <summary>The "version" section's u32 (LINUX_VERSION_CODE the object was built for), 0 when absent.</summary>
    public uint KernelVersion { get; set; }
    /// <summary>The <c>extern</c>s of .kconfig and .ksyms.</summary>
    public List<ExternSpec> Externs { get; set; } = [];

    /// <summary>The global-data maps (.data, .rodata, .bss and their suffixed variants, .kconfig).</summary>
    public IEnumerable<MapSpec> DataSections => Maps.Where(m => m.IsGlobalData);

    /// <summary>The program named <paramref name="name"/>, or null.</summary>
    public ProgramSpec? FindProgram(string name) => Programs.FirstOrDefault(p => p.Name == name);
    /// <summary>The map named <paramref name="name"/>, or null.</summary>
    public MapSpec? FindMap(string name) => Maps.FirstOrDefault(m => m.Name == name);

    /// <summary>
    /// Reads the BPF object file at <paramref name="path"/>; a malformed object throws a <see cref="BpfException"/>
    /// naming the place.
    /// </summary>
    public static ObjectSpec Load(string path) => ObjectReader.Read(Elf.ElfFile.Open(path), path);

    /// <summary>
    /// Reads a BPF object already in memory; <paramref name="name"/> names it in errors and is its object name.
    /// </summary>
    public static ObjectSpec Parse(ReadOnlyMemory<byte> bytes, string name = "<memory>") =>
        ObjectReader.Read(Elf.ElfFile.Parse(bytes, name), name);

    /// <summary>libbpf's object name: basename, cut at the first '.', at most BPF_OBJ_NAME_LEN-1 characters.</summary>
    public static string ObjectNameFromPath(string path)
    {
        string name = Path.GetFileName(path);
        if (name.Length > 15)
            name = name[..15];
        int dot = name.IndexOf('.');
        return dot >= 0 ? name[..dot] : name;
    }
}
