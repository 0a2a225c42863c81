using Ebpf.Collections;
using Ebpf.Elf;
using Ebpf.Loading;

namespace Ebpf.Xdp;

/// <summary>
/// A dispatcher object file (ours, embedded in the library, or another, e.g. libxdp's xdp-dispatcher.o) and the
/// loads of it with a config written into its <c>.rodata</c> first, as libxdp does with bpf_map__set_initial_value:
/// the map is frozen, so the verifier sees the config as constants and drops the unused slots.
/// </summary>
public sealed class DispatcherObject
{
    private const string ResourceName = "Ebpf.Xdp.xdp_dispatcher.bpf.o";
    private static readonly Lazy<DispatcherObject> Embedded = new(() =>
    {
        using var s = typeof(DispatcherObject).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new BpfException(Errno.ENOENT, $"the library has no resource {ResourceName}");
        var bytes = new byte[s.Length];
        s.ReadExactly(bytes);
        return new DispatcherObject(bytes, "xdp_dispatcher.bpf.o");
    });

    private readonly ReadOnlyMemory<byte> _image;

    private DispatcherObject(ReadOnlyMemory<byte> image, string name)
    {
        _image = image;
        Name = name;
        Layout = DispatcherLayout.Read(Parse());
    }

    /// <summary>Our dispatcher (tests/fixtures/xdp/dispatcher/xdp_dispatcher.bpf.c), version 3.</summary>
    public static DispatcherObject Default => Embedded.Value;

    /// <summary>Another dispatcher object file; EINVAL when it lacks the layout libxdp checks.</summary>
    public static DispatcherObject FromFile(string path) => new(File.ReadAllBytes(path), Path.GetFileName(path));

    /// <summary>The file name.</summary>
    public string Name { get; }

    /// <summary>Its layout and version.</summary>
    public DispatcherLayout Layout { get; }

    /// <summary>A fresh, editable spec of the object.</summary>
    public ObjectSpec Parse()
    {
        var spec = ObjectSpec.Parse(_image, Name);
        spec.Name = ObjectSpec.ObjectNameFromPath(Name);
        return spec;
    }

    /// <summary>The object's ELF, for loads that need its BTF and line info.</summary>
    internal ElfFile ParseElf() => ElfFile.Parse(_image, Name);

    /// <summary>
    /// Loads <c>xdp_dispatcher</c> with <paramref name="config"/> in its .rodata (the config's version must be the
    /// object's), with BPF_F_XDP_HAS_FRAGS when the config says so. The returned collection holds the program.
    /// </summary>
    public BpfCollection Load(IBpfBackend backend, XdpDispatcherConfig config)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(config);
        if (config.Version != Layout.Version)
            throw new BpfException(Errno.EINVAL, $"config version {config.Version} does not match the {Name} dispatcher's version {Layout.Version}");
        var spec = Parse();
        var rodata = spec.Maps.Single(m => m.Name == Layout.RodataMap);
        var value = config.Encode();
        if (value.Length != rodata.ValueSize)
            throw new BpfException(Errno.EINVAL, $"{Name}: .rodata is {rodata.ValueSize} bytes, the version {config.Version} config {value.Length}");
        rodata.InitialValue = value;
        var main = spec.FindProgram(DispatcherLayout.MainFunction)!;
        if (config.IsXdpFrags)
            main.Flags |= ProgramLoadFlags.XdpHasFrags;
        return BpfCollection.Load(backend, spec, new ObjectLoadOptions
        {
            ProgramFilter = p => p.Name == DispatcherLayout.MainFunction,
            Elf = ElfFile.Parse(_image, Name),
        });
    }
}
