using Ebpf.Abi;
using Ebpf.Isa;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// check_struct_ops_btf_id: a struct_ops program is verified as the struct_ops member its attach_btf_id names, which
/// only a struct_ops map supplies. The kernel refuses a non-GPL one with its line (EINVAL) and one without an
/// attach_btf_id with ENOTSUPP; we have no struct_ops maps, so every struct_ops program is refused, naming the feature,
/// instead of being verified against a guessed context (upstream's verifier_global_subprogs/arg_tag_ctx_struct_ops).
/// </summary>
public class StructOpsRefusalTests
{
    private static readonly Instruction[] ReturnZero = [Instruction.Mov64(0, 0), Instruction.Exit()];

    [Fact]
    public void A_struct_ops_program_is_refused_naming_the_missing_feature()
    {
        var r = Verifier.Verify(new VerifierInput { Instructions = ReturnZero, ProgramType = ProgramType.StructOps });
        Assert.False(r.Accepted);
        Assert.Equal(Errno.ENOTSUPP, r.Errno);
        Assert.Equal(UnsupportedFeatures.StructOpsPrograms, r.UnsupportedFeature);
    }

    [Fact]
    public void A_non_gpl_struct_ops_program_gets_the_kernels_license_line_first()
    {
        var r = Verifier.Verify(new VerifierInput { Instructions = ReturnZero, ProgramType = ProgramType.StructOps, GplCompatible = false });
        Assert.False(r.Accepted);
        Assert.Equal(Errno.EINVAL, r.Errno);
        Assert.Equal("struct ops programs must have a GPL compatible license", r.Error);
    }
}
