using System.Text;
using Ebpf.Abi;
using Ebpf.Btf;
using Ebpf.Collections;
using Ebpf.Loading;

namespace Ebpf.Tests.CoRe;

public partial class ModulesTests
{
    /// <summary>
    /// bpf_seq_printf_btf of a module's type through the btf_ptr extension (tests/fixtures/iter/module_point.bpf.c): an
    /// iter/bpf_map_elem prints each element, a struct ebpf_testmod_point image, from the module's BTF object under the
    /// BTF_F_* set its key names; the text is the printer's for the module's layout (the flags-0 element as written out
    /// from our C header), and the program still prints after the module unloads.
    /// </summary>
    [Fact]
    public void An_iterator_prints_a_module_type_with_bpf_seq_printf_btf()
    {
        var (runtime, module) = LoadModule();
        using var c = runtime.Load(ObjectSpec.Load(SharedData.Fixture("iter/module_point.bpf.o")));
        using var map = runtime.Backend.CreateMap(new MapDefinition(MapType.Array, 4, 48, 16, Name: "points"));
        var point = Point();
        for (uint k = 0; k < 16; k++)
            map.Update(BitConverter.GetBytes(k), point);
        uint typeId = module.Btf.FindByName("ebpf_testmod_point", BtfKind.Struct)!.Id;
        string expected = string.Concat(Enumerable.Range(0, 16).Select(k =>
            Encoding.Latin1.GetString(BtfObjectPrinter.Print(module.Btf, typeId, point, (BtfPrintFlags)k)) + "\n"));
        using var link = c.Programs["print_points"].AttachIterator(map);
        using (var it = link.CreateIterator())
        {
            string text = Encoding.Latin1.GetString(it.ReadToEnd(5));
            Assert.Equal(expected, text);
            Assert.StartsWith("(struct ebpf_testmod_point){\n .x = (int)-3,\n .y = (long long)73588229205,\n", text);
            Assert.Contains("{.x = (int)-3,.y = (long long)73588229205,", text); // key 1: BTF_F_COMPACT
        }
        var bss = c.Maps.First(kv => kv.Key.EndsWith(".bss", StringComparison.Ordinal)).Value.Lookup(new byte[4]);
        Assert.All(Enumerable.Range(0, 16), k => Assert.Equal(0L, BitConverter.ToInt64(bss, k * 8)));

        // The program holds the module's BTF object: after the unload, a new session still prints from it.
        runtime.Modules.Unload(Module);
        using var after = link.CreateIterator();
        Assert.Equal(expected, Encoding.Latin1.GetString(after.ReadToEnd()));
    }
}
