namespace Ebpf;

/// <summary>
/// The one error type of the library: a kernel-style errno plus a message that names the place
/// (section, type id, instruction index, line). Callers switch on <see cref="Errno"/>; people read
/// the message. An optional verifier or loader log travels with it.
/// </summary>
public class BpfException : Exception
{
    /// <summary>
    /// An error with <paramref name="errno"/> and a <paramref name="message"/> that names where it happened.
    /// </summary>
    public BpfException(Errno errno, string message, Exception? inner = null)
        : base(message, inner)
    {
        Errno = errno;
    }

    /// <summary>An error that carries the verifier or loader <paramref name="log"/> explaining it.</summary>
    public BpfException(Errno errno, string message, string? log)
        : base(message)
    {
        Errno = errno;
        Log = log;
    }

    /// <summary>The kernel-style errno: what bpf(2) would have returned for the same input.</summary>
    public Errno Errno { get; }

    /// <summary>The verifier or loader log that explains the failure, when there is one.</summary>
    public string? Log { get; init; }

    /// <summary>The message followed by the errno name, the way the CLI prints it.</summary>
    public override string ToString() => $"{Message} ({Errno})";

    /// <summary>Wraps this error with what the caller was doing, keeping the errno (cilium/ebpf style).</summary>
    public BpfException Wrap(string doing) => new(Errno, $"{doing}: {Message}", this) { Log = Log };
}
