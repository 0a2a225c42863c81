using System.Diagnostics;
using System.Text;
using Ebpf.Btf;

namespace Ebpf.Tests.Btf;

public class BtfCPrinterTests
{
    private static string? Tool(params string[] candidates) => candidates.FirstOrDefault(File.Exists);

    private static string Bpftool(string file)
    {
        string bpftool = ExternalTool.Require(Requirement.Bpftool, "bpftool", "the header is compared with bpftool's live output");
        var r = ExternalTool.Run(bpftool, ["btf", "dump", "file", file, "format", "c"]);
        Assert.Equal(0, r.ExitCode);
        return r.Stdout;
    }

    private static (int Code, string Output) Compile(string source, string name)
    {
        string? clang = Tool("/usr/bin/clang-14", "/usr/local/bin/clang-14");
        if (clang is null)
            Requirement.Missing(Requirement.Clang, "clang-14 not installed");
        string dir = Directory.CreateTempSubdirectory("btf-c-").FullName;
        try
        {
            string c = Path.Combine(dir, name + ".c");
            File.WriteAllText(c, source);
            var psi = new ProcessStartInfo(clang, ["-target", "bpf", "-O2", "-c", c, "-o", Path.Combine(dir, name + ".o")])
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
            };
            using var p = Process.Start(psi)!;
            string err = p.StandardError.ReadToEnd();
            p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, err);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>_Static_asserts that the compiler's layout of printed structs equals the BTF's.</summary>
    private static string LayoutAsserts(Ebpf.Btf.BtfSpec btf, int max)
    {
        var sb = new StringBuilder();
        int n = 0;
        foreach (var t in btf.Types.OfType<BtfComposite>())
        {
            if (t.IsAnonymous || btf.FindAllByName(t.Name).Count() != 1 || t.Size == 0 || EmbedsVaList(btf, t.Id, 0))
                continue;
            string kw = t.IsUnion ? "union" : "struct";
            sb.Append($"_Static_assert(sizeof({kw} {t.Name}) == {t.Size}, \"size of {t.Name}\");\n");
            var last = t.Members.LastOrDefault(m => m.Name.Length > 0 && !m.IsBitfield);
            if (last.Name is { Length: > 0 })
                sb.Append($"_Static_assert(__builtin_offsetof({kw} {t.Name}, {last.Name}) == {last.BitOffset / 8}, \"offset of {t.Name}.{last.Name}\");\n");
            if (++n == max)
                break;
        }
        return sb.ToString();
    }

    /// <summary>
    /// va_list is target-specific (24 bytes on x86-64, a pointer on BPF), so structs embedding it cannot keep
    /// their size when the header is compiled for BPF — with bpftool's header too.
    /// </summary>
    private static bool EmbedsVaList(Ebpf.Btf.BtfSpec btf, uint id, int depth)
    {
        if (depth > 40)
            return false;
        var t = btf.GetType(id);
        return t switch
        {
            BtfTypedef td when td.Name is "va_list" or "__builtin_va_list" or "__gnuc_va_list" => true,
            BtfReferenceType r and not BtfPtr => EmbedsVaList(btf, r.Type, depth + 1),
            BtfArray a => EmbedsVaList(btf, a.ElementType, depth + 1),
            BtfComposite c => c.Members.Any(m => EmbedsVaList(btf, m.Type, depth + 1)),
            _ => false,
        };
    }

    [Fact]
    public void Fixture_header_matches_bpftool()
    {
        string file = SharedData.Fixture("btf/types.bpf.o");
        string expected = BpftoolRecord.Output("btf/types.bpf.o.h", "btf", "dump", "file", file, "format", "c");
        string ours = new BtfCPrinter(BtfFixtures.Types()) { EnumSizeAttributes = false }.Print();
        Assert.Equal(expected, ours);
    }

    [Fact]
    public void Vmlinux_header_matches_bpftool_except_enum_mode_attributes()
    {
        var btf = BtfFixtures.Vmlinux();
        string expected = Bpftool(BtfFixtures.VmlinuxPath);
        string ours = new BtfCPrinter(btf) { EnumSizeAttributes = false }.Print();
        if (expected != ours)
        {
            var e = expected.Split('\n');
            var o = ours.Split('\n');
            int i = 0;
            while (i < Math.Min(e.Length, o.Length) && e[i] == o[i])
                i++;
            Assert.Fail($"first difference at line {i + 1}:\n bpftool: {e.ElementAtOrDefault(i)}\n ours:    {o.ElementAtOrDefault(i)}");
        }
    }

    [Fact]
    public void Fixture_header_has_the_expected_c_constructs()
    {
        string h = new BtfCPrinter(BtfFixtures.Types()).Print();
        Assert.StartsWith("#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n", h);
        Assert.Contains("#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)", h);
        Assert.EndsWith("#endif /* __VMLINUX_H__ */\n", h);
        Assert.Contains("\tunsigned int a: 3;\n", h);
        Assert.Contains("} __attribute__((packed));", h);
        Assert.Contains("typedef int (*callback_t)(void *, int);", h);
        Assert.Contains("\tint (*handlers[4])(int, long);\n", h);
        Assert.Contains("\tvoid (*variadic)(int, ...);\n", h);
        Assert.Contains("\tu32_alias matrix[2][3];\n", h);
        Assert.Contains("\tunion {\n\t\tstruct {\n\t\t\t__u16 lo;", h);
        Assert.Contains("int __attribute__((btf_type_tag(\"user\"))) *user_ptr;", h);
        // struct ops is used through a pointer before its definition: forward declared first.
        Assert.True(h.IndexOf("struct ops;\n", StringComparison.Ordinal) < h.IndexOf("struct nested {", StringComparison.Ordinal));
        Assert.True(h.IndexOf("struct bits {", StringComparison.Ordinal) < h.IndexOf("struct nested {", StringComparison.Ordinal));
    }

    [Fact]
    public void Printed_fixture_headers_compile_with_the_same_layout()
    {
        foreach (var btf in new[] { BtfFixtures.Types(), BtfFixtures.Enum64() })
        {
            string src = new BtfCPrinter(btf).Print() + LayoutAsserts(btf, 1000) + "int main_probe(void) { return 0; }\n";
            var (code, err) = Compile(src, "fixture");
            Assert.True(code == 0, err);
        }
    }

    [Fact]
    public void Enum_size_attributes_keep_odd_sized_enums_their_size()
    {
        var b = new BtfBuilder();
        b.AddEnum("tiny", 1, [new BtfEnumValue("TINY_A", 1)]);
        b.AddEnum64("wide", [new BtfEnumValue("WIDE_A", 1)]);
        b.AddEnum64("huge", [new BtfEnumValue("HUGE_A", 0x100000000)]);
        var btf = b.Build();
        string h = new BtfCPrinter(btf).Print();
        Assert.Contains("} __attribute__((mode(byte)));", h);
        Assert.Contains("WIDE_A = 1ULL,\n} __attribute__((mode(word)));", h);
        Assert.Contains("HUGE_A = 4294967296ULL,\n};", h);
        string src = h + "_Static_assert(sizeof(enum tiny) == 1, \"\");\n_Static_assert(sizeof(enum wide) == 8, \"\");\n_Static_assert(sizeof(enum huge) == 8, \"\");\n";
        var (code, err) = Compile(src, "enums");
        Assert.True(code == 0, err);
    }

    /// <summary>The one slow test: the whole vmlinux.h through clang-14, with layout checks on many structs.</summary>
    [Fact]
    public void Vmlinux_header_compiles_with_clang14_for_bpf()
    {
        var btf = BtfFixtures.Vmlinux();
        string src = new BtfCPrinter(btf).Print() + LayoutAsserts(btf, 3000) + "int probe(struct task_struct *t) { return t != 0; }\n";
        var (code, err) = Compile(src, "vmlinux");
        Assert.True(code == 0, err.Length > 4000 ? err[..4000] : err);
    }
}
