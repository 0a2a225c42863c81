namespace Ebpf.Execution;

/// <summary>
/// The socket-buffer side of the legacy LD_ABS/LD_IND instructions (classic-BPF packet loads, which use
/// r6 as the implicit skb). Program types that have an skb supply one; without it those instructions fail.
/// </summary>
internal interface ILegacyPacketAccess
{
    /// <summary>
    /// Reads <paramref name="size"/> (1, 2 or 4) bytes at <paramref name="offset"/> of the packet whose
    /// context is <paramref name="skb"/>, in network byte order (the interpreter converts to host order).
    /// Returns false when the bytes are outside the packet: the program then ends with r0 = 0, as in the kernel.
    /// </summary>
    bool TryLoad(ulong skb, long offset, int size, out uint value);
}
