using Ebpf.Linux.Collections;
using Ebpf.Linux.Probes;
using Ebpf.Loading;

namespace Ebpf.Linux;

/// <summary>
/// The entry point of the Linux backend: is bpf(2) usable here, and load an object into the running kernel.
/// The pieces (KernelProgram, KernelMap, KernelBtf, KernelLink, KernelObjects, KernelFeatures) are usable alone.
/// </summary>
public static class LinuxKernel
{
    /// <summary>True when this process can load programs (Linux, x86-64/arm64, root or CAP_BPF).</summary>
    public static bool IsAvailable => KernelFeatures.Bpf.Supported;

    /// <summary>Why bpf(2) is not usable here (null when it is).</summary>
    public static string? UnavailableReason => KernelFeatures.Bpf.Supported ? null : $"{KernelFeatures.Bpf.Detail} ({KernelFeatures.Bpf.Errno})";

    /// <summary>Loads an object's maps and programs (see <see cref="LinuxCollection"/>).</summary>
    public static LinuxCollection Load(ObjectSpec spec, LinuxCollectionOptions? options = null) => LinuxCollection.Load(spec, options);

    /// <summary>
    /// The running kernel as a <see cref="Abi.Profiles.KernelProfile"/> (program/map types, helpers and kfuncs per
    /// program type, features), probed on first use and cached for the process: what to give our verifier or a
    /// BpfRuntime to ask "what would this kernel do".
    /// </summary>
    public static Abi.Profiles.KernelProfile Profile => Probes.LiveKernelProfile.Current;

    /// <summary>Reads a clang-built object and loads it, with the ELF at hand for the BTF fix-ups.</summary>
    public static LinuxCollection LoadFile(string path, LinuxCollectionOptions? options = null) => LinuxCollection.LoadFile(path, options);
}
