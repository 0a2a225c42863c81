using System.Runtime.InteropServices;
using Ebpf.Runtime.Memory;

namespace Ebpf.Runtime.Maps;

/// <summary>
/// A map bpf_redirect_map can target (devmap, devmap_hash, cpumap, xskmap): the program-side
/// lookup that __bpf_xdp_redirect_map performs, and the flag bits the type accepts besides the
/// fallback action (devmaps: BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS; others: none).
/// </summary>
internal interface IRedirectMap
{
    ulong RedirectFlagMask { get; }

    /// <summary>The target stored under <paramref name="key"/> (a device, CPU entry or socket), or null.</summary>
    RedirectEntry? RedirectLookup(uint key);

    /// <summary>Every stored target, for BPF_F_BROADCAST.</summary>
    IReadOnlyList<RedirectEntry> RedirectTargets();
}

/// <summary>Host-side operations every redirect map shares.</summary>
internal static class RedirectMaps
{
    /// <summary>BPF_MAP_LOOKUP_ELEM: the stored value of the slot a u32 key names, or ENOENT.</summary>
    public static Errno LookupInto(IRedirectMap map, ReadOnlySpan<byte> key, Span<byte> value)
    {
        var e = map.RedirectLookup(System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(key));
        if (e is null) return Errno.ENOENT;
        e.CopyTo(value);
        return Errno.None;
    }
}

/// <summary>
/// One slot of a redirect map. <see cref="Target"/> is what the host's resolver produced (a network
/// device, an AF_XDP socket, or for cpumaps the CPU number); <see cref="Program"/> is the optional
/// devmap/cpumap program (holding one reference); <see cref="Value"/> is the native copy of the value
/// a BPF-side lookup returns (reclaimed through the epoch once the slot changes).
/// </summary>
internal sealed unsafe class RedirectEntry
{
    internal RedirectEntry(uint key, uint first, object? target, ProgArrayEntry? program, int valueSize)
    {
        Key = key;
        First = first;
        Target = target;
        Program = program;
        Value = (byte*)NativeMemory.AllocZeroed(8);
        ((uint*)Value)[0] = first;
        ((uint*)Value)[1] = program?.Id ?? 0;
        ValueSize = valueSize;
    }

    public uint Key { get; }
    /// <summary>The first u32 of the value: ifindex (devmaps), qsize (cpumap), socket id (xskmap).</summary>
    public uint First { get; }
    public object? Target { get; }
    public ProgArrayEntry? Program { get; }
    internal byte* Value { get; }
    internal int ValueSize { get; }

    /// <summary>The host's view of the value: first u32, then the program id when the value has room.</summary>
    internal void CopyTo(Span<byte> value) => new ReadOnlySpan<byte>(Value, ValueSize).CopyTo(value);

    /// <summary>Frees the native value once no reader can hold it.</summary>
    internal void RetireValue() => EpochManager.Retire(Value);
}
