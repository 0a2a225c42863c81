using Ebpf.Linux.Native;

namespace Ebpf.Linux;

/// <summary>BPF_OBJ_GET_INFO_BY_FD: fills an info struct the caller may have pre-loaded with output buffers.</summary>
internal static unsafe class ObjectInfo
{
    public static void Get<T>(BpfFd fd, ref T info, string what) where T : unmanaged
    {
        bool added = false;
        try
        {
            fd.DangerousAddRef(ref added);
            fixed (T* p = &info)
            {
                var attr = new InfoAttr { BpfFd = (uint)fd.Value, InfoLen = (uint)sizeof(T), Info = (ulong)p };
                BpfSyscall.Invoke(BpfCommand.ObjGetInfoByFd, ref attr, what);
            }
        }
        finally
        {
            if (added)
                fd.DangerousRelease();
        }
    }
}
