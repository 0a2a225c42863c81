using Ebpf.Abi;
using Ebpf.Collections;
using Ebpf.Execution;
using Ebpf.Btf;
using Ebpf.Runtime.Objects;

namespace Ebpf.Runtime;

/// <summary>A kfunc a host module provides: its FUNC in the module's BTF (by name) and the host code that runs it.</summary>
/// <param name="Name">The FUNC's name in the module's BTF; its FUNC_PROTO is what the verifier checks calls against.</param>
/// <param name="Implementation">Called with R1–R5 as the kfunc's arguments; returns R0.</param>
/// <param name="Flags">The KF_* flags (acquire, release, return-NULL, sleepable) the kernel keeps in the kfunc's id set.</param>
/// <param name="ProgramTypes">The program types the kfunc's id set is registered for (register_btf_kfunc_id_set, one
/// call per type); null, or <see cref="ProgramType.Unspec"/> among them, registers it for every type. Types share the
/// kernel's hooks (tracing with tracepoint, raw_tracepoint, perf_event and lsm; the cgroup types with sock_ops; the lwt
/// types). A call from a program of another type is refused: "calling kernel function %s is not allowed", EACCES.</param>
public sealed record ModuleKfunc(string Name, HelperFunction Implementation, Verification.KernelFunctionFlags Flags = Verification.KernelFunctionFlags.None,
    IReadOnlyList<ProgramType>? ProgramTypes = null);

/// <summary>
/// A "kernel module" of a managed runtime: a name, its split BTF on top of the runtime's vmlinux BTF (published as a
/// kernel BTF object, as the kernel does at MODULE_STATE_COMING), the kfuncs the host implements for it and storage
/// for the variables its BTF declares (what __ksym externs in the module point to).
/// </summary>
public sealed class KernelModule
{
    private readonly Dictionary<string, ModuleKfunc> _kfuncs;
    private readonly Dictionary<string, ModuleVariable> _variables = new(StringComparer.Ordinal);
    private int _users; // programs holding the module (ksyms, kfuncs): try_module_get
    private bool _unloaded;
    private readonly Lock _lock = new();

    private readonly List<IDisposable> _readable = [];

    internal KernelModule(string name, BtfObject btf, Btf.BtfSpec spec, IEnumerable<ModuleKfunc> kfuncs)
    {
        Name = name;
        BtfObject = btf;
        Btf = spec;
        _kfuncs = new Dictionary<string, ModuleKfunc>(StringComparer.Ordinal);
        foreach (var k in kfuncs)
        {
            if (!spec.TryFindByName(k.Name, Ebpf.Btf.BtfKind.Func, out var f) || f.Id < spec.FirstTypeId)
                throw new BpfException(Errno.EINVAL, $"module '{name}': kfunc '{k.Name}' is not a FUNC of the module's BTF");
            // btf_populate_kfunc_set: a type without a kfunc hook (BTF_KFUNC_HOOK_MAX) is refused.
            foreach (var type in k.ProgramTypes ?? [])
            {
                if (Verification.KfuncHooks.Hook(type) is null)
                    throw new BpfException(Errno.EINVAL, $"module '{name}': kfunc '{k.Name}' cannot be registered for program type {type} (the kernel has no kfunc hook for it)");
            }
            if (!_kfuncs.TryAdd(k.Name, k))
                throw new BpfException(Errno.EEXIST, $"module '{name}': kfunc '{k.Name}' registered twice");
        }
        // Every VAR the module's own BTF declares gets zeroed storage, as the module's .data/.bss would be; a VAR of
        // its .data..percpu DATASEC one instance per possible CPU, as the kernel's per-CPU areas.
        for (uint id = spec.FirstTypeId; id <= spec.MaxTypeId; id++)
        {
            if (spec.GetType(id) is Ebpf.Btf.BtfVar v && !_variables.ContainsKey(v.Name))
            {
                int size = Math.Max(8, (int)BtfObjectPrinter.SizeOrZero(spec, v.Type)); // untyped (void) ones too
                _variables[v.Name] = new ModuleVariable(size, Verification.KsymRegisters.IsPercpu(spec, id) ? Maps.BpfCpu.PossibleCount : 1);
            }
        }
        // Module memory is kernel memory: bpf_probe_read_kernel may read it (untyped ksyms are plain addresses).
        foreach (var block in _variables.Values)
            _readable.Add(btf.Runtime.ReadableMemory.Register(block.Address, (nuint)block.TotalLength, Helpers.AddressSpace.Kernel));
    }

    /// <summary>The module's name (its BTF object's name).</summary>
    public string Name { get; }
    /// <summary>The module's split BTF, parsed on top of the runtime's vmlinux BTF.</summary>
    public Btf.BtfSpec Btf { get; }
    /// <summary>The kernel BTF object (BPF_BTF_GET_NEXT_ID lists it while the module is loaded).</summary>
    public BtfObject BtfObject { get; }
    /// <summary>The kfuncs the host implements for this module, by name.</summary>
    public IReadOnlyDictionary<string, ModuleKfunc> Kfuncs => _kfuncs;
    /// <summary>False once unloaded.</summary>
    public bool IsLoaded { get { lock (_lock) return !_unloaded; } }
    /// <summary>Programs currently holding the module (its ksyms or kfuncs): the module cannot unload while any do.</summary>
    public int Users { get { lock (_lock) return _users; } }

    /// <summary>The storage of the module variable <paramref name="name"/> (a VAR of its BTF), for the host to read or
    /// fill; for a per-CPU variable, CPU 0's instance.</summary>
    public Span<byte> Variable(string name) => Variable(name, 0);

    /// <summary>CPU <paramref name="cpu"/>'s instance of the per-CPU module variable <paramref name="name"/> (a VAR of
    /// the module's <c>.data..percpu</c>); a variable that is not per-CPU has one instance, CPU 0's. ENOENT for an unknown
    /// name, ERANGE for a CPU it has no instance for.</summary>
    public Span<byte> Variable(string name, int cpu)
    {
        if (!_variables.TryGetValue(name, out var block))
            throw new BpfException(Errno.ENOENT, $"module '{Name}' has no variable '{name}'");
        if ((uint)cpu >= (uint)block.Instances)
            throw new BpfException(Errno.ERANGE, $"module '{Name}': variable '{name}' has {block.Instances} instance(s), none for CPU {cpu}");
        return block.Span.Slice(cpu * block.Stride, block.Length);
    }

    /// <summary>Whether <paramref name="name"/> is a per-CPU variable (one instance per possible CPU).</summary>
    public bool IsPerCpuVariable(string name) => _variables.TryGetValue(name, out var block) && block.Instances > 1;

    internal bool TryGetVariable(string name, out ModuleVariable block) => _variables.TryGetValue(name, out block!);

    internal bool TryGetVariableAddress(string name, out nint address, out int size)
    {
        if (_variables.TryGetValue(name, out var block))
        {
            address = block.Address;
            size = block.TotalLength;
            return true;
        }
        address = 0;
        size = 0;
        return false;
    }

    internal IEnumerable<ModuleVariable> VariableBlocks => _variables.Values;

    /// <summary>btf_try_get_module: a reference for a program, refused once the module is going.</summary>
    internal bool TryGet()
    {
        lock (_lock)
        {
            if (_unloaded)
                return false;
            _users++;
            return true;
        }
    }

    internal void Put()
    {
        lock (_lock)
            _users--;
    }

    /// <summary>Marks the module gone; EBUSY while a program holds it (rmmod of a module in use).</summary>
    internal void BeginUnload()
    {
        lock (_lock)
        {
            if (_users > 0)
                throw new BpfException(Errno.EBUSY, $"module '{Name}' is in use by {_users} program(s) (its ksyms or kfuncs)");
            _unloaded = true;
        }
    }

    internal void FreeVariables()
    {
        foreach (var r in _readable)
            r.Dispose();
        foreach (var block in _variables.Values)
            block.Dispose();
    }
}

/// <summary>
/// Zeroed native storage of one module variable (its address is what a __ksym lddw loads): one instance, or one per
/// possible CPU for a per-CPU variable, <see cref="Stride"/> bytes apart (bpf_per_cpu_ptr adds cpu * stride).
/// </summary>
internal sealed unsafe class ModuleVariable : IDisposable
{
    private byte* _p;

    public ModuleVariable(int length, int instances)
    {
        Length = length;
        Instances = instances;
        Stride = (length + 7) & ~7;
        _p = (byte*)System.Runtime.InteropServices.NativeMemory.AllocZeroed((nuint)TotalLength);
    }

    /// <summary>Bytes of one instance.</summary>
    public int Length { get; }
    /// <summary>1, or the possible CPUs for a per-CPU variable.</summary>
    public int Instances { get; }
    /// <summary>Bytes from one CPU's instance to the next.</summary>
    public int Stride { get; }
    public int TotalLength => Stride * (Instances - 1) + Length;
    public nint Address => (nint)_p;
    public Span<byte> Span => _p is null ? throw new ObjectDisposedException("module variable") : new(_p, TotalLength);

    public void Dispose()
    {
        var p = _p;
        _p = null;
        if (p is not null)
            System.Runtime.InteropServices.NativeMemory.Free(p);
    }
}

/// <summary>
/// The modules loaded into a managed runtime (kernel-semantics.md §4.9): each one's split BTF is a kernel BTF object
/// named after it; CO-RE relocations search them after vmlinux, __ksym externs and kfunc calls resolve into them. An
/// unload removes the BTF id at once (BTF_GET_NEXT_ID and GET_FD_BY_ID no longer find it) while the BTF object
/// lives as long as something holds it (a program's reference, an open handle).
/// </summary>
public sealed class KernelModules
{
    /// <summary>MODULE_NAME_LEN - 1.</summary>
    public const int MaxNameLength = 55;

    private readonly BpfRuntime _runtime;
    private readonly Lock _lock = new();
    private readonly List<KernelModule> _loaded = [];

    internal KernelModules(BpfRuntime runtime)
    {
        _runtime = runtime;
    }

    /// <summary>The loaded modules, in load order.</summary>
    public IReadOnlyList<KernelModule> Loaded
    {
        get { lock (_lock) return _loaded.ToArray(); }
    }

    /// <summary>The loaded module named <paramref name="name"/>, or null.</summary>
    public KernelModule? Find(string name)
    {
        lock (_lock) return _loaded.FirstOrDefault(m => m.Name == name);
    }

    /// <summary>
    /// Loads a module: <paramref name="splitBtf"/> is raw split BTF whose base is the runtime's vmlinux BTF (pahole -J
    /// --btf_base vmlinux, or <see cref="Btf.BtfBuilder"/> over the vmlinux spec); <paramref name="kfuncs"/> are the
    /// FUNCs of it the host implements. EEXIST for a loaded name, EINVAL for a bad name or BTF.
    /// </summary>
    public KernelModule Load(string name, ReadOnlyMemory<byte> splitBtf, IEnumerable<ModuleKfunc>? kfuncs = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0 || name.Length > MaxNameLength || name == "vmlinux" || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '_' or '-')))
            throw new BpfException(Errno.EINVAL, $"module name '{name}' is not a module name (1..{MaxNameLength} of [A-Za-z0-9_-], not vmlinux)");
        var vmlinux = _runtime.Vmlinux;
        Btf.BtfSpec spec;
        try
        {
            spec = Btf.BtfSpec.Parse(splitBtf, vmlinux);
            Btf.BtfValidator.Validate(spec);
        }
        catch (BpfException e)
        {
            throw new BpfException(Errno.EINVAL, $"module '{name}': its BTF is not split BTF on top of this runtime's vmlinux: {e.Message}", e);
        }
        lock (_lock)
        {
            if (_loaded.Any(m => m.Name == name))
                throw new BpfException(Errno.EEXIST, $"module '{name}' is already loaded");
            // The creator's reference is the module's own (the kernel's module->btf), dropped at unload.
            var btf = _runtime.PublishKernelBtf(splitBtf, name, spec);
            KernelModule module;
            try
            {
                module = new KernelModule(name, btf, spec, kfuncs ?? []);
            }
            catch
            {
                btf.Release();
                throw;
            }
            _loaded.Add(module);
            return module;
        }
    }

    /// <summary>
    /// Unloads a module (MODULE_STATE_GOING): its BTF id disappears at once; the BTF object is freed when the last
    /// holder (a program using one of its types through a btf_ptr, an open handle) lets go. EBUSY while a program
    /// uses its ksyms or kfuncs (they hold the module itself); ENOENT when no such module is loaded.
    /// </summary>
    public void Unload(string name)
    {
        KernelModule module;
        lock (_lock)
        {
            module = _loaded.FirstOrDefault(m => m.Name == name)
                ?? throw new BpfException(Errno.ENOENT, $"no module '{name}' is loaded");
            module.BeginUnload();
            _loaded.Remove(module);
        }
        _runtime.Unpublish(module.BtfObject);
        module.FreeVariables();
        module.BtfObject.Release();
    }

    /// <summary>The loaded module whose BTF object is <paramref name="btf"/>, or null.</summary>
    internal KernelModule? FindByBtf(BtfObject btf)
    {
        lock (_lock) return _loaded.FirstOrDefault(m => ReferenceEquals(m.BtfObject, btf));
    }

    /// <summary>CO-RE targets of the loaded modules (libbpf's load_module_btfs, in id order).</summary>
    internal IReadOnlyList<CoRe.CoreTargetBtf> CoreTargets()
    {
        lock (_lock)
            return _loaded.OrderBy(m => m.BtfObject.Id).Select(m => new CoRe.CoreTargetBtf(m.Name, m.Btf)).ToArray();
    }
}
