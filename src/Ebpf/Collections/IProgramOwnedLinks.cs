namespace Ebpf.Collections;

/// <summary>
/// Program-owned extension links (beyond the kernel; the managed runtime): a tracing link handed to its target
/// program is held by that program instead of holding it — the link lives exactly as long as the target does and is
/// released when the target is freed. The XDP dispatcher's "program-owned replacement" mode is built on it.
/// </summary>
internal interface IProgramOwnedLinks
{
    /// <summary>
    /// Moves <paramref name="link"/> (an extension's tracing link on a BPF program) under its target: the target
    /// takes a reference on the link, the link's reference on the target becomes a plain pointer. The caller's handle
    /// stays valid and may be dropped. EINVAL for any other link.
    /// </summary>
    void GiveLinkToTarget(BpfLink link);
}
