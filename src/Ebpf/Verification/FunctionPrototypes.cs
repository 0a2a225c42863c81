using Ebpf.Abi;
using Ebpf.Btf;

namespace Ebpf.Verification;

/// <summary>
/// <c>btf_prepare_func_args</c> (kernel-semantics.md §3.3, §3.6): a global function's argument expectations from its
/// BTF FUNC_PROTO and its <c>arg:</c> decl tags (DECL_TAG on the FUNC with the parameter's component index), with the
/// kernel's messages for prototypes it refuses.
/// </summary>
internal static class FunctionPrototypes
{
    private const int MaxArgs = 5;

    [Flags]
    private enum ArgTags
    {
        None = 0, Ctx = 1, NonNull = 2, Nullable = 4, Trusted = 8, Untrusted = 16, Arena = 32,
    }

    /// <summary>The canonical user-visible ctx struct of each program type (the kernel's bpf_ctx_convert, as
    /// libbpf's global_ctx_map lists them), or null when the type's ctx has no name.</summary>
    public static string? CanonicalContextName(ProgramType type) => Abi.Contexts.ContextTypeNames.Canonical(type);

    /// <summary>Kernel-side structs the kernel also recognises as a type's ctx (<c>sk_buff</c> for <c>__sk_buff</c>, …).</summary>
    private static string? KernelContextName(ProgramType type) => CanonicalContextName(type) switch
    {
        "__sk_buff" => "sk_buff",
        "xdp_md" => "xdp_buff",
        _ => null,
    };

    /// <summary>Describes the function <paramref name="funcTypeId"/> (a BTF FUNC) for the verifier.</summary>
    /// <remarks><paramref name="argTags"/> false: a kernel before 6.8, which reads no <c>arg:</c> decl tags.</remarks>
    public static VerifierFunction Prepare(Btf.BtfSpec btf, uint funcTypeId, int startInstruction, string name, bool isGlobal,
        ProgramType programType, AttachType attachType, Btf.BtfSpec? kernelBtf, bool argTags = true)
    {
        VerifierFunction Error(string message, Errno errno = Errno.EINVAL) =>
            new(startInstruction, name, isGlobal, [], PrepareError: message, PrepareErrno: errno);

        if (!btf.TryGetType(funcTypeId, out var ft) || ft is not BtfFunc func)
            return Error($"BTF of func#{funcTypeId} doesn't point to KIND_FUNC", Errno.EFAULT);
        if (!btf.TryGetType(func.ProtoType, out var pt) || pt is not BtfFuncProto proto)
            return Error($"Invalid type of function {name}()", Errno.EFAULT);
        if (!isGlobal)
            return new VerifierFunction(startInstruction, name, false, [], proto.ReturnType == 0)
            {
                ReturnsNonScalar = Resolve(btf, proto.ReturnType) is not (BtfInt { Size: <= 8 } or { Kind: BtfKind.Enum or BtfKind.Enum64 }),
            };
        if (proto.Parameters.Count > MaxArgs)
            return Error($"Global function {name}() with {proto.Parameters.Count} > {MaxArgs} args. Buggy compiler.");

        var ret = Resolve(btf, proto.ReturnType);
        // 6.18 (live kernel): void globals are refused too; newer trees accept them (kernel-semantics.md §3.3).
        if (ret is null || ret.Kind is not (BtfKind.Int or BtfKind.Enum or BtfKind.Enum64))
            return Error($"Global function {name}() doesn't return scalar. Only those are supported.");

        var args = new List<FunctionArgument>();
        for (int i = 0; i < proto.Parameters.Count; i++)
        {
            var (arg, error, errno) = PrepareArgument(btf, funcTypeId, i, proto.Parameters[i].Type, name, programType, attachType, kernelBtf, argTags);
            if (error is not null) return Error(error, errno);
            args.Add(arg);
        }
        return new VerifierFunction(startInstruction, name, true, args, ret is null);
    }

    private static (FunctionArgument Arg, string? Error, Errno Errno) PrepareArgument(Btf.BtfSpec btf, uint funcId, int i, uint typeId,
        string name, ProgramType programType, AttachType attachType, Btf.BtfSpec? kernelBtf, bool argTags)
    {
        var tags = ArgTags.None;
        foreach (var tag in argTags ? btf.GetDeclTags(funcId, i) : [])
        {
            if (!tag.Value.StartsWith("arg:", StringComparison.Ordinal)) continue;
            tags |= tag.Value[4..] switch
            {
                "ctx" => ArgTags.Ctx,
                "nonnull" => ArgTags.NonNull,
                "nullable" => ArgTags.Nullable,
                "trusted" => ArgTags.Trusted,
                "untrusted" => ArgTags.Untrusted,
                "arena" => ArgTags.Arena,
                _ => (ArgTags)(-1),
            };
            if (tags < 0) return (default, $"arg#{i} has unsupported set of tags", Errno.EOPNOTSUPP);
        }

        var t = Resolve(btf, typeId);
        if (t is null || t.Kind != BtfKind.Ptr)
        {
            if (tags != ArgTags.None) return (default, $"arg#{i} has pointer tag, but is not a pointer type", Errno.EINVAL);
            if (t is not null && t.Kind is BtfKind.Int or BtfKind.Enum or BtfKind.Enum64)
                return (new FunctionArgument(FunctionArgumentKind.Scalar), null, 0);
            return (default, $"Arg#{i} type {KindName(t)} in {name}() is not supported yet.", Errno.EINVAL);
        }

        uint pointeeId = ((BtfPtr)t).Type;
        if ((tags & ArgTags.Ctx) != 0 || IsImplicitContext(btf, pointeeId, programType))
        {
            if ((tags & ~ArgTags.Ctx) != 0) return (default, $"arg#{i} has invalid combination of tags", Errno.EINVAL);
            if ((tags & ArgTags.Ctx) != 0 && ValidateExplicitContext(btf, pointeeId, i, programType, attachType) is { } why)
                return (default, why, Errno.EINVAL);
            return (new FunctionArgument(FunctionArgumentKind.Context), null, 0);
        }

        var pointee = Resolve(btf, pointeeId);
        if (pointee is BtfComposite { Name: "bpf_dynptr" } or BtfFwd { Name: "bpf_dynptr" })
        {
            if (tags != ArgTags.None) return (default, $"arg#{i} has invalid combination of tags", Errno.EINVAL);
            return (default, $"arg#{i} (struct bpf_dynptr) {VerificationResult.UnsupportedMarker}{UnsupportedFeatures.GlobalDynptrArgument}", Errno.ENOTSUPP);
        }
        if ((tags & ArgTags.Trusted) != 0)
        {
            if ((tags & ArgTags.NonNull) != 0) return (default, $"arg#{i} has invalid combination of tags", Errno.EINVAL);
            if (VmlinuxStruct(btf, kernelBtf, pointeeId, i, out string structName) is { } why) return (default, why.Message, why.Errno);
            return (new FunctionArgument(FunctionArgumentKind.Trusted, Nullable: (tags & ArgTags.Nullable) != 0, BtfType: structName), null, 0);
        }
        if ((tags & ArgTags.Untrusted) != 0)
        {
            if (tags != ArgTags.Untrusted) return (default, $"arg#{i} untrusted cannot be combined with any other tags", Errno.EINVAL);
            if (pointee is null || pointee.Kind is BtfKind.Int or BtfKind.Enum or BtfKind.Enum64 or BtfKind.Float)
                return (new FunctionArgument(FunctionArgumentKind.Untrusted), null, 0);
            // Resolved against vmlinux first (so a forward declaration finds no match), then it must be a struct.
            if (VmlinuxStruct(btf, kernelBtf, pointeeId, i, out string structName) is { } why) return (default, why.Message, why.Errno);
            if (pointee.Kind != BtfKind.Struct)
                return (default, $"arg#{i} has type {KindName(pointee)} '{pointee.Name}', but only struct or primitive types are allowed", Errno.EINVAL);
            return (new FunctionArgument(FunctionArgumentKind.Untrusted, BtfType: structName), null, 0);
        }
        if ((tags & ArgTags.Arena) != 0)
        {
            if (tags != ArgTags.Arena) return (default, $"arg#{i} arena cannot be combined with any other tags", Errno.EINVAL);
            return (default, $"arg#{i} (arena pointer) {VerificationResult.UnsupportedMarker}{UnsupportedFeatures.GlobalArenaArgument}", Errno.ENOTSUPP);
        }
        if ((tags & ArgTags.Nullable) != 0) return (default, $"arg#{i} has invalid combination of tags", Errno.EINVAL);

        uint size = 0;
        bool sized = pointee is not null && pointee.Kind is not (BtfKind.Fwd or BtfKind.FuncProto or BtfKind.Func);
        if (sized)
        {
            try { size = btf.SizeOf(pointeeId); }
            catch (BpfException) { sized = false; }
        }
        if (!sized)
        {
            var shown = pointee ?? null;
            return (default, $"arg#{i} reference type('{KindName(shown)} {shown?.Name ?? ""}') size cannot be determined: -22", Errno.EINVAL);
        }
        return (new FunctionArgument(FunctionArgumentKind.Memory, (int)size, Nullable: (tags & ArgTags.NonNull) == 0), null, 0);
    }

    /// <summary>btf_is_prog_ctx_type: the pointee is the type's canonical ctx struct (kprobe: also the typedef bpf_user_pt_regs_t).</summary>
    private static bool IsImplicitContext(Btf.BtfSpec btf, uint pointeeId, ProgramType programType)
    {
        if (programType == ProgramType.Kprobe && FirstTypedef(btf, pointeeId) == "bpf_user_pt_regs_t") return true;
        string? canonical = CanonicalContextName(programType);
        if (canonical is null || Resolve(btf, pointeeId) is not BtfComposite { Kind: BtfKind.Struct } s) return false;
        // The kernel compares names: kprobe's user-visible ctx is named bpf_user_pt_regs_t, so a struct of that name
        // (libbpf's arg:ctx fallback writes one) is recognised too.
        return s.Name == canonical || s.Name == KernelContextName(programType)
            || programType == ProgramType.Kprobe && s.Name == "bpf_user_pt_regs_t";
    }

    /// <summary>btf_validate_prog_ctx_type for an explicit <c>arg:ctx</c>: null when the pointee is acceptable.</summary>
    private static string? ValidateExplicitContext(Btf.BtfSpec btf, uint pointeeId, int i, ProgramType programType, AttachType attachType)
    {
        var pointee = Resolve(btf, pointeeId);
        if (pointee is null) return null; // void * is always accepted
        string? typedefName = FirstTypedef(btf, pointeeId);
        bool isU64 = pointee is BtfInt { Size: 8 };
        switch (programType)
        {
            case ProgramType.Kprobe when typedefName == "bpf_user_pt_regs_t" || pointee is BtfComposite { Name: "pt_regs" }:
            case ProgramType.PerfEvent when typedefName == "bpf_user_pt_regs_t" || pointee is BtfComposite { Name: "pt_regs" }:
            case ProgramType.RawTracepoint or ProgramType.RawTracepointWritable when isU64:
            case ProgramType.Lsm or ProgramType.StructOps when isU64:
            case ProgramType.Tracepoint or ProgramType.Syscall or ProgramType.Ext:
                return null;
            case ProgramType.Tracing:
                if (attachType == AttachType.TraceRawTp)
                    return isU64 || pointee is BtfComposite { Name: "bpf_raw_tracepoint_args" } ? null : $"arg#{i} should be `struct bpf_raw_tracepoint_args *`";
                if (attachType == AttachType.TraceIter)
                    return pointee is BtfComposite c && c.Name.StartsWith("bpf_iter__", StringComparison.Ordinal) ? null : $"arg#{i} should be `struct bpf_iter__xxx *`";
                return isU64 ? null : $"arg#{i} should be `u64 *`";
            case ProgramType.Lsm or ProgramType.StructOps:
                return $"arg#{i} should be `u64 *`";
        }
        string? canonical = CanonicalContextName(programType);
        if (canonical is null) return $"arg#{i} should be void pointer";
        if (string.IsNullOrEmpty(pointee.Name)) return $"arg#{i} type doesn't have a name";
        if (pointee is not BtfComposite { Kind: BtfKind.Struct } || (pointee.Name != canonical && pointee.Name != KernelContextName(programType)))
            return $"arg#{i} should be `struct {canonical} *`";
        return null;
    }

    /// <summary>
    /// btf_get_ptr_to_btf_id for arg:trusted / arg:untrusted pointees: bpf_core_find_cands looks for vmlinux types
    /// of the same kind and essential name; exactly one must match ("has no matches" ENOENT, "is ambiguous" ESRCH).
    /// A forward declaration never matches (vmlinux has the full struct, of another kind). Without vmlinux BTF
    /// (not Linux) nothing matches, which refuses the argument: the sound choice. Module BTF is not searched, so a
    /// module-only struct is "has no matches" here where the kernel says "points to kernel module type".
    /// </summary>
    private static (string Message, Errno Errno)? VmlinuxStruct(Btf.BtfSpec btf, Btf.BtfSpec? kernelBtf, uint pointeeId, int i, out string structName)
    {
        var pointee = Resolve(btf, pointeeId);
        structName = Btf.BtfSpec.EssentialName(pointee?.Name ?? "");
        int candidates = pointee is null || structName.Length == 0 || kernelBtf is not { } vmlinux
            ? 0
            : vmlinux.FindAllByName(structName, pointee.Kind).Take(2).Count();
        if (candidates == 1)
            return null;
        string what = candidates == 0 ? "has no matches" : "is ambiguous";
        return ($"arg#{i} reference type('{KindName(pointee)} {pointee?.Name ?? ""}') {what}", candidates == 0 ? Errno.ENOENT : Errno.ESRCH);
    }

    /// <summary>The type after modifiers and typedefs, or null for void.</summary>
    private static BtfType? Resolve(Btf.BtfSpec btf, uint id)
    {
        if (id == 0) return null;
        uint resolved = btf.SkipTypedefs(id);
        return resolved == 0 || !btf.TryGetType(resolved, out var t) ? null : t;
    }

    /// <summary>The first typedef's name in the modifier chain starting at <paramref name="id"/>, if any.</summary>
    private static string? FirstTypedef(Btf.BtfSpec btf, uint id)
    {
        for (int depth = 0; depth < 32 && id != 0 && btf.TryGetType(id, out var t); depth++)
        {
            if (t is BtfTypedef td) return td.Name;
            if (t.Kind is not (BtfKind.Const or BtfKind.Volatile or BtfKind.Restrict or BtfKind.TypeTag)) return null;
            id = ((BtfReferenceType)t).Type;
        }
        return null;
    }

    /// <summary>btf_type_str: the kernel's kind names.</summary>
    private static string KindName(BtfType? t) => (t?.Kind ?? BtfKind.Unknown) switch
    {
        BtfKind.Unknown => "UNKN", BtfKind.Int => "INT", BtfKind.Ptr => "PTR", BtfKind.Array => "ARRAY",
        BtfKind.Struct => "STRUCT", BtfKind.Union => "UNION", BtfKind.Enum => "ENUM", BtfKind.Fwd => "FWD",
        BtfKind.Typedef => "TYPEDEF", BtfKind.Volatile => "VOLATILE", BtfKind.Const => "CONST", BtfKind.Restrict => "RESTRICT",
        BtfKind.Func => "FUNC", BtfKind.FuncProto => "FUNC_PROTO", BtfKind.Var => "VAR", BtfKind.Datasec => "DATASEC",
        BtfKind.Float => "FLOAT", BtfKind.DeclTag => "DECL_TAG", BtfKind.TypeTag => "TYPE_TAG", BtfKind.Enum64 => "ENUM64",
        _ => "UNKN",
    };
}
