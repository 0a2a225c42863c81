using System.Text.Json;

namespace Ebpf.Tests.Isa;

/// <summary><c>ebpf disasm FILE.o</c> without --section prints each program as linked, with its source lines.</summary>
public class LinkedDisasmCliTests
{
    [Fact]
    public void Object_is_listed_per_linked_program_with_source_lines()
    {
        var r = CliRunner.Run("disasm", SharedData.Fixture("isa/calls.bpf.o"));
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("calls:  ; section tc", r.Stdout);
        // The subprogram from .text is appended to the entry program and labelled, as libbpf links it.
        Assert.DoesNotContain("Disassembly of section", r.Stdout);
        Assert.Matches(@"(?m)^; .+\[calls\.bpf\.c:\d+:\d+\]$", r.Stdout);
        Assert.Contains("call 1", r.Stdout);
    }

    [Fact]
    public void Json_carries_source_and_line_per_instruction()
    {
        var r = CliRunner.Run("disasm", SharedData.Fixture("isa/calls.bpf.o"), "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Stdout);
        var program = doc.RootElement.EnumerateArray().Single(p => p.GetProperty("name").GetString() == "calls");
        var insns = program.GetProperty("instructions").EnumerateArray().ToList();
        Assert.Contains(insns, i => i.GetProperty("source").ValueKind == JsonValueKind.String && i.GetProperty("line").GetInt32() > 0);
        Assert.Equal(0, insns[0].GetProperty("index").GetInt32());
    }

    [Fact]
    public void Sections_flag_keeps_the_objdump_view()
    {
        var r = CliRunner.Run("disasm", SharedData.Fixture("isa/calls.bpf.o"), "--sections");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("Disassembly of section tc:", r.Stdout);
    }
}
