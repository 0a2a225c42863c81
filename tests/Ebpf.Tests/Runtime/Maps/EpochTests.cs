using Ebpf.Abi;
using Ebpf.Runtime.Maps;
using Ebpf.Runtime.Memory;
using static Ebpf.Tests.Runtime.Maps.MapTestUtil;

namespace Ebpf.Tests.Runtime.Maps;

public unsafe class EpochTests
{
    [Fact]
    public void PointerFromALookupSurvivesAConcurrentDeleteUntilTheReaderExits()
    {
        using var m = Make<HashMap>(MapType.Hash, 8, 64, 4096);
        var pattern = Enumerable.Repeat((byte)0xA5, 64).ToArray();
        m.Update(U64(1), pattern);
        using var got = new ManualResetEventSlim();
        using var deleted = new ManualResetEventSlim();
        bool unchanged = false, actionRanEarly = true, actionRan = false;
        var reader = new Thread(() =>
        {
            EpochManager.Enter();
            ulong k = 1;
            byte* p = m.ProgramLookup((byte*)&k, 0);
            got.Set();
            deleted.Wait();
            // The element is unlinked and retired, and the writer churned allocations of the same size.
            unchanged = new ReadOnlySpan<byte>(p, 64).SequenceEqual(pattern);
            actionRanEarly = Volatile.Read(ref actionRan);
            EpochManager.Exit();
        });
        reader.Start();
        got.Wait(TestContext.Current.CancellationToken);
        m.Delete(U64(1));
        EpochManager.Retire(() => Volatile.Write(ref actionRan, true));
        Assert.False(m.TryLookup(U64(1), new byte[64]));
        var other = Enumerable.Repeat((byte)0x5A, 64).ToArray();
        for (ulong i = 2; i < 2000; i++) { m.Update(U64(i), other); m.Delete(U64(i)); }
        EpochManager.Collect();
        deleted.Set();
        reader.Join();
        Assert.True(unchanged, "the retired element was freed or reused while a reader held it");
        Assert.False(actionRanEarly, "a retire callback ran while a reader from before it was still inside");
        EpochManager.Synchronize();
        Assert.True(Volatile.Read(ref actionRan), "Synchronize returned before reclaiming what was retired before it");
    }

    [Fact]
    public void ReplacedValueStaysReadableForTheOldReader()
    {
        using var m = Make<HashMap>(MapType.Hash, 4, 32, 16);
        m.Update(U32(3), Enumerable.Repeat((byte)1, 32).ToArray());
        uint k = 3;
        EpochManager.Enter();
        byte* old;
        try
        {
            old = m.ProgramLookup((byte*)&k, 0);
            var t = new Thread(() => m.Update(U32(3), Enumerable.Repeat((byte)2, 32).ToArray()));
            t.Start();
            t.Join();
            Assert.Equal(1, old[31]);                       // old element intact
            Assert.Equal(2, m.ProgramLookup((byte*)&k, 0)[0]); // new lookups see the new one
        }
        finally { EpochManager.Exit(); }
    }

    [Fact]
    public void AThreadThatDiedInsideDoesNotBlockReclamation()
    {
        var t = new Thread(() => EpochManager.Enter()); // never exits
        t.Start();
        t.Join();
        bool ran = false;
        EpochManager.Retire(() => ran = true);
        EpochManager.Synchronize();
        Assert.True(ran);
    }

    [Fact]
    public void NestingAndMisuse()
    {
        Assert.False(EpochManager.IsInCriticalSection);
        using (EpochManager.Guard())
        {
            EpochManager.Enter();
            Assert.True(EpochManager.IsInCriticalSection);
            EpochManager.Exit();
            Assert.True(EpochManager.IsInCriticalSection);
            Assert.Throws<InvalidOperationException>(EpochManager.Synchronize);
        }
        Assert.False(EpochManager.IsInCriticalSection);
        Assert.Throws<InvalidOperationException>(EpochManager.Exit);
    }
}
