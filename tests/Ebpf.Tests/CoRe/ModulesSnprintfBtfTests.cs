using System.Text;
using System.Text.RegularExpressions;
using Ebpf.Btf;
using Ebpf.Collections;
using Ebpf.Linux;
using Ebpf.Loading;
using Ebpf.Runtime;
using Ebpf.Tests.Linux;

namespace Ebpf.Tests.CoRe;

/// <summary>
/// bpf_snprintf_btf in the managed runtime against the kernel's own output (tests/fixtures/core/modules/
/// snprintf_btf.bpf.c): 20 vmlinux types (nested structs, unions, bitfields, enums, char and pointer arrays, pointers
/// to functions, sk_buff) with random and mostly-zero images, under all 16 BTF_F_* combinations, on this machine's
/// kernel and in the runtime; the text, the return values, the truncated copy and five error cases must be identical.
/// Hashed pointers (%p) are keyed by the kernel's secret, so their 32 hashed bits are the one thing compared by shape.
/// </summary>
public partial class ModulesSnprintfBtfTests(ITestOutputHelper output)
{
    private const int Types = 20;
    private static string Fixture => SharedData.Fixture("core/modules/snprintf_btf.bpf.o");

    [GeneratedRegex("0x00000000[0-9a-f]{8}")]
    private static partial Regex HashedPointer();

    private sealed record Layout(Dictionary<string, (int Offset, int Size)> Vars, int Size);

    /// <summary>The .bss variables' offsets and sizes, from the object's symbol table.</summary>
    private static Layout BssLayout(ObjectSpec spec)
    {
        var elf = Ebpf.Elf.ElfFile.Open(Fixture);
        var vars = elf.Symbols.Where(s => s.Name is "input" or "output" or "small" or "which" or "flags" or "result" or "small_result"
                or "err_flags" or "err_size" or "err_zero" or "err_missing" or "err_null")
            .ToDictionary(s => s.Name, s => ((int)s.Value, (int)s.Size));
        return new Layout(vars, vars.Values.Max(v => v.Item1 + v.Item2));
    }

    private sealed record Outcome(byte[] Text, long Result, byte[] Small, long SmallResult, long[] Errors);

    private static Outcome Run(BpfCollection c, Layout layout, uint which, ulong flags, byte[] input)
    {
        var bss = c.Maps.First(kv => kv.Key.EndsWith(".bss", StringComparison.Ordinal)).Value;
        var image = new byte[bss.ValueBufferSize];
        input.CopyTo(image, layout.Vars["input"].Offset);
        BitConverter.GetBytes(which).CopyTo(image, layout.Vars["which"].Offset);
        BitConverter.GetBytes(flags).CopyTo(image, layout.Vars["flags"].Offset);
        bss.Update(new byte[4], image);
        c.Programs["show"].TestRun(new TestRunOptions { DataIn = new byte[64] });
        var after = bss.Lookup(new byte[4]);
        long Long(string name) => BitConverter.ToInt64(after, layout.Vars[name].Offset);
        byte[] Str(string name) => after.AsSpan(layout.Vars[name].Offset, layout.Vars[name].Size).ToArray();
        long result = Long("result");
        var text = Str("output");
        int len = result > 0 ? (int)Math.Min(result, text.Length - 1) : 0;
        return new Outcome(text[..len], result, Str("small"), Long("small_result"),
            [Long("err_flags"), Long("err_size"), Long("err_zero"), Long("err_missing"), Long("err_null")]);
    }

    private static byte[] Pattern(int seed, double zeroRate)
    {
        var rng = new Random(seed);
        var bytes = new byte[1024];
        for (int i = 0; i < bytes.Length; i++)
            bytes[i] = rng.NextDouble() < zeroRate ? (byte)0 : (byte)rng.Next(1, 256);
        return bytes;
    }

    private static string Normalize(byte[] text, ulong flags) =>
        (flags & (ulong)BtfPrintFlags.PtrRaw) != 0 ? Encoding.Latin1.GetString(text) : HashedPointer().Replace(Encoding.Latin1.GetString(text), "0x00000000<hash>");

    [Fact]
    public void Managed_output_is_byte_identical_to_the_kernels_for_vmlinux_types()
    {
        KernelRequirement.Require();
        if (!File.Exists("/sys/kernel/btf/vmlinux"))
            Requirement.Missing(Requirement.Vmlinux, "/sys/kernel/btf/vmlinux not present");
        var spec = ObjectSpec.Load(Fixture);
        var layout = BssLayout(spec);
        using var kernel = LinuxKernel.Load(spec);
        var runtime = new BpfRuntime();
        using var managed = runtime.Load(spec);
        Assert.Equal(Ebpf.Execution.ExecutionMode.Unchecked, managed.Programs["show"].Program.ExecutionMode);
        var patterns = new[] { Pattern(1, 0.45), Pattern(2, 0.9), new byte[1024] };
        int compared = 0, hashed = 0;
        long bytes = 0;
        for (uint which = 0; which < Types; which++)
        {
            for (int p = 0; p < patterns.Length; p++)
            {
                for (ulong flags = 0; flags < 16; flags++)
                {
                    var k = Run(kernel, layout, which, flags, patterns[p]);
                    var m = Run(managed, layout, which, flags, patterns[p]);
                    string where = $"type #{which}, pattern {p}, flags {flags}";
                    Assert.True(k.Result > 0, $"{where}: kernel returned {k.Result} ({string.Join(",", k.Errors)}), managed {m.Result} ({string.Join(",", m.Errors)})");
                    string kt = Normalize(k.Text, flags), mt = Normalize(m.Text, flags);
                    if (kt != mt)
                        output.WriteLine($"{where}\n--- kernel ---\n{kt}\n--- managed ---\n{mt}");
                    Assert.Equal(kt, mt);
                    Assert.Equal(k.Result, m.Result);
                    Assert.Equal(k.SmallResult, m.SmallResult);
                    Assert.Equal(k.Errors, m.Errors);
                    if (kt == Encoding.Latin1.GetString(k.Text))
                        Assert.Equal(k.Small, m.Small); // no hashed pointer: the truncated copies are identical too
                    else
                        hashed++;
                    compared++;
                    bytes += k.Text.Length;
                    if (p == 1 && flags is 0 or 9 && which is 0 or 12 or 14 or 15 or 17)
                        output.WriteLine($"{where}:\n{kt}");
                }
            }
        }
        output.WriteLine($"{compared} outputs compared ({bytes} bytes), {hashed} with hashed pointers compared by shape");
        // The error cases, as the kernel returns them: flags 16, btf_ptr size 8, type id 0 → EINVAL; a missing type
        // → ENOENT; NULL object → ERANGE (copy_from_kernel_nofault of a user address).
        var last = Run(managed, layout, 0, 0, patterns[0]);
        Assert.Equal([-22L, -22, -22, -2, -34], last.Errors);
    }

    [Fact]
    public void Truncation_keeps_the_full_length_and_a_NUL_terminated_prefix()
    {
        if (!File.Exists("/sys/kernel/btf/vmlinux"))
            Requirement.Missing(Requirement.Vmlinux, "/sys/kernel/btf/vmlinux not present");
        var spec = ObjectSpec.Load(Fixture);
        var layout = BssLayout(spec);
        var runtime = new BpfRuntime();
        using var managed = runtime.Load(spec);
        var o = Run(managed, layout, 4, (ulong)BtfPrintFlags.Compact, Pattern(3, 0.2)); // struct bpf_insn
        Assert.Equal(o.Result, o.SmallResult);
        Assert.True(o.Result > o.Small.Length);
        Assert.Equal(o.Text.AsSpan(0, o.Small.Length - 1).ToArray(), o.Small[..^1]);
        Assert.Equal(0, o.Small[^1]);
        Assert.StartsWith("(struct bpf_insn){.code = (__u8)", Encoding.Latin1.GetString(o.Text), StringComparison.Ordinal);
    }
}
