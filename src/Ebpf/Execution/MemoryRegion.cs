namespace Ebpf.Execution;

/// <summary>What a program may do with a <see cref="MemoryRegion"/>.</summary>
[Flags]
public enum MemoryAccess
{
    /// <summary>No access.</summary>
    None = 0,
    /// <summary>Loads are allowed.</summary>
    Read = 1,
    /// <summary>Stores (and atomics) are allowed.</summary>
    Write = 2,
    /// <summary>Loads and stores are allowed.</summary>
    ReadWrite = Read | Write,
}

/// <summary>
/// A range of native memory a program may touch in checked mode (a ctx, a packet, a map value, the
/// conformance suite's <c>-- mem</c>). The memory itself belongs to whoever registered it and must stay
/// valid and at the same address while the program runs.
/// </summary>
public readonly record struct MemoryRegion(nuint Address, nuint Length, MemoryAccess Access, string Name = "memory")
{
    /// <summary>First address past the region.</summary>
    public nuint End => Address + Length;

    /// <summary>
    /// Whether [<paramref name="address"/>, address + <paramref name="size"/>) lies inside the region
    /// (overflow-safe).
    /// </summary>
    public bool Contains(ulong address, int size) =>
        address >= Address && size >= 0 && address + (ulong)size >= address && address + (ulong)size <= (ulong)End;

    /// <summary>Name, range and access, for diagnostics.</summary>
    public override string ToString() => $"{Name} [0x{(ulong)Address:x}, 0x{(ulong)End:x}) {Access}";
}
