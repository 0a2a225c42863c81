using Ebpf.Abi;
using Ebpf.Btf;

namespace Ebpf.Verification;

/// <summary>
/// The open-coded iterators over kernel objects (bpf_iter_task, _css, _css_task, _task_vma, _kmem_cache, _dmabuf):
/// the KF_* flags their kfunc id sets give them in 6.18 (kernel/bpf/helpers.c), the trust of the element _next
/// returns, and the rules the verifier adds for them (check_css_task_iter_allowlist, KF_RCU_PROTECTED). The stack-slot
/// machinery is <see cref="IteratorSlots"/>'s, shared with bpf_iter_num / bpf_iter_bits.
/// </summary>
/// <remarks>
/// Observed on the live 6.18 kernel (tests/fixtures/verifier/kiters): an RCU-protected iterator (task, css) made inside
/// an RCU read section yields <c>rcu_ptr_&lt;struct&gt;</c>, the others (css_task, task_vma, kmem_cache) yield
/// <c>untrusted_ptr_&lt;struct&gt;</c>; both maybe NULL until checked.
/// </remarks>
internal static class KernelObjectIterators
{
    [Flags]
    private enum Traits
    {
        None = 0,
        /// <summary>KF_RCU_PROTECTED on _new: only inside an RCU read section; the iterator is MEM_RCU.</summary>
        RcuProtected = 1,
        /// <summary>KF_SLEEPABLE on _new, _next and _destroy.</summary>
        Sleepable = 2,
        /// <summary>KF_TRUSTED_ARGS on _new: its pointer arguments must be trusted or referenced.</summary>
        TrustedArgs = 4,
        /// <summary>KF_RCU on _new: its pointer arguments may also be RCU pointers.</summary>
        RcuArgs = 8,
    }

    /// <summary>The families of this kernel's vmlinux (bpf_iter_*_new with the bpf_kfunc tag) beyond num and bits.</summary>
    private static readonly Dictionary<string, Traits> Families = new(StringComparer.Ordinal)
    {
        ["task"] = Traits.TrustedArgs | Traits.RcuProtected,
        ["css"] = Traits.TrustedArgs | Traits.RcuProtected,
        ["css_task"] = Traits.TrustedArgs,
        ["task_vma"] = Traits.RcuArgs,
        ["kmem_cache"] = Traits.Sleepable,
        ["dmabuf"] = Traits.Sleepable,
    };

    /// <summary>Kfuncs outside these families whose pointer arguments may be RCU pointers (KF_RCU); an iterator's
    /// RCU element given to any other kfunc is refused (the kernel: "must be referenced or trusted").</summary>
    private static readonly HashSet<string> RcuArgKfuncs = new(StringComparer.Ordinal)
    {
        "bpf_task_acquire", "bpf_cgroup_acquire", "bpf_task_under_cgroup", "bpf_iter_task_vma_new",
    };

    public static bool IsFamily(string type) => Families.ContainsKey(type);

    public static bool IsRcuProtected(string type) => Families.TryGetValue(type, out var t) && (t & Traits.RcuProtected) != 0;

    /// <summary>The KF_* flags of an iterator kfunc of a kernel-object family (KF_ITER_NEXT implies KF_RET_NULL).</summary>
    public static KernelFunctionFlags Flags(string type, IteratorOperation op)
    {
        var traits = Families.GetValueOrDefault(type);
        var flags = (traits & Traits.Sleepable) != 0 ? KernelFunctionFlags.Sleepable : KernelFunctionFlags.None;
        // KF_TRUSTED_ARGS / KF_RCU on _new: check_kfunc_args (KfuncCalls.CheckTypedPointerArg) then refuses an RCU or
        // plain object pointer where the family wants a trusted one (task->group_leader is rcu_ptr_, not trusted).
        if (op == IteratorOperation.New && (traits & Traits.TrustedArgs) != 0) flags |= KernelFunctionFlags.TrustedArgs;
        if (op == IteratorOperation.New && (traits & Traits.RcuArgs) != 0) flags |= KernelFunctionFlags.Rcu;
        return op == IteratorOperation.Next ? flags | KernelFunctionFlags.ReturnsNull : flags;
    }

    /// <summary>check_css_task_iter_allowlist: bpf_iter_css_task_new in LSM programs, BPF iterators, sleepable programs.</summary>
    public static bool CssTaskAllowed(VerifierInput input) =>
        input.ProgramType == ProgramType.Lsm
        || (input.ProgramType == ProgramType.Tracing && input.ExpectedAttachType == AttachType.TraceIter)
        || input.Sleepable;

    // ---- the element's trust ----
    // An element carries the kernel's modifier in RegisterState.Trust (MEM_RCU or PTR_UNTRUSTED: what prints and what
    // the generic kfunc/helper rules check) and, in FuncInsn (unused by typed pointers, compared by state pruning), the
    // mark that it came from an iterator: the walk from it and the KF_RCU argument rule below are the iterators' own.

    // A pointer walked from an element carries the same marks (see Walked).
    private const int RcuElement = -1, UntrustedElement = -2;

    /// <summary>What bpf_iter_&lt;type&gt;_next returns: a maybe-NULL pointer to <paramref name="structName"/>,
    /// MEM_RCU when the iterator is (an RCU-protected one made inside an RCU section), PTR_UNTRUSTED otherwise.</summary>
    public static RegisterState Element(string structName, bool rcu)
    {
        var r = RegisterState.Pointer(RegisterType.BtfId);
        r.MemSize = KernelTypes.Intern(structName);
        r.MaybeNull = true;
        r.FuncInsn = rcu ? RcuElement : UntrustedElement;
        r.Trust = rcu ? PointerTrust.Rcu : PointerTrust.Untrusted;
        return r;
    }

    /// <summary>Whether <paramref name="r"/> is an element an iterator returned or a pointer walked from one
    /// (<paramref name="rcu"/>: MEM_RCU, else PTR_UNTRUSTED).</summary>
    public static bool IsElement(in RegisterState r, out bool rcu)
    {
        rcu = r.Type == RegisterType.BtfId && r.FuncInsn == RcuElement;
        return r.Type == RegisterType.BtfId && r.FuncInsn is RcuElement or UntrustedElement;
    }

    /// <summary>
    /// check_ptr_to_btf_access's trust of a pointer loaded through an element (or a pointer walked from one) at
    /// <paramref name="off"/>: <paramref name="loaded"/> is what btf_struct_walk yielded (a typed pointer, or a
    /// scalar returned as is). From an untrusted base it stays untrusted; from an RCU base inside an RCU section the
    /// vmlinux BTF allowlists decide (<c>&lt;struct&gt;__safe_trusted[_or_null]</c>: trusted, <c>__safe_rcu[_or_null]</c>:
    /// MEM_RCU), and any other field is untrusted (observed on the live 6.18 kernel: an RCU task's <c>parent</c> is
    /// <c>untrusted_ptr_task_struct</c>, not a plain PTR_TO_BTF_ID); outside an RCU section everything is untrusted.
    /// This vmlinux carries no <c>__rcu</c> type tags (gcc-built), so they are not consulted.
    /// </summary>
    public static RegisterState Walked(BtfSpec vmlinux, in RegisterState baseReg, int off, RegisterState loaded, bool inRcuSection)
    {
        if (loaded.Type != RegisterType.BtfId || KernelTypes.Name(loaded.MemSize) is not { Length: > 0 } target
            || target == Attach.BtfPointerLoads.UntrustedMemory)
            return loaded;
        string baseName = KernelTypes.Name(baseReg.MemSize);
        bool rcuBase = baseReg.FuncInsn == RcuElement;
        string? field = rcuBase && inRcuSection && !baseReg.MaybeNull ? PointerFieldAt(vmlinux, baseName, off) : null;
        if (field is not null && SafeField(vmlinux, baseName, "__safe_trusted", field, target))
            return Trusted(loaded, maybeNull: false);
        if (field is not null && SafeField(vmlinux, baseName, "__safe_trusted_or_null", field, target))
            return Trusted(loaded, maybeNull: true);
        bool rcu = field is not null && (SafeField(vmlinux, baseName, "__safe_rcu", field, target)
                                         || SafeField(vmlinux, baseName, "__safe_rcu_or_null", field, target));
        int kind = rcu ? RcuElement : UntrustedElement;
        var r = RegisterState.Pointer(RegisterType.BtfId);
        r.MemSize = loaded.MemSize;
        r.FuncInsn = kind;
        r.Trust = kind == RcuElement ? PointerTrust.Rcu : PointerTrust.Untrusted;
        r.MaybeNull = kind == RcuElement && field is not null && SafeField(vmlinux, baseName, "__safe_rcu_or_null", field, target);
        return r;
    }

    /// <summary>A PTR_TRUSTED result (<see cref="Attach.BtfPointerLoads.TypedPointer"/>'s default).</summary>
    private static RegisterState Trusted(RegisterState loaded, bool maybeNull)
    {
        var r = Attach.BtfPointerLoads.TypedPointer(KernelTypes.Name(loaded.MemSize));
        r.MaybeNull = maybeNull;
        return r;
    }

    /// <summary>btf_nested_type_is_trusted: <c>&lt;base&gt;&lt;suffix&gt;</c> has a pointer member named
    /// <paramref name="field"/> to <paramref name="target"/>.</summary>
    private static bool SafeField(BtfSpec btf, string baseName, string suffix, string field, string target)
    {
        if (!btf.TryFindByName(baseName + suffix, BtfKind.Struct, out var safe) || safe is not BtfComposite sc) return false;
        foreach (var m in sc.Members)
        {
            if (m.Name == field && btf.ResolveType(m.Type) is BtfPtr p && btf.ResolveType(p.Type) is BtfComposite pointee && pointee.Name == target)
                return true;
        }
        return false;
    }

    /// <summary>The name of the pointer member btf_struct_walk reaches at <paramref name="off"/> in
    /// <paramref name="structName"/>, descending into embedded structs; null where it passes an array or finds none.</summary>
    private static string? PointerFieldAt(BtfSpec btf, string structName, int off)
    {
        if (!btf.TryFindByName(structName, BtfKind.Struct, out var start) || start is not BtfComposite t) return null;
        for (int depth = 0; depth < BtfSpec.MaxResolveDepth; depth++)
        {
            BtfComposite? next = null;
            foreach (var m in t.Members)
            {
                if (m.IsBitfield) continue;
                int moff = (int)(m.BitOffset / 8);
                var mt = btf.ResolveType(m.Type);
                if (mt is BtfPtr && off == moff) return m.Name;
                if (mt is BtfComposite c && off >= moff && off < moff + (int)c.Size) { next = c; off -= moff; break; }
            }
            if (next is null) return null;
            t = next;
        }
        return null;
    }

    /// <summary>bpf_rcu_read_unlock: an RCU element loses its protection (MEM_RCU and PTR_MAYBE_NULL cleared,
    /// PTR_UNTRUSTED set).</summary>
    public static void Unprotect(ref RegisterState r)
    {
        if (r.Type != RegisterType.BtfId || r.FuncInsn != RcuElement) return;
        r.FuncInsn = UntrustedElement;
        r.Trust = PointerTrust.Untrusted;
        r.MaybeNull = false;
    }

    /// <summary>
    /// check_kfunc_args' trust rule for a struct pointer argument (KF_TRUSTED_ARGS / KF_RCU), as far as this verifier
    /// tells trust apart: an untrusted element is never accepted, an RCU element only by a KF_RCU kfunc. Returns the
    /// kernel's refusal, or null.
    /// </summary>
    public static string? TrustRefusal(string kfunc, int regno, in RegisterState reg)
    {
        if (!IsElement(reg, out bool rcu)) return null;
        if (!RcuArgKfuncs.Contains(kfunc)) return $"R{regno} must be referenced or trusted";
        return rcu ? null : $"R{regno} must be a rcu pointer";
    }

    /// <summary>
    /// btf_struct_ids_match (not strict): a pointer at offset 0 to a struct whose first member is, at any depth, the
    /// expected struct (a cgroup's <c>self</c> for a cgroup_subsys_state argument) matches it.
    /// </summary>
    public static bool FirstMemberMatches(BtfSpec btf, string have, string want)
    {
        if (!btf.TryFindByName(have, BtfKind.Struct, out var start)) return false;
        BtfType t = start;
        for (int depth = 0; depth < BtfSpec.MaxResolveDepth; depth++)
        {
            if (t is not BtfComposite { Kind: BtfKind.Struct } s || s.Members.Count == 0) return false;
            var first = s.Members[0];
            if (first.ByteOffset != 0 || !btf.TryGetType(btf.SkipTypedefs(first.Type), out var m) || m is null) return false;
            if (m is BtfComposite { Kind: BtfKind.Struct } ms && ms.Name == want) return true;
            t = m;
        }
        return false;
    }
}
