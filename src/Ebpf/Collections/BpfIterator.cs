namespace Ebpf.Collections;

/// <summary>
/// An open BPF iterator (BPF_ITER_CREATE, or open(2) of a pinned iterator link): reading it runs the iterator
/// program once per element, with the kernel's seq_file semantics (bpf_seq_read).
/// </summary>
public abstract class BpfIterator : IDisposable
{
    /// <summary>read(2): up to <paramref name="buffer"/>'s length of the iterator's text; 0 at the end. Errors are
    /// the kernel's: E2BIG when one element's output does not fit the 32 KiB seq buffer, EAGAIN when the program asks
    /// to retry the first element of a read, …</summary>
    public abstract int Read(Span<byte> buffer);

    /// <summary>Reads until the end in chunks of <paramref name="chunkSize"/> bytes (what <c>cat</c> does).</summary>
    public byte[] ReadToEnd(int chunkSize = 4096)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSize, 1);
        var all = new MemoryStream();
        var chunk = new byte[chunkSize];
        int n;
        while ((n = Read(chunk)) > 0)
            all.Write(chunk, 0, n);
        return all.ToArray();
    }

    /// <summary>close(2).</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the iterator's resources.</summary>
    protected abstract void Dispose(bool disposing);
}
