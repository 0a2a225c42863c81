using System.Buffers.Binary;
using Ebpf.Abi.Profiles;
using Ebpf.Btf;
using Ebpf.Linux;
using Ebpf.Linux.Probes;

namespace Ebpf.Tests.CoRe;

/// <summary>
/// FEAT_ARG_CTX_TAG as libbpf probes it (probe_kern_arg_ctx_tag): the same BTF, byte for byte, and the same kprobe;
/// its answer on this kernel checked the way libbpf's selftest decides native support (vmlinux has
/// <c>struct bpf_subprog_arg_info</c> since 6.8).
/// </summary>
public class ArgCtxProbeTests
{
    [Fact]
    public void The_probe_btf_is_libbpfs_blob()
    {
        // libbpf: strs "\0a\0b\0arg:ctx\0"; INT 'a' signed 32; PTR void; FUNC_PROTO int(void *a); FUNC 'a' global;
        // FUNC_PROTO int(void *b); FUNC 'b' global; DECL_TAG 'arg:ctx' -> [6] component 0.
        uint[] types =
        [
            1, 1u << 24, 4, (1u << 24) | 32,
            0, 2u << 24, 0,
            0, (13u << 24) | 1, 1, 1, 2,
            1, (12u << 24) | 1, 3,
            0, (13u << 24) | 1, 1, 3, 2,
            3, (12u << 24) | 1, 5,
            5, 17u << 24, 6, 0,
        ];
        byte[] strings = "\0a\0b\0arg:ctx\0"u8.ToArray();
        var expected = new byte[24 + types.Length * 4 + strings.Length];
        BinaryPrimitives.WriteUInt16LittleEndian(expected, 0xEB9F);
        expected[2] = 1;
        BinaryPrimitives.WriteUInt32LittleEndian(expected.AsSpan(4), 24);
        BinaryPrimitives.WriteUInt32LittleEndian(expected.AsSpan(12), (uint)types.Length * 4);
        BinaryPrimitives.WriteUInt32LittleEndian(expected.AsSpan(16), (uint)types.Length * 4);
        BinaryPrimitives.WriteUInt32LittleEndian(expected.AsSpan(20), (uint)strings.Length);
        for (int i = 0; i < types.Length; i++)
            BinaryPrimitives.WriteUInt32LittleEndian(expected.AsSpan(24 + i * 4), types[i]);
        strings.CopyTo(expected, 24 + types.Length * 4);
        Assert.Equal(expected, KernelFeatures.ArgCtxProbeBtf());
    }

    [Fact]
    public void The_probe_agrees_with_the_kernels_own_btf()
    {
        if (!LinuxKernel.IsAvailable)
            Requirement.Missing(Requirement.Kernel, $"bpf(2) is not usable here: {LinuxKernel.UnavailableReason}");
        if (!File.Exists("/sys/kernel/btf/vmlinux"))
            Requirement.Missing(Requirement.Vmlinux, "/sys/kernel/btf/vmlinux not present");
        bool native = BtfSpec.LoadVmlinux().FindByName("bpf_subprog_arg_info", BtfKind.Struct) is not null;
        Assert.Equal(native, KernelFeatures.SupportsArgCtxTag);
        Assert.Equal(native, LinuxKernel.Backend.Profile.HasFeature(KernelFeature.ArgCtxTag));
    }
}
