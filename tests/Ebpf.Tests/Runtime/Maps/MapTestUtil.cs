using Ebpf.Abi;
using Ebpf.Runtime.Maps;

namespace Ebpf.Tests.Runtime.Maps;

internal static class MapTestUtil
{
    public static byte[] U32(uint v) => BitConverter.GetBytes(v);
    public static byte[] U64(ulong v) => BitConverter.GetBytes(v);

    public static T Make<T>(MapType type, uint key, uint value, uint max, MapFlags flags = MapFlags.None, ulong extra = 0, int spinLock = -1)
        where T : BpfMapBase =>
        BpfMapFactory.Create<T>(new MapDefinition
        {
            Type = type, KeySize = key, ValueSize = value, MaxEntries = max, Flags = flags, MapExtra = extra,
            SpinLockOffset = spinLock, Name = "t",
        });

    public static Errno ErrnoOf(Action a)
    {
        try { a(); return Errno.None; }
        catch (BpfException e) { return e.Errno; }
    }
}
