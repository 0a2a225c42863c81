using Ebpf.Collections;
using Ebpf.Linux;

namespace Ebpf.Tests.Linux.Net;

/// <summary>tests/fixtures/xdp/linux/xdp_verdict.bpf.o loaded into the kernel: its two programs and its maps.</summary>
internal sealed class XdpFixture : IDisposable
{
    public const uint Aborted = 0, Drop = 1, Pass = 2, Tx = 3;
    public const uint SecondSlot = 5;

    private readonly BpfCollection _collection;

    public XdpFixture()
    {
        _collection = LinuxKernel.LoadFile(SharedData.Fixture("xdp/linux/xdp_verdict.bpf.o"));
        Verdict = _collection.Programs["xdp_verdict"].NativeAs<KernelProgram>();
        Second = _collection.Programs["xdp_second"].NativeAs<KernelProgram>();
    }

    public BpfCollection Collection => _collection;
    public KernelProgram Verdict { get; }
    public KernelProgram Second { get; }
    public uint VerdictId => _collection.Programs["xdp_verdict"].Id;
    public uint SecondId => _collection.Programs["xdp_second"].Id;

    public void SetVerdict(uint action) => _collection.Maps["verdict"].Update(0u, action);

    public ulong Count(uint slot) => _collection.Maps["counters"].Lookup<uint, ulong>(slot);

    public ulong[] Counts() => Enumerable.Range(0, 8).Select(i => Count((uint)i)).ToArray();

    public void Dispose() => _collection.Dispose();
}
