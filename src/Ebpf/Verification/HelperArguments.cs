using Ebpf.Abi;
using Ebpf.Abi.Helpers;
using Ebpf.Btf;

namespace Ebpf.Verification;

/// <summary>
/// Helper arguments beyond maps, memory and ctx: typed kernel pointers, socket pointers, timers, and the
/// prototypes this verifier refuses to guess (check_func_arg / check_reg_type for these arg types).
/// </summary>
internal sealed class HelperArguments(VerifierContext walk) : VerifierComponent(walk)
{
    internal const string MemoryArgTypes = "fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_";

    /// <summary>The helper writes through this argument (MEM_UNINIT, or MEM_WRITE / a writable ARG_PTR_TO_MEM): stack
    /// bytes it covers hold whatever the helper left there afterwards, so they become plain data (the kernel's
    /// check_stack_range_initialized clobbers them on a BPF_WRITE access).</summary>
    internal static bool WritesMemory(HelperArg arg) => arg.Has(HelperArgFlags.Uninit) || arg.Has(HelperArgFlags.Write);

    internal VerifierError TypeMismatch(int regno, in RegisterState reg, string expected) =>
        Fail($"R{regno} type={StateFormatter.TypeName(reg)} expected={expected}");

    internal void CheckMemoryArgType(int regno, in RegisterState reg, HelperArg arg, HelperPrototype proto)
    {
        bool okType = !reg.MaybeNull && reg.Type is RegisterType.Stack or RegisterType.Packet or RegisterType.PacketMeta
            or RegisterType.MapKey or RegisterType.MapValue or RegisterType.Mem or RegisterType.RingbufMem or RegisterType.BtfId or RegisterType.Buf;
        // mem_types lists PTR_TO_BTF_ID | PTR_TRUSTED only: a plain, untrusted or RCU typed pointer is no memory argument.
        if (reg.Type == RegisterType.BtfId && (reg.Trust != PointerTrust.Trusted || KernelTypes.Name(reg.MemSize) == Attach.BtfPointerLoads.UntrustedMemory))
            okType = false;
        if (!okType) throw TypeMismatch(regno, reg, MemoryArgTypes);
        if (reg.IsPacketPointer && !proto.PacketAccess) throw Fail("helper access to the packet is not allowed");
    }

    /// <summary>check_helper_mem_access: the helper reads (or writes) <paramref name="size"/> bytes at the register.</summary>
    internal void CheckHelperMemory(int regno, in RegisterState reg, HelperArg arg, HelperPrototype proto, long size, bool zeroSizeAllowed)
    {
        CheckMemoryArgType(regno, reg, arg, proto);
        bool write = arg.Has(HelperArgFlags.Write) || arg.Has(HelperArgFlags.Uninit);
        switch (reg.Type)
        {
            case RegisterType.Stack:
            {
                var frame = StackMem.StackFrame(reg);
                // check_stack_access_within_bounds
                string rw = write ? "write to" : "read from";
                if (!reg.VarOff.IsConst && (reg.SMax >= AluChecker.MaxVarOff || reg.SMin <= -AluChecker.MaxVarOff))
                    throw Fail($"invalid unbounded variable-offset {rw} stack R{regno}");
                long min = reg.Off + reg.SMin, max = reg.Off + reg.SMax;
                if (min < -FrameState.StackSize || max + size > 0)
                    throw Fail(reg.VarOff.IsConst
                        ? $"invalid {rw} stack R{regno} off={min} size={size}"
                        : $"invalid variable-offset {rw} stack R{regno} var_off={reg.VarOff} off={reg.Off} size={size}");
                StackMem.TouchStack(frame, (int)min);
                // check_stack_range_initialized in raw mode: a helper never writes over a dynptr.
                if (arg.Has(HelperArgFlags.Uninit))
                    for (long o = min; o < max + size; o++)
                        if (frame.Stack[FrameState.SlotOf((int)o)][FrameState.ByteOf((int)o)] == StackByte.Dynptr)
                            throw Fail($"potential write to dynptr at off={o} disallowed");
                if (!write || !arg.Has(HelperArgFlags.Uninit))
                {
                    for (long o = min; o < max + size; o++)
                    {
                        Pruning.MarkStackRead(frame, FrameState.SlotOf((int)o));
                        var s = frame.Stack[FrameState.SlotOf((int)o)];
                        var t = s.IsFullSpill ? StackByte.Spill : s[FrameState.ByteOf((int)o)];
                        // check_stack_range_initialized: uninitialized bytes need allow_uninit_stack, spilled pointers
                        // allow_ptr_leaks (both CAP_PERFMON); iterator and dynptr bytes are never readable memory.
                        if (t is StackByte.Iter or StackByte.Dynptr
                            || ((t == StackByte.Invalid || (t == StackByte.Spill && s.Spilled.IsPointer)) && !AllowPtrLeaks))
                            throw Fail(reg.VarOff.IsConst
                                ? $"invalid read from stack R{regno} off {min}+{o - min} size {size}"
                                : $"invalid read from stack R{regno} var_off {MemoryAccessChecker.TnumText(reg.VarOff)}+{o - min} size {size}");
                    }
                }
                break;
            }
            case RegisterType.Packet:
            case RegisterType.PacketMeta:
                if (reg.Range < 0 || reg.Off < 0 || reg.Off + size > reg.Range || reg.SMin < 0)
                    throw Fail($"invalid access to packet, off={reg.Off} size={size}, R{regno}(id={reg.Id},off={reg.Off},r={reg.Range})\nR{regno} offset is outside of the packet");
                break;
            case RegisterType.MapValue:
            {
                var map = reg.Map!;
                if (write && (map.Flags & MapFlags.RdonlyProg) != 0)
                    throw Fail($"write into map forbidden, value_size={map.ValueSize} off={reg.Off} size={size}");
                if (!write && (map.Flags & MapFlags.WronlyProg) != 0)
                    throw Fail($"read from map forbidden, value_size={map.ValueSize} off={reg.Off} size={size}");
                Memory.RegionAccess(regno, reg, reg.Off, (int)Math.Min(size, int.MaxValue), (int)map.ValueSize, "map value", "value_size", size);
                if (MapValueUptrs.Of(map).Count > 0) new UptrAccess(Walk).HelperAccess(reg, reg.Off, size);
                break;
            }
            case RegisterType.MapKey:
                Memory.RegionAccess(regno, reg, reg.Off, (int)Math.Min(size, int.MaxValue), (int)(reg.Map?.KeySize ?? 0), "map key", "key_size", size);
                break;
            case RegisterType.Mem:
            case RegisterType.RingbufMem:
                if (write && reg.ReadOnly) throw Fail($"R{regno} cannot write into {StateFormatter.TypeName(reg)}");
                Memory.RegionAccess(regno, reg, reg.Off, (int)Math.Min(size, int.MaxValue), reg.MemSize, "memory", "mem_size", size);
                break;
            case RegisterType.Buf:
                if (write && reg.ReadOnly) throw Fail($"R{regno} cannot write into {StateFormatter.TypeName(reg)}");
                Memory.CheckBufferAccess(regno, reg, reg.Off, (int)Math.Min(size, int.MaxValue));
                break;
            case RegisterType.BtfId when Attach.BtfPointerLoads.Applies(Input, Ctx, reg):
                // A trusted typed pointer (the only one mem_types lists): check_ptr_to_btf_access over the accessed
                // bytes, which refuses a write ("only read is supported") and a range that is no field of the struct.
                _ = new Attach.BtfPointerLoads(Walk).Load(regno, reg, reg.Off, (int)Math.Min(size, int.MaxValue), write);
                break;
            default:
                // Other typed kernel pointers would need the struct's size from vmlinux BTF; without it the access cannot
                // be bounded, so they are refused as memory.
                throw TypeMismatch(regno, reg, MemoryArgTypes);
        }
    }

    /// <summary>
    /// A MEM_ALIGNED argument (bpf_strtol's result, bpf_check_mtu's mtu_len …): check_func_arg calls check_ptr_alignment
    /// with strict set after the memory check, so the pointer must be aligned to the argument's size whatever the
    /// program's alignment flags (BPF_F_ANY_ALIGNMENT included).
    /// </summary>
    internal void CheckAlignedArg(int regno, in RegisterState reg, int size)
    {
        if (size <= 1) return;
        if (reg.Type is RegisterType.Packet or RegisterType.PacketMeta)
        {
            // check_pkt_ptr_alignment assumes the 2-byte NET_IP_ALIGN the strict check is defined against.
            if (!reg.VarOff.Add(2L + reg.Off).IsAligned((ulong)size))
                throw Fail($"misaligned packet access off 2+{MemoryAccessChecker.TnumText(reg.VarOff)}+{reg.Off}+0 size {size}");
            return;
        }
        string what = reg.Type switch
        {
            RegisterType.Stack => "stack ",
            RegisterType.MapValue => "value ",
            RegisterType.MapKey => "key ",
            _ => "",
        };
        if (!reg.VarOff.Add(reg.Off).IsAligned((ulong)size))
            throw Fail($"misaligned {what}access off {MemoryAccessChecker.TnumText(reg.VarOff)}+{reg.Off}+0 size {size}");
    }

    internal void CheckSpinLockArg(int regno, in RegisterState reg, bool isLock)
    {
        if (reg.Type != RegisterType.MapValue || reg.MaybeNull) throw TypeMismatch(regno, reg, "map_value, ptr_");
        var map = reg.Map!;
        if (map.SpinLockOffset < 0)
            throw Fail($"map '{map.Name}' has no valid bpf_spin_lock", Errno.EINVAL);
        if (!reg.VarOff.IsConst)
            throw Fail($"R{regno} doesn't have constant offset. bpf_spin_lock has to be at the constant offset", Errno.EINVAL);
        long off = reg.Off + (long)reg.VarOff.Value;
        if (off != map.SpinLockOffset)
            throw Fail($"off {off} doesn't point to 'struct bpf_spin_lock' that is at {map.SpinLockOffset}", Errno.EINVAL);
        int lockId = reg.Id == 0 ? -1 : reg.Id;
        if (isLock)
        {
            if (Cur.ActiveLockId != 0) throw Fail("Locking two bpf_spin_locks are not allowed", Errno.EINVAL);
            Cur.ActiveLockId = lockId;
            Cur.ActiveLockMap = map;
            Cur.ActiveLockOffset = (int)off;
        }
        else
        {
            if (Cur.ActiveLockId == 0) throw Fail("bpf_spin_unlock without taking a lock", Errno.EINVAL);
            if (Cur.ActiveLockId != lockId || !ReferenceEquals(Cur.ActiveLockMap, map))
                throw Fail("bpf_spin_unlock of different lock", Errno.EINVAL);
            Cur.ActiveLockId = 0;
            Cur.ActiveLockMap = null;
        }
    }

    /// <summary>The per-CPU type of the last ARG_PTR_TO_PERCPU_BTF_ID checked (meta->ret_btf_id of bpf_per_cpu_ptr).</summary>
    internal int PercpuArgument;

    private const string SockCommonArgTypes = "sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_";

    /// <summary>Argument kinds the main switch of Helpers.CheckHelperCall leaves to this file. Returns the reference the
    /// argument releases (0 for none).</summary>
    internal int CheckOtherHelperArg(int regno, in RegisterState reg, HelperArg arg, HelperPrototype proto, ref IVerifierMapInfo? timerMap)
    {
        bool nullOk = arg.Has(HelperArgFlags.MaybeNull);
        if (nullOk && reg.IsScalar && ScalarBounds.IsConst(reg, 0)) return 0;
        switch (arg.Kind)
        {
            case HelperArgKind.PtrToBtfIdSockCommon:
            {
                bool ok = reg.Type is RegisterType.SockCommon or RegisterType.Socket or RegisterType.TcpSock or RegisterType.XdpSock
                    || (reg.Type == RegisterType.BtfId && KernelTypes.IsSockCommon(reg.MemSize) && (reg.Trust & PointerTrust.Untrusted) == 0);
                if (!ok || (reg.MaybeNull && !nullOk)) throw TypeMismatch(regno, reg, SockCommonArgTypes);
                return CheckReleaseArg(regno, reg, arg);
            }
            case HelperArgKind.PtrToBtfId:
            {
                // btf_ptr_types: plain, PTR_TRUSTED or MEM_RCU; an untrusted pointer (bpf_rdonly_cast) is none of them.
                if (reg.Type != RegisterType.BtfId || (reg.MaybeNull && !nullOk) || (reg.Trust & PointerTrust.Untrusted) != 0)
                    throw TypeMismatch(regno, reg, "ptr_, trusted_ptr_, rcu_ptr_");
                string want = arg.BtfType ?? "";
                if (KernelTypes.Name(reg.MemSize) != want || reg.Off != 0 || !reg.VarOff.IsConst || reg.VarOff.Value != 0)
                {
                    string have = KernelTypes.Name(reg.MemSize);
                    throw Fail($"R{regno} is of type {(have.Length == 0 ? "(anon)" : have)} but {want} is expected");
                }
                return CheckReleaseArg(regno, reg, arg);
            }
            case HelperArgKind.PtrToPercpuBtfId:
            {
                // check_reg_type (percpu_btf_ptr_types), then check_func_arg_reg_off: no fixed or variable offset.
                if (reg.Type != RegisterType.BtfId || reg.MaybeNull || !KernelTypes.TryGetPercpu(reg.MemSize, out _))
                    throw TypeMismatch(regno, reg, "percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_");
                string type = StateFormatter.TypeName(reg);
                if (reg.Off < 0) throw Fail($"negative offset {type} ptr R{regno} off={reg.Off} disallowed");
                if (reg.Off != 0) throw Fail($"dereference of modified {type} ptr R{regno} off={reg.Off} disallowed");
                if (!reg.VarOff.IsConst || reg.VarOff.Value != 0) throw Fail($"variable {type} access var_off={reg.VarOff} disallowed");
                PercpuArgument = reg.MemSize;
                return 0;
            }
            case HelperArgKind.PtrToTimer:
            {
                if (reg.Type != RegisterType.MapValue || reg.MaybeNull) throw TypeMismatch(regno, reg, "map_value");
                var map = reg.Map!;
                if (!reg.VarOff.IsConst)
                    throw Fail($"R{regno} doesn't have constant offset. bpf_timer has to be at the constant offset", Errno.EINVAL);
                if (map.TimerOffset < 0) throw Fail($"map '{map.Name}' has no valid bpf_timer", Errno.EINVAL);
                long off = reg.Off + (long)reg.VarOff.Value;
                if (off != map.TimerOffset)
                    throw Fail($"off {off} doesn't point to 'struct bpf_timer' that is at {map.TimerOffset}", Errno.EINVAL);
                timerMap = map;
                return 0;
            }
            default:
                // Every kind a prototype can name is handled somewhere; reaching this is a table bug, and
                // rejecting keeps it from becoming an unchecked call.
                throw Unsupported($"helper {proto.Name}#{(int)proto.Id} argument R{regno}", $"helper argument kind {arg.Kind}");
        }
    }

    private int CheckReleaseArg(int regno, in RegisterState reg, HelperArg arg)
    {
        if (!arg.Has(HelperArgFlags.Release)) return 0;
        if (reg.IsScalar) return 0; // NULL passed to a nullable release argument releases nothing
        if (reg.RefObjId == 0) throw Fail($"R{regno} must be referenced when passed to release function");
        if (reg.Off != 0 || !reg.VarOff.IsConst || reg.VarOff.Value != 0)
            throw Fail($"R{regno} must have zero offset when passed to release func");
        return reg.RefObjId;
    }
}
