namespace Ebpf.Runtime.Net;

/// <summary>
/// Per-device XDP counters (what a driver's xdp statistics report): frames the XDP program saw, per verdict, and
/// what became of them. Updated with interlocked increments by every injecting thread.
/// </summary>
public sealed class XdpDeviceCounters
{
    private long _received, _aborted, _drop, _pass, _tx, _redirect, _invalid, _txErrors, _redirectErrors;

    /// <summary>Frames that arrived at the device (with or without a program).</summary>
    public long Received => Interlocked.Read(ref _received);
    /// <summary>XDP_ABORTED verdicts.</summary>
    public long Aborted => Interlocked.Read(ref _aborted);
    /// <summary>XDP_DROP verdicts.</summary>
    public long Dropped => Interlocked.Read(ref _drop);
    /// <summary>XDP_PASS verdicts (and frames that met no program).</summary>
    public long Passed => Interlocked.Read(ref _pass);
    /// <summary>XDP_TX verdicts.</summary>
    public long Transmitted => Interlocked.Read(ref _tx);
    /// <summary>XDP_REDIRECT verdicts.</summary>
    public long Redirected => Interlocked.Read(ref _redirect);
    /// <summary>Return values that are no XDP action (bpf_warn_invalid_xdp_action), dropped.</summary>
    public long Invalid => Interlocked.Read(ref _invalid);
    /// <summary>Frames XDP_TX could not send (a veth whose peer has no XDP program to receive them natively…).</summary>
    public long TxErrors => Interlocked.Read(ref _txErrors);
    /// <summary>XDP_REDIRECT frames with no target that could take them (xdp_redirect_err).</summary>
    public long RedirectErrors => Interlocked.Read(ref _redirectErrors);

    internal void CountReceived() => Interlocked.Increment(ref _received);
    internal void CountTxError() => Interlocked.Increment(ref _txErrors);
    internal void CountRedirectError() => Interlocked.Increment(ref _redirectErrors);

    internal void CountVerdict(uint action)
    {
        switch (action)
        {
            case XdpActions.Aborted: Interlocked.Increment(ref _aborted); break;
            case XdpActions.Drop: Interlocked.Increment(ref _drop); break;
            case XdpActions.Pass: Interlocked.Increment(ref _pass); break;
            case XdpActions.Tx: Interlocked.Increment(ref _tx); break;
            case XdpActions.Redirect: Interlocked.Increment(ref _redirect); break;
            default: Interlocked.Increment(ref _invalid); break;
        }
    }
}

/// <summary>The XDP actions (enum xdp_action).</summary>
public static class XdpActions
{
    /// <summary>XDP_ABORTED.</summary>
    public const uint Aborted = 0;
    /// <summary>XDP_DROP.</summary>
    public const uint Drop = 1;
    /// <summary>XDP_PASS.</summary>
    public const uint Pass = 2;
    /// <summary>XDP_TX.</summary>
    public const uint Tx = 3;
    /// <summary>XDP_REDIRECT.</summary>
    public const uint Redirect = 4;

    /// <summary>"aborted", "drop", "pass", "tx", "redirect", or the number.</summary>
    public static string Name(uint action) => action switch
    {
        Aborted => "aborted",
        Drop => "drop",
        Pass => "pass",
        Tx => "tx",
        Redirect => "redirect",
        _ => action.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}

/// <summary>
/// The xdp:xdp_exception trace point as a runtime event: a program on <paramref name="Ifindex"/> returned XDP_ABORTED
/// or a value that is no action (<paramref name="Action"/>), or a devmap/cpumap program did.
/// </summary>
public sealed record XdpExceptionEvent(uint Ifindex, uint ProgramId, uint Action);
