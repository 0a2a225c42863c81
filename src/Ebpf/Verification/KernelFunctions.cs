using Ebpf.Btf;

namespace Ebpf.Verification;

/// <summary>The kfunc flags the verifier acts on (the kernel's <c>KF_*</c> in the kfunc's BTF id set).</summary>
[Flags]
public enum KernelFunctionFlags
{
    /// <summary>No KF_* flag: a plain kfunc returning a scalar or an unreferenced pointer.</summary>
    None = 0,
    /// <summary>KF_ACQUIRE: the returned pointer is a reference that must be released.</summary>
    Acquire = 1 << 0,
    /// <summary>KF_RELEASE: the struct-pointer argument's reference is released.</summary>
    Release = 1 << 1,
    /// <summary>KF_RET_NULL: the returned pointer must be NULL-checked.</summary>
    ReturnsNull = 1 << 2,
    /// <summary>KF_SLEEPABLE: only sleepable programs may call it.</summary>
    Sleepable = 1 << 3,
    /// <summary>bpf_rcu_read_lock: opens the RCU read-side section.</summary>
    RcuReadLock = 1 << 4,
    /// <summary>bpf_rcu_read_unlock: closes it.</summary>
    RcuReadUnlock = 1 << 5,
    /// <summary>KF_TRUSTED_ARGS: every typed-pointer argument must be trusted or referenced, non-NULL and at offset 0.</summary>
    TrustedArgs = 1 << 6,
    /// <summary>KF_RCU: typed-pointer arguments may also be RCU-protected pointers (MEM_RCU).</summary>
    Rcu = 1 << 7,
}

/// <summary>
/// A kfunc as the verifier checks it: its name, its FUNC_PROTO (in <see cref="Btf"/>: vmlinux's for kernel kfuncs, a
/// host's own BTF for kfuncs a host registers), its flags, and — when it needs machinery this verifier lacks (dynptrs,
/// iterators, allocated objects, lists, rbtrees) — the reason calls to it are refused.
/// </summary>
public sealed record KernelFunction(string Name, Btf.BtfSpec Btf, uint ProtoTypeId, KernelFunctionFlags Flags, string? Unsupported = null)
{
    /// <summary>
    /// For a kfunc a host registers (a module's): the program types its id set was registered for
    /// (register_btf_kfunc_id_set; types sharing a kernel hook count as one, see the README); null, or a list holding
    /// <see cref="Abi.ProgramType.Unspec"/>, for every type. A call from another type is "calling kernel function %s
    /// is not allowed" (EACCES).
    /// </summary>
    public IReadOnlyList<Abi.ProgramType>? ProgramTypes { get; init; }
}

/// <summary>
/// Resolves kfunc calls against the kernel BTF a profile names (<see cref="Abi.Profiles.KernelProfile.KernelBtf"/>): a FUNC with the <c>bpf_kfunc</c> decl
/// tag. The flags come from a table of the kfuncs whose reference semantics this verifier knows; a kfunc that returns
/// a pointer and is not in the table is refused (its KF_ACQUIRE / KF_RET_NULL are not in BTF, and guessing them wrong
/// would miss a leak or a NULL dereference).
/// </summary>
public static class KernelFunctions
{
    private static readonly Dictionary<string, KernelFunctionFlags> KnownFlags = new(StringComparer.Ordinal)
    {
        ["bpf_rcu_read_lock"] = KernelFunctionFlags.RcuReadLock,
        ["bpf_rcu_read_unlock"] = KernelFunctionFlags.RcuReadUnlock,
        ["bpf_task_acquire"] = KernelFunctionFlags.Acquire | KernelFunctionFlags.Rcu | KernelFunctionFlags.ReturnsNull,
        ["bpf_task_release"] = KernelFunctionFlags.Release,
        ["bpf_task_from_pid"] = KernelFunctionFlags.Acquire | KernelFunctionFlags.ReturnsNull,
        ["bpf_task_from_vpid"] = KernelFunctionFlags.Acquire | KernelFunctionFlags.ReturnsNull,
        ["bpf_cgroup_acquire"] = KernelFunctionFlags.Acquire | KernelFunctionFlags.Rcu | KernelFunctionFlags.ReturnsNull,
        ["bpf_cgroup_release"] = KernelFunctionFlags.Release,
        ["bpf_cgroup_from_id"] = KernelFunctionFlags.Acquire | KernelFunctionFlags.ReturnsNull,
        ["bpf_cgroup_ancestor"] = KernelFunctionFlags.Acquire | KernelFunctionFlags.Rcu | KernelFunctionFlags.ReturnsNull,
        ["bpf_task_get_cgroup1"] = KernelFunctionFlags.Acquire | KernelFunctionFlags.Rcu | KernelFunctionFlags.ReturnsNull,
        ["bpf_cpumask_create"] = KernelFunctionFlags.Acquire | KernelFunctionFlags.ReturnsNull,
        ["bpf_cpumask_acquire"] = KernelFunctionFlags.Acquire | KernelFunctionFlags.TrustedArgs,
        ["bpf_cpumask_release"] = KernelFunctionFlags.Release,
        ["bpf_cpumask_first"] = KernelFunctionFlags.Rcu,
        ["bpf_cpumask_first_zero"] = KernelFunctionFlags.Rcu,
        ["bpf_cpumask_first_and"] = KernelFunctionFlags.Rcu,
        ["bpf_cpumask_set_cpu"] = KernelFunctionFlags.Rcu,
        ["bpf_cpumask_clear_cpu"] = KernelFunctionFlags.Rcu,
        ["bpf_cpumask_test_cpu"] = KernelFunctionFlags.Rcu,
        ["bpf_cpumask_test_and_set_cpu"] = KernelFunctionFlags.Rcu,
        ["bpf_cpumask_test_and_clear_cpu"] = KernelFunctionFlags.Rcu,
        ["bpf_cpumask_setall"] = KernelFunctionFlags.Rcu,
        ["bpf_cpumask_clear"] = KernelFunctionFlags.Rcu,
        ["bpf_cpumask_and"] = KernelFunctionFlags.Rcu,
        ["bpf_cpumask_or"] = KernelFunctionFlags.Rcu,
        ["bpf_cpumask_xor"] = KernelFunctionFlags.Rcu,
        ["bpf_cpumask_equal"] = KernelFunctionFlags.Rcu,
        ["bpf_cpumask_intersects"] = KernelFunctionFlags.Rcu,
        ["bpf_cpumask_subset"] = KernelFunctionFlags.Rcu,
        ["bpf_cpumask_empty"] = KernelFunctionFlags.Rcu,
        ["bpf_cpumask_full"] = KernelFunctionFlags.Rcu,
        ["bpf_cpumask_copy"] = KernelFunctionFlags.Rcu,
        ["bpf_cpumask_any_distribute"] = KernelFunctionFlags.Rcu,
        ["bpf_cpumask_any_and_distribute"] = KernelFunctionFlags.Rcu,
        ["bpf_cpumask_weight"] = KernelFunctionFlags.Rcu,
        ["bpf_cpumask_populate"] = KernelFunctionFlags.Rcu,
        // The pointer cast kfuncs (no KF_* flags; their returns are special-cased, KfuncCalls.Trust.cs).
        ["bpf_rdonly_cast"] = KernelFunctionFlags.None,
        ["bpf_cast_to_kern_ctx"] = KernelFunctionFlags.None,
        ["bpf_get_task_exe_file"] = KernelFunctionFlags.Acquire | KernelFunctionFlags.TrustedArgs | KernelFunctionFlags.ReturnsNull,
        ["bpf_put_file"] = KernelFunctionFlags.Release,
        ["bpf_lookup_user_key"] = KernelFunctionFlags.Acquire | KernelFunctionFlags.ReturnsNull | KernelFunctionFlags.Sleepable,
        ["bpf_lookup_system_key"] = KernelFunctionFlags.Acquire | KernelFunctionFlags.ReturnsNull,
        ["bpf_key_put"] = KernelFunctionFlags.Release,
        ["bpf_skb_ct_lookup"] = KernelFunctionFlags.Acquire | KernelFunctionFlags.ReturnsNull,
        ["bpf_xdp_ct_lookup"] = KernelFunctionFlags.Acquire | KernelFunctionFlags.ReturnsNull,
        ["bpf_ct_release"] = KernelFunctionFlags.Release,
    };

    /// <summary>Families needing verifier machinery that is not modelled here, by name prefix, with the feature a
    /// refusal names.</summary>
    private static readonly (string Prefix, string Feature)[] UnsupportedPrefixes =
    [
        ("bpf_obj_", "allocated-object kfuncs"), ("bpf_percpu_obj_", "allocated-object kfuncs"), ("bpf_refcount_", "allocated-object kfuncs"),
        ("bpf_kptr_", "allocated-object kfuncs"), ("bpf_list_", "list kfuncs"), ("bpf_rbtree_", "rbtree kfuncs"),
        ("bpf_iter_", "open-coded iterator kfuncs"), ("bpf_dynptr_", "dynptr kfuncs"), ("bpf_wq_", "bpf_wq kfuncs"),
        ("bpf_res_spin_", "resilient spin lock kfuncs"), ("bpf_arena_", "arena kfuncs"), ("bpf_preempt_", "preemption and IRQ kfuncs"),
        ("bpf_local_irq_", "preemption and IRQ kfuncs"), ("bpf_session_", "session kfuncs"), ("bpf_stream_", "stream kfuncs"),
    ];

    /// <summary>The kfunc families refused, by feature.</summary>
    internal static IEnumerable<string> UnsupportedFamilies => UnsupportedPrefixes.Select(u => u.Feature).Distinct(StringComparer.Ordinal);

    /// <summary>Parameter name suffixes (__ign, __str, …) whose special meaning is not modelled.</summary>
    private static readonly string[] UnsupportedSuffixes = ["__ign", "__uninit", "__str", "__map", "__alloc", "__refcounted_kptr", "__prog", "__irq_flag", "__opt"];

    /// <summary>The kfunc named <paramref name="name"/> in the kernel BTF <paramref name="vmlinux"/>, or null when it has none (or there is no BTF).</summary>
    public static KernelFunction? Resolve(string name, Btf.BtfSpec? vmlinux)
    {
        if (vmlinux is null) return null;
        foreach (uint id in vmlinux.FindAllByName(name, BtfKind.Func))
            if (FromBtf(vmlinux, id) is { } kf) return kf;
        return null;
    }

    /// <summary>The kfunc whose BTF id in <paramref name="vmlinux"/> is <paramref name="btfId"/> (a call's imm after libbpf relocated it).</summary>
    public static KernelFunction? ResolveById(int btfId, Btf.BtfSpec? vmlinux) =>
        vmlinux is not null && btfId > 0 ? FromBtf(vmlinux, (uint)btfId) : null;

    /// <summary>A kfunc a host defines in its own BTF (<paramref name="funcTypeId"/> is the FUNC); flags as the host registers them.</summary>
    public static KernelFunction? FromBtf(Btf.BtfSpec btf, uint funcTypeId, KernelFunctionFlags? flags = null)
    {
        if (!btf.TryGetType(funcTypeId, out var t) || t is not BtfFunc func) return null;
        if (flags is null && !btf.GetDeclTagValues(funcTypeId).Contains("bpf_kfunc")) return null;
        if (!btf.TryGetType(func.ProtoType, out var p) || p is not BtfFuncProto proto) return null;
        var known = flags ?? KnownFlags.GetValueOrDefault(func.Name);
        if (flags is null && IteratorSlots.Classify(func.Name) is { } iter && KernelObjectIterators.IsFamily(iter.Type))
            known |= KernelObjectIterators.Flags(iter.Type, iter.Op);
        string? unsupported = null;
        if (flags is null && (IteratorSlots.IsSupported(func.Name) || DynptrSlots.IsSupportedKfunc(func.Name) || KfuncCalls.IsPointerCast(func.Name)))
        {
            // An open-coded iterator family the verifier (IteratorSlots) and the runtime model: its KF_ITER_* semantics
            // follow from the naming convention the kernel enforces (btf_check_iter_kfuncs).
        }
        else if (Array.FindIndex(UnsupportedPrefixes, u => func.Name.StartsWith(u.Prefix, StringComparison.Ordinal)) is int family and >= 0)
            unsupported = UnsupportedPrefixes[family].Feature;
        else if (proto.Parameters.Any(a => UnsupportedSuffixes.Any(s => a.Name.EndsWith(s, StringComparison.Ordinal))))
            unsupported = UnsupportedFeatures.KfuncSpecialSuffix;
        else if (proto.Parameters.Any(a => PointsTo(btf, a.Type, "bpf_dynptr") || PointsTo(btf, a.Type, "bpf_dynptr_kern")))
            unsupported = UnsupportedFeatures.KfuncDynptrArgument;
        else if (flags is null && !KnownFlags.ContainsKey(func.Name) && IsPointer(btf, proto.ReturnType))
            unsupported = UnsupportedFeatures.KfuncUnknownPointerReturn;
        return new KernelFunction(func.Name, btf, func.ProtoType, known, unsupported);
    }

    private static bool IsPointer(Btf.BtfSpec btf, uint id) =>
        id != 0 && btf.TryGetType(btf.SkipTypedefs(id), out var t) && t.Kind == BtfKind.Ptr;

    private static bool PointsTo(Btf.BtfSpec btf, uint id, string structName) =>
        IsPointer(btf, id) && btf.TryGetPointee(btf.SkipTypedefs(id), out uint pointee) && pointee != 0
        && btf.TryGetType(btf.SkipTypedefs(pointee), out var p) && p.Name == structName;
}
