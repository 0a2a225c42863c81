using Ebpf.Abi;
using Ebpf.Loading;

namespace Ebpf.Tests.Collections;

/// <summary>
/// The points where the managed and the Linux object loaders used to disagree, now settled once in the one collection
/// loader the libbpf way, each checked by one body on both backends.
/// </summary>
public class LoaderAgreementTests
{
    private static ObjectSpec Fixture(string name) => ObjectSpec.Load(Path(name));

    private static string Path(string name) => SharedData.Fixture($"loading/{name}.bpf.o");

    /// <summary>The ELF goes along so the object's BTF can be laid out and loaded.</summary>
    private static ObjectLoadOptions WithElf(string name) => new() { Elf = Ebpf.Elf.ElfFile.Open(Path(name)) };

    /// <summary>libbpf's map_is_reuse_compat compares map_extra (and map_flags) too: a pinned bloom filter with another hash count is not reused.</summary>
    [Theory, ClassData(typeof(Backends))]
    public void A_pinned_map_is_reused_only_when_its_map_extra_matches(string backend)
    {
        using var b = TestBackend.Create(backend);
        var spec = Fixture("map_extra");
        var bloom = spec.Maps.Single(m => m.Name == "three_hashes");
        bloom.Pinning = MapPinning.ByName;
        uint firstId;
        using (var first = b.Load(spec))
            firstId = first.Maps["three_hashes"].Id;

        bloom.MapExtra = 4;
        var e = Assert.Throws<BpfException>(() => b.Load(spec));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("map_extra 3 vs the object's", e.Message);

        bloom.MapExtra = 3;
        using var again = b.Load(spec);
        Assert.Equal(firstId, again.Maps["three_hashes"].Id);
        Assert.Equal(3ul, again.Maps["three_hashes"].GetInfo().MapExtra);
    }

    /// <summary>libbpf sizes a perf event array without max_entries to the possible CPUs (the managed loader passed 0 on and was refused).</summary>
    [Theory, ClassData(typeof(Backends))]
    public void A_perf_event_array_without_max_entries_gets_one_slot_per_possible_cpu(string backend)
    {
        using var b = TestBackend.Create(backend);
        var spec = new ObjectSpec
        {
            Name = "perf",
            Maps = [new MapSpec { Name = "events", Type = MapType.PerfEventArray, KeySize = 4, ValueSize = 4, MaxEntries = 0 }],
        };
        using var c = b.Load(spec);
        var info = c.Maps["events"].GetInfo();
        Assert.Equal((uint)b.Backend.PossibleCpus, info.MaxEntries);
        Assert.True(info.MaxEntries >= 1);
    }

    /// <summary>
    /// libbpf retries BPF_MAP_CREATE without BTF when the kernel refuses the map's BTF (the managed loader failed the
    /// load): a hash whose value_size no longer matches its BTF value type is created, without btf_id, with a warning.
    /// </summary>
    [Theory, ClassData(typeof(Backends))]
    public void A_map_whose_btf_is_refused_is_created_without_it(string backend)
    {
        using var b = TestBackend.Create(backend);
        var spec = Fixture("maps");
        spec.Maps.Single(m => m.Name == "flows").ValueSize = 16; // the BTF value type is a __u64
        using var c = b.Load(spec, WithElf("maps") with { ProgramFilter = _ => false });
        var flows = c.Maps["flows"].GetInfo();
        Assert.Equal(16u, flows.ValueSize);
        Assert.Equal(0u, flows.BtfId);
        Assert.Contains(c.Warnings, w => w.StartsWith("map 'flows': created without BTF", StringComparison.Ordinal));
        // The maps whose BTF fits keep it.
        Assert.NotNull(c.Btf);
        Assert.Equal(c.Btf.Id, c.Maps["pinned_lru"].GetInfo().BtfId);
    }

    /// <summary>A prog-array slot naming a program that was not loaded stays empty (the managed loader refused the whole load).</summary>
    [Theory, ClassData(typeof(Backends))]
    public void Initial_slots_of_programs_not_loaded_stay_empty(string backend)
    {
        using var b = TestBackend.Create(backend);
        using var c = b.Load(Fixture("maps"), new ObjectLoadOptions { ProgramFilter = p => p.Name == "tail_one" });
        var jumps = c.Maps["jumps"];
        var value = new byte[4];
        Assert.True(jumps.TryLookup(BitConverter.GetBytes(1u), value));
        Assert.Equal(c.Programs["tail_one"].Id, BitConverter.ToUInt32(value));
        Assert.False(jumps.TryLookup(BitConverter.GetBytes(3u), value));
        Assert.Equal([1u], jumps.Keys().Select(k => BitConverter.ToUInt32(k)).Where(k => jumps.TryLookup(BitConverter.GetBytes(k), value)));
    }

    /// <summary>map_extra reaches a bloom filter as the kernel reads it; on a hash it is refused with EINVAL, on both backends.</summary>
    [Theory, ClassData(typeof(Backends))]
    public void Map_extra_is_the_bloom_filters_and_refused_on_a_hash(string backend)
    {
        using var b = TestBackend.Create(backend);
        using (var c = b.Load(Fixture("map_extra")))
        {
            Assert.Equal(3ul, c.Maps["three_hashes"].GetInfo().MapExtra);
            Assert.Equal(0ul, c.Maps["default_hashes"].GetInfo().MapExtra);
        }
        var e = Assert.Throws<BpfException>(() => b.Load(Fixture("map_extra_hash")));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("extra_hash", e.Message);
    }
}
