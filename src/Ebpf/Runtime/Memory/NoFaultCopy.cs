using System.Runtime.InteropServices;

namespace Ebpf.Runtime.Memory;

/// <summary>
/// The kernel's copy_from_kernel_nofault for the host process: copies from an address a program chose
/// (a %s argument of bpf_trace_printk, bpf_snprintf's string pointers) without risking the host. An unmapped
/// address cannot be dereferenced in .NET without a fatal access violation, so the copy goes through
/// process_vm_readv on this very process, which reports EFAULT instead. Elsewhere than Linux it refuses.
/// </summary>
internal static unsafe partial class NoFaultCopy
{
    [StructLayout(LayoutKind.Sequential)]
    private struct IoVector
    {
        public void* Base;
        public nuint Length;
    }

    [LibraryImport("libc", EntryPoint = "process_vm_readv", SetLastError = true)]
    private static partial nint ProcessVmReadv(int pid, IoVector* local, nuint localCount, IoVector* remote, nuint remoteCount, nuint flags);

    /// <summary>Copies <paramref name="destination"/>.Length bytes from <paramref name="address"/>; false when any of them is unreadable.</summary>
    public static bool TryCopy(ulong address, Span<byte> destination)
    {
        if (destination.IsEmpty)
            return true;
        if (address == 0 || !OperatingSystem.IsLinux() || address + (ulong)destination.Length < address)
            return false;
        fixed (byte* d = destination)
        {
            var local = new IoVector { Base = d, Length = (nuint)destination.Length };
            var remote = new IoVector { Base = (void*)address, Length = (nuint)destination.Length };
            return ProcessVmReadv(Environment.ProcessId, &local, 1, &remote, 1, 0) == destination.Length;
        }
    }
}
