using Ebpf.Linux;
using Ebpf.Abi;
using Ebpf.Execution;
using Ebpf.Loading;
using Ebpf.Runtime;
using Ebpf.Runtime.Maps;
using Ebpf.Runtime.Objects;
using Ebpf.Tests.Linux;

namespace Ebpf.Tests.Runtime;

/// <summary>
/// bpf_spin_lock in map values end to end: the runtime reads the lock's place from the value's BTF at map
/// creation, the verifier accepts the clang-built program (so it runs unchecked, compiled), runs agree with
/// the kernel's, concurrent runs never lose an update, and BPF_F_LOCK / freeze follow the lock's presence.
/// </summary>
public class SpinLockRuntimeTests
{
    private const string Fixture = "runtime/spin_lock.bpf.o";
    private const int LockOffset = 8; // struct counter { u64 before; struct bpf_spin_lock lock; u32 hits; u64 total; }

    private static readonly int[] Lengths = [14, 60, 64, 77, 128, 1500];

    [Fact]
    public void The_lock_is_found_in_the_value_btf_and_the_program_runs_verified()
    {
        var rt = new BpfRuntime();
        using var loaded = rt.Load(ObjectSpec.Load(SharedData.Fixture(Fixture)));
        Assert.Equal(LockOffset, loaded.Maps["shared"].Map.Definition.SpinLockOffset);
        Assert.Equal(LockOffset, loaded.Maps["per_len"].Map.Definition.SpinLockOffset);
        Assert.Equal(-1, loaded.Maps["shared"].Map.Definition.TimerOffset);
        var program = loaded.Programs["locked_add"].Program;
        Assert.Equal(ExecutionMode.Unchecked, program.ExecutionMode);
        Assert.True(program.IsJitCompiled, program.JitFailure);
    }

    [Fact]
    public void Runs_leave_the_same_counters_as_in_the_kernel()
    {
        KernelRequirement.Require();
        string path = SharedData.Fixture(Fixture);
        var rt = new BpfRuntime();
        using var ours = rt.Load(ObjectSpec.Load(path));
        using var kernel = LinuxKernel.LoadFile(path);
        foreach (int length in Lengths)
        {
            var packet = new byte[length];
            uint mine = rt.TestRun(ours.Programs["locked_add"], new TestRunOptions { DataIn = packet }).ReturnValue;
            uint theirs = kernel.Programs["locked_add"].TestRun(new TestRunOptions { DataIn = packet, DataSizeOut = 0 }).ReturnValue;
            Assert.Equal(theirs, mine);
        }
        foreach (var name in new[] { "shared", "per_len" })
        {
            var km = kernel.Maps[name];
            var rm = ours.Maps[name].Map.Maps!;
            var keys = km.Keys().Select(Convert.ToHexString).Order().ToList();
            Assert.Equal(keys, rm.Keys().Select(Convert.ToHexString).Order().ToList());
            foreach (var key in km.Keys())
            {
                var expected = new byte[km.ValueBufferSize];
                Assert.True(km.TryLookup(key, expected));
                var actual = new byte[rm.HostValueSize];
                rm.Lookup(key, actual);
                Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(actual)); // the lock word reads as 0 in both
            }
        }
    }

    [Fact]
    public async Task Concurrent_runs_lose_no_update_under_the_program_lock()
    {
        var rt = new BpfRuntime();
        using var loaded = rt.Load(ObjectSpec.Load(SharedData.Fixture(Fixture)));
        var prog = loaded.Programs["locked_add"];
        const int perThread = 20_000, threads = 2, length = 64;
        await Task.WhenAll(Enumerable.Range(0, threads).Select(_ => Task.Run(
            () => rt.TestRun(prog, new TestRunOptions { DataIn = new byte[length], Repeat = perThread }),
            TestContext.Current.CancellationToken)));
        var value = new byte[24];
        loaded.Maps["shared"].Map.Maps!.Lookup(new byte[4], value);
        Assert.Equal((uint)(perThread * threads), BitConverter.ToUInt32(value, 12));
        Assert.Equal((ulong)(perThread * threads * length), BitConverter.ToUInt64(value, 16));
    }

    [Fact]
    public void Host_locked_updates_work_and_freezing_is_refused()
    {
        var rt = new BpfRuntime();
        using var loaded = rt.Load(ObjectSpec.Load(SharedData.Fixture(Fixture)));
        var shared = loaded.Maps["shared"].Map;
        var value = new byte[24];
        BitConverter.GetBytes(7u).CopyTo(value, 12);
        Assert.Equal(Errno.None, shared.Maps!.UpdateElem(new byte[4], value, MapUpdateFlags.Lock));
        var read = new byte[24];
        Assert.Equal(Errno.None, shared.Maps.LookupElem(new byte[4], read, MapUpdateFlags.Lock));
        Assert.Equal(7u, BitConverter.ToUInt32(read, 12));
        Assert.Equal(Errno.ENOTSUPP, Assert.Throws<BpfException>(() => shared.Freeze()).Errno);
    }

    [Fact]
    public void A_btf_value_type_of_another_size_is_refused()
    {
        var spec = ObjectSpec.Load(SharedData.Fixture(Fixture));
        var rt = new BpfRuntime();
        using var btf = rt.LoadBtf(spec.Btf!.ToBytes(), "spin_lock");
        uint counter = spec.Btf.FindAllByName("counter", Ebpf.Btf.BtfKind.Struct).Single();
        var e = Assert.Throws<BpfException>(() => rt.CreateMap(
            new MapDefinition(MapType.Array, 4, 16, 1, Name: "short", BtfKeyTypeId: 0, BtfValueTypeId: counter), btf));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("value_size is 16", e.Message);
        using var right = rt.CreateMap(new MapDefinition(MapType.Array, 4, 24, 1, Name: "right", BtfValueTypeId: counter), btf);
        Assert.Equal(LockOffset, right.Map.Definition.SpinLockOffset);
    }
}
