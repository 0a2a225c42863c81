namespace Ebpf.Xdp;

/// <summary>An XDP program's verdict (enum xdp_action).</summary>
public enum XdpAction : uint
{
    /// <summary>XDP_ABORTED: a program error; the frame is dropped.</summary>
    Aborted = 0,
    /// <summary>XDP_DROP.</summary>
    Drop = 1,
    /// <summary>XDP_PASS: on to the network stack.</summary>
    Pass = 2,
    /// <summary>XDP_TX: back out of the receiving device.</summary>
    Tx = 3,
    /// <summary>XDP_REDIRECT: to the target bpf_redirect*() chose.</summary>
    Redirect = 4,
}

/// <summary>
/// The actions after which a dispatcher goes on to the next component (libxdp's chain_call_actions bitmap: bit a =
/// continue after action a).
/// </summary>
[Flags]
public enum XdpChainActions : uint
{
    /// <summary>Stop after any action.</summary>
    None = 0,
    /// <summary>Continue after XDP_ABORTED.</summary>
    Aborted = 1u << (int)XdpAction.Aborted,
    /// <summary>Continue after XDP_DROP.</summary>
    Drop = 1u << (int)XdpAction.Drop,
    /// <summary>Continue after XDP_PASS (the default).</summary>
    Pass = 1u << (int)XdpAction.Pass,
    /// <summary>Continue after XDP_TX.</summary>
    Tx = 1u << (int)XdpAction.Tx,
    /// <summary>Continue after XDP_REDIRECT.</summary>
    Redirect = 1u << (int)XdpAction.Redirect,
}

/// <summary>XDP action names as libxdp and xdp-loader spell them.</summary>
public static class XdpActionNames
{
    /// <summary>The five actions in enum order.</summary>
    public static readonly IReadOnlyList<XdpAction> All = [XdpAction.Aborted, XdpAction.Drop, XdpAction.Pass, XdpAction.Tx, XdpAction.Redirect];

    /// <summary>"XDP_PASS" etc.</summary>
    public static string ToKernelName(this XdpAction action) => action switch
    {
        XdpAction.Aborted => "XDP_ABORTED",
        XdpAction.Drop => "XDP_DROP",
        XdpAction.Pass => "XDP_PASS",
        XdpAction.Tx => "XDP_TX",
        XdpAction.Redirect => "XDP_REDIRECT",
        _ => $"XDP_{(uint)action}",
    };

    /// <summary>Parses "XDP_PASS" or "pass" (any case); false for anything else.</summary>
    public static bool TryParse(string name, out XdpAction action)
    {
        ArgumentNullException.ThrowIfNull(name);
        string bare = name.StartsWith("XDP_", StringComparison.OrdinalIgnoreCase) ? name[4..] : name;
        foreach (var a in All)
            if (string.Equals(a.ToKernelName()[4..], bare, StringComparison.OrdinalIgnoreCase))
            {
                action = a;
                return true;
            }
        action = default;
        return false;
    }

    /// <summary>The chain-call bitmap's names, lower case, comma-separated (xdp-loader status's column).</summary>
    public static string Format(XdpChainActions actions) =>
        string.Join(",", All.Where(a => ((uint)actions & (1u << (int)a)) != 0).Select(a => a.ToKernelName()));
}
