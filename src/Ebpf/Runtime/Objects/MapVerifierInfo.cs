using Ebpf.Collections;
using Ebpf.Abi;
using Ebpf.Verification;

namespace Ebpf.Runtime.Objects;

/// <summary>A live map as the verifier sees it at BPF_PROG_LOAD: its definition, frozen state and inner-map template.</summary>
internal sealed unsafe class MapVerifierInfo(MapObject map) : IVerifierMapInfo
{
    public string Name => map.Name;
    public MapType Type => map.Type;
    public uint KeySize => map.Definition.KeySize;
    public uint ValueSize => map.Definition.ValueSize;
    public uint MaxEntries => map.Definition.MaxEntries;
    public MapFlags Flags => map.Definition.Flags;
    public bool Frozen => map.IsFrozen;
    public int SpinLockOffset => map.Definition.SpinLockOffset;
    public int TimerOffset => map.Definition.TimerOffset;
    /// <summary>bpf_map_direct_read's source: a frozen single-value array's contents (.rodata), read at load time.</summary>
    public ReadOnlyMemory<byte>? FrozenValue
    {
        get
        {
            if (!map.IsFrozen || map.Type != MapType.Array || map.Maps is not Maps.ArrayMap array || map.Definition.MaxEntries != 1)
                return null;
            uint key = 0;
            byte* value = array.ProgramLookup((byte*)&key, 0);
            return value == null ? null : new ReadOnlySpan<byte>(value, (int)map.Definition.ValueSize).ToArray();
        }
    }

    public IVerifierMapInfo? InnerMap =>
        map.Maps is Maps.MapInMap outer ? new TemplateInfo(outer.InnerTemplate) : null;

    /// <summary>The inner-map template of a map-in-map (what a lookup through the outer map returns).</summary>
    private sealed class TemplateInfo(MapDefinition a) : IVerifierMapInfo
    {
        public string Name => a.Name;
        public MapType Type => a.Type;
        public uint KeySize => a.KeySize;
        public uint ValueSize => a.ValueSize;
        public uint MaxEntries => a.MaxEntries;
        public MapFlags Flags => a.Flags;
        public bool Frozen => false;
    }
}
