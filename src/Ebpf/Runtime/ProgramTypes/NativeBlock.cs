using System.Runtime.InteropServices;

namespace Ebpf.Runtime.ProgramTypes;

/// <summary>A zeroed native allocation with a stable address, freed once (IDisposable + finalizer).</summary>
internal sealed unsafe class NativeBlock : IDisposable
{
    private nint _pointer;

    public NativeBlock(int size)
    {
        Size = size;
        _pointer = (nint)NativeMemory.AlignedAlloc((nuint)Math.Max(size, 1), 64);
        new Span<byte>((void*)_pointer, Size).Clear();
    }

    ~NativeBlock() => Free();

    public int Size { get; }
    public nint Pointer => _pointer != 0 ? _pointer : throw new ObjectDisposedException(nameof(NativeBlock));
    public Span<byte> Span => new((void*)Pointer, Size);

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    private void Free()
    {
        nint p = Interlocked.Exchange(ref _pointer, 0);
        if (p != 0)
            NativeMemory.AlignedFree((void*)p);
    }
}
