using Ebpf.Btf;

namespace Ebpf.Linux;

/// <summary>Resolves __ksym externs against the running kernel's BTF (/sys/kernel/btf/vmlinux): VAR and FUNC ids by name.</summary>
internal sealed class KernelSymbols : Collections.IKernelSymbols
{
    private readonly Btf.BtfSpec _vmlinux;

    public KernelSymbols(Btf.BtfSpec vmlinux)
    {
        _vmlinux = vmlinux;
    }

    private static readonly Lazy<KernelSymbols> Shared = new(() => new KernelSymbols(Btf.BtfSpec.LoadVmlinux()));

    /// <summary>The running kernel's symbols, parsed once per process.</summary>
    public static KernelSymbols Vmlinux() => Shared.Value;

    public uint? FindVariable(string name) => _vmlinux.TryFindByName(name, BtfKind.Var, out var t) ? t.Id : null;

    public uint? FindFunction(string name) => _vmlinux.TryFindByName(name, BtfKind.Func, out var t) ? t.Id : null;
}
