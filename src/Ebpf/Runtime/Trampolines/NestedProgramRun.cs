using Ebpf.Execution;
using Ebpf.Runtime.Helpers;
using Ebpf.Runtime.Memory;
using Ebpf.Runtime.Objects;

namespace Ebpf.Runtime.Trampolines;

/// <summary>
/// Runs an attached program (an extension or a tracing program) inside a call of its target: on the calling
/// thread, with its own frames, inside the caller's epoch critical section. Helper state: an extension runs in its
/// target's invocation (same ctx, same packet, as the kernel's jump does); a tracing program gets an invocation of
/// its own whose ctx is the argument block and whose cookie and func_ip are the link's and the function's.
/// </summary>
internal static class NestedProgramRun
{
    /// <summary>The extension in place of the function: R1–R5 as the caller passed them, its R0 returned.</summary>
    public static ulong Extension(TracingAttachment ext, ref SlotCall call)
    {
        var engine = ext.Engine;
        var outer = HelperInvocation.Current;
        HelperInvocation.Scope scope = default;
        HelperInvocation? own = null;
        if (outer is null)
        {
            // The target calls no helper, so nothing set up helper state; the extension may call helpers.
            own = new HelperInvocation(ext.Program.Runtime, ext.Program, (nint)call.R1);
            scope = own.Enter();
        }
        try
        {
            var request = new ExecutionRequest
            {
                R1 = call.R1, R2 = call.R2, R3 = call.R3, R4 = call.R4, R5 = call.R5,
                State = call.Invocation?.State ?? (object?)outer ?? own,
                PacketAccess = call.Invocation?.PacketAccess,
            };
            if (engine.Mode == ExecutionMode.Checked)
            {
                if (call.Invocation is { } caller)
                    foreach (var region in caller.Regions)
                        request.AddRegion(region);
                AddStaticRegions(ext.Program, request);
                if (own is not null)
                    own.MemoryChecker = InterpreterExecutor.CheckedMemory;
            }
            return engine.Run(request);
        }
        finally
        {
            scope.Dispose();
        }
    }

    /// <summary>A tracing program on the argument block at <paramref name="args"/> (u64 words; the count at args[-1]).</summary>
    public static unsafe void Tracing(TracingAttachment attachment, ulong* args, int argumentCount, int slots, ulong funcIp)
    {
        var program = attachment.Program;
        if (program.TracingContextLayout?.KernelStructs is not { Count: > 0 } structs || program.Runtime.Profile.KernelBtf is not { } kernel)
        {
            // No typed argument: probe loads (there are none) see nothing of an outer run's windows.
            using var none = ProbeMemory.Open([]);
            Run(attachment, args, argumentCount, slots, funcIp);
            return;
        }
        // The program's own argument block, whose context arguments point at kernel-layout shadows (what the kernel's
        // trampoline passes is the kernel struct itself); the shadows and the packet are what its probe loads may read.
        ulong* block = stackalloc ulong[2 + AttachTargetCheckLimits.MaxArguments];
        block[0] = args[-1];
        for (int i = 0; i < slots; i++)
            block[1 + i] = args[i];
        byte* shadows = stackalloc byte[structs.Count * KernelContextShadow.MaxSize];
        new Span<byte>(shadows, structs.Count * KernelContextShadow.MaxSize).Clear();
        var windows = new List<ProbeMemory.Window>();
        object? packetState = HelperInvocation.Current?.PacketState;
        int k = 0;
        foreach (var (offset, name) in structs)
        {
            int slot = offset / 8;
            if (slot >= slots)
                continue;
            byte* shadow = shadows + k++ * KernelContextShadow.MaxSize;
            bool shadowed = KernelContextShadow.SizeOf(kernel, name) > 0;
            if (shadowed)
                KernelContextShadow.Fill(kernel, name, shadow, (nint)args[slot], packetState, windows);
            block[1 + slot] = shadowed ? (ulong)shadow : 0;
        }
        ProbeMemory.Window[] opened = [.. windows];
        using var open = ProbeMemory.Open(opened);
        Run(attachment, block + 1, argumentCount, slots, funcIp, opened);
    }

    private static unsafe void Run(TracingAttachment attachment, ulong* args, int argumentCount, int slots, ulong funcIp,
        ProbeMemory.Window[]? probeWindows = null)
    {
        var program = attachment.Program;
        using var frame = TracingHelpers.Enter(args, argumentCount);
        var invocation = new HelperInvocation(program.Runtime, program, (nint)args, cookie: attachment.Cookie, funcIp: funcIp);
        using var scope = invocation.Enter();
        var request = new ExecutionRequest { R1 = (ulong)args, State = invocation };
        if (attachment.Engine.Mode == ExecutionMode.Checked)
        {
            invocation.MemoryChecker = InterpreterExecutor.CheckedMemory;
            request.AddRegion(new MemoryRegion((nuint)(args - 1), (nuint)((slots + 1) * 8), MemoryAccess.Read, "ctx"));
            // A checked run of an untranslated program loads plainly: the shadow and the packet are its regions.
            foreach (var w in probeWindows ?? [])
                request.AddRegion(new MemoryRegion((nuint)w.Start, (nuint)w.Length, MemoryAccess.Read, "kernel ctx"));
            AddStaticRegions(program, request);
        }
        attachment.Engine.Run(request);
    }

    private static void AddStaticRegions(ProgramObject program, ExecutionRequest request)
    {
        if (program.Executable is PreparedProgram prepared)
            foreach (var region in prepared.StaticRegions)
                request.AddRegion(region);
    }
}

/// <summary>An extension in the slot: calls run the extension program instead of the function.</summary>
internal sealed class ExtensionOverride(TracingAttachment extension) : FunctionOverride
{
    public TracingAttachment Extension { get; } = extension;

    public override ulong Invoke(FunctionSlot slot, ref SlotCall call)
    {
        var record = EpochManager.EnterRecord(ExecutionThread.Current);
        try
        {
            // Re-read inside the critical section: an unlink that ran since the caller looked has already
            // waited for, or will wait for, this section — whatever the slot holds now is safe to run.
            var current = slot.Override;
            if (!ReferenceEquals(current, this))
                return current is null ? call.RunOriginal() : current.Invoke(slot, ref call);
            TrampolineDiagnostics.Entered(Extension);
            return NestedProgramRun.Extension(Extension, ref call);
        }
        finally
        {
            EpochManager.Exit(record);
        }
    }
}

/// <summary>fentry/fexit/fmod_ret programs around the function (a trampoline image).</summary>
internal sealed class TracingOverride(Trampoline trampoline, TracingAttachment[] fentry, TracingAttachment[] fexit, TracingAttachment[] modifyReturn) : FunctionOverride
{
    public override unsafe ulong Invoke(FunctionSlot slot, ref SlotCall call)
    {
        var record = EpochManager.EnterRecord(ExecutionThread.Current);
        try
        {
            var current = slot.Override;
            if (!ReferenceEquals(current, this))
                return current is null ? call.RunOriginal() : current.Invoke(slot, ref call);
            var point = trampoline.Point;
            int nargs = point.ArgumentCount;
            // [nargs][arg0 … argN-1][retval]: ctx points at arg0, as the kernel's trampoline frame is laid out.
            ulong* block = stackalloc ulong[2 + AttachTargetCheckLimits.MaxArguments];
            block[0] = (ulong)nargs;
            ulong* args = block + 1;
            ulong r1 = call.R1, r2 = call.R2, r3 = call.R3, r4 = call.R4, r5 = call.R5;
            for (int i = 0; i < nargs; i++)
                args[i] = i switch { 0 => r1, 1 => r2, 2 => r3, 3 => r4, 4 => r5, _ => 0 };
            args[nargs] = 0;
            ulong funcIp = call.Target.FunctionReference(slot.Start);
            foreach (var a in fentry)
            {
                TrampolineDiagnostics.Entered(a);
                NestedProgramRun.Tracing(a, args, nargs, nargs, funcIp);
            }
            ulong ret = call.RunOriginal();
            if (fexit.Length > 0 || modifyReturn.Length > 0)
            {
                args[nargs] = ret;
                foreach (var a in fexit)
                {
                    TrampolineDiagnostics.Entered(a);
                    NestedProgramRun.Tracing(a, args, nargs, nargs + (point.ReturnsValue ? 1 : 0), funcIp);
                }
            }
            return ret;
        }
        finally
        {
            EpochManager.Exit(record);
        }
    }
}

/// <summary>Sizes of the argument block.</summary>
internal static class AttachTargetCheckLimits
{
    public const int MaxArguments = Verification.Attach.AttachTargetCheck.MaxFunctionArguments;
}

/// <summary>
/// Counts calls that entered an attached program after its attachment was released — what the epoch wait on
/// unlink must make impossible (the stress tests assert it stays 0).
/// </summary>
internal static class TrampolineDiagnostics
{
    private static long s_enteredAfterRelease;

    public static long CallsEnteredAfterRelease => Interlocked.Read(ref s_enteredAfterRelease);

    internal static void Entered(TracingAttachment attachment)
    {
        if (attachment.Released)
            Interlocked.Increment(ref s_enteredAfterRelease);
    }
}
