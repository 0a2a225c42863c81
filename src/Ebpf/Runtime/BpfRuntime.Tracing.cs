using Ebpf.Collections;
using Ebpf.Abi;
using Ebpf.Btf;
using Ebpf.Execution;
using Ebpf.Runtime.Links;
using Ebpf.Runtime.Objects;
using Ebpf.Runtime.Trampolines;
using Ebpf.Verification;
using Ebpf.Verification.Attach;

namespace Ebpf.Runtime;

// Tracing programs and extensions on BPF targets (kernel-semantics.md §2): loading against a target
// (bpf_prog_load_check_attach, check_attach_btf_id), the functions of every program as attach points, and
// BPF_LINK_CREATE for tracing links with the re-attach rules of bpf_tracing_prog_attach (§2.5).
public sealed partial class BpfRuntime
{
    /// <summary>
    /// Give every function of a loaded program (one per func_info record) a call slot, which is what lets extensions
    /// and fentry/fexit programs take it over. On by default; a program loaded while it is off cannot be a target
    /// (its functions are called directly), which is how the benchmarks measure what a slot costs.
    /// </summary>
    public bool FunctionSlots { get; init; } = true;

    /// <summary>The trampolines of this runtime, keyed as the kernel keys them.</summary>
    internal TrampolineTable Trampolines { get; } = new();

    /// <summary>
    /// Loads an object whose tracing and extension programs are loaded against <paramref name="target"/>, each against
    /// the function its section names (fentry/F, fexit/F, freplace/F), as libbpf does after
    /// bpf_program__set_attach_target(prog, target_fd, NULL).
    /// </summary>
    public BpfCollection Load(Loading.ObjectSpec spec, BpfProgram target, ObjectLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(target);
        return Load(spec, (options ?? new ObjectLoadOptions()) with { AttachTarget = target });
    }

    /// <summary>
    /// Load step before verification: bpf_prog_load_check_attach and check_attach_btf_id. Records the target on the
    /// program (holding a reference on it: dst_prog) and what the verifier needs (the extension's entry prototype with
    /// the target's type, or the fentry/fexit ctx). Refusals carry the kernel's log line in the log.
    /// </summary>
    private void PrepareLoadTimeAttach(ProgramObject program, ProgramLoadOptions options)
    {
        var def = program.Definition;
        var target = options.AttachTarget?.Program;
        string? function = options.AttachFunction;
        if (target is not null && def.Type is not (ProgramType.Tracing or ProgramType.Ext))
            throw new BpfException(Errno.EINVAL, $"program {program.Name}: attach_prog_fd is only for tracing and extension programs ({def.Type})");
        if (def.Type == ProgramType.Ext && def.ExpectedAttachType != default)
            throw new BpfException(Errno.EINVAL, $"program {program.Name}: an extension must have expected_attach_type 0");
        if (def.Type is not (ProgramType.Tracing or ProgramType.Ext or ProgramType.Lsm))
            return;

        uint btfId = options.AttachBtfId;
        if (def.Type == ProgramType.Tracing && def.ExpectedAttachType == AttachType.TraceIter && target is null)
        {
            PrepareIterator(program, btfId);
            return;
        }
        if (btfId == 0 && function is not null && target is not null)
            btfId = FindFunction(target, function);
        if (target is null && def.Type == ProgramType.Tracing
            && def.ExpectedAttachType is AttachType.TraceFentry or AttachType.TraceFexit or AttachType.ModifyReturn
            && (btfId != 0 || function is not null))
            RefuseKernelFunction(program, btfId, function);
        // bpf_prog_dev_bound_inherit: an extension loaded against a device-bound program is bound to the same device.
        if (def.Type == ProgramType.Ext && target is { BoundIfindex: not 0 })
            program.BoundIfindex = target.BoundIfindex;
        var attaching = Describe(program, options.Functions, target?.ResolvedType);
        var targetInfo = target is null ? null : DescribeTarget(target);
        AttachPoint point;
        try
        {
            point = AttachTargetCheck.Check(attaching, targetInfo, btfId);
        }
        catch (AttachTargetException e)
        {
            throw new BpfException(e.Errno, $"program {program.Name}: {e.Message}", e.LogLine is null ? null : e.LogLine + "\n");
        }
        var tgt = target!;
        program.LoadTimeAttachPoint = point;
        program.AttachBtfId = btfId;
        program.AttachBtfObjectId = tgt.Btf?.Id ?? 0;
        program.SavedTargetType = (tgt.Type, tgt.ExpectedAttachType);
        if (def.Type == ProgramType.Tracing && tgt.Type == ProgramType.Tracing)
            program.AttachedToTracing = true;
        if (def.Type == ProgramType.Ext)
        {
            var entry = FunctionPrototypes.Prepare(program.Btf!.Parsed, attaching.MainFunctionBtfId, 0, MainFunctionName(program, options.Functions),
                isGlobal: true, tgt.Type, tgt.ExpectedAttachType, Profile.KernelBtf);
            if (entry.PrepareError is { } why)
                throw new BpfException(entry.PrepareErrno, $"program {program.Name}: {why}", why + "\n");
            program.ExtensionEntry = entry;
        }
        else
        {
            program.TracingContextLayout = TracingContext.For(point, def.ExpectedAttachType is AttachType.TraceFexit or AttachType.ModifyReturn,
                tgt.Btf?.Parsed, tgt.ResolvedType, Profile.KernelBtf);
        }
        tgt.Acquire();
        program.LoadTimeTarget = tgt; // released with the program unless an attach takes it over
    }

    /// <summary>
    /// An iterator program (BPF_TRACE_ITER): bpf_check_attach_target on the vmlinux FUNC bpf_iter_TARGET, then
    /// bpf_iter_prog_supported (the target must be registered: EINVAL without a line otherwise), and the context as
    /// btf_ctx_access types it for that target.
    /// </summary>
    private void PrepareIterator(ProgramObject program, uint btfId)
    {
        BpfException Refuse(string line) => new(Errno.EINVAL, $"program {program.Name}: {line}", line + "\n");
        if (btfId == 0)
            throw Refuse("Tracing programs must provide btf_id");
        var vmlinux = Profile.KernelBtf;
        if (vmlinux is null || !vmlinux.TryGetType(btfId, out var t))
            throw Refuse($"attach_btf_id {btfId} is invalid");
        if (string.IsNullOrEmpty(t.Name))
            throw Refuse($"attach_btf_id {btfId} doesn't have a name");
        if (t is not BtfFunc func)
            throw Refuse($"attach_btf_id {btfId} is not a function");
        var layout = IterContext.For(vmlinux, func)
            ?? throw new BpfException(Errno.EINVAL, $"program {program.Name}: {t.Name} is not an iterator target this runtime has "
                + $"(targets: {string.Join(", ", IterContext.Targets.Keys)})");
        program.TracingContextLayout = layout;
        program.IterTarget = t.Name[IterContext.FunctionPrefix.Length..];
        program.AttachBtfId = btfId;
    }

    /// <summary>
    /// fentry/fexit/fmod_ret on a kernel function (no target program: attach_btf_id names a FUNC of vmlinux, as libbpf
    /// finds it from the section name). The managed runtime runs no kernel functions, so there is nothing to attach
    /// to: the load fails as the kernel's bpf_check_attach_target fails for a function it has no address of
    /// (ENOENT, "The address of function %s cannot be found"); a name vmlinux BTF does not have fails as libbpf's
    /// lookup does (ESRCH), an id that is no FUNC as the kernel's checks do (EINVAL).
    /// </summary>
    private void RefuseKernelFunction(ProgramObject program, uint btfId, string? function)
    {
        const string why = "the managed runtime has no kernel functions to trace (load it with the Linux backend)";
        var vmlinux = Profile.KernelBtf;
        if (btfId == 0)
        {
            btfId = vmlinux?.FindAllByName(function!, BtfKind.Func).FirstOrDefault() ?? 0;
            if (btfId == 0)
                throw new BpfException(Errno.ESRCH,
                    $"program {program.Name}: failed to find kernel BTF type ID of '{function}': {(vmlinux is null ? "no kernel BTF" : "no such FUNC in vmlinux")}; {why}");
        }
        if (vmlinux is null || !vmlinux.TryGetType(btfId, out var t))
            throw new BpfException(Errno.EINVAL, $"program {program.Name}: attach_btf_id {btfId} is invalid; {why}", $"attach_btf_id {btfId} is invalid\n");
        if (t is not BtfFunc)
            throw new BpfException(Errno.EINVAL, $"program {program.Name}: attach_btf_id {btfId} is not a function; {why}", $"attach_btf_id {btfId} is not a function\n");
        string line = $"The address of function {t.Name} cannot be found";
        throw new BpfException(Errno.ENOENT, $"program {program.Name}: {line}: {why}", line + "\n");
    }

    /// <summary>
    /// Load step after verification: every function of the program gets its call slot (what extensions and
    /// trampolines take over), and a program loaded against a target pre-creates its trampoline (dst_trampoline).
    /// </summary>
    private void DescribeFunctions(ProgramObject program, VerifiedProgram? verified, IReadOnlyList<VerifierFunction>? functions)
    {
        // Only programs with func_info have functions to slot (and BTF worth parsing).
        if (verified is null || functions is null || !FunctionSlots || program.Btf?.Parsed is not { } btf)
            return;
        var slots = new List<FunctionSlot>();
        var attachable = new List<AttachableFunction>();
        var starts = SubprogramEffects.SubprogramStarts(program.Instructions);
        foreach (var vf in verified.Functions)
        {
            uint id = btf.FindAllByName(vf.Name, BtfKind.Func).FirstOrDefault();
            slots.Add(new FunctionSlot(vf.StartInstruction, vf.Name));
            if (id == 0)
                continue;
            bool reliable;
            if (vf.StartInstruction == 0 && program.ExtensionEntry is { } entry)
            {
                // An extension's main function is verified as a global from its prototype: never marked unreliable.
                reliable = entry.PrepareError is null;
            }
            else if (vf.StartInstruction == 0)
            {
                // The main function is reliable only with exactly one ctx argument.
                var proto = FunctionPrototypes.Prepare(btf, id, 0, vf.Name, isGlobal: true, program.ResolvedType, program.VerifiedAttachType, Profile.KernelBtf);
                reliable = proto.PrepareError is null && proto.Arguments.Count == 1 && proto.Arguments[0].Kind == FunctionArgumentKind.Context;
            }
            else
            {
                var described = functions.FirstOrDefault(f => f.Name == vf.Name);
                reliable = vf.IsGlobal && described is { IsGlobal: true, PrepareError: null };
            }
            attachable.Add(new AttachableFunction(id, vf.StartInstruction, vf.Name, reliable,
                ChangesPacketData: SubprogramEffects.ChangesPacketData(program.Instructions, starts, vf.StartInstruction, program.ResolvedType)));
        }
        program.FunctionSlots = slots;
        program.AttachableFunctions = attachable;
    }

    /// <summary>check_attach_btf_id's last step: the trampoline of the load-time target, created now.</summary>
    private void CreateLoadTimeTrampoline(ProgramObject program)
    {
        if (program.LoadTimeTarget is { } target && program.LoadTimeAttachPoint is { } point)
            program.LoadTimeTrampoline = Trampolines.Get(target, point);
    }

    /// <summary>
    /// BPF_LINK_CREATE for a tracing or extension program (bpf_tracing_prog_attach, §2.5). Without a target the
    /// program attaches to its load-time target (once); an extension may name another target (checked by prototype
    /// and type only, §2.2.1 + A9), one link per target.
    /// </summary>
    public BpfLink AttachTracing(BpfProgram program, BpfProgram? target = null, uint targetBtfId = 0, ulong cookie = 0)
    {
        ArgumentNullException.ThrowIfNull(program);
        return AttachTracing(program.Program, target?.Program, targetBtfId, cookie);
    }

    internal BpfLink AttachTracing(ProgramObject prog, ProgramObject? target, uint targetBtfId, ulong cookie)
    {
        var kind = prog.Type switch
        {
            ProgramType.Tracing => prog.ExpectedAttachType switch
            {
                AttachType.TraceFentry => TrampolineKind.Fentry,
                AttachType.TraceFexit => TrampolineKind.Fexit,
                AttachType.ModifyReturn => TrampolineKind.ModifyReturn,
                _ => throw new BpfException(Errno.EINVAL, $"program {prog.Id} ({prog.Name}): attach type {prog.ExpectedAttachType} has no tracing link"),
            },
            ProgramType.Ext when prog.ExpectedAttachType == default => TrampolineKind.Replace,
            _ => throw new BpfException(Errno.EINVAL, $"program {prog.Id} ({prog.Name}): {prog.Type} programs have no tracing link"),
        };
        if ((target is null) != (targetBtfId == 0))
            throw new BpfException(Errno.EINVAL, "target_fd and target_btf_id must both be given or both be 0");
        if (target is not null && prog.Type != ProgramType.Ext)
            throw new BpfException(Errno.EINVAL, $"program {prog.Id} ({prog.Name}): only extensions may name a new target");

        lock (prog.AttachLock)
        {
            var saved = prog.LoadTimeTrampoline;
            if (saved is null && target is null)
                throw new BpfException(Errno.EINVAL, prog.Type == ProgramType.Ext
                    ? $"extension {prog.Id} ({prog.Name}) was attached before: a re-attach must name its target"
                    : $"program {prog.Id} ({prog.Name}) was attached before and has no kernel target to re-attach to");
            Trampoline trampoline;
            ProgramObject? linkTarget;
            bool fresh = saved is null || target is not null && TrampolineKey.ForProgram(target.Id, targetBtfId) != saved.Key;
            if (fresh)
            {
                // A new target: prototype and type checks only (no log at attach time), then its trampoline.
                AttachPoint point;
                try
                {
                    point = AttachTargetCheck.Check(Describe(prog, null) with { SavedTargetType = prog.SavedTargetType }, DescribeTarget(target!), targetBtfId);
                }
                catch (AttachTargetException e)
                {
                    throw new BpfException(e.Errno, $"attach {prog.Name} to program {target!.Id} ({target.Name}): {e.Message}");
                }
                if (!target!.TryAcquire())
                    throw new BpfException(Errno.ENOENT, $"program {target.Id} is being freed");
                linkTarget = target;
                try
                {
                    trampoline = Trampolines.Get(target, point);
                }
                catch
                {
                    target.Release();
                    throw;
                }
            }
            else
            {
                trampoline = saved!;
                linkTarget = prog.LoadTimeTarget;
            }
            BpfLink link;
            try
            {
                link = CreateLink(prog, LinkType.Tracing, prog.ExpectedAttachType, l =>
                {
                    var attachment = new TracingAttachment(prog, kind, cookie) { Link = l };
                    trampoline.Link(attachment);
                    return new TracingLinkAttachment(attachment, trampoline, linkTarget);
                }, cookie);
            }
            catch
            {
                if (fresh)
                {
                    trampoline.Put();
                    linkTarget?.Release();
                }
                throw;
            }
            // The program never keeps its original target alive once attached: the reuse path moved both references
            // into the link, any other path drops them.
            if (fresh)
            {
                prog.LoadTimeTarget?.Release();
                saved?.Put();
            }
            prog.LoadTimeTarget = null;
            prog.LoadTimeTrampoline = null;
            return link;
        }
    }

    /// <summary>libbpf's bpf_program__set_attach_target: the FUNC named <paramref name="function"/> in the target's BTF.</summary>
    internal static uint FindFunction(ProgramObject target, string function)
    {
        if (target.Btf?.Parsed is not { } btf)
            throw new BpfException(Errno.EINVAL, $"The target program doesn't have BTF (program {target.Id}, {target.Name})");
        uint id = btf.FindAllByName(function, BtfKind.Func).FirstOrDefault();
        if (id == 0)
            throw new BpfException(Errno.ENOENT, $"{function} is not found in prog's BTF (program {target.Id}, {target.Name})");
        return id;
    }

    private static string MainFunctionName(ProgramObject program, IReadOnlyList<VerifierFunction>? functions) =>
        functions?.FirstOrDefault(f => f.StartInstruction == 0)?.Name ?? program.Name;

    /// <param name="program">The program being loaded or attached.</param>
    /// <param name="functions">Its func_info functions (null after load: its attachable functions stand for them).</param>
    /// <param name="helperType">The program type its helper calls are resolved for (an extension's target's type).</param>
    private static AttachingProgram Describe(ProgramObject program, IReadOnlyList<VerifierFunction>? functions, ProgramType? helperType = null)
    {
        uint mainId = 0;
        var btf = program.Btf?.Parsed;
        if (btf is not null)
        {
            string? main = functions?.FirstOrDefault(f => f.StartInstruction == 0)?.Name
                ?? program.AttachableFunctions.FirstOrDefault(f => f.Start == 0)?.Name;
            if (main is not null)
                mainId = btf.FindAllByName(main, BtfKind.Func).FirstOrDefault();
        }
        // changes_pkt_data of the main function (with what it calls), known from check_cfg before the attach check.
        bool changesPacketData = SubprogramEffects.ChangesPacketData(program.Instructions, SubprogramEffects.SubprogramStarts(program.Instructions), 0,
            helperType ?? program.ResolvedType);
        return new AttachingProgram(program.Name, program.Type, program.ExpectedAttachType, btf, mainId,
            Sleepable: (program.Definition.Flags & (uint)Loading.ProgramLoadFlags.Sleepable) != 0,
            ChangesPacketData: changesPacketData, BoundIfindex: program.BoundIfindex);
    }

    private static AttachTargetProgram DescribeTarget(ProgramObject target) =>
        new(target.Name, target.Type, target.ExpectedAttachType, target.Btf?.Parsed, target.AttachableFunctions, target.AttachedToTracing,
            BoundIfindex: target.BoundIfindex);
}
