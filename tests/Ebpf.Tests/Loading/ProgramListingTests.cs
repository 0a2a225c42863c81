using Ebpf.Isa;
using Ebpf.Loading;

namespace Ebpf.Tests.Loading;

public sealed class ProgramListingTests
{
    private static string Raw(ReadOnlySpan<Instruction> program, int index, out int slotCount)
    {
        slotCount = program[index].IsLoadImm64 && index + 1 < program.Length ? 2 : 1;
        return $"op=0x{program[index].Opcode:x2} imm={program[index].Imm}";
    }

    [Fact]
    public void SourceLinesFunctionsAndReferencesAreInterleaved()
    {
        var spec = ObjectSpec.Load(SharedData.Fixture("loading/programs.bpf.o"));
        var text = ProgramListing.ToString(spec.FindProgram("xdp_second")!, Raw);
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("xdp_second:  ; section xdp, 29 insns", lines[0]);
        Assert.StartsWith("; bpf_loop(4, loop_body, 0, 0);  [programs.bpf.c:", lines[1]);
        Assert.Contains("loop_body:", lines);
        Assert.Contains("add_one:", lines);
        Assert.True(Array.IndexOf(lines, "loop_body:") < Array.IndexOf(lines, "add_one:"));
        Assert.Contains(lines, l => l.StartsWith("; hits += index;"));
        Assert.Contains(lines, l => l.EndsWith("; programs.bss+0 (hits)") || l.Contains("; programs.bss+0"));
        // lddw takes two slots: 29 slots, 4 lddw among them (callback pointer, custom_value, hits twice? at least one).
        int printed = lines.Count(l => char.IsDigit(l.TrimStart()[0]));
        Assert.True(printed < 29 && printed > 20, $"{printed} instruction lines");
    }

    [Fact]
    public void KconfigAndKfuncReferencesAreNamed()
    {
        var spec = ObjectSpec.Load(SharedData.Fixture("loading/programs.bpf.o"));
        var text = ProgramListing.ToString(spec.FindProgram("trace_open")!, Raw);
        Assert.Contains("; kconfig CONFIG_HZ (program.kconfig+0)", text);
        Assert.Contains("; kfunc bpf_rcu_read_lock", text);
        Assert.Contains("; ksym bpf_prog_active", text);
    }
}
