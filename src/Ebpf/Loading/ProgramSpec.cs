using Ebpf.Abi;
using Ebpf.Isa;

namespace Ebpf.Loading;

/// <summary>
/// One loadable program of an object, after linking: its own instructions followed by every subprogram it reaches,
/// with bpf-to-bpf call and function-pointer immediates fixed. Plain, editable data (like cilium/ebpf's
/// ProgramSpec): change <see cref="Type"/>, <see cref="Instructions"/> or <see cref="License"/> before loading.
/// Map and extern references are not resolved here; they are listed in <see cref="Relocations"/> for the backend.
/// </summary>
public sealed class ProgramSpec
{
    /// <summary>The function symbol's name (or the section name for old objects without function symbols).</summary>
    public required string Name { get; set; }
    /// <summary>The ELF section the program came from (e.g. "xdp", "kprobe/do_sys_open").</summary>
    public required string SectionName { get; set; }
    /// <summary>The program type libbpf derives from the section name.</summary>
    public ProgramType Type { get; set; }
    /// <summary>The expected_attach_type libbpf derives from the section name, when the type needs one.</summary>
    public AttachType? ExpectedAttachType { get; set; }
    /// <summary>The part of the section name after the libbpf prefix (e.g. "syscalls/sys_enter_open"); null when none.</summary>
    public string? AttachTarget { get; set; }
    /// <summary>False for SEC("?...") programs, which libbpf does not load unless asked to.</summary>
    public bool Autoload { get; set; } = true;
    /// <summary>BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS as libbpf derives them from the section name.</summary>
    public ProgramLoadFlags Flags { get; set; }
    /// <summary>prog_ifindex (bpf_program__set_ifindex): with <see cref="ProgramLoadFlags.XdpDevBoundOnly"/> the XDP program
    /// is bound to that device (its metadata kfuncs); 0 binds nothing.</summary>
    public int Ifindex { get; set; }
    /// <summary>True when the section name matched libbpf's table; false when the type came from the legacy fallback.</summary>
    public bool SectionKnown { get; set; }
    /// <summary>The linked instructions: the program followed by the subprograms it calls.</summary>
    public Instruction[] Instructions { get; set; } = [];
    /// <summary>The functions making up the linked program: entry 0 is the program itself, the rest the appended subprograms.</summary>
    public List<LinkedFunction> Functions { get; set; } = [];
    /// <summary>The appended subprograms (every function but the entry).</summary>
    public IEnumerable<LinkedFunction> Subprograms => Functions.Skip(1);
    /// <summary>The map, data, extern and kfunc references a backend resolves at load.</summary>
    public List<ProgramRelocation> Relocations { get; set; } = [];
    /// <summary>func_info rebased to instruction indices of the linked program (empty without .BTF.ext).</summary>
    public List<ProgramFuncInfo> FuncInfos { get; set; } = [];
    /// <summary>line_info rebased to instruction indices of the linked program (empty without .BTF.ext).</summary>
    public List<ProgramLineInfo> LineInfos { get; set; } = [];
    /// <summary>CO-RE relocation records rebased to the linked program, for the CO-RE engine to apply.</summary>
    public List<ProgramCoreRelocation> CoreRelocations { get; set; } = [];
    /// <summary>The object's license string (the kernel gates GPL-only helpers on it).</summary>
    public string License { get; set; } = "";
    /// <summary>The object's kernel version (kprobe programs on old kernels checked it).</summary>
    public uint KernelVersion { get; set; }

    /// <summary>
    /// Throws the loader error a libbpf-compatible loader gives this program when a relocation names an undefined
    /// symbol the object never declared as an extern (e.g. a call to <c>memset</c> that clang could not inline).
    /// Backends call this before loading; the rest of the object stays usable.
    /// </summary>
    public void EnsureResolved()
    {
        foreach (var r in Relocations)
        {
            if (r.Kind == ProgramRelocationKind.Unresolved)
                throw new BpfException(Errno.ENOENT,
                    $"relocation against undefined symbol '{r.Symbol}' at insn {r.InstructionIndex} of program {Name}");
        }
    }

    /// <summary>Undefined symbols this program references (empty when it can load).</summary>
    public IEnumerable<string> UnresolvedSymbols =>
        Relocations.Where(r => r.Kind == ProgramRelocationKind.Unresolved).Select(r => r.Symbol).Distinct();

    /// <summary>Name, section, type and length, for diagnostics.</summary>
    public override string ToString() => $"{Name} ({SectionName}, {Type}, {Instructions.Length} insns)";
}

/// <summary>Program load flags libbpf sets from section names (uapi BPF_F_*).</summary>
[Flags]
public enum ProgramLoadFlags : uint
{
    /// <summary>No flags.</summary>
    None = 0,
    /// <summary><c>BPF_F_SLEEPABLE</c>: the program may sleep (".s" sections).</summary>
    Sleepable = 1u << 4,
    /// <summary><c>BPF_F_XDP_HAS_FRAGS</c>: the XDP program handles multi-buffer frames ("xdp.frags").</summary>
    XdpHasFrags = 1u << 5,
    /// <summary><c>BPF_F_XDP_DEV_BOUND_ONLY</c>: the XDP program is bound to the device of prog_ifindex (metadata kfuncs).</summary>
    XdpDevBoundOnly = 1u << 6,
}

/// <summary>A function placed in a linked program: where it starts and how long it is.</summary>
public sealed record LinkedFunction(string Name, string SectionName, int Offset, int Length, bool IsGlobal);

/// <summary>What a relocation still to be applied at load time refers to.</summary>
public enum ProgramRelocationKind
{
    /// <summary>lddw src=1: the fd (or address) of <see cref="ProgramRelocation.MapName"/>.</summary>
    MapReference,
    /// <summary>lddw src=2: the address of <see cref="ProgramRelocation.MapName"/>'s value at <see cref="ProgramRelocation.Offset"/> (global data).</summary>
    MapValue,
    /// <summary>lddw of a .kconfig extern: value address in the .kconfig map at <see cref="ProgramRelocation.Offset"/>.</summary>
    KconfigExtern,
    /// <summary>lddw of a __ksym variable: becomes src=3 (BTF id) once the kernel symbol is resolved.</summary>
    KsymVariable,
    /// <summary>call of a __ksym function: becomes src=2 (kfunc) with the resolved BTF id.</summary>
    KfuncCall,
    /// <summary>A reference to an undefined symbol the object does not declare as an extern: the program cannot load.</summary>
    Unresolved,
}

/// <summary>
/// One reference the backend must patch at load: instruction index in the linked program, the symbol, and the map it
/// names (for map and data references) or the extern. The instruction already carries the "map index" encoding
/// (lddw src=5 / src=6 with imm = map index in <see cref="ObjectSpec.Maps"/>, second imm = value offset).
/// </summary>
public sealed record ProgramRelocation(int InstructionIndex, ProgramRelocationKind Kind, string Symbol, string? MapName, uint Offset);

/// <summary>func_info record of a linked program: the BTF FUNC type of the function starting at an instruction.</summary>
public sealed record ProgramFuncInfo(int InstructionIndex, uint TypeId);

/// <summary>line_info record of a linked program, with its strings resolved from the object's BTF.</summary>
public sealed record ProgramLineInfo(int InstructionIndex, uint FileNameOffset, uint LineOffset, uint Line, uint Column,
    string FileName, string LineText);

/// <summary>bpf_core_relo record of a linked program (kept for the CO-RE engine).</summary>
public sealed record ProgramCoreRelocation(int InstructionIndex, uint TypeId, uint AccessStringOffset, string AccessString, Ebpf.Btf.BtfCoreReloKind Kind);
