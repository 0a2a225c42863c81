namespace Ebpf.Abi;

/// <summary>The four kinds of BPF object that have ids (kernel-semantics.md §1.1).</summary>
public enum ObjectKind
{
    /// <summary>A loaded program (ids from BPF_PROG_GET_NEXT_ID, fds from BPF_PROG_GET_FD_BY_ID).</summary>
    Program,
    /// <summary>A map (BPF_MAP_GET_NEXT_ID, BPF_MAP_GET_FD_BY_ID).</summary>
    Map,
    /// <summary>A BTF object: vmlinux, a module's or one a loader uploaded (BPF_BTF_GET_NEXT_ID, BPF_BTF_GET_FD_BY_ID).</summary>
    Btf,
    /// <summary>A link (BPF_LINK_GET_NEXT_ID, BPF_LINK_GET_FD_BY_ID).</summary>
    Link,
}
