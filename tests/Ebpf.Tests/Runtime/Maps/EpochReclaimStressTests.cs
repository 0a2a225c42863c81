using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using Ebpf.Abi;
using Ebpf.Runtime.Maps;
using Ebpf.Runtime.Memory;
using static Ebpf.Tests.Runtime.Maps.MapTestUtil;

namespace Ebpf.Tests.Runtime.Maps;

/// <summary>
/// Use-after-reclaim stress for <see cref="EpochManager"/>'s asymmetric-fence readers: program-style
/// readers hold element pointers inside a critical section and re-validate a canary in them while writers
/// replace and delete the same few keys (every replace/delete retires an element) and a collector thread
/// reclaims continuously. Freed blocks are poisoned, so memory freed under a reader fails the canary at
/// once instead of looking plausible.
/// </summary>
public unsafe class EpochReclaimStressTests
{
    private const int ValueSize = 64;
    private static readonly TimeSpan Duration = TimeSpan.FromMilliseconds(1000);

    private static void Fill(Span<byte> v, uint key, uint seq)
    {
        for (int i = 0; i < ValueSize / 4; i++)
            BinaryPrimitives.WriteUInt32LittleEndian(v[(i * 4)..], i == 0 ? key : i == 1 ? seq : (key * 2654435761u) ^ (seq + (uint)i) * 40503u);
    }

    private static bool Valid(byte* p, uint key)
    {
        var v = new ReadOnlySpan<byte>(p, ValueSize);
        if (BinaryPrimitives.ReadUInt32LittleEndian(v) != key) return false;
        uint seq = BinaryPrimitives.ReadUInt32LittleEndian(v[4..]);
        for (int i = 2; i < ValueSize / 4; i++)
            if (BinaryPrimitives.ReadUInt32LittleEndian(v[(i * 4)..]) != ((key * 2654435761u) ^ (seq + (uint)i) * 40503u)) return false;
        return true;
    }

    [Fact]
    public void ReadersNeverSeeReclaimedElementsWhileWritersChurnAndTheCollectorRuns()
    {
        bool poison = EpochManager.PoisonFreedMemory;
        EpochManager.PoisonFreedMemory = true;
        try
        {
            using var m = Make<HashMap>(MapType.Hash, 4, ValueSize, 64);
            const uint Keys = 8; // few keys: readers and writers meet on the same elements all the time
            var init = new byte[ValueSize];
            for (uint k = 0; k < Keys; k++) { Fill(init, k, 0); m.Update(U32(k), init); }
            long freedBefore = EpochManager.FreedCount;
            long reads = 0, held = 0;
            var errors = new ConcurrentQueue<string>();
            var clock = Stopwatch.StartNew();
            bool Running() => clock.Elapsed < Duration && errors.IsEmpty;

            var threads = new List<Thread>();
            for (int r = 0; r < 2; r++)
            {
                int seed = r;
                threads.Add(new Thread(() =>
                {
                    var rnd = new Random(seed);
                    while (Running())
                    {
                        uint key = (uint)rnd.Next((int)Keys);
                        EpochManager.Enter();
                        try
                        {
                            byte* p = m.ProgramLookup((byte*)&key, 0);
                            if (p == null) continue;
                            Interlocked.Increment(ref held);
                            // Hold the element across several validations; writers retire it meanwhile.
                            for (int round = 0; round < 4; round++)
                            {
                                if (!Valid(p, key)) { errors.Enqueue($"key {key}: element changed or freed under a reader"); break; }
                                Thread.SpinWait(30);
                            }
                        }
                        finally { EpochManager.Exit(); }
                        Interlocked.Increment(ref reads);
                    }
                }));
            }
            for (int w = 0; w < 2; w++)
            {
                int seed = 100 + w;
                threads.Add(new Thread(() =>
                {
                    var rnd = new Random(seed);
                    var v = new byte[ValueSize];
                    uint seq = 0;
                    while (Running())
                    {
                        uint key = (uint)rnd.Next((int)Keys);
                        if (rnd.Next(4) == 0)
                            m.DeleteElem(U32(key));
                        else
                        {
                            Fill(v, key, ++seq);
                            m.UpdateElem(U32(key), v); // replaces: the old element is retired
                        }
                    }
                }));
            }
            threads.Add(new Thread(() =>
            {
                while (Running()) { EpochManager.Collect(); Thread.Yield(); }
            }));
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());

            Assert.True(errors.IsEmpty, string.Join("; ", errors.Take(5)));
            Assert.True(Interlocked.Read(ref held) > 1000, $"only {held} elements held by readers: the test did not exercise anything");
            EpochManager.Synchronize();
            Assert.True(EpochManager.FreedCount - freedBefore > 1000, "reclamation barely ran: the test did not exercise freeing");
        }
        finally
        {
            EpochManager.PoisonFreedMemory = poison;
        }
    }

    [Fact]
    public void PoisonedFreeReallyOverwritesTheBlock()
    {
        // Guards the test above: if poisoning silently did nothing, freed-but-intact elements would pass.
        if (!OperatingSystem.IsLinux())
            Requirement.Missing(Requirement.Kernel, "poisoning needs malloc_usable_size (glibc on Linux)");
        byte* p = (byte*)System.Runtime.InteropServices.NativeMemory.Alloc(256);
        try
        {
            new Span<byte>(p, 256).Fill(0x11);
            EpochManager.PoisonBlock((nint)p);
            Assert.True(new ReadOnlySpan<byte>(p, 256).IndexOfAnyExcept((byte)0xDD) < 0, "the block was not poisoned");
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.Free(p);
        }
    }
}
