using Ebpf.Btf;

namespace Ebpf.Tests.Btf;

public class BtfReaderTests
{
    [Fact]
    public void Fixture_types_decode_with_every_field()
    {
        var btf = BtfFixtures.Types();
        var nested = btf.GetType<BtfStruct>(btf.FindByName("nested", BtfKind.Struct)!.Id);
        Assert.Equal(128u, nested.Size);
        Assert.Equal(14, nested.Members.Count);
        Assert.Equal("kind", nested.Members[0].Name);
        Assert.Equal(32u, nested.Members[1].BitOffset);
        Assert.Equal("", nested.Members[1].Name);

        var bits = (BtfStruct)btf.FindByName("bits", BtfKind.Struct)!;
        Assert.True(bits.KindFlag);
        Assert.Equal([(0u, 3u), (3u, 5u), (8u, 7u), (15u, 40u), (56u, 0u)],
            bits.Members.Select(m => (m.BitOffset, m.BitfieldSize)));

        var color = (BtfEnum)btf.FindByName("color", BtfKind.Enum)!;
        Assert.Equal([("RED", 0L), ("GREEN", 5L), ("BLUE", 6L)], color.Values.Select(v => (v.Name, v.Value)));
        Assert.False(color.IsSigned);

        var intType = (BtfInt)btf.FindByName("int", BtfKind.Int)!;
        Assert.True(intType.IsSigned);
        Assert.Equal((4u, (byte)32, (byte)0), (intType.Size, intType.Bits, intType.BitOffset));

        var ops = (BtfStruct)btf.FindByName("ops", BtfKind.Struct)!;
        var handlers = (BtfArray)btf.GetType(ops.Members[1].Type);
        Assert.Equal(4u, handlers.Count);
        Assert.IsType<BtfPtr>(btf.GetType(handlers.ElementType));
        var variadicProto = (BtfFuncProto)btf.GetType(((BtfPtr)btf.GetType(ops.Members[2].Type)).Type);
        Assert.True(variadicProto.IsVariadic);
        Assert.Single(variadicProto.NamedParameters);

        var global = (BtfFunc)btf.FindByName("global_helper", BtfKind.Func)!;
        Assert.Equal(BtfFuncLinkage.Global, global.Linkage);
        Assert.Equal(BtfFuncLinkage.Static, ((BtfFunc)btf.FindByName("static_helper", BtfKind.Func)!).Linkage);
        var proto = (BtfFuncProto)btf.GetType(global.ProtoType);
        Assert.Equal(["n", "v"], proto.Parameters.Select(p => p.Name));

        var hits = (BtfVar)btf.FindByName("hits", BtfKind.Var)!;
        Assert.Equal(BtfVarLinkage.Static, hits.Linkage);
        Assert.IsType<BtfFloat>(btf.FindByName("float"));
        var tag = (BtfTypeTag)btf.FindByName("user", BtfKind.TypeTag)!;
        Assert.Equal("int", btf.GetType(tag.Type).Name);
        Assert.IsType<BtfVoid>(btf.GetType(0));
    }

    [Fact]
    public void Enum64_and_signed_enums_from_clang19()
    {
        var btf = BtfFixtures.Enum64();
        var big = (BtfEnum64)btf.FindByName("big", BtfKind.Enum64)!;
        Assert.False(big.IsSigned);
        Assert.Equal(8u, big.Size);
        Assert.Equal(0x1234567890L, big.Values[1].Value);
        Assert.Equal(ulong.MaxValue, (ulong)big.Values[2].Value);
        var sign = (BtfEnum)btf.FindByName("sign", BtfKind.Enum)!;
        Assert.True(sign.IsSigned);
        Assert.Equal(-2L, sign.Values[0].Value);
        var sbig = (BtfEnum64)btf.FindByName("sbig", BtfKind.Enum64)!;
        Assert.Equal(-0x100000000L, sbig.Values[0].Value);
        Assert.Equal("rcu", btf.FindByName("rcu", BtfKind.TypeTag)!.Name);
    }

    [Fact]
    public void Sizes_alignment_and_resolution()
    {
        var btf = BtfFixtures.Types();
        uint Id(string name, BtfKind kind) => btf.FindByName(name, kind)!.Id;
        Assert.Equal(128u, btf.SizeOf(Id("nested", BtfKind.Struct)));
        Assert.Equal(13u, btf.SizeOf(Id("packed_rec", BtfKind.Struct)));
        Assert.Equal(1u, btf.AlignOf(Id("packed_rec", BtfKind.Struct)));
        Assert.Equal(8u, btf.AlignOf(Id("nested", BtfKind.Struct)));
        Assert.Equal(4u, btf.SizeOf(Id("u32_alias", BtfKind.Typedef)));
        var nested = (BtfStruct)btf.FindByName("nested", BtfKind.Struct)!;
        var matrix = nested.Members.Single(m => m.Name == "matrix");
        Assert.Equal(24u, btf.SizeOf(matrix.Type));
        Assert.Equal(8u, btf.SizeOf(nested.Members.Single(m => m.Name == "ops").Type));
        Assert.Equal(4u, btf.SizeOf(Id("limit", BtfKind.Var)));
        // CONST -> VOLATILE -> int
        var limit = (BtfVar)btf.FindByName("limit", BtfKind.Var)!;
        Assert.Equal("int", btf.GetType(btf.SkipModifiers(limit.Type)).Name);
        Assert.Equal(Id("unsigned int", BtfKind.Int), btf.SkipTypedefs(Id("u32_alias", BtfKind.Typedef)));
        var e = Assert.Throws<BpfException>(() => btf.SizeOf(Id("global_helper", BtfKind.Func)));
        Assert.Equal(Errno.EINVAL, e.Errno);
    }

    [Fact]
    public void Member_lookup_descends_into_anonymous_members()
    {
        var btf = BtfFixtures.Types();
        uint nested = btf.FindByName("nested", BtfKind.Struct)!.Id;
        var hi = btf.FindMember(nested, "hi")!;
        Assert.Equal(32u + 16u, hi.BitOffset);
        Assert.Equal([1, 0, 1], hi.Path);
        var word = btf.FindMember(nested, "word")!;
        Assert.Equal(32u, word.BitOffset);
        Assert.Equal([1, 1], word.Path);
        Assert.Null(btf.FindMember(nested, "x")); // inside a named member, not reachable directly
        Assert.Equal(992u, btf.FindMember(nested, "tagged_member")!.BitOffset);
    }

    [Fact]
    public void Decl_tags_on_functions_params_members_and_types()
    {
        var btf = BtfFixtures.Types();
        uint prog = btf.FindByName("xdp_prog", BtfKind.Func)!.Id;
        Assert.Equal(["arg:ctx"], btf.GetDeclTagValues(prog, 0));
        Assert.Empty(btf.GetDeclTagValues(prog));
        Assert.Equal(["arg:nonnull"], btf.GetDeclTagValues(btf.FindByName("global_helper", BtfKind.Func)!.Id, 0));
        uint nested = btf.FindByName("nested", BtfKind.Struct)!.Id;
        Assert.Equal(["struct_tag"], btf.GetDeclTagValues(nested));
        Assert.Equal(["member_tag"], btf.GetDeclTagValues(nested, 13));
    }

    [Fact]
    public void Essential_names_strip_flavors()
    {
        Assert.Equal("task_struct", Ebpf.Btf.BtfSpec.EssentialName("task_struct___old"));
        Assert.Equal("a___b", Ebpf.Btf.BtfSpec.EssentialName("a___b___c"));
        Assert.Equal("___x", Ebpf.Btf.BtfSpec.EssentialName("___x"));
        var b = new BtfBuilder();
        uint i = b.AddInt("int", 4, BtfIntEncoding.Signed);
        uint s1 = b.AddStruct("foo", 4, new BtfMember("x", i, 0));
        uint s2 = b.AddStruct("foo___v2", 4, new BtfMember("x", i, 0));
        b.AddStruct("foobar", 4, new BtfMember("x", i, 0));
        Assert.Equal([s1, s2], b.Build().FindByEssentialName("foo", BtfKind.Struct));
    }

    [Fact]
    public void Btf_defined_maps_decode_through_pointer_to_array()
    {
        var btf = BtfFixtures.Types();
        var maps = btf.FindDatasec(".maps")!;
        var vars = btf.GetDatasecVariables(maps).ToList();
        Assert.Equal(["btf_map", "sized_map"], vars.Select(v => v.Var.Name));
        var def = (BtfStruct)btf.ResolveType(vars[0].Var.Type);
        uint Field(BtfStruct s, string name) => s.Members.Single(m => m.Name == name).Type;
        Assert.True(btf.TryGetArrayCountBehindPointer(Field(def, "type"), out uint type));
        Assert.Equal(1u, type); // BPF_MAP_TYPE_HASH
        Assert.True(btf.TryGetArrayCountBehindPointer(Field(def, "max_entries"), out uint max));
        Assert.Equal(128u, max);
        Assert.True(btf.TryGetPointee(Field(def, "value"), out uint value));
        Assert.Equal("nested", btf.GetType(value).Name);
        Assert.False(btf.TryGetArrayCountBehindPointer(Field(def, "value"), out _));
        var sized = (BtfStruct)btf.ResolveType(vars[1].Var.Type);
        Assert.True(btf.TryGetArrayCountBehindPointer(Field(sized, "value_size"), out uint vs));
        Assert.Equal(8u, vs);

        var bss = btf.FindDatasec(".bss")!;
        Assert.Equal(["scratch", "ops_table", "hits"], btf.GetDatasecVariables(bss).Select(v => v.Var.Name));
        Assert.Equal(["limit"], btf.GetDatasecVariables(btf.FindDatasec(".rodata")!).Select(v => v.Var.Name));
        Assert.Equal(["counter"], btf.GetDatasecVariables(btf.FindDatasec(".data")!).Select(v => v.Var.Name));
    }

    [Fact]
    public void Vmlinux_parses_and_answers_queries()
    {
        var btf = BtfFixtures.Vmlinux();
        Assert.True(btf.Types.Count > 10_000);
        var task = (BtfStruct)btf.FindByName("task_struct", BtfKind.Struct)!;
        Assert.True(task.Size > 1000);
        Assert.Equal(task.Size, btf.SizeOf(task.Id));
        Assert.NotNull(btf.FindMember(task.Id, "pid"));
        Assert.Equal(8u, btf.SizeOf(btf.FindByName("u64", BtfKind.Typedef)!.Id));
        var func = (BtfFunc)btf.AllTypes.First(t => t is BtfFunc);
        Assert.IsType<BtfFuncProto>(btf.GetType(func.ProtoType));
        // sk_buff has anonymous unions holding 'len'-adjacent fields like 'dev' and 'tstamp'.
        uint skb = btf.FindByName("sk_buff", BtfKind.Struct)!.Id;
        var dev = btf.FindMember(skb, "dev")!;
        Assert.True(dev.Path.Count > 1);
        Assert.Equal(0u, dev.BitOffset % 8);
    }

    [Fact]
    public void Split_module_btf_continues_ids_and_strings_of_vmlinux()
    {
        var vmlinux = BtfFixtures.Vmlinux();
        var module = Directory.EnumerateFiles("/sys/kernel/btf").Where(p => Path.GetFileName(p) != "vmlinux").Order().Take(3).ToList();
        var scratch = Directory.CreateTempSubdirectory("ebpf-split-btf-");
        try
        {
            if (module.Count == 0)
                // A kernel without modules (or module BTF): pahole writes split BTF on this vmlinux from a fixture's
                // DWARF, the encoding the kernel build uses for module BTF.
                module.Add(SplitBtfByPahole(SharedData.Fixture("btf/types.bpf.o"), scratch.FullName));
            foreach (string path in module)
            {
                var split = Ebpf.Btf.BtfSpec.LoadFile(path, vmlinux);
                Assert.Equal(vmlinux.MaxTypeId + 1, split.FirstTypeId);
                Assert.Equal(vmlinux.TotalStringLength, split.StringBase);
                Assert.NotEmpty(split.Types);
                // Module types refer to vmlinux types by id; every reference must resolve.
                foreach (var t in split.Types)
                    foreach (uint r in t.References())
                        Assert.True(split.TryGetType(r, out _), $"{path}: {t} refers to missing {r}");
                Assert.Throws<BpfException>(() => Ebpf.Btf.BtfSpec.LoadFile(path));
            }
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }

    private static string SplitBtfByPahole(string objectWithDwarf, string directory)
    {
        string pahole = ExternalTool.Require(Requirement.Pahole, "pahole", "no kernel module BTF under /sys/kernel/btf, and split BTF must come from somewhere");
        string output = Path.Combine(directory, "split.btf");
        string copy = Path.Combine(directory, Path.GetFileName(objectWithDwarf)); // pahole may rewrite its input
        File.Copy(objectWithDwarf, copy);
        var r = ExternalTool.Run(pahole, [$"--btf_encode_detached={output}", $"--btf_base={BtfFixtures.VmlinuxPath}", copy]);
        Assert.True(r.ExitCode == 0 && File.Exists(output), $"pahole failed ({r.ExitCode}): {r.Stderr}");
        return output;
    }

    [Fact]
    public void Every_corpus_btf_section_parses()
    {
        int parsed = 0;
        foreach (var (path, elf) in BtfFixtures.CorpusWithBtf(includeInvalid: false))
        {
            var btf = BtfElf.ReadBtf(elf)!;
            Assert.True(btf.Types.Count > 0, path);
            var ext = BtfElf.ReadBtfExt(elf, btf);
            if (ext is not null)
                foreach (var f in ext.FuncInfos.SelectMany(s => s.Records))
                    Assert.IsType<BtfFunc>(btf.GetType(f.TypeId));
            parsed++;
        }
        Assert.True(parsed > 10, $"only {parsed} corpus objects with .BTF");
    }

    [Fact]
    public void Header_errors_are_EINVAL_or_ENOTSUPP()
    {
        var raw = BtfFixtures.Types().ToBytes();
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => Ebpf.Btf.BtfSpec.Parse(raw.AsSpan(0, 5))).Errno);
        var badMagic = (byte[])raw.Clone();
        badMagic[0] = 0;
        Assert.Contains("Invalid magic", Assert.Throws<BpfException>(() => Ebpf.Btf.BtfSpec.Parse(badMagic)).Message);
        var badVersion = (byte[])raw.Clone();
        badVersion[2] = 2;
        Assert.Equal(Errno.ENOTSUPP, Assert.Throws<BpfException>(() => Ebpf.Btf.BtfSpec.Parse(badVersion)).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => Ebpf.Btf.BtfSpec.Parse(raw.AsSpan(0, raw.Length - 1))).Errno);
    }
}
