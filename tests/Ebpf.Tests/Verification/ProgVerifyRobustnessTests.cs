using Ebpf.Abi;
using Ebpf.Fuzz;
using Ebpf.Isa;
using Ebpf.Loading;

namespace Ebpf.Tests.Verification;

/// <summary>
/// `ebpf prog verify` never aborts (issue 17): a seeded run of the fuzzer's --cli-verify mode drives random, generated
/// and mutated programs (some with their ELF image damaged) through the verb at every log level, the loader and
/// verifier directly, and the disassemblers. Longer runs are a command line:
/// <c>dotnet run -c Release --project tools/Ebpf.Fuzz -- --cli-verify --seed 1 --count 3000</c>.
/// </summary>
public sealed class ProgVerifyRobustnessTests
{
    [Fact]
    public void A_seeded_run_never_throws_prints_an_internal_error_or_hangs()
    {
        var summary = CliVerifyFuzz.Run(new CliFuzzOptions
        {
            Seed = 20261207,
            Count = 150,
            SeedDirectory = SharedData.Require("conformance/tests"),
        });
        string report = string.Join("\n", summary.Report().Concat(summary.Findings.Select(f => CliVerifyFuzz.Reproducer(f.Key, f.Value.First))));
        Assert.False(summary.Hung, report);
        Assert.True(summary.FindingCount == 0, report);
        Assert.Equal(150, summary.Programs);
        // The objects must reach the verifier: most of them are well-formed enough for our loader.
        Assert.True(summary.ObjectsLoaded > 100, report);
    }

    [Fact]
    public void The_fuzzers_object_is_read_like_a_clang_object()
    {
        // r1 = array map ll; r0 = 0; exit: one relocation against the first legacy map definition.
        var insns = new[]
        {
            new Instruction(Opcodes.LoadImm64, 1, 1, 0, FuzzMaps.Array), new Instruction(0, 0, 0, 0, 0),
            Instruction.Mov64(0, 0), Instruction.Exit(),
        };
        string path = Path.Combine(Path.GetTempPath(), $"minielf-{Guid.NewGuid():N}.o");
        File.WriteAllBytes(path, MiniElf.Write(new FuzzProgram(ProgramType.Xdp, insns, "test", false)));
        try
        {
            var obj = ObjectSpec.Load(path);
            var prog = Assert.Single(obj.Programs);
            Assert.Equal(ProgramType.Xdp, prog.Type);
            Assert.Equal(["array_map", "hash_map"], obj.Maps.Select(m => m.Name));
            Assert.Equal(MapType.Array, obj.Maps[0].Type);
            Assert.Equal(FuzzMaps.ValueSize, obj.Maps[1].ValueSize);
            var result = Ebpf.Verification.Verifier.Verify(Ebpf.Verification.ProgramSpecInput.Create(obj, prog));
            Assert.True(result.Accepted, result.Log);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
