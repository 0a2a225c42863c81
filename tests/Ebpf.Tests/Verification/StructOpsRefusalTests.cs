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

/// <summary>
/// check_struct_ops_btf_id's refusals that no libbpf-built object reaches (the loader binds only struct_ops structs and
/// function-pointer members): raw attach_btf_id / expected_attach_type pairs loaded into the live kernel and into our
/// verifier, the kernel's errno and line compared.
/// </summary>
public class StructOpsAttachRefusalTests
{
    private static readonly Instruction[] ReturnZero = [Instruction.Mov64(0, 0), Instruction.Exit()];

    public static TheoryData<string, string, int> Cases => new()
    {
        // (struct, member or "#index", expected errno)
        { "task_struct", "#0", (int)Errno.ENOTSUPP },         // attach_btf_id N is not a supported struct
        { "tcp_congestion_ops", "#99", (int)Errno.EINVAL },    // attach to invalid member idx 99
        { "tcp_congestion_ops", "name", (int)Errno.EINVAL },  // a data member: attach to invalid member name(@idx N)
        { "tcp_congestion_ops", "get_info", (int)Errno.ENOTSUPP }, // no cfi stub
        { "tcp_congestion_ops", "ssthresh", 0 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_kernel_and_ours_refuse_alike(string structName, string member, int errno)
    {
        var vmlinux = Ebpf.Btf.BtfSpec.LoadVmlinux();
        uint id = vmlinux.FindAllByName(structName, Ebpf.Btf.BtfKind.Struct).First();
        var st = (Ebpf.Btf.BtfStruct)vmlinux.GetType(id);
        int index = member.StartsWith('#') ? int.Parse(member[1..], System.Globalization.CultureInfo.InvariantCulture)
            : st.Members.Select((m, i) => (m, i)).First(x => x.m.Name == member).i;
        var ours = Verifier.Verify(new VerifierInput
        {
            Instructions = ReturnZero, ProgramType = ProgramType.StructOps, AttachBtfId = id, ExpectedAttachType = (AttachType)index,
        });
        Assert.Equal(errno == 0, ours.Accepted);
        if (errno != 0) Assert.Equal((Errno)errno, ours.Errno);
        VerifierFixture.RequireKernel();
        try
        {
            using var prog = Ebpf.Linux.LinuxKernel.Backend.LoadProgram(
                new Ebpf.Collections.ProgramDefinition(ProgramType.StructOps, ReturnZero, "so_refusal", "GPL", (AttachType)index, 0),
                options: new Ebpf.Collections.ProgramLoadOptions { AttachBtfId = id, LogLevel = 1 });
            Assert.Equal(0, errno);
        }
        catch (BpfException e)
        {
            Assert.Equal((Errno)errno, e.Errno);
            string kernelLine = (e.Log ?? "").Split('\n').FirstOrDefault(l => l.Length > 0 && !l.StartsWith("processed ", StringComparison.Ordinal)) ?? "";
            Assert.Equal(kernelLine, ours.Error ?? "");
        }
    }
}
