using Ebpf.Collections;

namespace Ebpf.Runtime.Net;

/// <summary>The managed runtime's network behind a backend (frame injection has no bpf(2) or rtnetlink verb).</summary>
public static class NetworkExtensions
{
    /// <summary>The runtime's <see cref="VirtualNetwork"/> when <paramref name="backend"/> is a managed runtime, else null.</summary>
    public static VirtualNetwork? ManagedNetwork(this IBpfBackend backend) =>
        (backend as ManagedBackend)?.Runtime.Network;
}
