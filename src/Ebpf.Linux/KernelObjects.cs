using Ebpf.Linux.Native;

namespace Ebpf.Linux;

/// <summary>The kernel's id spaces: enumerate programs, maps, BTF objects and links, and open them by id.</summary>
internal static class KernelObjects
{
    public static IEnumerable<uint> EnumerateProgramIds() => Enumerate(BpfCommand.ProgGetNextId);
    public static IEnumerable<uint> EnumerateMapIds() => Enumerate(BpfCommand.MapGetNextId);
    public static IEnumerable<uint> EnumerateBtfIds() => Enumerate(BpfCommand.BtfGetNextId);
    public static IEnumerable<uint> EnumerateLinkIds() => Enumerate(BpfCommand.LinkGetNextId);

    /// <summary>*_GET_NEXT_ID from start_id 0 until ENOENT.</summary>
    private static IEnumerable<uint> Enumerate(BpfCommand command)
    {
        uint id = 0;
        while (true)
        {
            var attr = new GetIdAttr { Id = id };
            if (BpfSyscall.TryInvoke(command, ref attr, out var errno) < 0)
            {
                if (errno == Errno.ENOENT)
                    yield break;
                throw BpfSyscall.Error(command, $"after id {id}", errno);
            }
            id = attr.NextId;
            yield return id;
        }
    }

    /// <summary>*_GET_FD_BY_ID: a new descriptor for an existing object (ENOENT when the id is gone).</summary>
    public static BpfFd OpenById(BpfObjectKind kind, uint id)
    {
        var command = kind switch
        {
            BpfObjectKind.Program => BpfCommand.ProgGetFdById,
            BpfObjectKind.Map => BpfCommand.MapGetFdById,
            BpfObjectKind.Btf => BpfCommand.BtfGetFdById,
            BpfObjectKind.Link => BpfCommand.LinkGetFdById,
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        var attr = new GetIdAttr { Id = id };
        long fd = BpfSyscall.Invoke(command, ref attr, $"id {id}");
        return BpfSyscall.NewFd(fd, kind);
    }
}
