using Ebpf.Runtime.Objects;

namespace Ebpf.Runtime;

public sealed partial class BpfRuntime
{
    private KernelModules? _modules;
    private readonly Lock _modulesLock = new();

    /// <summary>The kernel modules of this runtime: their split BTF, kfuncs and variables (module load and unload).</summary>
    public KernelModules Modules
    {
        get
        {
            if (_modules is { } m)
                return m;
            lock (_modulesLock)
                return _modules ??= new KernelModules(this);
        }
    }

    /// <summary>The vmlinux BTF of this runtime: <see cref="KernelBtf"/>'s main BTF, or this machine's (ENOENT without one).</summary>
    internal Btf.BtfSpec Vmlinux => (KernelBtf ?? CoRe.CoreTargets.RunningKernel()).Main.Btf;

    /// <summary><see cref="Vmlinux"/>, or null on a machine without one (a rule that consults it then does not apply).</summary>
    internal Btf.BtfSpec? VmlinuxIfAny()
    {
        try { return Vmlinux; }
        catch (BpfException) { return null; }
    }

    /// <summary>
    /// The CO-RE targets of an object load: a custom file alone (btf_custom_path); otherwise vmlinux, then the module
    /// BTFs <see cref="KernelBtf"/> names and the modules loaded now (read when a relocation first needs them).
    /// </summary>
    internal CoRe.CoreTargets CoreTargetsFor(string? customPath)
    {
        if (customPath is not null)
            return CoRe.CoreTargets.FromFile(customPath);
        var kernel = KernelBtf ?? CoRe.CoreTargets.RunningKernel();
        if (kernel.IsCustom)
            return kernel;
        return new CoRe.CoreTargets(kernel.Main, () => [.. kernel.Modules, .. Modules.CoreTargets()]);
    }

    /// <summary>Publishes a kernel BTF object (a module's), holding its creator's reference for the module.</summary>
    internal BtfObject PublishKernelBtf(ReadOnlyMemory<byte> data, string name, Btf.BtfSpec spec)
    {
        var btf = new BtfObject(this, data.ToArray(), name, isKernel: true, spec);
        Publish(btf);
        return btf;
    }
}
