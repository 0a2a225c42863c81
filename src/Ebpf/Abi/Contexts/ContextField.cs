namespace Ebpf.Abi.Contexts;

/// <summary>Access widths as a bit set (1, 2, 4, 8 bytes).</summary>
[Flags]
public enum AccessSizes : byte
{
    /// <summary>No access of that direction is allowed.</summary>
    None = 0,
    /// <summary>1-byte access (BPF_B).</summary>
    B1 = 1,
    /// <summary>2-byte access (BPF_H).</summary>
    B2 = 2,
    /// <summary>4-byte access (BPF_W).</summary>
    B4 = 4,
    /// <summary>8-byte access (BPF_DW).</summary>
    B8 = 8,
    /// <summary>Narrow loads of a 4-byte field: 1, 2 and 4.</summary>
    UpTo4 = B1 | B2 | B4,
    /// <summary>Every width: 1, 2, 4 and 8 bytes.</summary>
    Any = B1 | B2 | B4 | B8,
}

/// <summary>What a context load yields in the destination register (<c>info->reg_type</c>).</summary>
public enum ContextValueKind : byte
{
    /// <summary>SCALAR_VALUE: a plain number.</summary>
    Scalar,
    /// <summary>PTR_TO_PACKET (<c>pkt</c>).</summary>
    Packet,
    /// <summary>PTR_TO_PACKET_END (<c>pkt_end</c>).</summary>
    PacketEnd,
    /// <summary>PTR_TO_PACKET_META (<c>pkt_meta</c>).</summary>
    PacketMeta,
    /// <summary>PTR_TO_SOCK_COMMON_OR_NULL (<c>__sk_buff->sk</c>).</summary>
    SockCommonOrNull,
    /// <summary>PTR_TO_FLOW_KEYS.</summary>
    FlowKeys,
    /// <summary>PTR_TO_TP_BUFFER (raw_tracepoint_writable ctx[0]).</summary>
    TpBuffer,
    /// <summary>PTR_TO_BTF_ID (tracing pointer arguments; needs BTF to type).</summary>
    BtfId,
    /// <summary>PTR_TO_SOCKET (<c>bpf_sock_addr->sk</c>).</summary>
    Socket,
    /// <summary>PTR_TO_SOCKET_OR_NULL (<c>bpf_sock_ops->sk</c>).</summary>
    SocketOrNull,
    /// <summary>PTR_TO_BTF_ID | PTR_MAYBE_NULL (an iterator's target object, NULL in the final call).</summary>
    BtfIdOrNull,
    /// <summary>PTR_TO_BUF | PTR_MAYBE_NULL (a bpf_map_elem iterator's value: writable, NULL in the final call).</summary>
    BufOrNull,
    /// <summary>PTR_TO_BUF | PTR_MAYBE_NULL | MEM_RDONLY (a bpf_map_elem iterator's key).</summary>
    ReadOnlyBufOrNull,
}

/// <summary>
/// One accessible region of a context: a named field, or a range such as <c>cb[]</c> or a kprobe's
/// <c>pt_regs</c>. An access [off, off+size) is valid when it lies inside the region, its size is one
/// of the allowed widths for the direction, and it is naturally aligned (off % size == 0), which is how
/// the kernel's narrow-load rule works out for 4-byte fields (1 at any byte, 2 at even, 4 at the start).
/// </summary>
/// <param name="Offset">First byte of the region in the UAPI struct.</param>
/// <param name="Length">Bytes in the region.</param>
/// <param name="Name">UAPI field name.</param>
/// <param name="Read">Widths allowed for loads.</param>
/// <param name="Write">Widths allowed for STX/ST stores (writes are never narrow).</param>
/// <param name="Yields">Register type a load produces.</param>
/// <param name="StartOnly">When true, accesses must begin at <paramref name="Offset"/> (fields the kernel lists as single
/// <c>case offsetof()</c> values, and pointer fields).</param>
/// <param name="TargetSize">Width of the kernel field backing it (for ctx rewriting of narrow loads); 0 = same as the UAPI field.</param>
public sealed record ContextField(
    int Offset,
    int Length,
    string Name,
    AccessSizes Read,
    AccessSizes Write = AccessSizes.None,
    ContextValueKind Yields = ContextValueKind.Scalar,
    bool StartOnly = false,
    int TargetSize = 0)
{
    /// <summary>First byte past the region.</summary>
    public int End => Offset + Length;

    /// <summary>A 4-byte load at <see cref="Offset"/> is allowed though the field is narrower (bpf_sock's dst_port:
    /// kept for programs written when it was a u32).</summary>
    internal bool WordLoadAtStart { get; init; }

    /// <summary>True when [off, off+size) is an allowed access of this region in the given direction.</summary>
    public bool Allows(int off, int size, bool write)
    {
        if (WordLoadAtStart && !write && off == Offset && size == 4) return true;
        if (off < Offset || off + size > End) return false;
        var sizes = write ? Write : Read;
        if (size is not (1 or 2 or 4 or 8) || ((int)sizes & size) == 0) return false;
        if (StartOnly && off != Offset) return false;
        return off % size == 0;
    }
}
