namespace Ebpf.Runtime.Helpers;

/// <summary>
/// probe_read{,_kernel,_user}{,_str} over the host-registered <see cref="ReadableMemory"/>.
/// Kernel reads of NULL / low or user addresses fail with -ERANGE (x86 copy_from_kernel_nofault_allowed),
/// other faults with -EFAULT; on any error the destination is zeroed (the _str variants zero all of it).
/// </summary>
internal static unsafe class ProbeReadHelpers
{
    /// <summary>Addresses below this are the "user half" NULL page for kernel reads.</summary>
    private const ulong LowGuard = 4096;

    public static ulong ProbeReadKernel(ulong dst, ulong size, ulong src, ulong r4, ulong r5) => Read(dst, size, src, AddressSpace.Kernel);
    public static ulong ProbeReadUser(ulong dst, ulong size, ulong src, ulong r4, ulong r5) => Read(dst, size, src, AddressSpace.User);
    public static ulong ProbeReadKernelStr(ulong dst, ulong size, ulong src, ulong r4, ulong r5) => ReadStr(dst, size, src, AddressSpace.Kernel);
    public static ulong ProbeReadUserStr(ulong dst, ulong size, ulong src, ulong r4, ulong r5) => ReadStr(dst, size, src, AddressSpace.User);

    /// <summary>bpf_probe_read (4): user memory when the address is in a user region, else kernel (bpf_probe_read_compat).</summary>
    public static ulong ProbeRead(ulong dst, ulong size, ulong src, ulong r4, ulong r5) => Read(dst, size, src, CompatSpace(src));

    /// <summary>bpf_probe_read_str (45).</summary>
    public static ulong ProbeReadStr(ulong dst, ulong size, ulong src, ulong r4, ulong r5) => ReadStr(dst, size, src, CompatSpace(src));

    private static AddressSpace CompatSpace(ulong src)
    {
        var inv = HelperInvocation.Current;
        return inv is not null && inv.Runtime.ReadableMemory.ReadableFrom(src, AddressSpace.User) > 0 ? AddressSpace.User : AddressSpace.Kernel;
    }

    private static Errno Check(ulong src, ulong size, AddressSpace space)
    {
        var inv = HelperInvocation.Current;
        if (inv is null)
            return Errno.EFAULT;
        var mem = inv.Runtime.ReadableMemory;
        if (space == AddressSpace.Kernel)
        {
            if (src < LowGuard || mem.ReadableFrom(src, AddressSpace.User) > 0)
                return Errno.ERANGE;
            if (mem.Contains(src, size, AddressSpace.Kernel))
                return Errno.None;
            // BPF-visible memory of the running program (stack, map values) is kernel memory too. A checked run knows
            // every live region; an unchecked one knows the program's array maps (global data included), which is where
            // CO-RE-style reads of the program's own variables point.
            if (inv.MemoryChecker is { } checker)
                return checker(src, size, false) ? Errno.None : Errno.EFAULT;
            return InProgramArrays(inv.Program, src, size) ? Errno.None : Errno.EFAULT;
        }
        return mem.Contains(src, size, AddressSpace.User) ? Errno.None : Errno.EFAULT;
    }

    /// <summary>Whether [src, src+size) lies inside the value area of an array map the program uses.</summary>
    private static bool InProgramArrays(Objects.ProgramObject? program, ulong src, ulong size)
    {
        if (program is null || size == 0 || src + size < src)
            return false;
        foreach (var map in program.UsedMaps)
        {
            if (map.Maps is not Maps.ArrayMap array)
                continue;
            ulong start = (ulong)array.ValueBase;
            ulong length = (ulong)array.Stride * array.MaxEntries;
            if (src >= start && src - start <= length && size <= length - (src - start))
                return true;
        }
        return false;
    }

    private static ulong Read(ulong dst, ulong size, ulong src, AddressSpace space)
    {
        if (size == 0)
            return 0;
        if (!HelperMemory.CanAccess(dst, size, write: true))
            return BuiltinHelpers.Err(Errno.EFAULT);
        var dest = HelperMemory.Bytes(dst, size);
        var error = Check(src, size, space);
        if (error != Errno.None)
        {
            dest.Clear();
            return BuiltinHelpers.Err(error);
        }
        HelperMemory.Bytes(src, size).CopyTo(dest);
        return 0;
    }

    /// <summary>copy_from_kernel_nofault / copy_from_user_nofault into <paramref name="dst"/> (the dynptr probe-read kfuncs):
    /// 0 or a negative errno; unlike the helpers, nothing is zeroed on a fault.</summary>
    internal static long CopyNofault(Span<byte> dst, ulong src, AddressSpace space)
    {
        if (dst.IsEmpty)
        {
            // copy_from_kernel_nofault_allowed looks at the address before the size: NULL is -ERANGE even for 0 bytes.
            var inv = HelperInvocation.Current;
            bool userHalf = src < LowGuard || (inv is not null && inv.Runtime.ReadableMemory.ReadableFrom(src, AddressSpace.User) > 0);
            return space == AddressSpace.Kernel && userHalf ? -(long)Errno.ERANGE : 0;
        }
        var error = Check(src, (ulong)dst.Length, space);
        if (error != Errno.None)
            return -(long)error;
        new ReadOnlySpan<byte>((void*)src, dst.Length).CopyTo(dst);
        return 0;
    }

    /// <summary>strncpy_from_{kernel,user}_nofault into <paramref name="dst"/>: the bytes copied with the NUL (the last
    /// byte forced to NUL when none came), 0 for an empty <paramref name="dst"/>, or a negative errno (dst[0] = NUL).</summary>
    internal static long CopyStrNofault(Span<byte> dst, ulong src, AddressSpace space)
    {
        if (dst.IsEmpty)
            return 0;
        for (int i = 0; i < dst.Length; i++)
        {
            var error = Check(src + (ulong)i, 1, space);
            if (error != Errno.None)
            {
                dst[i] = 0;
                return -(long)error;
            }
            dst[i] = *(byte*)(src + (ulong)i);
            if (dst[i] == 0)
                return i + 1;
        }
        dst[^1] = 0;
        return dst.Length;
    }

    private static ulong ReadStr(ulong dst, ulong size, ulong src, AddressSpace space)
    {
        if (size == 0)
            return 0;
        if (!HelperMemory.CanAccess(dst, size, write: true))
            return BuiltinHelpers.Err(Errno.EFAULT);
        var dest = HelperMemory.Bytes(dst, size);
        // Copy byte by byte so a string that runs off its region faults exactly where the kernel would.
        for (ulong i = 0; i < size - 1; i++)
        {
            var error = Check(src + i, 1, space);
            if (error != Errno.None)
            {
                dest.Clear();
                return BuiltinHelpers.Err(error);
            }
            byte b = *(byte*)(src + i);
            dest[(int)i] = b;
            if (b == 0)
                return i + 1;
        }
        dest[(int)(size - 1)] = 0;
        return size;
    }
}
