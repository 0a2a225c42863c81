using Ebpf.Linux;
using Ebpf.Loading;
using Ebpf.Runtime;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// <c>__uptr</c> fields of task storage map values (fixtures/verifier/misc17/uptr*.bpf.c): a load of the field is
/// PTR_TO_MEM | PTR_MAYBE_NULL sized by the pointee, a store into it is refused, the field's access rules, and the
/// map creation rules. Our verdict and message, and the live kernel's where bpf(2) is usable (its log must hold the
/// same line); the managed runtime refuses every map with a uptr field at creation with a typed error.
/// </summary>
public class UptrRuleTests
{
    /// <summary>(program, the lines our log must hold in order, or null for accepted).</summary>
    private static readonly (string Program, string? Expected)[] Rows =
    [
        ("uptr_read_write_pointee", null),
        ("uptr_unchecked", "R1 invalid mem access 'mem_or_null'"),
        ("uptr_past_pointee", "invalid access to memory, mem_size=16 off=16 size=4"),
        ("uptr_store_register", "store to uptr disallowed"),
        ("uptr_store_immediate", "store to uptr disallowed"),
        ("uptr_narrow_load", "uptr access size must be BPF_DW"),
        ("uptr_misaligned_load", "uptr access misaligned expected=8 off=4"),
        ("uptr_variable_offset", "uptr access cannot have variable offset"),
        ("uptr_atomic_add", "kptr in map can only be accessed using BPF_MEM instruction mode"),
        ("uptr_helper_write", "uptr cannot be accessed indirectly by helper"),
        ("uptr_neighbours_are_plain", null),
        ("uptr_two_loads", "R2 invalid mem access 'mem_or_null'"),
        // The pointee is only a forward declaration: the kernel's field parse fails and the value has no uptr.
        ("uptr_to_forward_struct", null),
    ];

    public static TheoryData<string, string?> Programs => new(Rows);

    private static readonly VerifierFixture Fixture = new("verifier/misc17/uptr.bpf.o");

    [Fact]
    public void Every_program_of_the_fixture_is_listed() => Fixture.AssertEveryProgramListed(Rows.Select(row => row.Program));

    [Theory]
    [MemberData(nameof(Programs))]
    public void Verdict_and_message(string program, string? expected) => Fixture.AssertOurs(program, expected, Errno.EACCES);

    [Theory]
    [MemberData(nameof(Programs))]
    public void Kernel_agrees(string program, string? expected) => Fixture.AssertKernelAgrees(program, expected);

    /// <summary>The loaded field is printed as the kernel prints it: mem_or_null with its id and the pointee's size.</summary>
    [Fact]
    public void A_loaded_uptr_is_mem_or_null_sized_by_its_pointee()
    {
        var result = Fixture.Ours("uptr_unchecked", out _, out _);
        Assert.Contains("R1=mem_or_null(id=", result.Log, StringComparison.Ordinal);
        Assert.Contains(",sz=16)", result.Log, StringComparison.Ordinal);
    }

    [Fact]
    public void The_fields_are_found_as_the_kernel_finds_them()
    {
        var obj = ObjectSpec.Load(Fixture.Path);
        var task = obj.Maps.Single(m => m.Name == "task_map");
        var field = Assert.Single(MapValueUptrs.Find(obj.Btf!, task.ValueTypeId));
        Assert.Equal((8, 16, "user_data"), (field.Offset, field.PointeeSize, field.PointeeName));
        var fwd = obj.Maps.Single(m => m.Name == "fwd_map");
        Assert.Empty(MapValueUptrs.Find(obj.Btf!, fwd.ValueTypeId));
    }

    /// <summary>(fixture, the kernel's errno at map creation, or null when it creates the map).</summary>
    public static TheoryData<string, Errno?> MapRules => new()
    {
        { "uptr_map_hash", Errno.EOPNOTSUPP },
        { "uptr_map_big", Errno.E2BIG },
        { "uptr_map_kernel", Errno.EINVAL },
        { "uptr_map_int", null },
    };

    /// <summary>Map creation with the value's BTF (as a loader's first attempt, before any retry without BTF): the
    /// live kernel's errno is the expected one, and ours (the managed runtime) is the same where the kernel refuses;
    /// where it accepts (a uptr to an int is no uptr field), ours finds no uptr field either.</summary>
    [Theory]
    [MemberData(nameof(MapRules))]
    public void Map_creation_rules(string fixture, Errno? kernelErrno)
    {
        string path = SharedData.Fixture($"verifier/misc17/{fixture}.bpf.o");
        var spec = ObjectSpec.Load(path);
        var runtime = new BpfRuntime();
        var ours = CreateWithBtf(runtime.Backend, path);
        if (kernelErrno is { } errno)
            Assert.True(errno == ours?.Errno, $"ours: {ours?.Errno} {ours?.Message}");
        else
            Assert.Empty(MapValueUptrs.Find(spec.Btf!, spec.Maps.Single(m => m.Name == "uptr_map").ValueTypeId));

        VerifierFixture.RequireKernel();
        var kernel = CreateWithBtf(LinuxKernel.Backend, path);
        Assert.True(kernelErrno == kernel?.Errno, $"kernel: {kernel?.Errno} {kernel?.Message}");
    }

    /// <summary>Loads the object's sanitised BTF into <paramref name="backend"/> and creates its map "uptr_map" with
    /// it: null when created, else the refusal.</summary>
    private static BpfException? CreateWithBtf(Ebpf.Collections.IBpfBackend backend, string path, string map = "uptr_map")
    {
        var spec = ObjectSpec.Load(path);
        var (_, raw, problem) = Ebpf.Collections.BtfSanitizer.Sanitize(spec, Ebpf.Elf.ElfFile.Open(path));
        Assert.True(raw is not null, problem);
        var btf = backend.LoadBtf(raw, spec.Name);
        var ms = spec.Maps.Single(m => m.Name == map);
        var definition = new Ebpf.Collections.MapDefinition(ms.Type, ms.KeySize, ms.ValueSize, ms.MaxEntries, ms.Flags, map)
        {
            BtfKeyTypeId = ms.KeyTypeId, BtfValueTypeId = ms.ValueTypeId,
        };
        try
        {
            backend.CreateMap(definition, btf).Dispose();
            return null;
        }
        catch (BpfException e)
        {
            return e;
        }
        finally
        {
            btf.Dispose();
        }
    }

    /// <summary>A task storage map with a valid uptr passes the kernel's rules but is refused by the managed runtime
    /// with a typed error naming the reason: it never stores a user address for a program.</summary>
    [Fact]
    public void The_runtime_refuses_a_map_with_a_uptr()
    {
        var e = CreateWithBtf(new BpfRuntime().Backend, Fixture.Path, "task_map");
        Assert.NotNull(e);
        Assert.Equal(Errno.EOPNOTSUPP, e.Errno);
        Assert.Contains("uptr fields are not supported by the managed runtime", e.Message, StringComparison.Ordinal);
        VerifierFixture.RequireKernel();
        Assert.Null(CreateWithBtf(LinuxKernel.Backend, Fixture.Path, "task_map")); // the kernel creates it
    }
}
