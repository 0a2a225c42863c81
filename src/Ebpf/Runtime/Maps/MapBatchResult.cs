namespace Ebpf.Runtime.Maps;

/// <summary>Outcome of a batch operation: elements processed and the final errno (ENOENT = end reached).</summary>
public readonly record struct MapBatchResult(uint Count, Errno Errno);
