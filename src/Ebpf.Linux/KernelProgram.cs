using System.Runtime.InteropServices;
using System.Text;
using Ebpf.Abi;
using Ebpf.Isa;
using Ebpf.Linux.Native;

namespace Ebpf.Linux;

/// <summary>
/// A program loaded into the running kernel. Owns its file descriptor: dispose it to drop this reference
/// (the kernel frees the program once no fd, pin or link holds it).
/// </summary>
public sealed unsafe class KernelProgram : IDisposable
{
    private KernelProgram(BpfFd fd, ProgramType type, string name, string? log)
    {
        Fd = fd;
        Type = type;
        Name = name;
        VerifierLog = log;
    }

    public BpfFd Fd { get; }
    public ProgramType Type { get; }
    /// <summary>The name as the kernel stores it (sanitised, at most 15 characters).</summary>
    public string Name { get; }
    /// <summary>The verifier log of a successful load, when a log level was requested.</summary>
    public string? VerifierLog { get; }

    /// <summary>
    /// BPF_PROG_LOAD. On failure the <see cref="BpfException"/> carries the errno and the verifier log
    /// (fetched with a Level1 retry when no log was requested).
    /// </summary>
    public static KernelProgram Load(ProgramLoadOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        string name = ObjectName.Sanitize(options.Name);
        string what = name.Length > 0 ? name : $"{options.Type} program";
        if (options.Instructions.IsEmpty)
            throw new BpfException(Errno.EINVAL, $"BPF_PROG_LOAD {what}: no instructions");
        if (options.LogSize <= 0 || options.MaxLogSize < options.LogSize)
            throw new BpfException(Errno.EINVAL, $"BPF_PROG_LOAD {what}: log size {options.LogSize} (cap {options.MaxLogSize}) is not usable");

        var level = options.LogLevel;
        var (fd, errno, log) = LoadWithLog(options, name, what, level);
        if (fd is null && level == VerifierLogLevel.None && options.RetryWithLogOnFailure && errno != Errno.ENOSYS)
        {
            // The first failure had no log to explain it: ask again with one, keeping the first errno.
            var (retryFd, _, retryLog) = LoadWithLog(options, name, what, VerifierLogLevel.Level1);
            retryFd?.Dispose();
            log = retryLog;
        }
        if (fd is null)
            throw BpfSyscall.Error(BpfCommand.ProgLoad, what, errno, string.IsNullOrEmpty(log) ? null : log);
        return new KernelProgram(fd, options.Type, name, level == VerifierLogLevel.None ? null : log);
    }

    /// <summary>One load, growing the log buffer on ENOSPC until it fits or hits the cap.</summary>
    private static (BpfFd? Fd, Errno Errno, string? Log) LoadWithLog(ProgramLoadOptions options, string name, string what, VerifierLogLevel level)
    {
        int logSize = level == VerifierLogLevel.None ? 0 : options.LogSize;
        while (true)
        {
            byte[]? logBuffer = logSize > 0 ? GC.AllocateUninitializedArray<byte>(logSize) : null;
            if (logBuffer is not null)
                logBuffer[0] = 0;
            var (fd, errno, trueSize) = LoadOnce(options, name, level, logBuffer);
            string? log = logBuffer is null ? null : ReadCString(logBuffer);
            if (fd is null && errno == Errno.ENOSPC && logBuffer is not null && logSize < options.MaxLogSize)
            {
                // The log did not fit (6.4+ fails even a valid program then). log_true_size says how much is
                // needed on 6.4+; older kernels leave it 0, so grow geometrically.
                long wanted = trueSize > (uint)logSize ? trueSize : (long)logSize * 4;
                logSize = (int)Math.Min(wanted, options.MaxLogSize);
                continue;
            }
            return (fd, errno, log);
        }
    }

    private static (BpfFd? Fd, Errno Errno, uint LogTrueSize) LoadOnce(ProgramLoadOptions options, string name, VerifierLogLevel level, byte[]? logBuffer)
    {
        byte[] license = Encoding.ASCII.GetBytes(options.License + "\0");
        using var btf = FdLease.Of(options.Btf);
        using var target = FdLease.Of(options.AttachTarget);
        var insns = options.Instructions.Span;
        fixed (Instruction* insnPtr = insns)
        fixed (byte* licensePtr = license)
        fixed (byte* logPtr = logBuffer)
        fixed (byte* funcInfo = options.FuncInfo.Span)
        fixed (byte* lineInfo = options.LineInfo.Span)
        {
            var attr = new ProgLoadAttr
            {
                ProgType = (uint)options.Type,
                InsnCnt = (uint)insns.Length,
                Insns = (ulong)insnPtr,
                License = (ulong)licensePtr,
                LogLevel = logBuffer is null ? 0 : (uint)level,
                LogSize = logBuffer is null ? 0 : (uint)logBuffer.Length,
                LogBuf = (ulong)logPtr,
                KernVersion = options.KernelVersion,
                ProgFlags = (uint)options.Flags,
                ProgIfindex = options.Ifindex,
                ExpectedAttachType = (uint)options.ExpectedAttachType,
                ProgBtfFd = btf.Value,
                AttachBtfId = options.AttachBtfId,
                AttachProgFd = target.Value,
            };
            ObjectName.Write(name, attr.ProgName);
            if (!options.FuncInfo.IsEmpty)
            {
                attr.FuncInfoRecSize = options.FuncInfoRecordSize;
                attr.FuncInfo = (ulong)funcInfo;
                attr.FuncInfoCnt = (uint)(options.FuncInfo.Length / Math.Max(1, (int)options.FuncInfoRecordSize));
            }
            if (!options.LineInfo.IsEmpty)
            {
                attr.LineInfoRecSize = options.LineInfoRecordSize;
                attr.LineInfo = (ulong)lineInfo;
                attr.LineInfoCnt = (uint)(options.LineInfo.Length / Math.Max(1, (int)options.LineInfoRecordSize));
            }
            long fd = BpfSyscall.TryInvoke(BpfCommand.ProgLoad, ref attr, out var errno);
            return fd < 0 ? (null, errno, attr.LogTrueSize) : (BpfSyscall.NewFd(fd, BpfObjectKind.Program), Errno.None, attr.LogTrueSize);
        }
    }

    internal static string ReadCString(ReadOnlySpan<byte> buffer)
    {
        int end = buffer.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? buffer : buffer[..end]);
    }

    /// <summary>Takes ownership of a program descriptor obtained elsewhere (a pin, an id, SCM_RIGHTS).</summary>
    public static KernelProgram FromFd(BpfFd fd)
    {
        var info = GetInfo(fd, "program");
        return new KernelProgram(fd, info.Type, info.Name, null);
    }

    /// <summary>BPF_PROG_GET_FD_BY_ID.</summary>
    public static KernelProgram FromId(uint id) => FromFd(KernelObjects.OpenById(BpfObjectKind.Program, id));

    /// <summary>BPF_OBJ_GET of a pinned program.</summary>
    public static KernelProgram LoadPinned(string path) => FromFd(BpfFs.Get(path, BpfObjectKind.Program));

    /// <summary>BPF_OBJ_PIN under a bpffs mount.</summary>
    public void Pin(string path) => BpfFs.Pin(Fd, path, Name);

    public ProgramInfo GetInfo() => GetInfo(Fd, Name);

    private static ProgramInfo GetInfo(BpfFd fd, string what)
    {
        // First pass for the counts, second pass with a buffer for the map ids.
        var info = new ProgInfoNative();
        ObjectInfo.Get(fd, ref info, what);
        uint[] mapIds = new uint[info.NrMapIds];
        if (mapIds.Length > 0)
        {
            fixed (uint* ids = mapIds)
            {
                var again = new ProgInfoNative { NrMapIds = (uint)mapIds.Length, MapIds = (ulong)ids };
                ObjectInfo.Get(fd, ref again, what);
                if (again.NrMapIds < mapIds.Length)
                    mapIds = mapIds[..(int)again.NrMapIds];
            }
        }
        return new ProgramInfo
        {
            Type = (ProgramType)info.Type,
            Id = info.Id,
            Tag = new ReadOnlySpan<byte>(info.Tag, 8).ToArray(),
            Name = ObjectName.Read(info.Name),
            JitedSize = info.JitedProgLen,
            XlatedSize = info.XlatedProgLen,
            MapIds = mapIds,
            BtfId = info.BtfId,
            FuncInfoCount = info.NrFuncInfo,
            LineInfoCount = info.NrLineInfo,
            VerifiedInstructions = info.VerifiedInsns,
            GplCompatible = (info.GplCompatible & 1) != 0,
            CreatedByUid = info.CreatedByUid,
            LoadTime = info.LoadTime,
            AttachBtfId = info.AttachBtfId,
            AttachBtfObjectId = info.AttachBtfObjId,
            RunTimeNs = info.RunTimeNs,
            RunCount = info.RunCnt,
        };
    }

    /// <summary>The instructions as the kernel rewrote them (xlated), from BPF_OBJ_GET_INFO_BY_FD.</summary>
    public Instruction[] GetTranslatedInstructions()
    {
        var info = new ProgInfoNative();
        ObjectInfo.Get(Fd, ref info, Name);
        var bytes = new byte[info.XlatedProgLen];
        fixed (byte* p = bytes)
        {
            var again = new ProgInfoNative { XlatedProgLen = (uint)bytes.Length, XlatedProgInsns = (ulong)p };
            ObjectInfo.Get(Fd, ref again, Name);
        }
        return InstructionStream.Read(bytes, $"{Name} xlated");
    }

    /// <summary>BPF_PROG_BIND_MAP: keeps a map alive as long as this program (e.g. .rodata metadata).</summary>
    public void BindMap(KernelMap map)
    {
        using var prog = Fd.Lease();
        using var m = map.Fd.Lease();
        var attr = new ProgBindMapAttr { ProgFd = prog.Value, MapFd = m.Value };
        BpfSyscall.Invoke(BpfCommand.ProgBindMap, ref attr, $"{Name} map {map.Name}");
    }

    /// <summary>BPF_PROG_TEST_RUN. ENOSPC on the output is retried once with the size the kernel reported.</summary>
    public TestRunResult TestRun(TestRunOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        int dataOutSize = options.DataOutSize ?? (options.Data.IsEmpty ? 0 : options.Data.Length + 256);
        int ctxOutSize = options.ContextOutSize ?? options.Context.Length;
        for (int attempt = 0; ; attempt++)
        {
            var dataOut = new byte[dataOutSize];
            var ctxOut = new byte[ctxOutSize];
            using var prog = Fd.Lease();
            fixed (byte* dataIn = options.Data.Span)
            fixed (byte* ctxIn = options.Context.Span)
            fixed (byte* dOut = dataOut)
            fixed (byte* cOut = ctxOut)
            {
                var attr = new TestRunAttr
                {
                    ProgFd = prog.Value,
                    DataSizeIn = (uint)options.Data.Length,
                    DataIn = (ulong)dataIn,
                    DataSizeOut = (uint)dataOut.Length,
                    DataOut = dataOut.Length > 0 ? (ulong)dOut : 0,
                    Repeat = options.Repeat,
                    CtxSizeIn = (uint)options.Context.Length,
                    CtxIn = options.Context.IsEmpty ? 0 : (ulong)ctxIn,
                    CtxSizeOut = (uint)ctxOut.Length,
                    CtxOut = ctxOut.Length > 0 ? (ulong)cOut : 0,
                    Flags = (uint)options.Flags,
                    Cpu = options.Cpu,
                    BatchSize = options.BatchSize,
                };
                long r = BpfSyscall.TryInvoke(BpfCommand.ProgTestRun, ref attr, out var errno);
                if (r < 0)
                {
                    if (errno == Errno.ENOSPC && attempt == 0 && (attr.DataSizeOut > dataOutSize || attr.CtxSizeOut > ctxOutSize))
                    {
                        dataOutSize = (int)Math.Max(attr.DataSizeOut, (uint)dataOutSize);
                        ctxOutSize = (int)Math.Max(attr.CtxSizeOut, (uint)ctxOutSize);
                        continue;
                    }
                    throw BpfSyscall.Error(BpfCommand.ProgTestRun, Name, errno);
                }
                return new TestRunResult(
                    attr.Retval,
                    attr.Duration,
                    dataOut.AsSpan(0, (int)Math.Min(attr.DataSizeOut, (uint)dataOut.Length)).ToArray(),
                    ctxOut.AsSpan(0, (int)Math.Min(attr.CtxSizeOut, (uint)ctxOut.Length)).ToArray());
            }
        }
    }

    public void Dispose() => Fd.Dispose();

    public override string ToString() => $"{Type} program {Name} ({Fd})";
}

/// <summary>flags of BPF_PROG_TEST_RUN.</summary>
[Flags]
public enum TestRunFlags : uint
{
    None = 0,
    RunOnCpu = 1,
    XdpLiveFrames = 2,
    SkbChecksumComplete = 4,
}

/// <summary>Inputs of BPF_PROG_TEST_RUN.</summary>
public sealed class TestRunOptions
{
    /// <summary>The packet (data_in); empty for non-packet program types.</summary>
    public ReadOnlyMemory<byte> Data { get; init; }
    /// <summary>Size of the data_out buffer; default the input length + 256 (programs may grow the packet).</summary>
    public int? DataOutSize { get; init; }
    /// <summary>ctx_in (e.g. a struct __sk_buff or xdp_md); empty for the program type's default context.</summary>
    public ReadOnlyMemory<byte> Context { get; init; }
    /// <summary>Size of the ctx_out buffer; default the ctx_in length.</summary>
    public int? ContextOutSize { get; init; }
    /// <summary>How many runs (0 means 1); duration is the kernel's average per run.</summary>
    public uint Repeat { get; init; }
    public TestRunFlags Flags { get; init; }
    public uint Cpu { get; init; }
    public uint BatchSize { get; init; }
}

/// <summary>Outputs of BPF_PROG_TEST_RUN: r0 of the last run, the per-run duration in ns, data_out, ctx_out.</summary>
public sealed record TestRunResult(uint ReturnValue, uint DurationNs, byte[] DataOut, byte[] ContextOut);
