using Ebpf.Abi;
using Ebpf.Collections;
using Ebpf.Runtime.Iterators;
using Ebpf.Runtime.Objects;

namespace Ebpf.Runtime;

// BPF iterators (kernel/bpf/bpf_iter.c): iterator links (BPF_LINK_CREATE with iter_info), BPF_ITER_CREATE, and the
// pinned iterator link that opening (cat) turns into a new iterator.
public sealed partial class BpfRuntime
{
    private long _iterSessions;

    /// <summary>
    /// bpf_iter_link_attach: an iterator link for <paramref name="program"/> (loaded as SEC("iter/TARGET")). The
    /// bpf_map_elem target needs <paramref name="map"/> (EBADF without; EINVAL for a map type it cannot walk; EACCES
    /// when the program reads beyond the map's key or value, as verified).
    /// </summary>
    internal BpfLink AttachIterator(ProgramObject program, MapObject? map)
    {
        if (program.Type != ProgramType.Tracing || program.ExpectedAttachType != AttachType.TraceIter)
            throw new BpfException(Errno.EINVAL, $"program {program.Id} ({program.Name}) is not an iterator program (attach type {program.ExpectedAttachType})");
        string target = program.IterTarget
            ?? throw new BpfException(Errno.ENOENT, $"program {program.Id} ({program.Name}): no iterator target");
        if (target != "bpf_map_elem")
            return CreateLink(program, LinkType.Iter, AttachType.TraceIter, _ => new IterLinkAttachment(target, null));
        if (map is null)
            throw new BpfException(Errno.EBADF, $"iterator {program.Name}: bpf_map_elem needs a map (iter_info map_fd)");
        if (!map.TryAcquireUser())
            throw new BpfException(Errno.EBADF, $"map {map.Id} is being freed");
        try
        {
            CheckIterMap(program, map);
            return CreateLink(program, LinkType.Iter, AttachType.TraceIter, _ => new IterLinkAttachment(target, map));
        }
        catch
        {
            map.ReleaseUser();
            throw;
        }
    }

    /// <summary>bpf_iter_attach_map: the map types bpf_map_elem walks and the verified buffer accesses against its sizes.</summary>
    private static void CheckIterMap(ProgramObject program, MapObject map)
    {
        bool percpu = map.Type is MapType.PercpuHash or MapType.LruPercpuHash or MapType.PercpuArray;
        if (!percpu && map.Type is not (MapType.Hash or MapType.LruHash or MapType.Array))
            throw new BpfException(Errno.EINVAL, $"map {map.Id} ({map.Type}): bpf_map_elem iterates hash, LRU hash and array maps (and their per-CPU forms) only");
        var verified = program.Verification?.Program;
        int keyAccess = verified?.MaxReadOnlyBufferAccess ?? 0, valueAccess = verified?.MaxReadWriteBufferAccess ?? 0;
        long valueSize = percpu ? ((map.Definition.ValueSize + 7) & ~7u) * (long)Maps.BpfCpu.PossibleCount : map.Definition.ValueSize;
        if (keyAccess > map.Definition.KeySize || valueAccess > valueSize)
            throw new BpfException(Errno.EACCES,
                $"map {map.Id}: the program reads {keyAccess} key bytes and {valueAccess} value bytes; the map has {map.Definition.KeySize} and {valueSize}");
    }

    /// <summary>BPF_ITER_CREATE: a new session over an iterator link (EINVAL for any other link).</summary>
    internal BpfIterator CreateIterator(LinkObject link)
    {
        if (link.Attachment is not IterLinkAttachment attachment || link.Program is not { } program)
            throw new BpfException(Errno.EINVAL, $"link {link.Id} is not an iterator link");
        if (!link.TryAcquire())
            throw new BpfException(Errno.ENOENT, $"link {link.Id} is being freed");
        if (!program.TryAcquire())
        {
            link.Release();
            throw new BpfException(Errno.ENOENT, $"program {program.Id} is being freed");
        }
        try
        {
            var kernel = Profile.KernelBtf ?? throw new BpfException(Errno.EINVAL, "iterators need the kernel BTF");
            IterCursor cursor = attachment.Target switch
            {
                "bpf_map_elem" => new MapElemCursor(attachment.Map!, kernel),
                "bpf_map" => new MapCursor(this, kernel),
                "bpf_prog" => new ProgCursor(this, kernel),
                "bpf_link" => new LinkCursor(this, kernel),
                _ => throw new BpfException(Errno.EINVAL, $"iterator target {attachment.Target} is not supported"),
            };
            return new ManagedIterator(link, program, cursor, (ulong)Interlocked.Increment(ref _iterSessions));
        }
        catch
        {
            program.Release();
            link.Release();
            throw;
        }
    }

    /// <summary>open(2) of a pinned iterator link (what <c>cat</c> on bpftool's pinned iterator does): a new session;
    /// EINVAL for a pin that is not an iterator link.</summary>
    internal BpfIterator OpenPinnedIterator(string path)
    {
        using var handle = Pins.Get(path);
        if (handle is not BpfLink link)
            throw new BpfException(Errno.EINVAL, $"open '{path}': not an iterator link");
        return CreateIterator(link.Link);
    }
}
