using System.Collections.Frozen;
using Ebpf.Abi;
using Ebpf.Abi.Helpers;
using Ebpf.Abi.Profiles;
using Ebpf.Loading;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// Kernel profiles without a kernel: the reference's data, the file format (round trip, errors that name the
/// problem), and the verifier following whatever profile it is given — the same inputs give the same verdict on any
/// machine, and a different kernel gives that kernel's verdict.
/// </summary>
public class KernelProfileTests
{
    private static string MetaFixture => SharedData.Fixture("profiles/xdp_meta.bpf.o");

    /// <summary>The reference profile with one helper taken away from XDP: a kernel build like 6.18.44-fc-v1300.</summary>
    private static KernelProfile WithoutXdpHelper(int id)
    {
        var r = KernelProfile.Reference;
        return new KernelProfile
        {
            Name = "no-adjust-meta", KernelRelease = "test", Features = r.Features, KfuncProbedTypes = r.KfuncProbedTypes, Kfuncs = r.Kfuncs,
            Helpers = r.Helpers.ToFrozenDictionary(h => h.Key, h => h.Key == ProgramType.Xdp ? h.Value.Where(x => x != id).ToFrozenSet() : h.Value),
        };
    }

    private static VerificationResult Verify(string program, KernelProfile? profile)
    {
        var spec = ObjectSpec.Load(MetaFixture);
        return Verifier.Verify(ProgramSpecInput.Create(spec, spec.FindProgram(program)!, logLevel: 1, profile: profile));
    }

    [Fact]
    public void The_reference_is_mainline_6_18_whatever_machine_runs_the_test()
    {
        var r = KernelProfile.Reference;
        Assert.True(r.IsHelperAllowed(ProgramType.Xdp, (int)HelperId.XdpAdjustMeta));
        Assert.False(r.IsHelperAllowed(ProgramType.SocketFilter, (int)HelperId.XdpAdjustMeta));
        Assert.True(r.IsHelperAllowed(ProgramType.CgroupSkb, (int)HelperId.SkbLoadBytes));   // probed row, no longer approximated
        Assert.False(r.IsHelperAllowed(ProgramType.CgroupSkb, (int)HelperId.XdpAdjustHead));
        Assert.False(r.IsHelperAllowed(ProgramType.SocketFilter, (int)HelperId.TracePrintk, HelperPrivilege.Bpf)); // CAP_PERFMON tier
        Assert.True(r.HasFeature(KernelFeature.ArgCtxTag));
        Assert.True(Verify("reserve_meta", null).Accepted);
    }

    [Fact]
    public void The_verifier_gives_each_kernel_its_own_verdict_with_the_kernels_message()
    {
        var noMeta = WithoutXdpHelper((int)HelperId.XdpAdjustMeta);
        var refused = Verify("reserve_meta", noMeta);
        Assert.False(refused.Accepted);
        Assert.Equal(Errno.EINVAL, refused.Errno);
        Assert.Equal("program of this type cannot use helper bpf_xdp_adjust_meta#54", refused.Error);
        Assert.Equal(3, refused.ErrorInstruction);
        Assert.True(Verify("plain_pass", noMeta).Accepted);
        Assert.True(Verify("reserve_meta", KernelProfile.Reference).Accepted);
    }

    [Fact]
    public void A_program_type_the_kernel_lacks_is_refused_before_verification()
    {
        var r = KernelProfile.Reference;
        var noXdp = new KernelProfile { Name = "no-xdp", ProgramTypes = Enum.GetValues<ProgramType>().Where(t => t is not (ProgramType.Xdp or ProgramType.Unspec)).ToFrozenSet() };
        var result = Verify("plain_pass", noXdp);
        Assert.False(result.Accepted);
        Assert.Equal(Errno.EINVAL, result.Errno);
        Assert.Contains("program type xdp is not supported by kernel no-xdp", result.Error);
        Assert.True(r.SupportsProgramType(ProgramType.Xdp));
    }

    [Fact]
    public void A_profile_file_round_trips_and_answers_as_the_profile_did()
    {
        var original = WithoutXdpHelper((int)HelperId.XdpAdjustMeta);
        string path = Path.Combine(Path.GetTempPath(), $"ebpf-profile-{Guid.NewGuid():N}.json");
        try
        {
            File.WriteAllText(path, original.ToJson());
            var loaded = KernelProfile.Load(path);
            Assert.Equal("no-adjust-meta", loaded.Name);
            Assert.Equal("test", loaded.KernelRelease);
            foreach (var type in original.Helpers.Keys)
                for (int id = 1; id < HelperNames.MaxId; id++)
                    Assert.True(original.IsHelperAllowed(type, id) == loaded.IsHelperAllowed(type, id), $"{type} helper {id}");
            Assert.Equal(original.Kfuncs.Count, loaded.Kfuncs.Count);
            Assert.Equal(original.KfuncProbedTypes.Order(), loaded.KfuncProbedTypes.Order());
            Assert.Equal(original.Features.Order(), loaded.Features.Order());
            var refused = Verify("reserve_meta", loaded);
            Assert.Equal("program of this type cannot use helper bpf_xdp_adjust_meta#54", refused.Error);
            Assert.Equal(3, refused.ErrorInstruction);
            Assert.Equal(original.ToJson(), loaded.ToJson());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("{", "kernel profile bad.json:")]
    [InlineData("[1, 2]", "not a JSON object")]
    [InlineData("""{"name": "x", "program_types": ["xdp", "not_a_type"]}""", "unknown program type 'not_a_type'")]
    [InlineData("""{"name": "x", "map_types": ["hashh"]}""", "unknown map type 'hashh'")]
    [InlineData("""{"name": "x", "features": ["time_travel"]}""", "unknown feature 'time_travel'")]
    [InlineData("""{"name": "x", "helpers": {"xdp": "all"}}""", "helpers.xdp: expected a list of helper ids")]
    public void A_bad_profile_file_is_refused_with_a_message_naming_the_problem(string json, string expected)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"ebpf-profile-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, "bad.json");
        try
        {
            File.WriteAllText(path, json);
            var e = Assert.Throws<BpfException>(() => KernelProfile.Load(path));
            Assert.Equal(Errno.EINVAL, e.Errno);
            Assert.Contains(expected, e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_missing_profile_file_is_ENOENT()
    {
        var e = Assert.Throws<BpfException>(() => KernelProfile.Load("/nonexistent/profile.json"));
        Assert.Equal(Errno.ENOENT, e.Errno);
    }

    [Fact]
    public void A_map_type_the_kernel_lacks_is_the_loaders_refusal()
    {
        var spec = ObjectSpec.Load(SharedData.Fixture("verifier/maps.bpf.o"));
        var type = spec.Maps[0].Type;
        var without = new KernelProfile { Name = "old", MapTypes = Enum.GetValues<MapType>().Where(t => t != type).ToFrozenSet() };
        Assert.Contains($"map type {KernelNames.Of(type)} is not supported by kernel old", ProgramSpecInput.UnsupportedMap(spec, without));
        Assert.Null(ProgramSpecInput.UnsupportedMap(spec, KernelProfile.Reference));
    }
}

/// <summary>The kernel BTF is the profile's input, not something the verifier reads behind the caller's back.</summary>
public class KernelProfileBtfTests
{
    [Fact]
    public void Kfuncs_resolve_against_the_profiles_kernel_btf_only()
    {
        if (!File.Exists("/sys/kernel/btf/vmlinux"))
            Requirement.Missing(Requirement.Vmlinux, "/sys/kernel/btf/vmlinux not present");
        var vmlinux = Ebpf.Btf.BtfSpec.LoadVmlinux();
        uint id = vmlinux.FindAllByName("bpf_rcu_read_lock", Ebpf.Btf.BtfKind.Func).First();
        Ebpf.Isa.Instruction[] program =
        [
            new(Ebpf.Isa.Opcodes.Call, 0, (byte)Ebpf.Isa.CallSource.Kfunc, 0, (int)id),
            new(Ebpf.Isa.Opcodes.Call, 0, (byte)Ebpf.Isa.CallSource.Kfunc, 0, (int)vmlinux.FindAllByName("bpf_rcu_read_unlock", Ebpf.Btf.BtfKind.Func).First()),
            Ebpf.Isa.Instruction.Mov64(0, 0), Ebpf.Isa.Instruction.Exit(),
        ];
        var withBtf = Verifier.Verify(new VerifierInput { Instructions = program, ProgramType = ProgramType.Kprobe, Profile = KernelProfile.Reference });
        Assert.True(withBtf.Accepted, withBtf.Error);

        var noBtf = Verifier.Verify(new VerifierInput
        {
            Instructions = program, ProgramType = ProgramType.Kprobe,
            Profile = new KernelProfile { Name = "no-btf", Helpers = KernelProfile.Reference.Helpers, KernelBtfPath = null },
        });
        Assert.False(noBtf.Accepted);
        Assert.Equal($"kernel btf_id {id} is not a function", noBtf.Error);
        Assert.Equal(0, noBtf.ErrorInstruction);
    }

    [Fact]
    public void The_verdict_is_a_function_of_the_object_and_the_profile_not_of_the_machine()
    {
        if (!File.Exists("/sys/kernel/btf/vmlinux"))
            Requirement.Missing(Requirement.Vmlinux, "/sys/kernel/btf/vmlinux not present");
        var obj = Ebpf.Loading.ObjectSpec.Load(SharedData.Fixture("verifier/kfuncs.bpf.o"));
        string dir = Directory.CreateTempSubdirectory("ebpf-btf-").FullName;
        try
        {
            // The same kernel BTF, from a file the caller names: a profile carrying it gives the reference's verdicts
            // (which read the running kernel's copy by default) on any machine that has the file.
            string copy = Path.Combine(dir, "vmlinux");
            File.Copy("/sys/kernel/btf/vmlinux", copy);
            var pinned = new KernelProfile { Name = "pinned", Helpers = KernelProfile.Reference.Helpers, Kfuncs = KernelProfile.Reference.Kfuncs,
                KfuncProbedTypes = KernelProfile.Reference.KfuncProbedTypes, Features = KernelProfile.Reference.Features, KernelBtfPath = copy };
            // No kernel BTF: a path that names nothing is the same input as none at all.
            var none = pinned.WithKernelBtf(null);
            var missing = pinned.WithKernelBtf(Path.Combine(dir, "absent"));
            int accepted = 0;
            foreach (var prog in obj.Programs)
            {
                var reference = Verifier.Verify(ProgramSpecInput.Create(obj, prog, logLevel: 2));
                var withCopy = Verifier.Verify(ProgramSpecInput.Create(obj, prog, logLevel: 2, profile: pinned));
                Assert.Equal((reference.Errno, reference.Error, reference.Log), (withCopy.Errno, withCopy.Error, withCopy.Log));
                var withNone = Verifier.Verify(ProgramSpecInput.Create(obj, prog, logLevel: 2, profile: none));
                var withMissing = Verifier.Verify(ProgramSpecInput.Create(obj, prog, logLevel: 2, profile: missing));
                Assert.Equal((withNone.Errno, withNone.Error, withNone.Log), (withMissing.Errno, withMissing.Error, withMissing.Log));
                if (reference.Accepted) accepted++;
            }
            Assert.True(accepted > 0, "no kfunc program accepted with the kernel BTF: the comparison would prove nothing");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_pseudo_btf_id_must_name_a_var_or_func_of_the_kernel_btf_as_the_live_kernel_says()
    {
        if (!File.Exists("/sys/kernel/btf/vmlinux"))
            Requirement.Missing(Requirement.Vmlinux, "/sys/kernel/btf/vmlinux not present");
        int task = (int)Ebpf.Btf.BtfSpec.LoadVmlinux().FindByName("task_struct", Ebpf.Btf.BtfKind.Struct)!.Id;
        Ebpf.Isa.Instruction[] program = [new(0x18, 1, 3, 0, task), new(0, 0, 0, 0, 0), Ebpf.Isa.Instruction.Mov64(0, 0), Ebpf.Isa.Instruction.Exit()];
        var ours = Verifier.Verify(new VerifierInput { Instructions = program, ProgramType = ProgramType.SocketFilter });
        Assert.Equal(Errno.EINVAL, ours.Errno);
        Assert.Equal($"pseudo btf_id {task} in ldimm64 isn't KIND_VAR or KIND_FUNC", ours.Error);
        if (!Ebpf.Linux.LinuxKernel.IsAvailable)
            Requirement.Missing(Requirement.Kernel, $"the kernel half: bpf(2) is not usable here: {Ebpf.Linux.LinuxKernel.UnavailableReason}");
        var e = Assert.Throws<BpfException>(() => Ebpf.Tests.Linux.KernelRequirement.LoadSocketFilter(program).Dispose());
        Assert.Contains($"pseudo btf_id {task} in ldimm64 isn't KIND_VAR or KIND_FUNC", e.Log ?? e.Message);
    }
}
