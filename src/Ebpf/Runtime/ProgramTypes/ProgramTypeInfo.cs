using Ebpf.Abi;

namespace Ebpf.Runtime.ProgramTypes;

/// <summary>How BPF_PROG_TEST_RUN handles a program type (program-types.md §3).</summary>
internal enum TestRunKind
{
    /// <summary>No test_run op: ENOTSUPP (524).</summary>
    None,
    Skb,
    Xdp,
    RawTracepoint,
    Syscall,
}

/// <summary>What a context pointer field turns into (the verifier's PTR_TO_PACKET*, …).</summary>
internal enum ContextPointerKind
{
    PacketData,
    PacketEnd,
    PacketMeta,
}

/// <summary>
/// A user-visible ctx field that the kernel's convert_ctx_access turns into a 64-bit pointer load:
/// a load of <see cref="Size"/> bytes at <see cref="UserOffset"/> becomes an 8-byte load at
/// <see cref="InternalOffset"/> of the runtime's context block.
/// </summary>
internal sealed record ContextPointerField(string Name, int UserOffset, int Size, int InternalOffset, ContextPointerKind Kind);

/// <summary>
/// The runtime side of a program type: the size of the user-visible context, where the internal
/// context block keeps the real pointers (the block starts with the user-visible struct, so scalar
/// fields are read in place, and continues with 64-bit pointer slots), and how test_run works.
/// Access rules (which offsets and sizes are legal) are the verifier's (Abi/Contexts).
/// </summary>
public sealed class ProgramTypeInfo : Verification.IContextAccessConverter
{
    /// <summary>sizeof(struct __sk_buff).</summary>
    internal const int SkBuffUserSize = 192;
    /// <summary>sizeof(struct xdp_md).</summary>
    internal const int XdpMdUserSize = 24;

    // Internal block layout: user view, then data, data_end, data_meta as u64.
    internal const int SkbDataSlot = SkBuffUserSize;
    internal const int SkbDataEndSlot = SkBuffUserSize + 8;
    internal const int SkbDataMetaSlot = SkBuffUserSize + 16;
    internal const int SkbInternalSize = SkBuffUserSize + 24;
    internal const int XdpDataSlot = XdpMdUserSize;
    internal const int XdpDataEndSlot = XdpMdUserSize + 8;
    internal const int XdpDataMetaSlot = XdpMdUserSize + 16;
    internal const int XdpInternalSize = XdpMdUserSize + 24;

    private static readonly ContextPointerField[] SkbPointers =
    [
        new("data", 76, 4, SkbDataSlot, ContextPointerKind.PacketData),
        new("data_end", 80, 4, SkbDataEndSlot, ContextPointerKind.PacketEnd),
        new("data_meta", 140, 4, SkbDataMetaSlot, ContextPointerKind.PacketMeta),
    ];

    private static readonly ContextPointerField[] XdpPointers =
    [
        new("data", 0, 4, XdpDataSlot, ContextPointerKind.PacketData),
        new("data_end", 4, 4, XdpDataEndSlot, ContextPointerKind.PacketEnd),
        new("data_meta", 8, 4, XdpDataMetaSlot, ContextPointerKind.PacketMeta),
    ];

    private static readonly Dictionary<ProgramType, ProgramTypeInfo> Known = Build();

    private ProgramTypeInfo(ProgramType type, int userContextSize, int internalContextSize, TestRunKind testRun,
        IReadOnlyList<ContextPointerField> pointers, bool allowsLdAbs = false, bool seesL2 = false, bool directPacketAccess = false)
    {
        Type = type;
        UserContextSize = userContextSize;
        InternalContextSize = internalContextSize;
        TestRun = testRun;
        PointerFields = pointers;
        AllowsLdAbs = allowsLdAbs;
        SeesL2 = seesL2;
        DirectPacketAccess = directPacketAccess;
    }

    /// <summary>The program type described.</summary>
    public ProgramType Type { get; }
    /// <summary>sizeof the struct the program sees through R1 (0 = not a fixed struct).</summary>
    public int UserContextSize { get; }
    /// <summary>Size of the runtime's native context block.</summary>
    internal int InternalContextSize { get; }
    internal TestRunKind TestRun { get; }
    /// <summary>Fields rewritten to 64-bit pointer loads (empty where ctx is real memory).</summary>
    internal IReadOnlyList<ContextPointerField> PointerFields { get; }
    /// <summary>BPF_LD_ABS/IND allowed (may_access_skb).</summary>
    internal bool AllowsLdAbs { get; }
    /// <summary>skb->data points at the Ethernet header (tc) rather than the network header.</summary>
    internal bool SeesL2 { get; }
    internal bool DirectPacketAccess { get; }

    /// <summary>The runtime's description of <paramref name="type"/> (shared, immutable).</summary>
    public static ProgramTypeInfo Get(ProgramType type) =>
        Known.TryGetValue(type, out var info) ? info : new ProgramTypeInfo(type, 0, 0, TestRunKind.None, []);

    /// <summary>The pointer field loaded by a ctx access at (offset, size), or null.</summary>
    internal ContextPointerField? PointerFieldAt(int offset, int size)
    {
        foreach (var f in PointerFields)
            if (f.UserOffset == offset && f.Size == size)
                return f;
        return null;
    }

    /// <summary>
    /// convert_ctx_access for this runtime's layout: scalar fields sit at their user-visible offsets, so loads
    /// and stores of them (narrow loads included: the block stores each field zero-extended to its UAPI width,
    /// little-endian, which is what the kernel's shifted full-field load yields) stay as written; a load of a
    /// pointer field (the verifier allows only its full 4-byte width) becomes an 8-byte load of the pointer slot.
    /// </summary>
    public Isa.Instruction[]? Convert(Isa.Instruction insn)
    {
        if (insn.Class != Isa.InstructionClass.Ldx)
            return null;
        var field = PointerFieldAt(insn.Offset, Isa.Opcodes.SizeInBytes(insn.AccessSize));
        if (field is null)
            return null;
        return [Isa.Instruction.LoadMem(Isa.AccessSize.DoubleWord, insn.Dst, insn.Src, checked((short)field.InternalOffset))];
    }

    private static Dictionary<ProgramType, ProgramTypeInfo> Build()
    {
        var d = new Dictionary<ProgramType, ProgramTypeInfo>();
        void Add(ProgramTypeInfo i) => d[i.Type] = i;
        // socket_filter: no data/data_end (sk_filter_is_valid_access denies them), LD_ABS from L3.
        Add(new(ProgramType.SocketFilter, SkBuffUserSize, SkbInternalSize, TestRunKind.Skb, [], allowsLdAbs: true));
        Add(new(ProgramType.SchedCls, SkBuffUserSize, SkbInternalSize, TestRunKind.Skb, SkbPointers, allowsLdAbs: true, seesL2: true, directPacketAccess: true));
        Add(new(ProgramType.SchedAct, SkBuffUserSize, SkbInternalSize, TestRunKind.Skb, SkbPointers, allowsLdAbs: true, seesL2: true, directPacketAccess: true));
        Add(new(ProgramType.CgroupSkb, SkBuffUserSize, SkbInternalSize, TestRunKind.Skb, SkbPointers));
        foreach (var lwt in new[] { ProgramType.LwtIn, ProgramType.LwtOut, ProgramType.LwtXmit })
            Add(new(lwt, SkBuffUserSize, SkbInternalSize, TestRunKind.Skb, SkbPointers, directPacketAccess: true));
        Add(new(ProgramType.Xdp, XdpMdUserSize, XdpInternalSize, TestRunKind.Xdp, XdpPointers, directPacketAccess: true));
        // Real-memory contexts: read as-is, no rewrite.
        Add(new(ProgramType.Kprobe, 168, 168, TestRunKind.None, []));
        Add(new(ProgramType.PerfEvent, 184, 184, TestRunKind.None, []));
        Add(new(ProgramType.Tracepoint, 0, 0, TestRunKind.None, []));
        Add(new(ProgramType.RawTracepoint, 96, 96, TestRunKind.RawTracepoint, []));
        Add(new(ProgramType.RawTracepointWritable, 96, 96, TestRunKind.None, []));
        Add(new(ProgramType.Tracing, 96, 96, TestRunKind.None, []));
        Add(new(ProgramType.Syscall, 0, 0, TestRunKind.Syscall, []));
        return d;
    }
}
