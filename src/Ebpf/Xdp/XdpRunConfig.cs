using Ebpf.Btf;

namespace Ebpf.Xdp;

/// <summary>
/// A component's defaults from BTF (kernel-semantics.md §6.3): the struct variable <c>_&lt;function&gt;</c> in the
/// <c>.xdp_run_config</c> DATASEC, members <c>priority</c> and XDP action names whose values are array dimensions
/// (libbpf's <c>__uint</c>). A non-zero action value means "continue after this action", zero clears it.
/// </summary>
public readonly record struct XdpRunConfig(uint Priority, XdpChainActions ChainCallActions)
{
    /// <summary>XDP_DEFAULT_RUN_PRIO.</summary>
    public const uint DefaultPriority = 50;
    /// <summary>XDP_DEFAULT_CHAIN_CALL_ACTIONS: continue after XDP_PASS.</summary>
    public const XdpChainActions DefaultActions = XdpChainActions.Pass;
    /// <summary>The run config's section.</summary>
    public const string Section = ".xdp_run_config";

    /// <summary>Priority 50, chain on XDP_PASS.</summary>
    public static XdpRunConfig Default => new(DefaultPriority, DefaultActions);

    /// <summary>
    /// The run config of <paramref name="function"/> in <paramref name="btf"/>: the defaults when there is none;
    /// EINVAL when the variable is not a struct or a member is not a <c>__uint</c>; ENOTSUP (userspace ENOTSUP is EOPNOTSUPP, 95) for an unknown member.
    /// </summary>
    public static XdpRunConfig Read(BtfSpec? btf, string function)
    {
        ArgumentNullException.ThrowIfNull(function);
        if (btf?.FindDatasec(Section) is not { } sec)
            return Default;
        var var = btf.GetDatasecVariables(sec).Select(v => v.Var).FirstOrDefault(v => v.Name == "_" + function);
        if (var is null)
            return Default;
        if (btf.ResolveType(var.Type) is not BtfStruct def)
            throw new BpfException(Errno.EINVAL, $"{Section}: _{function} is not a struct");
        var config = Default;
        foreach (var m in def.Members)
        {
            if (m.Name.Length == 0)
                throw new BpfException(Errno.EINVAL, $"{Section}: _{function} has an unnamed member");
            bool isAction = XdpActionNames.All.Any(a => a.ToKernelName() == m.Name);
            if (m.Name != "priority" && !isAction)
                throw new BpfException(Errno.EOPNOTSUPP, $"{Section}: _{function}: invalid member '{m.Name}'");
            if (!btf.TryGetArrayCountBehindPointer(m.Type, out uint value))
                throw new BpfException(Errno.EINVAL, $"{Section}: _{function}: member '{m.Name}' is not a __uint (expected a pointer to an array)");
            if (m.Name == "priority")
            {
                config = config with { Priority = value };
                continue;
            }
            XdpActionNames.TryParse(m.Name, out var action);
            var bit = (XdpChainActions)(1u << (int)action);
            config = config with { ChainCallActions = value != 0 ? config.ChainCallActions | bit : config.ChainCallActions & ~bit };
        }
        return config;
    }
}
