using Ebpf.Abi;
using Ebpf.Btf;

namespace Ebpf.Loading;

/// <summary>
/// libbpf's <c>__arg_ctx</c> fallback for kernels without native <c>arg:ctx</c> support (before 6.8;
/// bpf_program_fixup_func_info, kernel-semantics.md §3.8). For every program being loaded, each global subprogram of
/// that program whose parameter carries an <c>arg:ctx</c> decl tag and is not already of the canonical context type
/// gets a clone of its FUNC and FUNC_PROTO, appended to the object's BTF, whose parameter points to an empty
/// <c>STRUCT &lt;ctx&gt;</c> (size 0, no members) through a PTR; the program's func_info record then names the clone,
/// and the kernel's implicit context recognition does the rest. The original FUNC stays untouched, because other
/// programs (possibly of other types) share the subprogram: each program gets its own clone.
/// </summary>
/// <remarks>
/// One instance per object load: the BTF grows as programs are fixed up, in load order, exactly as libbpf appends to
/// <c>obj->btf</c> (so type ids match libbpf's). Types are appended in libbpf's order: FUNC_PROTO, FUNC, then (once
/// per program) STRUCT and PTR, then the cloned DECL_TAG.
/// </remarks>
internal sealed class ArgCtxFallback
{
    private const string CtxTag = "arg:ctx";
    private readonly List<BtfType> _types;
    private readonly uint _firstId;

    public ArgCtxFallback(Btf.BtfSpec btf)
    {
        _types = [.. btf.Types];
        _firstId = btf.FirstTypeId;
        Original = btf;
    }

    /// <summary>The object's BTF before any fix-up.</summary>
    public Btf.BtfSpec Original { get; }

    /// <summary>Whether any program needed a clone (the BTF to load is then <see cref="Build"/>'s).</summary>
    public bool Changed { get; private set; }

    /// <summary>
    /// libbpf's global_ctx_map: the named context struct a program type's global subprograms must take; null for the
    /// types whose context has no name (tracing, LSM, struct_ops, syscall, tracepoint …), which get no fallback.
    /// </summary>
    public static string? ContextName(ProgramType type) =>
        type == ProgramType.Kprobe ? "bpf_user_pt_regs_t" : Abi.Contexts.ContextTypeNames.Canonical(type);

    private BtfType TypeAt(uint id) => id == 0 || id < _firstId || id - _firstId >= _types.Count ? BtfVoid.Instance : _types[(int)(id - _firstId)];

    private uint Add(BtfType type)
    {
        _types.Add(type);
        Changed = true;
        return _firstId + (uint)_types.Count - 1;
    }

    /// <summary>
    /// Fixes up one program: <paramref name="funcInfoTypeIds"/> are its func_info records' FUNC ids (main program
    /// first); the result is the ids to send (clones where a parameter was rewritten). Warnings use libbpf's text.
    /// </summary>
    public uint[] FixupProgram(string programName, ProgramType type, IReadOnlyList<uint> funcInfoTypeIds, Action<string>? warn)
    {
        var records = funcInfoTypeIds.ToArray();
        string? ctxName = ContextName(type);
        if (ctxName is null || records.Length == 0)
            return records;
        var originalIds = funcInfoTypeIds.ToArray();
        uint ptrId = 0;
        // Only the types that existed when this program's pass began (libbpf fixes the loop bound once).
        int count = _types.Count;
        for (int i = 0; i < count; i++)
        {
            if (_types[i] is not BtfDeclTag { Value: CtxTag } tag)
                continue;
            uint origFnId = tag.Type;
            if (TypeAt(origFnId) is not BtfFunc { Linkage: BtfFuncLinkage.Global } fn)
                continue;
            if (TypeAt(fn.ProtoType) is not BtfFuncProto proto)
                continue;
            int rec = Array.IndexOf(originalIds, origFnId);
            if (rec < 0)
                continue; // this program does not call the subprogram
            int argIdx = tag.ComponentIndex;
            if (argIdx < 0 || argIdx >= proto.Parameters.Count)
                continue;
            if (!NeedsFixup(type, programName, fn.Name.Length > 0 ? fn.Name : "<anon>", argIdx, proto.Parameters[argIdx].Type, ctxName, warn))
                continue;
            if (records[rec] == origFnId)
                records[rec] = CloneFunc(fn, proto);
            if (ptrId == 0)
            {
                uint structId = Add(new BtfStruct(ctxName, 0, []));
                ptrId = Add(new BtfPtr(structId));
            }
            Add(new BtfDeclTag(CtxTag, records[rec], argIdx));
            var clone = (BtfFunc)TypeAt(records[rec]);
            var cloneProto = (BtfFuncProto)TypeAt(clone.ProtoType);
            var parameters = cloneProto.Parameters.ToArray();
            parameters[argIdx] = parameters[argIdx] with { Type = ptrId };
            _types[(int)(clone.ProtoType - _firstId)] = new BtfFuncProto(cloneProto.ReturnType, parameters, cloneProto.Name);
        }
        return records;
    }

    /// <summary>clone_func_btf_info: FUNC_PROTO (same return type and parameters, names kept), then FUNC (same name and linkage).</summary>
    private uint CloneFunc(BtfFunc fn, BtfFuncProto proto)
    {
        uint protoId = Add(new BtfFuncProto(proto.ReturnType, proto.Parameters.ToArray()));
        return Add(new BtfFunc(fn.Name, protoId, fn.Linkage));
    }

    /// <summary>need_func_arg_type_fixup, with libbpf's warning when the parameter can never be the context.</summary>
    private bool NeedsFixup(ProgramType type, string programName, string subprogName, int argIdx, uint argTypeId, string ctxName, Action<string>? warn)
    {
        bool Warn()
        {
            warn?.Invoke($"prog '{programName}': subprog '{subprogName}' arg#{argIdx} is expected to be of `struct {ctxName} *` type");
            return false;
        }

        if (TypeAt(SkipModsAndTypedefs(argTypeId)) is not BtfPtr ptr)
            return Warn();
        // libbpf then skips modifiers from the PTR itself and tests for the typedef bpf_user_pt_regs_t there, which a
        // PTR never is: that early "already canonical" exit never fires, so `bpf_user_pt_regs_t *` reaches the checks
        // below as `struct pt_regs *` (typedefs skipped) and is rewritten for kprobe and perf_event alike. Same here.
        var t = TypeAt(SkipModsAndTypedefs(ptr.Type));
        if (t is BtfVoid)
            return true;
        if (t is BtfStruct s && s.Name == ctxName)
            return false;
        switch (type)
        {
            case ProgramType.Kprobe when t is BtfStruct { Name: "pt_regs" }:
            // x86-64: bpf_user_pt_regs_t is struct pt_regs, so perf_event's `struct pt_regs *` is rewritten too.
            case ProgramType.PerfEvent when t is BtfStruct { Name: "pt_regs" }:
            case ProgramType.RawTracepoint or ProgramType.RawTracepointWritable when t is BtfInt { Size: 8 }:
                return true;
        }
        return Warn();
    }

    private uint SkipModsAndTypedefs(uint id)
    {
        for (int depth = 0; depth < 32; depth++)
        {
            if (TypeAt(id) is not (BtfConst or BtfVolatile or BtfRestrict or BtfTypeTag or BtfTypedef))
                return id;
            id = ((BtfReferenceType)TypeAt(id)).Type;
        }
        return id;
    }

    /// <summary>The BTF with every clone appended (the original when nothing changed).</summary>
    public Btf.BtfSpec Build() => Changed ? Btf.BtfSpec.Parse(BtfWriter.Write(_types)) : Original;
}
