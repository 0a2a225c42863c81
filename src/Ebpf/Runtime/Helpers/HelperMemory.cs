namespace Ebpf.Runtime.Helpers;

/// <summary>
/// How helpers touch BPF-visible memory. Pointers are real native addresses (the runtime's memory
/// model). A verified program only passes valid pointers, so reads are direct; when the executor
/// installs <see cref="HelperInvocation.MemoryChecker"/> (the checked interpreter), every helper
/// access is validated against the live regions first and an invalid one faults cleanly.
/// </summary>
internal static unsafe class HelperMemory
{
    /// <summary>True when a helper may read [address, address+size) for the current invocation.</summary>
    /// <remarks>
    /// For a helper's argument memory the verifier checked: when a checked run denies it, the runtime's
    /// <see cref="BpfRuntime.CheckedHelperAccessDenied"/> observers hear of it (for a verified program that
    /// is a verifier bug the helper's -EFAULT would otherwise hide).
    /// </remarks>
    public static bool CanAccess(ulong address, ulong size, bool write) => Check(address, size, write, report: true);

    /// <summary>
    /// True when a helper may read [address, address+size) where the kernel reads with copy_from_kernel_nofault
    /// (string and %pI4-style arguments of the printf-like helpers): failure is an ordinary outcome, not reported.
    /// </summary>
    public static bool CanReadNoFault(ulong address, ulong size) => Check(address, size, write: false, report: false);

    private static bool Check(ulong address, ulong size, bool write, bool report)
    {
        if (size == 0)
            return true;
        var inv = HelperInvocation.Current;
        var checker = inv?.MemoryChecker;
        if (checker is null)
            return address != 0;
        if (address != 0 && (checker(address, size, write)
            || (!write && inv!.Runtime.ReadableMemory.Contains(address, size, AddressSpace.Kernel))))
            return true;
        if (report)
            inv!.Runtime.ReportCheckedHelperAccessDenied(inv.Program, address, size, write);
        return false;
    }

    public static Span<byte> Bytes(ulong address, ulong size) => new((void*)address, checked((int)size));

    /// <summary>Reads a NUL-terminated string of at most <paramref name="max"/> bytes; null when unreadable.</summary>
    public static byte[]? ReadCString(ulong address, int max)
    {
        if (address == 0)
            return null;
        var result = new List<byte>();
        for (int i = 0; i < max; i++)
        {
            if (!CanReadNoFault(address + (ulong)i, 1))
                return i == 0 ? null : result.ToArray();
            byte b = *(byte*)(address + (ulong)i);
            if (b == 0)
                break;
            result.Add(b);
        }
        return result.ToArray();
    }
}
