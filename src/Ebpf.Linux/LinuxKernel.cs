using Ebpf.Collections;
using Ebpf.Loading;

namespace Ebpf.Linux;

/// <summary>
/// The entry point of the Linux backend: is bpf(2) usable here, and load an object into the running kernel (the same
/// <see cref="BpfCollection"/> and live types as the managed runtime, over <see cref="LinuxBackend"/>).
/// </summary>
public static class LinuxKernel
{
    /// <summary>True when this process can load programs (Linux, x86-64/arm64, root or CAP_BPF).</summary>
    public static bool IsAvailable => Probes.KernelFeatures.Bpf.Supported;

    /// <summary>Why bpf(2) is not usable here (null when it is).</summary>
    public static string? UnavailableReason => Probes.KernelFeatures.Bpf.Supported ? null : $"{Probes.KernelFeatures.Bpf.Detail} ({Probes.KernelFeatures.Bpf.Errno})";

    /// <summary>The running kernel as an <see cref="IBpfBackend"/>.</summary>
    public static IBpfBackend Backend => LinuxBackend.Instance;

    /// <summary>Loads an object's maps and programs into the running kernel (<see cref="BpfCollection.Load"/>).</summary>
    public static BpfCollection Load(ObjectSpec spec, ObjectLoadOptions? options = null) => BpfCollection.Load(Backend, spec, options);

    /// <summary>Reads a clang-built object and loads it, with the ELF at hand for the BTF fix-ups.</summary>
    public static BpfCollection LoadFile(string path, ObjectLoadOptions? options = null) => BpfCollection.LoadFile(Backend, path, options);

    /// <summary>
    /// The running kernel as a <see cref="Abi.Profiles.KernelProfile"/> (program/map types, helpers and kfuncs per
    /// program type, features), probed on first use and cached for the process: what to give our verifier or a
    /// BpfRuntime to ask "what would this kernel do".
    /// </summary>
    public static Abi.Profiles.KernelProfile Profile => Probes.LiveKernelProfile.Current;
}
