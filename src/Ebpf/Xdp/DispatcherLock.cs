using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Ebpf.Collections;

namespace Ebpf.Xdp;

/// <summary>
/// libxdp's lock on <c>&lt;bpffs&gt;/xdp</c> (kernel-semantics.md §6.5): every read or change of the pinned
/// dispatcher hierarchy happens while it is held.
/// <list type="bullet">
/// <item>Linux backend: the real thing, <c>flock(LOCK_EX)</c> on the directory opened read-only, so it excludes
/// libxdp and xdp-loader too; released by LOCK_UN and close.</item>
/// <item>Managed runtime: its bpffs lives in the process, so the lock is an exclusive, non-reentrant lock per
/// (runtime, directory path) that every thread of the process sees: the same mutual exclusion flock gives between
/// processes, among the threads sharing one runtime. A runtime's locks go with the runtime.</item>
/// </list>
/// </summary>
internal sealed class DispatcherLock : IDisposable
{
    private static readonly ConditionalWeakTable<IBpfBackend, Dictionary<string, SemaphoreSlim>> ManagedLocks = [];
    private SemaphoreSlim? _semaphore;
    private int _fd = -1;

    private DispatcherLock() { }

    /// <summary>Creates <paramref name="directory"/> if missing and takes its lock (blocking).</summary>
    public static DispatcherLock Take(IBpfBackend backend, string directory)
    {
        backend.CreatePinDirectory(directory);
        var l = new DispatcherLock();
        if (backend.Name == "linux" && OperatingSystem.IsLinux())
        {
            int fd = Native.open(directory, Native.O_RDONLY | Native.O_DIRECTORY | Native.O_CLOEXEC);
            if (fd < 0)
                throw new BpfException((Errno)Marshal.GetLastPInvokeError(), $"open {directory} to lock it");
            if (Native.flock(fd, Native.LOCK_EX) != 0)
            {
                int e = Marshal.GetLastPInvokeError();
                Native.close(fd);
                throw new BpfException((Errno)e, $"flock {directory}");
            }
            l._fd = fd;
            return l;
        }
        var table = ManagedLocks.GetOrCreateValue(backend);
        SemaphoreSlim s;
        lock (table)
        {
            if (!table.TryGetValue(directory, out s!))
                table[directory] = s = new SemaphoreSlim(1, 1);
        }
        s.Wait();
        l._semaphore = s;
        return l;
    }

    public void Dispose()
    {
        if (_fd >= 0)
        {
            Native.flock(_fd, Native.LOCK_UN);
            Native.close(_fd);
            _fd = -1;
        }
        _semaphore?.Release();
        _semaphore = null;
    }

    private static class Native
    {
        public const int O_RDONLY = 0, O_DIRECTORY = 0x10000, O_CLOEXEC = 0x80000, LOCK_EX = 2, LOCK_UN = 8;

        [DllImport("libc", SetLastError = true)]
        public static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

        [DllImport("libc", SetLastError = true)]
        public static extern int flock(int fd, int operation);

        [DllImport("libc", SetLastError = true)]
        public static extern int close(int fd);
    }
}
