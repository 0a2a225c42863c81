using Ebpf.Linux;
using Ebpf.Loading;
using Ebpf.Runtime;

namespace Ebpf.Tests;

/// <summary>
/// The backends a theory runs on: one test body, run once on the managed runtime and once on the Linux kernel, is how
/// every feature is checked on both (use <c>[Theory, ClassData(typeof(Backends))]</c> with a <c>string backend</c>
/// parameter and <see cref="TestBackend.Create"/>). The kernel row skips, saying why, where bpf(2) is unusable
/// (fails under EBPF_REQUIRE=kernel).
/// </summary>
public sealed class Backends : TheoryData<string>
{
    public const string Managed = "managed", Linux = "linux";

    public Backends()
    {
        Add(Managed);
        Add(Linux);
    }
}

/// <summary>
/// One backend for one test: a fresh managed runtime, or the kernel with a private bpffs (so pins never outlive the
/// test). Loads objects with <see cref="PinRoot"/> as their pin root; dispose to drop the pins' mount.
/// </summary>
public sealed class TestBackend : IDisposable
{
    private readonly TemporaryBpfFs? _bpffs;

    private TestBackend(IBpfBackend backend, string pinRoot, BpfRuntime? runtime, TemporaryBpfFs? bpffs)
    {
        Backend = backend;
        PinRoot = pinRoot;
        Runtime = runtime;
        _bpffs = bpffs;
    }

    public IBpfBackend Backend { get; }

    /// <summary>A bpffs directory of this backend the test may pin into.</summary>
    public string PinRoot { get; }

    /// <summary>The managed runtime, on the managed row (null on the kernel's).</summary>
    public BpfRuntime? Runtime { get; }

    public bool IsLinux => Runtime is null;

    public static TestBackend Create(string name)
    {
        if (name == Backends.Managed)
        {
            var runtime = new BpfRuntime();
            return new TestBackend(runtime.Backend, "/sys/fs/bpf", runtime, null); // each test has its own runtime and bpffs
        }
        if (!LinuxKernel.IsAvailable)
            Requirement.Missing(Requirement.Kernel, $"bpf(2) is not usable here: {LinuxKernel.UnavailableReason}");
        var bpffs = new TemporaryBpfFs();
        return new TestBackend(LinuxKernel.Backend, bpffs.Path, null, bpffs);
    }

    /// <summary>Loads a fixture object (tests/fixtures/RELATIVE) with this backend's pin root.</summary>
    public BpfCollection LoadFixture(string relative, ObjectLoadOptions? options = null) =>
        BpfCollection.LoadFile(Backend, SharedData.Fixture(relative), (options ?? new ObjectLoadOptions()) with { PinRoot = PinRoot });

    /// <summary>Loads a spec with this backend's pin root.</summary>
    public BpfCollection Load(ObjectSpec spec, ObjectLoadOptions? options = null) =>
        BpfCollection.Load(Backend, spec, (options ?? new ObjectLoadOptions()) with { PinRoot = PinRoot });

    public void Dispose() => _bpffs?.Dispose();
}
