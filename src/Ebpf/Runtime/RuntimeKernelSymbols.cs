using Ebpf.Btf;
using Ebpf.Collections;

namespace Ebpf.Runtime;

/// <summary>
/// __ksym and kfunc resolution against a managed runtime (libbpf's find_ksym_btf_id): vmlinux first, then every loaded
/// module's own types. Module BTF objects are handed to the loader as handles, which it passes in the load's fd_array.
/// </summary>
internal sealed class RuntimeKernelSymbols(BpfRuntime runtime) : IKernelSymbols
{
    public uint? FindVariable(string name) => Resolve(name, function: false)?.BtfId;

    public uint? FindFunction(string name) => Resolve(name, function: true)?.BtfId;

    public KernelSymbol? Resolve(string name, bool function)
    {
        var kind = function ? BtfKind.Func : BtfKind.Var;
        if (TryVmlinux(out var vmlinux) && vmlinux.TryFindByName(name, kind, out var t))
            return new KernelSymbol(t.Id, null);
        foreach (var module in runtime.Modules.Loaded)
        {
            foreach (uint id in module.Btf.FindAllByName(name, kind))
            {
                if (id >= module.Btf.FirstTypeId)
                    return new KernelSymbol(id, module.Name);
            }
        }
        return null;
    }

    public BtfHandle? OpenModuleBtf(string module)
    {
        var m = runtime.Modules.Find(module);
        if (m is null || !m.BtfObject.TryAcquire())
            return null;
        return new BtfHandle(m.BtfObject);
    }

    private bool TryVmlinux(out BtfSpec vmlinux)
    {
        try
        {
            vmlinux = runtime.Vmlinux;
            return true;
        }
        catch (BpfException)
        {
            vmlinux = null!;
            return false;
        }
    }
}
