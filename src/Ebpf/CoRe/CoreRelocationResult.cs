namespace Ebpf.CoRe;

/// <summary>
/// What one relocation resolved to (libbpf's bpf_core_relo_res): the value the compiler wrote (<see cref="Original"/>,
/// from the local BTF) and the value for the target (<see cref="New"/>), or <see cref="Poison"/> when the target has
/// no such field/enumerator; with the field sizes on both sides for load/store size adjustment.
/// </summary>
public sealed record CoreRelocationResult
{
    /// <summary>The value the compiler wrote, computed from the local BTF.</summary>
    public ulong Original { get; init; }
    /// <summary>The value for the target BTF, written into the instruction.</summary>
    public ulong New { get; init; }
    /// <summary>No target satisfies the relocation and its kind has no "missing" value: the instruction becomes a call to 0xbad2310.</summary>
    public bool Poison { get; init; }
    /// <summary>The instruction's current value must equal <see cref="Original"/> before patching.</summary>
    public bool Validate { get; init; } = true;
    /// <summary>The field sizes differ in a way a load/store cannot be adjusted for (only pointers and unsigned ints can).</summary>
    public bool FailMemorySizeAdjust { get; init; }
    /// <summary>The field's size in the local BTF.</summary>
    public uint OriginalSize { get; init; }
    /// <summary>The field's size in the target BTF (a load/store is resized to it).</summary>
    public uint NewSize { get; init; }
    /// <summary>The local type id the relocation's value is based on.</summary>
    public uint OriginalTypeId { get; init; }
    /// <summary>The matching target type id.</summary>
    public uint NewTypeId { get; init; }
    /// <summary>The local spec, and the target spec the result came from (null when no candidate matched).</summary>
    public required CoreSpec Local { get; init; }
    /// <summary>The target spec the result came from; null when no candidate matched.</summary>
    public CoreSpec? Target { get; init; }
    /// <summary>The BTF the target came from ("vmlinux", a module name, or the custom target's name).</summary>
    public string? TargetBtfName { get; init; }
}
