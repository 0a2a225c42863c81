using Ebpf.Abi;
using Ebpf.Abi.Helpers;

namespace Ebpf.Verification.Attach;

/// <summary>
/// Helpers tracing_prog_func_proto offers only to programs with a trampoline (fentry, fexit, fmod_ret): a probe of the
/// tracing type without an attach target (what the availability table was built from) does not see them.
/// bpf_get_func_ret is further limited to fexit and fmod_ret. The seq_file helpers (bpf_seq_printf, bpf_seq_write,
/// bpf_seq_printf_btf) are offered to iterator programs (BPF_TRACE_ITER) only.
/// </summary>
internal static class TracingHelperRules
{
    public static bool Allows(ProgramType type, AttachType attachType, int helperId)
    {
        if (type == ProgramType.Tracing && attachType == AttachType.TraceIter)
            return (HelperId)helperId is HelperId.SeqPrintf or HelperId.SeqWrite or HelperId.SeqPrintfBtf;
        if (type != ProgramType.Tracing || attachType is not (AttachType.TraceFentry or AttachType.TraceFexit or AttachType.ModifyReturn))
            return false;
        return (HelperId)helperId switch
        {
            HelperId.GetFuncArg or HelperId.GetFuncArgCnt => true,
            HelperId.GetFuncRet => attachType is AttachType.TraceFexit or AttachType.ModifyReturn,
            _ => false,
        };
    }
}
