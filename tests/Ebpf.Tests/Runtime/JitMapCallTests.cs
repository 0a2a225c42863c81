using Ebpf.Abi.Helpers;
using Ebpf.Abi;
using Ebpf.Execution;
using Ebpf.Isa;
using Ebpf.Runtime;
using Ebpf.Runtime.Helpers;
using Ebpf.Runtime.Objects;
using static Ebpf.Isa.Instruction;

namespace Ebpf.Tests.Runtime;

/// <summary>
/// The JIT binds map-helper calls whose R1 is an lddw'd map straight to that map (the kernel's
/// do_misc_fixups). These tests check that the bound calls behave exactly as the generic helpers do, per map
/// type, that a call site R1 reaches from two different maps is left generic, and that a replaced built-in
/// helper is not bypassed.
/// </summary>
public class JitMapCallTests
{
    private const int Key = 3;
    private const int Value = 0x1234_5678;

    /// <summary>update(key, value); v = lookup(key); delete(key); again = lookup(key); r0 packs the four outcomes into 32 bits.</summary>
    private static Instruction[] UpdateLookupDeleteLookup()
    {
        var (m1, m2) = LoadImm64(1, 0, LoadImm64Source.MapIndex);
        return
        [
            StoreImm(AccessSize.Word, 10, -4, Key),
            StoreImm(AccessSize.DoubleWord, 10, -16, Value),
            m1, m2,
            Mov64Reg(2, 10), Alu64(AluOperation.Add, 2, -4),
            Mov64Reg(3, 10), Alu64(AluOperation.Add, 3, -16),
            Mov64(4, 0),
            CallHelper((int)HelperId.MapUpdateElem),
            Mov64Reg(6, 0),                                      // r6 = update's result
            m1, m2,
            Mov64Reg(2, 10), Alu64(AluOperation.Add, 2, -4),
            CallHelper((int)HelperId.MapLookupElem),
            Mov64(7, -1),
            Jump(JumpOperation.Jeq, 0, 0, 1),
            LoadMem(AccessSize.Word, 7, 0, 0),                   // r7 = the value found (or -1)
            m1, m2,
            Mov64Reg(2, 10), Alu64(AluOperation.Add, 2, -4),
            CallHelper((int)HelperId.MapDeleteElem),
            Mov64Reg(8, 0),                                      // r8 = delete's result
            m1, m2,
            Mov64Reg(2, 10), Alu64(AluOperation.Add, 2, -4),
            CallHelper((int)HelperId.MapLookupElem),
            Mov64(9, 0),
            Jump(JumpOperation.Jeq, 0, 0, 1),
            Mov64(9, 1),                                         // r9 = found after delete
            // test_run's retval is a u32: r0 = (r7 & 0xfff) | (u8)r6 << 12 | (u8)r8 << 20 | r9 << 28
            Alu64(AluOperation.And, 7, 0xfff),
            Alu64(AluOperation.And, 6, 0xff), Alu64(AluOperation.Lsh, 6, 12),
            Alu64(AluOperation.And, 8, 0xff), Alu64(AluOperation.Lsh, 8, 20),
            Alu64(AluOperation.Lsh, 9, 28),
            Mov64Reg(0, 7),
            Alu64Reg(AluOperation.Or, 0, 6), Alu64Reg(AluOperation.Or, 0, 8), Alu64Reg(AluOperation.Or, 0, 9),
            Exit(),
        ];
    }

    /// <summary>r0 = lookup(map 0, &amp;Key), then <paramref name="afterCall"/>.</summary>
    private static Instruction[] LookupKeyThen(params Instruction[] afterCall)
    {
        var (m1, m2) = LoadImm64(1, 0, LoadImm64Source.MapIndex);
        return
        [
            StoreImm(AccessSize.Word, 10, -4, Key),
            m1, m2,
            Mov64Reg(2, 10), Alu64(AluOperation.Add, 2, -4),
            CallHelper((int)HelperId.MapLookupElem),
            .. afterCall,
        ];
    }

    public static TheoryData<MapType, ulong> MapTypes() => new()
    {
        // (u8)-EINVAL = 0xea: arrays refuse deletes and keep the element.
        { MapType.Hash, 0x678 },
        { MapType.LruHash, 0x678 },
        { MapType.PercpuHash, 0x678 },
        { MapType.LruPercpuHash, 0x678 },
        { MapType.Array, 0x678 | 0xeaul << 20 | 1ul << 28 },
        { MapType.PercpuArray, 0x678 | 0xeaul << 20 | 1ul << 28 },
    };

    [Theory]
    [MemberData(nameof(MapTypes))]
    public void Bound_map_calls_behave_as_the_generic_helpers(MapType type, ulong expected)
    {
        var results = new List<(ulong Ret, int Bound, bool Compiled)>();
        foreach (bool jit in new[] { true, false })
        {
            var rt = new BpfRuntime { JitEnabled = jit };
            using var map = rt.CreateMap(new MapDefinition(type, 4, 8, 16, Name: "m"));
            using var prog = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, UpdateLookupDeleteLookup(), "uldl"), [map]);
            Assert.Equal(ExecutionMode.Unchecked, prog.Program.ExecutionMode);
            var r = rt.TestRun(prog, new TestRunOptions { DataIn = new byte[64] });
            results.Add((r.ReturnValue, prog.Program.JitBoundMapCalls, prog.Program.IsJitCompiled));
        }
        Assert.Equal(expected, results[0].Ret);
        Assert.Equal(results[1].Ret, results[0].Ret);
        Assert.True(results[0].Compiled);
        Assert.Equal(4, results[0].Bound);   // update, lookup, delete, lookup
        Assert.Equal(0, results[1].Bound);   // the interpreter binds nothing
    }

    [Fact]
    public void A_call_reached_from_two_maps_stays_generic_and_uses_the_right_map()
    {
        var rt = new BpfRuntime();
        using var a = rt.CreateMap(new MapDefinition(MapType.Array, 4, 8, 1, Name: "a"));
        using var b = rt.CreateMap(new MapDefinition(MapType.Array, 4, 8, 1, Name: "b"));
        a.Map.Maps!.Update(BitConverter.GetBytes(0), BitConverter.GetBytes(111L));
        b.Map.Maps!.Update(BitConverter.GetBytes(0), BitConverter.GetBytes(222L));
        var (a1, a2) = LoadImm64(1, 0, LoadImm64Source.MapIndex);
        var (b1, b2) = LoadImm64(1, 1, LoadImm64Source.MapIndex);
        Instruction[] code =
        [
            LoadMem(AccessSize.Word, 2, 1, 0),                   // data
            LoadMem(AccessSize.Word, 3, 1, 4),                   // data_end
            Mov64Reg(4, 2), Alu64(AluOperation.Add, 4, 1),
            JumpReg(JumpOperation.Jgt, 4, 3, 13),
            LoadMem(AccessSize.Byte, 6, 2, 0),
            StoreImm(AccessSize.Word, 10, -4, 0),
            a1, a2,
            Jump(JumpOperation.Jeq, 6, 0, 2),
            b1, b2,
            Mov64Reg(2, 10), Alu64(AluOperation.Add, 2, -4),     // the join: R1 is a or b
            CallHelper((int)HelperId.MapLookupElem),
            Jump(JumpOperation.Jeq, 0, 0, 2),
            LoadMem(AccessSize.DoubleWord, 0, 0, 0),
            Exit(),
            Mov64(0, 0),
            Exit(),
        ];
        using var prog = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, code, "join"), [a, b]);
        Assert.True(prog.Program.IsJitCompiled, prog.Program.JitFailure ?? prog.Program.ExecutionModeReason);
        Assert.Equal(0, prog.Program.JitBoundMapCalls);
        Assert.Equal(111ul, rt.TestRun(prog, new TestRunOptions { DataIn = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] }).ReturnValue);
        Assert.Equal(222ul, rt.TestRun(prog, new TestRunOptions { DataIn = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] }).ReturnValue);
    }

    [Fact]
    public void A_replaced_builtin_lookup_is_called_not_bypassed()
    {
        var rt = new BpfRuntime();
        int calls = 0;
        rt.Helpers.SetBuiltin(HelperId.MapLookupElem, "map_lookup_elem", (r1, r2, r3, r4, r5) =>
        {
            Interlocked.Increment(ref calls);
            return MapHelpers.MapLookupElem(r1, r2, r3, r4, r5);
        });
        using var map = rt.CreateMap(new MapDefinition(MapType.Hash, 4, 8, 16, Name: "h"));
        map.Map.Maps!.Update(BitConverter.GetBytes(Key), BitConverter.GetBytes(77L));
        Instruction[] code = LookupKeyThen(
            Jump(JumpOperation.Jeq, 0, 0, 2),
            LoadMem(AccessSize.DoubleWord, 0, 0, 0),
            Exit(),
            Mov64(0, 0),
            Exit());
        using var prog = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, code, "replaced"), [map]);
        Assert.True(prog.Program.IsJitCompiled, prog.Program.JitFailure);
        Assert.Equal(0, prog.Program.JitBoundMapCalls);
        Assert.Equal(77ul, rt.TestRun(prog, new TestRunOptions { DataIn = new byte[14] }).ReturnValue);
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task Bound_lookups_from_many_threads_see_concurrent_updates_whole()
    {
        // A writer replaces a 16-byte hash value whose two halves are equal (and deletes it now and then); a
        // bound lookup must never see a torn value or a reclaimed element (the runner holds the epoch).
        var rt = new BpfRuntime();
        using var map = rt.CreateMap(new MapDefinition(MapType.Hash, 4, 16, 16, Name: "h"));
        map.Map.Maps!.Update(BitConverter.GetBytes(Key), new byte[16]);
        Instruction[] code = LookupKeyThen(
            Jump(JumpOperation.Jeq, 0, 0, 5),
            LoadMem(AccessSize.DoubleWord, 3, 0, 0),
            LoadMem(AccessSize.DoubleWord, 4, 0, 8),
            Mov64(0, 1),                                         // 1: whole
            JumpReg(JumpOperation.Jeq, 3, 4, 1),
            Mov64(0, 2),                                         // 2: torn
            Exit());
        using var prog = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, code, "reader"), [map]);
        Assert.Equal(1, prog.Program.JitBoundMapCalls);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        var writer = Task.Run(() =>
        {
            for (uint i = 1; !stop.IsCancellationRequested; i++)
            {
                ulong half = (ulong)i * 0x9E3779B97F4A7C15;
                map.Map.Maps!.Update(BitConverter.GetBytes(Key), [.. BitConverter.GetBytes(half), .. BitConverter.GetBytes(half)]);
                if (i % 64 == 0)
                    map.Map.Maps!.Delete(BitConverter.GetBytes(Key));
            }
        }, TestContext.Current.CancellationToken);
        long torn = 0, runs = 0, found = 0;
        var readers = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            using var runner = prog.CreateRunner();
            while (!stop.IsCancellationRequested)
            {
                ulong v = runner.Run(0);
                Interlocked.Increment(ref runs);
                if (v == 2)
                    Interlocked.Increment(ref torn);
                else if (v == 1)
                    Interlocked.Increment(ref found);
            }
        }, TestContext.Current.CancellationToken)).ToArray();
        await Task.WhenAll([writer, .. readers]);
        Assert.True(runs > 1000 && found > 100, $"only {runs} runs, {found} found");
        Assert.Equal(0, torn);
    }
}
