using Ebpf.Abi;
using Ebpf.Verification;

namespace Ebpf.Runtime.Objects;

/// <summary>A live map as the verifier sees it at BPF_PROG_LOAD: its definition, frozen state and inner-map template.</summary>
internal sealed class MapVerifierInfo(MapObject map) : IVerifierMapInfo
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
    public IVerifierMapInfo? InnerMap =>
        map.Maps is Maps.MapInMap outer ? new TemplateInfo(outer.InnerTemplate) : null;

    /// <summary>The inner-map template of a map-in-map (what a lookup through the outer map returns).</summary>
    private sealed class TemplateInfo(Maps.MapAttributes a) : IVerifierMapInfo
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
