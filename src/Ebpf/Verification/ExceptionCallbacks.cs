using Ebpf.Abi;
using Ebpf.Abi.Contexts;

namespace Ebpf.Verification;

/// <summary>
/// The program's exception callback (<c>__exception_cb(fn)</c>, a <c>exception_callback:fn</c> decl tag on the main
/// function): found as <c>bpf_find_exception_callback_insn_off</c> finds it before the walk, refused as a direct call
/// target, and verified on its own after the main program like the kernel's last subprogram, with the program's
/// exit rules.
/// </summary>
internal sealed class ExceptionCallbacks(VerifierContext walk) : VerifierComponent(walk)
{
    private const string TagPrefix = "exception_callback:";

    /// <summary>The exception callback's first instruction, or -1 when the program names none.</summary>
    internal int Start { get; private set; } = -1;

    /// <summary>True while the exception callback itself is walked (its exit is a program exit).</summary>
    internal bool Verifying { get; private set; }

    /// <summary>Finds the callback the main function's decl tags name, with the kernel's messages for a bad tag.</summary>
    internal void Resolve()
    {
        var names = Input.MainFunctionDeclTags?.Where(t => t.StartsWith(TagPrefix, StringComparison.Ordinal))
            .Select(t => t[TagPrefix.Length..]).ToList() ?? [];
        if (names.Count == 0) return;
        InsnIdx = 0;
        if (names.Count > 1) throw Fail("multiple exception callback tags for main subprog", Errno.EINVAL);
        var fn = Functions.Values.FirstOrDefault(f => f.Name == names[0]);
        if (fn is null) throw Fail("exception callback type id not found in func_info", Errno.EINVAL);
        if (!fn.IsGlobal && fn.StartInstruction != 0)
            throw Fail($"exception callback '{names[0]}' must have global linkage", Errno.EINVAL);
        if (fn.StartInstruction == 0) throw Fail("invalid exception callback insn_off in func_info: 0", Errno.EINVAL);
        Start = fn.StartInstruction;
        Cfg.ExceptionCallbackStart = Start;
    }

    /// <summary>Set by a bpf_throw call: the path ends there (an exception exit), as at BPF_EXIT.</summary>
    internal bool Threw { get; set; }

    /// <summary>bpf_throw calls reached inside a callback: (insn, the callback's subprog index), refused after the walk.</summary>
    private readonly SortedDictionary<int, int> _throwsInCallbacks = [];

    /// <summary>
    /// check_kfunc_call for bpf_throw, then process_bpf_exit_full with exception_exit: with the default exception
    /// callback the cookie (R1) becomes the program's return value and must pass its return-code check; nothing may
    /// be held (references, then an RCU read section); the path ends.
    /// </summary>
    internal void CheckThrow()
    {
        var r1 = ReadReg(1);
        if (!r1.IsScalar) throw Fail("R1 is not a scalar", Errno.EINVAL);
        if (Start < 0 && ReturnValueRules.For(Input.ProgramType, Input.ExpectedAttachType) is { } rr)
        {
            Precision.MarkPrecise(1);
            if (r1.SMin < rr.Min || r1.SMax > rr.Max)
                throw Fail($"At program exit the register R1 has smin={r1.SMin} smax={r1.SMax} should have been in [{rr.Min}, {rr.Max}]", Errno.EINVAL);
        }
        var leaks = Cur.References.Where(r => !Kfuncs.IsRcuSection(r.Id)).ToList();
        if (leaks.Count > 0)
            throw Fail(string.Concat(leaks.Select(l => $"Unreleased reference id={l.Id} alloc_insn={l.InsnIndex}\n")) + "bpf_throw would lead to reference leak", Errno.EINVAL);
        if (Cur.References.Any(r => Kfuncs.IsRcuSection(r.Id)))
            throw Fail("bpf_throw cannot be used inside bpf_rcu_read_lock-ed region", Errno.EINVAL);
        // A callback (or the exception callback itself) cannot throw: refused once the walk is over, as the kernel's
        // call-graph pass does.
        int callback = Verifying ? Start : Cur.Frames.LastOrDefault(f => f.IsCallback)?.FunctionStart ?? -1;
        if (callback >= 0) _throwsInCallbacks.TryAdd(InsnIdx, Math.Max(0, Cfg.SubprogStarts.IndexOf(callback)));
        Threw = true;
    }

    /// <summary>
    /// After the walk: a bpf_throw in a callback (a function a ld_imm64 takes the address of, or the exception
    /// callback) is refused, whether or not the walk reached it there.
    /// </summary>
    internal void CheckCallbacksDoNotThrow()
    {
        var callbacks = new SortedSet<int>();
        for (int i = 0; i < Insns.Count; i++)
        {
            var insn = Insns[i];
            if (insn.IsLoadImm64)
            {
                if (insn.Src == (byte)Isa.LoadImm64Source.Function) callbacks.Add(i + insn.Imm + 1);
                i++;
            }
        }
        if (Start > 0) callbacks.Add(Start);
        foreach (int start in callbacks)
        {
            int s = Cfg.SubprogStarts.IndexOf(start);
            if (s < 0) continue;
            for (int i = start; i <= Cfg.SubprogEnd(s) && i < Insns.Count; i++)
                if (IsThrowCall(i)) _throwsInCallbacks.TryAdd(i, s);
        }
        if (_throwsInCallbacks.Count == 0) return;
        var (insnIdx, subprog) = _throwsInCallbacks.First();
        InsnIdx = -1;
        throw Fail($"bpf_throw kfunc (insn {insnIdx}) cannot be called from callback subprog {subprog}", Errno.EINVAL);
    }

    private bool IsThrowCall(int i)
    {
        var insn = Insns[i];
        if (insn.Opcode != Isa.Opcodes.Call || insn.Src != (byte)Isa.CallSource.Kfunc) return false;
        var kf = Input.KernelFunctions?.GetValueOrDefault(i) ?? KernelFunctions.ResolveById(insn.Imm, Input.Profile.KernelBtf);
        return kf?.Name == "bpf_throw";
    }

    /// <summary>check_func_call: the exception callback runs only when the program throws, never by a call.</summary>
    internal void CheckNotCalled(int target)
    {
        if (target == Start && Start > 0) throw Fail($"insn {InsnIdx} cannot call exception cb directly", Errno.EACCES);
    }

    /// <summary>
    /// Verifies the callback from a state its prototype gives (R1 = the thrown cookie, a scalar): a prototype other
    /// than one integer argument is refused, and every exit is checked as the program's own exit.
    /// </summary>
    internal void VerifyCallback()
    {
        if (Start < 0) return;
        var fn = Functions[Start];
        InsnIdx = Start;
        int index = Math.Max(0, Cfg.SubprogStarts.IndexOf(Start));
        Log.Note($"Validating {fn.Name}() func#{index}...");
        if (fn.PrepareError is { } why) throw Fail(why, fn.PrepareErrno);
        if (fn.Arguments.Count != 1 || fn.Arguments[0].Kind != FunctionArgumentKind.Scalar)
            throw Fail("exception cb only supports single integer argument", Errno.EINVAL);
        Verifying = true;
        try
        {
            Engine.VerifyFrom(Start, fn);
            Log.Note($"Func#{index} ('{fn.Name}') is safe for any args that match its prototype");
        }
        finally
        {
            Verifying = false;
        }
    }
}
