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
    public List<ProgramSpec> Programs { get; set; } = [];
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
    public List<ExternSpec> Externs { get; set; } = [];

    /// <summary>The global-data maps (.data, .rodata, .bss and their suffixed variants, .kconfig).</summary>
    public IEnumerable<MapSpec> DataSections => Maps.Where(m => m.IsGlobalData);

    public ProgramSpec? FindProgram(string name) => Programs.FirstOrDefault(p => p.Name == name);
    public MapSpec? FindMap(string name) => Maps.FirstOrDefault(m => m.Name == name);

    public static ObjectSpec Load(string path) => ObjectReader.Read(Elf.ElfFile.Open(path), path);

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
