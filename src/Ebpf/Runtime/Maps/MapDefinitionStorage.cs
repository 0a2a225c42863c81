using Ebpf.Collections;
using Ebpf.Runtime.Maps;

namespace Ebpf.Collections;

public sealed partial record MapDefinition
{
    /// <summary>The managed runtime's inner-map template storage (what inner_map_fd resolves to), for the map factory.</summary>
    internal BpfMapBase? InnerTemplate { get; init; }
}
