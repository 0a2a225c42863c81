using Ebpf.Abi;
using Ebpf.Abi.Contexts;
using Ebpf.Btf;
using Ebpf.Isa;

namespace Ebpf.Verification;

/// <summary>
/// Loads, stores, atomics, ld_imm64 and legacy packet loads (check_mem_access and its callers): the base register's
/// pointer kind decides the region, whose bounds are then checked. Context accesses go to
/// <see cref="ContextAccess"/>, stack accesses to <see cref="StackMemory"/>.
/// </summary>
internal sealed class MemoryAccessChecker(VerifierContext walk) : VerifierComponent(walk)
{
    internal void CheckLoad(Instruction insn)
    {
        if (insn.AccessMode is not (AccessMode.Mem or AccessMode.MemSx) || insn.Imm != 0)
            throw Fail("BPF_LDX uses reserved fields", Errno.EINVAL);
        if (insn.AccessMode == AccessMode.MemSx && insn.AccessSize == AccessSize.DoubleWord)
            throw Fail("BPF_LDX uses reserved fields", Errno.EINVAL);
        var srcType = ReadReg(insn.Src).Type;
        CheckWritable(insn.Dst);
        int size = Opcodes.SizeInBytes(insn.AccessSize);
        Context.SignExtendingLoad = insn.AccessMode == AccessMode.MemSx;
        RegisterState value;
        try
        {
            value = CheckMemAccess(insn.Src, insn.Offset, size, write: false, valueReg: -1, storedValue: default);
        }
        finally
        {
            Context.SignExtendingLoad = false;
        }
        Aux.SaveAuxPointerType(srcType, allowTrustMismatch: true);
        if (insn.AccessMode == AccessMode.MemSx && value.Type == RegisterType.Scalar)
            ScalarBounds.SignExtend(ref value, size);
        SetReg(insn.Dst, value);
    }

    internal void CheckStore(Instruction insn)
    {
        int size = Opcodes.SizeInBytes(insn.AccessSize);
        if (insn.AccessMode != AccessMode.Mem)
            throw Fail(insn.Class == InstructionClass.St ? "BPF_ST uses reserved fields" : "BPF_STX uses reserved fields", Errno.EINVAL);
        RegisterState stored;
        int valueReg = -1;
        if (insn.Class == InstructionClass.Stx)
        {
            if (insn.Imm != 0) throw Fail("BPF_STX uses reserved fields", Errno.EINVAL);
            stored = ReadReg(insn.Src);
            valueReg = insn.Src;
        }
        else
        {
            if (insn.Src != 0) throw Fail("BPF_ST uses reserved fields", Errno.EINVAL);
            stored = RegisterState.ConstScalar((ulong)(long)insn.Imm);
        }
        var dstReg = ReadReg(insn.Dst);
        if (valueReg >= 0 && IsSpillSlot(dstReg, insn.Offset) && stored.Type == RegisterType.Scalar && stored.Id == 0
            && !stored.VarOff.IsConst && Privileged && (size == 8 || stored.UMax <= (1UL << (size * 8)) - 1))
        {
            // Like a register copy, a spill links the register and its stack copy (the kernel's "make sure that reg had an
            // ID to build a relation on spill"): a later comparison of either refines both, so paths that test the
            // register and then reload the slot carry the same knowledge as in the kernel and prune alike.
            Reg(valueReg).Id = NewId();
            stored = Reg(valueReg);
        }
        StackMem.StoreFromImmediate = insn.Class == InstructionClass.St;
        StackMem.WroteStackZero = false;
        StackMem.StoreInsn = true;
        CheckMemAccess(insn.Dst, insn.Offset, size, write: true, valueReg, stored);
        StackMem.StoreFromImmediate = StackMem.StoreInsn = false;
        Aux.SaveAuxPointerType(dstReg.Type, allowTrustMismatch: false);
        // A narrow store of a known zero becomes STACK_ZERO bytes, which later reads turn back into the constant:
        // the stored value matters exactly (the kernel marks it precise too).
        // Any other narrow store leaves STACK_MISC, which holds no value: marking it precise would make the constant
        // count in every earlier checkpoint and stop states that differ only there from pruning (the kernel
        // marks precise only when it writes STACK_ZERO).
        if (valueReg >= 0 && StackMem.WroteStackZero) Precision.MarkPrecise(valueReg);
    }

    /// <summary>An 8-byte aligned store at a constant stack offset: the store spills the register.</summary>
    private static bool IsSpillSlot(in RegisterState dst, int off) =>
        dst.Type == RegisterType.Stack && dst.VarOff.IsConst && (dst.Off + off + (long)dst.VarOff.Value) % 8 == 0;

    internal void CheckAtomic(Instruction insn)
    {
        int imm = insn.Imm;
        // Kernels without BPF_LOAD_ACQ/BPF_STORE_REL (before 6.15) refuse them as unknown atomic opcodes, below.
        if (imm is OpcodeExtras.LoadAcquire or OpcodeExtras.StoreRelease && Input.Profile.HasFeature(Abi.Profiles.KernelFeature.LoadAcquireStoreRelease))
        {
            if (imm == OpcodeExtras.LoadAcquire) CheckLoadAcquire(insn);
            else CheckStoreRelease(insn);
            return;
        }
        bool known = imm is AtomicOperation.Add or AtomicOperation.Or or AtomicOperation.And or AtomicOperation.Xor
            or (AtomicOperation.Add | AtomicOperation.Fetch) or (AtomicOperation.Or | AtomicOperation.Fetch)
            or (AtomicOperation.And | AtomicOperation.Fetch) or (AtomicOperation.Xor | AtomicOperation.Fetch)
            or AtomicOperation.Xchg or AtomicOperation.Cmpxchg;
        if (!known) throw Fail($"BPF_ATOMIC uses invalid atomic opcode {imm:x2}", Errno.EINVAL);
        if (insn.AccessSize is not (AccessSize.Word or AccessSize.DoubleWord)) throw Fail("invalid atomic operand size", Errno.EINVAL);
        int size = Opcodes.SizeInBytes(insn.AccessSize);
        var src = ReadReg(insn.Src);
        var dst = ReadReg(insn.Dst);
        if (imm == AtomicOperation.Cmpxchg) ReadReg(0);
        // is_pointer_value: only a loader without CAP_PERFMON (no pointer leaks) is refused here.
        if (src.IsPointer && !AllowPtrLeaks) throw Fail($"R{insn.Src} leaks addr into mem");
        if (dst.Type is RegisterType.Ctx or RegisterType.Packet or RegisterType.PacketMeta or RegisterType.FlowKeys or RegisterType.SockCommon or RegisterType.Socket or RegisterType.TcpSock or RegisterType.XdpSock)
            throw Fail($"BPF_ATOMIC stores into R{insn.Dst} {StateFormatter.TypeName(dst)} is not allowed");
        // An atomic is a read and a write of the same location.
        var old = CheckMemAccess(insn.Dst, insn.Offset, size, write: false, valueReg: -1, storedValue: default, strictOnce: true);
        // check_stack_read_fixed_off with no destination register (a non-fetching atomic uses the slot as a scalar):
        // a spilled pointer may not be used so without allow_ptr_leaks.
        if (!AllowPtrLeaks && dst.Type == RegisterType.Stack && old.IsPointer && imm != AtomicOperation.Cmpxchg && (imm & AtomicOperation.Fetch) == 0)
            throw Fail($"leaking pointer from stack off {insn.Offset + dst.Off + (long)dst.VarOff.Value}");
        CheckMemAccess(insn.Dst, insn.Offset, size, write: true, valueReg: -1, storedValue: RegisterState.UnknownOfSize(size), strictOnce: true);
        // check_atomic_rmw: the fetched register is filled as a load of the same location would be (a spilled
        // constant reads back as that constant).
        if (imm == AtomicOperation.Cmpxchg)
        {
            SetReg(0, old);
        }
        else if ((imm & AtomicOperation.Fetch) != 0)
        {
            CheckWritable(insn.Src);
            SetReg(insn.Src, old);
        }
    }

    /// <summary>check_atomic_load: a load (check_load_mem, alignment strict whatever the program's flags), then the
    /// base may not be a context, packet, flow keys or socket pointer.</summary>
    private void CheckLoadAcquire(Instruction insn)
    {
        int size = Opcodes.SizeInBytes(insn.AccessSize);
        var srcType = ReadReg(insn.Src).Type;
        CheckWritable(insn.Dst);
        CheckStrictAlignment(insn.Src, insn.Offset, size);
        var value = CheckMemAccess(insn.Src, insn.Offset, size, write: false, valueReg: -1, storedValue: default);
        Aux.SaveAuxPointerType(srcType, allowTrustMismatch: true);
        if (!AtomicPointerTypeOk(srcType))
            throw Fail($"BPF_ATOMIC loads from R{insn.Src} {StateFormatter.TypeName(Reg(insn.Src))} is not allowed");
        SetReg(insn.Dst, value);
    }

    /// <summary>check_atomic_store: a register store (check_store_reg, strict alignment), then the same pointer rule.</summary>
    private void CheckStoreRelease(Instruction insn)
    {
        int size = Opcodes.SizeInBytes(insn.AccessSize);
        var stored = ReadReg(insn.Src);
        var dstReg = ReadReg(insn.Dst);
        CheckStrictAlignment(insn.Dst, insn.Offset, size);
        StackMem.StoreFromImmediate = false;
        StackMem.WroteStackZero = false;
        StackMem.StoreInsn = true;
        try
        {
            CheckMemAccess(insn.Dst, insn.Offset, size, write: true, insn.Src, stored);
        }
        finally
        {
            StackMem.StoreInsn = false;
        }
        Aux.SaveAuxPointerType(dstReg.Type, allowTrustMismatch: false);
        if (StackMem.WroteStackZero) Precision.MarkPrecise(insn.Src);
        if (!AtomicPointerTypeOk(dstReg.Type))
            throw Fail($"BPF_ATOMIC stores into R{insn.Dst} {StateFormatter.TypeName(Reg(insn.Dst))} is not allowed");
    }

    /// <summary>atomic_ptr_type_ok: atomics never touch the context, packets, flow keys or sockets.</summary>
    private static bool AtomicPointerTypeOk(RegisterType type) =>
        type is not (RegisterType.Ctx or RegisterType.Packet or RegisterType.PacketMeta or RegisterType.FlowKeys
            or RegisterType.SockCommon or RegisterType.Socket or RegisterType.TcpSock);

    /// <summary>check_ptr_alignment with strict set (atomics): the access must be naturally aligned for every pointer
    /// kind (the stack and packets check it themselves, with their own messages).</summary>
    private void CheckStrictAlignment(int regno, int insnOff, int size)
    {
        var reg = Reg(regno);
        if (size == 1 || !reg.IsPointer || reg.MaybeNull) return;
        string? what = reg.Type switch
        {
            RegisterType.Stack or RegisterType.Packet or RegisterType.PacketMeta => null,
            RegisterType.MapValue => "value ",
            RegisterType.MapKey => "key ",
            RegisterType.Ctx => "context ",
            RegisterType.FlowKeys => "flow keys ",
            RegisterType.Socket => "sock ",
            RegisterType.SockCommon => "sock_common ",
            RegisterType.TcpSock => "tcp_sock ",
            _ => "",
        };
        if (what is null) return;
        if (!reg.VarOff.Add(reg.Off + insnOff).IsAligned((ulong)size))
            throw Fail($"misaligned {what}access off {TnumText(reg.VarOff)}+{reg.Off}+{insnOff} size {size}");
    }

    internal void CheckLoadImm64(Instruction insn)
    {
        var second = Insns[InsnIdx + 1];
        // check_ld_imm: the reserved offset before the destination register.
        if (insn.Offset != 0) throw Fail("BPF_LD_IMM64 uses reserved fields", Errno.EINVAL);
        CheckWritable(insn.Dst);
        switch ((LoadImm64Source)insn.Src)
        {
            case LoadImm64Source.Imm64:
                SetReg(insn.Dst, RegisterState.ConstScalar((ulong)Instruction.Imm64(insn, second)));
                return;
            case LoadImm64Source.Function:
            {
                if (Input.Functions is null || Input.Functions.Count == 0)
                    throw Fail("missing btf func_info", Errno.EINVAL);
                var r = RegisterState.Pointer(RegisterType.Func);
                r.FuncInsn = InsnIdx + insn.Imm + 1;
                SetReg(insn.Dst, r);
                return;
            }
            case LoadImm64Source.BtfId:
            {
                // check_pseudo_btf_id: a non-zero second imm names a module's BTF by fd; none are loaded here.
                Btf.BtfSpec? module = null;
                if (second.Imm != 0 && Input.ModuleBtfs?.TryGetValue(second.Imm, out module) != true) throw Fail("invalid module BTF object FD specified.", Errno.EINVAL);
                var ksymBtf = module ?? Input.Profile.KernelBtf;
                // Without the kernel's BTF the ksym's kind is unknown: an untyped kernel pointer.
                if (ksymBtf is null || insn.Imm <= 0 || !ksymBtf.TryGetType((uint)insn.Imm, out var kt) || kt is not (Btf.BtfVar or Btf.BtfFunc))
                {
                    SetReg(insn.Dst, RegisterState.Pointer(RegisterType.BtfId));
                    return;
                }
                var r = KsymRegisters.For(ksymBtf, (uint)insn.Imm, out var refused);
                if (refused is { } e) throw Fail(e.Message, e.Errno);
                SetReg(insn.Dst, r);
                return;
            }
            case LoadImm64Source.MapFd:
            case LoadImm64Source.MapIndex:
            case LoadImm64Source.MapValue:
            case LoadImm64Source.MapIndexValue:
            {
                var map = ResolveMap(insn);
                bool isValue = insn.Src is (byte)LoadImm64Source.MapValue or (byte)LoadImm64Source.MapIndexValue;
                RegisterState r;
                if (isValue)
                {
                    if (map.Type is not (MapType.Array or MapType.Arena))
                        throw Fail("map direct value access is only supported for array maps", Errno.EINVAL);
                    if ((uint)second.Imm >= map.ValueSize)
                        throw Fail($"invalid access to map value pointer, value_size={map.ValueSize} off={second.Imm}", Errno.EINVAL);
                    r = RegisterState.Pointer(RegisterType.MapValue);
                    r.Off = second.Imm;
                }
                else
                {
                    if (second.Imm != 0) throw Fail("unrecognized bpf_ld_imm64 insn", Errno.EINVAL);
                    r = RegisterState.Pointer(RegisterType.MapPtr);
                }
                r.Map = map;
                SetReg(insn.Dst, r);
                return;
            }
            default:
                throw Fail("invalid bpf_ld_imm64 insn", Errno.EINVAL);
        }
    }

    private IVerifierMapInfo ResolveMap(Instruction insn)
    {
        if (Input.MapReferences is not null && Input.MapReferences.TryGetValue(InsnIdx, out var byRef)) return byRef;
        bool byIndex = insn.Src is (byte)LoadImm64Source.MapIndex or (byte)LoadImm64Source.MapIndexValue;
        if (byIndex)
        {
            // The kernel reads fd_array[imm]; a load without fd_array is refused before any index is looked at.
            if (Input.MapsByIndex is not { } list) throw Fail("fd_idx without fd_array is invalid", Errno.EPROTO);
            if (insn.Imm >= 0 && insn.Imm < list.Count) return list[insn.Imm];
            throw Fail($"fd_idx {insn.Imm} is out of range", Errno.EINVAL);
        }
        if (Input.MapsByFd is { } fds && fds.TryGetValue(insn.Imm, out var m)) return m;
        throw Fail($"fd {insn.Imm} is not pointing to valid bpf_map", Errno.EBADF);
    }

    internal void CheckLdAbs(Instruction insn)
    {
        if (insn.AccessMode is not (AccessMode.Abs or AccessMode.Ind))
            throw Fail($"unknown opcode {insn.Opcode:x2}", Errno.EINVAL);
        if (!ContextLayouts.AllowsLdAbs(Input.ProgramType))
            throw Fail("BPF_LD_[ABS|IND] instructions not allowed for this program type", Errno.EINVAL);
        if (insn.AccessSize == AccessSize.DoubleWord || insn.Dst != 0 || insn.Offset != 0 ||
            (insn.AccessMode == AccessMode.Abs && insn.Src != 0))
            throw Fail("BPF_LD_[ABS|IND] uses reserved fields", Errno.EINVAL);
        if (Cur.References.Count > 0) throw Fail("BPF_LD_[ABS|IND] cannot be mixed with socket references", Errno.EINVAL);
        if (Cur.ActiveLockId != 0) throw Fail("BPF_LD_[ABS|IND] cannot be used inside bpf_spin_lock-ed region", Errno.EINVAL);
        var r6 = ReadReg(6);
        if (r6.Type != RegisterType.Ctx) throw Fail("at the time of BPF_LD_ABS|IND R6 != pointer to skb", Errno.EINVAL);
        if (insn.AccessMode == AccessMode.Ind) ReadReg(insn.Src);
        for (int r = 1; r <= 5; r++) Reg(r) = RegisterState.NotInit;
        // check_ld_abs: mark_reg_unknown(R0), not bounded by the access size (a u16 load may be tested against 0x7fffffff
        // and the kernel explores both ways).
        SetReg(0, RegisterState.UnknownScalar());
    }

    private static string? LeakTarget(RegisterType type) => type switch
    {
        RegisterType.MapValue => "map",
        RegisterType.Ctx => "ctx",
        RegisterType.Mem or RegisterType.RingbufMem => "mem",
        _ => null,
    };

    /// <summary>The struct a map type's ops name as map_btf_id (the kernel object behind a map pointer).</summary>
    private static string MapKernelStruct(Abi.MapType type) => type switch
    {
        Abi.MapType.Array or Abi.MapType.PercpuArray or Abi.MapType.ProgArray or Abi.MapType.PerfEventArray
            or Abi.MapType.CgroupArray or Abi.MapType.ArrayOfMaps => "bpf_array",
        Abi.MapType.Hash or Abi.MapType.PercpuHash or Abi.MapType.LruHash or Abi.MapType.LruPercpuHash
            or Abi.MapType.HashOfMaps => "bpf_htab",
        Abi.MapType.LpmTrie => "lpm_trie",
        Abi.MapType.Queue or Abi.MapType.Stack => "bpf_queue_stack",
        Abi.MapType.Ringbuf or Abi.MapType.UserRingbuf => "bpf_ringbuf_map",
        Abi.MapType.StackTrace => "bpf_stack_map",
        Abi.MapType.Devmap or Abi.MapType.DevmapHash => "bpf_dtab",
        Abi.MapType.Cpumap => "bpf_cpu_map",
        Abi.MapType.Xskmap => "xsk_map",
        Abi.MapType.Sockmap => "bpf_stab",
        Abi.MapType.Sockhash => "bpf_shtab",
        Abi.MapType.CgroupStorage or Abi.MapType.PercpuCgroupStorage => "bpf_cgroup_storage_map",
        Abi.MapType.SkStorage or Abi.MapType.InodeStorage or Abi.MapType.TaskStorage or Abi.MapType.CgrpStorage => "bpf_local_storage_map",
        Abi.MapType.ReuseportSockarray => "reuseport_array",
        Abi.MapType.BloomFilter => "bpf_bloom_filter",
        _ => "bpf_map",
    };

    /// <summary>check_mem_access: validates a load (returns the loaded value) or a store through register <paramref name="regno"/>.</summary>
    private RegisterState CheckMemAccess(int regno, int insnOff, int size, bool write, int valueReg, RegisterState storedValue, bool strictOnce = false)
    {
        var reg = Reg(regno);
        CheckAlignment(reg, insnOff, size, Input.StrictAlignment || strictOnce);
        int off = insnOff + reg.Off;
        // check_mem_access judges a stored pointer per kind of memory, first thing for these three.
        if (write && storedValue.IsPointer && !AllowPtrLeaks && !reg.MaybeNull && LeakTarget(reg.Type) is { } target)
            throw Fail($"R{valueReg} leaks addr into {target}");
        // check_ptr_to_map_access: the map's kernel struct is readable with CAP_PERFMON only.
        if (reg.Type == RegisterType.MapPtr && !reg.MaybeNull && !AllowPtrLeaks && reg.Map is { } mapPtr)
            throw Fail($"'{MapKernelStruct(mapPtr.Type)}' access is allowed only to CAP_PERFMON and CAP_SYS_ADMIN", Errno.EPERM);
        if (reg.MaybeNull || reg.Type is RegisterType.Scalar or RegisterType.NotInit or RegisterType.PacketEnd or RegisterType.Func
            || (reg.Type == RegisterType.MapPtr && reg.Map is null))
            throw Fail($"R{regno} invalid mem access '{StateFormatter.TypeName(reg)}'");

        switch (reg.Type)
        {
            case RegisterType.Stack:
                return StackMem.StackAccess(regno, reg, off, size, write, storedValue);
            case RegisterType.MapPtr:
                return new MapPointerAccess(Walk).Access(regno, reg, off, size, write);
            case RegisterType.Ctx:
                return Context.CtxAccess(regno, reg, off, size, write);
            case RegisterType.Packet:
            case RegisterType.PacketMeta:
            {
                var (canRead, canWrite) = ContextLayouts.PacketAccess(Input.ProgramType);
                if (write && !canWrite) throw Fail("cannot write into packet");
                if (!canRead) throw Fail($"R{regno} invalid mem access '{StateFormatter.TypeName(reg)}'");
                if (write && storedValue.IsPointer && !AllowPtrLeaks) throw Fail($"R{valueReg} leaks addr into packet");
                if (Input.StrictAlignment && !reg.VarOff.Add(off + 2).IsAligned((ulong)size))
                    throw Fail($"misaligned packet access off 2+{TnumText(reg.VarOff)}+{reg.Off}+{insnOff} size {size}");
                if (reg.SMin < 0)
                    throw Fail($"R{regno} min value is negative, either use unsigned index or do a if (index >=0) check.");
                if (reg.Range < 0 || off < 0 || (long)off + size > reg.Range)
                    throw Fail($"invalid access to packet, off={off} size={size}, R{regno}(id={reg.Id},off={off},r={reg.Range})\nR{regno} offset is outside of the packet");
                if (write) WritesPacket = true;
                return RegisterState.UnknownOfSize(size);
            }
            case RegisterType.MapValue:
            {
                var map = reg.Map!;
                if (write && (map.Flags & MapFlags.RdonlyProg) != 0)
                    throw Fail($"write into map forbidden, value_size={map.ValueSize} off={off} size={size}");
                if (!write && (map.Flags & MapFlags.WronlyProg) != 0)
                    throw Fail($"read from map forbidden, value_size={map.ValueSize} off={off} size={size}");
                RegionAccess(regno, reg, off, size, (int)map.ValueSize, "map value", "value_size", size);
                if (map.SpinLockOffset >= 0 && RangesOverlap(reg, off, size, map.SpinLockOffset, 4))
                    throw Fail("bpf_spin_lock cannot be accessed directly by load/store");
                if (MapValueUptrs.Of(map).Count > 0 && new UptrAccess(Walk).Access(regno, reg, off, size, write) is { } userPointer)
                    return userPointer;
                if (!write && reg.VarOff.IsConst && (map.Flags & MapFlags.RdonlyProg) != 0 && map.Frozen && map.FrozenValue is { } frozen)
                {
                    long at = (long)reg.VarOff.Value + off;
                    if (at >= 0 && at + size <= frozen.Length)
                    {
                        var bytes = frozen.Span.Slice((int)at, size);
                        ulong v = size switch
                        {
                            1 => bytes[0],
                            2 => System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(bytes),
                            4 => System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(bytes),
                            _ => System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(bytes),
                        };
                        return RegisterState.ConstScalar(v);
                    }
                }
                return LoadedFromMemory(size, write);
            }
            case RegisterType.MapKey:
                if (write) throw Fail($"write to change key R{regno} not allowed");
                RegionAccess(regno, reg, off, size, (int)(reg.Map?.KeySize ?? 0), "map key", "key_size", size);
                return RegisterState.UnknownOfSize(size);
            case RegisterType.Mem:
            case RegisterType.RingbufMem:
                if (write && reg.ReadOnly) throw Fail($"R{regno} cannot write into {StateFormatter.TypeName(reg)}");
                RegionAccess(regno, reg, off, size, reg.MemSize, "memory", "mem_size", size);
                return LoadedFromMemory(size, write);
            case RegisterType.SockCommon:
            case RegisterType.Socket:
            case RegisterType.TcpSock:
            case RegisterType.XdpSock:
                if (write) throw Fail($"R{regno} cannot write into {StateFormatter.TypeName(reg)}");
                // check_sock_access
                if (reg.SMin < 0)
                    throw Fail($"R{regno} min value is negative, either use unsigned index or do a if (index >=0) check.");
                if (!SocketAccess.IsValid(reg.Type, off, size))
                    throw Fail($"R{regno} invalid {StateFormatter.TypeName(reg)} access off={off} size={size}");
                return RegisterState.UnknownOfSize(size);
            case RegisterType.BtfId when KernelObjectIterators.IsElement(reg, out _) && Input.Profile.KernelBtf is { } vmlinux:
                return KernelObjectIterators.Walked(vmlinux, reg, off, new Attach.BtfPointerLoads(Walk).Load(regno, reg, off, size, write), Iterators.InRcuSection());
            case RegisterType.BtfId when Attach.BtfPointerLoads.Applies(Input, Ctx, reg):
                return new Attach.BtfPointerLoads(Walk).Load(regno, reg, off, size, write);
            case RegisterType.BtfId when KernelTypes.TryGetPercpu(reg.MemSize, out var percpu):
                // check_ptr_to_btf_access: a per-CPU ksym is an offset into each CPU's area, not an address.
                if (!Input.GplCompatible)
                    throw Fail($"Cannot access kernel 'struct {percpu.Name}' from non-GPL compatible program", Errno.EINVAL);
                if (!reg.VarOff.IsConst)
                    throw Fail($"R{regno} is ptr_{percpu.Name} invalid variable offset: off={off}, var_off={reg.VarOff}");
                if (off + (long)reg.VarOff.Value < 0)
                    throw Fail($"R{regno} is ptr_{percpu.Name} invalid negative access: off={off + (long)reg.VarOff.Value}");
                throw Fail($"R{regno} is ptr_{percpu.Name} access percpu memory: off={off + (long)reg.VarOff.Value}");
            case RegisterType.BtfId:
                // Typed kernel pointers are read with fault-handling loads (BPF_PROBE_MEM); writes need BTF.
                if (write) throw Fail($"only read is supported");
                ReadsKernelPointers = true;
                return RegisterState.UnknownOfSize(size);
            case RegisterType.TpBuffer:
                // check_tp_buffer_access (__check_buffer_access): a constant, non-negative offset only.
                if (off < 0) throw Fail($"R{regno} invalid tracepoint buffer access: off={off}, size={size}");
                if (!reg.VarOff.IsConst || reg.VarOff.Value != 0)
                    throw Fail($"R{regno} invalid variable buffer offset: off={off}, var_off={reg.VarOff}");
                return LoadedFromMemory(size, write);
            case RegisterType.Buf:
            {
                // PTR_TO_BUF (check_mem_access → check_buffer_access): the furthest byte is recorded for the link's check.
                if (write && reg.ReadOnly) throw Fail($"R{regno} cannot write into {StateFormatter.TypeName(reg)}");
                CheckBufferAccess(regno, reg, off, size);
                return LoadedFromMemory(size, write);
            }
            case RegisterType.FlowKeys:
                // check_flow_keys_access: within struct bpf_flow_keys.
                if (write && storedValue.IsPointer && !AllowPtrLeaks) throw Fail($"R{valueReg} leaks addr into flow keys");
                if (off < 0 || (long)off + size > FlowKeysSize) throw Fail($"invalid access to flow keys off={off} size={size}");
                return LoadedFromMemory(size, write);
            default:
                throw Fail($"R{regno} invalid mem access '{StateFormatter.TypeName(reg)}'");
        }
    }

    /// <summary>
    /// check_buffer_access: a constant, non-negative offset ("rdonly"/"rdwr" buffer), and the furthest byte is kept in
    /// max_rdonly_access or max_rdwr_access.
    /// </summary>
    internal void CheckBufferAccess(int regno, in RegisterState reg, int off, int size)
    {
        string info = reg.ReadOnly ? "rdonly" : "rdwr";
        if (off < 0) throw Fail($"R{regno} invalid {info} buffer access: off={off}, size={size}");
        if (!reg.VarOff.IsConst || reg.VarOff.Value != 0)
            throw Fail($"R{regno} invalid variable buffer offset: off={off}, var_off={reg.VarOff}");
        if (reg.ReadOnly)
            Walk.MaxReadOnlyBufferAccess = Math.Max(Walk.MaxReadOnlyBufferAccess, off + size);
        else
            Walk.MaxReadWriteBufferAccess = Math.Max(Walk.MaxReadWriteBufferAccess, off + size);
    }

    /// <summary>sizeof(struct bpf_flow_keys).</summary>
    private const int FlowKeysSize = 56;

    /// <summary>
    /// check_ptr_alignment for the pointer kinds without their own rule (packets and the stack have theirs): under
    /// BPF_F_STRICT_ALIGNMENT, or for an atomic (strict_alignment_once) even with BPF_F_ANY_ALIGNMENT, every offset
    /// the access may take must be a multiple of its size.
    /// </summary>
    private void CheckAlignment(in RegisterState reg, int insnOff, int size, bool strict)
    {
        if (!strict || size == 1) return;
        string? desc = reg.Type switch
        {
            RegisterType.FlowKeys => "flow keys ",
            RegisterType.MapKey => "key ",
            RegisterType.MapValue => "value ",
            RegisterType.Ctx => "context ",
            RegisterType.Socket => "sock ",
            RegisterType.SockCommon => "sock_common ",
            RegisterType.TcpSock => "tcp_sock ",
            RegisterType.XdpSock => "xdp_sock ",
            RegisterType.Packet or RegisterType.PacketMeta or RegisterType.Stack => null,
            _ => "",
        };
        if (desc is null || reg.Type == RegisterType.NotInit) return;
        if (!reg.VarOff.Add(reg.Off + insnOff).IsAligned((ulong)size))
            throw Fail($"misaligned {desc}access off {TnumText(reg.VarOff)}+{reg.Off}+{insnOff} size {size}");
    }

    private static RegisterState LoadedFromMemory(int size, bool write) => write ? default : RegisterState.UnknownOfSize(size);

    private static bool RangesOverlap(in RegisterState reg, int off, int size, int start, int length)
    {
        long lo = off + reg.SMin, hi = off + (long)Math.Min(reg.UMax, (ulong)int.MaxValue) + size;
        return lo < start + length && hi > start;
    }

    /// <summary>check_mem_region_access: both ends of the variable offset must keep the access in [0, memSize).</summary>
    /// <summary>check_mem_region_access. The message parts are separate so nothing is formatted unless it fails.</summary>
    internal void RegionAccess(int regno, in RegisterState reg, int off, int size, int memSize, string what, string sizeName, long shownSize)
    {
        string Format(long at) => $"invalid access to {what}, {sizeName}={memSize} off={at} size={shownSize}";
        if (reg.SMin < 0 && (reg.SMin == long.MinValue || off + reg.SMin != (int)(off + reg.SMin) || reg.SMin + off < 0))
            throw Fail($"R{regno} min value is negative, either use unsigned index or do a if (index >=0) check.");
        long lo = reg.SMin + off;
        if (lo < 0 || lo + size > memSize)
            throw Fail(Format(lo) + $"\nR{regno} min value is outside of the allowed memory range");
        if (reg.UMax >= (ulong)AluChecker.MaxVarOff)
            throw Fail($"R{regno} unbounded memory access, make sure to bounds check any such access");
        long hi = (long)reg.UMax + off;
        if (hi < 0 || hi + size > memSize)
            throw Fail(Format(hi) + $"\nR{regno} max value is outside of the allowed memory range");
    }

    internal static string TnumText(Tnum t) => t.IsConst ? ((long)t.Value).ToString(System.Globalization.CultureInfo.InvariantCulture) : t.ToString();
}

internal static class TnumExtensions
{
    public static Tnum Add(this Tnum t, long c) => t + Tnum.Const((ulong)c);
}
