using Ebpf.Abi;
using Ebpf.Abi.Contexts;
using Ebpf.Abi.Helpers;
using Ebpf.Btf;
using Ebpf.Isa;

namespace Ebpf.Verification;

/// <summary>
/// bpf-to-bpf calls and callbacks (check_func_call, push_callback_call, prepare_func_exit): a new frame for a static
/// subprogram or a callback, the exit that returns to the caller or ends the program (return range, reference leaks),
/// the caller-saved registers a call clobbers, and the combined stack depth over the call graph.
/// Calls to global functions go to <see cref="GlobalFunctions"/>.
/// </summary>
internal sealed class SubprogramCalls(VerifierContext walk) : VerifierComponent(walk)
{
    internal const int MaxCallFrames = 8;

    internal void ReleaseReference(int refId)
    {
        int idx = Cur.References.FindIndex(r => r.Id == refId);
        if (idx < 0) throw Fail($"release reference id={refId} not found", Errno.EINVAL);
        Cur.References.RemoveAt(idx);
        foreach (var (f, i, spilled) in Cur.AllRegisters())
        {
            if (VerifierState.Read(f, i, spilled).RefObjId != refId) continue;
            // Privileged: the stale pointer becomes a scalar; unprivileged: unreadable.
            VerifierState.Write(f, i, spilled, Privileged ? RegisterState.UnknownScalar() : RegisterState.NotInit);
        }
    }

    internal void InvalidatePacketPointers()
    {
        foreach (var (f, i, spilled) in Cur.AllRegisters())
        {
            var r = VerifierState.Read(f, i, spilled);
            if (r.Type is RegisterType.Packet or RegisterType.PacketMeta or RegisterType.PacketEnd || DynptrSlots.IsPacketSlice(r))
                VerifierState.Write(f, i, spilled, Privileged ? RegisterState.UnknownScalar() : RegisterState.NotInit);
        }
    }

    internal void ClobberCallerSaved()
    {
        for (int r = 1; r <= 5; r++) Reg(r) = RegisterState.NotInit;
        for (int r = 0; r <= 5; r++) Log.Scratch(r);
    }

    // ---- bpf-to-bpf calls ----

    internal void CheckLocalCall(Instruction insn)
    {
        if (insn.Dst != 0 || insn.Offset != 0) throw Fail("BPF_CALL uses reserved fields", Errno.EINVAL);
        int target = InsnIdx + insn.Imm + 1;
        ResolvedCalls[InsnIdx] = new ResolvedCall(InsnIdx, false, target);
        CallEdges.Add((Cur.Current.FunctionStart, target));
        Exceptions.CheckNotCalled(target);
        if (Cur.Frames.Count >= MaxCallFrames)
            throw Fail($"the call stack of {Cur.Frames.Count + 1} frames is too deep", Errno.E2BIG);
        if (Functions.TryGetValue(target, out var fn) && fn.IsGlobal)
        {
            Globals.CheckGlobalCall(fn);
            InsnIdx++;
            return;
        }
        if (Cur.ActiveLockId != 0) throw Fail("function calls are not allowed while holding a lock", Errno.EINVAL);

        var caller = Cur.Current;
        var callee = new FrameState { CallSite = InsnIdx, FunctionStart = target, FrameNo = Cur.Frames.Count, Serial = ++FrameSerial };
        for (int r = 1; r <= 5; r++) callee.Registers[r] = caller.Registers[r];
        // The arguments now live in the callee; the caller's copies are clobbered by the call (the kernel clears
        // them here, so checkpoints inside the callee and the log show the caller without them).
        for (int r = 1; r <= 5; r++) caller.Registers[r] = RegisterState.NotInit;
        callee.Registers[10] = RegisterState.Pointer(RegisterType.Stack);
        callee.Registers[10].FrameNo = callee.FrameNo;
        Cur.Frames.Add(callee);
        InsnIdx = target;
        Log.CallerCallee(caller, callee);
    }

    internal static readonly HelperPrototype GlobalFuncProto = new(HelperId.Unspec, HelperReturnKind.Integer, [], PacketAccess: true);

    /// <summary>
    /// push_callback_call for a synchronous callback (bpf_loop, for_each_map_elem, find_vma): a state entering the
    /// callback is queued, and the current path continues after the helper (as if it ran the callback no more
    /// times). The callback's exit returns to the helper call itself, which queues the next iteration, so callbacks
    /// are verified as called any number of times; iterations converge at the call (see <see cref="StatePruning"/>).
    /// bpf_loop stops queueing once as many iterations as its count's maximum were queued (the count is then
    /// precise).
    /// </summary>
    internal void PushCallback(int target, HelperId helper, IVerifierMapInfo? map, RegisterState ctxArg)
    {
        var caller = Cur.Current;
        if (helper == HelperId.Loop)
        {
            // The verifier relies on R1 to decide whether the iterations are done, so its value must be exact.
            Precision.MarkPrecise(1);
            if ((ulong)caller.CallbackDepth >= Reg(1).UMax)
            {
                caller.CallbackDepth = 0;
                if (Log.Verbose) Log.Verbose2($"frame{Cur.Frames.Count - 1} bpf_loop iteration limit reached\n");
                return;
            }
        }
        if (Cur.Frames.Count >= MaxCallFrames)
            throw Fail($"the call stack of {Cur.Frames.Count + 1} frames is too deep", Errno.E2BIG);
        CallEdges.Add((Cur.Current.FunctionStart, target));
        var entering = Cur.Clone();
        entering.CallbackUnrollDepth++;
        entering.Current.CallbackDepth++;
        var callee = new FrameState
        {
            CallSite = InsnIdx, FunctionStart = target, FrameNo = entering.Frames.Count, IsCallback = true, ReturnsToCallSite = true,
            Serial = ++FrameSerial,
        };
        SetCallbackArgs(callee, helper, map, ctxArg);
        entering.Frames.Add(callee);
        Engine.PushBranch(entering, target, InsnIdx);
        caller.CallbackDepth = 0;
    }

    private void SetCallbackArgs(FrameState callee, HelperId helper, IVerifierMapInfo? map, RegisterState ctxArg)
    {
        if (helper == HelperId.FindVma)
        {
            callee.Registers[1] = Helpers.TypedPointerReturn(new HelperPrototype(HelperId.FindVma, HelperReturnKind.BtfId, []) { ReturnBtfType = "task_struct" }, false);
            callee.Registers[2] = Helpers.TypedPointerReturn(new HelperPrototype(HelperId.FindVma, HelperReturnKind.BtfId, []) { ReturnBtfType = "vm_area_struct" }, false);
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
    }

    /// <summary>Simulates an async callback (bpf_timer_set_callback) as a call from the helper's site, once.
    /// The path that runs no callback at all is explored too.</summary>
    internal void StartCallback(int target, HelperId helper, IVerifierMapInfo? map, RegisterState ctxArg)
    {
        _asyncCallbacks.Add(target);
        if (Cur.Frames.Count >= MaxCallFrames)
            throw Fail($"the call stack of {Cur.Frames.Count + 1} frames is too deep", Errno.E2BIG);
        CallEdges.Add((Cur.Current.FunctionStart, target));

        // Path 1: zero iterations; the helper returns and the caller continues.
        var skip = Cur.Clone();
        var sf = skip.Current;
        for (int r = 1; r <= 5; r++) sf.Registers[r] = RegisterState.NotInit;
        sf.Registers[0] = RegisterState.UnknownScalar();
        Engine.PushBranch(skip, InsnIdx + 1, InsnIdx);

        var caller = Cur.Current;
        var callee = new FrameState { CallSite = InsnIdx, FunctionStart = target, FrameNo = Cur.Frames.Count, IsCallback = true, Serial = ++FrameSerial };
        if (helper == HelperId.TimerSetCallback && map is not null)
        {
            // Async callback (timer): (map, key, value), must return 0; it runs later, not in the caller's frame.
            SetMapElementArgs(callee, map);
        }
        else
        {
            SetCallbackArgs(callee, helper, map, ctxArg);
        }
        callee.Registers[10] = RegisterState.Pointer(RegisterType.Stack);
        callee.Registers[10].FrameNo = callee.FrameNo;
        for (int r = 1; r <= 5; r++) caller.Registers[r] = RegisterState.NotInit;
        Cur.Frames.Add(callee);
        InsnIdx = target;
    }

    /// <summary>
    /// bpf_tail_call inside a subprogram: a successful tail call runs the target on this frame, and its exit returns
    /// to the subprogram's caller with an unknown r0, skipping the rest of the subprogram. The kernel follows that
    /// return first and queues the path where the tail call failed (the next instruction): a write the subprogram
    /// makes after the call may not have happened. In a callback frame, 6.18's precision backtracking of that R0
    /// through the call trips its "callback unexpected regs" check, as for LD_ABS.
    /// </summary>
    internal Flow TailCallFromSubprogram(int callInsn)
    {
        if (Cur.Current.IsCallback) throw Fail("verifier bug: callback unexpected regs 1", Errno.EFAULT);
        Engine.PushBranch(Cur.Clone(), InsnIdx, callInsn);
        SetReg(0, RegisterState.UnknownScalar());
        return CheckExit();
    }

    // ---- exit ----

    /// <summary>
    /// LD_ABS/LD_IND in a subprogram: the load may fail, and then the program's hidden exit (bpf_gen_ld_abs) leaves the
    /// subprogram with R0 = 0. The kernel follows that exit first and explores the successful load afterwards. In a
    /// callback frame, 6.18's precision backtracking of R0 through the load trips its "callback unexpected regs" check.
    /// </summary>
    internal Flow LdAbsFailureExit()
    {
        if (Cur.Current.IsCallback) throw Fail("verifier bug: callback unexpected regs 1", Errno.EFAULT);
        int next = InsnIdx;
        Engine.PushBranch(Cur.Clone(), next, next - 1);
        InsnIdx = next - 1;
        Cur.Current.Registers[0] = RegisterState.ConstScalar(0);
        return CheckExit();
    }

    /// <summary>verbose_invalid_scalar: the signed bounds that are not the type's limits, or "unknown scalar value".</summary>
    private static string ScalarBoundsText(in RegisterState r)
    {
        string text = (r.SMin > long.MinValue ? $" smin={r.SMin}" : "") + (r.SMax < long.MaxValue ? $" smax={r.SMax}" : "");
        return text.Length == 0 ? " unknown scalar value" : text;
    }

    internal Flow CheckExit()
    {
        // check_resource_leak: only the outermost frame's exit must have released the lock; a subprogram may return
        // holding it (its caller unlocks). An async callback is its own outermost frame in the kernel (it runs later,
        // on a fresh stack), so it may not return holding a lock either.
        bool outermost = Cur.Frames.Count == 1 || (Cur.Current.IsCallback && IsAsyncCallback(Cur.Current));
        if (outermost && Cur.ActiveLockId != 0)
            throw Fail("BPF_EXIT instruction in main prog cannot be used inside bpf_spin_lock-ed region", Errno.EINVAL);
        Kfuncs.CheckRcuSectionAtExit();
        if (Globals.CheckGlobalSubprogExit() is { } globalExit) return globalExit;
        // prepare_func_exit hands a static subprogram's R0 to its caller as it is, even never written (the
        // caller may overwrite it); only callbacks and the main program read it at their exit.
        bool plainSubprogExit = Cur.Frames.Count > 1 && !Cur.Current.IsCallback;
        // check_return_code: a struct_ops member returning void needs no R0 at all.
        bool voidMain = Cur.Frames.Count == 1 && Walk.StructOps is { ReturnsVoid: true };
        var r0 = plainSubprogExit || voidMain ? Cur.Current.Registers[0] : ReadReg(0);
        if (Cur.Frames.Count > 1)
        {
            var callee = Cur.Current;
            if (r0.Type == RegisterType.Stack && r0.FrameNo == callee.FrameNo)
                throw Fail("cannot return stack pointer to the caller frame", Errno.EINVAL);
            Cur.Frames.RemoveAt(Cur.Frames.Count - 1);
            var caller = Cur.Current;
            if (callee.IsCallback && IsAsyncCallback(callee))
            {
                if (!r0.IsScalar) throw Fail($"At async callback return the register R0 is not a known value ({StateFormatter.TypeName(r0)})", Errno.EINVAL);
                Precision.MarkPrecise(0);
                if (r0.SMin != 0 || r0.SMax != 0)
                    throw Fail($"At async callback return the register R0 has{ScalarBoundsText(r0)} should have been in [0, 0]", Errno.EINVAL);
                caller.Registers[0] = RegisterState.UnknownScalar();
            }
            else if (callee.IsCallback)
            {
                if (!r0.IsScalar) throw Fail($"At callback return the register R0 is not a known value ({StateFormatter.TypeName(r0)})", Errno.EINVAL);
                Precision.MarkPrecise(0);
                Precision.RecordCallbackExit();
                if (r0.SMin < 0 || r0.SMax > 1)
                    throw Fail($"At callback return the register R0 has{ScalarBoundsText(r0)} should have been in [0, 1]", Errno.EINVAL);
                if (callee.ReturnsToCallSite)
                {
                    // prepare_func_exit: back to the helper call, which may queue another iteration; the caller's
                    // registers are as the call left them. Scalars that changed since the previous iteration and
                    // never mattered are widened so the iterations converge.
                    Log.ReturnFromCallee(InsnIdx, callee.CallSite, callee, Cur);
                    InsnIdx = callee.CallSite;
                    if (Pruning.FindPreviousIteration(InsnIdx, skipCurrent: false) is { } previous)
                        StatePruning.WidenImpreciseScalars(previous, Cur);
                    return Flow.Continue;
                }
                caller.Registers[0] = RegisterState.UnknownScalar();
            }
            else
            {
                caller.Registers[0] = r0;
                // A tail call made in a subprogram returns, once the tail-called program is done, to this caller:
                // 6.18 leaves the subprogram's own packet pointers valid after its tail call but not the caller's.
                int callSite = callee.CallSite;
                if (SubprogramEffects.HasTailCall(Insns, Cfg.SubprogStarts, callSite + Insns[callSite].Imm + 1)) InvalidatePacketPointers();
            }
            for (int r = 1; r <= 5; r++) caller.Registers[r] = RegisterState.NotInit;
            if (!callee.IsCallback) Log.ReturnFromCallee(InsnIdx, callee.CallSite + 1, callee, Cur);
            InsnIdx = callee.CallSite + 1;
            return Flow.Continue;
        }

        if (Cur.References.Count > 0)
        {
            var leak = Cur.References[0];
            throw Fail($"Unreleased reference id={leak.Id} alloc_insn={leak.InsnIndex}\nBPF_EXIT instruction in main prog would lead to reference leak", Errno.EINVAL);
        }
        if (voidMain) return Flow.PathDone;
        if (r0.IsPointer && !AllowPtrLeaks) throw Fail("R0 leaks addr as return value");
        var range = ReturnValueRules.For(Input.ProgramType, Input.ExpectedAttachType);
        if (range is { } rr)
        {
            if (!r0.IsScalar) throw Fail($"At program exit the register R0 is not a known value ({StateFormatter.TypeName(r0)})", Errno.EINVAL);
            Precision.MarkPrecise(0);
            if (r0.SMin < rr.Min || r0.SMax > rr.Max)
                throw Fail($"At program exit the register R0 has{ScalarBoundsText(r0)} should have been in [{rr.Min}, {rr.Max}]", Errno.EINVAL);
        }
        return Flow.PathDone;
    }

    /// <summary>Functions run as async callbacks (bpf_timer_set_callback): they start a call chain of their own.</summary>
    private readonly HashSet<int> _asyncCallbacks = [];

    /// <summary>
    /// check_max_stack_depth: a depth-first walk of the call graph from the main program, over every call instruction
    /// and callback reference in each function (global functions included: each is verified once, but its frame
    /// stacks on its caller's like any other), in instruction order. The first chain whose rounded stack depths add
    /// up past 512 bytes, or that reaches 8 frames (a recursion through global functions does), is refused; so is a
    /// subprogram that tail-calls below 256 bytes of its callers' stack. With a private stack (<see cref="PrivateStack"/>)
    /// frames of 64 bytes or more do not add up. Async callbacks run on a stack of their own: they are not part of the
    /// caller's chain but start one (on the kernel stack) of their own. The check runs after the walk, at no
    /// instruction (-1), as in the kernel. Depths are rounded as round_up_stack_depth does for a program whose JIT is
    /// requested (bpf_jit_enable=1, the x86-64 kernel's setting): up to 16 bytes (<see cref="PrivateStack.Round"/>). Our
    /// runtime gives every frame its own 512 bytes, so the limit is the kernel's verdict, not our stack's.
    /// </summary>
    internal void CheckCombinedStack()
    {
        bool HasTailCall(int start)
        {
            int end = Cfg.SubprogEnd(Cfg.SubprogOf(start));
            for (int i = start; i < end; i += Insns[i].IsLoadImm64 ? 2 : 1)
                if (Insns[i].IsHelperCall && Insns[i].Imm == (int)HelperId.TailCall) return true;
            return false;
        }
        bool anyTailCall = Enumerable.Range(0, Insns.Count).Any(i => Insns[i].IsHelperCall && Insns[i].Imm == (int)HelperId.TailCall);
        bool privateStack = !anyTailCall && PrivateStack.Applies(Input.ProgramType, Input.ExpectedAttachType);

        void Walk(int start, int depth, int frame, bool priv)
        {
            if (frame > 0 && depth >= PrivateStack.TailCallCallerLimit && HasTailCall(start))
                throw new VerifierError(Errno.EACCES, $"tail_calls are not allowed when call stack of previous frames is {depth} bytes. Too large", -1);
            int own = PrivateStack.Round(StackDepth.GetValueOrDefault(start));
            if (!priv || own < PrivateStack.MinSize)
            {
                depth += own;
                if (depth > FrameState.StackSize)
                    throw new VerifierError(Errno.EACCES, $"combined stack size of {frame + 1} calls is {depth}. Too large", -1);
            }
            int s = Cfg.SubprogOf(start);
            int end = Cfg.SubprogEnd(s);
            for (int i = start; i < end; i += Insns[i].IsLoadImm64 ? 2 : 1)
            {
                var insn = Insns[i];
                bool reference = insn.IsLoadImm64 && insn.Src == (byte)LoadImm64Source.Function;
                if (!insn.IsLocalCall && !reference) continue;
                int callee = i + insn.Imm + 1;
                if (reference && _asyncCallbacks.Contains(callee)) continue;
                if (frame + 1 >= MaxCallFrames)
                    throw new VerifierError(Errno.E2BIG, $"the call stack of {frame + 1} frames is too deep !", -1);
                Walk(callee, depth, frame + 1, priv);
            }
        }
        Walk(0, 0, 0, privateStack);
        foreach (int callback in _asyncCallbacks.Order()) Walk(callback, 0, 0, priv: false);
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

    /// <summary>True when <paramref name="callee"/> runs a bpf_timer callback (its call site is bpf_timer_set_callback).</summary>
    private bool IsAsyncCallback(FrameState callee) =>
        ResolvedCalls.TryGetValue(callee.CallSite, out var call) && call.IsHelper && call.Target == (int)HelperId.TimerSetCallback;
}
