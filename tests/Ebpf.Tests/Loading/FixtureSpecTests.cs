using Ebpf.Abi;
using Ebpf.Btf;
using Ebpf.Isa;
using Ebpf.Loading;

namespace Ebpf.Tests.Loading;

/// <summary>The specs of the clang-built fixtures under tests/fixtures/loading, checked against what their C says.</summary>
public sealed class FixtureSpecTests
{
    private static ObjectSpec Load(string name) => ObjectSpec.Load(SharedData.Fixture($"loading/{name}.bpf.o"));

    [Fact]
    public void BtfDefinedMapsCarryTypeSizesFlagsAndPinning()
    {
        var spec = Load("maps");
        var flows = spec.FindMap("flows")!;
        Assert.Equal((MapType.Hash, 12u, 8u, 1024u, MapFlags.NoPrealloc), (flows.Type, flows.KeySize, flows.ValueSize, flows.MaxEntries, flows.Flags));
        Assert.Equal("flow_key", spec.Btf!.GetType(flows.KeyTypeId).Name);
        var stats = spec.FindMap("stats")!;
        Assert.Equal((MapType.PercpuArray, 4u, 16u, 8u), (stats.Type, stats.KeySize, stats.ValueSize, stats.MaxEntries));
        Assert.Equal(0u, stats.KeyTypeId);
        var lru = spec.FindMap("pinned_lru")!;
        Assert.Equal((MapType.LruHash, MapPinning.ByName), (lru.Type, lru.Pinning));
        var events = spec.FindMap("events")!;
        Assert.Equal((MapType.Ringbuf, 4096u, 0u, 0u), (events.Type, events.MaxEntries, events.KeySize, events.ValueSize));
        Assert.All(spec.Maps, m => Assert.Equal(MapOrigin.Btf, m.Origin));
    }

    [Fact]
    public void MapInMapValuesGiveTheInnerTemplateAndInitialSlots()
    {
        var outer = Load("maps").FindMap("outer")!;
        Assert.Equal((MapType.ArrayOfMaps, 4u, 4u, 3u), (outer.Type, outer.KeySize, outer.ValueSize, outer.MaxEntries));
        var inner = Assert.IsType<MapSpec>(outer.InnerMap);
        Assert.Equal((MapType.Array, 4u, 8u, 4u), (inner.Type, inner.KeySize, inner.ValueSize, inner.MaxEntries));
        Assert.Equal("outer.inner", inner.Name);
        Assert.Equal([new MapInitialSlot(0, "inner_a"), new MapInitialSlot(2, "inner_b")], outer.InitialSlots);
    }

    [Fact]
    public void ProgArrayValuesNameTheirPrograms()
    {
        var jumps = Load("maps").FindMap("jumps")!;
        Assert.Equal((MapType.ProgArray, 4u, 4u, 4u), (jumps.Type, jumps.KeySize, jumps.ValueSize, jumps.MaxEntries));
        Assert.Equal([new MapInitialSlot(1, "tail_one"), new MapInitialSlot(3, "tail_two")], jumps.InitialSlots);
    }

    [Fact]
    public void MapReferencesAreEncodedAsMapIndexAndRecordedByName()
    {
        var spec = Load("maps");
        var classify = spec.FindProgram("classify")!;
        Assert.Equal(["tail_one", "tail_two", "classify"], spec.Programs.Select(p => p.Name));
        Assert.All(spec.Programs, p => Assert.Equal(ProgramType.SchedCls, p.Type));
        var referenced = classify.Relocations.Where(r => r.Kind == ProgramRelocationKind.MapReference).Select(r => r.MapName).ToHashSet();
        Assert.Equal(new HashSet<string?> { "flows", "outer", "stats", "pinned_lru", "events", "jumps" }, referenced);
        foreach (var r in classify.Relocations)
        {
            var insn = classify.Instructions[r.InstructionIndex];
            Assert.True(insn.IsLoadImm64);
            Assert.Equal((byte)LoadImm64Source.MapIndex, insn.Src);
            Assert.Equal(r.MapName, spec.Maps[insn.Imm].Name);
        }
    }

    [Fact]
    public void LegacyMapDefinitionsAndVersionSection()
    {
        var spec = Load("legacy_maps");
        Assert.Equal(0x060c00u, spec.KernelVersion);
        Assert.Equal("GPL", spec.License);
        Assert.Equal(["counters", "inner_proto", "outer_legacy"], spec.Maps.Select(m => m.Name));
        Assert.All(spec.Maps, m => Assert.Equal(MapOrigin.Legacy, m.Origin));
        var counters = spec.FindMap("counters")!;
        Assert.Equal((MapType.Array, 4u, 8u, 16u), (counters.Type, counters.KeySize, counters.ValueSize, counters.MaxEntries));
        var outer = spec.FindMap("outer_legacy")!;
        Assert.Equal(MapType.HashOfMaps, outer.Type);
        Assert.Equal((MapType.Hash, 4u, 4u, 32u, MapFlags.NoPrealloc),
            (outer.InnerMap!.Type, outer.InnerMap.KeySize, outer.InnerMap.ValueSize, outer.InnerMap.MaxEntries, outer.InnerMap.Flags));
        var prog = Assert.Single(spec.Programs);
        Assert.Equal((ProgramType.SocketFilter, 0x060c00u), (prog.Type, prog.KernelVersion));
        Assert.Contains(prog.Relocations, r => r.MapName == "counters");
    }

    [Fact]
    public void SeveralProgramsInOneSectionAndOptionalPrograms()
    {
        var spec = Load("programs");
        Assert.Equal(["xdp_first", "xdp_second", "trace_open", "optional_probe"], spec.Programs.Select(p => p.Name));
        Assert.All(spec.Programs.Take(2), p => Assert.Equal((ProgramType.Xdp, AttachType.Xdp, "xdp"), (p.Type, p.ExpectedAttachType!.Value, p.SectionName)));
        var trace = spec.FindProgram("trace_open")!;
        Assert.Equal((ProgramType.Tracepoint, "syscalls/sys_enter_openat", true), (trace.Type, trace.AttachTarget, trace.Autoload));
        var optional = spec.FindProgram("optional_probe")!;
        Assert.Equal((ProgramType.Kprobe, "do_unlinkat", false), (optional.Type, optional.AttachTarget, optional.Autoload));
        Assert.DoesNotContain(spec.Programs, p => p.Name is "scale" or "add_one" or "loop_body");
    }

    [Fact]
    public void SubprogramsAreAppendedInLibbpfOrderWithCallsFixed()
    {
        var spec = Load("programs");
        var first = spec.FindProgram("xdp_first")!;
        Assert.Equal(["xdp_first", "scale", "add_one"], first.Functions.Select(f => f.Name));
        Assert.Equal([true, true, false], first.Functions.Select(f => f.IsGlobal));
        var second = spec.FindProgram("xdp_second")!;
        // The callback's address is taken before add_one is called, so it is appended first.
        Assert.Equal(["xdp_second", "loop_body", "add_one"], second.Functions.Select(f => f.Name));
        foreach (var prog in spec.Programs)
        {
            Assert.Equal(prog.Instructions.Length, prog.Functions.Sum(f => f.Length));
            var starts = prog.Functions.Select(f => f.Offset).ToHashSet();
            for (int i = 0; i < prog.Instructions.Length; i++)
            {
                var insn = prog.Instructions[i];
                if (insn.IsLocalCall || insn.IsFunctionReference)
                    Assert.Contains(i + insn.Imm + 1, starts);
                if (insn.IsLoadImm64)
                    i++;
            }
        }
        int pointer = Array.FindIndex(second.Instructions, i => i.IsFunctionReference);
        Assert.True(pointer >= 0);
        Assert.Equal(second.Functions[1].Offset, pointer + second.Instructions[pointer].Imm + 1);
    }

    [Fact]
    public void GlobalDataBecomesInternalArrayMaps()
    {
        var spec = Load("programs");
        var data = spec.FindMap("programs.data")!;
        Assert.Equal((MapType.Array, 4u, 4u, 1u, false), (data.Type, data.KeySize, data.ValueSize, data.MaxEntries, data.Freeze));
        Assert.Equal(BitConverter.GetBytes(7), data.InitialValue);
        var rodata = spec.FindMap("programs.rodata")!;
        Assert.True(rodata.Freeze);
        Assert.True(rodata.Flags.HasFlag(MapFlags.RdonlyProg));
        Assert.Equal(BitConverter.GetBytes(42), rodata.InitialValue);
        var bss = spec.FindMap("programs.bss")!;
        Assert.Equal(new byte[8], bss.InitialValue);
        Assert.Equal(BitConverter.GetBytes(3), spec.FindMap(".data.custom")!.InitialValue);
        Assert.Equal(5, spec.DataSections.Count());

        var first = spec.FindProgram("xdp_first")!;
        var counterRef = Assert.Single(first.Relocations, r => r.MapName == "programs.data");
        Assert.Equal((ProgramRelocationKind.MapValue, 0u), (counterRef.Kind, counterRef.Offset));
        var insn = first.Instructions[counterRef.InstructionIndex];
        Assert.Equal((byte)LoadImm64Source.MapIndexValue, insn.Src);
        Assert.Equal("programs.data", spec.Maps[insn.Imm].Name);
        // The subprogram's relocations came along with it: scale reads .rodata.
        Assert.Contains(first.Relocations, r => r.MapName == "programs.rodata" && r.InstructionIndex >= first.Functions[1].Offset);
    }

    [Fact]
    public void KconfigAndKsymExterns()
    {
        var spec = Load("programs");
        var byName = spec.Externs.ToDictionary(e => e.Name);
        // libbpf's layout: descending alignment, ascending size, then name.
        Assert.Equal((ExternKind.Kconfig, true, 0u), (byName["CONFIG_HZ"].Kind, byName["CONFIG_HZ"].IsWeak, byName["CONFIG_HZ"].DataOffset));
        Assert.Equal((ExternKind.Kconfig, false, 4u), (byName["LINUX_KERNEL_VERSION"].Kind, byName["LINUX_KERNEL_VERSION"].IsWeak, byName["LINUX_KERNEL_VERSION"].DataOffset));
        Assert.Equal(8u, byName["CONFIG_BPF_SYSCALL"].DataOffset);
        Assert.Equal(ExternKind.KsymVariable, byName["bpf_prog_active"].Kind);
        Assert.Equal(ExternKind.KsymFunction, byName["bpf_rcu_read_lock"].Kind);
        var kconfig = spec.FindMap("program.kconfig")!;
        Assert.Equal((9u, true, MapOrigin.Kconfig), (kconfig.ValueSize, kconfig.Freeze, kconfig.Origin));

        var trace = spec.FindProgram("trace_open")!;
        var hz = Assert.Single(trace.Relocations, r => r.Symbol == "CONFIG_HZ");
        Assert.Equal((ProgramRelocationKind.KconfigExtern, "program.kconfig", 0u), (hz.Kind, hz.MapName, hz.Offset));
        Assert.Equal(0, trace.Instructions[hz.InstructionIndex + 1].Imm);
        var version = Assert.Single(trace.Relocations, r => r.Symbol == "LINUX_KERNEL_VERSION");
        Assert.Equal(4, trace.Instructions[version.InstructionIndex + 1].Imm);
        Assert.Equal(ProgramRelocationKind.KsymVariable, Assert.Single(trace.Relocations, r => r.Symbol == "bpf_prog_active").Kind);
        var kfunc = Assert.Single(trace.Relocations, r => r.Symbol == "bpf_rcu_read_lock");
        Assert.Equal(ProgramRelocationKind.KfuncCall, kfunc.Kind);
        Assert.True(trace.Instructions[kfunc.InstructionIndex].IsKfuncCall);
    }

    [Fact]
    public void FuncAndLineInfoFollowTheLinkedProgram()
    {
        var spec = Load("programs");
        foreach (var prog in spec.Programs)
        {
            Assert.Equal(prog.Functions.Select(f => f.Offset), prog.FuncInfos.Select(f => f.InstructionIndex));
            Assert.Equal(prog.Functions.Select(f => f.Name), prog.FuncInfos.Select(f => spec.Btf!.GetType(f.TypeId).Name));
            Assert.NotEmpty(prog.LineInfos);
            Assert.All(prog.LineInfos, l => Assert.InRange(l.InstructionIndex, 0, prog.Instructions.Length - 1));
            Assert.Equal(prog.LineInfos.Select(l => l.InstructionIndex).Order(), prog.LineInfos.Select(l => l.InstructionIndex));
            Assert.All(prog.LineInfos, l => Assert.EndsWith("programs.bpf.c", l.FileName));
        }
        var second = spec.FindProgram("xdp_second")!;
        int callbackStart = second.Functions[1].Offset;
        Assert.Contains(second.LineInfos, l => l.InstructionIndex == callbackStart && l.LineText.Contains("hits += index"));
    }

    [Fact]
    public void AnUndefinedFunctionFailsOnlyTheProgramThatCallsIt()
    {
        var spec = Load("unresolved");
        var missing = spec.FindProgram("uses_missing")!;
        var e = Assert.Throws<BpfException>(missing.EnsureResolved);
        Assert.Equal("relocation against undefined symbol 'defined_elsewhere' at insn 1 of program uses_missing", e.Message);
        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.Equal(["defined_elsewhere"], missing.UnresolvedSymbols);
        spec.FindProgram("self_contained")!.EnsureResolved();
    }

    [Fact]
    public void SpecsAreEditableAndMapSpecsCloneDeeply()
    {
        var spec = Load("maps");
        var outer = spec.FindMap("outer")!;
        var copy = outer.Clone();
        copy.InnerMap!.MaxEntries = 99;
        copy.InitialSlots.Clear();
        Assert.Equal(4u, outer.InnerMap!.MaxEntries);
        Assert.Equal(2, outer.InitialSlots.Count);
        spec.FindProgram("classify")!.Type = ProgramType.SchedAct;
        Assert.Equal(ProgramType.SchedAct, spec.FindProgram("classify")!.Type);
    }
}
