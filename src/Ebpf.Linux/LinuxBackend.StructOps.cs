using System.Buffers.Binary;
using Ebpf.Abi;
using Ebpf.Collections;
using Ebpf.Linux.Native;

namespace Ebpf.Linux;

// struct_ops registration on the running kernel (libbpf's bpf_map__attach_struct_ops): the value with every
// function-pointer slot holding its program's fd goes into the map (key 0); the kernel registers a plain struct_ops
// map on that update, and a BPF_F_LINK map on BPF_LINK_CREATE (attach type BPF_STRUCT_OPS, the map's fd in prog_fd).
public sealed partial class LinuxBackend : IStructOpsBackend
{
    IDisposable IStructOpsBackend.Register(BpfMap map, byte[] image, IReadOnlyList<(int Offset, BpfProgram Program)> slots, bool link)
    {
        ArgumentNullException.ThrowIfNull(map);
        var kernelMap = K(map);
        var leases = new List<FdLease>();
        try
        {
            foreach (var (offset, program) in slots)
            {
                var lease = K(program).Fd.Lease();
                leases.Add(lease);
                BinaryPrimitives.WriteUInt64LittleEndian(image.AsSpan(offset, 8), (ulong)lease.Value);
            }
            kernelMap.Update(new byte[4], image);
        }
        finally
        {
            foreach (var l in leases)
                l.Dispose();
        }
        if (!link)
            return new StructOpsRegistration(kernelMap, null);
        using var mapFd = kernelMap.Fd.Lease();
        var attr = new LinkCreateAttr { ProgFd = mapFd.Value, AttachType = (uint)AttachType.StructOps };
        long fd = BpfSyscall.Invoke(BpfCommand.LinkCreate, ref attr, $"struct_ops {map.Name}");
        return new StructOpsRegistration(null, BpfSyscall.NewFd(fd, BpfObjectKind.Link));
    }

    /// <summary>A registered struct_ops: a link (closing it unregisters) or a plain map's element (deleted to unregister).</summary>
    private sealed class StructOpsRegistration(KernelMap? map, BpfFd? link) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
                return;
            link?.Dispose();
            map?.Delete(new byte[4]);
        }
    }
}
