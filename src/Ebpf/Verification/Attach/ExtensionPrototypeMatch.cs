using Ebpf.Abi;
using Ebpf.Btf;

namespace Ebpf.Verification.Attach;

/// <summary>
/// <c>btf_check_type_match</c> (kernel-semantics.md §2.2.1): an extension's own main FUNC against the target FUNC,
/// by prototype only — global linkage on both, the same argument count, return and argument kinds (modifiers and
/// typedefs skipped), sizes, and for pointers the same context struct name. The extension's body is not looked at.
/// </summary>
internal static class ExtensionPrototypeMatch
{
    // btf_kind_str: how the kernel names a kind in these messages.
    private static readonly string[] KindNames =
    [
        "UNKNOWN", "INT", "PTR", "ARRAY", "STRUCT", "UNION", "ENUM", "FWD", "TYPEDEF", "VOLATILE", "CONST", "RESTRICT",
        "FUNC", "FUNC_PROTO", "VAR", "DATASEC", "FLOAT", "DECL_TAG", "TYPE_TAG", "ENUM64",
    ];

    public static string KindName(BtfType t) => (int)t.Kind < KindNames.Length ? KindNames[(int)t.Kind] : "UNKNOWN";

    public static void Check(AttachingProgram extension, BtfSpec targetBtf, BtfFunc target)
    {
        if (extension.Btf is not { } btf1 || extension.MainFunctionBtfId == 0)
            throw AttachTargetCheck.Refuse("Program extension requires BTF");
        if (!btf1.TryGetType(extension.MainFunctionBtfId, out var t1) || t1 is not BtfFunc f1)
            throw new AttachTargetException(Errno.EFAULT, null, $"{extension.Name}: func_info[0] is not a FUNC");
        CheckFunctions(btf1, f1, targetBtf, target);
    }

    /// <summary>btf_check_func_type_match.</summary>
    public static void CheckFunctions(BtfSpec btf1, BtfFunc f1, BtfSpec btf2, BtfFunc f2)
    {
        string fn1 = f1.Name, fn2 = f2.Name;
        if (f1.Linkage != BtfFuncLinkage.Global)
            throw AttachTargetCheck.Refuse($"{fn1}() is not a global function");
        if (f2.Linkage != BtfFuncLinkage.Global)
            throw AttachTargetCheck.Refuse($"{fn2}() is not a global function");
        if (btf1.GetType(f1.ProtoType) is not BtfFuncProto p1 || btf2.GetType(f2.ProtoType) is not BtfFuncProto p2)
            throw new AttachTargetException(Errno.EFAULT, null, $"{fn1}/{fn2}: FUNC without FUNC_PROTO");
        int nargs1 = p1.Parameters.Count, nargs2 = p2.Parameters.Count;
        if (nargs1 != nargs2)
            throw AttachTargetCheck.Refuse($"{fn1}() has {nargs1} args while {fn2}() has {nargs2} args");
        var r1 = Skip(btf1, p1.ReturnType);
        var r2 = Skip(btf2, p2.ReturnType);
        if (!SameInfo(r1, r2))
            throw AttachTargetCheck.Refuse($"Return type {KindName(r1)} of {fn1}() doesn't match type {KindName(r2)} of {fn2}()");
        for (int i = 0; i < nargs1; i++)
        {
            var a1 = Skip(btf1, p1.Parameters[i].Type);
            var a2 = Skip(btf2, p2.Parameters[i].Type);
            if (!SameInfo(a1, a2))
                throw AttachTargetCheck.Refuse($"arg{i} in {fn1}() is {KindName(a1)} while {fn2}() has {KindName(a2)}");
            if (SizeOf(a1) is uint s1 && SizeOf(a2) is uint s2 && s1 != s2)
                throw AttachTargetCheck.Refuse($"arg{i} in {fn1}() has size {s1} while {fn2}() has {s2}");
            // Global functions are verified with scalars and pointers to context only.
            if (a1 is BtfInt or BtfEnumType)
                continue;
            if (a1 is not BtfPtr ptr1 || a2 is not BtfPtr ptr2)
                throw AttachTargetCheck.Refuse($"arg{i} in {fn1}() has unrecognized type");
            var s1t = Skip(btf1, ptr1.Type);
            var s2t = Skip(btf2, ptr2.Type);
            if (s1t is not BtfStruct)
                throw AttachTargetCheck.Refuse($"arg{i} in {fn1}() is not a pointer to context");
            if (s2t is not BtfStruct)
                throw AttachTargetCheck.Refuse($"arg{i} in {fn2}() is not a pointer to context");
            if (s1t.Name != s2t.Name)
                throw AttachTargetCheck.Refuse($"arg{i} {fn1}(struct {s1t.Name} *) doesn't match {fn2}(struct {s2t.Name} *)");
        }
    }

    /// <summary>btf_type_skip_modifiers (typedefs are modifiers there); id 0 is void.</summary>
    private static BtfType Skip(BtfSpec btf, uint id) => btf.GetType(btf.SkipTypedefs(id));

    /// <summary>t1-&gt;info == t2-&gt;info: kind, vlen and kind_flag.</summary>
    private static bool SameInfo(BtfType a, BtfType b) => a.Kind == b.Kind && a.Vlen == b.Vlen && a.KindFlag == b.KindFlag;

    /// <summary>btf_type_has_size: int, enum, struct, union, datasec, float.</summary>
    private static uint? SizeOf(BtfType t) => t switch
    {
        BtfInt i => i.Size,
        BtfEnumType e => e.Size,
        BtfComposite c => c.Size,
        BtfFloat f => f.Size,
        BtfDatasec d => d.Size,
        _ => null,
    };
}
