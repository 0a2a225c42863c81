namespace Ebpf.Abi.Profiles;

/// <summary>
/// Kernel capabilities that are not a program type, map type, helper or kfunc, but that change what loads: BTF kinds
/// the kernel parses, verifier features, test_run modes. Each one is probed by loading a tiny object (bpftool and
/// libbpf probe the same way).
/// </summary>
public enum KernelFeature
{
    /// <summary>Global subprograms may tag a parameter <c>arg:ctx</c> (6.8+); without it libbpf rewrites func_info.</summary>
    ArgCtxTag,
    /// <summary>BTF_KIND_DECL_TAG (5.16+).</summary>
    BtfDeclTag,
    /// <summary>BTF_KIND_TYPE_TAG (5.17+).</summary>
    BtfTypeTag,
    /// <summary>BTF_KIND_ENUM64 (6.0+).</summary>
    BtfEnum64,
    /// <summary>BTF_KIND_FLOAT (5.13+).</summary>
    BtfFloat,
    /// <summary>The may_goto instruction (BPF_JMP | BPF_JCOND, 6.9+).</summary>
    MayGoto,
    /// <summary>Load-acquire / store-release atomics (BPF_LOAD_ACQ, BPF_STORE_REL, 6.15+).</summary>
    LoadAcquireStoreRelease,
    /// <summary>BPF_PROG_TEST_RUN of XDP with BPF_F_TEST_XDP_LIVE_FRAMES (6.0+; needs the kernel's page pool).</summary>
    XdpLiveFrames,
    /// <summary>BTF_KIND_VAR and BTF_KIND_DATASEC (5.2+); without them libbpf turns DATASECs into STRUCTs and VARs into INTs.</summary>
    BtfDatasec,
}
