using Ebpf.Runtime.Objects;

namespace Ebpf.Runtime.Iterators;

/// <summary>
/// The attachment of a BPF_LINK_TYPE_ITER link: the target and, for bpf_map_elem, the map of iter_info, held with a
/// user reference as bpf_map_get_with_uref holds it until the link is released. Iterator links have no LINK_DETACH
/// in 6.18's bpf_iter_link_lops (EOPNOTSUPP) and update only to a program of the same target.
/// </summary>
internal sealed class IterLinkAttachment(string target, MapObject? map) : ILinkAttachment
{
    public string Target { get; } = target;
    public MapObject? Map { get; } = map;

    public bool SupportsDetach => false;

    public void Release(LinkObject link) => Map?.ReleaseUser();
}
