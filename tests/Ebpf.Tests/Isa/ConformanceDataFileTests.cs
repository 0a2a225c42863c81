using Ebpf.Isa;

namespace Ebpf.Tests.Isa;

public class ConformanceDataFileTests
{
    private static IEnumerable<string> SuiteFiles() =>
        Directory.EnumerateFiles(SharedData.Require("conformance/tests"), "*.data").Order(StringComparer.Ordinal);

    [Fact]
    public void Every_suite_file_parses_and_assembles()
    {
        int count = 0;
        foreach (string path in SuiteFiles())
        {
            var test = ConformanceDataFile.Load(path);
            Assert.NotEmpty(test.Instructions);
            Assert.True(test.ExpectedResult.HasValue || test.ExpectedError is not null, path);
            // Every program of the suite ends in exit (or a jump): no test runs off its end by construction.
            count++;
        }
        Assert.True(count >= 300, $"only {count} conformance files found");
    }

    [Fact]
    public void Asm_and_raw_agree_where_both_are_given()
    {
        int compared = 0;
        foreach (string path in SuiteFiles())
        {
            string text = File.ReadAllText(path);
            if (!text.Contains("-- raw") || !text.Contains("-- asm"))
                continue;
            var parsed = ConformanceDataFile.Parse(text, path);
            Assert.NotNull(parsed.Assembly);
            Assert.Equal(parsed.Instructions, Assembler.Assemble(parsed.Assembly!, path));
            compared++;
        }
        Assert.True(compared > 0);
    }

    [Fact]
    public void Call_local_is_src1_with_pc_relative_imm()
    {
        var test = ConformanceDataFile.Load(Path.Combine(SharedData.Require("conformance/tests"), "call_local.data"));
        var call = test.Instructions[10];
        Assert.True(call.IsLocalCall);
        Assert.Equal(9, call.Imm); // slot 10 -> func1 at slot 20
        Assert.Equal(1UL, test.ExpectedResult);
    }

    [Fact]
    public void Callx_puts_the_register_in_dst()
    {
        var test = ConformanceDataFile.Load(Path.Combine(SharedData.Require("conformance/tests"), "callx.data"));
        var callx = test.Instructions[2];
        Assert.Equal(Opcodes.Callx, callx.Opcode);
        Assert.Equal(2, callx.Dst);
        Assert.Equal(0, callx.Src);
        Assert.Equal(0, callx.Imm);
    }

    [Fact]
    public void Memory_result_and_sections()
    {
        var test = ConformanceDataFile.Parse("""
            # comment
            -- asm
            ldxb %r0, [%r1+1]
            exit
            -- mem
            00 ff
            aa
            -- result
            0xff
            """, "x.data");
        Assert.Equal(new byte[] { 0x00, 0xff, 0xaa }, test.Memory);
        Assert.Equal(0xffUL, test.ExpectedResult);
        Assert.Null(test.ExpectedError);
        Assert.Equal(2, test.Instructions.Length);
    }

    [Fact]
    public void Raw_wins_and_error_section_is_read()
    {
        var test = ConformanceDataFile.Parse("-- raw\n0x0000000000000095\n-- error\nunknown opcode 0x8d\n", "y.data");
        Assert.Equal([Instruction.Exit()], test.Instructions);
        Assert.Null(test.ExpectedResult);
        Assert.Equal("unknown opcode 0x8d", test.ExpectedError);
    }

    [Theory]
    [InlineData("-- asm\nexit\n-- bogus\n", "z.data:3: unknown section '-- bogus'")]
    [InlineData("-- asm\nexit\n-- mem\n00 zz\n-- result\n0\n", "z.data:4: bad hex byte 'zz'")]
    [InlineData("-- result\n0x1\n", "z.data: no program")]
    [InlineData("-- asm\nexit\n", "z.data: no expectation")]
    [InlineData("-- asm\nexit\n-- result\n0xq\n", "z.data:4: bad result '0xq'")]
    [InlineData("-- raw\n0x95 nope\n-- result\n0\n", "z.data:2: bad raw instruction 'nope'")]
    [InlineData("# x\n-- asm\nmov %r0, 1\nfrob\n-- result\n1\n", "z.data:4: unknown mnemonic 'frob'")]
    [InlineData("-- asm\nexit\n-- result\n1\n2\n", "z.data:5: more than one value")]
    public void Malformed_files_name_file_and_line(string text, string expected)
    {
        var e = Assert.Throws<BpfException>(() => ConformanceDataFile.Parse(text, "z.data"));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.StartsWith(expected, e.Message);
    }
}
