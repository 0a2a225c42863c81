using System.Runtime.InteropServices;
using Ebpf.Collections;
using Ebpf.Execution;
using Ebpf.Runtime.Helpers;
using Ebpf.Runtime.Memory;
using Ebpf.Runtime.Objects;

namespace Ebpf.Runtime.Iterators;

/// <summary>
/// An iterator session of the managed runtime (the kernel's bpf_iter_priv_data and its seq_file): reading runs
/// kernel/bpf/bpf_iter.c's bpf_seq_read — the buffer is drained first; then elements are shown one program run each
/// until the next would not fit the reader's count, an element's output is dropped and retried on the next read when
/// the buffer overflows (E2BIG when it was the read's first), a program returning 1 makes the read stop before that
/// element (EAGAIN when it was the first); after the last element the program runs once more with NULL target
/// pointers (in_stop), and a read after that returns 0. seq_num counts the elements shown; session_id is per
/// session, from one runtime-wide counter.
/// </summary>
internal sealed unsafe class ManagedIterator : BpfIterator
{
    /// <summary>MAX_ITER_OBJECTS: elements one read may show.</summary>
    private const int MaxIterObjects = 1_000_000;
    private const Errno E2BIG = (Errno)7;

    private readonly ProgramObject _program;
    private readonly LinkObject _link;
    private readonly IterCursor _cursor;
    private readonly SeqFile _seq = new();
    private readonly KernelStructImage _meta;
    private readonly ulong* _ctx;
    private readonly byte* _seqToken;
    private readonly ulong _sessionId;
    private readonly Lock _lock = new();
    private ulong _seqNum;
    private bool _doneStop;
    private int _disposed;

    /// <param name="link">The iterator link, held by the session (bpf_iter_new_fd's bpf_link_inc): its map stays alive.</param>
    /// <param name="program">The link's program, held by the session.</param>
    /// <param name="cursor">The walk over the target.</param>
    /// <param name="sessionId">The session's id.</param>
    internal ManagedIterator(LinkObject link, ProgramObject program, IterCursor cursor, ulong sessionId)
    {
        _link = link;
        _program = program;
        _cursor = cursor;
        _sessionId = sessionId;
        var kernel = program.Runtime.Profile.KernelBtf ?? throw new BpfException(Errno.EINVAL, "iterators need the kernel BTF");
        _meta = new KernelStructImage(kernel, "bpf_iter_meta", 24);
        _ctx = (ulong*)NativeMemory.AllocZeroed(8 * 4);
        _seqToken = (byte*)NativeMemory.AllocZeroed(64);
    }

    public override int Read(Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        lock (_lock)
            return SeqRead(buffer);
    }

    private int SeqRead(Span<byte> buffer)
    {
        int size = buffer.Length;
        if (_seq.Count > 0)
        {
            int n = Math.Min(_seq.Count, size);
            _seq.Buffer.AsSpan(_seq.From, n).CopyTo(buffer);
            _seq.Count -= n;
            _seq.From += n;
            return n;
        }
        _seq.From = 0;
        bool p = Start();
        int numObjs = 0;
        if (p)
        {
            Errno err = Show(final: false);
            if (err != Errno.None || _seq.Overflowed)
            {
                _seq.Count = 0;
                throw Refuse(err == Errno.None ? E2BIG : err);
            }
            while (true)
            {
                numObjs++;
                int offs = _seq.Count;
                p = Next();
                if (!p)
                    break;
                _seqNum++;
                if (_seq.Count >= size)
                    break;
                if (numObjs >= MaxIterObjects)
                {
                    if (offs == 0)
                        throw Refuse(Errno.EAGAIN);
                    break;
                }
                err = Show(final: false);
                if (err != Errno.None || _seq.Overflowed)
                {
                    _seq.Count = offs;
                    if (offs == 0)
                        throw Refuse(err == Errno.None ? E2BIG : err);
                    break;
                }
            }
        }
        // stop: with no element left, the program's final call (once per session).
        int kept = _seq.Count;
        if (!p)
        {
            if (!_doneStop)
                Show(final: true);
            if (!_seq.Overflowed)
            {
                _doneStop = true;
            }
            else
            {
                _seq.Count = kept;
                if (kept == 0)
                    throw Refuse(E2BIG);
            }
        }
        int copied = Math.Min(_seq.Count, size);
        _seq.Buffer.AsSpan(0, copied).CopyTo(buffer);
        _seq.Count -= copied;
        _seq.From = copied;
        return copied;
    }

    private bool Start() => _cursor.Seek();

    private bool Next()
    {
        _cursor.Advance();
        return _cursor.Seek();
    }

    /// <summary>seq->op->show: one run of the program; EAGAIN when it returns non-zero (bpf_iter_run_prog).</summary>
    private Errno Show(bool final)
    {
        if (_program.Executable is not PreparedProgram prepared)
            throw new BpfException(Errno.ENOTSUPP, $"program {_program.Id} ({_program.Name}) has no executable form");
        var engine = prepared.Interpreter;
        var regions = new List<MemoryRegion>();
        var windows = new List<ProbeMemory.Window>();
        var thread = ExecutionThread.Current;
        var epoch = EpochManager.EnterRecord(thread);
        try
        {
            if (!_cursor.Fill(_ctx, final, regions, windows))
                return Errno.None;
            _meta.Clear();
            _meta.Put("seq", (ulong)_seqToken);
            _meta.Put("session_id", _sessionId);
            _meta.Put("seq_num", _seqNum);
            _ctx[0] = (ulong)_meta.Address;
            windows.Add(new ProbeMemory.Window((ulong)_meta.Address, (ulong)_meta.Size));
            var invocation = new HelperInvocation(_program.Runtime, _program, (nint)_ctx)
            {
                IterSeq = _seq,
                IterSeqAddress = (nint)_seqToken,
            };
            using var scope = invocation.Enter(thread);
            using var probes = ProbeMemory.Open([.. windows]);
            var request = new ExecutionRequest { R1 = (ulong)_ctx, State = invocation };
            if (engine.Mode == ExecutionMode.Checked)
            {
                invocation.MemoryChecker = InterpreterExecutor.CheckedMemory;
                request.AddRegion(new MemoryRegion((nuint)_ctx, 32, MemoryAccess.Read, "ctx"));
                foreach (var region in regions)
                    request.AddRegion(region);
                foreach (var w in windows)
                    request.AddRegion(new MemoryRegion((nuint)w.Start, (nuint)w.Length, MemoryAccess.Read, "kernel struct"));
                foreach (var region in prepared.StaticRegions)
                    request.AddRegion(region);
            }
            return engine.Run(request) == 0 ? Errno.None : Errno.EAGAIN;
        }
        finally
        {
            EpochManager.Exit(epoch);
        }
    }

    private static BpfException Refuse(Errno errno) => new(errno, errno switch
    {
        E2BIG => "read: one element's output does not fit the iterator's 32 KiB buffer",
        Errno.EAGAIN => "read: the iterator program asked to retry the first element of the read",
        _ => "read: the iterator failed",
    });

    protected override void Dispose(bool disposing)
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        lock (_lock)
        {
            _cursor.Dispose();
            _meta.Dispose();
            NativeMemory.Free(_ctx);
            NativeMemory.Free(_seqToken);
        }
        _program.Release();
        _link.Release();
    }
}
