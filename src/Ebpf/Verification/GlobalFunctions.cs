using Ebpf.Abi;
using Ebpf.Abi.Helpers;
using Ebpf.Btf;

namespace Ebpf.Verification;

/// <summary>
/// Global subprograms (kernel-semantics.md §3.2–3.5): checked at each call site against their BTF prototype,
/// then verified once each, from a state built from that prototype, after the main program — and only those
/// some verified code actually calls.
/// </summary>
internal sealed class GlobalFunctions(VerifierContext walk) : VerifierComponent(walk)
{
    private readonly HashSet<int> _calledGlobals = [];

    private readonly HashSet<int> _verifiedGlobals = [];

    /// <summary>do_check_subprogs: verifies every called, not yet verified global until no new one appears.</summary>
    internal void VerifyCalledGlobals()
    {
        while (true)
        {
            var next = _calledGlobals.Where(s => !_verifiedGlobals.Contains(s)).Order().Select(s => (int?)s).FirstOrDefault();
            if (next is not int start) return;
            _verifiedGlobals.Add(start);
            var fn = Functions[start];
            int index = SubprogIndex(start);
            Log.Note($"Validating {fn.Name}() func#{index}...");
            if (fn.PrepareError is { } why)
            {
                InsnIdx = start;
                throw Fail(why, fn.PrepareErrno);
            }
            Engine.VerifyFrom(start, fn);
            Log.Note($"Func#{index} ('{fn.Name}') is safe for any args that match its prototype");
        }
    }

    private int SubprogIndex(int start) => Math.Max(0, Cfg.SubprogStarts.IndexOf(start));

    /// <summary>check_func_call for a global callee: btf_check_func_arg_match, then the call acts like a helper
    /// returning an unknown scalar.</summary>
    internal void CheckGlobalCall(VerifierFunction fn)
    {
        int index = SubprogIndex(fn.StartInstruction);
        string caller = $"Caller passes invalid args into func#{index} ('{fn.Name}')";
        if (Cur.ActiveLockId != 0)
            throw Fail("global function calls are not allowed while holding a lock,\nuse static function instead", Errno.EINVAL);
        if (fn.PrepareError is { } why) throw Fail($"{why}\n{caller}", fn.PrepareErrno);
        for (int i = 0; i < fn.Arguments.Count; i++)
        {
            try
            {
                CheckGlobalCallArg(fn, i, fn.Arguments[i]);
            }
            catch (VerifierError e)
            {
                throw new VerifierError(e.Errno, $"{e.Message}\n{caller}", e.Insn);
            }
        }
        Log.Note($"Func#{index} ('{fn.Name}') is global and assumed valid.");
        _calledGlobals.Add(fn.StartInstruction);
        // bpf_helper_changes_pkt_data over the callee and what it calls (subprog changes_pkt_data).
        if (SubprogramEffects.ChangesPacketData(Insns, Cfg.SubprogStarts, fn.StartInstruction, Input.ProgramType)) Subprograms.InvalidatePacketPointers();
        Subprograms.ClobberCallerSaved();
        SetReg(0, RegisterState.UnknownScalar());
    }

    private void CheckGlobalCallArg(VerifierFunction callee, int i, FunctionArgument a)
    {
        int regno = i + 1;
        var reg = ReadReg(regno);
        bool isNull = reg.IsScalar && ScalarBounds.IsConst(reg, 0);
        // A scalar decides the check unless the argument takes any scalar: its value must stay precise for pruning.
        if (reg.IsScalar && a.Kind is not (FunctionArgumentKind.Scalar or FunctionArgumentKind.Untrusted)) Precision.MarkPrecise(regno);
        // A callee that may change packet data would leave the caller's packet pointer dangling inside it.
        if (reg.IsPacketPointer && SubprogramEffects.ChangesPacketData(Insns, Cfg.SubprogStarts, callee.StartInstruction, Input.ProgramType))
            throw Fail($"arg#{i} is a packet pointer, but func#{SubprogIndex(callee.StartInstruction)} may change packet data", Errno.EINVAL);
        switch (a.Kind)
        {
            case FunctionArgumentKind.Scalar:
                if (!reg.IsScalar) throw Fail($"R{regno} is not a scalar", Errno.EINVAL);
                break;
            case FunctionArgumentKind.Untrusted:
                break; // anything is allowed: the callee only reads it with fault-handled loads
            case FunctionArgumentKind.Context:
                if (reg.Type == RegisterType.Ctx && (reg.Off != 0 || !reg.VarOff.IsConst || reg.VarOff.Value != 0))
                    throw Fail($"dereference of modified ctx ptr R{regno} off={reg.Off + (long)reg.VarOff.Value} disallowed", Errno.EACCES);
                if (reg.Type != RegisterType.Ctx) throw Fail($"arg#{i} expects pointer to ctx", Errno.EINVAL);
                break;
            case FunctionArgumentKind.Memory:
            {
                // The kernel lets a literal NULL through to an arg:nonnull argument (check_mem_reg accepts a NULL
                // register and the non-NULL test only looks at PTR_MAYBE_NULL); the callee then dereferences it
                // unchecked. That is unsound, so here NULL and maybe-NULL are both refused.
                if (!a.Nullable && (isNull || reg.MaybeNull)) throw Fail($"arg#{i} is expected to be non-NULL", Errno.EINVAL);
                if (isNull) break;
                if (reg.Type == RegisterType.Ctx) throw Fail($"invalid bpf_context access off={reg.Off} size={a.MemorySize}", Errno.EINVAL);
                var checkedReg = reg;
                checkedReg.MaybeNull = false; // check the access as if non-NULL (mark_ptr_not_null_reg on a copy)
                try
                {
                    HelperArgs.CheckHelperMemory(regno, checkedReg, new HelperArg(HelperArgKind.PtrToMem), SubprogramCalls.GlobalFuncProto, a.MemorySize, zeroSizeAllowed: true);
                    HelperArgs.CheckHelperMemory(regno, checkedReg, new HelperArg(HelperArgKind.PtrToMem, HelperArgFlags.Write), SubprogramCalls.GlobalFuncProto, a.MemorySize, zeroSizeAllowed: true);
                }
                catch (VerifierError e)
                {
                    throw new VerifierError(Errno.EINVAL, e.Message, e.Insn);
                }
                break;
            }
            case FunctionArgumentKind.Trusted:
            {
                if (a.Nullable && isNull) break;
                // btf_check_func_arg_match (6.18, observed on the live kernel): a register that is neither referenced nor
                // PTR_TRUSTED (a scalar, NULL for a non-nullable argument, an untrusted pointer) is refused first, whether
                // or not it may be NULL; then check_reg_type: plain, PTR_TRUSTED or MEM_RCU typed pointers (maybe NULL
                // only when the argument is nullable), btf_struct_ids_match and check_func_arg_reg_off.
                if (reg.Type != RegisterType.BtfId || (reg.RefObjId == 0 && reg.Trust != PointerTrust.Trusted))
                    throw Fail($"R{regno} must be referenced or trusted", Errno.EINVAL);
                bool typeOk = reg.Type == RegisterType.BtfId && (!reg.MaybeNull || a.Nullable)
                    && reg.Trust is PointerTrust.None or PointerTrust.Trusted or PointerTrust.Rcu
                    && KernelTypes.Name(reg.MemSize) != Attach.BtfPointerLoads.UntrustedMemory;
                if (!typeOk) throw Fail($"R{regno} type={StateFormatter.TypeName(reg)} expected=ptr_, trusted_ptr_, rcu_ptr_");
                string have = KernelTypes.Name(reg.MemSize);
                if (!Kfuncs.TypedStructMatches(have, reg.Off, a.BtfType ?? ""))
                    throw Fail($"R{regno} is of type {(have.Length == 0 ? "(anon)" : have)} but {a.BtfType} is expected");
                if (reg.Off < 0)
                    throw Fail($"negative offset {StateFormatter.TypeName(reg)} ptr R{regno} off={reg.Off} disallowed");
                if (!reg.VarOff.IsConst || reg.VarOff.Value != 0)
                    throw Fail($"variable {StateFormatter.TypeName(reg)} access var_off={reg.VarOff} disallowed");
                break;
            }
        }
    }

    /// <summary>The register a global function's argument starts as (btf_prepare_func_args → do_check_common).</summary>
    internal RegisterState GlobalArgumentRegister(FunctionArgument a)
    {
        switch (a.Kind)
        {
            case FunctionArgumentKind.Context:
                return RegisterState.Pointer(RegisterType.Ctx);
            case FunctionArgumentKind.Memory:
            {
                var r = RegisterState.Pointer(RegisterType.Mem);
                r.MemSize = a.MemorySize;
                if (a.Nullable) { r.MaybeNull = true; r.Id = NewId(); }
                return r;
            }
            case FunctionArgumentKind.Trusted:
            {
                var r = Attach.BtfPointerLoads.TypedPointer(a.BtfType, PointerTrust.Trusted);
                if (a.Nullable) { r.MaybeNull = true; r.Id = NewId(); }
                return r;
            }
            case FunctionArgumentKind.Untrusted:
                // PTR_TO_BTF_ID | PTR_UNTRUSTED of its struct, or (void, char, …) read-only untrusted memory of size 0: it
                // may only be read (fault-handled), never passed on as trusted.
                return Attach.BtfPointerLoads.TypedPointer(a.BtfType ?? Attach.BtfPointerLoads.UntrustedMemory, PointerTrust.Untrusted);
            default:
                return RegisterState.UnknownScalar();
        }
    }

    /// <summary>check_global_subprog_return_code for the frame about to exit, or null when it is not a global's
    /// outermost frame. Void globals return nothing, so R0 is not even read.</summary>
    internal Flow? CheckGlobalSubprogExit()
    {
        if (Cur.Frames.Count != 1 || Cur.Current.FunctionStart == 0 || Exceptions.Verifying) return null;
        if (!Functions.TryGetValue(Cur.Current.FunctionStart, out var fn) || !fn.IsGlobal) return null;
        if (Cur.References.Count > 0)
        {
            var leak = Cur.References[0];
            throw Fail($"Unreleased reference id={leak.Id} alloc_insn={leak.InsnIndex}\nBPF_EXIT instruction in main prog would lead to reference leak", Errno.EINVAL);
        }
        if (fn.ReturnsVoid) return Flow.PathDone;
        var r0 = ReadReg(0);
        if (r0.IsPointer && !AllowPtrLeaks) throw Fail("R0 leaks addr as return value");
        if (!r0.IsScalar)
            throw Fail($"At subprogram exit the register R0 is not a scalar value ({StateFormatter.TypeName(r0)})", Errno.EINVAL);
        return Flow.PathDone;
    }
}
