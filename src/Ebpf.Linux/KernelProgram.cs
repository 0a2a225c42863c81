using System.Runtime.InteropServices;
using System.Text;
using Ebpf.Abi;
using Ebpf.Collections;
using Ebpf.Isa;
using Ebpf.Linux.Native;

namespace Ebpf.Linux;

/// <summary>
/// A program loaded into the running kernel. Owns its file descriptor: dispose it to drop this reference
/// (the kernel frees the program once no fd, pin or link holds it).
/// </summary>
public sealed unsafe class KernelProgram : IDisposable
{
    private KernelProgram(BpfFd fd, ProgramType type, string name, string? log, AttachType? expectedAttachType = null)
    {
        ExpectedAttachType = expectedAttachType;
        Fd = fd;
        Type = type;
        Name = name;
        VerifierLog = log;
    }

    /// <summary>The program's descriptor, for attach, link and test-run attr fields.</summary>
    public BpfFd Fd { get; }
    /// <summary>bpf_prog_info.type: the program type it was loaded as.</summary>
    public ProgramType Type { get; }
    /// <summary>The name as the kernel stores it (sanitised, at most 15 characters).</summary>
    public string Name { get; }
    /// <summary>The verifier log of a successful load, when a log level was requested.</summary>
    public string? VerifierLog { get; }
    /// <summary>
    /// expected_attach_type as loaded (what a tracing link is created with). bpf_prog_info does not report it, so for
    /// a program opened by id or pin it is unknown (null).
    /// </summary>
    public AttachType? ExpectedAttachType { get; }

    /// <summary>
    /// BPF_PROG_LOAD. On failure the <see cref="BpfException"/> carries the errno and the verifier log
    /// (fetched with a Level1 retry when no log was requested).
    /// </summary>
    public static KernelProgram Load(ProgramLoadAttributes options)
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
        return new KernelProgram(fd, options.Type, name, level == VerifierLogLevel.None ? null : log, options.ExpectedAttachType);
    }

    /// <summary>One load, growing the log buffer on ENOSPC until it fits or hits the cap.</summary>
    private static (BpfFd? Fd, Errno Errno, string? Log) LoadWithLog(ProgramLoadAttributes options, string name, string what, VerifierLogLevel level)
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

    private static (BpfFd? Fd, Errno Errno, uint LogTrueSize) LoadOnce(ProgramLoadAttributes options, string name, VerifierLogLevel level, byte[]? logBuffer)
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
        fixed (byte* coreRelos = options.CoreRelocations.Span)
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
            if (!options.CoreRelocations.IsEmpty)
            {
                attr.CoreReloRecSize = options.CoreRelocationRecordSize;
                attr.CoreRelos = (ulong)coreRelos;
                attr.CoreReloCnt = (uint)(options.CoreRelocations.Length / Math.Max(1, (int)options.CoreRelocationRecordSize));
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

    /// <summary>BPF_OBJ_GET_INFO_BY_FD into struct bpf_prog_info, read fresh from the kernel.</summary>
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
            LoadTime = KernelClock.WallTime(info.LoadTime),
            AttachBtfId = info.AttachBtfId,
            AttachBtfObjectId = info.AttachBtfObjId,
            RunTimeNs = info.RunTimeNs,
            RunCount = info.RunCnt,
            Memlock = KernelFdInfo.Read(fd).Memlock,
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

    /// <summary>
    /// BPF_PROG_TEST_RUN with the options' meaning of data_size_out/ctx_size_out (null: no buffer; 0: the whole
    /// result, fetched again at the size the kernel reports when the first buffer was short).
    /// </summary>
    public TestRunResult TestRun(TestRunOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var dataIn = options.DataIn ?? [];
        var ctxIn = options.ContextIn ?? [];
        bool whole = options.DataSizeOut == 0;
        int dataOutSize = options.DataSizeOut is int limit ? (limit > 0 ? limit : dataIn.Length + 4096) : 0;
        if (options.DataSizeOut < 0)
            throw new BpfException(Errno.EINVAL, "data_size_out is negative");
        int ctxOutSize = options.ContextSizeOut ?? 0;
        for (int attempt = 0; ; attempt++)
        {
            var dataOut = new byte[dataOutSize];
            var ctxOut = new byte[ctxOutSize];
            using var prog = Fd.Lease();
            fixed (byte* dIn = dataIn)
            fixed (byte* cIn = ctxIn)
            fixed (byte* dOut = dataOut)
            fixed (byte* cOut = ctxOut)
            {
                var attr = new TestRunAttr
                {
                    ProgFd = prog.Value,
                    DataSizeIn = (uint)dataIn.Length,
                    DataIn = options.DataIn is null ? 0 : (ulong)dIn,
                    DataSizeOut = (uint)dataOut.Length,
                    DataOut = options.DataSizeOut is null ? 0 : (ulong)dOut,
                    Repeat = options.Repeat,
                    CtxSizeIn = (uint)ctxIn.Length,
                    CtxIn = options.ContextIn is null ? 0 : (ulong)cIn,
                    CtxSizeOut = (uint)ctxOut.Length,
                    CtxOut = options.ContextSizeOut is null ? 0 : (ulong)cOut,
                    Flags = (uint)options.Flags,
                    Cpu = options.Cpu,
                    BatchSize = options.BatchSize,
                };
                long r = BpfSyscall.TryInvoke(BpfCommand.ProgTestRun, ref attr, out var errno);
                if (r < 0 && errno != Errno.ENOSPC)
                    throw BpfSyscall.Error(BpfCommand.ProgTestRun, Name, errno);
                if (r < 0 && whole && attempt == 0 && attr.DataSizeOut > dataOutSize)
                {
                    dataOutSize = (int)attr.DataSizeOut;
                    continue;
                }
                byte[]? data = options.DataSizeOut is null ? null : dataOut.AsSpan(0, (int)Math.Min(attr.DataSizeOut, (uint)dataOut.Length)).ToArray();
                byte[]? ctx = options.ContextSizeOut is null || r < 0 && attr.CtxSizeOut > ctxOutSize && ctxOutSize == 0 ? null
                    : ctxOut.AsSpan(0, (int)Math.Min(attr.CtxSizeOut, (uint)ctxOut.Length)).ToArray();
                return new TestRunResult(attr.Retval, attr.Duration, data, (int)attr.DataSizeOut, ctx, (int)attr.CtxSizeOut,
                    r < 0 ? Errno.ENOSPC : Errno.None);
            }
        }
    }

    /// <summary>Closes this descriptor; the kernel frees the program when no fd, pin, link or map holds it.</summary>
    public void Dispose() => Fd.Dispose();

    /// <summary>Type, name and descriptor, for messages.</summary>
    public override string ToString() => $"{Type} program {Name} ({Fd})";
}
