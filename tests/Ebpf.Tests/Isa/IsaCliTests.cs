using System.Text.Json;
using Ebpf.Isa;

namespace Ebpf.Tests.Isa;

public class IsaCliTests
{
    private static string Temp(string name, byte[] content)
    {
        string dir = Directory.CreateTempSubdirectory("isa-cli").FullName;
        string path = Path.Combine(dir, name);
        File.WriteAllBytes(path, content);
        return path;
    }

    private static string Temp(string name, string content) => Temp(name, System.Text.Encoding.UTF8.GetBytes(content));

    private static void AssertCleanError(CliRunner.Result r, params string[] fragments)
    {
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("Error: ", r.Stderr);
        foreach (string f in fragments)
            Assert.Contains(f, r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr); // no stack trace
        Assert.Equal("", r.Stdout);
    }

    [Fact]
    public void Disasm_object_in_llvm_style_prints_sections_symbols_and_labels()
    {
        var r = CliRunner.Run("disasm", SharedData.Fixture("isa/calls.bpf.o"));
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("Disassembly of section .text:", r.Stdout);
        Assert.Contains("Disassembly of section tc:", r.Stdout);
        Assert.Contains("0000000000000000 <calls>:", r.Stdout);
        Assert.Contains("if r6 == 0 goto +19 <LBB2_2>", r.Stdout);
        Assert.Contains("       8:\tcall 1\n", r.Stdout);
        var empty = CliRunner.Run("disasm", SharedData.Fixture("isa/atomics.bpf.o"));
        Assert.StartsWith("\nDisassembly of section tc:\n", empty.Stdout); // the empty .text is not listed
    }

    [Fact]
    public void Disasm_section_with_bytes()
    {
        var r = CliRunner.Run("disasm", SharedData.Fixture("isa/calls.bpf.o"), "--section", "tc", "--bytes");
        Assert.Equal(0, r.ExitCode);
        Assert.DoesNotContain(".text", r.Stdout);
        Assert.Contains("       0:\tbf 17 00 00 00 00 00 00\tr7 = r1\n", r.Stdout);
        Assert.Contains("18 02 00 00 58 00 00 00 00 00 00 00 00 00 00 00\tr2 = 88 ll", r.Stdout);
    }

    [Fact]
    public void Disasm_conformance_style_reassembles_with_asm()
    {
        string obj = SharedData.Fixture("isa/cpuv4.bpf.o");
        var r = CliRunner.Run("disasm", obj, "--style", "conformance", "--section", "socket");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("cpuv4:\n", r.Stdout);
        Assert.Contains("smod %r0, 13\n", r.Stdout);
        Assert.Contains("ldxsb %r4, [%r4+0]\n", r.Stdout);
        Assert.Contains("ja32 +0", r.Stdout);
        Assert.Contains("may_goto +0", r.Stdout);
        string asmFile = Temp("cpuv4.s", r.Stdout);
        string bin = Path.Combine(Path.GetDirectoryName(asmFile)!, "cpuv4.bin");
        var a = CliRunner.Run("asm", asmFile, "-o", bin);
        Assert.Equal(0, a.ExitCode);
        var elf = Ebpf.Elf.ElfFile.Open(obj);
        Assert.Equal(elf.FindSection("socket")!.Data.ToArray(), File.ReadAllBytes(bin));
    }

    [Fact]
    public void Disasm_json()
    {
        var r = CliRunner.Run("disasm", SharedData.Fixture("isa/calls.bpf.o"), "--section", "tc", "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Stdout);
        var program = doc.RootElement[0];
        Assert.Equal("tc", program.GetProperty("section").GetString());
        var first = program.GetProperty("instructions")[0];
        Assert.Equal(0, first.GetProperty("index").GetInt32());
        Assert.Equal("bf17000000000000", first.GetProperty("raw").GetString());
        Assert.Equal("r7 = r1", first.GetProperty("text").GetString());
        var lddw = program.GetProperty("instructions").EnumerateArray().First(i => i.GetProperty("index").GetInt32() == 14);
        Assert.Equal(32, lddw.GetProperty("raw").GetString()!.Length);
    }

    [Fact]
    public void Disasm_bin_and_data_files()
    {
        var program = Assembler.Assemble("mov %r0, 1\nlddw %r1, 0x100000000\nexit");
        string bin = Temp("p.bin", InstructionStream.Write(program));
        var r = CliRunner.Run("disasm", bin);
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("       0:\tr0 = 1\n       1:\tr1 = 4294967296 ll\n       3:\texit\n", r.Stdout);

        string data = Path.Combine(SharedData.Require("conformance/tests"), "lock_cmpxchg.data");
        var c = CliRunner.Run("disasm", data, "--style", "conformance");
        Assert.Equal(0, c.ExitCode);
        Assert.Contains("lock cmpxchg [%r10-8], %r1\n", c.Stdout);
    }

    [Fact]
    public void Disasm_kernel_style_uses_verifier_log_lines()
    {
        var r = CliRunner.Run("disasm", SharedData.Fixture("isa/calls.bpf.o"), "--section", "tc", "--style", "kernel");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("\n0: (bf) r7 = r1\n", r.Stdout);
        Assert.Contains("\n10: (15) if r6 == 0x0 goto pc+19\n", r.Stdout);
        Assert.Contains("\n21: (85) call pc+7\n", r.Stdout);
        Assert.Contains("\n16: (b7) r4 = 0\n", r.Stdout); // after the two-slot lddw at 14
    }

    [Fact]
    public void Asm_prints_hex_words_and_json()
    {
        string src = Temp("p.s", "mov %r0, 1 # one\nexit\n");
        var r = CliRunner.Run("asm", src);
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("0x00000001000000b7\n0x0000000000000095\n", r.Stdout);
        var j = CliRunner.Run("asm", src, "--json");
        using var doc = JsonDocument.Parse(j.Stdout);
        Assert.Equal(["0x00000001000000b7", "0x0000000000000095"],
            doc.RootElement.GetProperty("instructions").EnumerateArray().Select(e => e.GetString()!).ToArray());
    }

    [Fact]
    public void Asm_of_a_data_file_uses_its_program()
    {
        string data = Path.Combine(SharedData.Require("conformance/tests"), "lddw.data");
        var r = CliRunner.Run("asm", data);
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("0x5566778800000018\n0x1122334400000000\n0x0000000000000095\n", r.Stdout);
    }

    [Fact]
    public void Bad_inputs_fail_cleanly()
    {
        AssertCleanError(CliRunner.Run("disasm", Temp("t.bin", new byte[13])), "t.bin", "truncated", "last instruction 1");
        var (first, _) = Instruction.LoadImm64(1, 5);
        AssertCleanError(CliRunner.Run("disasm", Temp("l.bin", InstructionStream.Write([Instruction.Exit(), first]))),
            "insn 1: invalid bpf_ld_imm64 insn");
        AssertCleanError(CliRunner.Run("disasm", Temp("u.bin", InstructionStream.Write([Instruction.Mov64(0, 0), new Instruction(0xff, 0, 0, 0, 0)]))),
            "insn 1: unknown opcode ff");
        AssertCleanError(CliRunner.Run("disasm", Temp("m.data", "-- asm\nexit\n-- mem\nzz\n-- result\n0\n")), "m.data:4: bad hex byte 'zz'");
        AssertCleanError(CliRunner.Run("asm", Temp("e.s", "mov %r0, 1\nfrob %r1\n")), "e.s:2: unknown mnemonic 'frob'");
        AssertCleanError(CliRunner.Run("disasm", "/nonexistent/x.o"), "/nonexistent/x.o", "ENOENT");
        AssertCleanError(CliRunner.Run("disasm", SharedData.Fixture("isa/calls.bpf.o"), "--section", "nope"), "no section named 'nope'");
        AssertCleanError(CliRunner.Run("disasm", Temp("bad.o", new byte[] { 0x7f, (byte)'E', (byte)'L', (byte)'F', 2, 1 })));
    }

    [Fact]
    public void Lenient_prints_undecodable_slots()
    {
        string bin = Temp("u.bin", InstructionStream.Write([new Instruction(0xff, 0, 0, 0, 0), Instruction.Exit()]));
        var r = CliRunner.Run("disasm", bin, "--lenient");
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("       0:\t<unknown>\n       1:\texit\n", r.Stdout);
        var c = CliRunner.Run("disasm", bin, "--lenient", "--style", "conformance");
        Assert.Equal(".insn 0x00000000000000ff\nexit\n", c.Stdout);
    }
}
