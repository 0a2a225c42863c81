namespace Ebpf.Verification;

/// <summary>
/// The trust modifiers of a typed kernel pointer (PTR_TO_BTF_ID, <see cref="RegisterType.BtfId"/>): the kernel's
/// PTR_TRUSTED, PTR_UNTRUSTED and MEM_RCU type flags. A pointer with none of them is the kernel's plain, legacy
/// PTR_TO_BTF_ID (<c>ptr_</c>): it may be read and passed to helpers, but not to a kfunc that wants a trusted or RCU
/// argument. An acquired pointer (non-zero <see cref="RegisterState.RefObjId"/>) is trusted whatever its flags.
/// </summary>
[Flags]
internal enum PointerTrust : byte
{
    /// <summary>Plain PTR_TO_BTF_ID.</summary>
    None = 0,
    /// <summary>PTR_TRUSTED: valid for the whole program run (tracing arguments, bpf_get_current_task_btf, …).</summary>
    Trusted = 1,
    /// <summary>PTR_UNTRUSTED: may only be read with fault-handled loads (bpf_rdonly_cast, a walk the kernel cannot vouch for).</summary>
    Untrusted = 2,
    /// <summary>MEM_RCU: valid inside the RCU read-side section it was loaded in; becomes untrusted at bpf_rcu_read_unlock.</summary>
    Rcu = 4,
}

/// <summary>
/// The trust rules of 6.18's verifier: how <c>reg_type_str</c> names a flagged pointer, <c>is_trusted_reg</c> /
/// <c>is_rcu_reg</c>, and which pointer walks (check_ptr_to_btf_access) keep trust: the BTF_TYPE_SAFE_TRUSTED,
/// BTF_TYPE_SAFE_TRUSTED_OR_NULL, BTF_TYPE_SAFE_RCU and BTF_TYPE_SAFE_RCU_OR_NULL field lists of kernel/bpf/verifier.c.
/// </summary>
internal static class TrustedPointers
{
    /// <summary>reg_type_str's prefix for the modifiers (concatenated in the kernel's order: rcu_, untrusted_, trusted_).</summary>
    public static string Prefix(PointerTrust t) =>
        ((t & PointerTrust.Rcu) != 0 ? "rcu_" : "") + ((t & PointerTrust.Untrusted) != 0 ? "untrusted_" : "") + ((t & PointerTrust.Trusted) != 0 ? "trusted_" : "");

    /// <summary>is_trusted_reg: a reference, or PTR_TRUSTED with no unsafe modifier (untrusted, RCU, maybe NULL).</summary>
    public static bool IsTrusted(in RegisterState r) =>
        r.Type == RegisterType.BtfId && (r.RefObjId != 0 || (r.Trust == PointerTrust.Trusted && !r.MaybeNull));

    /// <summary>is_rcu_reg: MEM_RCU (and not untrusted).</summary>
    public static bool IsRcu(in RegisterState r) =>
        r.Type == RegisterType.BtfId && (r.Trust & PointerTrust.Rcu) != 0 && (r.Trust & PointerTrust.Untrusted) == 0;

    /// <summary>The iterator targets whose ctx_arg_info marks the object PTR_TRUSTED (6.18, observed on the live kernel:
    /// <c>trusted_ptr_or_null_</c>); the others' (task_file, task_vma, bpf_prog, bpf_link, unix, netlink, ksym,
    /// ipv6_route, dmabuf …) are plain.</summary>
    private static readonly HashSet<string> TrustedIterTargets = ["task", "bpf_map", "tcp", "udp", "cgroup", "kmem_cache"];

    /// <summary>The modifiers of a typed pointer read from the context at <paramref name="off"/>: PTR_TRUSTED where
    /// prog_args_trusted holds (tp_btf, iterators' meta and trusted targets, netfilter), plain for fentry/fexit
    /// arguments and the other iterator targets.</summary>
    public static PointerTrust OfContext(Abi.Contexts.ContextLayout ctx, int off)
    {
        if (ctx.PlainTypedPointers) return PointerTrust.None;
        if (ctx.StructName.StartsWith("bpf_iter__", StringComparison.Ordinal) && off != 0)
            return TrustedIterTargets.Contains(ctx.StructName["bpf_iter__".Length..]) ? PointerTrust.Trusted : PointerTrust.None;
        return PointerTrust.Trusted;
    }

    /// <summary>Fields (struct, member) a walk from a trusted pointer yields trusted (BTF_TYPE_SAFE_TRUSTED).</summary>
    private static readonly HashSet<(string, string)> SafeTrusted =
    [
        ("bpf_iter_meta", "seq"), ("bpf_iter__task", "task"), ("linux_binprm", "file"), ("file", "f_inode"),
    ];

    /// <summary>BTF_TYPE_SAFE_TRUSTED_OR_NULL: trusted, but maybe NULL.</summary>
    private static readonly HashSet<(string, string)> SafeTrustedOrNull =
    [
        ("socket", "sk"), ("dentry", "d_inode"),
    ];

    /// <summary>Fields whose 6.18 entry we could not confirm (vm_area_struct's vm_mm and vm_file joined
    /// BTF_TYPE_SAFE_TRUSTED_OR_NULL around that release): they are given what both readings allow, a plain pointer
    /// that may be NULL (never trusted, always checked; untrusted outside an RCU section), so that either way we accept
    /// nothing the kernel refuses.</summary>
    private static readonly HashSet<(string, string)> UnconfirmedOrNull =
    [
        ("vm_area_struct", "vm_mm"), ("vm_area_struct", "vm_file"),
    ];

    /// <summary>BTF_TYPE_SAFE_RCU: trusted inside an RCU read-side section and never NULL.</summary>
    private static readonly HashSet<(string, string)> SafeRcu =
    [
        ("task_struct", "cpus_ptr"), ("task_struct", "cgroups"), ("task_struct", "real_parent"), ("task_struct", "group_leader"),
        ("cgroup", "kn"), ("css_set", "dfl_cgrp"), ("cgroup_subsys_state", "cgroup"),
    ];

    /// <summary>BTF_TYPE_SAFE_RCU_OR_NULL: RCU-protected and maybe NULL.</summary>
    private static readonly HashSet<(string, string)> SafeRcuOrNull =
    [
        ("mm_struct", "exe_file"), ("sk_buff", "sk"), ("request_sock", "sk"),
    ];

    /// <summary>
    /// check_ptr_to_btf_access's flags for a pointer loaded from member <paramref name="field"/> of a pointer of
    /// struct <paramref name="rootStruct"/> with modifiers <paramref name="parent"/>. vmlinux BTF built by gcc carries no
    /// <c>__rcu</c> type tags, so only the kernel's field lists decide.
    /// </summary>
    /// <param name="parent">The register walked from.</param>
    /// <param name="rootStruct">The register's struct (the lists are keyed by it, as btf_nested_type_is_trusted is).</param>
    /// <param name="field">The pointer member's name.</param>
    /// <param name="inRcuSection">in_rcu_cs: an open bpf_rcu_read_lock, a held lock, or a non-sleepable program.</param>
    /// <param name="maybeNull">Whether the result is PTR_MAYBE_NULL.</param>
    public static PointerTrust Walked(in RegisterState parent, string rootStruct, string field, bool inRcuSection, out bool maybeNull)
    {
        maybeNull = false;
        if ((parent.Trust & PointerTrust.Untrusted) != 0) return PointerTrust.Untrusted;
        if (!IsTrusted(parent) && !IsRcu(parent)) return PointerTrust.None; // old compat: plain pointers stay plain
        var key = (rootStruct, field);
        if (UnconfirmedOrNull.Contains(key))
        {
            maybeNull = true;
            return inRcuSection && !parent.MaybeNull ? PointerTrust.None : PointerTrust.Untrusted;
        }
        if (SafeTrusted.Contains(key)) return PointerTrust.Trusted;
        if (SafeTrustedOrNull.Contains(key))
        {
            maybeNull = true;
            return PointerTrust.Trusted;
        }
        if (inRcuSection && !parent.MaybeNull)
        {
            if (SafeRcu.Contains(key)) return PointerTrust.Rcu;
            if (SafeRcuOrNull.Contains(key))
            {
                maybeNull = true;
                return PointerTrust.Rcu;
            }
            return PointerTrust.None; // walking unknown pointers yields the old deprecated PTR_TO_BTF_ID
        }
        // Not in an RCU section (or an RCU pointer that may be NULL): aggressively untrusted.
        return PointerTrust.Untrusted;
    }
}
