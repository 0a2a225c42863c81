using System.Runtime.InteropServices;

namespace Ebpf.Runtime.Memory;

/// <summary>
/// Epoch-based reclamation: the runtime's analogue of RCU. Execution engines (and every map
/// operation) run inside a read-side critical section (<see cref="Enter"/> / <see cref="Exit()"/>);
/// memory that a reader might still hold (a deleted hash element, a replaced value) is
/// <see cref="Retire(void*)"/>d and freed only once every thread that was inside the critical
/// section when it was retired has left it.
/// </summary>
/// <remarks>
/// Protocol. A reader publishes the global epoch it observed with a plain (release) store, then reads.
/// A writer unlinks, then retires with a freshly incremented epoch <c>e</c> (full fence).
/// A reader whose published epoch is ≥ e read the global epoch after the increment, hence after
/// the unlink, so it cannot reach the retired memory; a reader with a smaller epoch might.
/// Retired memory with epoch e is freed when every active reader has epoch ≥ e.
/// <para>
/// Asymmetric fences: readers are hot (every program run, every map operation) and reclamation is
/// rare, so the reader's store→load fence is moved to the reclaimer. The reader's epoch store may sit
/// in its CPU's store buffer while it already loads map pointers; before scanning the reader slots,
/// the reclaimer runs <see cref="Interlocked.MemoryBarrierProcessWide"/> (membarrier on Linux), which
/// serialises every thread of the process. After it, a reader either has its epoch visible to the
/// scan, or entered after the barrier, so all its loads come after the unlinks of everything retired
/// before the scan and cannot reach that memory. Enter/Exit therefore cost a few plain loads and stores.
/// </para>
/// Enter/Exit nest (a depth counter). One record is kept per thread that ever entered (a dead thread's
/// record is idle and never blocks reclamation, even if the thread died inside a critical section).
/// </remarks>
internal static unsafe class EpochManager
{
    internal sealed class ThreadRecord
    {
        // Padding keeps records of different threads off one cache line.
        #pragma warning disable CS0169, IDE0051
        private readonly long _pad0, _pad1, _pad2, _pad3, _pad4, _pad5, _pad6;
        #pragma warning restore CS0169, IDE0051
        public long Epoch; // 0 = not inside a critical section
        public int Depth;
        public Thread Owner = Thread.CurrentThread;

        /// <summary>The published epoch, ignoring a thread that died inside a critical section.</summary>
        public long ActiveEpoch()
        {
            long e = Volatile.Read(ref Epoch);
            if (e != 0 && !Owner.IsAlive) { Volatile.Write(ref Epoch, 0); return 0; }
            return e;
        }
    }

    private struct Retired
    {
        public long Epoch;
        public nint Pointer;
        public Action? Action;
    }

    private const int ReclaimThreshold = 256;

    [ThreadStatic] private static ThreadRecord? t_record;
    private static ThreadRecord[] s_records = [];
    private static readonly object s_registerLock = new();
    private static readonly object s_retireLock = new();
    private static readonly Queue<Retired> s_retired = new(); // ordered by epoch (assigned under the lock)
    private static int s_sinceCollect;
    private static long s_global = 1;
    private static long s_freed;
    private static int s_inFlight; // dequeued by some Collect, not yet freed (guarded by s_retireLock)

    /// <summary>Enters a read-side critical section (nestable). Pair with <see cref="Exit()"/>.</summary>
    public static void Enter()
    {
        var r = t_record ?? Register();
        if (r.Depth++ == 0)
            Volatile.Write(ref r.Epoch, Volatile.Read(ref s_global)); // no fence: the reclaimer supplies it (see remarks)
    }

    /// <summary>
    /// <see cref="Enter"/> for hot callers: returns the thread's record so the matching
    /// <see cref="Exit(ThreadRecord)"/> needs no second thread-static lookup.
    /// </summary>
    internal static ThreadRecord EnterRecord(Ebpf.Execution.ExecutionThread thread)
    {
        // The record is cached on the invocation's thread state: no thread-static access of our own.
        var r = thread.EpochRecord is { } cached
            ? System.Runtime.CompilerServices.Unsafe.As<ThreadRecord>(cached)
            : (ThreadRecord)(thread.EpochRecord = t_record ?? Register());
        if (r.Depth++ == 0)
            Volatile.Write(ref r.Epoch, Volatile.Read(ref s_global));
        return r;
    }

    /// <summary>Leaves the critical section entered by the matching <see cref="EnterRecord"/> on this thread.</summary>
    internal static void Exit(ThreadRecord r)
    {
        if (--r.Depth == 0)
            Volatile.Write(ref r.Epoch, 0);
    }

    /// <summary>Leaves the critical section entered by the matching <see cref="Enter"/>.</summary>
    public static void Exit()
    {
        var r = t_record;
        if (r is null || r.Depth == 0)
            throw new InvalidOperationException("EpochManager.Exit without a matching Enter");
        if (--r.Depth == 0)
            Volatile.Write(ref r.Epoch, 0);
    }

    /// <summary><c>using var _ = EpochManager.Guard();</c> — Enter now, Exit on dispose.</summary>
    public static EpochGuard Guard()
    {
        Enter();
        return default;
    }

    /// <summary>True when the calling thread is inside a critical section.</summary>
    public static bool IsInCriticalSection => t_record is { Depth: > 0 };

    /// <summary>Number of retired blocks not yet freed.</summary>
    public static int PendingCount { get { lock (s_retireLock) return s_retired.Count; } }

    /// <summary>Total number of retired blocks freed since start (for tests and diagnostics).</summary>
    public static long FreedCount => Interlocked.Read(ref s_freed);

    /// <summary>Frees <paramref name="p"/> (allocated with NativeMemory.Alloc/AllocZeroed) once no reader can hold it.</summary>
    public static void Retire(void* p)
    {
        if (p == null) return;
        Add(new Retired { Pointer = (nint)p });
    }

    /// <summary>Frees <paramref name="p"/> (allocated with NativeMemory.AlignedAlloc) once no reader can hold it.</summary>
    public static void RetireAligned(void* p)
    {
        if (p == null) return;
        nint q = (nint)p;
        Add(new Retired { Action = () => NativeMemory.AlignedFree((void*)q) });
    }

    /// <summary>Runs <paramref name="release"/> once no reader that could see the retired object is still running.</summary>
    public static void Retire(Action release) => Add(new Retired { Action = release });

    private static void Add(Retired item)
    {
        bool reclaim;
        lock (s_retireLock)
        {
            item.Epoch = Interlocked.Increment(ref s_global); // full fence after the caller's unlink
            s_retired.Enqueue(item);
            // Collect every ReclaimThreshold retirements: one scan of the thread records each time.
            reclaim = ++s_sinceCollect >= ReclaimThreshold;
            if (reclaim) s_sinceCollect = 0;
        }
        if (reclaim) Collect();
    }

    /// <summary>Frees everything retired that no active reader can still hold. Returns the number freed.</summary>
    public static int Collect()
    {
        List<Retired>? free = null;
        long newest;
        lock (s_retireLock)
        {
            if (s_retired.Count == 0) return 0;
            newest = Volatile.Read(ref s_global); // every queued item has an epoch ≤ this, and was unlinked before now
        }
        // Outside the lock: the barrier takes microseconds and writers must not wait for it.
        long min = MinActiveEpoch();
        lock (s_retireLock)
        {
            // Epochs increase along the queue, so the reclaimable items are a prefix. Items retired after
            // the barrier (epoch > newest) were not covered by it: they wait for the next collection.
            while (s_retired.TryPeek(out var item) && item.Epoch <= min && item.Epoch <= newest)
                (free ??= new()).Add(s_retired.Dequeue());
            if (free is not null) s_inFlight += free.Count;
        }
        if (free is null) return 0;
        foreach (var item in free)
        {
            if (item.Action is not null) item.Action();
            else FreeBlock(item.Pointer);
        }
        Interlocked.Add(ref s_freed, free.Count);
        lock (s_retireLock) s_inFlight -= free.Count;
        return free.Count;
    }

    /// <summary>
    /// synchronize_rcu + rcu_barrier: waits until every thread that was inside a critical section
    /// when this was called has left it; on return everything retired before the call has been
    /// freed. Must not be called from inside a critical section.
    /// </summary>
    public static void Synchronize()
    {
        if (IsInCriticalSection)
            throw new InvalidOperationException("EpochManager.Synchronize inside a critical section would wait for itself");
        long target = Interlocked.Increment(ref s_global);
        Interlocked.MemoryBarrierProcessWide(); // make every reader's epoch store visible (see remarks)
        foreach (var r in Volatile.Read(ref s_records))
        {
            var spin = new SpinWait();
            while (true)
            {
                long e = r.ActiveEpoch();
                if (e == 0 || e >= target) break;
                spin.SpinOnce();
            }
        }
        Collect();
        // Another thread's Collect may have dequeued items retired before us and still be freeing them.
        var wait = new SpinWait();
        while (true)
        {
            lock (s_retireLock)
                if (s_inFlight == 0 && (!s_retired.TryPeek(out var first) || first.Epoch >= target)) return;
            wait.SpinOnce();
            Collect();
        }
    }

    /// <summary>
    /// The smallest epoch published by a reader inside a critical section (long.MaxValue if none),
    /// after a process-wide barrier that makes every reader's epoch store visible.
    /// </summary>
    private static long MinActiveEpoch()
    {
        Interlocked.MemoryBarrierProcessWide();
        long min = long.MaxValue;
        foreach (var r in Volatile.Read(ref s_records))
        {
            long e = r.ActiveEpoch();
            if (e != 0 && e < min) min = e;
        }
        return min;
    }

    /// <summary>
    /// Test mode: fill every block freed through <see cref="Retire(void*)"/> with 0xDD first, so a reader
    /// that still used it sees garbage at once instead of stale-but-plausible bytes (Linux/glibc only,
    /// where the block's size is known from malloc_usable_size).
    /// </summary>
    internal static bool PoisonFreedMemory { get; set; }

    private static void FreeBlock(nint pointer)
    {
        if (PoisonFreedMemory)
            PoisonBlock(pointer);
        NativeMemory.Free((void*)pointer);
    }

    /// <summary>Fills a NativeMemory.Alloc'd block with 0xDD (Linux; elsewhere the size is unknown and nothing happens).</summary>
    internal static void PoisonBlock(nint pointer)
    {
        if (OperatingSystem.IsLinux())
            NativeMemory.Fill((void*)pointer, MallocUsableSize(pointer), 0xDD);
    }

    [DllImport("libc", EntryPoint = "malloc_usable_size")]
    private static extern nuint MallocUsableSize(nint pointer);

    private static ThreadRecord Register()
    {
        var r = new ThreadRecord();
        lock (s_registerLock)
        {
            var old = s_records;
            var next = new ThreadRecord[old.Length + 1];
            old.CopyTo(next, 0);
            next[^1] = r;
            Volatile.Write(ref s_records, next);
        }
        t_record = r;
        return r;
    }
}

/// <summary>Leaves the epoch critical section on dispose (see <see cref="EpochManager.Guard"/>).</summary>
internal readonly struct EpochGuard : IDisposable
{
    public void Dispose() => EpochManager.Exit();
}
