namespace Ebpf.Runtime.Iterators;

/// <summary>
/// The buffer of a BPF iterator's seq_file (kernel fs/seq_file.c as bpf_seq_read uses it): PAGE_SIZE &lt;&lt; 3 bytes,
/// filled by the program's seq helpers. A write that does not fit marks the buffer overflowed (count = size), and
/// every later write fails too until the reader rewinds it to the last complete element.
/// </summary>
internal sealed class SeqFile
{
    /// <summary>bpf_seq_read's buffer: PAGE_SIZE &lt;&lt; 3.</summary>
    public const int BufferSize = 4096 << 3;

    public byte[] Buffer { get; } = new byte[BufferSize];

    /// <summary>seq->count: bytes held (BufferSize once overflowed).</summary>
    public int Count { get; set; }

    /// <summary>seq->from: where the next copy to the reader starts.</summary>
    public int From { get; set; }

    /// <summary>seq_has_overflowed.</summary>
    public bool Overflowed => Count == BufferSize;

    /// <summary>seq_write: all of <paramref name="data"/> or nothing (strictly below the size); false on overflow.</summary>
    public bool Write(ReadOnlySpan<byte> data)
    {
        if (Count + (long)data.Length < BufferSize)
        {
            data.CopyTo(Buffer.AsSpan(Count));
            Count += data.Length;
            return true;
        }
        Count = BufferSize;
        return false;
    }

    /// <summary>seq_vprintf: the formatted text when it fits with room for vsnprintf's NUL, else overflow.</summary>
    public void Print(ReadOnlySpan<byte> text)
    {
        if (Count < BufferSize && Count + (long)text.Length < BufferSize)
        {
            text.CopyTo(Buffer.AsSpan(Count));
            Count += text.Length;
            return;
        }
        Count = BufferSize;
    }
}
