using Ebpf.Abi;

namespace Ebpf.Tests.Collections;

/// <summary>
/// Loading against a target program and attaching, through the common object model on both backends: the target's
/// function found in its BTF (as libbpf's bpf_program__set_attach_target, through BTF_GET_FD_BY_ID on the kernel), the
/// load's attach_prog_fd/attach_btf_id as program info shows them, and what a kernel that refuses the load says.
/// </summary>
public sealed class AttachTargetBackendTests
{
    private static string Fixture(string name) => SharedData.Fixture($"links/{name}.bpf.o");

    [Theory, ClassData(typeof(Backends))]
    public void The_target_function_is_found_in_the_target_programs_BTF(string backend)
    {
        using var b = TestBackend.Create(backend);
        using var target = BpfCollection.LoadFile(b.Backend, Fixture("target"));
        var serve = target.Programs["serve"];
        // target.bpf.c's FUNCs in BTF order: length_of, check, ... (the ids clang gives them, the same on both backends).
        Assert.Equal(3u, BpfProgram.FindFunction(serve, "check"));
        var missing = Assert.Throws<BpfException>(() => BpfProgram.FindFunction(serve, "no_such_function"));
        Assert.Equal(Errno.ENOENT, missing.Errno);
        Assert.StartsWith("no_such_function is not found in prog's BTF", missing.Message);
        // A program loaded without BTF cannot be a target.
        using var bare = BpfCollection.LoadFile(b.Backend, Fixture("target"), new ObjectLoadOptions { LoadBtf = false });
        var noBtf = Assert.Throws<BpfException>(() => BpfProgram.FindFunction(bare.Programs["serve"], "check"));
        Assert.Equal(Errno.EINVAL, noBtf.Errno);
        Assert.StartsWith("The target program doesn't have BTF", noBtf.Message);
    }

    [Theory, ClassData(typeof(Backends))]
    public void A_program_loaded_against_nothing_reports_no_attach_target(string backend)
    {
        using var b = TestBackend.Create(backend);
        using var target = BpfCollection.LoadFile(b.Backend, Fixture("target"));
        var info = target.Programs["serve"].GetInfo();
        Assert.Equal(0u, info.AttachBtfId);
        Assert.Equal(0u, info.AttachBtfObjectId);
        Assert.NotEqual(0u, info.BtfId);
    }

    [Theory, ClassData(typeof(Backends))]
    public void An_extension_loads_against_the_target_or_carries_the_kernels_refusal(string backend)
    {
        using var b = TestBackend.Create(backend);
        using var target = BpfCollection.LoadFile(b.Backend, Fixture("target"));
        var serve = target.Programs["serve"];
        BpfCollection ext;
        try
        {
            ext = BpfCollection.LoadFile(b.Backend, Fixture("ext"), new ObjectLoadOptions { AttachTarget = serve });
        }
        catch (BpfException e) when (b.IsLinux)
        {
            // This machine's kernel refuses EXT loads (no function tracer): the error is BPF_PROG_LOAD's, as the kernel
            // gave it, not a refusal of ours before the call.
            Assert.Contains("BPF_PROG_LOAD new_check: ", e.Message);
            Assert.NotEqual(Errno.None, e.Errno);
            return;
        }
        using (ext)
        {
            var info = ext.Programs["new_check"].GetInfo();
            Assert.Equal(ProgramType.Ext, info.Type);
            Assert.Equal(3u, info.AttachBtfId);                      // attach_btf_id: check() in the target's BTF
            Assert.Equal(serve.GetInfo().BtfId, info.AttachBtfObjectId); // attach_btf_obj_id: the target's BTF object
            using var link = ext.Programs["new_check"].AttachExtension(serve, "check");
            var linkInfo = link.GetInfo();
            Assert.Equal(LinkType.Tracing, linkInfo.Type);
            Assert.Equal(serve.Id, linkInfo.TargetObjectId);
            Assert.Equal(3u, linkInfo.TargetBtfId);
            Assert.Equal(1064u, serve.TestRun(new TestRunOptions { DataIn = new byte[64] }).ReturnValue);
        }
    }

    [Theory, ClassData(typeof(Backends))]
    public void An_extension_without_a_target_is_refused(string backend)
    {
        using var b = TestBackend.Create(backend);
        var e = Assert.Throws<BpfException>(() => BpfCollection.LoadFile(b.Backend, Fixture("ext")).Dispose());
        if (!b.IsLinux)
        {
            Assert.Equal(Errno.EINVAL, e.Errno);
            Assert.Contains("Tracing programs must provide btf_id", e.Log);
        }
        else
            Assert.Contains("BPF_PROG_LOAD new_check: ", e.Message); // the kernel's verdict (EINVAL with that line where EXT loads at all)
    }

    [Fact]
    public void AttachExtension_refuses_a_program_that_is_no_extension()
    {
        using var b = TestBackend.Create(Backends.Managed);
        using var target = BpfCollection.LoadFile(b.Backend, Fixture("target"));
        var serve = target.Programs["serve"];
        var e = Assert.Throws<BpfException>(() => serve.AttachExtension(serve, "check"));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("not an extension", e.Message);
    }
}
