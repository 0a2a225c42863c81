using Ebpf.Abi.Profiles;
using Ebpf.Btf;
using Ebpf.Collections;
using Ebpf.Elf;
using Ebpf.Loading;
using Ebpf.Runtime;

namespace Ebpf.Tests.CoRe;

/// <summary>
/// libbpf's bpf_object__sanitize_btf, one missing kernel feature at a time, on tests/fixtures/core/btf_kinds.bpf.c
/// (DATASEC/VAR, DECL_TAG, TYPE_TAG, FLOAT, ENUM64 and a signed ENUM): exactly the types libbpf rewrites change, into
/// what libbpf writes, and every type id stays (ENUM64's placeholder INT is appended). Then the object loads into a
/// kernel (and a managed runtime) told it lacks all of them, and a managed runtime without a kind refuses the
/// unsanitised BTF as such a kernel does.
/// </summary>
public class BtfSanitizerTests(ITestOutputHelper output)
{
    private static string Fixture => SharedData.Fixture("core/btf_kinds.bpf.o");

    private static KernelFeature[] BtfKinds =>
        [KernelFeature.BtfDatasec, KernelFeature.BtfDeclTag, KernelFeature.BtfTypeTag, KernelFeature.BtfFloat, KernelFeature.BtfEnum64];

    /// <summary>Type id → its bpftool raw listing (header and member lines).</summary>
    private static Dictionary<uint, string> Listing(BtfSpec btf)
    {
        var result = new Dictionary<uint, string>();
        for (uint id = btf.FirstTypeId; id <= btf.MaxTypeId; id++)
        {
            var w = new StringWriter();
            BtfRawDumper.WriteType(btf, btf.GetType(id), w);
            result[id] = w.ToString().ReplaceLineEndings("\n").Trim();
        }
        return result;
    }

    private static Dictionary<uint, string> Sanitized(KernelProfile profile)
    {
        var elf = ElfFile.Open(Fixture);
        var spec = ObjectSpec.Parse(elf.Image, Fixture);
        var (btf, _, problem) = BtfSanitizer.Sanitize(spec, elf, profile);
        Assert.Null(problem);
        return Listing(btf!);
    }

    private Dictionary<uint, string> Changes(KernelFeature missing)
    {
        var full = Sanitized(KernelProfile.Reference);
        var old = Sanitized(KernelProfile.Reference.Without(missing));
        var changed = old.Where(kv => !full.TryGetValue(kv.Key, out var f) || f != kv.Value).ToDictionary(kv => kv.Key, kv => kv.Value);
        foreach (var kv in changed)
            output.WriteLine($"{missing}: {kv.Value}");
        Assert.True(old.Count >= full.Count, "no type id may disappear");
        return changed;
    }

    private static uint Id(string name, BtfKind kind) => ObjectSpec.Load(Fixture).Btf!.FindByName(name, kind)!.Id;

    [Fact]
    public void Without_datasec_vars_become_one_byte_ints_and_datasecs_structs_of_their_variables()
    {
        var changed = Changes(KernelFeature.BtfDatasec);
        uint counter = Id("counter", BtfKind.Var), shape = Id("shape_value", BtfKind.Var), limit = Id("limit", BtfKind.Var);
        foreach (var (id, name) in new[] { (counter, "counter"), (shape, "shape_value"), (limit, "limit"), (Id("_license", BtfKind.Var), "_license") })
            Assert.Equal($"[{id}] INT '{name}' size=1 bits_offset=0 nr_bits=8 encoding=(none)", changed[id]);
        // .bss: counter at 0, shape_value at 8 (ELF symbols), size from the section; '.' becomes '_'.
        Assert.Equal($"""
            [{Id(".bss", BtfKind.Datasec)}] STRUCT '_bss' size=40 vlen=2
            	'counter' type_id={counter} bits_offset=0
            	'shape_value' type_id={shape} bits_offset=64
            """.Replace("\r", ""), changed[Id(".bss", BtfKind.Datasec)]);
        Assert.Equal($"""
            [{Id(".rodata", BtfKind.Datasec)}] STRUCT '_rodata' size=4 vlen=1
            	'limit' type_id={limit} bits_offset=0
            """.Replace("\r", ""), changed[Id(".rodata", BtfKind.Datasec)]);
        Assert.Equal(7, changed.Count); // 4 VARs, 3 DATASECs, nothing else
    }

    [Fact]
    public void Without_decl_tag_the_tag_becomes_a_one_byte_int_keeping_its_name()
    {
        var changed = Changes(KernelFeature.BtfDeclTag);
        uint tag = Id("counted", BtfKind.DeclTag);
        Assert.Equal(new Dictionary<uint, string> { [tag] = $"[{tag}] INT 'counted' size=1 bits_offset=0 nr_bits=8 encoding=(none)" }, changed);
    }

    [Fact]
    public void Without_type_tag_the_tag_becomes_an_anonymous_const()
    {
        var changed = Changes(KernelFeature.BtfTypeTag);
        uint tag = Id("user", BtfKind.TypeTag), intId = Id("int", BtfKind.Int);
        Assert.Equal(new Dictionary<uint, string> { [tag] = $"[{tag}] CONST '(anon)' type_id={intId}" }, changed);
    }

    [Fact]
    public void Without_float_a_float_becomes_an_anonymous_empty_struct_of_its_size()
    {
        var changed = Changes(KernelFeature.BtfFloat);
        uint fl = Id("float", BtfKind.Float);
        Assert.Equal(new Dictionary<uint, string> { [fl] = $"[{fl}] STRUCT '(anon)' size=4 vlen=0" }, changed);
    }

    [Fact]
    public void Without_enum64_an_enum64_becomes_a_union_of_placeholder_ints_and_enums_lose_their_sign()
    {
        var original = ObjectSpec.Load(Fixture).Btf!;
        var changed = Changes(KernelFeature.BtfEnum64);
        uint wide = Id("wide", BtfKind.Enum64), tri = Id("tri", BtfKind.Enum), placeholder = original.MaxTypeId + 1;
        Assert.Equal(new Dictionary<uint, string>
        {
            [wide] = $"""
                [{wide}] UNION 'wide' size=8 vlen=2
                	'WIDE_SMALL' type_id={placeholder} bits_offset=0
                	'WIDE_BIG' type_id={placeholder} bits_offset=0
                """.Replace("\r", ""),
            [tri] = $"""
                [{tri}] ENUM 'tri' encoding=UNSIGNED size=4 vlen=3
                	'TRI_NEG' val=4294967295
                	'TRI_ZERO' val=0
                	'TRI_POS' val=1
                """.Replace("\r", ""),
            [placeholder] = $"[{placeholder}] INT 'enum64_placeholder' size=1 bits_offset=0 nr_bits=8 encoding=(none)",
        }, changed);
    }

    [Theory, ClassData(typeof(Backends))]
    public void A_kernel_without_any_of_the_kinds_gets_a_btf_it_accepts_and_the_program_runs(string backendName)
    {
        using var backend = TestBackend.Create(backendName);
        var options = new ObjectLoadOptions { PinRoot = backend.PinRoot, FeatureProfile = backend.Backend.Profile.Without(BtfKinds) };
        using var collection = BpfCollection.LoadFile(backend.Backend, Fixture, options);
        Assert.NotNull(collection.Btf); // loaded, not dropped
        output.WriteLine(string.Join("\n", collection.Warnings));
        Assert.DoesNotContain(collection.Warnings, w => w.Contains("BTF refused", StringComparison.Ordinal));
        // A kernel that has DATASEC insists that keyless (global data) map BTF be one (array_map_check_btf): there, as
        // with libbpf, the map creation with the sanitised STRUCT fails and is retried without BTF. Nothing else warns.
        Assert.All(collection.Warnings, w => Assert.Matches(@"^map 'btf_kind\.(rodata|bss)': created without BTF", w));
        var loaded = BtfSpec.Parse(collection.Btf!.Backend.GetBtfData(collection.Btf));
        Assert.DoesNotContain(loaded.Types, t => t.Kind is BtfKind.Var or BtfKind.Datasec or BtfKind.DeclTag or BtfKind.TypeTag
            or BtfKind.Float or BtfKind.Enum64);
        var result = collection.Programs["kinds"].TestRun(new TestRunOptions { DataIn = new byte[64] });
        Assert.Equal(7u, result.ReturnValue); // limit, wide == 0, tri == 0
    }

    [Fact]
    public void A_managed_kernel_without_a_kind_refuses_the_unsanitised_btf_as_an_old_kernel_does()
    {
        var raw = ObjectSpec.Load(Fixture).Btf!.ToBytes();
        var runtime = new BpfRuntime { Profile = KernelProfile.Reference.Without(KernelFeature.BtfEnum64) };
        var e = Assert.Throws<BpfException>(() => runtime.LoadBtf(raw));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains($"[{Id("wide", BtfKind.Enum64)}] Invalid kind:19", e.Message + e.Log);
        using var ok = new BpfRuntime().LoadBtf(raw);
    }
}
