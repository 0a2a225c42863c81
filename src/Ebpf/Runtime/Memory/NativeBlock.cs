using System.Runtime.InteropServices;

namespace Ebpf.Runtime.Memory;

/// <summary>Small helpers over <see cref="NativeMemory"/> for BPF-visible memory.</summary>
internal static unsafe class NativeBlock
{
    public const int PageSize = 4096;

    /// <summary>Zeroed memory, 8-byte aligned (glibc/Windows malloc give 16).</summary>
    public static byte* AllocZeroed(nuint size) => (byte*)NativeMemory.AllocZeroed(size == 0 ? 1 : size);

    /// <summary>Zeroed, page-aligned memory (mmapable arrays, ring buffers). Free with <see cref="FreePages"/>.</summary>
    public static byte* AllocPages(nuint size)
    {
        nuint rounded = RoundUp(size == 0 ? 1 : size, PageSize);
        var p = (byte*)NativeMemory.AlignedAlloc(rounded, PageSize);
        NativeMemory.Clear(p, rounded);
        return p;
    }

    public static void FreePages(byte* p) => NativeMemory.AlignedFree(p);

    public static nuint RoundUp(nuint v, nuint align) => (v + align - 1) & ~(align - 1);
    public static int RoundUp8(int v) => (v + 7) & ~7;
}
