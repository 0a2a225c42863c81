using Ebpf.Abi;
using Ebpf.Collections;
using Ebpf.Elf;
using Ebpf.Loading;

namespace Ebpf.Xdp;

/// <summary>
/// One XDP program as a dispatcher component (libxdp's struct xdp_program): an XDP program of an object, not yet
/// loaded, with its run priority and chain-call actions (from its <c>.xdp_run_config</c> BTF, overridable before
/// attach); or a component already loaded into a dispatcher (an extension), as read back from a device.
/// Dispose releases what this object holds (the loaded program's collection and maps); attachments that pins or
/// a dispatcher keep alive stay.
/// </summary>
public sealed class XdpProgram : IDisposable
{
    private readonly ObjectSpec? _spec;
    private readonly ProgramSpec? _programSpec;
    private readonly ElfFile? _elf;
    private BpfCollection? _collection;
    private BpfProgram? _program;
    private uint _priority;
    private XdpChainActions _actions;

    private XdpProgram(ObjectSpec spec, ProgramSpec program, ElfFile? elf)
    {
        _spec = spec;
        _programSpec = program;
        _elf = elf;
        Name = program.Name;
        var config = XdpRunConfig.Read(spec.Btf, program.Name);
        _priority = config.Priority;
        _actions = config.ChainCallActions;
        InstructionCount = program.Instructions.Length;
        SupportsFrags = (program.Flags & ProgramLoadFlags.XdpHasFrags) != 0;
    }

    internal XdpProgram(BpfProgram loaded, uint priority, XdpChainActions actions, bool frags)
    {
        _program = loaded;
        Name = loaded.Name;
        _priority = priority;
        _actions = actions;
        SupportsFrags = frags;
        var info = loaded.GetInfo();
        InstructionCount = (int)(info.XlatedSize / 8);
        Tag = info.Tag;
        LoadTime = info.LoadTime;
    }

    /// <summary>
    /// The XDP program <paramref name="programName"/> (or the first in <paramref name="section"/>, or the object's
    /// first XDP program) of <paramref name="spec"/>, which this object takes over (it is edited at load). ENOENT
    /// when there is no such program, EINVAL when it is not XDP; its run config's errors (EINVAL, ENOTSUP).
    /// </summary>
    public static XdpProgram FromObject(ObjectSpec spec, string? programName = null, string? section = null) =>
        FromObject(spec, programName, section, null);

    /// <summary><see cref="FromObject(ObjectSpec, string?, string?)"/> of a clang-built object file.</summary>
    public static XdpProgram FromFile(string path, string? programName = null, string? section = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var elf = ElfFile.Open(path);
        var spec = ObjectSpec.Parse(elf.Image, path);
        spec.Name = ObjectSpec.ObjectNameFromPath(path);
        return FromObject(spec, programName, section, elf);
    }

    private static XdpProgram FromObject(ObjectSpec spec, string? programName, string? section, ElfFile? elf)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var candidates = spec.Programs.Where(p => (programName is null || p.Name == programName) && (section is null || p.SectionName == section));
        var program = candidates.FirstOrDefault()
            ?? throw new BpfException(Errno.ENOENT, $"{spec.Name}: no program{(programName is null ? "" : $" named {programName}")}{(section is null ? "" : $" in section {section}")}");
        if (program.Type != ProgramType.Xdp)
            throw new BpfException(Errno.EINVAL, $"{spec.Name}: program {program.Name} is {program.Type}, not XDP");
        return new XdpProgram(spec, program, elf);
    }

    /// <summary>The program's name.</summary>
    public string Name { get; }

    /// <summary>Run priority: lower runs first (default 50). Fixed once the program is attached.</summary>
    public uint Priority
    {
        get => _priority;
        set
        {
            ThrowIfAttached();
            _priority = value;
        }
    }

    /// <summary>The actions after which the dispatcher continues to the next program (default XDP_PASS).</summary>
    public XdpChainActions ChainCallActions
    {
        get => _actions;
        set
        {
            ThrowIfAttached();
            _actions = value;
        }
    }

    /// <summary>Whether the program handles multi-buffer frames (BPF_F_XDP_HAS_FRAGS).</summary>
    public bool SupportsFrags { get; }

    /// <summary>The loaded program (an extension in a dispatcher, or the XDP program itself in legacy mode), or null.</summary>
    public BpfProgram? Program => _program;

    /// <summary>Whether it is loaded.</summary>
    public bool IsLoaded => _program is not null;

    /// <summary>The loaded program's id (0 when not loaded).</summary>
    public uint Id => _program?.Id ?? 0;

    /// <summary>The loaded collection (the component's maps), when this object loaded it.</summary>
    public BpfCollection? Collection => _collection;

    /// <summary>Instructions (of the object before load, xlated after).</summary>
    public int InstructionCount { get; }

    /// <summary>The loaded program's tag, or null.</summary>
    public byte[]? Tag { get; private set; }

    /// <summary>When the program was loaded.</summary>
    public DateTimeOffset LoadTime { get; private set; }

    /// <summary>The dispatcher slot the component runs in (<c>prog&lt;N&gt;</c>), or -1.</summary>
    public int Slot { get; internal set; } = -1;

    internal bool Attached { get; set; }

    // Read back from a device by an XdpMultiprog, which disposes it; the caller's own programs stay the caller's.
    internal bool OwnedByMultiprog { get; set; }

    private void ThrowIfAttached()
    {
        if (Attached)
            throw new BpfException(Errno.EBUSY, $"XDP program {Name} is attached; its run config can no longer change");
    }

    /// <summary>
    /// Loads the program as an extension of <paramref name="function"/> in <paramref name="dispatcher"/> (libxdp: type
    /// EXT, expected attach type 0, frags flag dropped, attach target set); null target: as a plain XDP program
    /// (legacy mode, with its own flags).
    /// </summary>
    internal void Load(IBpfBackend backend, BpfProgram? dispatcher, string? function)
    {
        if (_program is not null)
            return;
        if (_spec is null || _programSpec is null)
            throw new BpfException(Errno.EINVAL, $"XDP program {Name} has no object to load from");
        var (type, attachType, attach, flags) = (_programSpec.Type, _programSpec.ExpectedAttachType, _programSpec.AttachTarget, _programSpec.Flags);
        if (dispatcher is not null)
        {
            _programSpec.Type = ProgramType.Ext;
            _programSpec.ExpectedAttachType = null;
            _programSpec.AttachTarget = function;
            _programSpec.Flags &= ~ProgramLoadFlags.XdpHasFrags;
        }
        try
        {
            var collection = BpfCollection.Load(backend, _spec, new ObjectLoadOptions
            {
                ProgramFilter = p => ReferenceEquals(p, _programSpec),
                AttachTarget = dispatcher,
                AttachFunction = function,
                Elf = _elf,
            });
            _collection = collection;
            _program = collection.Programs[_programSpec.Name];
            var info = _program.GetInfo();
            Tag = info.Tag;
            LoadTime = info.LoadTime;
        }
        finally
        {
            (_programSpec.Type, _programSpec.ExpectedAttachType, _programSpec.AttachTarget, _programSpec.Flags) = (type, attachType, attach, flags);
        }
    }

    /// <summary>
    /// libxdp's order (§6.4 step 3): priority, then name, then loaded before not loaded; two unloaded programs by
    /// instruction count; two loaded ones by tag, then load time.
    /// </summary>
    public static int CompareRunOrder(XdpProgram a, XdpProgram b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        int c = a.Priority.CompareTo(b.Priority);
        if (c != 0)
            return c;
        c = string.CompareOrdinal(a.Name, b.Name);
        if (c != 0)
            return c;
        if (a.IsLoaded != b.IsLoaded)
            return a.IsLoaded ? -1 : 1;
        if (!a.IsLoaded)
            return a.InstructionCount.CompareTo(b.InstructionCount);
        c = a.Tag!.AsSpan().SequenceCompareTo(b.Tag!);
        return c != 0 ? c : a.LoadTime.CompareTo(b.LoadTime);
    }

    /// <summary>Releases the collection (or the loaded handle) this object holds.</summary>
    public void Dispose()
    {
        if (_collection is not null)
            _collection.Dispose();
        else
            _program?.Dispose();
        _collection = null;
        _program = null;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} (priority {Priority}, {XdpActionNames.Format(ChainCallActions)})";
}
