namespace Ebpf.Verification;

/// <summary>
/// The features a refusal for lack of modelling names ("… is not supported by this verifier: FEATURE"), so that the
/// README's status can list each of them with how many corpus and fixture programs it stops.
/// </summary>
internal static class UnsupportedFeatures
{
    public const string HelperWithoutPrototype = "helpers without a prototype";
    public const string ModuleKfuncs = "module kfuncs";
    public const string KfuncNonStructPointer = "kfuncs returning pointers to non-struct types";
    public const string KfuncSpecialSuffix = "kfunc arguments with special name suffixes (__str, __ign, __map, …)";
    public const string KfuncDynptrArgument = "dynptr kfunc arguments";
    public const string KfuncUnknownPointerReturn = "kfuncs returning pointers with unknown KF_ACQUIRE/KF_RET_NULL flags";
    public const string GlobalDynptrArgument = "dynptr arguments of global functions";
    public const string GlobalArenaArgument = "arena arguments of global functions";
    public const string ArenaPrograms = "arena programs";
    public const string StructOpsTypes = "struct_ops types other than tcp_congestion_ops and bpf_dummy_ops";

    /// <summary>Every feature a refusal can name, with the kfunc families and the helpers' reasons.</summary>
    public static IEnumerable<string> All =>
        new[]
        {
            HelperWithoutPrototype, ModuleKfuncs, KfuncNonStructPointer, KfuncSpecialSuffix, KfuncDynptrArgument,
            KfuncUnknownPointerReturn, GlobalDynptrArgument, GlobalArenaArgument, ArenaPrograms, StructOpsTypes,
        }
        .Concat(KernelFunctions.UnsupportedFamilies)
        .Concat(Abi.Helpers.HelperPrototypes.All.Select(p => p.Unsupported).OfType<string>())
        .Distinct(StringComparer.Ordinal);
}
