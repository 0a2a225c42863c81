using Ebpf.Collections;

namespace Ebpf.Linux;

/// <summary>
/// What only the Linux backend has, reached from the common live types: the fd wrapper behind a handle (for
/// attach calls and raw commands the common API has no verb for). EINVAL for a handle of another backend.
/// </summary>
public static class LinuxObjects
{
    extension(BpfProgram program)
    {
        /// <summary>The program's fd wrapper.</summary>
        public KernelProgram Kernel => program.NativeAs<KernelProgram>();
    }

    extension(BpfMap map)
    {
        /// <summary>The map's fd wrapper.</summary>
        public KernelMap Kernel => map.NativeAs<KernelMap>();
    }

    extension(BpfLink link)
    {
        /// <summary>The link's fd wrapper.</summary>
        public KernelLink Kernel => link.NativeAs<KernelLink>();
    }

    extension(BtfHandle btf)
    {
        /// <summary>The BTF object's fd wrapper.</summary>
        public KernelBtf Kernel => btf.NativeAs<KernelBtf>();
    }
}
