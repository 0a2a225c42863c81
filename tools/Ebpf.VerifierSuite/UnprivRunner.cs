using Ebpf.Abi;
using Ebpf.Isa;
using Ebpf.Loading;
using Ebpf.Verification;
using ProgramLoadFlags = Ebpf.Loading.ProgramLoadFlags;

namespace Ebpf.VerifierSuite;

/// <summary>
/// One "@unpriv" test: upstream's unprivileged expectation against our verifier in its unprivileged mode. The live
/// kernel is no oracle here (this machine sets kernel.unprivileged_bpf_disabled), so the reference is the annotation.
/// </summary>
internal sealed record UnprivOutcome(string File, string Program, SubSpec Expect, OurVerdict Ours, string? RefusedBeforeVerifier)
{
    public string Id => $"{File}/{Program} @unpriv";
    public bool AsExpected => Ours.Accepted == !Expect.ExpectFailure;
    /// <summary>We accept what upstream expects the kernel to reject: the safety direction.</summary>
    public bool FalseAccept => Ours.Accepted && Expect.ExpectFailure;
    public bool FalseReject => !Ours.Accepted && !Expect.ExpectFailure;
    /// <summary>An expected rejection with __msg_unpriv (or inherited __msg) strings our log should contain.</summary>
    public bool MessageCase => Expect.ExpectFailure && !Ours.Accepted && RefusedBeforeVerifier is null && Expect.Messages.Count > 0;
}

/// <summary>Runs the unprivileged subtests of one object as test_loader.c would, with our verifier as the kernel.</summary>
internal static class UnprivRunner
{
    /// <summary>libbpf's POISON_LDIMM64_MAP_BASE: an uncreated map's ld_imm64 becomes a call to this helper id + map index.</summary>
    private const int PoisonMapBase = 2001000000;

    public static IEnumerable<UnprivOutcome> Run(string objectPath, string file, TimeSpan budget, List<string> skipped)
    {
        ObjectSpec obj;
        try
        {
            obj = ObjectSpec.Load(objectPath);
        }
        catch (BpfException e)
        {
            Console.Error.WriteLine($"{file}: our loader refuses the object: {e.Message}");
            yield break;
        }
        foreach (var program in obj.Programs)
        {
            var expect = TestAnnotations.Of(obj, program);
            if (expect.Auxiliary || expect.Unpriv is not { } unpriv)
                continue;
            if (expect.ParseError is not null || expect.SkipReason is not null)
            {
                skipped.Add($"{file}/{program.Name} @unpriv: {expect.ParseError ?? expect.SkipReason}");
                continue;
            }
            program.Flags |= (ProgramLoadFlags)(expect.Flags & ~16u);
            if ((expect.Flags & 16u) != 0) program.Flags |= ProgramLoadFlags.Sleepable;
            string? refused = UnprivilegedLoad.RefusedProgram(program, unpriv.Caps);
            var ours = refused is not null
                ? new OurVerdict(false, refused, "", false)
                : Ours(obj, program, expect, unpriv, budget);
            yield return new UnprivOutcome(file, program.Name, unpriv, ours, refused);
        }
    }

    private static OurVerdict Ours(ObjectSpec obj, ProgramSpec program, TestAnnotations expect, SubSpec unpriv, TimeSpan budget)
    {
        try
        {
            using var cancel = new CancellationTokenSource(budget);
            var privilege = UnprivilegedLoad.Privilege(unpriv.Caps);
            var input = ProgramSpecInput.Create(obj, program, logLevel: Math.Max(1, expect.LogLevel), privilege: privilege);
            input = Runner.WithOptions(input, expect, cancel.Token, PoisonUncreatedMaps(obj, input.Instructions));
            var result = Verifier.Verify(input);
            return new OurVerdict(result.Accepted, result.Error ?? "", result.Log ?? "", false);
        }
        catch (BpfException e)
        {
            return new OurVerdict(false, e.Message, e.Log ?? e.Message, false);
        }
        catch (OperationCanceledException)
        {
            return new OurVerdict(false, $"verification took longer than {budget.TotalSeconds:0}s", "", true);
        }
        catch (Exception e)
        {
            return new OurVerdict(false, $"{e.GetType().Name}: {e.Message}", e.ToString(), true);
        }
    }

    /// <summary>
    /// libbpf's poison_map_ldimm64 for the maps test_loader leaves uncreated in unprivileged mode: both slots of each
    /// ld_imm64 naming one become a call to helper POISON_LDIMM64_MAP_BASE + map index, which the verifier refuses
    /// ("invalid func unknown#…") only if it reaches it.
    /// </summary>
    private static IReadOnlyList<Instruction> PoisonUncreatedMaps(ObjectSpec obj, IReadOnlyList<Instruction> insns)
    {
        List<Instruction>? patched = null;
        for (int i = 0; i + 1 < insns.Count; i++)
        {
            var insn = insns[i];
            if (insn.Opcode != 0x18) continue;
            if (insn.Src is (byte)LoadImm64Source.MapIndex or (byte)LoadImm64Source.MapIndexValue
                && insn.Imm >= 0 && insn.Imm < obj.Maps.Count && !UnprivilegedLoad.IsCreated(obj.Maps[insn.Imm]))
            {
                patched ??= [.. insns];
                var call = new Instruction(0x85, 0, 0, 0, PoisonMapBase + insn.Imm);
                patched[i] = call;
                patched[i + 1] = call;
            }
            i++;
        }
        return patched ?? insns;
    }
}
