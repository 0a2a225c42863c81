using Ebpf.Abi;
using Ebpf.Isa;
using Ebpf.Runtime;

namespace Ebpf.Fuzz;

/// <summary>
/// Judges one program against the kernel: verdicts first; when both accept, runs it in our checked interpreter
/// (a fault there is a verifier bug), then — only if that ran cleanly and the program is deterministic — in the
/// unchecked interpreter, the JIT and the kernel's test_run, and compares the return values.
/// </summary>
public sealed class Differential(KernelBackend kernel, ManagedBackend managed)
{
    /// <summary>A packet both test_runs accept: Ethernet + IPv4 + UDP headers, then payload.</summary>
    public static readonly byte[] Packet = BuildPacket();

    public int KnownEnvironmentDifferences { get; private set; }

    /// <summary>The verdicts of the last <see cref="Check"/> (ours, kernel's), for the run's statistics.</summary>
    public (bool Ours, bool Kernel) LastVerdicts { get; private set; }

    private static byte[] BuildPacket()
    {
        var p = new byte[64];
        for (int i = 0; i < p.Length; i++) p[i] = (byte)(i * 7 + 3);
        p[12] = 0x08; p[13] = 0x00;           // ETH_P_IP
        p[14] = 0x45; p[23] = 17;             // IPv4, UDP
        return p;
    }

    /// <summary>Null when ours and the kernel agree (both reject with the same line counts as agreement).</summary>
    public Finding? Check(FuzzProgram program, bool run = true)
    {
        Verification.VerificationResult ours;
        try
        {
            ours = managed.Verify(program.Type, program.Instructions);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new Finding(FindingKind.Exception, $"verifier threw {e.GetType().Name}: {e.Message}", "", e.StackTrace ?? "");
        }
        var theirs = kernel.Verify(program);
        LastVerdicts = (ours.Accepted, theirs.Accepted);
        string oursText = ours.Accepted ? "accepted" : $"insn {ours.ErrorInstruction}: {ours.Error?.Split('\n')[0]}";
        string kernelText = theirs.Accepted ? "accepted" : $"insn {theirs.Instruction}: {theirs.Message} ({theirs.Errno})";
        if (ours.Accepted && !theirs.Accepted)
        {
            // This kernel build refuses bpf_xdp_adjust_meta in XDP (a profile difference, not a verifier bug).
            if (theirs.Message.Contains("bpf_xdp_adjust_meta#54", StringComparison.Ordinal))
            {
                KnownEnvironmentDifferences++;
                return null;
            }
            return new Finding(FindingKind.FalseAccept, oursText, kernelText, "");
        }
        if (!ours.Accepted && theirs.Accepted)
            return new Finding(FindingKind.FalseReject, oursText, kernelText, "");
        if (!ours.Accepted)
        {
            // The kernel's error is its last line (an access error may add a line after the first).
            string mine = ours.Error?.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "";
            return mine == theirs.Message ? null : new Finding(FindingKind.MessageMismatch, oursText, kernelText, "");
        }
        return run ? Run(program, oursText) : null;
    }

    private Finding? Run(FuzzProgram program, string oursText)
    {
        bool deterministic = !program.Nondeterministic && !program.Instructions.Any(i => i.IsHelperCall && i.Imm is not (1 or 2 or 3));
        string? checkedResult;
        try
        {
            using var prog = managed.Load(program.Type, program.Instructions, checkedMode: true, jit: false);
            var run = managed.Run(prog, Packet);
            if (run.Fault is not null)
                return new Finding(FindingKind.CheckedFault, oursText, "accepted", run.Fault);
            if (run.Error is not null && run.Error.Contains("invalid func unknown#", StringComparison.Ordinal))
                return new Finding(FindingKind.HelperNotImplemented, oursText, "accepted", run.Error);
            if (run.Error is not null)
                return new Finding(FindingKind.Exception, oursText, "accepted", "checked run: " + run.Error);
            checkedResult = Outcome(run.ReturnValue, run.DataOut);
            // A result that changes between two runs of the same program on the same input is not the program's to
            // define (a returned pointer into a hash element that the map reset re-allocated): nothing to compare.
            var again = managed.Run(prog, Packet);
            if (Outcome(again.ReturnValue, again.DataOut) != checkedResult)
                return null;
        }
        catch (BpfException e)
        {
            return new Finding(FindingKind.RuntimeRefusal, oursText, "accepted", $"{e.Errno}: {e.Message.Split('\n')[0]}");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new Finding(FindingKind.Exception, oursText, "accepted", $"checked: {e.GetType().Name}: {e.Message}");
        }
        if (!deterministic)
            return null;

        var results = new List<(string Engine, string? Value)> { ("checked", checkedResult) };
        foreach (var (engine, jit) in new[] { ("interpreter", false), ("jit", true) })
        {
            try
            {
                using var prog = managed.Load(program.Type, program.Instructions, checkedMode: false, jit);
                var run = managed.Run(prog, Packet);
                if (run.Fault is not null || run.Error is not null)
                    return new Finding(FindingKind.Exception, oursText, "accepted", $"{engine}: {run.Fault ?? run.Error}");
                results.Add((engine, Outcome(run.ReturnValue, run.DataOut)));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                return new Finding(FindingKind.Exception, oursText, "accepted", $"{engine} load: {e.GetType().Name}: {e.Message.Split('\n')[0]}");
            }
        }
        try
        {
            using var loaded = kernel.Load(program.Type, program.Instructions);
            var (retval, dataOut) = kernel.Run(loaded, Packet);
            results.Add(("kernel", Outcome(retval, dataOut)));
        }
        catch (BpfException e)
        {
            return new Finding(FindingKind.Exception, oursText, "accepted", $"kernel test_run: {e.Errno}: {e.Message.Split('\n')[0]}");
        }
        string detail = string.Join(", ", results.Select(r => $"{r.Engine}={r.Value}"));
        if (results.Where(r => r.Engine != "kernel").Select(r => r.Value).Distinct().Count() > 1)
            return new Finding(FindingKind.EngineMismatch, oursText, "accepted", detail);
        if (results.Select(r => r.Value).Distinct().Count() > 1)
            return new Finding(FindingKind.ResultMismatch, oursText, "accepted", detail);
        return null;
    }

    /// <summary>What a run produced: r0 and a short digest of the output packet (data_out), so both are compared.</summary>
    private static string Outcome(uint? returnValue, byte[]? dataOut) =>
        $"{returnValue}/{(dataOut is null ? "-" : Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(dataOut))[..8])}";
}
