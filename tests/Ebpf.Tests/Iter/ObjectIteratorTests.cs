using System.Text;
using Ebpf.Collections;
using Ebpf.Loading;
using Ebpf.Runtime;

namespace Ebpf.Tests.Iter;

/// <summary>
/// iter/bpf_prog and iter/bpf_link (tests/fixtures/iter/objects.bpf.c), whose programs walk struct bpf_prog,
/// bpf_prog_aux and bpf_link by CO-RE field accesses: the runtime hands them kernel-layout images of its objects; the
/// kernel run lists the iterator program itself among this machine's programs.
/// </summary>
public class ObjectIteratorTests
{
    private static ObjectSpec Spec => ObjectSpec.Load(SharedData.Fixture("iter/objects.bpf.o"));

    [Fact]
    public void Programs_and_links_are_listed_with_their_ids_names_and_types()
    {
        var runtime = new BpfRuntime();
        using var c = runtime.Load(Spec);
        var progs = c.Programs["list_progs"];
        var links = c.Programs["list_links"];
        using var progLink = progs.AttachIterator();
        string text;
        using (var it = progLink.CreateIterator())
            text = Encoding.ASCII.GetString(it.ReadToEnd(3));
        Assert.Equal(
            $"prog {progs.Id} list_progs type 26 len {progs.Program.Instructions.Length}\n"
            + $"prog {links.Id} list_links type 26 len {links.Program.Instructions.Length}\n"
            + "1 programs after the first\n", text);

        using var linkLink = links.AttachIterator();
        using var again = linkLink.CreateIterator();
        Assert.Equal($"link {progLink.Id} type 4 prog {progs.Id} list_progs\nlink {linkLink.Id} type 4 prog {links.Id} list_links\n",
            Encoding.ASCII.GetString(again.ReadToEnd()));
        var info = linkLink.GetInfo();
        Assert.Equal("bpf_link", info.IterTargetName);
        Assert.Equal(Abi.LinkType.Iter, info.Type);
    }

    [Fact]
    public void The_kernel_lists_the_iterator_program_among_its_programs()
    {
        using var b = TestBackend.Create(Backends.Linux);
        using var c = BpfCollection.Load(b.Backend, Spec);
        var progs = c.Programs["list_progs"];
        using var link = progs.AttachIterator();
        using var it = link.CreateIterator();
        string text = Encoding.ASCII.GetString(it.ReadToEnd());
        Assert.Contains($"prog {progs.Id} list_progs type 26 len ", text);
        Assert.EndsWith(" programs after the first\n", text);
        // The final call's seq_num, as the kernel counts: the elements shown after the first (what the runtime gives).
        var lines = text.TrimEnd('\n').Split('\n');
        Assert.Equal($"{lines.Length - 2} programs after the first", lines[^1]);
        var info = link.GetInfo();
        Assert.Equal("bpf_prog", info.IterTargetName);
        Assert.Equal(Abi.LinkType.Iter, info.Type);
    }
}
