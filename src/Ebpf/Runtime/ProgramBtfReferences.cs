using Ebpf.Abi;
using Ebpf.Btf;
using Ebpf.Collections;
using Ebpf.Execution;
using Ebpf.Isa;
using Ebpf.Runtime.Objects;

namespace Ebpf.Runtime;

/// <summary>
/// The kernel BTF objects and modules one program holds (the verifier's used_btfs, resolved at load like map fds,
/// kernel-semantics.md §4.9): module BTFs named through the load's fd_array by __ksym lddw's (BPF_PSEUDO_BTF_ID),
/// kfunc calls (off) and the btf_ptr extension's lddw (<see cref="BtfObjectReference"/>). ksyms and kfuncs also hold
/// their module (it cannot unload under the program); a btf_ptr reference holds only the BTF object, which outlives a
/// module unload while the program lives.
/// </summary>
internal sealed class ProgramBtfReferences
{
    /// <summary>Module kfuncs become calls to these helper ids in the program's own helper table.</summary>
    internal const int KfuncHelperBase = 0xF000;

    private const string InvalidFd = "invalid module BTF object FD specified.";

    private readonly List<BtfObject> _usedBtfs = []; // slot = index + 1
    private readonly List<KernelModule> _modules = [];
    private readonly Dictionary<int, Btf.BtfSpec> _moduleBtfsByFd = [];
    private readonly Dictionary<int, Verification.KernelFunction> _kfuncsByInsn = [];
    private readonly Dictionary<(short Slot, int Id), Verification.KernelFunction> _kfuncsBySlot = [];
    private readonly List<(int Pc, KernelModule Module, ModuleKfunc Kfunc)> _kfuncCalls = [];
    private readonly List<(nint Address, int Size, string Name)> _variables = [];
    private readonly List<(nint Address, int Stride, int Instances)> _percpu = [];
    private int _released;

    /// <summary>Module BTFs by the fd (fd_array index) the instructions use: what the verifier checks ksym ids against.</summary>
    public IReadOnlyDictionary<int, Btf.BtfSpec> ModuleBtfsByFd => _moduleBtfsByFd;

    /// <summary>Module kfunc calls by instruction index, with the host's flags.</summary>
    public IReadOnlyDictionary<int, Verification.KernelFunction> KfuncsByInstruction => _kfuncsByInsn;

    /// <summary>Module variables the program's ksyms point to (regions a checked run may read and write).</summary>
    public IReadOnlyList<(nint Address, int Size, string Name)> Variables => _variables;

    /// <summary>The BTF object in slot <paramref name="slot"/> (1-based, as the btf_ptr extension's upper half), or null.</summary>
    public BtfObject? UsedBtf(uint slot) => slot >= 1 && slot <= (uint)_usedBtfs.Count ? _usedBtfs[(int)slot - 1] : null;

    /// <summary>
    /// Resolves every BTF object reference of <paramref name="definition"/> against <paramref name="fdArray"/> before
    /// verification, taking the references the program will hold, and returns the definition with the btf_ptr
    /// extension's lddw's turned into plain constants. EINVAL with the kernel's message for a bad fd.
    /// </summary>
    public ProgramDefinition Resolve(BpfRuntime runtime, ProgramDefinition definition, IReadOnlyList<BtfHandle?>? fdArray)
    {
        Instruction[]? rewritten = null;
        var insns = definition.Instructions;
        for (int pc = 0; pc < insns.Count; pc++)
        {
            var insn = insns[pc];
            if (insn.IsLoadImm64 && pc + 1 < insns.Count)
            {
                var second = insns[pc + 1];
                if (insn.Src == BtfObjectReference.PseudoBtfObject)
                {
                    var btf = KernelBtfAt(runtime, fdArray, second.Imm, pc);
                    if (insn.Imm <= 0 || !btf.Parsed.TryGetType((uint)insn.Imm, out _))
                        throw Refuse(Errno.ENOENT, $"ldimm64 insn specifies invalid btf_id {insn.Imm}.", pc);
                    int slot = AddBtf(btf);
                    rewritten ??= [.. insns];
                    rewritten[pc] = insn.WithSrc(0);
                    rewritten[pc + 1] = second.WithImm(slot); // (slot << 32) | type id
                }
                else if (insn.Src == (byte)LoadImm64Source.BtfId && second.Imm != 0)
                {
                    var btf = KernelBtfAt(runtime, fdArray, second.Imm, pc);
                    var module = HoldModule(runtime, btf, pc);
                    AddBtf(btf);
                    _moduleBtfsByFd[second.Imm] = module.Btf;
                    // An untyped ksym (extern const void x __ksym) is an address, not a typed pointer: libbpf loads
                    // it as a plain constant from kallsyms. Here the module variable's storage is its address.
                    if (insn.Imm > 0 && module.Btf.TryGetType((uint)insn.Imm, out var vt) && vt is BtfVar v
                        && module.Btf.SkipTypedefs(v.Type) == 0 && module.TryGetVariableAddress(v.Name, out nint address, out _))
                    {
                        rewritten ??= [.. insns];
                        rewritten[pc] = insn.WithSrc(0).WithImm((int)(uint)(ulong)address);
                        rewritten[pc + 1] = second.WithImm((int)(uint)((ulong)address >> 32));
                    }
                }
                pc++;
                continue;
            }
            if (insn.IsCall && insn.Src == (byte)CallSource.Kfunc && insn.Offset != 0)
            {
                // add_kfunc_call / __find_kfunc_desc_btf, in the kernel's order.
                if (insn.Offset < 0)
                    throw Refuse(Errno.EINVAL, "negative offset disallowed for kernel module function call", pc);
                if (fdArray is null)
                    throw Refuse(Errno.EPROTO, "kfunc offset > 0 without fd_array is invalid", pc);
                if (insn.Offset >= fdArray.Count || fdArray[insn.Offset] is not { IsClosed: false, Native: BtfObject btf })
                    throw Refuse(Errno.EBADF, "invalid module BTF fd specified", pc);
                if (btf.Runtime != runtime || !btf.IsKernel || btf.Name == "vmlinux")
                    throw Refuse(Errno.EINVAL, "BTF fd for kfunc is not a module BTF", pc);
                var module = HoldModule(runtime, btf, pc);
                AddBtf(btf);
                if (insn.Imm <= 0 || !module.Btf.TryGetType((uint)insn.Imm, out var t) || t is not BtfFunc func)
                    throw Refuse(Errno.EINVAL, $"kernel btf_id {insn.Imm} is not a function", pc);
                if (!module.Kfuncs.TryGetValue(func.Name, out var kfunc))
                    throw Refuse(Errno.ENOTSUPP, $"kfunc {func.Name} of module {module.Name} has no host implementation in this runtime", pc);
                var resolved = Verification.KernelFunctions.FromBtf(module.Btf, (uint)insn.Imm, kfunc.Flags)
                    ?? throw Refuse(Errno.EINVAL, $"kfunc {func.Name} of module {module.Name} has no FUNC_PROTO", pc);
                _kfuncsByInsn[pc] = resolved with { ProgramTypes = kfunc.ProgramTypes };
                _kfuncsBySlot[(insn.Offset, insn.Imm)] = _kfuncsByInsn[pc];
            }
        }
        return rewritten is null ? definition : definition with { Instructions = rewritten };
    }

    /// <summary>
    /// After verification: module kfunc calls become calls of the program's own helper ids, module ksym lddw's load
    /// the variable's address (a per-CPU variable's: CPU 0's instance, the base bpf_per_cpu_ptr offsets), and an lddw of
    /// a kfunc (bpf_ksym_exists) a stand-in kernel text address no access may go through (the verifier gave it
    /// PTR_TO_MEM of size 0). A vmlinux variable has no storage here and is refused.
    /// </summary>
    public Instruction[] Bind(Instruction[] insns, string program, Btf.BtfSpec? vmlinux = null)
    {
        for (int pc = 0; pc < insns.Length; pc++)
        {
            var insn = insns[pc];
            if (insn.IsLoadImm64 && pc + 1 < insns.Length)
            {
                if (insn.Src == (byte)LoadImm64Source.BtfId)
                {
                    int fd = insns[pc + 1].Imm;
                    ulong value;
                    if (fd == 0 || !_moduleBtfsByFd.TryGetValue(fd, out var btf))
                    {
                        if (vmlinux is null || insn.Imm <= 0 || !vmlinux.TryGetType((uint)insn.Imm, out var vt) || vt is not BtfFunc)
                            throw new BpfException(Errno.ENOTSUPP, $"program {program}: insn {pc}: ksym btf_id {insn.Imm} is a vmlinux symbol; the managed runtime has no kernel variables (module variables only)");
                        value = KernelFunctionAddress(0, (uint)insn.Imm);
                    }
                    else
                    {
                        var module = _modules.First(m => ReferenceEquals(m.Btf, btf));
                        var t = btf.GetType((uint)insn.Imm);
                        if (t is BtfFunc)
                            value = KernelFunctionAddress(module.BtfObject.Id, (uint)insn.Imm);
                        else if (t is BtfVar && module.TryGetVariable(t.Name, out var block))
                        {
                            value = (ulong)block.Address;
                            if (!_variables.Any(v => v.Address == block.Address))
                                _variables.Add((block.Address, block.TotalLength, module.Name + ":" + t.Name));
                            if (block.Instances > 1 && !_percpu.Any(p => p.Address == block.Address))
                                _percpu.Add((block.Address, block.Stride, block.Instances));
                        }
                        else
                            throw new BpfException(Errno.ENOTSUPP, $"program {program}: insn {pc}: ksym {t.Name} of module {module.Name} has no storage in this runtime");
                    }
                    insns[pc] = insn.WithSrc(0).WithImm((int)(uint)value);
                    insns[pc + 1] = insns[pc + 1].WithImm((int)(uint)(value >> 32));
                }
                pc++;
                continue;
            }
            // By (slot, id), not by index: the verifier's translation removes dead code and patches, moving calls.
            if (insn.IsCall && insn.Src == (byte)CallSource.Kfunc && insn.Offset != 0 && _kfuncsBySlot.TryGetValue((insn.Offset, insn.Imm), out var kf))
            {
                var module = _modules.First(m => ReferenceEquals(m.Btf, kf.Btf));
                int id = KfuncHelperBase + _kfuncCalls.Count;
                _kfuncCalls.Add((pc, module, module.Kfuncs[kf.Name]));
                insns[pc] = new Instruction(insn.Opcode, 0, 0, 0, id);
            }
        }
        return insns;
    }

    /// <summary>
    /// The stand-in address of a kernel function (bpf_ksym_exists' value): non-zero, in the kernel's text range, distinct
    /// per function, and no memory of this process (nothing is registered there, so a probe read of it faults).
    /// </summary>
    internal static ulong KernelFunctionAddress(uint btfObjectId, uint typeId) =>
        btfObjectId == 0 ? 0xffffffff81000000UL + ((ulong)typeId << 4) : 0xffffffffa0000000UL + ((ulong)btfObjectId << 24) + ((ulong)typeId << 4);

    /// <summary>
    /// bpf_per_cpu_ptr's address arithmetic: the instance of CPU <paramref name="cpu"/> of the per-CPU variable whose
    /// base the program loaded, or 0 (NULL) for a CPU past the possible ones or an address that is no such base.
    /// </summary>
    public ulong PerCpuInstance(ulong baseAddress, ulong cpu)
    {
        foreach (var (address, stride, instances) in _percpu)
        {
            if ((ulong)address == baseAddress)
                return cpu < (ulong)instances ? baseAddress + cpu * (ulong)stride : 0;
        }
        return 0;
    }

    /// <summary>Adds the bound module kfuncs to the program's helper table.</summary>
    public void RegisterKfuncs(HelperTable table)
    {
        for (int i = 0; i < _kfuncCalls.Count; i++)
            table.Register(KfuncHelperBase + i, _kfuncCalls[i].Kfunc.Implementation, _kfuncCalls[i].Module.Name + ":" + _kfuncCalls[i].Kfunc.Name);
    }

    /// <summary>Drops every reference (the program was freed or never published).</summary>
    public void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0)
            return;
        foreach (var m in _modules)
            m.Put();
        foreach (var b in _usedBtfs)
            b.Release();
    }

    private int AddBtf(BtfObject btf)
    {
        int at = _usedBtfs.IndexOf(btf);
        if (at >= 0)
            return at + 1;
        btf.Acquire();
        _usedBtfs.Add(btf);
        return _usedBtfs.Count;
    }

    private KernelModule HoldModule(BpfRuntime runtime, BtfObject btf, int pc)
    {
        var module = runtime.Modules.FindByBtf(btf);
        if (module is null || !module.TryGet())
            throw Refuse(Errno.ENXIO, $"module of BTF '{btf.Name}' is not loaded", pc);
        if (_modules.Contains(module))
            module.Put();
        else
            _modules.Add(module);
        return module;
    }

    /// <summary>btf_get_by_fd for an lddw's fd: a live kernel BTF of this runtime, else the kernel's EINVAL.</summary>
    private static BtfObject KernelBtfAt(BpfRuntime runtime, IReadOnlyList<BtfHandle?>? fdArray, int fd, int pc)
    {
        if (fd <= 0 || fdArray is null || fd >= fdArray.Count || fdArray[fd] is not { IsClosed: false, Native: BtfObject btf })
            throw Refuse(Errno.EINVAL, InvalidFd, pc);
        if (btf.Runtime != runtime || btf.IsFreed)
            throw Refuse(Errno.EINVAL, InvalidFd, pc);
        if (!btf.IsKernel)
            throw Refuse(Errno.EINVAL, $"btf_fd={fd} is not a kernel BTF", pc);
        return btf;
    }

    private static BpfException Refuse(Errno errno, string message, int pc) =>
        new(errno, $"insn {pc}: {message}") { Log = message + "\n" };
}
