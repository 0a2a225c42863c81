namespace Ebpf.Runtime.Net;

/// <summary>
/// The receive metadata a driver reports for one frame, as the XDP metadata kfuncs read it (bpf_xdp_metadata_rx_*).
/// A value left null is absent: its kfunc returns -ENODATA, as veth's does for a frame without an skb or a VLAN tag.
/// </summary>
public sealed record XdpRxMetadata
{
    /// <summary>The receive timestamp (ns) bpf_xdp_metadata_rx_timestamp stores; null: -ENODATA.</summary>
    public ulong? Timestamp { get; init; }
    /// <summary>The RSS hash bpf_xdp_metadata_rx_hash stores; null: -ENODATA.</summary>
    public uint? Hash { get; init; }
    /// <summary>The hash's <c>enum xdp_rss_hash_type</c> (XDP_RSS_TYPE_L4 = 8 and so on), stored with <see cref="Hash"/>.</summary>
    public uint RssType { get; init; }
    /// <summary>The VLAN protocol (0x8100, 0x88a8) in host order; bpf_xdp_metadata_rx_vlan_tag stores it big-endian (__be16). Null: no tag, -ENODATA.</summary>
    public ushort? VlanProto { get; init; }
    /// <summary>The VLAN TCI (priority, DEI, VID) stored with <see cref="VlanProto"/>.</summary>
    public ushort VlanTci { get; init; }
}

/// <summary>The xdp_metadata_ops a device's driver implements (veth implements all three).</summary>
[Flags]
public enum XdpMetadataOps
{
    /// <summary>None: a device-bound program's metadata kfuncs all return -EOPNOTSUPP.</summary>
    None = 0,
    /// <summary>xmo_rx_timestamp.</summary>
    Timestamp = 1,
    /// <summary>xmo_rx_hash.</summary>
    Hash = 2,
    /// <summary>xmo_rx_vlan_tag.</summary>
    VlanTag = 4,
    /// <summary>All three.</summary>
    All = Timestamp | Hash | VlanTag,
}
