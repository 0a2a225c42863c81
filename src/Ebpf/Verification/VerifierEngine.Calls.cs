using Ebpf.Abi;
using Ebpf.Abi.Contexts;
using Ebpf.Abi.Helpers;
using Ebpf.Isa;

namespace Ebpf.Verification;

internal sealed partial class VerifierEngine
{
    private const string MemoryArgTypes = "fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_";
    private const int MaxCallFrames = 8;

    /// <summary>Map types usable only through specific helpers (check_map_func_compatibility, map side).</summary>
    private static readonly Dictionary<MapType, HelperId[]> MapOnlyWith = new()
    {
        [MapType.Ringbuf] = [HelperId.RingbufOutput, HelperId.RingbufReserve, HelperId.RingbufQuery],
        [MapType.ProgArray] = [HelperId.TailCall],
        [MapType.PerfEventArray] = [HelperId.PerfEventRead, HelperId.PerfEventOutput, HelperId.SkbOutput, HelperId.PerfEventReadValue, HelperId.XdpOutput],
        [MapType.StackTrace] = [HelperId.GetStackid],
        [MapType.Queue] = [HelperId.MapPeekElem, HelperId.MapPopElem, HelperId.MapPushElem],
        [MapType.Stack] = [HelperId.MapPeekElem, HelperId.MapPopElem, HelperId.MapPushElem],
        [MapType.BloomFilter] = [HelperId.MapPeekElem, HelperId.MapPushElem],
        [MapType.CgroupArray] = [HelperId.SkbUnderCgroup, HelperId.CurrentTaskUnderCgroup],
        [MapType.UserRingbuf] = [HelperId.UserRingbufDrain],
    };

    /// <returns>True when the call entered a callback (the next instruction is the callback's first).</returns>
    private bool CheckHelperCall(Instruction insn)
    {
        int id = insn.Imm;
        if (!HelperNames.IsKnown(id))
            throw Fail($"invalid func {HelperNames.KernelName(id)}#{id}", Errno.EINVAL);
        string name = HelperNames.KernelName(id);
        if (!_input.Profile.IsHelperAllowed(_input.ProgramType, id, _input.Privilege)
            && !Attach.TracingHelperRules.Allows(_input.ProgramType, _input.ExpectedAttachType, id))
            throw Fail($"program of this type cannot use helper {name}#{id}", Errno.EINVAL);
        var proto = HelperPrototypes.Get((HelperId)id, _input.ProgramType)
            ?? throw Fail($"helper {name}#{id} has no prototype in this verifier", Errno.ENOTSUPP);
        _calls[_insnIdx] = new ResolvedCall(_insnIdx, true, id);
        CheckHelperSupported(proto, name, id);
        if (proto.GplOnly && !_input.GplCompatible)
            throw Fail("cannot call GPL-restricted function from non-GPL compatible program", Errno.EINVAL);
        if (proto.SleepableOnly && !_input.Sleepable)
            throw Fail("helper call might sleep in a non-sleepable prog", Errno.EINVAL);
        if (_cur.ActiveLockId != 0 && proto.Id is not (HelperId.SpinLock or HelperId.SpinUnlock))
            throw Fail("function calls are not allowed while holding a lock", Errno.EINVAL);
        if (proto.Id == HelperId.GetFuncIp && _input.ProgramType is not (ProgramType.Kprobe or ProgramType.Tracing))
            throw Fail($"func {name}#{id} not supported for program type {(int)_input.ProgramType}", Errno.ENOTSUPP);
        if ((HelperId)id is HelperId.SpinLock or HelperId.SpinUnlock)
        {
            if (_input.ProgramType == ProgramType.SocketFilter) throw Fail("socket filter progs cannot use bpf_spin_lock yet", Errno.EINVAL);
            if (_input.ProgramType is ProgramType.Kprobe or ProgramType.Tracepoint or ProgramType.PerfEvent or ProgramType.RawTracepoint or ProgramType.RawTracepointWritable)
                throw Fail("tracing progs cannot use bpf_spin_lock yet", Errno.EINVAL);
        }

        IVerifierMapInfo? map = null;
        int releaseRefId = 0;
        IVerifierMapInfo? timerMap = null;
        int castRefObjId = proto.CastsReference ? Reg(1).RefObjId : 0;
        int callbackInsn = -1;
        RegisterState callbackCtx = RegisterState.NotInit;
        var writes = new List<(int Regno, long Size)>();
        for (int i = 0; i < proto.Arguments.Count; i++)
        {
            var arg = proto.Arguments[i];
            int regno = i + 1;
            if (arg.Kind == HelperArgKind.None) break;
            var reg = ReadReg(regno);
            // A scalar anywhere but an "anything" argument is checked by value (sizes, constants, NULL).
            if (reg.IsScalar && arg.Kind != HelperArgKind.Anything) MarkPrecise(regno);
            switch (arg.Kind)
            {
                case HelperArgKind.Anything:
                    if (reg.IsPointer && !_privileged) throw Fail($"R{regno} leaks addr into helper function");
                    break;
                case HelperArgKind.ConstMapPtr:
                    if (reg.Type != RegisterType.MapPtr || reg.MaybeNull) throw TypeMismatch(regno, reg, "map_ptr");
                    map = reg.Map!;
                    if (timerMap is not null && !ReferenceEquals(timerMap, map))
                        throw Fail($"timer pointer in R1 map_uid=0 doesn't match map pointer in R{regno} map_uid=0", Errno.EINVAL);
                    break;
                case HelperArgKind.PtrToMapKey:
                case HelperArgKind.PtrToMapValue:
                {
                    if (arg.Has(HelperArgFlags.MaybeNull) && reg.IsScalar && ScalarBounds.IsConst(reg, 0)) break;
                    if (map is null) throw Fail($"invalid map_ptr to access map->{(arg.Kind == HelperArgKind.PtrToMapKey ? "key" : "value")}", Errno.EACCES);
                    int size = (int)(arg.Kind == HelperArgKind.PtrToMapKey ? map.KeySize : map.ValueSize);
                    if (size == 0) throw Fail("invalid zero-sized read");
                    CheckHelperMemory(regno, reg, arg, proto, size, zeroSizeAllowed: false);
                    if (arg.Kind == HelperArgKind.PtrToMapKey) _constKey = ConstStackKey(reg, size);
                    if (WritesMemory(arg)) writes.Add((regno, size));
                    break;
                }
                case HelperArgKind.PtrToMem:
                {
                    if (arg.Has(HelperArgFlags.MaybeNull) && reg.IsScalar && ScalarBounds.IsConst(reg, 0)) break;
                    if (arg.Has(HelperArgFlags.FixedSize))
                    {
                        CheckHelperMemory(regno, reg, arg, proto, arg.FixedSize, zeroSizeAllowed: false);
                        if (WritesMemory(arg)) writes.Add((regno, arg.FixedSize));
                        break;
                    }
                    // Sized by the next argument: check the type now, the extent with the size.
                    CheckMemoryArgType(regno, reg, arg, proto);
                    break;
                }
                case HelperArgKind.ConstSize:
                case HelperArgKind.ConstSizeOrZero:
                {
                    if (!reg.IsScalar) throw TypeMismatch(regno, reg, "scalar");
                    var memArg = proto.Arguments[i - 1];
                    var mem = Reg(regno - 1);
                    bool zeroOk = arg.Kind == HelperArgKind.ConstSizeOrZero;
                    if (reg.SMin < 0) throw Fail($"R{regno} min value is negative, either use unsigned or 'var &= const'");
                    if (reg.UMin == 0 && !zeroOk) throw Fail("invalid zero-sized read");
                    if (reg.UMax >= (ulong)MaxVarOff) throw Fail($"R{regno} unbounded memory access, use 'var &= const' or 'if (var < const)'");
                    bool memIsNull = mem.IsScalar && ScalarBounds.IsConst(mem, 0) && memArg.Has(HelperArgFlags.MaybeNull);
                    if (memIsNull)
                    {
                        if (reg.UMax != 0) throw Fail($"R{regno - 1} type=scalar expected={MemoryArgTypes}");
                        break;
                    }
                    if (reg.UMax > 0)
                    {
                        CheckHelperMemory(regno - 1, mem, memArg, proto, (long)reg.UMax, zeroSizeAllowed: zeroOk);
                        if (WritesMemory(memArg)) writes.Add((regno - 1, (long)reg.UMax));
                    }
                    if (proto.ReturnBoundedBySizeArg == i) _retBound = (long)reg.UMax;
                    break;
                }
                case HelperArgKind.ConstAllocSizeOrZero:
                    if (!reg.IsScalar || !reg.VarOff.IsConst) throw Fail($"R{regno} is not a known constant'");
                    _allocSize = (int)reg.VarOff.Value;
                    break;
                case HelperArgKind.PtrToCtx:
                    if (arg.Has(HelperArgFlags.MaybeNull) && reg.IsScalar && ScalarBounds.IsConst(reg, 0)) break;
                    if (reg.Type != RegisterType.Ctx) throw TypeMismatch(regno, reg, "ctx");
                    if (reg.Off != 0 || !reg.VarOff.IsConst || reg.VarOff.Value != 0)
                        throw Fail($"dereference of modified ctx ptr R{regno} off={reg.Off} disallowed");
                    break;
                case HelperArgKind.PtrToFunc:
                    if (reg.Type != RegisterType.Func) throw TypeMismatch(regno, reg, "func");
                    callbackInsn = reg.FuncInsn;
                    break;
                case HelperArgKind.PtrToStack:
                    if (arg.Has(HelperArgFlags.MaybeNull) && reg.IsScalar && ScalarBounds.IsConst(reg, 0)) { callbackCtx = reg; break; }
                    if (reg.Type != RegisterType.Stack) throw TypeMismatch(regno, reg, "fp");
                    callbackCtx = reg;
                    break;
                case HelperArgKind.PtrToConstStr:
                    if (reg.Type != RegisterType.MapValue || reg.MaybeNull) throw TypeMismatch(regno, reg, "map_value");
                    if ((reg.Map!.Flags & MapFlags.RdonlyProg) == 0) throw Fail($"R{regno} does not point to a readonly map'");
                    if (!reg.VarOff.IsConst) throw Fail($"R{regno} is not a constant address'");
                    break;
                case HelperArgKind.PtrToRingbufMem:
                    if (reg.Type != RegisterType.RingbufMem || reg.MaybeNull) throw TypeMismatch(regno, reg, "ringbuf_mem");
                    if (reg.Off != 0 || !reg.VarOff.IsConst || reg.VarOff.Value != 0)
                        throw Fail($"R{regno} must have zero offset when passed to release func");
                    if (reg.RefObjId == 0) throw Fail($"R{regno} must be referenced when passed to release function");
                    releaseRefId = reg.RefObjId;
                    break;
                case HelperArgKind.PtrToSpinLock:
                    CheckSpinLockArg(regno, reg, (HelperId)id == HelperId.SpinLock);
                    break;
                case HelperArgKind.PtrToSocket:
                    if (arg.Has(HelperArgFlags.MaybeNull) && reg.IsScalar && ScalarBounds.IsConst(reg, 0)) break;
                    if (reg.Type is not (RegisterType.SockCommon or RegisterType.Socket or RegisterType.TcpSock) || reg.MaybeNull)
                        throw TypeMismatch(regno, reg, "sock_common, sock, tcp_sock, xdp_sock, ptr_");
                    if (arg.Has(HelperArgFlags.Release))
                    {
                        if (reg.RefObjId == 0) throw Fail($"R{regno} must be referenced when passed to release function");
                        releaseRefId = reg.RefObjId;
                    }
                    break;
                default:
                {
                    int released = CheckOtherHelperArg(regno, reg, arg, proto, ref timerMap);
                    if (released != 0) releaseRefId = released;
                    break;
                }
            }
        }

        if (map is not null) CheckMapCompatibility(map, proto, name, id);
        // record_func_key: a constant tail-call index is recorded for direct jumps, so it is precise in the kernel.
        if ((HelperId)id == HelperId.TailCall && Reg(3).IsConst) MarkPrecise(3);
        if ((HelperId)id == HelperId.TailCall && _cur.References.Count > 0)
            throw Fail("tail_call would lead to reference leak", Errno.EINVAL);

        // Memory the helper fills is initialised afterwards.
        foreach (var (regno, size) in writes)
        {
            var r = Reg(regno);
            if (r.Type == RegisterType.Stack && r.VarOff.IsConst)
                MarkStackWritten(StackFrame(r), r.Off + (long)r.VarOff.Value, size);
        }

        if (releaseRefId != 0) ReleaseReference(releaseRefId);

        if (proto.ChangesPacketData)
        {
            _changesPacketData = true;
            InvalidatePacketPointers();
        }

        var retMap = map;
        long retBound = _retBound;
        int allocSize = _allocSize;
        _retBound = -1;
        _allocSize = 0;
        var constKey = _constKey;
        _constKey = null;

        if (callbackInsn >= 0)
        {
            StartCallback(callbackInsn, (HelperId)id, retMap ?? timerMap, callbackCtx);
            return true;
        }

        ClobberCallerSaved();
        var ret = ReturnValue(proto, retMap, retBound, allocSize, constKey);
        // is_ptr_cast_function: the result shares the argument's reference.
        if (castRefObjId != 0 && ret.IsPointer) ret.RefObjId = castRefObjId;
        SetReg(0, ret);
        return false;
    }

    private long _retBound = -1;
    private ulong? _constKey;

    /// <summary>
    /// get_constant_map_key: the key's value when the stack proves it. Counting from the key's first byte to the end of
    /// its slot: enough STACK_ZERO bytes make it 0; otherwise the slot must hold a spilled scalar covering exactly the
    /// key's size from there, whose (whole) constant value is the key. An 8-byte spill read as a 4-byte key is not
    /// constant, however the value looks.
    /// </summary>
    private ulong? ConstStackKey(in RegisterState reg, int size)
    {
        if (!_privileged || reg.Type != RegisterType.Stack || !reg.VarOff.IsConst) return null;
        var frame = StackFrame(reg);
        int o = (int)(reg.Off + (long)reg.VarOff.Value);
        int slotIndex = FrameState.SlotOf(o);
        var slot = frame.Stack[slotIndex];
        int slotStart = -(slotIndex + 1) * 8;
        int toSlotEnd = slotStart + 8 - o;
        int zero = 0;
        while (zero < toSlotEnd && !slot.IsFullSpill && slot[FrameState.ByteOf(o + zero)] == StackByte.Zero) zero++;
        if (zero >= size) return 0;
        if (!slot.IsSpill || !slot.Spilled.IsScalar) return null;
        int spillEnd = slotStart + (slot.IsFullSpill ? 8 : slot.SpillSize);
        int spilled = o >= slotStart && o < spillEnd ? spillEnd - o : 0;
        if (spilled != size || !slot.Spilled.VarOff.IsConst) return null;
        MarkPreciseSlot(frame.FrameNo, slotIndex);
        return slot.Spilled.VarOff.Value;
    }
    private int _allocSize;

    /// <summary>The helper writes through this argument (MEM_UNINIT, or MEM_WRITE / a writable ARG_PTR_TO_MEM): stack
    /// bytes it covers hold whatever the helper left there afterwards, so they become plain data (the kernel's
    /// check_stack_range_initialized clobbers them on a BPF_WRITE access).</summary>
    private static bool WritesMemory(HelperArg arg) => arg.Has(HelperArgFlags.Uninit) || arg.Has(HelperArgFlags.Write);

    /// <summary>Argument registers helper <paramref name="id"/> reads (r1 through its last non-DONTCARE argument) for
    /// register liveness, or null when this program type has no prototype for it.</summary>
    private ushort? HelperArgRegisters(int id)
    {
        if (!HelperNames.IsKnown(id) || HelperPrototypes.Get((HelperId)id, _input.ProgramType) is not { } proto) return null;
        int count = 0;
        for (int i = 0; i < proto.Arguments.Count && i < 5; i++)
            if (proto.Arguments[i].Kind != HelperArgKind.None) count = i + 1;
        return (ushort)(((1 << count) - 1) << 1);
    }

    private RegisterState ReturnValue(HelperPrototype proto, IVerifierMapInfo? map, long retBound, int allocSize, ulong? constKey)
    {
        switch (proto.Return)
        {
            case HelperReturnKind.Void:
                return RegisterState.NotInit;
            case HelperReturnKind.MapValueOrNull:
            {
                if (map is null) throw Fail("kernel subsystem misconfigured verifier", Errno.EINVAL);
                if (map.Type is MapType.ArrayOfMaps or MapType.HashOfMaps && proto.Id == HelperId.MapLookupElem)
                {
                    // Map-in-map: the value is the inner map (CONST_PTR_TO_MAP | PTR_MAYBE_NULL).
                    var inner = RegisterState.Pointer(RegisterType.MapPtr);
                    inner.Map = map.InnerMap ?? throw Fail("map-in-map without an inner map template", Errno.EINVAL);
                    inner.MaybeNull = true;
                    inner.Id = NewId();
                    return inner;
                }
                var r = RegisterState.Pointer(RegisterType.MapValue);
                r.Map = map;
                // Array lookups with a constant in-range key cannot fail (6.12+: can_elide_value_nullness).
                bool elide = proto.Id == HelperId.MapLookupElem && map.Type is MapType.Array or MapType.PercpuArray
                    && constKey is { } key && key < map.MaxEntries;
                if (!elide)
                {
                    r.MaybeNull = true;
                    r.Id = NewId();
                }
                if ((map.Flags & MapFlags.RdonlyProg) != 0) r.ReadOnly = true;
                return r;
            }
            case HelperReturnKind.RingbufMemOrNull:
            {
                var r = RegisterState.Pointer(RegisterType.RingbufMem);
                r.MaybeNull = true;
                NewId();
                r.Id = NewId();
                r.RefObjId = r.Id;
                r.MemSize = allocSize;
                _cur.References.Add(new AcquiredReference(r.Id, _insnIdx));
                return r;
            }
            case HelperReturnKind.SocketOrNull:
            case HelperReturnKind.TcpSockOrNull:
            case HelperReturnKind.SockCommonOrNull:
            {
                var type = proto.Return switch
                {
                    HelperReturnKind.TcpSockOrNull => RegisterType.TcpSock,
                    HelperReturnKind.SockCommonOrNull => RegisterType.SockCommon,
                    _ => RegisterType.Socket,
                };
                var r = RegisterState.Pointer(type);
                r.MaybeNull = true;
                r.Id = NewId();
                if (proto.Id is HelperId.SkLookupTcp or HelperId.SkLookupUdp or HelperId.SkcLookupTcp)
                {
                    r.RefObjId = r.Id;
                    _cur.References.Add(new AcquiredReference(r.Id, _insnIdx));
                }
                return r;
            }
            case HelperReturnKind.BtfId:
                return TypedPointerReturn(proto, maybeNull: false);
            case HelperReturnKind.BtfIdOrNull:
                return TypedPointerReturn(proto, maybeNull: true);
            case HelperReturnKind.MemOrBtfId:
            case HelperReturnKind.MemOrNull:
                // Only the prototypes marked Unsupported return these; CheckHelperSupported stops them earlier.
                throw Fail($"helper {proto.Name}#{(int)proto.Id} return type is not modelled", Errno.ENOTSUPP);
            default:
            {
                var r = RegisterState.UnknownScalar();
                // do_refine_retval_range: the CPU number is below nr_cpu_ids, which is the kernel's (the profile's) to say.
                if (proto.Id == HelperId.GetSmpProcessorId && _input.Profile.PossibleCpus is int cpus and > 0)
                {
                    r.UMin = 0; r.SMin = 0; r.U32Min = 0; r.S32Min = 0;
                    r.UMax = (ulong)(cpus - 1); r.SMax = cpus - 1; r.U32Max = (uint)(cpus - 1); r.S32Max = cpus - 1;
                    ScalarBounds.Sync(ref r);
                }
                if (retBound >= 0)
                {
                    r.SMax = retBound;
                    r.S32Max = (int)Math.Min(retBound, int.MaxValue);
                    ScalarBounds.Sync(ref r);
                }
                return r;
            }
        }
    }

    private VerifierError TypeMismatch(int regno, in RegisterState reg, string expected) =>
        Fail($"R{regno} type={StateFormatter.TypeName(reg)} expected={expected}");

    private void CheckMapCompatibility(IVerifierMapInfo map, HelperPrototype proto, string name, int id)
    {
        bool ok = proto.AcceptedMapTypes is null ? !MapOnlyWith.ContainsKey(map.Type) || MapOnlyWith[map.Type].Contains(proto.Id)
                                                 : proto.AcceptedMapTypes.Contains(map.Type);
        if (ok && MapOnlyWith.TryGetValue(map.Type, out var only) && !only.Contains(proto.Id)) ok = false;
        if (!ok) throw Fail($"cannot pass map_type {(int)map.Type} into func {name}#{id}", Errno.EINVAL);
    }

    private void CheckMemoryArgType(int regno, in RegisterState reg, HelperArg arg, HelperPrototype proto)
    {
        bool okType = !reg.MaybeNull && reg.Type is RegisterType.Stack or RegisterType.Packet or RegisterType.PacketMeta
            or RegisterType.MapKey or RegisterType.MapValue or RegisterType.Mem or RegisterType.RingbufMem or RegisterType.BtfId;
        if (!okType) throw TypeMismatch(regno, reg, MemoryArgTypes);
        if (reg.IsPacketPointer && !proto.PacketAccess) throw Fail("helper access to the packet is not allowed");
    }

    /// <summary>check_helper_mem_access: the helper reads (or writes) <paramref name="size"/> bytes at the register.</summary>
    private void CheckHelperMemory(int regno, in RegisterState reg, HelperArg arg, HelperPrototype proto, long size, bool zeroSizeAllowed)
    {
        CheckMemoryArgType(regno, reg, arg, proto);
        bool write = arg.Has(HelperArgFlags.Write) || arg.Has(HelperArgFlags.Uninit);
        switch (reg.Type)
        {
            case RegisterType.Stack:
            {
                var frame = StackFrame(reg);
                long min = reg.Off + reg.SMin, max = reg.Off + reg.SMax;
                if (!reg.VarOff.IsConst && (reg.SMin == long.MinValue || reg.SMax == long.MaxValue))
                    throw Fail($"R{regno} unbounded indirect variable offset stack access");
                if (min < -FrameState.StackSize || max + size > 0)
                    throw Fail($"invalid {(write ? "write to" : "read from")} stack R{regno} off={min} size={size}");
                TouchStack(frame, (int)min);
                if (!write || !arg.Has(HelperArgFlags.Uninit))
                {
                    for (long o = min; o < max + size; o++)
                    {
                        MarkStackRead(frame, FrameState.SlotOf((int)o));
                        var s = frame.Stack[FrameState.SlotOf((int)o)];
                        var t = s.IsFullSpill ? StackByte.Spill : s[FrameState.ByteOf((int)o)];
                        if (t == StackByte.Invalid && !_privileged)
                            throw Fail($"invalid read from stack R{regno} off={o} size={size}");
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
                RegionAccess(regno, reg, reg.Off, (int)Math.Min(size, int.MaxValue), (int)map.ValueSize, "map value", "value_size", size);
                break;
            }
            case RegisterType.MapKey:
                RegionAccess(regno, reg, reg.Off, (int)Math.Min(size, int.MaxValue), (int)(reg.Map?.KeySize ?? 0), "map key", "key_size", size);
                break;
            case RegisterType.Mem:
            case RegisterType.RingbufMem:
                if (write && reg.ReadOnly) throw Fail($"R{regno} cannot write into {StateFormatter.TypeName(reg)}");
                RegionAccess(regno, reg, reg.Off, (int)Math.Min(size, int.MaxValue), reg.MemSize, "memory", "mem_size", size);
                break;
            default:
                // Typed kernel pointers would need the struct's size from vmlinux BTF; without it the access cannot
                // be bounded, so they are refused as memory.
                throw TypeMismatch(regno, reg, MemoryArgTypes);
        }
    }

    private void CheckSpinLockArg(int regno, in RegisterState reg, bool isLock)
    {
        if (reg.Type != RegisterType.MapValue || reg.MaybeNull) throw TypeMismatch(regno, reg, "map_value");
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
            if (_cur.ActiveLockId != 0) throw Fail("Locking two bpf_spin_locks are not allowed", Errno.EINVAL);
            _cur.ActiveLockId = lockId;
            _cur.ActiveLockMap = map;
            _cur.ActiveLockOffset = (int)off;
        }
        else
        {
            if (_cur.ActiveLockId == 0) throw Fail("bpf_spin_unlock without taking a lock", Errno.EINVAL);
            if (_cur.ActiveLockId != lockId || !ReferenceEquals(_cur.ActiveLockMap, map))
                throw Fail("bpf_spin_unlock of different lock", Errno.EINVAL);
            _cur.ActiveLockId = 0;
            _cur.ActiveLockMap = null;
        }
    }

    private void ReleaseReference(int refId)
    {
        int idx = _cur.References.FindIndex(r => r.Id == refId);
        if (idx < 0) throw Fail($"release reference id={refId} not found", Errno.EINVAL);
        _cur.References.RemoveAt(idx);
        foreach (var (f, i, spilled) in _cur.AllRegisters())
        {
            if (VerifierState.Read(f, i, spilled).RefObjId != refId) continue;
            // Privileged: the stale pointer becomes a scalar; unprivileged: unreadable.
            VerifierState.Write(f, i, spilled, _privileged ? RegisterState.UnknownScalar() : RegisterState.NotInit);
        }
    }

    private void InvalidatePacketPointers()
    {
        foreach (var (f, i, spilled) in _cur.AllRegisters())
        {
            if (VerifierState.Read(f, i, spilled).Type is RegisterType.Packet or RegisterType.PacketMeta or RegisterType.PacketEnd)
                VerifierState.Write(f, i, spilled, _privileged ? RegisterState.UnknownScalar() : RegisterState.NotInit);
        }
    }

    private void ClobberCallerSaved()
    {
        for (int r = 1; r <= 5; r++) Reg(r) = RegisterState.NotInit;
        for (int r = 0; r <= 5; r++) _log.Scratch(r);
    }

    // ---- bpf-to-bpf calls ----

    private void CheckLocalCall(Instruction insn)
    {
        if (insn.Dst != 0 || insn.Offset != 0) throw Fail("BPF_CALL uses reserved fields", Errno.EINVAL);
        int target = _insnIdx + insn.Imm + 1;
        _calls[_insnIdx] = new ResolvedCall(_insnIdx, false, target);
        _callEdges.Add((_cur.Current.FunctionStart, target));
        if (_cur.Frames.Count >= MaxCallFrames)
            throw Fail($"the call stack of {_cur.Frames.Count + 1} frames is too deep", Errno.E2BIG);
        if (_functions.TryGetValue(target, out var fn) && fn.IsGlobal)
        {
            CheckGlobalCall(fn);
            _insnIdx++;
            return;
        }
        if (_cur.ActiveLockId != 0) throw Fail("function calls are not allowed while holding a lock", Errno.EINVAL);

        var caller = _cur.Current;
        var callee = new FrameState { CallSite = _insnIdx, FunctionStart = target, FrameNo = _cur.Frames.Count, Serial = ++_frameSerial };
        for (int r = 1; r <= 5; r++) callee.Registers[r] = caller.Registers[r];
        // The arguments now live in the callee; the caller's copies are clobbered by the call (the kernel clears
        // them here, so checkpoints inside the callee and the log show the caller without them).
        for (int r = 1; r <= 5; r++) caller.Registers[r] = RegisterState.NotInit;
        callee.Registers[10] = RegisterState.Pointer(RegisterType.Stack);
        callee.Registers[10].FrameNo = callee.FrameNo;
        _cur.Frames.Add(callee);
        _insnIdx = target;
        _log.CallerCallee(caller, callee);
    }

    private static readonly HelperPrototype GlobalFuncProto = new(HelperId.Unspec, HelperReturnKind.Integer, [], PacketAccess: true);

    /// <summary>Simulates a helper callback (bpf_loop, for_each_map_elem) as a call from the helper's site.
    /// The path that runs no callback at all is explored too.</summary>
    private void StartCallback(int target, HelperId helper, IVerifierMapInfo? map, RegisterState ctxArg)
    {
        if (_cur.Frames.Count >= MaxCallFrames)
            throw Fail($"the call stack of {_cur.Frames.Count + 1} frames is too deep", Errno.E2BIG);
        _callEdges.Add((_cur.Current.FunctionStart, target));

        // Path 1: zero iterations; the helper returns and the caller continues.
        var skip = _cur.Clone();
        var sf = skip.Current;
        for (int r = 1; r <= 5; r++) sf.Registers[r] = RegisterState.NotInit;
        sf.Registers[0] = RegisterState.UnknownScalar();
        PushBranch(skip, _insnIdx + 1, _insnIdx);

        var caller = _cur.Current;
        var callee = new FrameState { CallSite = _insnIdx, FunctionStart = target, FrameNo = _cur.Frames.Count, IsCallback = true, Serial = ++_frameSerial };
        if (helper == HelperId.TimerSetCallback && map is not null)
        {
            // Async callback (timer): (map, key, value), must return 0; it runs later, not in the caller's frame.
            SetMapElementArgs(callee, map);
        }
        else if (helper == HelperId.FindVma)
        {
            callee.Registers[1] = TypedPointerReturn(new HelperPrototype(HelperId.FindVma, HelperReturnKind.BtfId, []) { ReturnBtfType = "task_struct" }, false);
            callee.Registers[2] = TypedPointerReturn(new HelperPrototype(HelperId.FindVma, HelperReturnKind.BtfId, []) { ReturnBtfType = "vm_area_struct" }, false);
            callee.Registers[3] = ctxArg;
        }
        else if (helper == HelperId.ForEachMapElem && map is not null)
        {
            SetMapElementArgs(callee, map);
            callee.Registers[4] = ctxArg;
        }
        else
        {
            callee.Registers[1] = RegisterState.UnknownScalar();
            callee.Registers[2] = ctxArg;
        }
        callee.Registers[10] = RegisterState.Pointer(RegisterType.Stack);
        callee.Registers[10].FrameNo = callee.FrameNo;
        for (int r = 1; r <= 5; r++) caller.Registers[r] = RegisterState.NotInit;
        _cur.Frames.Add(callee);
        _insnIdx = target;
    }

    // ---- exit ----

    private Flow CheckExit()
    {
        CheckRcuSectionAtExit();
        if (CheckGlobalSubprogExit() is { } globalExit) return globalExit;
        if (_cur.ActiveLockId != 0) throw Fail("bpf_spin_unlock is missing", Errno.EINVAL);
        var r0 = ReadReg(0);
        if (_cur.Frames.Count > 1)
        {
            var callee = _cur.Current;
            if (r0.Type == RegisterType.Stack && r0.FrameNo == callee.FrameNo)
                throw Fail("cannot return stack pointer to the caller frame", Errno.EINVAL);
            _cur.Frames.RemoveAt(_cur.Frames.Count - 1);
            var caller = _cur.Current;
            if (callee.IsCallback && IsAsyncCallback(callee))
            {
                if (!r0.IsScalar) throw Fail($"At async callback return the register R0 is not a known value ({StateFormatter.TypeName(r0)})", Errno.EINVAL);
                MarkPrecise(0);
                if (r0.SMin != 0 || r0.SMax != 0)
                    throw Fail($"At async callback return the register R0 has smin={r0.SMin} smax={r0.SMax} should have been in [0, 0]", Errno.EINVAL);
                caller.Registers[0] = RegisterState.UnknownScalar();
            }
            else if (callee.IsCallback)
            {
                if (!r0.IsScalar) throw Fail($"At callback return the register R0 is not a known value ({StateFormatter.TypeName(r0)})", Errno.EINVAL);
                MarkPrecise(0);
                RecordCallbackExit();
                if (r0.SMin < 0 || r0.SMax > 1)
                    throw Fail($"At callback return the register R0 has smin={r0.SMin} smax={r0.SMax} should have been in [0, 1]", Errno.EINVAL);
                caller.Registers[0] = RegisterState.UnknownScalar();
            }
            else
            {
                caller.Registers[0] = r0;
            }
            for (int r = 1; r <= 5; r++) caller.Registers[r] = RegisterState.NotInit;
            if (!callee.IsCallback) _log.ReturnFromCallee(_insnIdx, callee.CallSite + 1, callee, _cur);
            _insnIdx = callee.CallSite + 1;
            return Flow.Continue;
        }

        if (_cur.References.Count > 0)
        {
            var leak = _cur.References[0];
            throw Fail($"Unreleased reference id={leak.Id} alloc_insn={leak.InsnIndex}\nBPF_EXIT instruction in main prog would lead to reference leak", Errno.EINVAL);
        }
        if (r0.IsPointer && !_privileged) throw Fail("R0 leaks addr as return value");
        var range = ReturnValueRules.For(_input.ProgramType, _input.ExpectedAttachType);
        if (range is { } rr)
        {
            if (!r0.IsScalar) throw Fail($"At program exit the register R0 is not a known value ({StateFormatter.TypeName(r0)})", Errno.EINVAL);
            MarkPrecise(0);
            if (r0.SMin < rr.Min || r0.SMax > rr.Max)
                throw Fail($"At program exit the register R0 has smin={r0.SMin} smax={r0.SMax} should have been in [{rr.Min}, {rr.Max}]", Errno.EINVAL);
        }
        return Flow.PathDone;
    }

    /// <summary>check_max_stack_depth: the deepest chain of frames must fit in 512 bytes.</summary>
    private void CheckCombinedStack()
    {
        var edges = _callEdges.Distinct().GroupBy(e => e.Caller).ToDictionary(g => g.Key, g => g.Select(e => e.Callee).ToList());
        int Round(int d) => Math.Max(32, (d + 31) / 32 * 32);
        void Walk(int fn, int depth, int frames, HashSet<int> onPath)
        {
            depth += Round(_stackDepth.GetValueOrDefault(fn));
            if (depth > FrameState.StackSize && frames > 1)
                throw new VerifierError(Errno.EACCES, $"combined stack size of {frames} calls is {depth}. Too large", _insnIdx);
            if (!edges.TryGetValue(fn, out var callees)) return;
            foreach (int c in callees)
            {
                if (_functions.TryGetValue(c, out var f) && f.IsGlobal) continue;
                if (!onPath.Add(c)) continue;
                Walk(c, depth, frames + 1, onPath);
                onPath.Remove(c);
            }
        }
        Walk(0, 0, 1, [0]);
    }

    /// <summary>A map element callback's (map, key, value) arguments in R1–R3.</summary>
    private static void SetMapElementArgs(FrameState callee, IVerifierMapInfo map)
    {
        callee.Registers[1] = RegisterState.Pointer(RegisterType.MapPtr);
        callee.Registers[1].Map = map;
        callee.Registers[2] = RegisterState.Pointer(RegisterType.MapKey);
        callee.Registers[2].Map = map;
        callee.Registers[3] = RegisterState.Pointer(RegisterType.MapValue);
        callee.Registers[3].Map = map;
    }
}
