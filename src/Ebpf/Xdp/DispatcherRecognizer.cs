using Ebpf.Abi;
using Ebpf.Btf;
using Ebpf.Collections;

namespace Ebpf.Xdp;

/// <summary>
/// §6.4 step 1: is the program on a device a dispatcher, and with which config? A program without BTF, not named
/// <c>xdp_dispatcher</c>, or not using exactly one map with a 4-byte key, a value of at least 2 bytes, one entry and
/// BPF_F_RDONLY_PROG is a "legacy" single program (null). The config value's byte 0 is the magic → the version is
/// byte 1; otherwise the version comes from BTF. A version above ours is EOPNOTSUPP, more than ten programs EINVAL.
/// </summary>
internal static class DispatcherRecognizer
{
    public static XdpDispatcherConfig? Read(IBpfBackend backend, BpfProgram program)
    {
        var info = program.GetInfo();
        if (info.BtfId == 0 || info.Name != DispatcherLayout.MainFunction || info.MapIds.Count != 1)
            return null;
        using var map = (BpfMap)backend.Open(ObjectKind.Map, info.MapIds[0], MapAccess.ReadOnly);
        var mi = map.GetInfo();
        if (mi.KeySize != 4 || mi.ValueSize < 2 || mi.MaxEntries != 1 || (mi.Flags & MapFlags.RdonlyProg) == 0)
            return null;
        var value = new byte[mi.ValueSize];
        if (!backend.MapLookup(map, stackalloc byte[4], value, MapUpdateFlags.Any, delete: false))
            return null;
        uint btfVersion = 0;
        if (value[0] != XdpDispatcherConfig.Magic)
        {
            using var btf = (BtfHandle)backend.Open(ObjectKind.Btf, info.BtfId);
            btfVersion = DispatcherLayout.ReadBtfVersion(BtfSpec.Parse(btf.GetData())) ?? 0;
        }
        return XdpDispatcherConfig.Parse(value, btfVersion);
    }
}
