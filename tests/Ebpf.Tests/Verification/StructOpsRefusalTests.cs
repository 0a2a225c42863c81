using Ebpf.Abi;
using Ebpf.Isa;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// check_struct_ops_btf_id: a struct_ops program is verified as the struct_ops member its attach_btf_id names, which
/// only a struct_ops map supplies (StructOpsFixtureTests). The kernel refuses a non-GPL one with its line (EINVAL) and
/// one without an attach_btf_id with ENOTSUPP and no line.
/// </summary>
public class StructOpsRefusalTests
{
    private static readonly Instruction[] ReturnZero = [Instruction.Mov64(0, 0), Instruction.Exit()];

    [Fact]
    public void A_struct_ops_program_without_attach_btf_id_is_refused_with_enotsupp()
    {
        var r = Verifier.Verify(new VerifierInput { Instructions = ReturnZero, ProgramType = ProgramType.StructOps });
        Assert.False(r.Accepted);
        Assert.Equal(Errno.ENOTSUPP, r.Errno);
        Assert.Null(r.UnsupportedFeature);
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
