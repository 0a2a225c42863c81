using System.Diagnostics;
using System.Runtime.InteropServices;
using Ebpf.Abi;
using Ebpf.Runtime.Maps;
using Ebpf.Runtime.Memory;

namespace Ebpf.Bench.Maps;

/// <summary>
/// <c>maps</c>: ns per operation for host-side lookup/update (the bpf(2) command path) and the
/// program-side lookup path helpers use, for array, hash and lru_hash. Median of rounds.
/// Args: [rounds] (default 7).
/// </summary>
public sealed unsafe class MapsBench : IBenchSuite
{
    public string Name => "maps";
    public string Description => "map lookup/update ns per op (host API and program-side path)";

    private const int Keys = 1024;

    public int Run(string[] args)
    {
        int rounds = args.Length > 0 && int.TryParse(args[0], out var r) ? r : 7;
        Console.WriteLine($"maps: {Keys} keys, value 8 bytes, median of {rounds} rounds, {BpfCpu.PossibleCount} possible CPUs");
        Console.WriteLine("ns/op = thread CPU time (immune to run-queue waits on a shared box); wall = Stopwatch");
        Console.WriteLine($"{"map",-10} {"operation",-36} {"ns/op",9} {"wall",9}");
        foreach (var type in new[] { MapType.Array, MapType.Hash, MapType.LruHash })
        {
            using var map = BpfMapFactory.Create(type, 4, 8, Keys, name: "bench");
            var value = new byte[8];
            for (uint i = 0; i < Keys; i++) map.Update(BitConverter.GetBytes(i), value);
            string t = type.ToString().ToLowerInvariant();
            Report(t, "host lookup (LookupElem)", rounds, n => HostLookup(map, n));
            Report(t, "host update (UpdateElem, BPF_ANY)", rounds, n => HostUpdate(map, n));
            Report(t, "program lookup (BpfMapBase virtual)", rounds, n => ProgramLookupVirtual(map, n));
            if (map is HashMap h) Report(t, "program lookup (HashMap direct)", rounds, n => ProgramLookupHash(h, n));
            if (map is ArrayMap a) Report(t, "program lookup (ArrayMap direct)", rounds, n => ProgramLookupArray(a, n));
            Report(t, "program update (existing key)", rounds, n => ProgramUpdate(map, n));
        }
        Report("epoch", "Enter+Exit", rounds, EnterExit);
        return 0;
    }

    private static void Report(string map, string op, int rounds, Func<int, long> body)
    {
        const int n = 200_000;
        // Warm up long enough for tiered compilation to replace tier-0 code (call-count delay ≈ 100 ms).
        var warm = Stopwatch.StartNew();
        while (warm.ElapsedMilliseconds < 400) body(n / 10);
        var cpu = new double[rounds];
        var wall = new double[rounds];
        for (int i = 0; i < rounds; i++)
        {
            long c0 = ThreadCpuClock.Nanoseconds();
            var sw = Stopwatch.StartNew();
            long sink = body(n);
            sw.Stop();
            cpu[i] = (ThreadCpuClock.Nanoseconds() - c0) / (double)n;
            wall[i] = sw.Elapsed.TotalNanoseconds / n;
            GC.KeepAlive(sink);
        }
        Array.Sort(cpu);
        Array.Sort(wall);
        Console.WriteLine($"{map,-10} {op,-36} {cpu[rounds / 2],9:F1} {wall[rounds / 2],9:F1}");
    }


    private static long HostLookup(BpfMapBase map, int n)
    {
        Span<byte> key = stackalloc byte[4];
        Span<byte> val = stackalloc byte[8];
        long s = 0;
        for (int i = 0; i < n; i++)
        {
            BitConverter.TryWriteBytes(key, (uint)(i & (Keys - 1)));
            s += (long)map.LookupElem(key, val);
        }
        return s;
    }

    private static long HostUpdate(BpfMapBase map, int n)
    {
        Span<byte> key = stackalloc byte[4];
        Span<byte> val = stackalloc byte[8];
        long s = 0;
        for (int i = 0; i < n; i++)
        {
            BitConverter.TryWriteBytes(key, (uint)(i & (Keys - 1)));
            BitConverter.TryWriteBytes(val, (long)i);
            s += (long)map.UpdateElem(key, val);
        }
        return s;
    }

    private static long ProgramLookupVirtual(BpfMapBase map, int n)
    {
        long s = 0;
        EpochManager.Enter();
        for (int i = 0; i < n; i++)
        {
            uint k = (uint)(i & (Keys - 1));
            s += (long)map.ProgramLookup((byte*)&k, 0);
        }
        EpochManager.Exit();
        return s;
    }

    private static long ProgramLookupHash(HashMap map, int n)
    {
        long s = 0;
        EpochManager.Enter();
        for (int i = 0; i < n; i++)
        {
            uint k = (uint)(i & (Keys - 1));
            s += (long)map.ProgramLookup((byte*)&k, 0);
        }
        EpochManager.Exit();
        return s;
    }

    private static long ProgramLookupArray(ArrayMap map, int n)
    {
        long s = 0;
        for (int i = 0; i < n; i++)
        {
            uint k = (uint)(i & (Keys - 1));
            s += (long)map.ProgramLookup((byte*)&k, 0);
        }
        return s;
    }

    private static long ProgramUpdate(BpfMapBase map, int n)
    {
        long s = 0;
        EpochManager.Enter();
        for (int i = 0; i < n; i++)
        {
            uint k = (uint)(i & (Keys - 1));
            long v = i;
            s += map.ProgramUpdate((byte*)&k, (byte*)&v, 0, 0);
            if ((i & 4095) == 0) { EpochManager.Exit(); EpochManager.Enter(); } // let retired elements be reclaimed
        }
        EpochManager.Exit();
        return s;
    }

    private static long EnterExit(int n)
    {
        for (int i = 0; i < n; i++) { EpochManager.Enter(); EpochManager.Exit(); }
        return n;
    }
}
