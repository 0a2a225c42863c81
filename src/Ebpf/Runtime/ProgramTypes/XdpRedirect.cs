using Ebpf.Abi;
using Ebpf.Runtime.Maps;

namespace Ebpf.Runtime.ProgramTypes;

/// <summary>
/// The kernel's bpf_redirect_info after a program returned XDP_REDIRECT: where the frame goes.
/// bpf_redirect(ifindex) gives <see cref="MapType.Unspec"/> with <see cref="Key"/> = ifindex;
/// bpf_redirect_map gives the map, the key, and (for BPF_F_BROADCAST) the flags. test_run reports
/// it in <see cref="RuntimeTestRunResult.Redirect"/>; live-frames mode performs it.
/// </summary>
public sealed record XdpRedirect(MapType MapType, uint MapId, uint Key, ulong Flags, BpfMapBase? Map)
{
    /// <summary>BPF_F_BROADCAST: the frame goes to every device of the map.</summary>
    public bool IsBroadcast => (Flags & DevMap.BroadcastFlag) != 0;
    /// <summary>BPF_F_EXCLUDE_INGRESS: a broadcast skips the device the frame came in on.</summary>
    public bool ExcludesIngress => (Flags & DevMap.ExcludeIngressFlag) != 0;
}
