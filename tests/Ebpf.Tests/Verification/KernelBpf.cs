using System.Runtime.InteropServices;
using System.Text;
using Ebpf.Isa;

namespace Ebpf.Tests.Verification;

/// <summary>
/// A minimal bpf(2) client for differential tests only: create a map, load raw instructions and return the
/// kernel's verdict and log. Production code uses Ebpf.Linux; this stays inside the verifier tests.
/// </summary>
internal static unsafe class KernelBpf
{
    private const long SysBpf = 321; // x86_64
    private const int BpfMapCreate = 0;
    private const int BpfProgLoad = 5;

    [DllImport("libc", SetLastError = true)]
    private static extern long syscall(long number, int cmd, void* attr, uint size);

    [DllImport("libc", SetLastError = true)]
    private static extern int close(int fd);

    /// <summary>Null when bpf(2) is usable; otherwise why not (for Assert.Skip).</summary>
    public static string? Unavailable()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return "bpf(2) differential tests need Linux x86_64";
        int fd = CreateMap(2, 4, 8, 1);
        if (fd < 0) return $"bpf(BPF_MAP_CREATE) failed with errno {-fd} (need root / CAP_BPF)";
        close(fd);
        return null;
    }

    /// <summary>Returns the fd, or -errno.</summary>
    public static int CreateMap(uint type, uint keySize, uint valueSize, uint maxEntries, uint flags = 0)
    {
        var attr = stackalloc byte[128];
        new Span<byte>(attr, 128).Clear();
        ((uint*)attr)[0] = type;
        ((uint*)attr)[1] = keySize;
        ((uint*)attr)[2] = valueSize;
        ((uint*)attr)[3] = maxEntries;
        ((uint*)attr)[4] = flags;
        long r = syscall(SysBpf, BpfMapCreate, attr, 128);
        return r < 0 ? -Marshal.GetLastPInvokeError() : (int)r;
    }

    public static void Close(int fd)
    {
        if (fd >= 0) close(fd);
    }

    /// <summary>Loads the program; returns (accepted, errno, log).</summary>
    public static (bool Accepted, int Errno, string Log) Load(IReadOnlyList<Instruction> insns, uint progType, uint expectedAttachType = 0, uint logLevel = 1, string license = "GPL", object? funcInfo = null)
    {
        var raw = new ulong[insns.Count];
        for (int i = 0; i < raw.Length; i++) raw[i] = insns[i].ToRaw();
        byte[] lic = Encoding.ASCII.GetBytes(license + "\0");
        const int logSize = 1 << 24;
        byte* log = (byte*)NativeMemory.AllocZeroed(logSize);
        try
        {
            fixed (ulong* insnPtr = raw)
            fixed (byte* licPtr = lic)
            {
                var attr = stackalloc byte[144];
                new Span<byte>(attr, 144).Clear();
                *(uint*)(attr + 0) = progType;
                *(uint*)(attr + 4) = (uint)raw.Length;
                *(ulong*)(attr + 8) = (ulong)insnPtr;
                *(ulong*)(attr + 16) = (ulong)licPtr;
                *(uint*)(attr + 24) = logLevel;
                *(uint*)(attr + 28) = logSize;
                *(ulong*)(attr + 32) = (ulong)log;
                *(uint*)(attr + 68) = expectedAttachType;
                long r = syscall(SysBpf, BpfProgLoad, attr, 144);
                int errno = r < 0 ? Marshal.GetLastPInvokeError() : 0;
                string text = Marshal.PtrToStringUTF8((nint)log) ?? "";
                if (r >= 0) close((int)r);
                return (r >= 0, errno, text);
            }
        }
        finally
        {
            NativeMemory.Free(log);
        }
    }

    /// <summary>Skips without bpf(2); otherwise asserts the kernel rejects <paramref name="program"/> (a socket filter
    /// unless <paramref name="type"/> says otherwise) at <paramref name="expected"/>'s instruction with its message.</summary>
    public static void AssertRejected(IReadOnlyList<Instruction> program, Rejection expected, string name, Ebpf.Abi.ProgramType type = Ebpf.Abi.ProgramType.SocketFilter)
    {
        if (Unavailable() is { } why) Requirement.Missing(Requirement.Kernel, why);
        var kernel = Load(program, (uint)type);
        Rejection.AssertKernel(kernel.Accepted, kernel.Log, expected, name);
    }

    /// <summary>Skips without bpf(2); otherwise asserts the kernel's verdict on <paramref name="program"/> as a socket filter.</summary>
    public static void AssertVerdict(IReadOnlyList<Instruction> program, bool accepted, string name)
    {
        if (Unavailable() is { } why) Requirement.Missing(Requirement.Kernel, why);
        var kernel = Load(program, (uint)Ebpf.Abi.ProgramType.SocketFilter);
        Assert.True(kernel.Accepted == accepted, $"{name}: the kernel {(kernel.Accepted ? "accepted" : "rejected")} it\n{kernel.Log}");
    }
}
