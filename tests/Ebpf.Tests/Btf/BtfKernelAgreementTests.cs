using Ebpf.Btf;

namespace Ebpf.Tests.Btf;

/// <summary>Our validator must agree with the running kernel's BPF_BTF_LOAD on accept/reject and the reason.</summary>
public class BtfKernelAgreementTests
{
    private static IEnumerable<(string Case, Ebpf.Btf.BtfSpec Btf)> Cases()
    {
        BtfBuilder B(out uint i)
        {
            var b = new BtfBuilder();
            i = b.AddInt("int", 4, BtfIntEncoding.Signed);
            return b;
        }
        BtfBuilder b;
        uint i, v;

        b = B(out i);
        uint ctx = b.AddStructLayout("host_ctx", ("flags", i), ("cookie", b.AddInt("unsigned long long", 8)), ("len", i));
        uint f = b.AddFunc("handler", b.AddFuncProto(i, [new BtfParam("ctx", b.AddPtr(ctx))]));
        b.AddDeclTag("arg:ctx", f, 0);
        v = b.AddVar("counter", i);
        b.AddDatasec(".data", 4, new BtfVarSecinfo(v, 0, 4));
        yield return ("valid host context", b.Build());

        b = B(out i);
        b.AddStruct("bad-name", 4, new BtfMember("x", i, 0));
        yield return ("struct name", b.Build());

        b = B(out i);
        b.Add(new BtfConst(i, "named"));
        yield return ("named const", b.Build());

        b = B(out i);
        b.AddTypedef("", i);
        yield return ("anonymous typedef", b.Build());

        b = B(out i);
        b.AddPtr(99);
        yield return ("ptr out of range", b.Build());

        b = B(out i);
        b.Add(new BtfArray(i, 0, 4));
        yield return ("array index void", b.Build());

        b = new BtfBuilder();
        b.AddInt("wide", 2, BtfIntEncoding.None, 0, 32);
        yield return ("int bits > size", b.Build());

        b = B(out i);
        b.AddStruct("s", 4, new BtfMember("a", i, 0), new BtfMember("b", i, 32));
        yield return ("member beyond size", b.Build());

        b = B(out i);
        b.AddStruct("s", 8, new BtfMember("a", i, 32), new BtfMember("b", i, 0));
        yield return ("member offsets decreasing", b.Build());

        b = B(out i);
        b.AddEnum("e", 3, [new BtfEnumValue("A", 1)]);
        yield return ("enum size 3", b.Build());

        b = new BtfBuilder();
        b.AddTypedef("a", 2);
        b.AddTypedef("b", 1);
        yield return ("typedef loop", b.Build());

        b = new BtfBuilder();
        b.AddStruct("list", 8, new BtfMember("next", 2, 0));
        b.AddPtr(1);
        yield return ("pointer loop", b.Build());

        b = B(out i);
        uint v1 = b.AddVar("a", i), v2 = b.AddVar("b", i);
        b.AddDatasec(".data", 8, new BtfVarSecinfo(v1, 4, 4), new BtfVarSecinfo(v2, 0, 4));
        yield return ("datasec unsorted", b.Build());

        b = B(out i);
        b.AddDatasec(".data", 4, new BtfVarSecinfo(i, 0, 4));
        yield return ("datasec non-var", b.Build());

        b = B(out i);
        b.AddVar("ext", i, BtfVarLinkage.GlobalExtern);
        yield return ("extern var", b.Build());

        b = B(out i);
        f = b.AddFunc("f", b.AddFuncProto(i, [new BtfParam("x", i)]));
        b.AddDeclTag("arg:ctx", f, 1);
        yield return ("decl tag component out of range", b.Build());

        b = B(out i);
        b.AddDeclTag("tag", i);
        yield return ("decl tag on int", b.Build());

        b = B(out i);
        b.AddFunc("f", b.AddFuncProto(i, [new BtfParam("", i)]));
        yield return ("unnamed func arg", b.Build());

        b = B(out i);
        b.AddFunc("f", i);
        yield return ("func of int", b.Build());

        b = B(out i);
        b.AddFunc("f", b.AddFuncProto(i, [new BtfParam("x", i)]), BtfFuncLinkage.Extern);
        yield return ("extern func", b.Build());

        b = B(out i);
        b.AddFunc("printk_like", b.AddFuncProto(i, [new BtfParam("fmt", b.AddPtr(i))], variadic: true));
        yield return ("variadic func", b.Build());

        b = B(out i);
        b.AddStruct("s", 8, new BtfMember("a", i, 0, 40));
        yield return ("bitfield wider than int", b.Build());

        b = B(out i);
        b.AddStruct("s", 8, new BtfMember("a", i, 4, 3), new BtfMember("b", i, 32));
        yield return ("valid bitfields", b.Build());

        b = B(out i);
        b.AddStruct("s", 8, new BtfMember("a", i, 4));
        yield return ("unaligned int member", b.Build());

        b = new BtfBuilder();
        b.AddFloat("float", 3);
        yield return ("float size 3", b.Build());
    }

    [Fact]
    public void Validator_verdicts_match_the_running_kernel()
    {
        if (KernelBtfLoad.Unavailable() is { } why)
            Requirement.Missing(Requirement.Kernel, why);
        var disagreements = new List<string>();
        foreach (var (name, btf) in Cases())
        {
            var ours = BtfValidator.Check(btf);
            var (accepted, log, errno) = KernelBtfLoad.Load(btf.ToBytes());
            string kernelLast = log.TrimEnd().Split('\n').LastOrDefault() ?? "";
            if (accepted != (ours is null))
            {
                disagreements.Add($"{name}: kernel {(accepted ? "accepts" : $"rejects (errno {errno}: {kernelLast})")}, we {(ours is null ? "accept" : $"reject ({ours.Message})")}");
                continue;
            }
            if (ours is null)
                continue;
            // Our message is "[id] KIND name problem"; the kernel's adds kind details before the problem.
            string idPrefix = ours.Message[..(ours.Message.IndexOf(']') + 1)];
            var detail = System.Text.RegularExpressions.Regex.Match(ours.Message, @"=\S+ ([^=]+)$");
            string problem = detail.Success
                ? detail.Groups[1].Value
                : string.Join(' ', ours.Message.Split(' ').Skip(3));
            if (!log.Contains(idPrefix) || !kernelLast.EndsWith(problem, StringComparison.Ordinal))
                disagreements.Add($"{name}: kernel says '{kernelLast}' (errno {errno}), we say '{ours.Message}' ({ours.Errno})");
            else if ((int)ours.Errno != errno && !(ours.Errno == Errno.ENOTSUPP && errno == 524))
                disagreements.Add($"{name}: kernel errno {errno}, ours {ours.Errno}");
        }
        Assert.True(disagreements.Count == 0, string.Join("\n", disagreements));
    }

    [Fact]
    public void Kernel_accepts_written_vmlinux_and_fixed_up_fixture()
    {
        if (KernelBtfLoad.Unavailable() is { } why)
            Requirement.Missing(Requirement.Kernel, why);
        var vm = KernelBtfLoad.Load(BtfFixtures.Vmlinux().ToBytes());
        Assert.True(vm.Accepted, $"errno {vm.Errno}: " + string.Join("\n", vm.Log.TrimEnd().Split('\n').TakeLast(3)));

        // The clang fixture after libbpf-style DATASEC fixups (see BtfValidatorTests) loads too.
        var elf = BtfFixtures.TypesElf();
        var btf = BtfFixtures.Types();
        var symbols = elf.Symbols.Where(s => s.Name.Length > 0).GroupBy(s => s.Name).ToDictionary(g => g.Key, g => g.First());
        var fixedBtf = btf.Rewrite(t => t is BtfDatasec d
            ? new BtfDatasec(d.Name, (uint)(elf.FindSection(d.Name)?.Size ?? 0),
                d.Variables.Select(v => v with { Offset = (uint)symbols[btf.GetType(v.Type).Name].Value }).ToList())
            : t);
        var fx = KernelBtfLoad.Load(fixedBtf.ToBytes());
        Assert.True(fx.Accepted, $"errno {fx.Errno}: " + string.Join("\n", fx.Log.TrimEnd().Split('\n').TakeLast(3)));
        // And the unfixed one is rejected by both, for the same reason.
        var raw = KernelBtfLoad.Load(btf.ToBytes());
        Assert.False(raw.Accepted);
        Assert.EndsWith("size == 0", raw.Log.TrimEnd());
        Assert.EndsWith("size == 0", BtfValidator.Check(btf)!.Message);
    }

    /// <summary>The fixture with DATASEC sizes/offsets filled as libbpf does, so the kernel accepts it.</summary>
    internal static Ebpf.Btf.BtfSpec FixedFixture()
    {
        var elf = BtfFixtures.TypesElf();
        var btf = BtfFixtures.Types();
        var symbols = elf.Symbols.Where(s => s.Name.Length > 0).GroupBy(s => s.Name).ToDictionary(g => g.Key, g => g.First());
        return btf.Rewrite(t => t is BtfDatasec d
            ? new BtfDatasec(d.Name, (uint)(elf.FindSection(d.Name)?.Size ?? 0),
                d.Variables.Select(v => v with { Offset = (uint)symbols[btf.GetType(v.Type).Name].Value }).ToList())
            : t);
    }

    [Fact]
    public void Mutated_fixture_verdicts_match_the_kernel()
    {
        if (KernelBtfLoad.Unavailable() is { } why)
            Requirement.Missing(Requirement.Kernel, why);
        byte[] raw = FixedFixture().ToBytes();
        var rng = new Random(4242);
        var disagreements = new List<string>();
        int kernelAccepted = 0, tried = 0;
        for (int round = 0; round < 600; round++)
        {
            byte[] m = (byte[])raw.Clone();
            // Mutate the type section only (header and strings have their own tests) with small values,
            // so ids, sizes and offsets move into interesting ranges.
            int at = 24 + rng.Next((m.Length - 24) / 4 / 2) * 4;
            uint word = BitConverter.ToUInt32(m, at);
            uint replacement = rng.Next(3) switch
            {
                0 => word + (uint)rng.Next(1, 4),
                1 => word - (uint)rng.Next(1, 4),
                _ => word ^ (1u << rng.Next(32)),
            };
            BitConverter.TryWriteBytes(m.AsSpan(at), replacement);
            BpfException? ours;
            try
            {
                ours = BtfValidator.Check(Ebpf.Btf.BtfSpec.Parse(m));
            }
            catch (BpfException e)
            {
                ours = e;
            }
            var (accepted, log, errno) = KernelBtfLoad.Load(m);
            tried++;
            if (accepted)
                kernelAccepted++;
            if (accepted != (ours is null))
                disagreements.Add($"word at {at}: 0x{word:x} -> 0x{replacement:x}: kernel {(accepted ? "accepts" : $"rejects ({log.TrimEnd().Split('\n').Last()})")}, we {(ours is null ? "accept" : $"reject ({ours.Message})")}");
        }
        Assert.True(disagreements.Count == 0, $"{disagreements.Count}/{tried} disagreements ({kernelAccepted} accepted by the kernel):\n" + string.Join("\n", disagreements.Take(30)));
    }
}
