namespace Ebpf.Abi.Helpers;

/// <summary>
/// A helper's <c>struct bpf_func_proto</c> as data: return type, up to five arguments, and the flags the
/// verifier consults (<c>gpl_only</c>, <c>pkt_access</c>), plus facts the verifier derives from the id
/// (packet-data changes, sleepability, the map types the helper accepts).
/// </summary>
public sealed record HelperPrototype(
    HelperId Id,
    HelperReturnKind Return,
    IReadOnlyList<HelperArg> Arguments,
    bool GplOnly = false,
    bool PacketAccess = false)
{
    /// <summary>Log name, e.g. <c>bpf_map_lookup_elem</c>.</summary>
    public string Name => HelperNames.KernelName((int)Id);

    /// <summary>True when the helper may change packet data (<c>bpf_helper_changes_pkt_data</c>):
    /// every packet pointer is invalidated after the call.</summary>
    public bool ChangesPacketData { get; init; }

    /// <summary>True for helpers only sleepable programs may call (copy_from_user, …).</summary>
    public bool SleepableOnly { get; init; }

    /// <summary>For RET_INTEGER helpers whose result the kernel narrows (<c>do_refine_retval_range</c>):
    /// the result is at most the size argument of this index (0-based), or -1.</summary>
    public int ReturnBoundedBySizeArg { get; init; } = -1;

    /// <summary>For RET_PTR_TO_MEM / ringbuf: the fixed size of the returned memory, when known from the proto.</summary>
    public int ReturnMemorySize { get; init; }

    /// <summary>For BtfId / BtfIdOrNull returns: the kernel struct R0 points to (<c>tcp_sock</c>, <c>pt_regs</c>, …).</summary>
    public string? ReturnBtfType { get; init; }

    /// <summary>True for the kernel's pointer-cast helpers (<c>is_ptr_cast_function</c>: sk_fullsock, tcp_sock,
    /// skc_to_*): R0 keeps the reference of the argument, so releasing either releases both.</summary>
    public bool CastsReference { get; init; }

    /// <summary>Non-null when the helper needs machinery this verifier does not model (dynptr slots, kptr
    /// fields): the verifier rejects calls to it with this reason instead of guessing, so nothing unchecked runs.</summary>
    public string? Unsupported { get; init; }

    /// <summary>Map types accepted by the ARG_CONST_MAP_PTR argument (<c>check_map_func_compatibility</c>);
    /// null = any map type that is not restricted to other helpers.</summary>
    public IReadOnlyList<MapType>? AcceptedMapTypes { get; init; }

    /// <summary>Index of the ARG_CONST_MAP_PTR argument, or -1.</summary>
    public int MapArgument
    {
        get
        {
            for (int i = 0; i < Arguments.Count; i++)
                if (Arguments[i].Kind == HelperArgKind.ConstMapPtr) return i;
            return -1;
        }
    }
}
