using BtfData = Ebpf.Btf.BtfSpec;
using Ebpf.Btf;
using Ebpf.CoRe;
using Ebpf.Isa;
using static Ebpf.Tests.CoRe.CoreTestKit;

namespace Ebpf.Tests.CoRe;

/// <summary>
/// The relocation engine on hand-built BTF, one rule per test (kernel-semantics.md §4): field offsets through
/// nested and anonymous members, flavors, arrays, bitfield containers, size adjustment, missing targets, ambiguity,
/// enum and type relocations, and instruction patching with its validation.
/// </summary>
public class CoreRelocationEngineTests
{
    private readonly CoreTestKit _kit = new();

    /// <summary>local: struct s___local { int a; long b; }  target: struct s { char pad[16]; long b; int a; }</summary>
    private static (BtfData Local, BtfData Target) Reordered()
    {
        var local = Build(b =>
        {
            uint i = b.AddInt("int", 4, BtfIntEncoding.Signed);
            uint l = b.AddInt("long", 8, BtfIntEncoding.Signed);
            b.AddStructLayout("s___local", ("a", i), ("b", l));
        });
        var target = Build(b =>
        {
            uint c = b.AddInt("char", 1, BtfIntEncoding.Signed);
            uint i = b.AddInt("int", 4, BtfIntEncoding.Signed);
            uint l = b.AddInt("long", 8, BtfIntEncoding.Signed);
            b.AddStructLayout("s", ("pad", b.AddArray(c, 16)), ("b", l), ("a", i));
        });
        return (local, target);
    }

    [Fact]
    public void A_field_offset_follows_the_member_by_name_and_the_flavor_is_stripped()
    {
        var (local, target) = Reordered();
        var r = _kit.Resolve(local, target, "s___local", "0:1", BtfCoreReloKind.FieldByteOffset);
        Assert.Equal(8ul, r.Original);
        Assert.Equal(16ul, r.New);
        Assert.False(r.Poison);
        Assert.Equal("<byte_off> [3] struct s___local.b (0:1 @ offset 8)", r.Local.ToString());
        Assert.Equal("<byte_off> [6] struct s.b (0:1 @ offset 16)", r.Target!.ToString());
        Assert.Contains(_kit.Debug, l => l.Contains("CO-RE relocating [3] struct s___local: found target candidate [6] struct s in [target]"));
    }

    [Fact]
    public void A_load_gets_the_target_offset_and_a_mismatched_instruction_is_refused()
    {
        var (local, target) = Reordered();
        var patched = _kit.Patch(local, target, "s___local", "0:0", BtfCoreReloKind.FieldByteOffset,
            new Instruction(0x61, 0, 1, 0, 0)); // r0 = *(u32 *)(r1 + 0)
        Assert.Equal(24, patched[0].Offset);
        Assert.Equal(0x61, patched[0].Opcode);

        var e = Assert.Throws<BpfException>(() => _kit.Patch(local, target, "s___local", "0:0", BtfCoreReloKind.FieldByteOffset,
            new Instruction(0x61, 0, 1, 4, 0)));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Equal("prog 'prog': relo #0: unexpected insn #0 (LDX/ST/STX) value: got 4, exp 0 -> 24", e.Message);
    }

    [Fact]
    public void Anonymous_members_are_looked_through_and_struct_and_union_stand_for_each_other()
    {
        var local = Build(b =>
        {
            uint i = b.AddInt("int", 4, BtfIntEncoding.Signed);
            uint inner = b.AddStructLayout("inner", ("x", i), ("y", i));
            b.AddStructLayout("outer", ("a", i), ("in", inner));
        });
        var target = Build(b =>
        {
            uint i = b.AddInt("int", 4, BtfIntEncoding.Signed);
            uint inner = b.AddUnionLayout("inner", ("y", i), ("x", i));          // union now, y first
            uint anon = b.AddStructLayout("", ("z", i), ("in", inner));           // embedded anonymous struct
            b.AddStructLayout("outer", ("a", i), ("", anon));
        });
        var r = _kit.Resolve(local, target, "outer", "0:1:1", BtfCoreReloKind.FieldByteOffset); // outer.in.y
        Assert.Equal(8ul, r.Original);
        Assert.Equal(8ul, r.New); // a(4) + anon{ z(4), in{y@0} }
        Assert.Equal("0:1:1:0", string.Join(':', r.Target!.Raw));
    }

    [Fact]
    public void A_missing_field_poisons_the_access_and_field_exists_says_0()
    {
        var (local, _) = Reordered();
        var target = Build(b => b.AddStructLayout("s", ("a", b.AddInt("int", 4, BtfIntEncoding.Signed))));
        Assert.True(_kit.Resolve(local, target, "s___local", "0:1", BtfCoreReloKind.FieldByteOffset).Poison);
        var exists = _kit.Resolve(local, target, "s___local", "0:1", BtfCoreReloKind.FieldExists);
        Assert.False(exists.Poison);
        Assert.Equal(1ul, exists.Original);
        Assert.Equal(0ul, exists.New);

        var patched = _kit.Patch(local, target, "s___local", "0:1", BtfCoreReloKind.FieldByteOffset, new Instruction(0x79, 0, 1, 8, 0));
        Assert.Equal(new Instruction(Opcodes.Call, 0, 0, 0, 0xbad2310), patched[0]);
        Assert.Contains(_kit.Debug, l => l.EndsWith("substituting insn #0 w/ invalid insn", StringComparison.Ordinal));
    }

    [Fact]
    public void A_field_whose_type_changed_kind_is_missing()
    {
        var local = Build(b => b.AddStructLayout("s", ("p", b.AddPtr(b.AddInt("int", 4, BtfIntEncoding.Signed)))));
        var target = Build(b => b.AddStructLayout("s", ("p", b.AddInt("long", 8, BtfIntEncoding.Signed))));
        Assert.Equal(0ul, _kit.Resolve(local, target, "s", "0:0", BtfCoreReloKind.FieldExists).New);
    }

    [Fact]
    public void Unsigned_ints_and_pointers_may_change_size_and_the_load_is_resized_signed_ones_are_poisoned()
    {
        var local = Build(b => b.AddStructLayout("s", ("u", b.AddInt("unsigned int", 4)), ("i", b.AddInt("int", 4, BtfIntEncoding.Signed))));
        var target = Build(b => b.AddStructLayout("s", ("u", b.AddInt("unsigned long", 8)), ("i", b.AddInt("long", 8, BtfIntEncoding.Signed))));
        var u = _kit.Patch(local, target, "s", "0:0", BtfCoreReloKind.FieldByteOffset, new Instruction(0x61, 0, 1, 0, 0));
        Assert.Equal(0x79, u[0].Opcode); // ldxw -> ldxdw
        var i = _kit.Patch(local, target, "s", "0:1", BtfCoreReloKind.FieldByteOffset, new Instruction(0x61, 0, 1, 4, 0));
        Assert.Equal(new Instruction(Opcodes.Call, 0, 0, 0, 0xbad2310), i[0]);
        Assert.Contains(_kit.Debug, l => l.Contains("accesses field incorrectly"));
    }

    [Fact]
    public void Array_elements_are_indexed_with_the_target_element_size_and_bounds()
    {
        var local = Build(b =>
        {
            uint i = b.AddInt("int", 4, BtfIntEncoding.Signed);
            b.AddStructLayout("s", ("x", i), ("arr", b.AddArray(i, 4)));
        });
        var target = Build(b =>
        {
            uint l = b.AddInt("long", 8, BtfIntEncoding.Signed);
            b.AddStructLayout("s", ("arr", b.AddArray(l, 3)), ("x", l));
        });
        var r = _kit.Resolve(local, target, "s", "0:1:2", BtfCoreReloKind.FieldByteOffset);
        Assert.Equal(12ul, r.Original);
        Assert.Equal(16ul, r.New);
        Assert.Equal(8ul, _kit.Resolve(local, target, "s", "0:1:2", BtfCoreReloKind.FieldByteSize).New);
        // Index 3 is past the target's 3 elements: no match, so the read is poisoned.
        Assert.True(_kit.Resolve(local, target, "s", "0:1:3", BtfCoreReloKind.FieldByteOffset).Poison);
        var e = Assert.Throws<BpfException>(() => _kit.Resolve(local, target, "s", "0:1:2", BtfCoreReloKind.FieldSigned));
        Assert.Contains("can't be applied to array access", e.Message);
    }

    [Fact]
    public void A_flexible_array_member_takes_any_index()
    {
        var local = Build(b =>
        {
            uint i = b.AddInt("int", 4, BtfIntEncoding.Signed);
            b.AddStructLayout("s", ("n", i), ("data", b.AddArray(i, 0)));
        });
        var r = _kit.Resolve(local, local, "s", "0:1:7", BtfCoreReloKind.FieldByteOffset);
        Assert.Equal(4ul + 7 * 4, r.New);
    }

    [Fact]
    public void Bitfields_get_the_smallest_aligned_container_and_the_shifts_that_extract_them()
    {
        // struct bf { unsigned int a:3; int b:20; unsigned long long c:40; }  (b at bit 3; c at bit 64, in the second u64)
        var local = Build(b =>
        {
            uint u = b.AddInt("unsigned int", 4);
            uint s = b.AddInt("int", 4, BtfIntEncoding.Signed);
            uint ull = b.AddInt("unsigned long long", 8);
            b.AddStruct("bf", 16, new BtfMember("a", u, 0, 3), new BtfMember("b", s, 3, 20), new BtfMember("c", ull, 64, 40));
        });
        var k = _kit;
        Assert.Equal(0ul, k.Resolve(local, local, "bf", "0:1", BtfCoreReloKind.FieldByteOffset).New);
        Assert.Equal(4ul, k.Resolve(local, local, "bf", "0:1", BtfCoreReloKind.FieldByteSize).New);
        Assert.Equal(64ul - (3 + 20), k.Resolve(local, local, "bf", "0:1", BtfCoreReloKind.FieldLShiftU64).New);
        Assert.Equal(64ul - 20, k.Resolve(local, local, "bf", "0:1", BtfCoreReloKind.FieldRShiftU64).New);
        Assert.Equal(1ul, k.Resolve(local, local, "bf", "0:1", BtfCoreReloKind.FieldSigned).New);
        Assert.Equal(0ul, k.Resolve(local, local, "bf", "0:0", BtfCoreReloKind.FieldSigned).New);
        Assert.Equal(8ul, k.Resolve(local, local, "bf", "0:2", BtfCoreReloKind.FieldByteOffset).New);
        Assert.Equal(8ul, k.Resolve(local, local, "bf", "0:2", BtfCoreReloKind.FieldByteSize).New);
        Assert.Equal(64ul - 40, k.Resolve(local, local, "bf", "0:2", BtfCoreReloKind.FieldLShiftU64).New);

        // 40 bits starting at bit 30 of a u64 cannot be read with one 8-byte load.
        var tooBig = Build(b => b.AddStruct("bf", 16, new BtfMember("c", b.AddInt("unsigned long long", 8), 30, 40)));
        var e = Assert.Throws<BpfException>(() => k.Resolve(tooBig, tooBig, "bf", "0:0", BtfCoreReloKind.FieldByteOffset));
        Assert.Equal(Errno.E2BIG, e.Errno);
        Assert.Equal("prog 'prog': relo 0 at insn #0 can't be satisfied for bitfield", e.Message);
    }

    [Fact]
    public void Two_candidates_that_disagree_are_an_ambiguity_error_and_agreeing_duplicates_are_fine()
    {
        var local = Build(b => b.AddStructLayout("s", ("a", b.AddInt("int", 4, BtfIntEncoding.Signed))));
        var disagree = Build(b =>
        {
            uint i = b.AddInt("int", 4, BtfIntEncoding.Signed);
            b.AddStructLayout("s___v1", ("a", i));
            b.AddStructLayout("s___v2", ("x", i), ("a", i));
        });
        var e = Assert.Throws<BpfException>(() => _kit.Resolve(local, disagree, "s", "0:0", BtfCoreReloKind.FieldByteOffset));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("field offset ambiguity: 32 != 0", e.Message);

        var agree = Build(b =>
        {
            uint i = b.AddInt("int", 4, BtfIntEncoding.Signed);
            b.AddStructLayout("s___v1", ("a", i));
            b.AddStructLayout("s___v2", ("a", i), ("b", i));
        });
        Assert.Equal(0ul, new CoreTestKit().Resolve(local, agree, "s", "0:0", BtfCoreReloKind.FieldByteOffset).New);
        // The two flavors have different sizes: a TYPE_SIZE relocation cannot decide between them.
        var size = Assert.Throws<BpfException>(() => new CoreTestKit().Resolve(local, agree, "s", "0", BtfCoreReloKind.TypeSize));
        Assert.Contains("relocation decision ambiguity: success 8 != success 4", size.Message);
    }

    [Fact]
    public void Enum_values_resolve_by_enumerator_name_for_32_and_64_bit_enums()
    {
        var local = Build(b =>
        {
            b.AddEnum("e", 4, [new BtfEnumValue("A", 1), new BtfEnumValue("B", 2)]);
            b.AddEnum64("e64", [new BtfEnumValue("X", 0x1ffffffff), new BtfEnumValue("Y", -2)], isSigned: true);
        });
        var target = Build(b =>
        {
            b.AddEnum("e", 4, [new BtfEnumValue("B", 202), new BtfEnumValue("A", 101)]);
            b.AddEnum64("e64", [new BtfEnumValue("Y", -202), new BtfEnumValue("X", 0x202ffffffff)], isSigned: true);
        });
        Assert.Equal(101ul, _kit.Resolve(local, target, "e", "0", BtfCoreReloKind.EnumValueValue).New);
        Assert.Equal(202ul, _kit.Resolve(local, target, "e", "1", BtfCoreReloKind.EnumValueValue).New);
        Assert.Equal(0x202ffffffffUL, _kit.Resolve(local, target, "e64", "0", BtfCoreReloKind.EnumValueValue).New);
        Assert.Equal(unchecked((ulong)-202L), _kit.Resolve(local, target, "e64", "1", BtfCoreReloKind.EnumValueValue).New);
        var missing = Build(b => b.AddEnum("e", 4, [new BtfEnumValue("A", 1)]));
        Assert.Equal(0ul, _kit.Resolve(local, missing, "e", "1", BtfCoreReloKind.EnumValueExists).New);
        Assert.True(_kit.Resolve(local, missing, "e", "1", BtfCoreReloKind.EnumValueValue).Poison);

        var patched = _kit.Patch(local, target, "e64", "0", BtfCoreReloKind.EnumValueValue,
            new Instruction(0x18, 1, 0, 0, unchecked((int)0xffffffff)), new Instruction(0, 0, 0, 0, 1));
        Assert.Equal(0x202ffffffffUL, (ulong)Instruction.Imm64(patched[0], patched[1]));
    }

    [Fact]
    public void Type_relocations_exist_size_match_and_name_the_target_id()
    {
        var local = Build(b =>
        {
            uint i = b.AddInt("int", 4, BtfIntEncoding.Signed);
            b.AddStructLayout("t", ("a", i), ("b", i));
            b.AddTypedef("t_int", i);
        });
        var target = Build(b =>
        {
            uint l = b.AddInt("long", 8, BtfIntEncoding.Signed);
            b.AddStructLayout("t", ("b", l), ("a", l), ("c", l));
            b.AddTypedef("t_int", l);
        });
        uint targetT = Id(target, "t");
        Assert.Equal(1ul, _kit.Resolve(local, target, "t", "0", BtfCoreReloKind.TypeExists).New);
        Assert.Equal(24ul, _kit.Resolve(local, target, "t", "0", BtfCoreReloKind.TypeSize).New);
        Assert.Equal(targetT, (uint)_kit.Resolve(local, target, "t", "0", BtfCoreReloKind.TypeIdTarget).New);
        Assert.Equal(Id(local, "t"), (uint)_kit.Resolve(local, target, "t", "0", BtfCoreReloKind.TypeIdLocal).New);
        // match: struct members by name with matching types; t's members are int vs long: no match. The typedef's int
        // changed size: exists (compatible) but does not match.
        Assert.Equal(0ul, _kit.Resolve(local, target, "t", "0", BtfCoreReloKind.TypeMatches).New);
        Assert.Equal(1ul, _kit.Resolve(local, target, "t_int", "0", BtfCoreReloKind.TypeExists).New);
        Assert.Equal(0ul, _kit.Resolve(local, target, "t_int", "0", BtfCoreReloKind.TypeMatches).New);
        Assert.Equal(1ul, _kit.Resolve(local, local, "t", "0", BtfCoreReloKind.TypeMatches).New);
        var none = Build(b => b.AddInt("int", 4));
        Assert.Equal(0ul, _kit.Resolve(local, none, "t", "0", BtfCoreReloKind.TypeExists).New);
        Assert.Equal(0ul, _kit.Resolve(local, none, "t", "0", BtfCoreReloKind.TypeIdTarget).New);
    }

    [Theory]
    [InlineData("", BtfCoreReloKind.FieldByteOffset, Errno.EINVAL, "failed")]
    [InlineData(":1", BtfCoreReloKind.FieldByteOffset, Errno.EINVAL, "failed")]
    [InlineData("0:9", BtfCoreReloKind.FieldByteOffset, Errno.EINVAL, "member index 9 out of range")]
    [InlineData("1", BtfCoreReloKind.TypeSize, Errno.EINVAL, "needs access string \"0\"")]
    [InlineData("0:x", BtfCoreReloKind.FieldByteOffset, Errno.EINVAL, "malformed access string")]
    public void Malformed_access_strings_are_refused_naming_the_relocation(string access, BtfCoreReloKind kind, Errno errno, string expected)
    {
        var (local, target) = Reordered();
        var e = Assert.Throws<BpfException>(() => _kit.Resolve(local, target, "s___local", access, kind));
        Assert.Equal(errno, e.Errno);
        Assert.Contains("prog 'prog': relo #0: parsing [3] struct s___local + " + access + " failed", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void An_anonymous_root_has_no_candidates()
    {
        var local = Build(b => b.AddStructLayout("", ("a", b.AddInt("int", 4))));
        var e = Assert.Throws<BpfException>(() => _kit.Relocator(local, local).Resolve("prog", 0, new CoreRelocation(0, 2, "0:0", BtfCoreReloKind.FieldByteOffset)));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("target candidate search failed for [2] struct", e.Message);
    }

    [Theory]
    [InlineData("task_struct___old", "task_struct")]
    [InlineData("flavors__err_wrong_name", "flavors__err_wrong_name")]
    [InlineData("a___b___c", "a___b")]
    [InlineData("a____b", "a____b")]
    [InlineData("___x", "___x")]
    [InlineData("x___", "x___")]
    public void Essential_names_strip_the_last_flavor_suffix(string name, string essential) =>
        Assert.Equal(essential, CoreNames.Essential(name));

    [Fact]
    public void The_candidate_list_shrinks_to_what_matched()
    {
        var local = Build(b => b.AddStructLayout("s", ("a", b.AddInt("int", 4)), ("b", b.AddInt("long", 8))));
        var target = Build(b =>
        {
            uint i = b.AddInt("int", 4);
            b.AddStructLayout("s___v1", ("a", i));
            b.AddStructLayout("s___v2", ("x", i), ("b", b.AddInt("long", 8)));
        });
        var relocator = _kit.Relocator(local, target);
        uint s = Id(local, "s");
        // a exists only in v1; once it matched, b (only in v2) is searched among [v1] alone and comes out missing.
        Assert.Equal(0ul, relocator.Resolve("prog", 0, new CoreRelocation(0, s, "0:0", BtfCoreReloKind.FieldByteOffset)).New);
        Assert.True(relocator.Resolve("prog", 1, new CoreRelocation(1, s, "0:1", BtfCoreReloKind.FieldByteOffset)).Poison);
    }
}
