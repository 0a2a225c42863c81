using System.Security.Cryptography;
using System.Text;
using Ebpf.Abi;
using Ebpf.Btf;
using Ebpf.Collections;
using Ebpf.Isa;
using Ebpf.Loading;
using Ebpf.Runtime;

namespace Ebpf.Tests.CoRe;

/// <summary>
/// Kernel modules in the managed runtime (kernel-semantics.md §4.9, issue "Module BTF, BTF objects at load time, and
/// btf_ptr"): the test module (tests/fixtures/core/modules/ebpf_testmod.c) as split BTF on this machine's vmlinux;
/// its BTF object's lifecycle; the btf_ptr extension (the module's BTF object carried with a TYPE_ID_TARGET, held by
/// the program across a module unload) with bpf_snprintf_btf printing a module type; CO-RE into module types;
/// typed, untyped and weak __ksym variables and kfunc calls into the module through fd_array; bad BTF handles.
/// </summary>
public partial class ModulesTests
{
    private const string VmlinuxPath = "/sys/kernel/btf/vmlinux";
    private const string Module = "ebpf_testmod";
    private static string Dir => Path.GetDirectoryName(SharedData.Fixture("core/modules/ebpf_testmod.c"))!;
    private static string UserObject => SharedData.Fixture("core/modules/module_user.bpf.o");

    /// <summary>The module's split BTF for this vmlinux: the committed bytes when they were generated against it,
    /// else pahole's encoding of the committed object now (as build.sh does).</summary>
    internal static byte[] ModuleBtf()
    {
        if (!File.Exists(VmlinuxPath))
            Requirement.Missing(Requirement.Vmlinux, $"{VmlinuxPath} not present");
        string hash = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(VmlinuxPath)));
        if (File.ReadAllText(Path.Combine(Dir, "ebpf_testmod.btf.vmlinux-sha256")).Trim() == hash)
            return File.ReadAllBytes(Path.Combine(Dir, "ebpf_testmod.btf"));
        string pahole = ExternalTool.Require(Requirement.Pahole, "pahole", "the committed module BTF was generated against another vmlinux");
        var scratch = Directory.CreateTempSubdirectory("ebpf-testmod-");
        try
        {
            string copy = Path.Combine(scratch.FullName, "ebpf_testmod.host.elf"), output = Path.Combine(scratch.FullName, "ebpf_testmod.btf");
            File.Copy(Path.Combine(Dir, "ebpf_testmod.host.elf"), copy);
            var r = ExternalTool.Run(pahole, [$"--btf_encode_detached={output}", $"--btf_base={VmlinuxPath}", copy]);
            Assert.True(r.ExitCode == 0, $"pahole failed ({r.ExitCode}): {r.Stderr}");
            return File.ReadAllBytes(output);
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }

    private static readonly ModuleKfunc[] Kfuncs =
    [
        new("ebpf_testmod_add", (a, b, _, _, _) => (ulong)(long)((int)a + (int)b)),
        new("ebpf_testmod_scale", (v, k, _, _, _) => (ulong)((long)(int)v * (int)k)),
    ];

    private static (BpfRuntime Runtime, KernelModule Module) LoadModule(bool kfuncs = true)
    {
        var runtime = new BpfRuntime();
        return (runtime, runtime.Modules.Load(Module, ModuleBtf(), kfuncs ? Kfuncs : null));
    }

    internal static byte[] Bss(BpfCollection c) => c.Maps.First(kv => kv.Key.EndsWith(".bss", StringComparison.Ordinal)).Value.Lookup(new byte[4]);

    internal static Dictionary<string, (int Offset, int Size)> Vars() =>
        Ebpf.Elf.ElfFile.Open(UserObject).Symbols.Where(s => s.Type == Ebpf.Elf.ElfSymbolType.Object && s.Size > 0)
            .GroupBy(s => s.Name).ToDictionary(g => g.Key, g => ((int)g.First().Value, (int)g.First().Size));

    private static void SetInput(BpfCollection c, byte[] point)
    {
        var bss = c.Maps.First(kv => kv.Key.EndsWith(".bss", StringComparison.Ordinal)).Value;
        var image = bss.Lookup(new byte[4]);
        point.CopyTo(image, Vars()["input"].Offset);
        bss.Update(new byte[4], image);
    }

    /// <summary>A struct ebpf_testmod_point image: x=-3, y=0x1122334455, name "pt", color GREEN, flags 5, level 17,
    /// inner { tag 7, delta -2 }, u.raw 0x41424344, next = 0.</summary>
    private static byte[] Point()
    {
        var b = new byte[48];
        BitConverter.GetBytes(-3).CopyTo(b, 0);
        BitConverter.GetBytes(0x1122334455L).CopyTo(b, 8);
        "pt"u8.CopyTo(b.AsSpan(16));
        BitConverter.GetBytes(2).CopyTo(b, 24);
        BitConverter.GetBytes(5u | (17u << 3)).CopyTo(b, 28);
        BitConverter.GetBytes((ushort)7).CopyTo(b, 30);
        b[32] = unchecked((byte)-2);
        BitConverter.GetBytes(0x41424344u).CopyTo(b, 36);
        return b;
    }

    [Fact]
    public void A_module_btf_is_a_kernel_btf_object_whose_id_goes_at_unload()
    {
        var (runtime, module) = LoadModule();
        var vmlinux = runtime.Vmlinux;
        Assert.Equal(vmlinux.MaxTypeId + 1, module.Btf.FirstTypeId);
        uint id = module.BtfObject.Id;
        Assert.Contains(id, runtime.GetIds(ObjectKind.Btf));
        using (var handle = runtime.OpenBtfById(id))
        {
            var info = handle.GetInfo();
            Assert.Equal(Module, info.Name);
            Assert.True(info.IsKernel);
        }
        Assert.Equal(Errno.EEXIST, BpfErrno(() => runtime.Modules.Load(Module, ModuleBtf())));
        Assert.Equal(Errno.EINVAL, BpfErrno(() => runtime.Modules.Load("vmlinux", ModuleBtf())));
        Assert.Equal(Errno.EINVAL, BpfErrno(() => runtime.Modules.Load("other", new byte[] { 1, 2, 3 })));
        // CO-RE candidate search sees it after vmlinux.
        Assert.Contains(runtime.Backend.CoreTargets(null).Modules, t => t.Name == Module && ReferenceEquals(t.Btf, module.Btf));

        using var held = runtime.OpenBtfById(id);
        runtime.Modules.Unload(Module);
        Assert.DoesNotContain(id, runtime.GetIds(ObjectKind.Btf));
        Assert.Equal(Errno.ENOENT, BpfErrno(() => runtime.OpenBtfById(id)));
        Assert.False(module.BtfObject.IsFreed); // an open handle still holds it
        Assert.Equal(Module, held.GetInfo().Name);
        held.Dispose();
        Assert.True(module.BtfObject.IsFreed);
        Assert.DoesNotContain(runtime.Backend.CoreTargets(null).Modules, t => t.Name == Module);
        Assert.Equal(Errno.ENOENT, BpfErrno(() => runtime.Modules.Unload(Module)));
    }

    [Fact]
    public void A_btf_ptr_names_the_module_type_with_its_btf_object_and_prints_it()
    {
        var (runtime, module) = LoadModule();
        using var c = runtime.Load(ObjectSpec.Load(UserObject), new ObjectLoadOptions { ProgramFilter = p => p.Name == "print_point" });
        var point = Point();
        SetInput(c, point);
        c.Programs["print_point"].TestRun(new TestRunOptions { DataIn = new byte[64] });
        var bss = Bss(c);
        var v = Vars();
        ulong typeRef = BitConverter.ToUInt64(bss, v["type_ref"].Offset);
        uint typeId = module.Btf.FindByName("ebpf_testmod_point", BtfKind.Struct)!.Id;
        Assert.Equal(typeId, (uint)typeRef);
        Assert.Equal(1u, (uint)(typeRef >> 32)); // slot 1: the module's BTF object, held by the program
        Assert.Equal(8L, BitConverter.ToInt64(bss, v["y_offset"].Offset)); // CO-RE field offset in the module's struct
        long result = BitConverter.ToInt64(bss, v["result"].Offset);
        string text = Encoding.Latin1.GetString(bss, v["output"].Offset, (int)result);
        Assert.Equal(Encoding.Latin1.GetString(BtfObjectPrinter.Print(module.Btf, typeId, point, BtfPrintFlags.None)), text);
        Assert.Equal(string.Join("\n",
            "(struct ebpf_testmod_point){", " .x = (int)-3,", " .y = (long long)73588229205,", " .name = (char[])[", "  'p',", "  't',", " ],",
            " .color = (enum ebpf_testmod_color)EBPF_GREEN,", " .flags = (unsigned int)0x5,", " .level = (unsigned int)0x11,",
            " .inner = (struct ebpf_testmod_inner){", "  .tag = (unsigned short)7,", "  .delta = (signed char)-2,", " },",
            " .u = (union){", "  .raw = (unsigned int)1094861636,", "  .bytes = (unsigned char[])[", "   'D',", "   'C',", "   'B',", "   'A',",
            "  ],", " },", "}", ""), text);

        // Module unload: the id goes at once, the program keeps the BTF object and still prints from it.
        var program = c.Programs["print_point"].Program;
        runtime.Modules.Unload(Module);
        Assert.DoesNotContain(module.BtfObject.Id, runtime.GetIds(ObjectKind.Btf));
        Assert.False(module.BtfObject.IsFreed);
        SetInput(c, new byte[48]);
        c.Programs["print_point"].TestRun(new TestRunOptions { DataIn = new byte[64] });
        bss = Bss(c);
        Assert.Equal("(struct ebpf_testmod_point){\n}\n", Encoding.Latin1.GetString(bss, v["output"].Offset, (int)BitConverter.ToInt64(bss, v["result"].Offset)));
        c.Dispose();
        Assert.True(program.IsFreed);
        Assert.True(module.BtfObject.IsFreed);
    }

    [Fact]
    public void The_header_keeps_mainline_encoding_for_vmlinux_types_on_both_backends()
    {
        Linux.KernelRequirement.Require();
        var (runtime, _) = LoadModule();
        var spec = ObjectSpec.Load(UserObject);
        var options = new ObjectLoadOptions { ProgramFilter = p => p.Name == "print_vmlinux" };
        using var kernel = Ebpf.Linux.LinuxKernel.Load(spec, options);
        using var managed = runtime.Load(spec, options);
        var image = new byte[16];
        BitConverter.GetBytes(0xffff888012345678UL).CopyTo(image, 0);
        var texts = new List<string>();
        var refs = new List<ulong>();
        foreach (var c in new[] { kernel, managed })
        {
            SetInput(c, image);
            c.Programs["print_vmlinux"].TestRun(new TestRunOptions { DataIn = new byte[64] });
            var bss = Bss(c);
            var v = Vars();
            refs.Add(BitConverter.ToUInt64(bss, v["type_ref"].Offset));
            texts.Add(Encoding.Latin1.GetString(bss, v["output"].Offset, (int)BitConverter.ToInt64(bss, v["result"].Offset)));
        }
        Assert.Equal(refs[0], refs[1]);
        Assert.Equal(0u, (uint)(refs[0] >> 32)); // vmlinux: upper half 0, as libbpf writes it
        Assert.Equal(runtime.Vmlinux.FindByName("list_head", BtfKind.Struct)!.Id, (uint)refs[0]);
        Assert.Equal(texts[0], texts[1]);
        Assert.Equal("(struct list_head){\n .next = (struct list_head *)0xffff888012345678,\n}\n", texts[1]);
    }

    [Fact]
    public void Unloading_the_module_while_programs_print_its_type_tears_nothing()
    {
        var (runtime, module) = LoadModule();
        using var c = runtime.Load(ObjectSpec.Load(UserObject), new ObjectLoadOptions { ProgramFilter = p => p.Name == "print_point" });
        SetInput(c, Point());
        var v = Vars();
        var program = c.Programs["print_point"];
        string expected = Encoding.Latin1.GetString(BtfObjectPrinter.Print(module.Btf, module.Btf.FindByName("ebpf_testmod_point", BtfKind.Struct)!.Id, Point(), BtfPrintFlags.None));
        int runs = 0, bad = 0;
        using var unloaded = new ManualResetEventSlim();
        // One thread runs the program (each run's text checked) while the main thread unloads the module under it.
        var worker = new Thread(() =>
        {
            for (int i = 0; i < 4000; i++)
            {
                program.TestRun(new TestRunOptions { DataIn = new byte[64] });
                var after = Bss(c);
                long len = BitConverter.ToInt64(after, v["result"].Offset);
                if (len != expected.Length || Encoding.Latin1.GetString(after, v["output"].Offset, (int)len) != expected)
                    Interlocked.Increment(ref bad);
                if (i == 100)
                    unloaded.Wait(TimeSpan.FromSeconds(30));
                Interlocked.Increment(ref runs);
            }
        });
        worker.Start();
        while (Volatile.Read(ref runs) < 50)
            Thread.Sleep(1);
        runtime.Modules.Unload(Module);
        unloaded.Set();
        Assert.True(worker.Join(TimeSpan.FromMinutes(2)));
        Assert.Equal(4000, runs);
        Assert.Equal(0, bad);
        Assert.DoesNotContain(module.BtfObject.Id, runtime.GetIds(ObjectKind.Btf));
        Assert.False(module.BtfObject.IsFreed);
    }

    [Fact]
    public void Ksyms_and_kfuncs_resolve_into_the_module_and_hold_it()
    {
        var (runtime, module) = LoadModule();
        for (int cpu = 0; cpu < Ebpf.Runtime.Maps.BpfCpu.PossibleCount; cpu++) // per-CPU: read through bpf_this_cpu_ptr
            BitConverter.GetBytes(7).CopyTo(module.Variable("ebpf_testmod_counter", cpu));
        BitConverter.GetBytes(42).CopyTo(module.Variable("ebpf_testmod_origin"));
        var c = runtime.Load(ObjectSpec.Load(UserObject), new ObjectLoadOptions { ProgramFilter = p => p.Name == "use_ksyms" });
        var def = c.Programs["use_ksyms"].Program.Definition.Instructions;
        // As libbpf encodes them (§4.9): kfunc calls carry the module's fd_array slot in off; typed ksyms a
        // BPF_PSEUDO_BTF_ID lddw with the slot in the second imm.
        Assert.Equal(2, def.Count(i => i.IsCall && i.Src == (byte)CallSource.Kfunc && i.Offset == 1));
        c.Programs["use_ksyms"].TestRun(new TestRunOptions { DataIn = new byte[64] });
        var bss = Bss(c);
        var v = Vars();
        Assert.Equal(7, BitConverter.ToInt32(bss, v["counter_seen"].Offset));
        Assert.Equal(12L + 700L, BitConverter.ToInt64(bss, v["sum"].Offset));
        Assert.Equal(42L, BitConverter.ToInt64(bss, v["origin_x"].Offset));
        Assert.Equal(0, BitConverter.ToInt32(bss, v["weak_present"].Offset));
        Assert.Equal(1, module.Users);
        Assert.Equal(Errno.EBUSY, BpfErrno(() => runtime.Modules.Unload(Module))); // rmmod of a module in use
        c.Dispose();
        Assert.Equal(0, module.Users);
        runtime.Modules.Unload(Module);
        Assert.False(module.IsLoaded);
    }

    [Fact]
    public void A_module_kfunc_without_a_host_implementation_is_refused_at_load()
    {
        var (runtime, _) = LoadModule(kfuncs: false);
        var e = Assert.Throws<BpfException>(() => runtime.Load(ObjectSpec.Load(UserObject), new ObjectLoadOptions { ProgramFilter = p => p.Name == "use_ksyms" }));
        Assert.Equal(Errno.ENOTSUPP, e.Errno);
        Assert.Contains("kfunc ebpf_testmod_add of module ebpf_testmod has no host implementation", e.Message);
    }

    [Fact]
    public void Bad_btf_object_handles_are_refused_as_the_kernel_refuses_them()
    {
        var (runtime, module) = LoadModule();
        uint var = module.Btf.FindByName("ebpf_testmod_counter", BtfKind.Var)!.Id;
        uint func = module.Btf.FindByName("ebpf_testmod_add", BtfKind.Func)!.Id;
        uint type = module.Btf.FindByName("ebpf_testmod_point", BtfKind.Struct)!.Id;
        using var moduleBtf = runtime.OpenBtfById(module.BtfObject.Id);
        using var programBtf = runtime.LoadBtf(new BtfBuilder().ToBytes());

        Instruction[] Lddw(byte src, uint imm, int fd) =>
        [
            new(0x18, 0, src, 0, (int)imm), new(0, 0, 0, 0, fd),
            new(0xb7, 0, 0, 0, 0), new(0x95, 0, 0, 0, 0),
        ];
        BpfException Load(Instruction[] insns, params BtfHandle?[] fdArray) => Assert.Throws<BpfException>(() =>
            runtime.LoadProgram(new ProgramDefinition(ProgramType.SocketFilter, insns, "bad", "GPL"), options: new ProgramLoadOptions { FdArray = fdArray }));

        var e = Load(Lddw(3, var, 1));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Equal("invalid module BTF object FD specified.\n", e.Log);
        e = Load(Lddw(3, var, 2), null, moduleBtf);
        Assert.Equal("invalid module BTF object FD specified.\n", e.Log);
        e = Load(Lddw(7, type, 1), null, programBtf);
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Equal("btf_fd=1 is not a kernel BTF\n", e.Log);
        e = Load(Lddw(7, 999_999, 1), null, moduleBtf);
        Assert.Equal(Errno.ENOENT, e.Errno);
        var closed = runtime.OpenBtfById(module.BtfObject.Id);
        closed.Dispose();
        e = Load(Lddw(7, type, 1), null, closed);
        Assert.Equal("invalid module BTF object FD specified.\n", e.Log);
        e = Load([new(0x85, 0, 2, 3, (int)func), new(0xb7, 0, 0, 0, 0), new(0x95, 0, 0, 0, 0)], null, moduleBtf);
        Assert.Equal(Errno.EBADF, e.Errno);
        Assert.Equal("invalid module BTF fd specified\n", e.Log);
        // Good references load, and the program holds the module BTF (a ksym also the module).
        using var ok = runtime.LoadProgram(new ProgramDefinition(ProgramType.SocketFilter, Lddw(7, type, 1), "ok", "GPL"),
            options: new ProgramLoadOptions { FdArray = [null, moduleBtf] });
        Assert.Equal(0, module.Users);
        using var ksym = runtime.LoadProgram(new ProgramDefinition(ProgramType.SocketFilter, Lddw(3, var, 1), "ksym", "GPL"),
            options: new ProgramLoadOptions { FdArray = [null, moduleBtf] });
        Assert.Equal(1, module.Users);
        // The translated program loads the variable's address; a vmlinux ksym has no storage here.
        Assert.Equal(0, ksym.Program.Instructions[0].Src);
        uint vmlinuxVar = runtime.Vmlinux.FindByName("runqueues", BtfKind.Var)?.Id ?? 0;
        if (vmlinuxVar != 0)
            Assert.Equal(Errno.ENOTSUPP, BpfErrno(() => runtime.LoadProgram(new ProgramDefinition(ProgramType.SocketFilter, Lddw(3, vmlinuxVar, 0), "vm", "GPL"))));
    }

    private static Errno BpfErrno(Action action)
    {
        try
        {
            action();
        }
        catch (BpfException e)
        {
            return e.Errno;
        }
        return Errno.None;
    }
}
