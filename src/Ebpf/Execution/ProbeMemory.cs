using System.Runtime.CompilerServices;

namespace Ebpf.Execution;

/// <summary>
/// BPF_PROBE_MEM loads: a load through a typed kernel pointer, which the kernel performs with an exception-table
/// entry so that a fault reads as 0. .NET cannot survive a fault, so the runtime opens windows of memory it owns
/// to the running thread (a tracing program's shadow of its target's kernel context, the target's packet) and a
/// probe load reads only inside one of them; anywhere else it reads 0 — what the kernel shows for an address it
/// cannot read, and never the host's memory.
/// </summary>
internal static unsafe class ProbeMemory
{
    /// <summary>[Start, Start + Length) readable by probe loads.</summary>
    internal readonly record struct Window(ulong Start, ulong Length);

    [ThreadStatic] private static Window[]? t_windows;

    /// <summary>The probe load of <c>size | (signed ? 0x100 : 0)</c> bytes at <paramref name="address"/>.</summary>
    public static ulong Load(ulong address, int sizeAndSign)
    {
        int size = sizeAndSign & 0xff;
        var windows = t_windows;
        if (windows is null)
            return 0;
        foreach (var w in windows)
        {
            ulong into = address - w.Start;
            if (address < w.Start || into > w.Length || (ulong)size > w.Length - into)
                continue;
            bool signed = (sizeAndSign & 0x100) != 0;
            void* p = (void*)address;
            return size switch
            {
                1 => signed ? (ulong)(long)*(sbyte*)p : *(byte*)p,
                2 => signed ? (ulong)(long)Unsafe.ReadUnaligned<short>(p) : Unsafe.ReadUnaligned<ushort>(p),
                4 => signed ? (ulong)(long)Unsafe.ReadUnaligned<int>(p) : Unsafe.ReadUnaligned<uint>(p),
                _ => Unsafe.ReadUnaligned<ulong>(p),
            };
        }
        return 0;
    }

    /// <summary>Opens <paramref name="windows"/> to probe loads on this thread until the scope is disposed (nesting restores the outer set).</summary>
    public static Scope Open(Window[] windows)
    {
        var outer = t_windows;
        t_windows = windows;
        return new Scope(outer);
    }

    /// <summary>Restores the windows that were open before <see cref="Open"/>.</summary>
    public readonly struct Scope(Window[]? outer) : IDisposable
    {
        public void Dispose() => t_windows = outer;
    }

    /// <summary>Turns the decoded loads at <paramref name="probes"/> into <see cref="Operation.ProbeLoad"/>.</summary>
    internal static void MarkProbeLoads(DecodedInstruction[] code, int length, IReadOnlySet<int> probes)
    {
        foreach (int pc in probes)
        {
            if ((uint)pc >= (uint)length)
                continue;
            int? sizeAndSign = code[pc].Op switch
            {
                Operation.LdxB => 1,
                Operation.LdxH => 2,
                Operation.LdxW => 4,
                Operation.LdxDW => 8,
                Operation.LdxSxB => 1 | 0x100,
                Operation.LdxSxH => 2 | 0x100,
                Operation.LdxSxW => 4 | 0x100,
                _ => null,
            };
            if (sizeAndSign is not int v)
                continue;
            code[pc].Imm = v;
            code[pc].Op = Operation.ProbeLoad;
        }
    }
}
