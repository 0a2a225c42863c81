using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using Microsoft.Win32.SafeHandles;

namespace Ebpf.Linux.Net;

/// <summary>
/// A fresh, anonymous network namespace owned by one dedicated thread: the thread calls unshare(CLONE_NEWNET) and then
/// runs whatever <see cref="Invoke{T}"/> hands it, so every socket it opens, every ifindex it resolves and every XDP
/// BPF_LINK_CREATE it issues (the kernel looks the device up in the caller's namespace) happens inside. Nothing is
/// named or mounted (no /run/netns entry), so nothing can be left behind: the namespace and its devices vanish when the
/// thread ends and the last socket or <see cref="Handle"/> opened in it is closed, even if the process dies. IPv6 is off
/// in it, so the kernel sends no router or neighbour solicitations of its own on the test devices.
/// </summary>
internal sealed class NetworkNamespace : IDisposable
{
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);
    private readonly BlockingCollection<Action> _work = new();
    private readonly Thread _thread;
    private int _disposed;

    private NetworkNamespace()
    {
        using var ready = new ManualResetEventSlim();
        Exception? failure = null;
        _thread = new Thread(() =>
        {
            try
            {
                if (NetNative.Unshare(NetNative.CloneNewnet) != 0)
                    throw NetNative.Fail("unshare(CLONE_NEWNET)");
                Handle = File.OpenHandle($"/proc/thread-self/ns/net");
                DisableIpv6();
            }
            catch (Exception e)
            {
                failure = e;
                ready.Set();
                return;
            }
            ready.Set();
            foreach (var work in _work.GetConsumingEnumerable())
                work();
        })
        { IsBackground = true, Name = "netns" };
        _thread.Start();
        ready.Wait();
        if (failure is not null)
        {
            _thread.Join();
            ExceptionDispatchInfo.Throw(failure);
        }
    }

    /// <summary>Creates the namespace (needs CAP_SYS_ADMIN).</summary>
    public static NetworkNamespace Create() => new();

    /// <summary>An open /proc/thread-self/ns/net of the namespace: what IFLA_NET_NS_FD and setns(2) take.</summary>
    public SafeFileHandle Handle { get; private set; } = null!;

    /// <summary>Runs <paramref name="action"/> on the namespace's thread and returns its result (or rethrows its exception).</summary>
    public T Invoke<T>(Func<T> action)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (Thread.CurrentThread == _thread)
            return action();
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        using var done = new ManualResetEventSlim();
        _work.Add(() =>
        {
            try
            {
                result = action();
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
            finally
            {
                done.Set();
            }
        });
        done.Wait();
        failure?.Throw();
        return result;
    }

    public void Invoke(Action action) => Invoke<bool>(() =>
    {
        action();
        return true;
    });

    /// <summary>Disables IPv6 on every device created from now on (net.ipv6.conf.{all,default}.disable_ipv6 of this namespace).</summary>
    private static void DisableIpv6()
    {
        foreach (var scope in new[] { "all", "default" })
        {
            string path = $"/proc/sys/net/ipv6/conf/{scope}/disable_ipv6";
            if (File.Exists(path))
                File.WriteAllText(path, "1");
        }
    }

    /// <summary>Ends the thread and closes the handle; the kernel destroys the namespace (and its devices) once no socket holds it.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _work.CompleteAdding();
        if (!_thread.Join(StopTimeout))
            throw new TimeoutException($"the network namespace thread did not stop within {StopTimeout}");
        Handle?.Dispose();
        _work.Dispose();
    }
}
