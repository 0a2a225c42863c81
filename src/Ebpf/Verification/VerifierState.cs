namespace Ebpf.Verification;

/// <summary>Per-byte stack slot state (<c>STACK_INVALID</c>, <c>STACK_SPILL</c>, <c>STACK_MISC</c>, <c>STACK_ZERO</c>).</summary>
internal enum StackByte : byte
{
    Invalid = 0,
    Spill = 1,
    Misc = 2,
    Zero = 3,
    /// <summary>STACK_DYNPTR: part of a dynptr the program created on its stack.</summary>
    Dynptr = 4,
    /// <summary>STACK_ITER: part of an open-coded iterator's state (bpf_iter_&lt;type&gt;_new made it).</summary>
    Iter = 5,
}

/// <summary>One 8-byte stack slot: a type per byte and, for spills, the spilled register.</summary>
internal struct StackSlot
{
    /// <summary>Byte i (0 = the highest address, as the kernel's <c>slot_type[]</c>) in bits 8i..8i+7.</summary>
    public ulong Types;
    /// <summary>The spilled register lives in an immutable box so a slot is 16 bytes: stacks are copied on every
    /// branch and checkpoint, and copying 64 full register states each time dominated verification time.</summary>
    private SpilledRegister? _spilled;

    public RegisterState Spilled
    {
        readonly get => _spilled is null ? default : _spilled.Value;
        set => _spilled = value.Type == RegisterType.NotInit ? null : new SpilledRegister(value);
    }

    public readonly StackByte this[int i] => (StackByte)((Types >> (i * 8)) & 0xff);

    public void Set(int i, StackByte type) => Types = (Types & ~(0xffUL << (i * 8))) | ((ulong)type << (i * 8));

    public readonly bool IsEmpty => Types == 0;
    public readonly bool IsFullSpill => Types == 0x0101010101010101UL;

    /// <summary>A register is spilled here, fully or as a narrow spill of its low bytes (the kernel's is_spilled_reg:
    /// the slot's lowest-address byte, index 7, is STACK_SPILL).</summary>
    public readonly bool IsSpill => this[7] == StackByte.Spill;

    /// <summary>Bytes of the spill, counted up from the lowest address (8 for a full spill, 0 when none).</summary>
    public readonly int SpillSize
    {
        get
        {
            int n = 0;
            for (int i = 7; i >= 0 && this[i] == StackByte.Spill; i--) n++;
            return n;
        }
    }

    /// <summary>Any byte of the slot belongs to a spilled register.</summary>
    public readonly bool HasSpillBytes
    {
        get
        {
            for (int i = 0; i < 8; i++) if (this[i] == StackByte.Spill) return true;
            return false;
        }
    }

    /// <summary>Any byte of the slot belongs to an iterator or a dynptr (the kernel's is_stack_slot_special, spills aside).</summary>
    public readonly bool HasObjectBytes
    {
        get
        {
            for (int i = 0; i < 8; i++) if (this[i] is StackByte.Iter or StackByte.Dynptr) return true;
            return false;
        }
    }

    /// <summary>scrub_spilled_slot over a whole slot: a plain data write into an iterator or dynptr slot turns every
    /// initialised byte of it into data and forgets the object (its reference, if any, stays acquired).</summary>
    public void ScrubObject()
    {
        if (!HasObjectBytes) return;
        for (int i = 0; i < 8; i++) if (this[i] != StackByte.Invalid) Set(i, StackByte.Misc);
        Spilled = default;
    }

    /// <summary>A write over part of a spill leaves plain data: the spilled register no longer describes the bytes.</summary>
    public void ScrubSpill()
    {
        if (!HasSpillBytes) return;
        for (int i = 0; i < 8; i++) if (this[i] == StackByte.Spill) Set(i, StackByte.Misc);
        Spilled = default;
    }
}

internal sealed class SpilledRegister(in RegisterState value)
{
    public readonly RegisterState Value = value;
}

/// <summary>One call frame: registers R0–R10 and its stack (the kernel's <c>bpf_func_state</c>).</summary>
internal sealed class FrameState
{
    public const int StackSize = 512;
    public const int Slots = StackSize / 8;

    public RegisterState[] Registers = new RegisterState[11];
    private StackSlot[] _stack = new StackSlot[Slots];
    /// <summary>False while <see cref="_stack"/> may be shared with a clone: states are cloned at every branch and
    /// checkpoint but most clones never touch the stack, so the 64 slots are copied on the first write only.</summary>
    private bool _ownsStack = true;

    /// <summary>The stack for reading (read-only so that no write can bypass the copy-on-write); write through
    /// <see cref="WritableStack"/>.</summary>
    public ReadOnlySpan<StackSlot> Stack => _stack;

    /// <summary>The stack for writing (copies it first when it is shared with another state).</summary>
    public StackSlot[] WritableStack
    {
        get
        {
            if (!_ownsStack)
            {
                _stack = (StackSlot[])_stack.Clone();
                _ownsStack = true;
            }
            return _stack;
        }
    }

    /// <summary>Identity of this call (frames at the same depth in different states are the same call when equal);
    /// stack read marks only travel to checkpoints that hold the same call.</summary>
    public int Serial;
    /// <summary>Slots fully overwritten (8-byte store) since the last checkpoint on this path; in a checkpoint, since
    /// the one before it. A read stops propagating liveness at such a slot.</summary>
    public ulong WrittenSlots;
    /// <summary>In a checkpoint: slots some path continuing from it read before overwriting them. Only these slots
    /// take part in state comparison (the kernel's REG_LIVE_READ for stack slots).</summary>
    public ulong ReadSlots;
    /// <summary>Instruction of the call that created this frame (-1 for the entry frame).</summary>
    public int CallSite = -1;
    /// <summary>First instruction of the function this frame runs.</summary>
    public int FunctionStart;
    public int FrameNo;
    /// <summary>Deepest stack byte touched, as a positive depth.</summary>
    public int Depth;
    /// <summary>True when this frame runs a helper callback (bpf_loop, for_each_map_elem).</summary>
    public bool IsCallback;
    /// <summary>A synchronous callback (bpf_loop, for_each_map_elem, find_vma): its exit returns to the helper call
    /// itself, which may run the callback again, rather than to the instruction after it.</summary>
    public bool ReturnsToCallSite;
    /// <summary>Callback iterations queued from this frame's current helper call (the kernel's callback_depth): bpf_loop
    /// stops queueing more once it reaches the loop count's maximum.</summary>
    public int CallbackDepth;

    public FrameState Clone()
    {
        var f = (FrameState)MemberwiseClone();
        f.Registers = (RegisterState[])Registers.Clone();
        _ownsStack = false;
        f._ownsStack = false;
        return f;
    }

    /// <summary>Slot index for the byte at stack offset <paramref name="off"/> (negative, from the frame pointer).</summary>
    public static int SlotOf(int off) => (-off - 1) / 8;

    /// <summary>Byte index within its slot for stack offset <paramref name="off"/> (kernel order).</summary>
    public static int ByteOf(int off) => (-off - 1) % 8;
}

/// <summary>An acquired reference that must be released on every path (ringbuf record, socket).</summary>
internal readonly record struct AcquiredReference(int Id, int InsnIndex);

/// <summary>A state stored at a pruning point, with the count of paths from it still being explored.</summary>
internal sealed class Checkpoint
{
    public required VerifierState State;
    public Checkpoint? Parent;
    public int Branches = 1;
    public int Insn;
    /// <summary>Index of the last history entry before this checkpoint's instruction (see <see cref="PrecisionTracker"/>).</summary>
    public int HistPos;
    /// <summary>Times this state pruned another path / failed to (the kernel's hit_cnt / miss_cnt, for eviction).</summary>
    public int HitCount, MissCount;
    public bool Evicted;
}

/// <summary>The whole abstract machine state on one path (the kernel's <c>bpf_verifier_state</c>).</summary>
internal sealed class VerifierState
{
    public List<FrameState> Frames = [];
    public List<AcquiredReference> References = [];
    /// <summary>Id of the held bpf_spin_lock (the map value register's id), or 0.</summary>
    public int ActiveLockId;
    public IVerifierMapInfo? ActiveLockMap;
    public int ActiveLockOffset;
    internal Checkpoint? Parent;
    /// <summary>Last entry of this path's instruction history (-1 at the start).</summary>
    internal int HistTail = -1;
    /// <summary>Jump and spill/fill entries since the last checkpoint (the kernel's jmp_history_cnt).</summary>
    internal int JumpHistory;
    /// <summary>may_goto loop bodies entered on this path (the kernel's may_goto_depth): states of different
    /// iterations differ here, which keeps them from being reported as an infinite loop.</summary>
    internal int MayGotoDepth;
    /// <summary>Callback iterations entered on this path (the kernel's callback_unroll_depth).</summary>
    internal int CallbackUnrollDepth;
    /// <summary>This path runs only under branch misprediction (the kernel's speculative): see <see cref="SpeculativePaths"/>.</summary>
    internal bool Speculative;

    public FrameState Current => Frames[^1];

    public VerifierState Clone()
    {
        var s = new VerifierState
        {
            References = [.. References],
            ActiveLockId = ActiveLockId,
            ActiveLockMap = ActiveLockMap,
            ActiveLockOffset = ActiveLockOffset,
            Parent = Parent,
            HistTail = HistTail,
            JumpHistory = JumpHistory,
            MayGotoDepth = MayGotoDepth,
            CallbackUnrollDepth = CallbackUnrollDepth,
            Speculative = Speculative,
        };
        foreach (var f in Frames) s.Frames.Add(f.Clone());
        return s;
    }

    /// <summary>Every register and spilled register of every frame, for id-based updates.</summary>
    public IEnumerable<(FrameState Frame, int Index, bool Spilled)> AllRegisters()
    {
        foreach (var f in Frames)
        {
            for (int i = 0; i < 11; i++) yield return (f, i, false);
            for (int s = 0; s < FrameState.Slots; s++)
                if (f.Stack[s].IsSpill) yield return (f, s, true);
        }
    }

    /// <summary>Replaces a register or spilled register (a spilled one unshares its frame's stack).</summary>
    public static void Write(FrameState f, int index, bool spilled, in RegisterState value)
    {
        if (spilled) f.WritableStack[index].Spilled = value;
        else f.Registers[index] = value;
    }

    /// <summary>The register for reading.</summary>
    public static RegisterState Read(FrameState f, int index, bool spilled) =>
        spilled ? f.Stack[index].Spilled : f.Registers[index];
}
