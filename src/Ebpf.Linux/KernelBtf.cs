using Ebpf.Collections;
using Ebpf.Linux.Native;

namespace Ebpf.Linux;

/// <summary>A BTF object loaded into the kernel (BPF_BTF_LOAD), as referenced by prog_btf_fd and map btf_fd.</summary>
public sealed unsafe class KernelBtf : IDisposable
{
    private KernelBtf(BpfFd fd, string? log)
    {
        Fd = fd;
        Log = log;
    }

    /// <summary>The BTF object's descriptor; pass it as btf_fd / prog_btf_fd.</summary>
    public BpfFd Fd { get; }
    /// <summary>The kernel's BTF log of the load, when a level was requested.</summary>
    public string? Log { get; }

    /// <summary>
    /// BPF_BTF_LOAD of raw .BTF bytes. A rejected blob is retried once with a log so the exception
    /// explains it (e.g. "[3] PTR  Invalid type_id").
    /// </summary>
    public static KernelBtf Load(ReadOnlySpan<byte> btf, VerifierLogLevel logLevel = VerifierLogLevel.None, int logSize = 64 * 1024)
    {
        var (fd, errno, log) = LoadOnce(btf, logLevel, logSize);
        if (fd is null && logLevel == VerifierLogLevel.None && errno != Errno.ENOSYS)
        {
            var (retry, _, retryLog) = LoadOnce(btf, VerifierLogLevel.Level1, logSize);
            retry?.Dispose();
            log = retryLog;
        }
        if (fd is null)
            throw BpfSyscall.Error(BpfCommand.BtfLoad, $"({btf.Length} bytes)", errno, string.IsNullOrEmpty(log) ? null : log);
        return new KernelBtf(fd, log);
    }

    private static (BpfFd? Fd, Errno Errno, string? Log) LoadOnce(ReadOnlySpan<byte> btf, VerifierLogLevel level, int logSize)
    {
        while (true)
        {
            byte[]? logBuffer = level == VerifierLogLevel.None ? null : new byte[logSize];
            fixed (byte* data = btf)
            fixed (byte* logPtr = logBuffer)
            {
                var attr = new BtfLoadAttr
                {
                    Btf = (ulong)data,
                    BtfSize = (uint)btf.Length,
                    BtfLogBuf = (ulong)logPtr,
                    BtfLogSize = logBuffer is null ? 0 : (uint)logBuffer.Length,
                    BtfLogLevel = logBuffer is null ? 0 : (uint)level,
                };
                long fd = BpfSyscall.TryInvoke(BpfCommand.BtfLoad, ref attr, out var errno);
                string? log = logBuffer is null ? null : KernelProgram.ReadCString(logBuffer);
                if (fd < 0 && errno == Errno.ENOSPC && logBuffer is not null && logSize < 16 * 1024 * 1024)
                {
                    logSize = (int)Math.Min(Math.Max(attr.BtfLogTrueSize, (uint)logSize * 4), 16u * 1024 * 1024);
                    continue;
                }
                return fd < 0 ? (null, errno, log) : (BpfSyscall.NewFd(fd, BpfObjectKind.Btf), Errno.None, log);
            }
        }
    }

    /// <summary>Takes ownership of a BTF descriptor obtained elsewhere.</summary>
    public static KernelBtf FromFd(BpfFd fd) => new(fd, null);

    /// <summary>BPF_BTF_GET_FD_BY_ID (e.g. the id of vmlinux BTF, or of a program's BTF).</summary>
    public static KernelBtf FromId(uint id) => new(KernelObjects.OpenById(BpfObjectKind.Btf, id), null);

    /// <summary>BPF_OBJ_GET_INFO_BY_FD into struct bpf_btf_info: id, name, size, kernel_btf.</summary>
    public BtfInfo GetInfo()
    {
        var name = new byte[256];
        fixed (byte* n = name)
        {
            var info = new BtfInfoNative { Name = (ulong)n, NameLen = (uint)name.Length };
            ObjectInfo.Get(Fd, ref info, "btf");
            return new BtfInfo
            {
                Id = info.Id,
                Size = info.BtfSize,
                Name = KernelProgram.ReadCString(name),
                IsKernel = info.KernelBtf != 0,
            };
        }
    }

    /// <summary>The raw BTF back from the kernel (byte-identical to what was loaded, for user BTF).</summary>
    public byte[] ReadBytes()
    {
        var size = new BtfInfoNative();
        ObjectInfo.Get(Fd, ref size, "btf");
        var bytes = new byte[size.BtfSize];
        fixed (byte* p = bytes)
        {
            var info = new BtfInfoNative { Btf = (ulong)p, BtfSize = (uint)bytes.Length };
            ObjectInfo.Get(Fd, ref info, "btf");
        }
        return bytes;
    }

    /// <summary>Closes the descriptor (the kernel keeps the BTF while programs or maps use it).</summary>
    public void Dispose() => Fd.Dispose();
}
