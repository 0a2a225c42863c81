namespace Ebpf.Runtime.Trampolines;

/// <summary>
/// bpf_trampoline_compute_key: for a BPF-program target, (target program id &lt;&lt; 32) | btf_id; for a kernel target,
/// (BTF object id &lt;&lt; 32) | 0x80000000 | btf_id. A tracing link's target_obj_id and target_btf_id are decoded from it.
/// </summary>
internal readonly record struct TrampolineKey(ulong Value)
{
    private const uint KernelMarker = 0x8000_0000;

    public static TrampolineKey ForProgram(uint programId, uint btfId) => new(((ulong)programId << 32) | btfId);

    public static TrampolineKey ForKernel(uint btfObjectId, uint btfId) => new(((ulong)btfObjectId << 32) | KernelMarker | btfId);

    /// <summary>The target program's id (or the kernel BTF object's id).</summary>
    public uint TargetObjectId => (uint)(Value >> 32);

    public uint BtfId => (uint)Value & ~KernelMarker;

    public bool IsKernelTarget => ((uint)Value & KernelMarker) != 0;

    public override string ToString() => $"0x{Value:x16} (obj {TargetObjectId}, btf {BtfId})";
}

/// <summary>The trampoline list a program goes on (bpf_attach_type_to_tramp): EXT → the replace slot.</summary>
internal enum TrampolineKind
{
    Fentry,
    Fexit,
    ModifyReturn,
    Replace,
}
