namespace Ebpf.Cli;

// Descriptions of the verb groups that several verb files contribute to (see ICliVerbGroup).

internal sealed class ProgGroup : ICliVerbGroup
{
    public string Name => "prog";
    public string Description => "Load, inspect, verify and test-run programs (bpftool prog)";
}

internal sealed class MapGroup : ICliVerbGroup
{
    public string Name => "map";
    public string Description => "Inspect and change maps (bpftool map)";
}

internal sealed class ObjectGroup : ICliVerbGroup
{
    public string Name => "object";
    public string Description => "Inspect a clang-built BPF object as the loader sees it";
}

internal sealed class BatchGroup : ICliVerbGroup
{
    public string Name => "batch";
    public string Description => "Run a file of commands in one runtime instance (bpftool batch)";
}

internal sealed class FeatureGroup : ICliVerbGroup
{
    public string Name => "feature";
    public string Description => "Probe what the running Linux kernel supports (bpftool feature)";
}

internal sealed class IterGroup : ICliVerbGroup
{
    public string Name => "iter";
    public string Description => "Create and pin BPF iterators (bpftool iter)";
}

internal sealed class LinkGroup : ICliVerbGroup
{
    public string Name => "link";
    public string Description => "Create, inspect, pin, detach and update links (bpftool link)";
}

internal sealed class FsGroup : ICliVerbGroup
{
    public string Name => "fs";
    public string Description => "The BPF file system: list, make directories, unpin";
}
