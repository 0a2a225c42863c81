using System.Runtime.CompilerServices;
using Ebpf.Btf;

namespace Ebpf.Verification;

/// <summary>
/// What an <c>ld_imm64</c> of a typed __ksym (BPF_PSEUDO_BTF_ID) puts in its register: the kernel's check_pseudo_btf_id
/// (aux->btf_var), for vmlinux and module BTF alike.
/// <list type="bullet">
/// <item>a FUNC (bpf_ksym_exists of a kfunc): PTR_TO_MEM | MEM_RDONLY of size 0, an address nothing may be read through;</item>
/// <item>a VAR of the BTF's own <c>.data..percpu</c> DATASEC: PTR_TO_BTF_ID | MEM_PERCPU of the VAR's type, usable only
/// through bpf_per_cpu_ptr / bpf_this_cpu_ptr (a direct access is "access percpu memory");</item>
/// <item>another VAR of a non-struct type: PTR_TO_MEM | MEM_RDONLY of the type's size;</item>
/// <item>another VAR of a struct type: PTR_TO_BTF_ID.</item>
/// </list>
/// </summary>
internal static class KsymRegisters
{
    /// <summary>The DATASEC of per-CPU variables in vmlinux and module BTF.</summary>
    public const string PercpuSection = ".data..percpu";

    private static readonly ConditionalWeakTable<BtfSpec, HashSet<uint>> PercpuVars = new();

    /// <summary>
    /// The register for the ksym <paramref name="id"/> of <paramref name="btf"/>, or the kernel's refusal (message,
    /// errno) in <paramref name="error"/>.
    /// </summary>
    public static RegisterState For(BtfSpec btf, uint id, out (string Message, Errno Errno)? error)
    {
        error = null;
        var t = btf.GetType(id);
        if (t is BtfFunc)
        {
            var f = RegisterState.Pointer(RegisterType.Mem);
            f.ReadOnly = true;
            f.MemSize = 0;
            return f;
        }
        var v = (BtfVar)t;
        uint target = btf.SkipModifiers(v.Type);
        var resolved = target == 0 ? null : btf.ResolveType(target);
        bool isStruct = resolved is BtfComposite;
        if (IsPercpu(btf, id))
        {
            var p = RegisterState.Pointer(RegisterType.BtfId);
            // The state names the VAR's type (btf_type_name of aux->btf_var.btf_id); a non-struct's size is what
            // bpf_per_cpu_ptr's memory will hold (-1: unresolvable, refused there).
            p.MemSize = isStruct
                ? KernelTypes.InternPercpu(resolved!.Name, true, 0)
                : KernelTypes.InternPercpu(v.Type == 0 ? "void" : btf.GetType(v.Type).Name, false, SizeOrMinus(btf, v.Type));
            return p;
        }
        if (!isStruct)
        {
            int size = SizeOrMinus(btf, v.Type);
            if (size < 0)
            {
                string tname = target == 0 ? "" : btf.GetType(target).Name;
                error = ($"ldimm64 unable to resolve the size of type '{tname}': -22", Errno.EINVAL);
                return default;
            }
            var m = RegisterState.Pointer(RegisterType.Mem);
            m.ReadOnly = true;
            m.MemSize = size;
            return m;
        }
        // A struct: the typed pointer; only vmlinux structs are walked by name (module structs stay untyped here).
        var s = RegisterState.Pointer(RegisterType.BtfId);
        if (btf.Base is null)
            s = Attach.BtfPointerLoads.TypedPointer(resolved!.Name, PointerTrust.None);
        return s;
    }

    /// <summary>Whether VAR <paramref name="id"/> is in the first <c>.data..percpu</c> DATASEC among the BTF's own types
    /// (find_btf_percpu_datasec: a module's BTF is searched past vmlinux's types).</summary>
    public static bool IsPercpu(BtfSpec btf, uint id) => PercpuVars.GetValue(btf, FindPercpuVars).Contains(id);

    private static HashSet<uint> FindPercpuVars(BtfSpec btf)
    {
        foreach (var t in btf.Types)
        {
            if (t is BtfDatasec ds && ds.Name == PercpuSection)
                return [.. ds.Variables.Select(v => v.Type)];
        }
        return [];
    }

    private static int SizeOrMinus(BtfSpec btf, uint type)
    {
        if (type == 0)
            return -1;
        try
        {
            ulong size = btf.SizeOf(type);
            return size > int.MaxValue ? -1 : (int)size;
        }
        catch (BpfException)
        {
            return -1;
        }
    }
}
