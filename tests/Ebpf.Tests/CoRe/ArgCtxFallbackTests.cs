using Ebpf.Abi;
using Ebpf.Abi.Profiles;
using Ebpf.Btf;
using Ebpf.Collections;
using Ebpf.Linux;
using Ebpf.Loading;
using Ebpf.Runtime;
using Ebpf.Runtime.Objects;
using BtfData = Ebpf.Btf.BtfSpec;

namespace Ebpf.Tests.CoRe;

/// <summary>
/// libbpf's <c>__arg_ctx</c> fallback (kernel-semantics.md §3.8) on tests/fixtures/core/arg_ctx.bpf.c: global
/// subprograms taking <c>void *ctx __arg_ctx</c>, shared by a socket filter and a tc classifier, plus XDP ones and two
/// tags the fallback cannot honour. The rewrite itself is checked type by type against libbpf's algorithm; then the
/// object is loaded on both backends as a pre-6.8 kernel (profile without arg:ctx): the managed runtime behaves as
/// such a kernel (no arg tags read), and the live kernel receives the rewritten BTF and func_info, which it reports
/// back as libbpf's selftest checks them: func_info → FUNC → PTR → <c>STRUCT &lt;ctx&gt; size=0 vlen=0</c>.
/// </summary>
public class ArgCtxFallbackTests(ITestOutputHelper output)
{
    private static string Fixture => SharedData.Fixture("core/arg_ctx.bpf.o");
    private static readonly string[] Loaded = ["filter", "classifier", "xdp_prog"];

    private static KernelProfile Pre68(IBpfBackend backend) => backend.Profile.Without(KernelFeature.ArgCtxTag);

    private static string Listing(BtfData btf, uint from)
    {
        var w = new StringWriter();
        for (uint id = from; id <= btf.MaxTypeId; id++)
        {
            BtfRawDumper.WriteType(btf, btf.GetType(id), w);
            w.Write('\n');
        }
        return w.ToString().ReplaceLineEndings("\n");
    }

    [Fact]
    public void The_rewrite_appends_libbpfs_types_in_libbpfs_order_one_clone_per_program()
    {
        var spec = ObjectSpec.Load(Fixture);
        var btf = spec.Btf!;
        uint n = btf.MaxTypeId;
        uint Func(string name) => btf.FindByName(name, BtfKind.Func)!.Id;
        var fallback = new ArgCtxFallback(btf);
        var warnings = new List<string>();
        var ids = new Dictionary<string, uint[]>();
        foreach (string name in Loaded.Append("warned"))
        {
            var prog = spec.Programs.Single(p => p.Name == name);
            ids[name] = fallback.FixupProgram(name, prog.Type, prog.FuncInfos.Select(f => f.TypeId).ToList(), warnings.Add);
        }
        var fixedBtf = fallback.Build();
        string listing = Listing(fixedBtf, n + 1);
        output.WriteLine(listing);

        // filter: skb_len cloned (FUNC_PROTO, FUNC), the program's STRUCT + PTR, the tag; skb_mark_plus_len cloned once
        // for its two tagged parameters, one tag each. classifier: its own clone of skb_len. xdp_prog: xdp_ifindex is
        // already `struct xdp_md *` (no clone); xdp_queue cloned. warned: nothing appended.
        string expected = $"""
            [{n + 1}] FUNC_PROTO '(anon)' ret_type_id=3 vlen=1
            	'ctx' type_id={n + 4}
            [{n + 2}] FUNC 'skb_len' type_id={n + 1} linkage=global
            [{n + 3}] STRUCT '__sk_buff' size=0 vlen=0
            [{n + 4}] PTR '(anon)' type_id={n + 3}
            [{n + 5}] DECL_TAG 'arg:ctx' type_id={n + 2} component_idx=0
            [{n + 6}] FUNC_PROTO '(anon)' ret_type_id=3 vlen=2
            	'a' type_id={n + 4}
            	'b' type_id={n + 4}
            [{n + 7}] FUNC 'skb_mark_plus_len' type_id={n + 6} linkage=global
            [{n + 8}] DECL_TAG 'arg:ctx' type_id={n + 7} component_idx=0
            [{n + 9}] DECL_TAG 'arg:ctx' type_id={n + 7} component_idx=1
            [{n + 10}] FUNC_PROTO '(anon)' ret_type_id=3 vlen=1
            	'ctx' type_id={n + 13}
            [{n + 11}] FUNC 'skb_len' type_id={n + 10} linkage=global
            [{n + 12}] STRUCT '__sk_buff' size=0 vlen=0
            [{n + 13}] PTR '(anon)' type_id={n + 12}
            [{n + 14}] DECL_TAG 'arg:ctx' type_id={n + 11} component_idx=0
            [{n + 15}] FUNC_PROTO '(anon)' ret_type_id=3 vlen=1
            	'ctx' type_id={n + 18}
            [{n + 16}] FUNC 'xdp_queue' type_id={n + 15} linkage=global
            [{n + 17}] STRUCT 'xdp_md' size=0 vlen=0
            [{n + 18}] PTR '(anon)' type_id={n + 17}
            [{n + 19}] DECL_TAG 'arg:ctx' type_id={n + 16} component_idx=0

            """.Replace("\r", "");
        Assert.Equal(expected, listing);

        // func_info records point at the clones; the main programs and the canonical-typed subprogram keep theirs.
        Assert.Equal([Func("filter"), n + 2, n + 7], ids["filter"]);
        Assert.Equal([Func("classifier"), n + 11], ids["classifier"]);
        Assert.Equal([Func("xdp_prog"), Func("xdp_ifindex"), n + 16], ids["xdp_prog"]);
        Assert.Equal(spec.Programs.Single(p => p.Name == "warned").FuncInfos.Select(f => f.TypeId), ids["warned"]);
        // The originals are untouched: the object's other programs still share them.
        for (uint id = 1; id <= n; id++)
            Assert.Equal(Listing(btf, id).Split('\n')[0], Listing(fixedBtf, id).Split('\n')[0]);
        Assert.Equal(
        [
            "prog 'warned': subprog 'not_a_pointer' arg#0 is expected to be of `struct __sk_buff *` type",
            "prog 'warned': subprog 'wrong_struct' arg#0 is expected to be of `struct __sk_buff *` type",
        ], warnings);
    }

    [Fact]
    public void Program_types_without_a_named_context_get_no_fallback()
    {
        var spec = ObjectSpec.Load(Fixture);
        var prog = spec.Programs.Single(p => p.Name == "filter");
        var fallback = new ArgCtxFallback(spec.Btf!);
        var records = prog.FuncInfos.Select(f => f.TypeId).ToList();
        Assert.Equal(records, fallback.FixupProgram("filter", ProgramType.Tracing, records, null));
        Assert.Equal(records, fallback.FixupProgram("filter", ProgramType.Lsm, records, null));
        Assert.False(fallback.Changed);
        Assert.Null(ArgCtxFallback.ContextName(ProgramType.Syscall));
        Assert.Equal("bpf_user_pt_regs_t", ArgCtxFallback.ContextName(ProgramType.Kprobe));
    }

    /// <summary>What the backend received for <paramref name="program"/>: its BTF and func_info type ids.</summary>
    private static (BtfData Btf, uint[] FuncTypeIds) Uploaded(TestBackend backend, BpfProgram program)
    {
        if (backend.IsLinux)
        {
            var kp = program.NativeAs<KernelProgram>();
            var records = KernelProgramFuncInfo.Read(kp);
            using var kbtf = KernelBtf.FromId(program.GetInfo().BtfId);
            return (BtfData.Parse(kbtf.ReadBytes()), records.Select(r => r.TypeId).ToArray());
        }
        var po = program.NativeAs<ProgramObject>();
        var info = po.Definition.FuncInfo.ToArray();
        var ids = Enumerable.Range(0, info.Length / 8).Select(i => BitConverter.ToUInt32(info, i * 8 + 4)).ToArray();
        return (po.Btf!.Parsed, ids);
    }

    /// <summary>skb->len of a socket filter's test run: the 64-byte frame less its Ethernet header.</summary>
    private const uint SkbLen = 64 - 14;

    private static uint RunSocketFilter(BpfProgram program)
    {
        var packet = new byte[64];
        packet[12] = 0x08; // IPv4 ethertype
        return program.TestRun(new TestRunOptions { DataIn = packet }).ReturnValue;
    }

    [Theory, ClassData(typeof(Backends))]
    public void As_a_pre_6_8_kernel_each_program_gets_its_clone_and_the_kernel_sees_ptr_to_an_empty_ctx_struct(string backendName)
    {
        using var backend = TestBackend.Create(backendName);
        var runtime = backend.Runtime is null ? null : new BpfRuntime { Profile = KernelProfile.Reference.Without(KernelFeature.ArgCtxTag) };
        var target = runtime?.Backend ?? backend.Backend;
        var options = new ObjectLoadOptions { PinRoot = backend.PinRoot, FeatureProfile = Pre68(target) };
        using var collection = BpfCollection.LoadFile(target, Fixture, options);
        var spec = ObjectSpec.Load(Fixture);
        var seen = new Dictionary<string, uint>();
        foreach (var (prog, subprog, ctx) in new[] { ("filter", "skb_len", "__sk_buff"), ("classifier", "skb_len", "__sk_buff"), ("xdp_prog", "xdp_queue", "xdp_md") })
        {
            var (btf, ids) = Uploaded(backend, collection.Programs[prog]);
            // The record of the subprogram names a FUNC of the same name whose parameter is PTR -> STRUCT <ctx> size=0 vlen=0.
            var func = ids.Select(id => btf.GetType(id)).OfType<BtfFunc>().Single(f => f.Name == subprog);
            var param = ((BtfFuncProto)btf.GetType(func.ProtoType)).Parameters[0];
            var ptr = Assert.IsType<BtfPtr>(btf.GetType(param.Type));
            var ctxStruct = Assert.IsType<BtfStruct>(btf.GetType(ptr.Type));
            Assert.Equal((ctx, 0u, 0), (ctxStruct.Name, ctxStruct.Size, ctxStruct.Members.Count));
            // It is a clone: the object's own FUNC of that name keeps `void *`.
            Assert.NotEqual(spec.Btf!.FindByName(subprog, BtfKind.Func)!.Id, func.Id);
            seen[prog] = func.Id;
        }
        Assert.NotEqual(seen["filter"], seen["classifier"]); // skb_len shared by two programs: one clone each
        Assert.Equal(SkbLen * 2, RunSocketFilter(collection.Programs["filter"])); // len + mark (0) + len
        output.WriteLine(string.Join("\n", collection.Warnings));
    }

    [Theory, ClassData(typeof(Backends))]
    public void With_native_arg_ctx_support_nothing_is_rewritten(string backendName)
    {
        using var backend = TestBackend.Create(backendName);
        var options = new ObjectLoadOptions { PinRoot = backend.PinRoot, FeatureProfile = backend.Backend.Profile };
        if (!backend.Backend.Profile.HasFeature(KernelFeature.ArgCtxTag))
            Requirement.Missing(Requirement.Kernel, "this kernel lacks arg:ctx tags (before 6.8)");
        using var collection = BpfCollection.LoadFile(backend.Backend, Fixture, options);
        var spec = ObjectSpec.Load(Fixture);
        var (btf, ids) = Uploaded(backend, collection.Programs["classifier"]);
        Assert.Equal(spec.Btf!.MaxTypeId, btf.MaxTypeId);
        Assert.Equal(spec.Programs.Single(p => p.Name == "classifier").FuncInfos.Select(f => f.TypeId), ids);
        Assert.Equal(SkbLen * 2, RunSocketFilter(collection.Programs["filter"]));
    }

    [Fact]
    public void A_pre_6_8_runtime_refuses_the_untouched_object_and_reads_no_arg_tags()
    {
        // The loader told the kernel has arg:ctx (so no fallback) while the runtime behaves as a kernel before 6.8:
        // `void *ctx` is then plain memory of unknown size, as such a kernel sees it.
        var runtime = new BpfRuntime { Profile = KernelProfile.Reference.Without(KernelFeature.ArgCtxTag) };
        var e = Assert.Throws<BpfException>(() => BpfCollection.LoadFile(runtime.Backend, Fixture,
            new ObjectLoadOptions { FeatureProfile = KernelProfile.Reference, ProgramFilter = p => p.Name == "filter" }));
        output.WriteLine(e.Message);
        Assert.Contains("size cannot be determined", e.Message + e.Log);
        // The tags the fallback warns about: ignored by such a kernel (the int is a scalar), refused by a 6.8+ one.
        using (var old = BpfCollection.LoadFile(runtime.Backend, Fixture, new ObjectLoadOptions { ProgramFilter = p => p.Name == "warned" }))
            Assert.Contains(old.Warnings, w => w == "prog 'warned': subprog 'not_a_pointer' arg#0 is expected to be of `struct __sk_buff *` type");
        var current = new BpfRuntime();
        var refused = Assert.Throws<BpfException>(() => BpfCollection.LoadFile(current.Backend, Fixture, new ObjectLoadOptions { ProgramFilter = p => p.Name == "warned" }));
        Assert.Contains("arg#0 has pointer tag, but is not a pointer type", refused.Message + refused.Log);
    }
}
