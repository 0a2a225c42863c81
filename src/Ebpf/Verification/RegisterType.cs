namespace Ebpf.Verification;

/// <summary>What a register holds, as the kernel's <c>enum bpf_reg_type</c> base types.</summary>
internal enum RegisterType : byte
{
    /// <summary>NOT_INIT: never written (reading it is "R%d !read_ok").</summary>
    NotInit,
    /// <summary>SCALAR_VALUE: a number with tnum and bounds.</summary>
    Scalar,
    /// <summary>PTR_TO_CTX.</summary>
    Ctx,
    /// <summary>CONST_PTR_TO_MAP (from ld_imm64 BPF_PSEUDO_MAP_FD/IDX).</summary>
    MapPtr,
    /// <summary>PTR_TO_MAP_VALUE (maybe null after lookup).</summary>
    MapValue,
    /// <summary>PTR_TO_MAP_KEY (for_each_map_elem callbacks).</summary>
    MapKey,
    /// <summary>PTR_TO_STACK.</summary>
    Stack,
    /// <summary>PTR_TO_PACKET.</summary>
    Packet,
    /// <summary>PTR_TO_PACKET_META.</summary>
    PacketMeta,
    /// <summary>PTR_TO_PACKET_END.</summary>
    PacketEnd,
    /// <summary>PTR_TO_MEM (helper-returned memory with a size).</summary>
    Mem,
    /// <summary>PTR_TO_MEM | MEM_RINGBUF: a ring buffer reservation.</summary>
    RingbufMem,
    /// <summary>PTR_TO_SOCK_COMMON.</summary>
    SockCommon,
    /// <summary>PTR_TO_SOCKET.</summary>
    Socket,
    /// <summary>PTR_TO_TCP_SOCK.</summary>
    TcpSock,
    /// <summary>PTR_TO_BTF_ID.</summary>
    BtfId,
    /// <summary>PTR_TO_FUNC (ld_imm64 BPF_PSEUDO_FUNC).</summary>
    Func,
    /// <summary>PTR_TO_FLOW_KEYS.</summary>
    FlowKeys,
    /// <summary>PTR_TO_TP_BUFFER.</summary>
    TpBuffer,
    /// <summary>PTR_TO_XDP_SOCK (an xskmap lookup, once checked non-NULL).</summary>
    XdpSock,
    /// <summary>PTR_TO_BUF: an iterator's key or value buffer (<see cref="RegisterState.ReadOnly"/>: MEM_RDONLY).</summary>
    Buf,
}

/// <summary>Map metadata the verifier needs; the loader's MapSpec and runtime maps provide it.</summary>
public interface IVerifierMapInfo
{
    /// <summary>The map's name, as the verifier log quotes it.</summary>
    string Name { get; }
    /// <summary>The map type, which decides the helpers and accesses allowed on it.</summary>
    Abi.MapType Type { get; }
    /// <summary>Bytes of a key: what a key pointer argument must make readable.</summary>
    uint KeySize { get; }
    /// <summary>Bytes of a value: the bounds of a map-value pointer.</summary>
    uint ValueSize { get; }
    /// <summary>The map's capacity (array index bounds, tail-call indices).</summary>
    uint MaxEntries { get; }
    /// <summary>BPF_F_* map flags (e.g. BPF_F_RDONLY_PROG makes values read-only to the program).</summary>
    Abi.MapFlags Flags { get; }
    /// <summary>True when the map was frozen (BPF_MAP_FREEZE): its contents are constant for the program.</summary>
    bool Frozen { get; }
    /// <summary>Offset of a <c>struct bpf_spin_lock</c> in the value (from BTF), or -1.</summary>
    int SpinLockOffset => -1;
    /// <summary>Offset of a <c>struct bpf_timer</c> in the value (from BTF), or -1.</summary>
    int TimerOffset => -1;
    /// <summary>For array/hash of maps: the inner map template that lookups return.</summary>
    IVerifierMapInfo? InnerMap => null;
    /// <summary>The constant contents of a frozen read-only array's single value (.rodata), or null when unknown.
    /// Loads from it at a constant offset yield known scalars (the kernel's <c>bpf_map_direct_read</c>).</summary>
    ReadOnlyMemory<byte>? FrozenValue => null;
}

/// <summary>A plain <see cref="IVerifierMapInfo"/> for callers without a map object (tests, tools).</summary>
public sealed record VerifierMapInfo(
    Abi.MapType Type, uint KeySize, uint ValueSize, uint MaxEntries,
    Abi.MapFlags Flags = Abi.MapFlags.None, bool Frozen = false, string Name = "", int SpinLockOffset = -1,
    IVerifierMapInfo? InnerMap = null) : IVerifierMapInfo;
