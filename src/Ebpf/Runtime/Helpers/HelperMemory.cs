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
    public static bool CanAccess(ulong address, ulong size, bool write)
    {
        if (size == 0)
            return true;
        if (address == 0)
            return false;
        var inv = HelperInvocation.Current;
        var checker = inv?.MemoryChecker;
        if (checker is not null)
            return checker(address, size, write)
                || (!write && inv!.Runtime.ReadableMemory.Contains(address, size, AddressSpace.Kernel));
        return true;
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
            if (!CanAccess(address + (ulong)i, 1, write: false))
                return i == 0 ? null : result.ToArray();
            byte b = *(byte*)(address + (ulong)i);
            if (b == 0)
                break;
            result.Add(b);
        }
        return result.ToArray();
    }
}
