using System.Globalization;
using System.Text;

namespace Ebpf.Verification;

/// <summary>Register and stack notation of the 6.18 verifier log (program-types.md §5.2).</summary>
internal static class StateFormatter
{
    /// <summary>Numbers in the s16 range print in decimal, anything else as hex of the u64.</summary>
    public static string Number(ulong v) =>
        (long)v >= -32768 && (long)v <= 32767 ? ((long)v).ToString(CultureInfo.InvariantCulture) : $"0x{v:x}";

    private static string Number32(uint v) =>
        (int)v >= -32768 && (int)v <= 32767 ? ((int)v).ToString(CultureInfo.InvariantCulture) : $"0x{v:x}";

    /// <summary>The kernel's <c>reg_type_str</c>.</summary>
    public static string TypeName(in RegisterState r)
    {
        string b = r.Type switch
        {
            RegisterType.NotInit => "?",
            RegisterType.Scalar => "scalar",
            RegisterType.Ctx => "ctx",
            RegisterType.MapPtr => "map_ptr",
            RegisterType.MapValue => "map_value",
            RegisterType.MapKey => "map_key",
            RegisterType.Stack => "fp",
            RegisterType.Packet => "pkt",
            RegisterType.PacketMeta => "pkt_meta",
            RegisterType.PacketEnd => "pkt_end",
            RegisterType.Mem => "mem",
            RegisterType.RingbufMem => "ringbuf_mem",
            RegisterType.SockCommon => "sock_common",
            RegisterType.Socket => "sock",
            RegisterType.TcpSock => "tcp_sock",
            RegisterType.XdpSock => "xdp_sock",
            RegisterType.BtfId => "ptr_",
            RegisterType.Func => "func",
            RegisterType.FlowKeys => "flow_keys",
            RegisterType.TpBuffer => "tp_buffer",
            RegisterType.Buf => "buf",
            _ => "?",
        };
        if (r.ReadOnly && r.Type is RegisterType.Mem or RegisterType.Buf) b = "rdonly_" + b;
        if (r.Type == RegisterType.BtfId && KernelTypes.TryGetPercpu(r.MemSize, out _)) b = "percpu_" + b;
        else if (r.Type == RegisterType.BtfId && KernelTypes.Name(r.MemSize) == Attach.BtfPointerLoads.UntrustedMemory)
            return r.MaybeNull ? Attach.BtfPointerLoads.UntrustedMemory + "_or_null" : Attach.BtfPointerLoads.UntrustedMemory;
        else if (r.Type == RegisterType.BtfId) b = TrustedPointers.Prefix(r.Trust) + b;
        // reg_type_str: PTR_TO_BTF_ID's null postfix goes before the struct name ("ptr_or_null_"), the others' after.
        if (r.MaybeNull && r.Type == RegisterType.BtfId) return b + "or_null_";
        return r.MaybeNull ? b + "_or_null" : b;
    }

    /// <summary>One register value, e.g. <c>map_value_or_null(id=1,ks=4,vs=8)</c>, <c>fp-4</c>, <c>16</c>.</summary>
    /// <param name="r">The register to print.</param>
    /// <param name="allPrecise">Without CAP_BPF the kernel makes every scalar precise when it is created
    /// (__mark_reg_unknown, __mark_reg_const_zero set precise = !bpf_capable), so every scalar prints with P.</param>
    /// <param name="frameNo">The frame holding the register: a stack pointer into another frame's stack shows that
    /// frame's number, e.g. <c>fp[0]-8</c> in a callee (-1: unknown, never shown).</param>
    public static string Register(in RegisterState r, bool allPrecise = false, int frameNo = -1)
    {
        if (r.Type == RegisterType.Scalar)
        {
            // print_reg_state: a scalar whose value some decision depended on is prefixed with P. With CAP_BPF only
            // checkpoints carry the mark (backtracking never marks the state being explored), so it shows in the
            // "parent state" lines of mark_precise and in the old state of an infinite-loop report.
            string p = r.Precise || allPrecise ? "P" : "";
            if (r.VarOff.IsConst) return p + Number(r.VarOff.Value);
            // Scalars linked by a register copy share an id (sync_linked_regs); print_reg_state shows it first.
            string ranges = ScalarRanges(r);
            // A link through rX += K shows its difference after the base id (id=1+4).
            string id = (r.Id & RegisterState.AddConstMask) != 0 ? $"id={r.BaseId}{r.Off:+0;-0}" : $"id={r.Id}";
            if (r.Id != 0) ranges = ranges.Length > 0 ? $"{id},{ranges}" : id;
            return p + "scalar(" + ranges + ")";
        }
        string frameTag = r.Type == RegisterType.Stack && frameNo >= 0 && r.FrameNo != frameNo ? $"[{r.FrameNo}]" : "";
        if (r.Type == RegisterType.Stack && r.VarOff.IsConst && !r.MaybeNull)
            return "fp" + frameTag + ((long)r.Off + (long)r.VarOff.Value).ToString(CultureInfo.InvariantCulture);
        var parts = new List<string>();
        if (r.Id != 0) parts.Add($"id={r.Id}");
        if (r.RefObjId != 0) parts.Add($"ref_obj_id={r.RefObjId}");
        if (r.Type is RegisterType.MapPtr or RegisterType.MapValue or RegisterType.MapKey && r.Map is not null)
        {
            if (!string.IsNullOrEmpty(r.Map.Name)) parts.Add($"map={r.Map.Name}");
            parts.Add($"ks={r.Map.KeySize},vs={r.Map.ValueSize}");
        }
        if (r.Off != 0) parts.Add($"off={r.Off}");
        if (r.IsPacketPointer) parts.Add($"r={Number((ulong)r.Range)}");
        if (r.Type is RegisterType.Mem or RegisterType.RingbufMem) parts.Add($"sz={r.MemSize}");
        if (DynptrSlots.BufferText(r) is { } buffer) parts.Add(buffer);
        if (r.VarOff.IsConst)
        {
            if (r.VarOff.Value != 0) parts.Add($"imm={r.VarOff.Value:x}");
        }
        else
        {
            parts.Add(ScalarRanges(r));
        }
        // print_verifier_state: a PTR_TO_BTF_ID shows its struct (ptr_xdp_buff); the untrusted read-only memory a
        // void * member yields is PTR_TO_MEM of size 0.
        if (r.Type == RegisterType.BtfId && KernelTypes.TryGetPercpu(r.MemSize, out var percpu))
            return $"{TypeName(r)}{percpu.Name}(" + string.Join(",", parts) + ")";
        if (r.Type == RegisterType.BtfId && KernelTypes.Name(r.MemSize) is { Length: > 0 } btfName)
            return btfName == Attach.BtfPointerLoads.UntrustedMemory ? $"{TypeName(r)}(sz=0)" : $"{TypeName(r)}{btfName}(" + string.Join(",", parts) + ")";
        return TypeName(r) + frameTag + "(" + string.Join(",", parts) + ")";
    }

    /// <summary><c>print_scalar_ranges</c>: non-default bounds, equal values merged with '='.</summary>
    public static string ScalarRanges(in RegisterState r)
    {
        var items = new List<(string Name, ulong Value, bool Is32, bool Default)>
        {
            ("smin", (ulong)r.SMin, false, r.SMin == long.MinValue),
            ("smax", (ulong)r.SMax, false, r.SMax == long.MaxValue),
            ("umin", r.UMin, false, r.UMin == 0),
            ("umax", r.UMax, false, r.UMax == ulong.MaxValue),
            ("smin32", Signed32(r.S32Min), true, r.S32Min == int.MinValue),
            ("smax32", Signed32(r.S32Max), true, r.S32Max == int.MaxValue),
            ("umin32", r.U32Min, true, r.U32Min == 0),
            ("umax32", r.U32Max, true, r.U32Max == uint.MaxValue),
        };
        var done = new bool[items.Count];
        var sb = new StringBuilder();
        for (int i = 0; i < items.Count; i++)
        {
            if (done[i] || items[i].Default) continue;
            if (sb.Length > 0) sb.Append(',');
            sb.Append(items[i].Name);
            // Only mins merge with mins and maxes with maxes, and a negative signed bound never with an unsigned one.
            bool negative = IsNegativeSigned(items[i]);
            for (int j = i + 2; j < items.Count; j += 2)
            {
                if (done[j] || items[j].Default || items[j].Value != items[i].Value || IsNegativeSigned(items[j]) != negative) continue;
                sb.Append('=').Append(items[j].Name);
                done[j] = true;
            }
            // verbose_snum / verbose_unum: an unsigned bound is never shown as a negative number.
            if (items[i].Name[0] == 'u')
                sb.Append('=').Append(items[i].Value <= 32767 ? items[i].Value.ToString(CultureInfo.InvariantCulture) : $"0x{items[i].Value:x}");
            else
                sb.Append('=').Append(items[i].Is32 ? Number32((uint)items[i].Value) : Number(items[i].Value));
        }
        if (!r.VarOff.IsUnknown)
        {
            if (sb.Length > 0) sb.Append(',');
            sb.Append($"var_off=(0x{r.VarOff.Value:x}; 0x{r.VarOff.Mask:x})");
        }
        return sb.ToString();
    }

    // 6.18 sign-extends a 32-bit signed bound only where it prints in decimal; shown in hex it is the u32 value
    // (smax32=0x80000001, never 0xffffffff80000001), so it merges with umax32 and never with the 64-bit smax.
    private static ulong Signed32(int v) => v >= -32768 && v <= 32767 ? (ulong)(long)v : (uint)v;

    private static bool IsNegativeSigned((string Name, ulong Value, bool Is32, bool Default) item) =>
        item.Name[0] == 's' && (long)item.Value < 0;

    /// <summary>A stack slot, e.g. <c>fp-8=0000????</c>, <c>fp-16=ctx()</c>, <c>fp-8=42</c>.</summary>
    public static string Slot(int slotIndex, in StackSlot slot, bool allPrecise = false, int frameNo = -1)
    {
        string name = $"fp{-(slotIndex + 1) * 8}";
        if (slot.IsSpill) return name + "=" + Register(slot.Spilled, allPrecise, frameNo);
        if (slot[7] == StackByte.Iter) return name + "=" + IteratorSlots.Format(slot.Spilled);
        if (slot[7] == StackByte.Dynptr) return name + "=" + DynptrSlots.Format(slot.Spilled);
        var sb = new StringBuilder(8);
        for (int i = 0; i < 8; i++)
            sb.Append(slot[i] switch
            {
                StackByte.Zero => '0', StackByte.Misc => 'm', StackByte.Spill => 'r', StackByte.Dynptr => 'd', StackByte.Iter => 'i', _ => '?',
            });
        return name + "=" + sb;
    }

    /// <summary>An iterator's slots after its first: print_verifier_state shows the iterator once, at its first slot.</summary>
    public static bool IsSecondaryObjectSlot(in StackSlot slot) =>
        (slot[7] == StackByte.Iter && slot.Spilled.RefObjId == 0) || (slot[7] == StackByte.Dynptr && slot.Spilled.FuncInsn != 1);

    /// <summary>A whole frame: live registers then non-empty stack slots.</summary>
    public static string Frame(FrameState f, VerifierState? state = null, bool allPrecise = false)
    {
        var parts = new List<string>();
        // print_verifier_state names every frame but the entry one.
        if (f.FrameNo > 0) parts.Add($"frame{f.FrameNo}:");
        for (int i = 0; i < 11; i++)
            if (f.Registers[i].Type != RegisterType.NotInit) parts.Add($"R{i}={Register(f.Registers[i], allPrecise, f.FrameNo)}");
        for (int s = 0; s < FrameState.Slots; s++)
            if (!f.Stack[s].IsEmpty && !IsSecondaryObjectSlot(f.Stack[s])) parts.Add(Slot(s, f.Stack[s], allPrecise, f.FrameNo));
        if (state is not null && state.References.Count > 0)
            parts.Add("refs=" + string.Join(",", state.References.Select(r => r.Id)));
        if (CallbackMark(f) is { } mark) parts.Add(mark);
        return string.Join(" ", parts);
    }

    /// <summary>print_verifier_state ends a callback's frame with "cb" (bpf_loop and the like) or "async_cb" (timers).</summary>
    public static string? CallbackMark(FrameState f) => !f.IsCallback ? null : f.ReturnsToCallSite ? "cb" : "async_cb";
}
