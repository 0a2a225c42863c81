using Ebpf.Abi;
using Ebpf.Btf;
using Ebpf.Collections;
using Ebpf.Isa;
using Ebpf.Linux;
using Ebpf.Loading;
using Ebpf.Runtime;
using Ebpf.Runtime.Maps;
using Ebpf.Tests.Linux;

namespace Ebpf.Tests.CoRe;

/// <summary>
/// Module ksyms and kfuncs beyond resolution (tests/fixtures/core/modules/module_user.bpf.c on the test module):
/// per-CPU module variables (the module's .data..percpu) have one instance per CPU, reached through bpf_this_cpu_ptr
/// and bpf_per_cpu_ptr, and every other access is refused with the kernel's messages; a module variable outside
/// .data..percpu is one read-only instance; bpf_ksym_exists of module kfuncs; an absent weak kfunc called; module
/// kfuncs registered per program type as register_btf_kfunc_id_set files them under the kernel's hooks.
/// </summary>
public class ModuleKsymTests
{
    private const string Module = "ebpf_testmod";
    private static string UserObject => SharedData.Fixture("core/modules/module_user.bpf.o");
    private static readonly TestRunOptions Run = new() { DataIn = new byte[64] };

    private static ModuleKfunc[] Kfuncs(IReadOnlyList<ProgramType>? types = null) =>
    [
        new("ebpf_testmod_add", (a, b, _, _, _) => (ulong)(long)((int)a + (int)b), ProgramTypes: types),
        new("ebpf_testmod_scale", (v, k, _, _, _) => (ulong)((long)(int)v * (int)k)),
    ];

    private static (BpfRuntime Runtime, KernelModule Module) LoadModule(IReadOnlyList<ProgramType>? addTypes = null)
    {
        var runtime = new BpfRuntime();
        return (runtime, runtime.Modules.Load(Module, ModulesTests.ModuleBtf(), Kfuncs(addTypes)));
    }

    /// <summary>A second module built here: one int VAR in .data, not per-CPU (pahole 1.24 encodes only per-CPU VARs).</summary>
    private static KernelModule LoadPlainModule(BpfRuntime runtime)
    {
        var vmlinux = runtime.Vmlinux;
        var b = new BtfBuilder(vmlinux);
        uint var = b.AddVar("ebpf_plain_counter", vmlinux.FindByName("int", BtfKind.Int)!.Id);
        b.AddDatasec(".data", 4, new BtfVarSecinfo(var, 0, 4));
        return runtime.Modules.Load("ebpf_plainmod", b.ToBytes());
    }

    private static BpfCollection Load(BpfRuntime runtime, string program) =>
        runtime.Load(ObjectSpec.Load(UserObject), new ObjectLoadOptions { ProgramFilter = p => p.Name == program });

    private static BpfException Refused(BpfRuntime runtime, string program) =>
        Assert.Throws<BpfException>(() => Load(runtime, program));

    private static int Int(byte[] bss, string name) => BitConverter.ToInt32(bss, ModulesTests.Vars()[name].Offset);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_per_cpu_module_variable_has_one_instance_per_cpu(bool jit)
    {
        var (runtime, module) = LoadModule();
        runtime.JitEnabled = jit; // the IL JIT and the interpreter
        int cpus = BpfCpu.PossibleCount;
        Assert.True(module.IsPerCpuVariable("ebpf_testmod_counter"));
        for (int cpu = 0; cpu < cpus; cpu++)
            BitConverter.GetBytes(100 + cpu).CopyTo(module.Variable("ebpf_testmod_counter", cpu));
        Assert.Equal(Errno.ERANGE, Assert.Throws<BpfException>(() => module.Variable("ebpf_testmod_counter", cpus)).Errno);
        using var c = Load(runtime, "percpu_read");
        var bssMap = c.Maps.First(kv => kv.Key.EndsWith(".bss", StringComparison.Ordinal)).Value;
        for (int other = 0; other <= cpus; other++)
        {
            var image = bssMap.Lookup(new byte[4]);
            BitConverter.GetBytes(other).CopyTo(image, ModulesTests.Vars()["other_cpu"].Offset);
            bssMap.Update(new byte[4], image);
            for (int mine = 0; mine < cpus; mine++)
            {
                BpfCpu.SetCurrent(mine);
                c.Programs["percpu_read"].TestRun(Run);
                var bss = ModulesTests.Bss(c);
                // This CPU is the thread's, as for per-CPU maps (BpfCpu).
                Assert.Equal(100 + mine, Int(bss, "this_cpu_value"));
                // bpf_per_cpu_ptr of a CPU past the possible ones is NULL.
                Assert.Equal(other < cpus ? 100 + other : -1, Int(bss, "other_cpu_value"));
            }
        }
        // The instances are distinct storage: the host's write to CPU 0's leaves the last CPU's alone.
        BitConverter.GetBytes(-5).CopyTo(module.Variable("ebpf_testmod_counter", 0));
        Assert.Equal(-5, BitConverter.ToInt32(module.Variable("ebpf_testmod_counter")));
        if (cpus > 1)
            Assert.Equal(100 + cpus - 1, BitConverter.ToInt32(module.Variable("ebpf_testmod_counter", cpus - 1)));
    }

    [Fact]
    public void A_per_cpu_module_struct_is_read_through_the_typed_pointer_the_helpers_return()
    {
        var (runtime, module) = LoadModule();
        int cpus = BpfCpu.PossibleCount;
        for (int cpu = 0; cpu < cpus; cpu++)
        {
            var instance = module.Variable("ebpf_testmod_origin", cpu);
            BitConverter.GetBytes(10 + cpu).CopyTo(instance);
            BitConverter.GetBytes(1000L * (cpu + 1)).CopyTo(instance[8..]);
        }
        string obj = SharedData.Fixture("core/modules/module_percpu.bpf.o");
        using var c = runtime.Load(ObjectSpec.Load(obj));
        var vars = Ebpf.Elf.ElfFile.Open(obj).Symbols.Where(s => s.Type == Ebpf.Elf.ElfSymbolType.Object && s.Size > 0)
            .ToDictionary(s => s.Name, s => (int)s.Value);
        var bssMap = c.Maps.First(kv => kv.Key.EndsWith(".bss", StringComparison.Ordinal)).Value;
        for (int other = 0; other <= cpus; other++)
        {
            var image = bssMap.Lookup(new byte[4]);
            BitConverter.GetBytes(other).CopyTo(image, vars["cpu"]);
            bssMap.Update(new byte[4], image);
            BpfCpu.SetCurrent(cpus - 1);
            c.Programs["origin_members"].TestRun(Run);
            var bss = bssMap.Lookup(new byte[4]);
            Assert.Equal(10 + cpus - 1, BitConverter.ToInt32(bss, vars["mine_x"]));
            Assert.Equal(other < cpus ? 10 + other : -1, BitConverter.ToInt32(bss, vars["theirs_x"]));
            Assert.Equal(other < cpus ? 1000L * (other + 1) : -1L, BitConverter.ToInt64(bss, vars["theirs_y"]));
        }
    }

    [Theory]
    [InlineData("percpu_direct", Errno.EACCES, "R1 is ptr_int access percpu memory: off=0")]
    [InlineData("percpu_write", Errno.EACCES, "R0 cannot write into rdonly_mem")]
    [InlineData("percpu_unchecked", Errno.EACCES, "R0 invalid mem access 'rdonly_mem_or_null'")]
    [InlineData("percpu_not_percpu", Errno.EACCES, "R1 type=ctx expected=percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_")]
    [InlineData("plain_var_write", Errno.EACCES, "R1 cannot write into rdonly_mem")]
    [InlineData("kfunc_missing_called", Errno.EINVAL, "invalid func unknown#2002000003")] // ebpf_testmod_missing: 4th extern by name
    public void Module_ksym_misuse_is_refused_with_the_kernels_message(string program, Errno errno, string line)
    {
        var (runtime, _) = LoadModule();
        LoadPlainModule(runtime);
        var e = Refused(runtime, program);
        Assert.Equal(errno, e.Errno);
        Assert.Contains(line + "\n", e.Log);
    }

    [Theory]
    [InlineData("this_cpu_of_ctx")]
    [InlineData("per_cpu_of_stack")]
    public void A_pointer_that_is_no_per_cpu_ksym_is_refused_as_the_kernel_refuses_it(string program)
    {
        KernelRequirement.Require();
        string obj = SharedData.Fixture("core/ksyms/percpu_args.bpf.o");
        var options = new ObjectLoadOptions { ProgramFilter = p => p.Name == program };
        var kernel = Assert.Throws<BpfException>(() => LinuxKernel.Load(ObjectSpec.Load(obj), options));
        var managed = Assert.Throws<BpfException>(() => new BpfRuntime().Load(ObjectSpec.Load(obj), options));
        Assert.Equal(kernel.Errno, managed.Errno);
        string Last(string log) => log.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last(l => !l.StartsWith("processed ", StringComparison.Ordinal));
        Assert.Equal(Last(kernel.Log!), Last(managed.Log!));
        Assert.StartsWith("R1 type=", Last(managed.Log!));
    }

    [Fact]
    public void A_module_variable_outside_data_percpu_is_one_read_only_instance()
    {
        var (runtime, _) = LoadModule();
        var plain = LoadPlainModule(runtime);
        Assert.False(plain.IsPerCpuVariable("ebpf_plain_counter"));
        BitConverter.GetBytes(99).CopyTo(plain.Variable("ebpf_plain_counter"));
        using var c = Load(runtime, "plain_var");
        for (int cpu = 0; cpu < BpfCpu.PossibleCount; cpu++)
        {
            BpfCpu.SetCurrent(cpu);
            c.Programs["plain_var"].TestRun(Run);
            Assert.Equal(99, Int(ModulesTests.Bss(c), "plain_seen"));
        }
        Assert.Equal(1, plain.Users); // the program holds the module whose variable it reads
    }

    [Fact]
    public void Bpf_ksym_exists_sees_present_and_absent_module_kfuncs()
    {
        var (runtime, module) = LoadModule();
        var log = new List<string>();
        using var c = runtime.Load(ObjectSpec.Load(UserObject), new ObjectLoadOptions { ProgramFilter = p => p.Name == "kfunc_exists", CoreDebugLog = log.Add });
        Assert.Equal(42u, c.Programs["kfunc_exists"].TestRun(Run).ReturnValue);
        var bss = ModulesTests.Bss(c);
        Assert.Equal(1, Int(bss, "add_exists"));
        Assert.Equal(0, Int(bss, "missing_exists"));
        Assert.Contains(log, l => l.Contains("that calls kfunc 'ebpf_testmod_missing'", StringComparison.Ordinal));
        // The lddw of the present kfunc names its FUNC in the module's BTF, with the module BTF's fd_array slot.
        var sent = c.Programs["kfunc_exists"].Program.Definition.Instructions;
        uint add = module.Btf.FindByName("ebpf_testmod_add", BtfKind.Func)!.Id;
        Assert.Contains(sent.Select((i, at) => (i, at)), x => x.i.IsLoadImm64 && x.i.Src == 3 && x.i.Imm == (int)add && sent[x.at + 1].Imm == 1);
        Assert.Equal(1, module.Users);
    }

    [Fact]
    public void A_module_kfunc_is_callable_only_from_the_program_types_it_is_registered_for()
    {
        var (runtime, _) = LoadModule([ProgramType.SocketFilter, ProgramType.SchedCls]);
        using (var c = Load(runtime, "kfunc_socket"))
            Assert.Equal(3u, c.Programs["kfunc_socket"].TestRun(Run).ReturnValue);
        using (Load(runtime, "kfunc_tc")) { }
        var e = Refused(runtime, "kfunc_xdp");
        Assert.Equal(Errno.EACCES, e.Errno);
        Assert.Contains("calling kernel function ebpf_testmod_add is not allowed\n", e.Log);

        // Registered for tracing: no networking program may call it.
        (runtime, _) = LoadModule([ProgramType.Tracing]);
        Assert.Equal(Errno.EACCES, Refused(runtime, "kfunc_socket").Errno);
        // Registered for BPF_PROG_TYPE_UNSPEC: the common hook, every type.
        (runtime, _) = LoadModule([ProgramType.Unspec]);
        using (Load(runtime, "kfunc_xdp")) { }
    }

    [Theory]
    [InlineData(Ebpf.Verification.KernelFunctionFlags.Sleepable, Errno.EACCES, "program must be sleepable to call sleepable kfunc ebpf_testmod_add")]
    [InlineData(Ebpf.Verification.KernelFunctionFlags.Release, Errno.EINVAL, "release kernel function ebpf_testmod_add expects refcounted PTR_TO_BTF_ID")]
    public void The_kf_flags_a_module_registers_are_the_verifiers(Ebpf.Verification.KernelFunctionFlags flags, Errno errno, string line)
    {
        var runtime = new BpfRuntime();
        runtime.Modules.Load(Module, ModulesTests.ModuleBtf(), [new ModuleKfunc("ebpf_testmod_add", (a, b, _, _, _) => a + b, flags)]);
        var e = Refused(runtime, "kfunc_socket");
        Assert.Equal(errno, e.Errno);
        Assert.Contains(line + "\n", e.Log);
    }

    [Fact]
    public void A_kfunc_set_for_a_type_without_a_kfunc_hook_is_refused_at_module_load()
    {
        var runtime = new BpfRuntime();
        var e = Assert.Throws<BpfException>(() => runtime.Modules.Load(Module, ModulesTests.ModuleBtf(), Kfuncs([ProgramType.SkMsg])));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Null(runtime.Modules.Find(Module));
    }

    [Theory, ClassData(typeof(Backends))]
    public void A_module_kfunc_slot_without_fd_array_or_negative_is_refused_as_the_kernel_refuses_it(string backendName)
    {
        using var backend = TestBackend.Create(backendName);
        Instruction[] Call(short off) => [new(0x85, 0, 2, off, 100), new(0xb7, 0, 0, 0, 0), new(0x95, 0, 0, 0, 0)];
        BpfException Load(short off) => Assert.Throws<BpfException>(() =>
            backend.Backend.LoadProgram(new ProgramDefinition(ProgramType.SocketFilter, Call(off), "slot", "GPL")).Dispose());
        var e = Load(1);
        Assert.Equal(Errno.EPROTO, e.Errno);
        Assert.Contains("kfunc offset > 0 without fd_array is invalid\n", e.Log);
        e = Load(-1);
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("negative offset disallowed for kernel module function call\n", e.Log);
    }

    [Theory]
    [InlineData(ProgramType.Tracing, ProgramType.PerfEvent, true)]
    [InlineData(ProgramType.Lsm, ProgramType.RawTracepoint, true)]
    [InlineData(ProgramType.CgroupSkb, ProgramType.SockOps, true)]
    [InlineData(ProgramType.LwtIn, ProgramType.LwtSeg6Local, true)]
    [InlineData(ProgramType.SchedCls, ProgramType.SchedAct, false)]
    [InlineData(ProgramType.SocketFilter, ProgramType.SkSkb, false)]
    [InlineData(ProgramType.Kprobe, ProgramType.Tracing, false)]
    [InlineData(ProgramType.Xdp, ProgramType.SkMsg, false)]
    public void Program_types_share_the_kernels_kfunc_hooks(ProgramType registered, ProgramType caller, bool allowed)
    {
        Assert.Equal(allowed, Ebpf.Verification.KfuncHooks.Allows([registered], caller));
        Assert.True(Ebpf.Verification.KfuncHooks.Allows(null, caller));
        Assert.True(Ebpf.Verification.KfuncHooks.Allows([ProgramType.Unspec], caller));
    }
}
