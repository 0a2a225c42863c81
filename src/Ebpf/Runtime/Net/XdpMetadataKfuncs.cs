using System.Buffers.Binary;
using Ebpf.Abi;
using Ebpf.Execution;
using Ebpf.Isa;
using Ebpf.Runtime.Helpers;
using Ebpf.Runtime.Objects;
using Ebpf.Runtime.ProgramTypes;

namespace Ebpf.Runtime.Net;

/// <summary>
/// The XDP metadata kfuncs (bpf_xdp_metadata_rx_timestamp / _rx_hash / _rx_vlan_tag, vmlinux BTF ids). The verifier
/// refuses them outside a device-bound program (bpf_dev_bound_kfunc_check) and checks their arguments against the
/// vmlinux prototypes; after verification each call is bound, as fixup_kfunc_call does with
/// bpf_dev_bound_resolve_kfunc, to the bound device's implementation when its driver has the op, else to the kernel's
/// default, which returns -EOPNOTSUPP. The device's implementation reads the frame's <see cref="XdpRxMetadata"/> (what
/// the host injected with it) and returns -ENODATA for a value that is absent, as veth does.
/// </summary>
internal static unsafe class XdpMetadataKfuncs
{
    public const string Timestamp = "bpf_xdp_metadata_rx_timestamp", Hash = "bpf_xdp_metadata_rx_hash", VlanTag = "bpf_xdp_metadata_rx_vlan_tag";

    /// <summary>Bound calls become calls of these helper ids (timestamp, hash, vlan tag, the -EOPNOTSUPP default).</summary>
    private const int HelperBase = 0xE000, TimestampId = HelperBase, HashId = HelperBase + 1, VlanTagId = HelperBase + 2, DefaultId = HelperBase + 3;

    /// <summary>bpf_dev_bound_kfunc_id: one of the three.</summary>
    public static bool IsMetadataKfunc(string name) => name is Timestamp or Hash or VlanTag;

    /// <summary>The metadata kfunc a call instruction (vmlinux kfunc, off 0) names, or null.</summary>
    public static string? MetadataKfuncOf(Instruction insn, Btf.BtfSpec? vmlinux) =>
        insn.IsCall && insn.Src == (byte)CallSource.Kfunc && insn.Offset == 0
        && Verification.KernelFunctions.ResolveById(insn.Imm, vmlinux) is { } kf && IsMetadataKfunc(kf.Name) ? kf.Name : null;

    /// <summary>
    /// fixup_kfunc_call for the metadata kfuncs of <paramref name="program"/>: each becomes a call of the device's op
    /// (when the bound device's driver has it at this moment) or of the -EOPNOTSUPP default.
    /// </summary>
    public static Instruction[] Bind(ProgramObject program, Instruction[] insns, Btf.BtfSpec? vmlinux)
    {
        var ops = program.BoundDevice?.XdpMetadata ?? XdpMetadataOps.None;
        for (int pc = 0; pc < insns.Length; pc++)
        {
            if (insns[pc].IsLoadImm64)
            {
                pc++;
                continue;
            }
            if (MetadataKfuncOf(insns[pc], vmlinux) is not { } name)
                continue;
            int id = name switch
            {
                Timestamp when (ops & XdpMetadataOps.Timestamp) != 0 => TimestampId,
                Hash when (ops & XdpMetadataOps.Hash) != 0 => HashId,
                VlanTag when (ops & XdpMetadataOps.VlanTag) != 0 => VlanTagId,
                _ => DefaultId,
            };
            insns[pc] = new Instruction(insns[pc].Opcode, 0, 0, 0, id);
        }
        return insns;
    }

    /// <summary>Adds the implementations to a program's helper table.</summary>
    public static void Register(HelperTable table)
    {
        table.Register(TimestampId, &RxTimestamp, Timestamp);
        table.Register(HashId, &RxHash, Hash);
        table.Register(VlanTagId, &RxVlanTag, VlanTag);
        table.Register(DefaultId, &NotSupported, "xdp_metadata_default");
    }

    private static XdpRxMetadata? Metadata => (HelperInvocation.Current?.PacketState as XdpContext)?.RxMetadata;

    private static ulong Fail(Ebpf.Errno e) => BuiltinHelpers.Err(e);

    /// <summary>The kernel's default bodies (net/core/xdp.c): the device has no such op.</summary>
    private static ulong NotSupported(ulong ctx, ulong r2, ulong r3, ulong r4, ulong r5) => Fail(Ebpf.Errno.EOPNOTSUPP);

    /// <summary>veth_xdp_rx_timestamp.</summary>
    private static ulong RxTimestamp(ulong ctx, ulong timestamp, ulong r3, ulong r4, ulong r5)
    {
        if (Metadata?.Timestamp is not { } t) return Fail(Ebpf.Errno.ENODATA);
        if (!HelperMemory.CanAccess(timestamp, 8, write: true)) return Fail(Ebpf.Errno.EFAULT);
        BinaryPrimitives.WriteUInt64LittleEndian(HelperMemory.Bytes(timestamp, 8), t);
        return 0;
    }

    /// <summary>veth_xdp_rx_hash.</summary>
    private static ulong RxHash(ulong ctx, ulong hash, ulong rssType, ulong r4, ulong r5)
    {
        var m = Metadata;
        if (m?.Hash is not { } h) return Fail(Ebpf.Errno.ENODATA);
        if (!HelperMemory.CanAccess(hash, 4, write: true) || !HelperMemory.CanAccess(rssType, 4, write: true)) return Fail(Ebpf.Errno.EFAULT);
        BinaryPrimitives.WriteUInt32LittleEndian(HelperMemory.Bytes(hash, 4), h);
        BinaryPrimitives.WriteUInt32LittleEndian(HelperMemory.Bytes(rssType, 4), m.RssType);
        return 0;
    }

    /// <summary>veth_xdp_rx_vlan_tag: the protocol as __be16, the TCI in host order.</summary>
    private static ulong RxVlanTag(ulong ctx, ulong proto, ulong tci, ulong r4, ulong r5)
    {
        var m = Metadata;
        if (m?.VlanProto is not { } p) return Fail(Ebpf.Errno.ENODATA);
        if (!HelperMemory.CanAccess(proto, 2, write: true) || !HelperMemory.CanAccess(tci, 2, write: true)) return Fail(Ebpf.Errno.EFAULT);
        BinaryPrimitives.WriteUInt16BigEndian(HelperMemory.Bytes(proto, 2), p);
        BinaryPrimitives.WriteUInt16LittleEndian(HelperMemory.Bytes(tci, 2), m.VlanTci);
        return 0;
    }
}
