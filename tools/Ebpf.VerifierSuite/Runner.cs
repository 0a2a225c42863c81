using Ebpf.Collections;
using Ebpf.Elf;
using Ebpf.Linux;
using Ebpf.Loading;
using Ebpf.Verification;
using ProgramLoadFlags = Ebpf.Loading.ProgramLoadFlags;

namespace Ebpf.VerifierSuite;

/// <summary>Loads each program of one object into the live kernel and into our verifier.</summary>
internal static class Runner
{
    /// <summary>BPF_F_TEST_REG_INVARIANTS: test_loader.c sets it on every load (testing_prog_flags()).</summary>
    private const uint TestRegInvariants = 1u << 7;

    public static IEnumerable<Outcome> Run(string objectPath, string file, bool withKernel, TimeSpan ourBudget, List<string> skipped)
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
            if (expect.Auxiliary || expect.ExpectSuccess is null)
                continue;
            if (expect.ParseError is not null || expect.SkipReason is not null)
            {
                skipped.Add($"{file}/{program.Name}: {expect.ParseError ?? expect.SkipReason}");
                continue;
            }
            program.Flags |= (ProgramLoadFlags)(expect.Flags & ~16u);
            if ((expect.Flags & 16u) != 0) program.Flags |= ProgramLoadFlags.Sleepable;
            var kernel = withKernel ? Kernel(objectPath, obj, program, expect) : new KernelVerdict(KernelKind.NotLoadable, "", "kernel not used");
            var ours = Ours(obj, program, expect, ourBudget);
            yield return new Outcome(file, program.Name, expect, kernel, ours);
        }
    }

    private static KernelVerdict Kernel(string objectPath, ObjectSpec obj, ProgramSpec program, TestAnnotations expect)
    {
        var flags = program.Flags;
        program.Flags |= (ProgramLoadFlags)TestRegInvariants;
        program.Flags &= ~(ProgramLoadFlags)expect.ClearedFlags;
        try
        {
            using var collection = LinuxKernel.Load(obj, new ObjectLoadOptions
            {
                Elf = ElfFile.Open(objectPath),
                ProgramFilter = p => ReferenceEquals(p, program),
                LogLevel = Math.Max(1, expect.LogLevel),
            });
            return new KernelVerdict(KernelKind.Accepted, collection.Programs[program.Name].VerifierLog ?? "", "");
        }
        catch (BpfException e) when (!string.IsNullOrWhiteSpace(e.Log) && !RefusedBeforeVerifying(e.Log!))
        {
            return new KernelVerdict(KernelKind.Rejected, e.Log!, e.Message);
        }
        catch (BpfException e)
        {
            // Refused before the verifier ran (no log): map/BTF creation, attach target, program type or flags
            // this kernel lacks. Not a verdict on the program.
            return new KernelVerdict(KernelKind.NotLoadable, "", e.Message);
        }
        finally
        {
            program.Flags = flags;
        }
    }

    /// <summary>A log holding only the statistics line of zero processed instructions: the load failed before
    /// do_check (e.g. check_attach_btf_id refusing an iterator target without a line), so it is no verdict.</summary>
    private static bool RefusedBeforeVerifying(string log) =>
        log.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) is [var only]
        && only.StartsWith("processed 0 insns ", StringComparison.Ordinal);

    private static OurVerdict Ours(ObjectSpec obj, ProgramSpec program, TestAnnotations expect, TimeSpan budget)
    {
        try
        {
            using var cancel = new CancellationTokenSource(budget);
            var input = WithOptions(ProgramSpecInput.Create(obj, program, logLevel: Math.Max(1, expect.LogLevel)), expect, cancel.Token);
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

    /// <summary>The input ProgramSpecInput builds, with the program's __flag options (BPF_F_STRICT_ALIGNMENT) and a time budget.</summary>
    internal static VerifierInput WithOptions(VerifierInput input, TestAnnotations expect, CancellationToken cancel,
        IReadOnlyList<Ebpf.Isa.Instruction>? instructions = null) => new()
    {
        Instructions = instructions ?? input.Instructions,
        ProgramType = input.ProgramType,
        ExpectedAttachType = input.ExpectedAttachType,
        AttachBtfId = input.AttachBtfId,
        Name = input.Name,
        MapReferences = input.MapReferences,
        MapsByFd = input.MapsByFd,
        MapsByIndex = input.MapsByIndex,
        Functions = input.Functions,
        EntryFunction = input.EntryFunction,
        KernelFunctions = input.KernelFunctions,
        MainFunctionDeclTags = input.MainFunctionDeclTags,
        HostHelpers = input.HostHelpers,
        LogLevel = input.LogLevel,
        Privilege = input.Privilege,
        Profile = input.Profile,
        GplCompatible = input.GplCompatible,
        Sleepable = input.Sleepable,
        StrictAlignment = (expect.Flags & 1u) != 0,
        InstructionLimit = input.InstructionLimit,
        ContextConverter = input.ContextConverter,
        ContextLayout = input.ContextLayout,
        Cancellation = cancel,
    };
}
