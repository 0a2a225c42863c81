using static Ebpf.Tests.CoRe.Scenarios.CoreFailure;

namespace Ebpf.Tests.CoRe.Scenarios;

/// <summary>
/// The scenario table: the 77 entries of upstream's prog_tests/core_reloc.c (6.x mainline), by upstream's subtest
/// names, re-expressed with our own programs and layouts. The kernel and module entries run against this machine's
/// vmlinux and bpf_testmod; they run in <see cref="CoreKernelScenarioTests"/> (this machine's vmlinux, and a module split BTF built by the test).
/// </summary>
public static class CoreScenarios
{
    private static CoreScenario Ok(string obj, string target, string? prog = null, string? name = null) =>
        new(name ?? target, obj, prog ?? obj, target);

    private static CoreScenario Err(string obj, string target, CoreFailure failure, string blobs, string? prog = null, string? name = null) =>
        new(name ?? target, obj, prog ?? obj, target, failure, blobs);

    public static readonly IReadOnlyList<CoreScenario> All =
    [
        Ok("flavors", "flavors"),
        Err("flavors", "flavors__err_wrong_name", Poisoned, "flavors"),

        Ok("nesting", "nesting"),
        Ok("nesting", "nesting___anon_embed"),
        Ok("nesting", "nesting___struct_union_mixup"),
        Ok("nesting", "nesting___extra_nesting"),
        Ok("nesting", "nesting___dup_compat_types"),
        Err("nesting", "nesting___err_missing_field", Poisoned, "nesting"),
        Err("nesting", "nesting___err_array_field", Poisoned, "nesting"),
        Err("nesting", "nesting___err_missing_container", Poisoned, "nesting"),
        Err("nesting", "nesting___err_nonstruct_container", Poisoned, "nesting"),
        Err("nesting", "nesting___err_array_container", Poisoned, "nesting"),
        Err("nesting", "nesting___err_dup_incompat_types", OffsetAmbiguity, "nesting"),
        Err("nesting", "nesting___err_partial_match_dups", Poisoned, "nesting"),
        Err("nesting", "nesting___err_too_deep", TooDeep, "nesting"),

        Ok("arrays", "arrays"),
        Ok("arrays", "arrays___diff_arr_dim"),
        Ok("arrays", "arrays___diff_arr_val_sz"),
        Ok("arrays", "arrays___equiv_zero_sz_arr"),
        Ok("arrays", "arrays___fixed_arr"),
        Err("arrays", "arrays___err_too_small", Poisoned, "arrays"),
        Err("arrays", "arrays___err_too_shallow", Poisoned, "arrays"),
        Err("arrays", "arrays___err_non_array", Poisoned, "arrays"),
        Err("arrays", "arrays___err_wrong_val_type", Poisoned, "arrays"),
        Err("arrays", "arrays___err_bad_zero_sz_arr", Poisoned, "arrays"),

        Ok("primitives", "primitives"),
        Ok("primitives", "primitives___diff_enum_def"),
        Ok("primitives", "primitives___diff_func_proto"),
        Ok("primitives", "primitives___diff_ptr_type"),
        Err("primitives", "primitives___err_non_enum", Poisoned, "primitives"),
        Err("primitives", "primitives___err_non_int", Poisoned, "primitives"),
        Err("primitives", "primitives___err_non_ptr", Poisoned, "primitives"),

        Ok("mods", "mods"),
        Ok("mods", "mods___mod_swap"),
        Ok("mods", "mods___typedefs"),

        Ok("ptr_as_arr", "ptr_as_arr"),
        Ok("ptr_as_arr", "ptr_as_arr___diff_sz"),

        Ok("ints", "ints"),
        Ok("ints", "ints___bool"),
        Ok("ints", "ints___reverse_sign"),

        Ok("misc", "misc"),

        Ok("existence", "existence"),
        Ok("existence", "existence___minimal"),
        Ok("existence", "existence___wrong_field_defs"),

        Ok("bitfields_probed", "bitfields", name: "probed:bitfields"),
        Ok("bitfields_probed", "bitfields___bit_sz_change", name: "probed:bitfields___bit_sz_change"),
        Ok("bitfields_probed", "bitfields___bitfield_vs_int", name: "probed:bitfields___bitfield_vs_int"),
        Ok("bitfields_probed", "bitfields___just_big_enough", name: "probed:bitfields___just_big_enough"),
        Err("bitfields_probed", "bitfields___err_too_big_bitfield", BitfieldTooBig, "bitfields", name: "probed:bitfields___err_too_big_bitfield"),
        Ok("bitfields_direct", "bitfields", name: "direct:bitfields"),
        Ok("bitfields_direct", "bitfields___bit_sz_change", name: "direct:bitfields___bit_sz_change"),
        Ok("bitfields_direct", "bitfields___bitfield_vs_int", name: "direct:bitfields___bitfield_vs_int"),
        Ok("bitfields_direct", "bitfields___just_big_enough", name: "direct:bitfields___just_big_enough"),
        Err("bitfields_direct", "bitfields___err_too_big_bitfield", BitfieldTooBig, "bitfields", name: "direct:bitfields___err_too_big_bitfield"),

        Ok("size", "size"),
        Ok("size", "size___diff_sz"),
        Ok("size", "size___diff_offs"),
        Err("size", "size___err_ambiguous", OffsetAmbiguity, "size"),

        Ok("type_based", "type_based"),
        Ok("type_based", "type_based___all_missing"),
        Ok("type_based", "type_based___diff"),
        Ok("type_based", "type_based___diff_sz"),
        Ok("type_based", "type_based___incompat"),
        Ok("type_based", "type_based___fn_wrong_args"),

        Ok("type_id", "type_id"),
        Ok("type_id", "type_id___missing_targets"),

        Ok("enumval", "enumval"),
        Ok("enumval", "enumval___diff"),
        Ok("enumval", "enumval___val3_missing"),
        Err("enumval", "enumval___err_missing", Poisoned, "enumval"),

        Ok("enum64val", "enum64val"),
        Ok("enum64val", "enum64val___diff"),
        Ok("enum64val", "enum64val___val3_missing"),
        Err("enum64val", "enum64val___err_missing", Poisoned, "enum64val"),
    ];

    /// <summary>Upstream's three cases without a target file: "kernel" and the two bpf_testmod module cases (CoreKernelScenarioTests).</summary>
    public static readonly IReadOnlyList<string> KernelAndModule = ["kernel", "module_probed", "module_direct"];

    public static TheoryData<string> Names() => new(All.Select(s => s.Name));
    public static TheoryData<string> PassingNames() => new(All.Where(s => !s.Fails).Select(s => s.Name));
    public static CoreScenario Get(string name) => All.Single(s => s.Name == name);
}
