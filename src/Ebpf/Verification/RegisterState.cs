namespace Ebpf.Verification;

/// <summary>
/// The abstract value of one register (the kernel's <c>struct bpf_reg_state</c>): a type, a fixed
/// offset <see cref="Off"/> for pointers, and for the variable part (the whole value of a scalar) a tnum
/// plus signed/unsigned 64- and 32-bit bounds that are kept consistent by <see cref="ScalarBounds.Sync"/>.
/// </summary>
internal struct RegisterState
{
    public RegisterType Type;
    /// <summary>PTR_MAYBE_NULL: the pointer must be compared with 0 before use.</summary>
    public bool MaybeNull;
    /// <summary>MEM_RDONLY (read-only memory, e.g. a BPF_F_RDONLY_PROG map value).</summary>
    public bool ReadOnly;
    /// <summary>Typed kernel pointers: PTR_TRUSTED / PTR_UNTRUSTED / MEM_RCU (see <see cref="TrustedPointers"/>).</summary>
    public PointerTrust Trust;
    /// <summary>Fixed offset of a pointer from its base.</summary>
    public int Off;
    public Tnum VarOff;
    public long SMin, SMax;
    public ulong UMin, UMax;
    public int S32Min, S32Max;
    public uint U32Min, U32Max;
    /// <summary>Identity shared by copies: null-check propagation for maybe-null pointers, packet range
    /// sharing for packet pointers, equal-value linking for scalars.</summary>
    public int Id;
    /// <summary>Id of the acquired reference this pointer belongs to (ringbuf records, sockets), or 0.</summary>
    public int RefObjId;
    /// <summary>Packet pointers: bytes known to be in the packet from the pointer's base (<c>r=</c>);
    /// <see cref="BeyondPacketEnd"/> when the pointer is known to be past pkt_end.</summary>
    public long Range;
    /// <summary>PTR_TO_MEM / ringbuf: size of the memory (<c>sz=</c>).</summary>
    public int MemSize;
    /// <summary>Map pointers and map values: the map.</summary>
    public IVerifierMapInfo? Map;
    /// <summary>Stack pointers: which call frame's stack.</summary>
    public int FrameNo;
    /// <summary>PTR_TO_MEM slices of a dynptr: the dynptr's id (they die with it, the kernel's dynptr_id).</summary>
    public int DynptrId;
    /// <summary>Func pointers: the callee's first instruction.</summary>
    public int FuncInsn;
    /// <summary>Scalars in a checkpoint: some later decision depended on this exact value (the kernel's <c>precise</c>),
    /// so a state reaching the checkpoint must have a value within this one's range to be pruned. Imprecise scalars
    /// match any scalar. Set by precision backtracking, never on the state being explored.</summary>
    public bool Precise;

    public const long BeyondPacketEnd = -2;

    /// <summary>BPF_ADD_CONST: set in a scalar's <see cref="Id"/> after <c>rX += K</c> on a linked scalar; the scalar then
    /// equals the others of its base id plus <see cref="Off"/> (sync_linked_regs adds the difference).</summary>
    public const int AddConstFlag = 1 << 30;

    /// <summary>BPF_ADD_CONST32: the same after <c>wX += K</c> on a linked scalar that fit in 32 bits; the scalar then
    /// equals the others of its base id plus <see cref="Off"/>, zero-extended from 32 bits.</summary>
    public const int AddConst32Flag = 1 << 29;

    /// <summary>BPF_ADD_CONST: either kind of link with a difference.</summary>
    public const int AddConstMask = AddConstFlag | AddConst32Flag;

    /// <summary>The id without <see cref="AddConstMask"/>: scalars with one base id are linked.</summary>
    public readonly int BaseId => Id & ~AddConstMask;

    public readonly bool IsScalar => Type == RegisterType.Scalar;
    public readonly bool IsPointer => Type is not (RegisterType.Scalar or RegisterType.NotInit);
    public readonly bool IsConst => Type == RegisterType.Scalar && VarOff.IsConst;
    public readonly ulong ConstValue => VarOff.Value;
    public readonly bool IsPacketPointer => Type is RegisterType.Packet or RegisterType.PacketMeta;

    public static RegisterState NotInit => default;

    public static RegisterState UnknownScalar()
    {
        var r = new RegisterState { Type = RegisterType.Scalar };
        ScalarBounds.MarkUnbounded(ref r);
        return r;
    }

    public static RegisterState ConstScalar(ulong value)
    {
        var r = new RegisterState { Type = RegisterType.Scalar };
        ScalarBounds.MarkKnown(ref r, value);
        return r;
    }

    /// <summary>A pointer of <paramref name="type"/> with zero offset and a known-zero variable part.</summary>
    public static RegisterState Pointer(RegisterType type)
    {
        var r = new RegisterState { Type = type };
        ScalarBounds.MarkKnown(ref r, 0);
        return r;
    }

    /// <summary>An unknown scalar in [0, 2^(8*size)-1] (a zero-extended load of <paramref name="size"/> bytes).</summary>
    public static RegisterState UnknownOfSize(int size)
    {
        var r = UnknownScalar();
        if (size < 8)
        {
            r.VarOff = Tnum.Unknown.Cast(size);
            ScalarBounds.ResetFromTnum(ref r);
        }
        return r;
    }
}
