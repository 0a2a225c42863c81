namespace Ebpf.Execution;

/// <summary>What a program may do with a <see cref="MemoryRegion"/>.</summary>
[Flags]
public enum MemoryAccess
{
    None = 0,
    Read = 1,
    Write = 2,
    ReadWrite = Read | Write,
}

/// <summary>
/// A range of native memory a program may touch in checked mode (a ctx, a packet, a map value, the
/// conformance suite's <c>-- mem</c>). The memory itself belongs to whoever registered it and must stay
/// valid and at the same address while the program runs.
/// </summary>
public readonly record struct MemoryRegion(nuint Address, nuint Length, MemoryAccess Access, string Name = "memory")
{
    public nuint End => Address + Length;

    public bool Contains(ulong address, int size) =>
        address >= Address && size >= 0 && address + (ulong)size >= address && address + (ulong)size <= (ulong)End;

    public override string ToString() => $"{Name} [0x{(ulong)Address:x}, 0x{(ulong)End:x}) {Access}";
}
