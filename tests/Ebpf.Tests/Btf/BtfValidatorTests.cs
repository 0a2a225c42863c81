using Ebpf.Btf;

namespace Ebpf.Tests.Btf;

public class BtfValidatorTests
{
    private static BpfException Rejected(BtfBuilder b)
    {
        var btf = b.Build();
        var e = BtfValidator.Check(btf);
        Assert.NotNull(e);
        return e;
    }

    private static (BtfBuilder B, uint Int) WithInt()
    {
        var b = new BtfBuilder();
        return (b, b.AddInt("int", 4, BtfIntEncoding.Signed));
    }

    [Fact]
    public void Vmlinux_passes_the_kernel_checks()
    {
        var btf = BtfFixtures.Vmlinux();
        Assert.Null(BtfValidator.Check(btf));
    }

    [Fact]
    public void A_host_context_built_in_code_passes()
    {
        var (b, i) = WithInt();
        uint u64 = b.AddInt("unsigned long long", 8);
        uint ctx = b.AddStructLayout("host_ctx", ("flags", i), ("cookie", u64), ("len", i));
        uint ptr = b.AddPtr(ctx);
        uint proto = b.AddFuncProto(i, [new BtfParam("ctx", ptr)]);
        uint func = b.AddFunc("handler", proto);
        b.AddDeclTag("arg:ctx", func, 0);
        uint v = b.AddVar("counter", i);
        b.AddDatasec(".data", 4, new BtfVarSecinfo(v, 0, 4));
        var btf = b.Build();
        BtfValidator.Validate(btf);
        Assert.Equal(24u, btf.SizeOf(ctx));
        Assert.Equal(16u, btf.FindMember(ctx, "len")!.BitOffset / 8);
        Assert.Equal(["arg:ctx"], btf.GetDeclTagValues(func, 0));
    }

    [Fact]
    public void Clang_objects_need_libbpf_datasec_fixups_before_the_kernel_accepts_them()
    {
        // clang leaves DATASEC sizes 0; libbpf fills them from the ELF before BPF_BTF_LOAD.
        var e = BtfValidator.Check(BtfFixtures.Types())!;
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Matches(@"^\[\d+\] DATASEC \.\S+ size == 0$", e.Message);
    }

    [Fact]
    public void Fixture_passes_after_libbpf_style_datasec_fixups()
    {
        // Fill DATASEC sizes and variable offsets the way libbpf does from ELF section sizes and symbols.
        var elf = BtfFixtures.TypesElf();
        var btf = BtfFixtures.Types();
        var symbols = elf.Symbols.Where(s => s.Name.Length > 0).GroupBy(s => s.Name).ToDictionary(g => g.Key, g => g.First());
        var fixedBtf = btf.Rewrite(t => t is BtfDatasec d
            ? new BtfDatasec(d.Name, (uint)(elf.FindSection(d.Name)?.Size ?? 0),
                d.Variables.Select(v => v with { Offset = (uint)symbols[btf.GetType(v.Type).Name].Value }).ToList())
            : t);
        Assert.Equal(btf.Types.Count, fixedBtf.Types.Count);
        Assert.Null(BtfValidator.Check(fixedBtf));
        var bss = fixedBtf.FindDatasec(".bss")!;
        Assert.True(bss.Size >= 128 + 48 + 8);
        Assert.Equal(bss.Variables.Select(v => v.Offset).Order(), bss.Variables.Select(v => v.Offset));
    }

    [Fact]
    public void Names_must_be_identifiers_or_empty_per_kind()
    {
        var (b, i) = WithInt();
        b.AddStruct("bad name", 4, new BtfMember("x", i, 0));
        Assert.EndsWith("STRUCT bad name Invalid name", Rejected(b).Message);

        (b, i) = WithInt();
        b.Add(new BtfConst(i, "named"));
        Assert.Equal("[2] CONST named Invalid name", Rejected(b).Message);

        (b, i) = WithInt();
        b.AddTypedef("", i);
        Assert.Equal("[2] TYPEDEF (anon) Invalid name", Rejected(b).Message);

        (b, i) = WithInt();
        b.AddFunc("1abc", b.AddFuncProto(i, []));
        Assert.Contains("FUNC 1abc Invalid name", Rejected(b).Message);

        (b, i) = WithInt();
        b.AddEnum("e", 4, [new BtfEnumValue("", 1)]);
        Assert.Contains("Invalid name", Rejected(b).Message);
    }

    [Fact]
    public void Ids_out_of_range_are_rejected()
    {
        var (b, i) = WithInt();
        b.AddPtr(99);
        Assert.Equal("[2] PTR (anon) Invalid type_id", Rejected(b).Message);

        (b, i) = WithInt();
        b.AddStruct("s", 4, new BtfMember("x", 42, 0));
        Assert.Contains("Invalid type_id", Rejected(b).Message);

        (b, i) = WithInt();
        b.Add(new BtfArray(i, 0, 4));
        Assert.Equal("[2] ARRAY (anon) Invalid index", Rejected(b).Message);
    }

    [Fact]
    public void Sizes_must_be_consistent()
    {
        var b = new BtfBuilder();
        b.AddInt("wide", 2, BtfIntEncoding.None, 0, 32);
        Assert.Equal("[1] INT wide nr_bits exceeds type_size", Rejected(b).Message);

        var (b2, i) = WithInt();
        b2.AddStruct("s", 4, new BtfMember("a", i, 0), new BtfMember("b", i, 32));
        Assert.Contains("Member exceeds struct_size", Rejected(b2).Message);

        (b2, i) = WithInt();
        b2.AddStruct("s", 8, new BtfMember("a", i, 32), new BtfMember("b", i, 0));
        Assert.Contains("Invalid member bits_offset", Rejected(b2).Message);

        (b2, i) = WithInt();
        b2.AddStruct("s", 8, new BtfMember("a", i, 0, 40));
        Assert.Contains("Invalid member bitfield_size", Rejected(b2).Message);

        (b2, i) = WithInt();
        b2.AddEnum("e", 3, [new BtfEnumValue("A", 1)]);
        Assert.Equal("[2] ENUM e Unexpected size", Rejected(b2).Message);

        b = new BtfBuilder();
        b.AddInt("int", 4, (BtfIntEncoding)3);
        Assert.Equal(Errno.ENOTSUPP, Rejected(b).Errno);
    }

    [Fact]
    public void Cycles_are_rejected_unless_through_a_pointer()
    {
        var b = new BtfBuilder();
        b.AddTypedef("a", 2);
        b.AddTypedef("b", 1);
        Assert.Contains("Loop detected", Rejected(b).Message);

        b = new BtfBuilder();
        uint i = b.AddInt("int", 4, BtfIntEncoding.Signed);
        b.AddStruct("self", 8, new BtfMember("x", i, 0), new BtfMember("me", 3, 32));
        b.AddConst(2);
        Assert.Contains("Loop detected", Rejected(b).Message);

        // struct list { struct list *next; } is fine.
        b = new BtfBuilder();
        b.AddStruct("list", 8, new BtfMember("next", 2, 0));
        b.AddPtr(1);
        Assert.Null(BtfValidator.Check(b.Build()));
    }

    [Fact]
    public void Datasec_vars_must_be_sorted_and_in_range()
    {
        var (b, i) = WithInt();
        uint v1 = b.AddVar("a", i), v2 = b.AddVar("b", i);
        b.AddDatasec(".data", 8, new BtfVarSecinfo(v1, 4, 4), new BtfVarSecinfo(v2, 0, 4));
        Assert.Contains("Invalid offset", Rejected(b).Message);

        (b, i) = WithInt();
        v1 = b.AddVar("a", i);
        b.AddDatasec(".data", 6, new BtfVarSecinfo(v1, 4, 4));
        Assert.Contains("Invalid offset+size", Rejected(b).Message);

        (b, i) = WithInt();
        b.AddDatasec(".data", 4, new BtfVarSecinfo(i, 0, 4));
        Assert.Contains("Not a VAR kind member", Rejected(b).Message);

        (b, i) = WithInt();
        v1 = b.AddVar("ext", i, BtfVarLinkage.GlobalExtern);
        Assert.Equal("[2] VAR ext Linkage not supported", Rejected(b).Message);
    }

    [Fact]
    public void Decl_tag_component_index_must_be_in_range()
    {
        var (b, i) = WithInt();
        uint f = b.AddFunc("f", b.AddFuncProto(i, [new BtfParam("x", i)]));
        b.AddDeclTag("arg:ctx", f, 1);
        Assert.EndsWith("DECL_TAG arg:ctx Invalid component_idx", Rejected(b).Message);

        (b, i) = WithInt();
        b.AddDeclTag("tag", i);
        Assert.EndsWith("DECL_TAG tag Invalid type_id", Rejected(b).Message);

        (b, i) = WithInt();
        uint s = b.AddStruct("s", 4, new BtfMember("x", i, 0));
        b.AddDeclTag("ok", s, 0);
        b.AddDeclTag("too_far", s, 1);
        Assert.EndsWith("DECL_TAG too_far Invalid component_idx", Rejected(b).Message);
    }

    [Fact]
    public void Function_signatures_are_checked()
    {
        var (b, i) = WithInt();
        b.AddFunc("f", b.AddFuncProto(i, [new BtfParam("", i)]));
        Assert.Contains("FUNC f Invalid arg#1", Rejected(b).Message);

        (b, i) = WithInt();
        b.AddFunc("f", b.AddFuncProto(i, [new BtfParam("x", 0), new BtfParam("y", i)]));
        Assert.Contains("Invalid arg#1", Rejected(b).Message);

        (b, i) = WithInt();
        b.AddFunc("f", i);
        Assert.Equal("[2] FUNC f Invalid type_id", Rejected(b).Message);

        (b, i) = WithInt();
        b.AddFunc("f", b.AddFuncProto(i, [new BtfParam("x", i)], variadic: true), BtfFuncLinkage.Extern);
        Assert.Contains("Invalid func linkage", Rejected(b).Message);

        (b, i) = WithInt();
        b.AddFunc("printk_like", b.AddFuncProto(i, [new BtfParam("fmt", b.AddPtr(i))], variadic: true));
        Assert.Null(BtfValidator.Check(b.Build()));
    }
}
