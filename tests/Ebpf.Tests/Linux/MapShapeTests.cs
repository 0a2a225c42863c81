using Ebpf.Abi;
using Ebpf.Elf;
using Ebpf.Linux;
using Ebpf.Loading;
using static Ebpf.Tests.Linux.KernelRequirement;

namespace Ebpf.Tests.Linux;

/// <summary>
/// Map definitions the kernel refuses as written but loaders create (ringbuf with a value type, perf event
/// arrays without entries, legacy map-in-maps without a value size) and the max_entries-0 maps a loader must
/// size. The live tests check what the kernel reports for the maps BpfCollection created from corpus objects.
/// </summary>
public class MapShapeTests(ITestOutputHelper output)
{
    private static MapSpec Spec(MapType type, uint key, uint value, uint max) =>
        new() { Name = "m", Type = type, KeySize = key, ValueSize = value, MaxEntries = max };

    [Theory]
    [InlineData(1u, 4096u, 4096u)]
    [InlineData(4096u, 4096u, 4096u)]
    [InlineData(4097u, 4096u, 8192u)]
    [InlineData(12288u, 4096u, 16384u)] // a page multiple but 3 pages: not a power of two
    [InlineData(16777216u, 4096u, 16777216u)]
    [InlineData(0u, 4096u, 0u)] // left for the max_entries check to refuse
    [InlineData(100000u, 65536u, 131072u)]
    public void Ring_buffer_size_is_a_power_of_two_number_of_pages(uint requested, uint page, uint expected) =>
        Assert.Equal(expected, MapShape.RingBufferSize(requested, page));

    [Fact]
    public void Adjustments_per_type()
    {
        Assert.Equal(new MapShape(0, 0, 8192), MapShape.For(Spec(MapType.Ringbuf, 0, 20, 5000), possibleCpus: 2, pageSize: 4096));
        Assert.Equal(new MapShape(0, 0, 4096), MapShape.For(Spec(MapType.UserRingbuf, 4, 4, 4096), 2, 4096));
        Assert.Equal(new MapShape(4, 4, 3), MapShape.For(Spec(MapType.PerfEventArray, 0, 84, 0), 3, 4096));
        Assert.Equal(new MapShape(4, 4, 16), MapShape.For(Spec(MapType.PerfEventArray, 4, 4, 16), 3, 4096));
        Assert.Equal(new MapShape(4, 4, 1024), MapShape.For(Spec(MapType.ArrayOfMaps, 4, 0, 1024), 2, 4096));
        Assert.Equal(new MapShape(8, 4, 1), MapShape.For(Spec(MapType.HashOfMaps, 8, 0, 1), 2, 4096));
        Assert.Equal(new MapShape(4, 58, 320), MapShape.For(Spec(MapType.Array, 4, 58, 320), 2, 4096));
        // Storage maps must have max_entries 0: nothing to refuse.
        Assert.Equal(new MapShape(4, 8, 0), MapShape.For(Spec(MapType.TaskStorage, 4, 8, 0), 2, 4096));
    }

    [Theory]
    [InlineData(MapType.Array)]
    [InlineData(MapType.Hash)]
    [InlineData(MapType.PercpuArray)]
    [InlineData(MapType.Ringbuf)]
    [InlineData(MapType.ArrayOfMaps)]
    public void Zero_max_entries_is_refused_naming_the_map(MapType type)
    {
        var spec = Spec(type, 4, 8, 0);
        spec.Name = "frame_scratch_map";
        var e = Assert.Throws<BpfException>(() => MapShape.For(spec, 2, 4096));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("map 'frame_scratch_map'", e.Message, StringComparison.Ordinal);
        Assert.Contains("max_entries is 0", e.Message, StringComparison.Ordinal);
    }

    private static (ElfFile Elf, ObjectSpec Spec) Corpus(string relative)
    {
        string path = SharedData.Require(Path.Combine("corpus/objects", relative));
        var elf = ElfFile.Open(path);
        var spec = ObjectSpec.Parse(elf.Image, path);
        spec.Name = ObjectSpec.ObjectNameFromPath(path);
        return (elf, spec);
    }

    private static BpfCollection LoadMaps((ElfFile Elf, ObjectSpec Spec) o) =>
        LinuxKernel.Load(o.Spec, new ObjectLoadOptions { Elf = o.Elf, ProgramFilter = _ => false });

    [Fact]
    public void Ringbuf_declared_with_a_value_type_is_created_keyless()
    {
        Require();
        var o = Corpus("cilium-examples/ringbuffer_bpf_bpfel.o");
        var declared = o.Spec.Maps.Single(m => m.Name == "events");
        Assert.Equal((MapType.Ringbuf, 20u), (declared.Type, declared.ValueSize)); // what the object says
        using var c = LinuxKernel.Load(o.Spec, new ObjectLoadOptions { Elf = o.Elf });
        var info = c.Maps["events"].GetInfo();
        Assert.Equal((MapType.Ringbuf, 0u, 0u, 16777216u), (info.Type, info.KeySize, info.ValueSize, info.MaxEntries));
        Assert.Single(c.Programs); // kprobe_execve, which writes to it, loads too
    }

    [Fact]
    public void Perf_event_array_without_entries_gets_one_per_possible_cpu()
    {
        Require();
        var o = Corpus("cilium-examples/uretprobe_bpf_x86_bpfel.o");
        Assert.Equal(0u, o.Spec.Maps.Single(m => m.Name == "events").MaxEntries);
        using var c = LinuxKernel.Load(o.Spec, new ObjectLoadOptions { Elf = o.Elf });
        var info = c.Maps["events"].GetInfo();
        Assert.Equal((MapType.PerfEventArray, 4u, 4u, (uint)PossibleCpus.Count), (info.Type, info.KeySize, info.ValueSize, info.MaxEntries));
    }

    [Theory]
    [InlineData("linux/test_map_in_map_kern.o", "a_of_port_a", "port_a")]
    [InlineData("linux/map_perf_test_kern.o", "array_of_lru_hashs", "hash_map")]
    public void Legacy_map_in_map_takes_fds_of_maps_shaped_like_its_template(string file, string outer, string template)
    {
        Require();
        var o = Corpus(file);
        Assert.Equal(0u, o.Spec.Maps.Single(m => m.Name == outer).ValueSize); // bpf_load.c filled in the 4
        using var c = LoadMaps(o);
        var map = c.Maps[outer];
        Assert.Equal(4u, map.GetInfo().ValueSize);
        // inner_map_idx names the template (samples' bpf_load.c numbering); a map of that shape goes in,
        // which the kernel checks against the template it was given at creation.
        map.Update(U32(0), c.Maps[template]);
        Assert.Equal(4, map.Lookup(U32(0)).Length);
        // A map of another shape does not: the template really was the one named.
        var shape = c.Maps[template];
        var other = c.Maps.Values.First(m => m.Type is not (MapType.ArrayOfMaps or MapType.HashOfMaps) && m.Type != shape.Type);
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => map.Update(U32(1), other)).Errno);
    }

    [Fact]
    public void Zero_sized_maps_are_refused_until_the_caller_sizes_them()
    {
        Require();
        var o = Corpus("falco/probe.o");
        var e = Assert.Throws<BpfException>(() => LoadMaps(o).Dispose());
        output.WriteLine(e.Message);
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("map 'frame_scratch_map'", e.Message, StringComparison.Ordinal);

        // As falco's own loader does: one slot per CPU for the per-CPU scratch maps, set on the spec before loading.
        var unsized = o.Spec.Maps.Where(m => m.MaxEntries == 0 && m.Type == MapType.Array).ToList();
        Assert.Equal(["frame_scratch_map", "local_state_map", "tmp_scratch_map"], unsized.Select(m => m.Name).Order());
        foreach (var m in unsized)
            m.MaxEntries = (uint)PossibleCpus.Count;
        // With the maps sized, a program using them loads (bpf_sys_empty: small, no unresolved memset). The
        // object has no license section; falco's loader passes "GPL" (its helpers are GPL-only).
        if (string.IsNullOrEmpty(o.Spec.License))
            o.Spec.License = "GPL";
        using var c = LinuxKernel.Load(o.Spec, new ObjectLoadOptions { Elf = o.Elf, ProgramFilter = p => p.Name == "bpf_sys_empty" });
        foreach (var m in unsized)
            Assert.Equal((uint)PossibleCpus.Count, c.Maps[m.Name].GetInfo().MaxEntries);
        Assert.Equal((uint)PossibleCpus.Count, c.Maps["perf_map"].GetInfo().MaxEntries);
        Assert.Equal(["bpf_sys_empty"], c.Programs.Keys);
    }

    [Fact]
    public void Maps_pinned_by_name_need_a_pin_path_on_bpffs()
    {
        Require();
        var o = Corpus("cilium-examples/kprobepin_bpf_bpfel.o");
        Assert.Contains(o.Spec.Maps, m => m.Name == "kprobe_map" && m.Pinning == MapPinning.ByName);
        var plain = Directory.CreateTempSubdirectory("ebpf-pin-plain-");
        try
        {
            var e = Assert.Throws<BpfException>(() =>
                LinuxKernel.Load(o.Spec, new ObjectLoadOptions { Elf = o.Elf, PinRoot = plain.FullName, ProgramFilter = _ => false }).Dispose());
            Assert.Equal(Errno.EINVAL, e.Errno);
            Assert.Contains($"{plain.FullName} is not on a BPF file system", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            plain.Delete(recursive: true);
        }

        using var bpffs = new TemporaryBpfFs();
        using (LinuxKernel.Load(o.Spec, new ObjectLoadOptions { Elf = o.Elf, PinRoot = bpffs.Path, ProgramFilter = _ => false }))
            Assert.True(File.Exists(bpffs["kprobe_map"]));
    }
}
