namespace Ebpf.Collections;

/// <summary>flags of BPF_PROG_TEST_RUN.</summary>
[Flags]
public enum TestRunFlags : uint
{
    /// <summary>No flag.</summary>
    None = 0,
    /// <summary>BPF_F_TEST_RUN_ON_CPU (raw_tracepoint): run on <see cref="TestRunOptions.Cpu"/>.</summary>
    RunOnCpu = 1,
    /// <summary>BPF_F_TEST_XDP_LIVE_FRAMES: frames really go where the program sends them.</summary>
    XdpLiveFrames = 2,
    /// <summary>BPF_F_TEST_SKB_CHECKSUM_COMPLETE.</summary>
    SkbChecksumComplete = 4,
}

/// <summary>
/// The inputs of BPF_PROG_TEST_RUN (bpf_attr.test), on every backend. A null buffer is "not given": a null
/// <see cref="DataSizeOut"/> means no data_out buffer, 0 means "the whole result" (the kernel's retained old
/// behaviour), N at most N bytes (ENOSPC in <see cref="TestRunResult.Error"/> when the result is longer); a null
/// <see cref="ContextSizeOut"/> means no ctx_out.
/// </summary>
public sealed record TestRunOptions
{
    /// <summary>data_in: the packet; null for non-packet program types.</summary>
    public byte[]? DataIn { get; init; }
    /// <summary>data_size_out (see the type's remarks).</summary>
    public int? DataSizeOut { get; init; }
    /// <summary>ctx_in (a struct __sk_buff, xdp_md, raw_tracepoint arguments …).</summary>
    public byte[]? ContextIn { get; init; }
    /// <summary>ctx_size_out; null: no ctx_out.</summary>
    public int? ContextSizeOut { get; init; }
    /// <summary>How many runs (0 means 1); the duration is the average per run.</summary>
    public uint Repeat { get; init; }
    /// <summary>BPF_F_TEST_* flags.</summary>
    public TestRunFlags Flags { get; init; }
    /// <summary>The CPU for <see cref="TestRunFlags.RunOnCpu"/>.</summary>
    public uint Cpu { get; init; }
    /// <summary>batch_size of XDP live frames.</summary>
    public uint BatchSize { get; init; }
}

/// <summary>
/// What BPF_PROG_TEST_RUN returns. <see cref="Error"/> is ENOSPC when data_out or ctx_out was too small (retval,
/// duration and the full sizes are still filled in, as the kernel does); otherwise None.
/// </summary>
public record TestRunResult(
    uint ReturnValue, uint Duration, byte[]? DataOut, int DataSizeOut, byte[]? ContextOut, int ContextSizeOut, Errno Error);
