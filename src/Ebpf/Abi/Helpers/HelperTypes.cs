namespace Ebpf.Abi.Helpers;

/// <summary>
/// The base of the kernel's <c>enum bpf_arg_type</c>: what a helper requires in one argument register.
/// Modifiers (read-only, may-be-null, uninitialised, written, release) are in <see cref="HelperArgFlags"/>.
/// </summary>
public enum HelperArgKind : byte
{
    /// <summary>ARG_DONTCARE: the register is not an argument (not checked).</summary>
    None,
    /// <summary>ARG_ANYTHING: any initialised register.</summary>
    Anything,
    /// <summary>ARG_CONST_MAP_PTR: a map pointer from ld_imm64 (map type must suit the helper).</summary>
    ConstMapPtr,
    /// <summary>ARG_PTR_TO_MAP_KEY: key_size readable bytes.</summary>
    PtrToMapKey,
    /// <summary>ARG_PTR_TO_MAP_VALUE: value_size bytes (readable, or writable with MemUninit|MemWrite).</summary>
    PtrToMapValue,
    /// <summary>ARG_PTR_TO_MEM: memory sized by the next ConstSize/ConstSizeOrZero argument (or a fixed size).</summary>
    PtrToMem,
    /// <summary>ARG_CONST_SIZE: bounded non-zero size of the preceding memory argument.</summary>
    ConstSize,
    /// <summary>ARG_CONST_SIZE_OR_ZERO.</summary>
    ConstSizeOrZero,
    /// <summary>ARG_CONST_ALLOC_SIZE_OR_ZERO: a known constant size (ringbuf_reserve).</summary>
    ConstAllocSizeOrZero,
    /// <summary>ARG_PTR_TO_CTX: the unmodified context pointer.</summary>
    PtrToCtx,
    /// <summary>ARG_PTR_TO_FUNC: a callback (ld_imm64 with BPF_PSEUDO_FUNC).</summary>
    PtrToFunc,
    /// <summary>ARG_PTR_TO_STACK (with MaybeNull: ARG_PTR_TO_STACK_OR_NULL).</summary>
    PtrToStack,
    /// <summary>ARG_PTR_TO_CONST_STR: a NUL-terminated string in a frozen read-only map value.</summary>
    PtrToConstStr,
    /// <summary>ARG_PTR_TO_RINGBUF_MEM (6.1: ARG_PTR_TO_ALLOC_MEM): a ringbuf reservation.</summary>
    PtrToRingbufMem,
    /// <summary>ARG_PTR_TO_SPIN_LOCK: map value pointing exactly at a struct bpf_spin_lock.</summary>
    PtrToSpinLock,
    /// <summary>ARG_PTR_TO_TIMER: map value pointing at a struct bpf_timer.</summary>
    PtrToTimer,
    /// <summary>ARG_PTR_TO_SOCK_COMMON / ARG_PTR_TO_SOCKET: a socket pointer the verifier tracks
    /// (sock_common, sock, tcp_sock); <see cref="HelperArg.BtfType"/> "sock" narrows it to full sockets.</summary>
    PtrToSocket,
    /// <summary>ARG_PTR_TO_BTF_ID_SOCK_COMMON: a tracked socket pointer or a typed kernel pointer to a socket
    /// struct (sock_common, sock, tcp_sock, tcp6_sock, udp6_sock, …).</summary>
    PtrToBtfIdSockCommon,
    /// <summary>ARG_PTR_TO_PERCPU_BTF_ID: a per-cpu kernel variable from a typed ksym.</summary>
    PtrToPercpuBtfId,
    /// <summary>ARG_PTR_TO_BTF_ID: a typed kernel pointer (task_struct, …).</summary>
    PtrToBtfId,
    /// <summary>ARG_PTR_TO_DYNPTR.</summary>
    PtrToDynptr,
    /// <summary>ARG_PTR_TO_KPTR.</summary>
    PtrToKptr,
}

/// <summary>Type modifiers of <c>enum bpf_type_flag</c> as they apply to helper arguments.</summary>
[Flags]
public enum HelperArgFlags : ushort
{
    /// <summary>No modifier: the base argument type alone.</summary>
    None = 0,
    /// <summary>PTR_MAYBE_NULL: the constant 0 is accepted (then a following size must be 0).</summary>
    MaybeNull = 1 << 0,
    /// <summary>MEM_RDONLY: the helper only reads the memory.</summary>
    ReadOnly = 1 << 1,
    /// <summary>MEM_UNINIT: the memory need not be initialised (the helper fills it).</summary>
    Uninit = 1 << 2,
    /// <summary>MEM_WRITE: the helper writes the memory (rejected for BPF_F_RDONLY_PROG map values).</summary>
    Write = 1 << 3,
    /// <summary>OBJ_RELEASE: the argument's reference is released by the call.</summary>
    Release = 1 << 4,
    /// <summary>MEM_FIXED_SIZE: the size is <see cref="HelperArg.FixedSize"/>, not the next argument.</summary>
    FixedSize = 1 << 5,
    /// <summary>MEM_ALIGNED: the memory must be aligned to its size.</summary>
    Aligned = 1 << 6,
}

/// <summary>One argument of a helper prototype.</summary>
/// <param name="Kind">The base argument type (<c>enum bpf_arg_type</c> without modifiers).</param>
/// <param name="Flags">Modifiers of the base type (<c>enum bpf_type_flag</c> bits).</param>
/// <param name="FixedSize">With <see cref="HelperArgFlags.FixedSize"/>: the byte size of the memory argument.</param>
/// <param name="BtfType">For PtrToBtfId: the kernel struct the pointer must point to (<c>task_struct</c>, …).</param>
public readonly record struct HelperArg(HelperArgKind Kind, HelperArgFlags Flags = HelperArgFlags.None, int FixedSize = 0, string? BtfType = null)
{
    /// <summary>Whether the argument points to memory whose size the verifier checks (mem, map key or value).</summary>
    public bool IsMemory => Kind is HelperArgKind.PtrToMem or HelperArgKind.PtrToMapKey or HelperArgKind.PtrToMapValue;
    /// <summary>Whether the argument is the size of the preceding memory argument.</summary>
    public bool IsSize => Kind is HelperArgKind.ConstSize or HelperArgKind.ConstSizeOrZero;
    /// <summary>Whether any bit of <paramref name="flag"/> is among the argument's modifiers.</summary>
    public bool Has(HelperArgFlags flag) => (Flags & flag) != 0;

    /// <summary>The kind, its modifiers and BTF type as the verifier's diagnostics show them.</summary>
    public override string ToString() =>
        (Flags == HelperArgFlags.None ? Kind.ToString() : $"{Kind}|{Flags}") + (BtfType is null ? "" : $"({BtfType})");
}

/// <summary>The kernel's <c>enum bpf_return_type</c> (base types; "or null" is part of the name here).</summary>
public enum HelperReturnKind : byte
{
    /// <summary>RET_INTEGER: R0 is an unknown scalar.</summary>
    Integer,
    /// <summary>RET_VOID: R0 is left uninitialised.</summary>
    Void,
    /// <summary>RET_PTR_TO_MAP_VALUE_OR_NULL: map_value_or_null(id=N) of the ARG_CONST_MAP_PTR map.</summary>
    MapValueOrNull,
    /// <summary>RET_PTR_TO_RINGBUF_MEM_OR_NULL: ringbuf_mem_or_null, acquires a reference.</summary>
    RingbufMemOrNull,
    /// <summary>RET_PTR_TO_MEM_OR_BTF_ID (| MAYBE_NULL): per_cpu_ptr / this_cpu_ptr.</summary>
    MemOrBtfId,
    /// <summary>RET_PTR_TO_SOCKET_OR_NULL (acquires a reference).</summary>
    SocketOrNull,
    /// <summary>RET_PTR_TO_TCP_SOCK_OR_NULL.</summary>
    TcpSockOrNull,
    /// <summary>RET_PTR_TO_SOCK_COMMON_OR_NULL.</summary>
    SockCommonOrNull,
    /// <summary>RET_PTR_TO_BTF_ID (| MAYBE_NULL): typed kernel pointer.</summary>
    BtfIdOrNull,
    /// <summary>RET_PTR_TO_BTF_ID, never null (get_current_task_btf).</summary>
    BtfId,
    /// <summary>RET_PTR_TO_MEM | MEM_ALLOC … (dynptr data): memory of a known size or null.</summary>
    MemOrNull,
}
