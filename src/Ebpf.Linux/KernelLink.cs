using System.Text;
using Ebpf.Abi;
using Ebpf.Collections;
using Ebpf.Linux.Native;

namespace Ebpf.Linux;

/// <summary>Inputs of BPF_LINK_CREATE (the generic head; per-type extras go in the union words).</summary>
public sealed class LinkCreateOptions
{
    /// <summary>The program to attach (link_create.prog_fd).</summary>
    public required KernelProgram Program { get; init; }
    /// <summary>The object to attach to: a cgroup or netns directory fd, a map fd, or a program fd.</summary>
    public System.Runtime.InteropServices.SafeHandle? TargetFd { get; init; }
    /// <summary>The interface index (XDP, tcx, netkit) when there is no target fd.</summary>
    public uint TargetIfindex { get; init; }
    /// <summary>link_create.attach_type: which hook of the target.</summary>
    public required AttachType AttachType { get; init; }
    /// <summary>link_create.flags, per attach type (e.g. BPF_F_BEFORE/BPF_F_AFTER for tcx); 0 for most.</summary>
    public uint Flags { get; init; }
    /// <summary>target_btf_id (freplace/fentry to a program's BTF function).</summary>
    public uint TargetBtfId { get; init; }
    /// <summary>tracing.cookie (offset 24 of the union), what bpf_get_attach_cookie returns to the program.</summary>
    public ulong Cookie { get; init; }
    /// <summary>iter_info: the address of a union bpf_iter_link_info (offset 16 of the union; 0 for none).</summary>
    public ulong IterInfo { get; init; }
    /// <summary>iter_info_len (offset 24).</summary>
    public uint IterInfoLength { get; init; }
}

/// <summary>A link: a program attached to a hook, held by this fd (or a pin) and detached when the last reference goes.</summary>
public sealed unsafe class KernelLink : IDisposable
{
    private KernelLink(BpfFd fd, string what)
    {
        Fd = fd;
        What = what;
    }

    /// <summary>The link's descriptor; closing the last one (with no pin) detaches the program.</summary>
    public BpfFd Fd { get; }
    private string What { get; }

    /// <summary>BPF_LINK_CREATE.</summary>
    public static KernelLink Create(LinkCreateOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        string what = $"{options.Program.Name} {options.AttachType}";
        using var prog = options.Program.Fd.Lease();
        bool targetAdded = false;
        options.TargetFd?.DangerousAddRef(ref targetAdded);
        try
        {
        var attr = new LinkCreateAttr
        {
            ProgFd = prog.Value,
            TargetFdOrIfindex = options.TargetFd is { } t ? (uint)t.DangerousGetHandle().ToInt64() : options.TargetIfindex,
            AttachType = (uint)options.AttachType,
            Flags = options.Flags,
            Union0 = options.IterInfo != 0 ? options.IterInfo : options.TargetBtfId,
            Union1 = options.IterInfo != 0 ? options.IterInfoLength : options.Cookie,
        };
        long fd = BpfSyscall.Invoke(BpfCommand.LinkCreate, ref attr, what);
        return new KernelLink(BpfSyscall.NewFd(fd, BpfObjectKind.Link), what);
        }
        finally
        {
            if (targetAdded)
                options.TargetFd!.DangerousRelease();
        }
    }

    /// <summary>BPF_RAW_TRACEPOINT_OPEN: attaches a raw_tracepoint program; the result is a link (5.8+).</summary>
    public static KernelLink AttachRawTracepoint(KernelProgram program, string tracepoint)
    {
        string what = $"{program.Name} {tracepoint}";
        byte[] name = Encoding.ASCII.GetBytes(tracepoint + "\0");
        using var prog = program.Fd.Lease();
        fixed (byte* n = name)
        {
            var attr = new RawTracepointOpenAttr { Name = (ulong)n, ProgFd = prog.Value };
            long fd = BpfSyscall.Invoke(BpfCommand.RawTracepointOpen, ref attr, what);
            return new KernelLink(BpfSyscall.NewFd(fd, BpfObjectKind.Link), what);
        }
    }

    /// <summary>Takes ownership of a link descriptor obtained elsewhere.</summary>
    public static KernelLink FromFd(BpfFd fd) => new(fd, "link");

    /// <summary>BPF_LINK_GET_FD_BY_ID.</summary>
    public static KernelLink FromId(uint id) => new(KernelObjects.OpenById(BpfObjectKind.Link, id), $"link {id}");

    /// <summary>BPF_OBJ_GET of a pinned link.</summary>
    public static KernelLink LoadPinned(string path) => new(BpfFs.Get(path, BpfObjectKind.Link), path);

    /// <summary>BPF_OBJ_PIN under a bpffs mount, so the link outlives this process.</summary>
    public void Pin(string path) => BpfFs.Pin(Fd, path, What);

    /// <summary>BPF_LINK_UPDATE: swaps the program; with <paramref name="expected"/>, only if that one is attached (BPF_F_REPLACE).</summary>
    public void Update(KernelProgram newProgram, KernelProgram? expected = null)
    {
        using var link = Fd.Lease();
        using var prog = newProgram.Fd.Lease();
        using var old = FdLease.Of(expected?.Fd);
        var attr = new LinkUpdateAttr
        {
            LinkFd = link.Value,
            NewProgFd = prog.Value,
            Flags = expected is null ? 0u : 4u, // BPF_F_REPLACE
            OldProgFd = old.Value,
        };
        BpfSyscall.Invoke(BpfCommand.LinkUpdate, ref attr, What);
    }

    /// <summary>BPF_LINK_DETACH: detaches the program while the link object (and this fd) stays valid.</summary>
    public void Detach()
    {
        using var link = Fd.Lease();
        var attr = new LinkDetachAttr { LinkFd = link.Value };
        BpfSyscall.Invoke(BpfCommand.LinkDetach, ref attr, What);
    }

    /// <summary>BPF_OBJ_GET_INFO_BY_FD into struct bpf_link_info: type, id, prog_id and the per-type target fields.</summary>
    public LinkInfo GetInfo()
    {
        var name = new byte[256];
        var probe = new LinkInfoNative();
        ObjectInfo.Get(Fd, ref probe, What);
        string? tracepoint = null;
        if ((LinkType)probe.Type is LinkType.RawTracepoint or LinkType.Iter)
        {
            fixed (byte* n = name)
            {
                var again = new LinkInfoNative { Union0 = (ulong)n, Union1 = (uint)name.Length };
                ObjectInfo.Get(Fd, ref again, What);
                tracepoint = KernelProgram.ReadCString(name);
                probe = again;
            }
        }
        bool tracing = (LinkType)probe.Type == LinkType.Tracing;
        bool iter = (LinkType)probe.Type == LinkType.Iter;
        // bpf_link_info.iter: target_name, target_name_len, then map.map_id (the same word as the name's length's neighbour).
        string? iterTarget = iter ? tracepoint : null;
        if (iter)
            tracepoint = null;
        // bpf_link_info.xdp.ifindex: 0 once the link is detached or its device is gone, while prog_id stays.
        int ifindex = (LinkType)probe.Type == LinkType.Xdp ? (int)(uint)probe.Union0 : 0;
        return new LinkInfo
        {
            Type = (LinkType)probe.Type,
            Id = probe.Id,
            ProgramId = probe.ProgId,
            TracepointName = tracepoint,
            TypeSpecific = tracepoint is null ? [probe.Union0, probe.Union1, probe.Union2, probe.Union3] : [],
            Detached = (LinkType)probe.Type == LinkType.Xdp ? ifindex == 0 : probe.ProgId == 0,
            Ifindex = ifindex,
            AttachType = AttachTypeOf((LinkType)probe.Type, probe),
            // bpf_link_info.tracing: attach_type, target_obj_id, target_btf_id, (pad), cookie (6.18).
            TargetObjectId = tracing ? (uint)(probe.Union0 >> 32) : 0,
            TargetBtfId = tracing ? (uint)probe.Union1 : 0,
            Cookie = tracing ? probe.Union2 : 0,
            IterTargetName = iterTarget,
            IterMapId = iter ? (uint)(probe.Union1 >> 32) : 0,
        };
    }

    /// <summary>Where bpf_link_info keeps the attach type: tracing (first word), cgroup (after cgroup_id), netns and tcx (second u32).</summary>
    private static AttachType AttachTypeOf(LinkType type, LinkInfoNative info) => type switch
    {
        LinkType.Tracing => (AttachType)(uint)info.Union0,
        LinkType.Cgroup => (AttachType)(uint)info.Union1,
        LinkType.Netns or LinkType.Tcx => (AttachType)(uint)(info.Union0 >> 32),
        _ => default,
    };

    /// <summary>Closes this descriptor; the link detaches when no other fd or pin holds it.</summary>
    public void Dispose() => Fd.Dispose();
}
