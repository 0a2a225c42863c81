using Ebpf.Abi;
using Ebpf.Runtime;
using Ebpf.Runtime.Links;
using static Ebpf.Tests.Runtime.Links.LinkFixtures;

namespace Ebpf.Tests.Runtime.Links;

/// <summary>freplace on BPF targets: load against a target, attach, run, detach (kernel-semantics.md §2.2, §2.5, §2.7).</summary>
public class ExtensionTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Extension_replaces_check_until_its_link_goes(bool jit)
    {
        var rt = new BpfRuntime { JitEnabled = jit };
        using var target = rt.Load(Spec("target"));
        var serve = target.Programs["serve"];
        Assert.Equal(Original, Run(rt, serve));
        using var ext = rt.Load(Spec("ext"), serve);
        var newCheck = ext.Programs["new_check"];
        Assert.Equal(Original, Run(rt, serve)); // loaded, not attached
        var link = newCheck.AttachExtension(serve, "check");
        Assert.Equal(Extended, Run(rt, serve));
        Assert.Equal(Extended, Run(rt, serve));
        Assert.Equal(2ul, Global(ext, ".bss", 0));
        Assert.True(serve.Program.IsExtended);
        link.Dispose();
        Assert.Equal(Original, Run(rt, serve));
        Assert.False(serve.Program.IsExtended);
        Assert.Equal(2ul, Global(ext, ".bss", 0));
    }
}

/// <summary>Loads the kernel refuses, each with its log line and errno (§2.2, §2.2.1, §2.3).</summary>
public class ExtensionLoadRefusalTests
{
    private static BpfException Refused(Action load) => Assert.Throws<BpfException>(load);

    private static void AssertRefused(BpfException e, string line, Errno errno = Errno.EINVAL)
    {
        Assert.Equal(errno, e.Errno);
        Assert.Contains(line, e.Message);
        Assert.NotNull(e.Log);
        Assert.Contains(line + "\n", e.Log);
    }

    [Fact]
    public void An_extension_without_a_target_is_refused_as_the_kernel_refuses_it()
    {
        var rt = new BpfRuntime();
        AssertRefused(Refused(() => rt.Load(Spec("ext"))), "Tracing programs must provide btf_id");
        Assert.Empty(rt.GetIds(Ebpf.Abi.ObjectKind.Program));
    }

    [Fact]
    public void A_tracing_program_without_a_target_is_refused_too()
    {
        // Without a target, fentry/check names a kernel function: libbpf finds no FUNC "check" in vmlinux (ESRCH).
        if (!File.Exists("/sys/kernel/btf/vmlinux"))
            Requirement.Missing(Requirement.Vmlinux, "/sys/kernel/btf/vmlinux not present");
        var rt = new BpfRuntime();
        var e = Refused(() => rt.Load(Spec("trace")));
        Assert.Equal(Errno.ESRCH, e.Errno);
        Assert.Contains("failed to find kernel BTF type ID of 'check'", e.Message);
    }

    [Theory]
    [InlineData("two_args", "two_args() has 2 args while check() has 1 args")]
    [InlineData("returns_void", "Return type UNKNOWN of returns_void() doesn't match type INT of check()")]
    [InlineData("takes_pointer", "arg0 in takes_pointer() is PTR while check() has INT")]
    [InlineData("new_twice", "Cannot replace static functions")]
    public void Prototype_and_linkage_refusals_carry_the_kernel_line(string program, string line)
    {
        var rt = new BpfRuntime();
        using var target = rt.Load(Spec("target"));
        AssertRefused(Refused(() => rt.Load(SpecWith("ext_variants", program), target.Programs["serve"])), line);
        Assert.Equal(1, target.Programs["serve"].Program.ReferenceCount); // a refused load keeps no reference on the target
    }

    [Fact]
    public void Unknown_function_ids_and_names_are_refused()
    {
        var rt = new BpfRuntime();
        using var target = rt.Load(Spec("target"));
        var serve = target.Programs["serve"];
        var spec = SpecWith("ext_variants", "minus_check");
        var ps = spec.Programs.Single(p => p.Name == "minus_check");
        ps.AttachTarget = "nope";
        var e = Refused(() => rt.Load(spec, serve));
        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.Contains("nope is not found in prog's BTF", e.Message);
        // A BTF id that is not a func_info FUNC of the target: P2 before the type checks.
        var btf = serve.Program.Btf!.Parsed;
        uint intId = btf.FindAllByName("int", Ebpf.Btf.BtfKind.Int).First();
        ps.AttachTarget = "check";
        var ext = ObjectWithoutTarget(rt, serve, intId);
        AssertRefused(Refused(ext), "Subprog int doesn't exist");
        AssertRefused(Refused(ObjectWithoutTarget(rt, serve, 9999)), "attach_btf_id 9999 is invalid");
    }

    /// <summary>Loads minus_check's instructions as a raw BPF_PROG_LOAD with attach_prog_fd + attach_btf_id.</summary>
    private static Action ObjectWithoutTarget(BpfRuntime rt, BpfProgram target, uint btfId) => () =>
    {
        var spec = SpecWith("ext_variants", "minus_check");
        using var coll = rt.Load(spec, target); // load-time target "check": fine
        var loaded = coll.Programs["minus_check"].Program;
        rt.LoadProgram(loaded.Definition, btf: coll.Btf, options: new ProgramLoadOptions
        {
            AttachTarget = target, AttachBtfId = btfId,
            Functions = Ebpf.Verification.ProgramSpecInput.Create(spec, spec.Programs.Single(p => p.Name == "minus_check")).Functions,
        }).Dispose();
    };

    [Fact]
    public void An_extension_cannot_extend_an_extension()
    {
        var rt = new BpfRuntime();
        using var target = rt.Load(Spec("target"));
        using var ext = rt.Load(Spec("ext"), target.Programs["serve"]);
        var spec = SpecWith("ext_variants", "minus_check");
        spec.Programs.Single(p => p.Name == "minus_check").AttachTarget = "new_check";
        // An extension's main function is reliable (verified from its prototype), so P10 refuses it.
        AssertRefused(Refused(() => rt.Load(spec, ext.Programs["new_check"])), "Cannot recursively attach");
    }

    [Fact]
    public void Fmod_ret_cannot_target_a_BPF_program()
    {
        var rt = new BpfRuntime();
        using var target = rt.Load(Spec("target"));
        AssertRefused(Refused(() => rt.Load(SpecWith("trace", "modify"), target.Programs["serve"])), "can't modify return codes of BPF programs");
    }

    [Fact]
    public void Fentry_reading_past_the_arguments_is_an_invalid_ctx_access()
    {
        var rt = new BpfRuntime();
        using var target = rt.Load(Spec("target"));
        var e = Refused(() => rt.Load(SpecWith("trace", "reads_too_far"), target.Programs["serve"]));
        Assert.Equal(Errno.EACCES, e.Errno);
        Assert.Contains("invalid bpf_context access off=8 size=8", e.Log);
    }
}
