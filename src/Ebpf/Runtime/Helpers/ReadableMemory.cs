namespace Ebpf.Runtime.Helpers;

/// <summary>Which half of the address space a region models: decides probe_read's error (-ERANGE vs -EFAULT).</summary>
public enum AddressSpace
{
    /// <summary>Kernel memory: what bpf_probe_read_kernel(_str) may read.</summary>
    Kernel,
    /// <summary>User memory of the traced process: read by bpf_probe_read_user(_str) and bpf_copy_from_user.</summary>
    User,
}

/// <summary>
/// Native ranges the host declares readable by probe_read*: the stand-in for "kernel memory" and
/// "user memory" of a traced process. A read is allowed only when it lies entirely inside one
/// registered region of the requested space; anything else faults as in copy_from_*_nofault.
/// </summary>
public sealed class ReadableMemory
{
    private volatile Region[] _regions = [];
    private readonly Lock _lock = new();

    private sealed record Region(nuint Start, nuint Length, AddressSpace Space, long Token);
    private long _nextToken;

    /// <summary>Registers [start, start+length); dispose the result to remove it.</summary>
    public IDisposable Register(nint start, nuint length, AddressSpace space)
    {
        if (start == 0 || length == 0)
            throw new BpfException(Errno.EINVAL, "readable region must be non-null and non-empty");
        long token = Interlocked.Increment(ref _nextToken);
        lock (_lock)
            _regions = [.. _regions, new Region((nuint)start, length, space, token)];
        return new Registration(this, token);
    }

    private sealed class Registration(ReadableMemory owner, long token) : IDisposable
    {
        public void Dispose()
        {
            lock (owner._lock)
                owner._regions = owner._regions.Where(r => r.Token != token).ToArray();
        }
    }

    /// <summary>True when [address, address+size) lies inside one region of <paramref name="space"/>.</summary>
    public bool Contains(ulong address, ulong size, AddressSpace space)
    {
        foreach (var r in _regions)
        {
            if (r.Space != space)
                continue;
            ulong start = r.Start, end = r.Start + r.Length;
            if (address >= start && address <= end && size <= end - address)
                return true;
        }
        return false;
    }

    /// <summary>Bytes readable from <paramref name="address"/> to the end of its region (0 when unmapped).</summary>
    public ulong ReadableFrom(ulong address, AddressSpace space)
    {
        foreach (var r in _regions)
        {
            if (r.Space == space && address >= r.Start && address < r.Start + r.Length)
                return r.Start + r.Length - address;
        }
        return 0;
    }
}
