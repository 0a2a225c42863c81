using Ebpf.Linux;
using Ebpf.Linux.Native;
using Ebpf.Linux.Probes;

namespace Ebpf.Tests.Linux;

/// <summary>The parts of the backend that need no kernel.</summary>
public class PureHelpersTests
{
    [Theory]
    [InlineData("xdp_prog", "xdp_prog")]
    [InlineData("a.b_c", "a.b_c")]
    [InlineData("tc/ingress-filter", "tcingressfilter")]
    [InlineData("a_very_long_program_name", "a_very_long_pro")]
    [InlineData("日本語x", "x")]
    [InlineData("", "")]
    [InlineData(null, "")]
    public void ObjectNamesAreSanitisedLikeTheKernelAccepts(string? input, string expected) =>
        Assert.Equal(expected, ObjectName.Sanitize(input));

    [Theory]
    [InlineData("0-1\n", 2)]
    [InlineData("0", 1)]
    [InlineData("0,2-5", 6)]
    [InlineData("0-3,8-11", 12)]
    public void PossibleCpuListsParse(string list, int count) => Assert.Equal(count, PossibleCpus.Parse(list));

    [Theory]
    [InlineData("")]
    [InlineData("a-b")]
    [InlineData("1-2-3")]
    [InlineData("-1")]
    public void BadCpuListsAreEinval(string list) =>
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => PossibleCpus.Parse(list)).Errno);

    [Fact]
    public void TinyBtfWritesAValidHeaderAndParsesBack()
    {
        var b = new TinyBtf();
        uint i = b.Int("int", 4);
        uint p = b.Pointer(i);
        uint proto = b.FuncProto(i, ("x", p));
        uint f = b.Func("f", proto, global: true);
        b.DeclTag("arg:ctx", f, 0);
        byte[] raw = b.ToArray();
        Assert.Equal(0xEB9F, BitConverter.ToUInt16(raw, 0));
        var parsed = Ebpf.Btf.BtfSpec.Parse(raw);
        Assert.Equal(5, parsed.Types.Count);
        Assert.Equal("f", parsed.GetType(f).Name);
        Assert.Equal(["arg:ctx"], parsed.GetDeclTagValues(f, 0));
    }

    [Fact]
    public void AttrLayoutsMatchTheKernelSizes()
    {
        // Offsets and sizes checked against <linux/bpf.h> with offsetof (see BpfAttr.cs).
        Assert.Equal(144, System.Runtime.CompilerServices.Unsafe.SizeOf<ProgLoadAttr>());
        Assert.Equal(72, System.Runtime.CompilerServices.Unsafe.SizeOf<MapCreateAttr>());
        Assert.Equal(56, System.Runtime.CompilerServices.Unsafe.SizeOf<MapBatchAttr>());
        Assert.Equal(76, System.Runtime.CompilerServices.Unsafe.SizeOf<TestRunAttr>());
        Assert.Equal(232, System.Runtime.CompilerServices.Unsafe.SizeOf<ProgInfoNative>());
        Assert.Equal(88, System.Runtime.CompilerServices.Unsafe.SizeOf<MapInfoNative>());
        Assert.Equal(32, System.Runtime.CompilerServices.Unsafe.SizeOf<BtfInfoNative>());
        Assert.Equal("BPF_PROG_LOAD", BpfCommand.ProgLoad.UapiName());
        Assert.Equal("BPF_LINK_DETACH", BpfCommand.LinkDetach.UapiName());
    }

    [Fact]
    public void ErrorMessagesNameCommandAndObject()
    {
        var e = BpfSyscall.Error(BpfCommand.ProgLoad, "xdp_prog", Errno.EPERM);
        Assert.Equal("BPF_PROG_LOAD xdp_prog: Operation not permitted", e.Message);
        Assert.Equal(Errno.EPERM, e.Errno);
        Assert.Equal("BPF_MAP_FREEZE: Unknown error 524 (ENOTSUPP)", BpfSyscall.Error(BpfCommand.MapFreeze, "", Errno.ENOTSUPP).Message);
    }
}
