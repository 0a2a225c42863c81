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
    /// Reads [address, address+size) where the kernel reads with copy_from_kernel_nofault (string and
    /// %pI4-style arguments of the printf-like helpers, which the verifier does not check): null when it is not
    /// readable, an ordinary outcome, not reported. A checked run reads only its regions; an unchecked one
    /// (which tracks no regions) goes through <see cref="Memory.NoFaultCopy"/>, so an address the program made
    /// up is a failed read, never a host crash.
    /// </summary>
    public static byte[]? ReadNoFault(ulong address, ulong size)
    {
        if (size > int.MaxValue)
            return null;
        if (HelperInvocation.Current?.MemoryChecker is not null)
            return Check(address, size, write: false, report: false) ? Bytes(address, size).ToArray() : null;
        var copy = new byte[size];
        return Memory.NoFaultCopy.TryCopy(address, copy) ? copy : null;
    }

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

    /// <summary>Reads a NUL-terminated string of at most <paramref name="max"/> bytes as <see cref="ReadNoFault"/> does; null when unreadable.</summary>
    public static byte[]? ReadCString(ulong address, int max)
    {
        if (address == 0)
            return null;
        var result = new List<byte>();
        while (result.Count < max)
        {
            // Page-sized pieces: a string ending just before an unmapped page is still read whole.
            ulong at = address + (ulong)result.Count;
            int chunk = (int)Math.Min((ulong)(max - result.Count), 4096 - (at & 4095));
            var piece = ReadNoFault(at, (ulong)chunk);
            if (piece is null)
            {
                // Fall back to single bytes to find where readability ends, as the byte-wise kernel copy does.
                piece = ReadNoFault(at, 1);
                if (piece is null)
                    return result.Count == 0 ? null : result.ToArray();
            }
            int nul = Array.IndexOf(piece, (byte)0);
            if (nul >= 0)
            {
                result.AddRange(piece.AsSpan(0, nul));
                return result.ToArray();
            }
            result.AddRange(piece);
        }
        return result.ToArray();
    }
}
