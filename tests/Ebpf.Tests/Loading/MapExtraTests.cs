using Ebpf.Abi;
using Ebpf.Loading;
using Ebpf.Runtime;
using Ebpf.Runtime.Maps;

namespace Ebpf.Tests.Loading;

/// <summary>
/// map_extra from a BTF map definition reaches the map as the kernel reads it: a bloom filter's hash count
/// (low 4 bits, 0 meaning 5); on a type without map_extra the map is refused with EINVAL, as the live
/// kernel refuses it.
/// </summary>
public class MapExtraTests
{
    private static ObjectSpec Fixture(string name) => ObjectSpec.Load(SharedData.Fixture($"loading/{name}.bpf.o"));

    [Fact]
    public void The_managed_runtime_gives_a_bloom_filter_the_hash_count_of_map_extra()
    {
        var spec = Fixture("map_extra");
        Assert.Equal(3ul, spec.Maps.Single(m => m.Name == "three_hashes").MapExtra);
        using var collection = new BpfRuntime().Load(spec);
        Assert.Equal(3, Assert.IsType<BloomFilterMap>(collection.Maps["three_hashes"].Map.Maps).HashCount);
        Assert.Equal(5, Assert.IsType<BloomFilterMap>(collection.Maps["default_hashes"].Map.Maps).HashCount);
        Assert.Equal(3ul, collection.Maps["three_hashes"].Map.Maps!.Info.MapExtra);
    }

    // The refusal on a hash, and the kernel agreeing, are one theory over both backends:
    // Collections/LoaderAgreementTests.Map_extra_is_the_bloom_filters_and_refused_on_a_hash.
}
