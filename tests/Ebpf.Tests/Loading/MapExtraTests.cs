using Ebpf.Linux;
using Ebpf.Abi;
using Ebpf.Loading;
using Ebpf.Runtime;
using Ebpf.Runtime.Maps;
using Ebpf.Tests.Linux;

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

    [Fact]
    public void The_managed_runtime_refuses_map_extra_on_a_hash_with_einval()
    {
        var e = Assert.Throws<BpfException>(() => new BpfRuntime().Load(Fixture("map_extra_hash")));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("extra_hash", e.Message);
    }

    [Fact]
    public void The_kernel_agrees_on_both()
    {
        KernelRequirement.Require();
        using (var collection = LinuxKernel.Load(Fixture("map_extra")))
            Assert.Equal(2, collection.Maps.Count);
        var e = Assert.Throws<BpfException>(() => LinuxKernel.Load(Fixture("map_extra_hash")));
        Assert.Equal(Errno.EINVAL, e.Errno);
    }
}
