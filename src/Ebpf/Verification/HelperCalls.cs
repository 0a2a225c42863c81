using Ebpf.Abi;
using Ebpf.Abi.Helpers;
using Ebpf.Btf;
using Ebpf.Isa;

namespace Ebpf.Verification;

/// <summary>
/// Calls to BPF helpers (check_helper_call): the helper is resolved against the profile and its prototype, every
/// argument is checked against its kind, and R0 is set from the prototype's return kind. Map/helper compatibility and
/// the value a lookup returns live here; pointer-argument memory checks are in <see cref="HelperArguments"/>.
/// </summary>
internal sealed class HelperCalls(VerifierContext walk) : VerifierComponent(walk)
{
    /// <returns>True when the call entered a callback (the next instruction is the callback's first).</returns>
    internal bool CheckHelperCall(Instruction insn)
    {
        int id = insn.Imm;
        // A host helper (registered with the runtime, above the kernel's ids) is checked against the prototype the
        // host gave, exactly like a kernel helper against the kernel's; any program type may call it.
        var host = Input.HostHelpers?.GetValueOrDefault(id);
        // get_helper_proto: ids outside [0, __BPF_FUNC_MAX_ID) are "invalid func"; id 0 (BPF_FUNC_unspec) is in range
        // but no program type has it, so it gets the "cannot use helper" line with the kernel's name for it.
        if (host is null && (id < 0 || id >= HelperNames.MaxId))
            throw Fail($"invalid func {HelperNames.KernelName(id)}#{id}", Errno.EINVAL);
        string name = host?.Name ?? (id == 0 ? "bpf_unspec" : HelperNames.KernelName(id));
        if (host is null && id == 0)
            throw Fail($"program of this type cannot use helper {name}#{id}", Errno.EINVAL);
        // A struct_ops program's helpers are its struct_ops type's get_func_proto (per member), not the program type's.
        bool allowed = Walk.StructOps is { Type: { } stType } st
            ? stType.AllowsHelper(Input.Profile, st.MemberName, id, Input.Privilege)
            : Input.Profile.IsHelperAllowed(Input.ProgramType, id, Input.Privilege)
                || Attach.TracingHelperRules.Allows(Input.ProgramType, Input.ExpectedAttachType, id);
        if (host is null && !allowed)
            throw Fail($"program of this type cannot use helper {name}#{id}", Errno.EINVAL);
        var proto = host?.Prototype ?? HelperPrototypes.Get((HelperId)id, Input.ProgramType)
            ?? throw Unsupported($"helper {name}#{id}", UnsupportedFeatures.HelperWithoutPrototype);
        ResolvedCalls[InsnIdx] = new ResolvedCall(InsnIdx, true, id);
        CheckHelperSupported(proto, name, id);
        if (proto.GplOnly && !Input.GplCompatible)
            throw Fail("cannot call GPL-restricted function from non-GPL compatible program", Errno.EINVAL);
        if (proto.SleepableOnly && !Input.Sleepable)
            throw Fail("helper call might sleep in a non-sleepable prog", Errno.EINVAL);
        // do_check: under a lock only bpf_spin_unlock may be called (a second bpf_spin_lock included).
        if (Cur.ActiveLockId != 0 && proto.Id != HelperId.SpinUnlock)
            throw Fail("function calls are not allowed while holding a lock", Errno.EINVAL);
        if (proto.Id == HelperId.GetFuncIp && Input.ProgramType is not (ProgramType.Kprobe or ProgramType.Tracing))
            throw Fail($"func {name}#{id} not supported for program type {(int)Input.ProgramType}", Errno.ENOTSUPP);
        // A socket filter's or tracing program's use of a spin-lock map is refused before the walk
        // (MapProgramCompatibility); the helper itself checks only its argument, as the kernel does.

        IVerifierMapInfo? map = null;
        int releaseRefId = 0;
        IVerifierMapInfo? timerMap = null;
        int castRefObjId = proto.CastsReference ? Reg(1).RefObjId : 0;
        int callbackInsn = -1;
        RegisterState callbackCtx = RegisterState.NotInit;
        var writes = new List<(int Regno, long Size)>();
        DynptrSlots.Dynptr? usedDynptr = null, releasedDynptr = null;
        for (int i = 0; i < proto.Arguments.Count; i++)
        {
            var arg = proto.Arguments[i];
            int regno = i + 1;
            if (arg.Kind == HelperArgKind.None) break;
            var reg = ReadReg(regno);
            // A scalar anywhere but an "anything" argument is checked by value (sizes, constants, NULL).
            if (reg.IsScalar && arg.Kind != HelperArgKind.Anything) Precision.MarkPrecise(regno);
            switch (arg.Kind)
            {
                case HelperArgKind.Anything:
                    if (reg.IsPointer && !AllowPtrLeaks) throw Fail($"R{regno} leaks addr into helper function");
                    break;
                case HelperArgKind.ConstMapPtr:
                    if (reg.Type != RegisterType.MapPtr || reg.MaybeNull) throw HelperArgs.TypeMismatch(regno, reg, "map_ptr");
                    map = reg.Map!;
                    if (timerMap is not null && !ReferenceEquals(timerMap, map))
                        throw Fail($"timer pointer in R1 map_uid=0 doesn't match map pointer in R{regno} map_uid=0", Errno.EINVAL);
                    break;
                case HelperArgKind.PtrToMapKey:
                case HelperArgKind.PtrToMapValue:
                {
                    // resolve_map_arg_type: a sockmap/sockhash "value" is the socket to insert.
                    if (arg.Kind == HelperArgKind.PtrToMapValue && map?.Type is MapType.Sockmap or MapType.Sockhash)
                    {
                        if (arg.Has(HelperArgFlags.MaybeNull)) throw Fail("invalid arg_type for sockmap/sockhash", Errno.EINVAL);
                        HelperArgs.CheckOtherHelperArg(regno, reg, new HelperArg(HelperArgKind.PtrToBtfIdSockCommon), proto, ref timerMap);
                        break;
                    }
                    if (arg.Has(HelperArgFlags.MaybeNull) && reg.IsScalar && ScalarBounds.IsConst(reg, 0)) break;
                    if (map is null) throw Fail($"invalid map_ptr to access map->{(arg.Kind == HelperArgKind.PtrToMapKey ? "key" : "value")}", Errno.EACCES);
                    int size = (int)(arg.Kind == HelperArgKind.PtrToMapKey ? map.KeySize : map.ValueSize);
                    if (size == 0) throw Fail("invalid zero-sized read");
                    HelperArgs.CheckHelperMemory(regno, reg, arg, proto, size, zeroSizeAllowed: false);
                    if (arg.Kind == HelperArgKind.PtrToMapKey) _constKey = ConstStackKey(reg, size);
                    if (HelperArguments.WritesMemory(arg)) writes.Add((regno, size));
                    break;
                }
                case HelperArgKind.PtrToMem:
                {
                    if (arg.Has(HelperArgFlags.MaybeNull) && reg.IsScalar && ScalarBounds.IsConst(reg, 0)) break;
                    if (arg.Has(HelperArgFlags.FixedSize))
                    {
                        HelperArgs.CheckHelperMemory(regno, reg, arg, proto, arg.FixedSize, zeroSizeAllowed: false);
                        if (arg.Has(HelperArgFlags.Aligned)) HelperArgs.CheckAlignedArg(regno, reg, arg.FixedSize);
                        if (HelperArguments.WritesMemory(arg)) writes.Add((regno, arg.FixedSize));
                        break;
                    }
                    // Sized by the next argument: check the type now, the extent with the size.
                    HelperArgs.CheckMemoryArgType(regno, reg, arg, proto);
                    break;
                }
                case HelperArgKind.ConstSize:
                case HelperArgKind.ConstSizeOrZero:
                {
                    if (!reg.IsScalar) throw HelperArgs.TypeMismatch(regno, reg, "scalar");
                    var memArg = proto.Arguments[i - 1];
                    var mem = Reg(regno - 1);
                    bool zeroOk = arg.Kind == HelperArgKind.ConstSizeOrZero;
                    if (reg.SMin < 0) throw Fail($"R{regno} min value is negative, either use unsigned or 'var &= const'");
                    if (reg.UMin == 0 && !zeroOk) throw Fail($"R{regno} invalid zero-sized read: u64=[{(long)reg.UMin},{(long)reg.UMax}]"); // check_mem_size_reg prints %lld
                    if (reg.UMax >= (ulong)AluChecker.MaxVarOff) throw Fail($"R{regno} unbounded memory access, use 'var &= const' or 'if (var < const)'");
                    bool memIsNull = mem.IsScalar && ScalarBounds.IsConst(mem, 0) && memArg.Has(HelperArgFlags.MaybeNull);
                    if (memIsNull)
                    {
                        if (reg.UMax != 0) throw Fail($"R{regno - 1} type=scalar expected={HelperArguments.MemoryArgTypes}");
                        break;
                    }
                    // check_mem_size_reg: the memory is checked for the largest size, a zero size included (a
                    // zero-sized access must still start inside the region).
                    HelperArgs.CheckHelperMemory(regno - 1, mem, memArg, proto, (long)reg.UMax, zeroSizeAllowed: zeroOk);
                    if (reg.UMax > 0 && HelperArguments.WritesMemory(memArg)) writes.Add((regno - 1, (long)reg.UMax));
                    if (proto.ReturnBoundedBySizeArg == i) _retBound = (long)reg.UMax;
                    break;
                }
                case HelperArgKind.ConstAllocSizeOrZero:
                    if (!reg.IsScalar || !reg.VarOff.IsConst) throw Fail($"R{regno} is not a known constant'");
                    _allocSize = (int)reg.VarOff.Value;
                    break;
                case HelperArgKind.PtrToCtx:
                    if (arg.Has(HelperArgFlags.MaybeNull) && reg.IsScalar && ScalarBounds.IsConst(reg, 0)) break;
                    if (reg.Type != RegisterType.Ctx) throw HelperArgs.TypeMismatch(regno, reg, "ctx");
                    // __check_ptr_off_reg, in its order.
                    if (reg.Off < 0) throw Fail($"negative offset ctx ptr R{regno} off={reg.Off} disallowed");
                    if (reg.Off != 0) throw Fail($"dereference of modified ctx ptr R{regno} off={reg.Off} disallowed");
                    if (!reg.VarOff.IsConst || reg.VarOff.Value != 0) throw Fail($"variable ctx access var_off={reg.VarOff} disallowed");
                    break;
                case HelperArgKind.PtrToFunc:
                    if (reg.Type != RegisterType.Func) throw HelperArgs.TypeMismatch(regno, reg, "func");
                    callbackInsn = reg.FuncInsn;
                    break;
                case HelperArgKind.PtrToStack:
                    if (arg.Has(HelperArgFlags.MaybeNull) && reg.IsScalar && ScalarBounds.IsConst(reg, 0)) { callbackCtx = reg; break; }
                    if (reg.Type != RegisterType.Stack) throw HelperArgs.TypeMismatch(regno, reg, "fp");
                    callbackCtx = reg;
                    break;
                case HelperArgKind.PtrToConstStr:
                    if (reg.Type != RegisterType.MapValue || reg.MaybeNull) throw HelperArgs.TypeMismatch(regno, reg, "map_value");
                    if ((reg.Map!.Flags & MapFlags.RdonlyProg) == 0) throw Fail($"R{regno} does not point to a readonly map'");
                    if (!reg.VarOff.IsConst) throw Fail($"R{regno} is not a constant address'");
                    break;
                case HelperArgKind.PtrToRingbufMem:
                    if (reg.Type != RegisterType.RingbufMem || reg.MaybeNull) throw HelperArgs.TypeMismatch(regno, reg, "ringbuf_mem");
                    if (reg.Off != 0 || !reg.VarOff.IsConst || reg.VarOff.Value != 0)
                        throw Fail($"R{regno} must have zero offset when passed to release func");
                    if (reg.RefObjId == 0) throw Fail($"R{regno} must be referenced when passed to release function");
                    releaseRefId = reg.RefObjId;
                    break;
                case HelperArgKind.PtrToDynptr:
                {
                    // check_reg_type, the OBJ_RELEASE check, then process_dynptr_func.
                    var (uninit, make, expected, release) = DynptrSlots.HelperArg((HelperId)id, arg);
                    if (reg.Type != RegisterType.Stack) throw HelperArgs.TypeMismatch(regno, reg, "fp, dynptr_ptr");
                    if (release) Dynptrs.CheckReleasable(regno);
                    var d = Dynptrs.Process(regno, uninit, make, expected, kfunc: false);
                    if (release) releasedDynptr = d;
                    else if (!uninit) usedDynptr = d;
                    break;
                }
                case HelperArgKind.PtrToSpinLock:
                    HelperArgs.CheckSpinLockArg(regno, reg, (HelperId)id == HelperId.SpinLock);
                    break;
                case HelperArgKind.PtrToSocket:
                    if (arg.Has(HelperArgFlags.MaybeNull) && reg.IsScalar && ScalarBounds.IsConst(reg, 0)) break;
                    if (reg.Type is not (RegisterType.SockCommon or RegisterType.Socket or RegisterType.TcpSock or RegisterType.XdpSock) || reg.MaybeNull)
                        throw HelperArgs.TypeMismatch(regno, reg, "sock_common, sock, tcp_sock, xdp_sock, ptr_");
                    if (arg.Has(HelperArgFlags.Release))
                    {
                        if (reg.RefObjId == 0) throw Fail($"R{regno} must be referenced when passed to release function");
                        releaseRefId = reg.RefObjId;
                    }
                    break;
                default:
                {
                    int released = HelperArgs.CheckOtherHelperArg(regno, reg, arg, proto, ref timerMap);
                    if (released != 0) releaseRefId = released;
                    break;
                }
            }
        }

        // record_func_key runs before check_map_func_compatibility: a tail call through any other map is refused here.
        if ((HelperId)id == HelperId.TailCall && map?.Type != MapType.ProgArray)
            throw Fail("expected prog array map for tail call", Errno.EINVAL);
        if (map is not null) CheckMapCompatibility(map, proto, name, id);
        // check_helper_call: a local dynptr's memory must be a map value.
        if ((HelperId)id == HelperId.DynptrFromMem && Reg(1).Type != RegisterType.MapValue)
            throw Fail($"Unsupported reg type {StateFormatter.TypeName(Reg(1))} for bpf_dynptr_from_mem data");
        if ((HelperId)id == HelperId.GetLocalStorage)
        {
            // get_local_storage() cannot fail, so it has no flags to fail on; the value decides the verdict.
            Precision.MarkPrecise(2);
            if (!(Reg(2).IsScalar && ScalarBounds.IsConst(Reg(2), 0)))
                throw Fail("get_local_storage() doesn't support non-zero flags", Errno.EINVAL);
        }
        // record_func_key: a constant tail-call index is recorded for direct jumps, so it is precise in the kernel.
        if ((HelperId)id == HelperId.TailCall && Reg(3).IsConst) Precision.MarkPrecise(3);
        if ((HelperId)id == HelperId.TailCall && map is not null) RecordTailCallMap(map);
        if ((HelperId)id == HelperId.TailCall && Cur.References.Count > 0)
            throw Fail("tail_call would lead to reference leak", Errno.EINVAL);

        // Memory the helper fills is initialised afterwards.
        foreach (var (regno, size) in writes)
        {
            var r = Reg(regno);
            if (r.Type == RegisterType.Stack && r.VarOff.IsConst)
                StackMem.MarkStackWritten(StackMem.StackFrame(r), r.Off + (long)r.VarOff.Value, size);
        }

        if (releaseRefId != 0) Subprograms.ReleaseReference(releaseRefId);
        if (releasedDynptr is { } releasedPtr) Dynptrs.Release(releasedPtr);

        // A tail call itself leaves packet pointers valid (when it fails, nothing moved the packet; when it succeeds,
        // this program is gone): 6.18 only counts it in a global function's changes_pkt_data summary (GlobalFunctions).
        if (proto.ChangesPacketData || DynptrSlots.HelperWriteChangesPacket((HelperId)id, usedDynptr))
        {
            ChangesPacketData = true;
            Subprograms.InvalidatePacketPointers();
        }

        var retMap = map;
        long retBound = _retBound;
        int allocSize = _allocSize;
        _retBound = -1;
        _allocSize = 0;
        var constKey = _constKey;
        _constKey = null;

        if (callbackInsn >= 0 && !ControlFlow.IsSyncCallbackHelper(id))
        {
            Subprograms.StartCallback(callbackInsn, (HelperId)id, retMap ?? timerMap, callbackCtx);
            return true;
        }
        if (callbackInsn >= 0) Subprograms.PushCallback(callbackInsn, (HelperId)id, retMap, callbackCtx);

        Subprograms.ClobberCallerSaved();
        // bpf_dynptr_data: a slice of the dynptr (RET_PTR_TO_DYNPTR_MEM_OR_NULL), dying with it and its reference.
        var ret = proto.Id == HelperId.DynptrData && usedDynptr is { } sliced ? Dynptrs.Slice(sliced, allocSize, readOnly: false)
            : ReturnValue(proto, retMap, retBound, allocSize, constKey);
        // is_ptr_cast_function: the result shares the argument's reference.
        if (castRefObjId != 0 && ret.IsPointer) ret.RefObjId = castRefObjId;
        SetReg(0, ret);
        return false;
    }

    private long _retBound = -1;

    /// <summary>MAX_ERRNO: the most negative errno a helper returns.</summary>
    private const int MaxErrno = 4095;

    private ulong? _constKey;

    /// <summary>
    /// get_constant_map_key: the key's value when the stack proves it. Counting from the key's first byte to the end of
    /// its slot: enough STACK_ZERO bytes make it 0; otherwise the slot must hold a spilled scalar covering exactly the
    /// key's size from there, whose (whole) constant value is the key. An 8-byte spill read as a 4-byte key is not
    /// constant, however the value looks.
    /// </summary>
    private ulong? ConstStackKey(in RegisterState reg, int size)
    {
        if (!Privileged || reg.Type != RegisterType.Stack || !reg.VarOff.IsConst) return null;
        var frame = StackMem.StackFrame(reg);
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
        Precision.MarkPreciseSlot(frame.FrameNo, slotIndex);
        return slot.Spilled.VarOff.Value;
    }

    private int _allocSize;

    /// <summary>Argument registers helper <paramref name="id"/> reads (r1 through its last non-DONTCARE argument) for
    /// register liveness, or null when this program type has no prototype for it.</summary>
    internal static ushort? HelperArgRegisters(VerifierInput input, int id)
    {
        var proto = input.HostHelpers?.GetValueOrDefault(id)?.Prototype
            ?? (HelperNames.IsKnown(id) ? HelperPrototypes.Get((HelperId)id, input.ProgramType) : null);
        if (proto is null) return null;
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
                if (proto.Id == HelperId.MapLookupElem && map.Type is MapType.Sockmap or MapType.Sockhash)
                {
                    // is_acquire_function: the socket found holds a reference until bpf_sk_release; the NULL check
                    // turns the value into a socket pointer (mark_ptr_or_null_reg).
                    r.MaybeNull = true;
                    NewId();
                    r.Id = NewId();
                    r.RefObjId = r.Id;
                    Cur.References.Add(new AcquiredReference(r.Id, InsnIdx));
                    return r;
                }
                // Array lookups with a constant in-range key cannot fail (6.12+: can_elide_value_nullness), nor can
                // bpf_get_local_storage (RET_PTR_TO_MAP_VALUE: the cgroup's storage always exists).
                bool elide = (proto.Id == HelperId.MapLookupElem && map.Type is MapType.Array or MapType.PercpuArray
                    && constKey is { } key && key < map.MaxEntries) || proto.Id == HelperId.GetLocalStorage;
                if (!elide)
                {
                    r.MaybeNull = true;
                    r.Id = NewId();
                }
                else if (map.SpinLockOffset >= 0)
                {
                    // A value that cannot be NULL still gets its own id when it holds a bpf_spin_lock: the lock is
                    // identified by it (bpf_spin_unlock must name the same value as bpf_spin_lock).
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
                Cur.References.Add(new AcquiredReference(r.Id, InsnIdx));
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
                    Cur.References.Add(new AcquiredReference(r.Id, InsnIdx));
                }
                return r;
            }
            case HelperReturnKind.BtfId:
                return TypedPointerReturn(proto, maybeNull: false);
            case HelperReturnKind.BtfIdOrNull:
                return TypedPointerReturn(proto, maybeNull: true);
            case HelperReturnKind.MemOrBtfId:
                return PercpuPointerReturn(proto);
            case HelperReturnKind.MemOrNull:
                // Only the prototypes marked Unsupported return these; CheckHelperSupported stops them earlier.
                throw Unsupported($"helper {proto.Name}#{(int)proto.Id}", $"helper return kind {proto.Return}");
            default:
            {
                var r = RegisterState.UnknownScalar();
                // do_refine_retval_range: the CPU number is below nr_cpu_ids, which is the kernel's (the profile's) to say.
                if (proto.Id == HelperId.GetSmpProcessorId && Input.Profile.PossibleCpus is int cpus and > 0)
                {
                    r.UMin = 0; r.SMin = 0; r.U32Min = 0; r.S32Min = 0;
                    r.UMax = (ulong)(cpus - 1); r.SMax = cpus - 1; r.U32Max = (uint)(cpus - 1); r.S32Max = cpus - 1;
                    ScalarBounds.Sync(ref r);
                }
                if (retBound >= 0)
                {
                    // The helper returns the bytes it wrote, at most the size argument, or a negative errno.
                    r.SMin = -MaxErrno;
                    r.S32Min = -MaxErrno;
                    r.SMax = retBound;
                    r.S32Max = (int)Math.Min(retBound, int.MaxValue);
                    ScalarBounds.Sync(ref r);
                }
                return r;
            }
        }
    }

    private void CheckMapCompatibility(IVerifierMapInfo map, HelperPrototype proto, string name, int id)
    {
        bool ok = MapCompatibility.MapAllows(map.Type, proto.Id, Input.ProgramType, Input.ExpectedAttachType, out bool sockmapContext)
            && (proto.AcceptedMapTypes is null || proto.AcceptedMapTypes.Contains(map.Type));
        string context = sockmapContext ? "cannot update sockmap in this context\n" : "";
        if (!ok) throw Fail($"{context}cannot pass map_type {(int)map.Type} into func {name}#{id}", Errno.EINVAL);
    }

    /// <summary>Rejects calls this verifier cannot check, before any argument is looked at.</summary>
    private void CheckHelperSupported(HelperPrototype proto, string name, int id)
    {
        if (proto.Unsupported is { } why)
            throw Unsupported($"helper {name}#{id}", why);
        if (proto.Arguments.Any(a => a.Kind == HelperArgKind.PtrToTimer)
            && Input.ProgramType is ProgramType.Kprobe or ProgramType.Tracepoint or ProgramType.PerfEvent
                or ProgramType.RawTracepoint or ProgramType.RawTracepointWritable)
            throw Fail("tracing progs cannot use bpf_timer yet", Errno.EINVAL);
    }

    /// <summary>
    /// RET_PTR_TO_MEM_OR_BTF_ID | MEM_RDONLY (bpf_this_cpu_ptr; | PTR_MAYBE_NULL for bpf_per_cpu_ptr): this CPU's (or
    /// the given CPU's) instance of the per-CPU ksym in R1, read-only memory of its size, or a typed pointer to a struct.
    /// </summary>
    private RegisterState PercpuPointerReturn(HelperPrototype proto)
    {
        if (!KernelTypes.TryGetPercpu(HelperArgs.PercpuArgument, out var percpu))
            throw Fail("kernel subsystem misconfigured verifier", Errno.EINVAL);
        RegisterState r;
        if (percpu.IsStruct)
        {
            r = RegisterState.Pointer(RegisterType.BtfId);
            r.MemSize = KernelTypes.Intern(percpu.Name);
        }
        else
        {
            if (percpu.Size < 0) throw Fail($"unable to resolve the size of type '{percpu.Name}': -22", Errno.EINVAL);
            r = RegisterState.Pointer(RegisterType.Mem);
            r.ReadOnly = true;
            r.MemSize = percpu.Size;
        }
        if (proto.Id == HelperId.PerCpuPtr)
        {
            r.MaybeNull = true;
            r.Id = NewId();
        }
        return r;
    }

    /// <summary>R0 of a helper returning a typed kernel pointer.</summary>
    internal RegisterState TypedPointerReturn(HelperPrototype proto, bool maybeNull)
    {
        var r = RegisterState.Pointer(RegisterType.BtfId);
        r.MemSize = KernelTypes.Intern(proto.ReturnBtfType);
        // RET_PTR_TO_BTF_ID_TRUSTED: the current task stays valid for the whole run.
        if (proto.Id == HelperId.GetCurrentTaskBtf) r.Trust = PointerTrust.Trusted;
        if (maybeNull)
        {
            r.MaybeNull = true;
            r.Id = NewId();
        }
        return r;
    }

    /// <summary>record_func_map for bpf_tail_call: the prog array each call site saw first, and the sites that saw two.</summary>
    private readonly Dictionary<int, IVerifierMapInfo> _tailCallMaps = [];
    private readonly SortedSet<int> _poisonedTailCalls = [];

    private void RecordTailCallMap(IVerifierMapInfo map)
    {
        if (!_tailCallMaps.TryAdd(InsnIdx, map) && !ReferenceEquals(_tailCallMaps[InsnIdx], map))
            _poisonedTailCalls.Add(InsnIdx);
    }

    /// <summary>
    /// do_misc_fixups: the kernel bounds an unprivileged tail call's index with the one prog array of its call site
    /// (against Spectre v1); a site reached with two different prog arrays cannot be bounded and is refused once the
    /// program has otherwise been verified.
    /// </summary>
    internal void CheckTailCallMaps()
    {
        if (AllowPtrLeaks || _poisonedTailCalls.Count == 0) return;
        InsnIdx = _poisonedTailCalls.Min;
        throw Fail("tail_call abusing map_ptr", Errno.EINVAL);
    }
}
