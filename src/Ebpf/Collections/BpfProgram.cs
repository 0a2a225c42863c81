using Ebpf.Abi;
using Ebpf.Isa;

namespace Ebpf.Collections;

/// <summary>A live program, the same type on every backend.</summary>
public sealed partial class BpfProgram : BpfHandle
{
    internal BpfProgram(IBpfBackend backend, object native, uint id, ProgramType type, string name, string? verifierLog = null)
        : base(backend, native, id)
    {
        Type = type;
        Name = name;
        VerifierLog = verifierLog;
    }

    /// <summary>The program type.</summary>
    public ProgramType Type { get; }
    /// <summary>The name as the backend stores it (sanitised, at most 15 characters).</summary>
    public string Name { get; }
    /// <summary>The verifier log of the load, when one was requested (null for handles opened later).</summary>
    public string? VerifierLog { get; }

    /// <summary>BPF_OBJ_GET_INFO_BY_FD.</summary>
    public ProgramInfo GetInfo() => Backend.GetInfo(this);

    /// <summary>BPF_PROG_TEST_RUN.</summary>
    public TestRunResult TestRun(TestRunOptions options) => Backend.TestRun(this, options);

    /// <summary>The instructions as the backend runs them (the kernel's xlated program).</summary>
    public Instruction[] GetTranslatedInstructions() => Backend.GetTranslatedInstructions(this);

    /// <summary>BPF_PROG_BIND_MAP: the program keeps the map alive; binding twice is a no-op.</summary>
    public void BindMap(BpfMap map) => Backend.BindMap(this, map);

    /// <summary>
    /// BPF_LINK_CREATE of an iterator program (SEC("iter/TARGET")): the link that BPF_ITER_CREATE opens iterators on;
    /// <paramref name="map"/> is the map a bpf_map_elem iterator walks.
    /// </summary>
    public BpfLink AttachIterator(BpfMap? map = null) => Backend.AttachIterator(this, map);

    /// <summary>A second handle on the same program.</summary>
    public new BpfProgram Duplicate() => (BpfProgram)Backend.Duplicate(this);

    /// <inheritdoc/>
    public override string ToString() => $"{Type} program {Id} ('{Name}')";
}

/// <summary>A live link: a program attached to a hook; disposing the last reference detaches it.</summary>
public sealed partial class BpfLink : BpfHandle
{
    internal BpfLink(IBpfBackend backend, object native, uint id) : base(backend, native, id) { }

    /// <summary>BPF_OBJ_GET_INFO_BY_FD.</summary>
    public LinkInfo GetInfo() => Backend.GetInfo(this);

    /// <summary>BPF_LINK_UPDATE: swaps the program; with <paramref name="expected"/>, only if that one is attached (BPF_F_REPLACE).</summary>
    public void Update(BpfProgram newProgram, BpfProgram? expected = null) => Backend.LinkUpdate(this, newProgram, expected);

    /// <summary>BPF_LINK_DETACH: detaches the program while the link object stays valid.</summary>
    public void Detach() => Backend.LinkDetach(this);

    /// <summary>A second handle on the same link.</summary>
    public new BpfLink Duplicate() => (BpfLink)Backend.Duplicate(this);

    /// <summary>BPF_ITER_CREATE: a new iterator over this iterator link.</summary>
    public BpfIterator CreateIterator() => Backend.CreateIterator(this);
}

/// <summary>A live BTF object (BPF_BTF_LOAD), held by its handles and by the maps and programs that use it.</summary>
public sealed partial class BtfHandle : BpfHandle
{
    internal BtfHandle(IBpfBackend backend, object native, uint id, string? log = null) : base(backend, native, id)
    {
        Log = log;
    }

    /// <summary>The backend's BTF log of the load, when a level was requested.</summary>
    public string? Log { get; }

    /// <summary>BPF_OBJ_GET_INFO_BY_FD.</summary>
    public BtfInfo GetInfo() => Backend.GetInfo(this);

    /// <summary>The raw BTF as loaded.</summary>
    public byte[] GetData() => Backend.GetBtfData(this);

    /// <summary>A second handle on the same BTF object.</summary>
    public new BtfHandle Duplicate() => (BtfHandle)Backend.Duplicate(this);
}
