using Ebpf.Runtime.ProgramTypes;

namespace Ebpf.Runtime.Objects;

// Device binding of XDP programs (prog_ifindex with BPF_F_XDP_DEV_BOUND_ONLY, kernel/bpf/offload.c).
public sealed partial class ProgramObject
{
    /// <summary>prog_ifindex at load (prog->aux->dev_bound when non-zero); 0 for an unbound program.</summary>
    public uint BoundIfindex { get; internal set; }

    /// <summary>The device the program is bound to; null when unbound or once that device was removed (orphaned).</summary>
    internal NetDevice? BoundDevice { get; set; }

    /// <summary>bpf_prog_is_dev_bound.</summary>
    internal bool IsDeviceBound => BoundIfindex != 0;
}
