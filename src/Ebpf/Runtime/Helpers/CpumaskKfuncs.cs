using System.Collections.Concurrent;
using System.Numerics;
using Ebpf.Execution;
using Ebpf.Isa;

namespace Ebpf.Runtime.Helpers;

/// <summary>
/// The cpumask kfuncs (kernel/bpf/cpumask.c, 6.18) and the two pointer casts, run by the host after verification (each
/// call is bound to a helper id, as fixup_kfunc_call binds it to the kernel's address, so the interpreter and the JIT
/// run the same code). A <c>struct bpf_cpumask</c> is a refcounted object of nr_cpu_ids bits (the runtime's possible
/// CPUs): bpf_cpumask_create hands out a handle, bpf_cpumask_acquire / _release count references and the last release
/// frees it; leaks and use after release are the verifier's business (KF_ACQUIRE / KF_RELEASE). The handle is an
/// address in the kernel's half of the address space that the host never dereferences: the kfuncs look it up, and a
/// program's own loads through it are probe loads, which read 0 outside the memory the runtime opens to them (reads
/// through typed kernel pointers are not modelled, and the verifier marks such a program not fully modelled).
/// A struct cpumask the runtime does not own (a NULL a probe load produced) reads as an empty mask and takes no writes.
/// </summary>
internal static unsafe class CpumaskKfuncs
{
    private const int HelperBase = 0xE800;

    private static readonly string[] Names =
    [
        "bpf_cpumask_create", "bpf_cpumask_acquire", "bpf_cpumask_release", "bpf_cpumask_first", "bpf_cpumask_first_zero",
        "bpf_cpumask_first_and", "bpf_cpumask_set_cpu", "bpf_cpumask_clear_cpu", "bpf_cpumask_test_cpu",
        "bpf_cpumask_test_and_set_cpu", "bpf_cpumask_test_and_clear_cpu", "bpf_cpumask_setall", "bpf_cpumask_clear",
        "bpf_cpumask_and", "bpf_cpumask_or", "bpf_cpumask_xor", "bpf_cpumask_equal", "bpf_cpumask_intersects",
        "bpf_cpumask_subset", "bpf_cpumask_empty", "bpf_cpumask_full", "bpf_cpumask_copy", "bpf_cpumask_any_distribute",
        "bpf_cpumask_any_and_distribute", "bpf_cpumask_weight", "bpf_cpumask_populate", "bpf_rdonly_cast", "bpf_cast_to_kern_ctx",
    ];

    private static readonly Dictionary<string, int> Ids = Names.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => HelperBase + p.i, StringComparer.Ordinal);

    /// <summary>The kfunc a call instruction (vmlinux kfunc, off 0) names when this runtime runs it, or null.</summary>
    public static string? Of(Instruction insn, Btf.BtfSpec? vmlinux) => HostKfuncBinding.NameOf(insn, vmlinux, Ids);

    /// <summary>fixup_kfunc_call for these kfuncs: each call becomes a call of its host implementation.</summary>
    public static Instruction[] Bind(Instruction[] insns, Btf.BtfSpec? vmlinux) => HostKfuncBinding.Bind(insns, vmlinux, Ids);

    /// <summary>Adds the implementations to a program's helper table.</summary>
    public static void Register(HelperTable table)
    {
        void Add(string name, delegate*<ulong, ulong, ulong, ulong, ulong, ulong> f) => table.Register(Ids[name], f, name);
        Add("bpf_cpumask_create", &Create);
        Add("bpf_cpumask_acquire", &Acquire);
        Add("bpf_cpumask_release", &Release);
        Add("bpf_cpumask_first", &First);
        Add("bpf_cpumask_first_zero", &FirstZero);
        Add("bpf_cpumask_first_and", &FirstAnd);
        Add("bpf_cpumask_set_cpu", &SetCpu);
        Add("bpf_cpumask_clear_cpu", &ClearCpu);
        Add("bpf_cpumask_test_cpu", &TestCpu);
        Add("bpf_cpumask_test_and_set_cpu", &TestAndSetCpu);
        Add("bpf_cpumask_test_and_clear_cpu", &TestAndClearCpu);
        Add("bpf_cpumask_setall", &SetAll);
        Add("bpf_cpumask_clear", &ClearAll);
        Add("bpf_cpumask_and", &And);
        Add("bpf_cpumask_or", &Or);
        Add("bpf_cpumask_xor", &Xor);
        Add("bpf_cpumask_equal", &Equal);
        Add("bpf_cpumask_intersects", &Intersects);
        Add("bpf_cpumask_subset", &Subset);
        Add("bpf_cpumask_empty", &Empty);
        Add("bpf_cpumask_full", &Full);
        Add("bpf_cpumask_copy", &Copy);
        Add("bpf_cpumask_any_distribute", &AnyDistribute);
        Add("bpf_cpumask_any_and_distribute", &AnyAndDistribute);
        Add("bpf_cpumask_weight", &Weight);
        Add("bpf_cpumask_populate", &Populate);
        Add("bpf_rdonly_cast", &RdonlyCast);
        Add("bpf_cast_to_kern_ctx", &CastToKernCtx);
    }

    // ---- the objects ----

    /// <summary>One struct bpf_cpumask: its bits (nr_cpu_ids of them, whole words) and its refcount.</summary>
    private sealed class Mask(int words)
    {
        public readonly ulong[] Bits = new ulong[words];
        public int References = 1;
    }

    /// <summary>Where handles start: a kernel-half address, never a host one (the host never dereferences it).</summary>
    private const ulong HandleBase = 0xffff_c900_0000_0000UL;

    /// <summary>Distance between handles: a struct bpf_cpumask never spans it, so offsets into one never reach the next.</summary>
    private const ulong HandleStride = 0x1_0000;

    /// <summary>At most this many masks live at once (a program aborted before its release leaves one behind); past it
    /// bpf_cpumask_create returns NULL, as the kernel's does when its allocator fails.</summary>
    private const int MaxLive = 1 << 16;

    private static readonly ConcurrentDictionary<ulong, Mask> Live = new();
    private static long _nextHandle;

    /// <summary>nr_cpu_ids.</summary>
    private static int NrCpus => Maps.BpfCpu.PossibleCount;

    private static int Words => (NrCpus + 63) / 64;

    /// <summary>The number of masks alive now (tests).</summary>
    internal static int LiveCount => Live.Count;

    private static Mask? Find(ulong handle) => Live.TryGetValue(handle, out var m) ? m : null;

    /// <summary>The bits of <paramref name="handle"/> (a copy taken under its lock), or an empty mask for a pointer
    /// the runtime does not own.</summary>
    private static ulong[] Snapshot(ulong handle)
    {
        if (Find(handle) is not { } m) return new ulong[Words];
        lock (m) return (ulong[])m.Bits.Clone();
    }

    /// <summary>Runs <paramref name="update"/> on the bits of <paramref name="handle"/> under its lock; false when the
    /// runtime does not own it.</summary>
    private static bool Update(ulong handle, Func<ulong[], bool> update, out bool result)
    {
        result = false;
        if (Find(handle) is not { } m) return false;
        lock (m) result = update(m.Bits);
        return true;
    }

    /// <summary>The mask of the valid bits of word <paramref name="w"/> (bits at or past nr_cpu_ids are never set).</summary>
    private static ulong ValidBits(int w)
    {
        int rest = NrCpus - w * 64;
        return rest >= 64 ? ulong.MaxValue : (1UL << rest) - 1;
    }

    private static ulong Bool(bool b) => b ? 1UL : 0UL;

    // ---- lifetime ----

    /// <summary>bpf_cpumask_create: a new, empty mask with one reference; NULL when none can be allocated.</summary>
    private static ulong Create(ulong r1, ulong r2, ulong r3, ulong r4, ulong r5)
    {
        if (Live.Count >= MaxLive) return 0;
        ulong handle = HandleBase + (ulong)Interlocked.Increment(ref _nextHandle) * HandleStride;
        Live[handle] = new Mask(Words);
        return handle;
    }

    /// <summary>bpf_cpumask_acquire: one more reference to a mask the program holds trusted.</summary>
    private static ulong Acquire(ulong mask, ulong r2, ulong r3, ulong r4, ulong r5)
    {
        if (Find(mask) is { } m) Interlocked.Increment(ref m.References);
        return mask;
    }

    /// <summary>bpf_cpumask_release: drops a reference; the last one frees the mask.</summary>
    private static ulong Release(ulong mask, ulong r2, ulong r3, ulong r4, ulong r5)
    {
        if (Find(mask) is { } m && Interlocked.Decrement(ref m.References) == 0)
            Live.TryRemove(mask, out _);
        return 0;
    }

    // ---- queries (cpumask_first and friends return nr_cpu_ids or more when there is no such CPU) ----

    private static int FirstSet(ulong[] bits)
    {
        for (int w = 0; w < bits.Length; w++)
        {
            ulong v = bits[w] & ValidBits(w);
            if (v != 0) return w * 64 + BitOperations.TrailingZeroCount(v);
        }
        return NrCpus;
    }

    private static ulong First(ulong mask, ulong r2, ulong r3, ulong r4, ulong r5) => (ulong)FirstSet(Snapshot(mask));

    private static ulong FirstZero(ulong mask, ulong r2, ulong r3, ulong r4, ulong r5)
    {
        var bits = Snapshot(mask);
        for (int w = 0; w < bits.Length; w++)
        {
            ulong v = ~bits[w] & ValidBits(w);
            if (v != 0) return (ulong)(w * 64 + BitOperations.TrailingZeroCount(v));
        }
        return (ulong)NrCpus;
    }

    private static ulong[] Combine(ulong a, ulong b, Func<ulong, ulong, ulong> op)
    {
        var x = Snapshot(a);
        var y = Snapshot(b);
        for (int w = 0; w < x.Length; w++) x[w] = op(x[w], y[w]) & ValidBits(w);
        return x;
    }

    private static ulong FirstAnd(ulong a, ulong b, ulong r3, ulong r4, ulong r5) => (ulong)FirstSet(Combine(a, b, (x, y) => x & y));

    private static bool ValidCpu(ulong cpu) => cpu < (ulong)NrCpus;

    private static ulong Bit(ulong cpu) => 1UL << (int)(cpu % 64);

    /// <summary>bpf_cpumask_test_cpu: false for a CPU at or past nr_cpu_ids (cpu_valid), as for the others.</summary>
    private static ulong TestCpu(ulong cpu, ulong mask, ulong r3, ulong r4, ulong r5) =>
        Bool(ValidCpu(cpu) && (Snapshot(mask)[cpu / 64] & Bit(cpu)) != 0);

    private static ulong SetCpu(ulong cpu, ulong mask, ulong r3, ulong r4, ulong r5)
    {
        if (ValidCpu(cpu)) Update(mask, bits => { bits[cpu / 64] |= Bit(cpu); return true; }, out _);
        return 0;
    }

    private static ulong ClearCpu(ulong cpu, ulong mask, ulong r3, ulong r4, ulong r5)
    {
        if (ValidCpu(cpu)) Update(mask, bits => { bits[cpu / 64] &= ~Bit(cpu); return true; }, out _);
        return 0;
    }

    private static ulong TestAndSetCpu(ulong cpu, ulong mask, ulong r3, ulong r4, ulong r5)
    {
        if (!ValidCpu(cpu)) return 0;
        Update(mask, bits => { bool was = (bits[cpu / 64] & Bit(cpu)) != 0; bits[cpu / 64] |= Bit(cpu); return was; }, out bool result);
        return Bool(result);
    }

    private static ulong TestAndClearCpu(ulong cpu, ulong mask, ulong r3, ulong r4, ulong r5)
    {
        if (!ValidCpu(cpu)) return 0;
        Update(mask, bits => { bool was = (bits[cpu / 64] & Bit(cpu)) != 0; bits[cpu / 64] &= ~Bit(cpu); return was; }, out bool result);
        return Bool(result);
    }

    private static ulong SetAll(ulong mask, ulong r2, ulong r3, ulong r4, ulong r5)
    {
        Update(mask, bits => { for (int w = 0; w < bits.Length; w++) bits[w] = ValidBits(w); return true; }, out _);
        return 0;
    }

    private static ulong ClearAll(ulong mask, ulong r2, ulong r3, ulong r4, ulong r5)
    {
        Update(mask, bits => { Array.Clear(bits); return true; }, out _);
        return 0;
    }

    /// <summary>Stores <paramref name="value"/> into <paramref name="dst"/> (the sources were read first, so a
    /// destination that is also a source sees its old bits, as bitmap_and does word by word).</summary>
    private static void Store(ulong dst, ulong[] value) => Update(dst, bits => { value.CopyTo(bits, 0); return true; }, out _);

    /// <summary>bpf_cpumask_and: whether the result is non-empty.</summary>
    private static ulong And(ulong dst, ulong a, ulong b, ulong r4, ulong r5)
    {
        var v = Combine(a, b, (x, y) => x & y);
        Store(dst, v);
        return Bool(v.Any(w => w != 0));
    }

    private static ulong Or(ulong dst, ulong a, ulong b, ulong r4, ulong r5)
    {
        Store(dst, Combine(a, b, (x, y) => x | y));
        return 0;
    }

    private static ulong Xor(ulong dst, ulong a, ulong b, ulong r4, ulong r5)
    {
        Store(dst, Combine(a, b, (x, y) => x ^ y));
        return 0;
    }

    private static ulong Equal(ulong a, ulong b, ulong r3, ulong r4, ulong r5) => Bool(Combine(a, b, (x, y) => x ^ y).All(w => w == 0));

    private static ulong Intersects(ulong a, ulong b, ulong r3, ulong r4, ulong r5) => Bool(Combine(a, b, (x, y) => x & y).Any(w => w != 0));

    private static ulong Subset(ulong a, ulong b, ulong r3, ulong r4, ulong r5) => Bool(Combine(a, b, (x, y) => x & ~y).All(w => w == 0));

    private static ulong Empty(ulong mask, ulong r2, ulong r3, ulong r4, ulong r5) => Bool(FirstSet(Snapshot(mask)) >= NrCpus);

    private static ulong Full(ulong mask, ulong r2, ulong r3, ulong r4, ulong r5)
    {
        var bits = Snapshot(mask);
        for (int w = 0; w < bits.Length; w++)
            if ((bits[w] & ValidBits(w)) != ValidBits(w)) return 0;
        return 1;
    }

    private static ulong Copy(ulong dst, ulong src, ulong r3, ulong r4, ulong r5)
    {
        Store(dst, Snapshot(src));
        return 0;
    }

    private static ulong Weight(ulong mask, ulong r2, ulong r3, ulong r4, ulong r5)
    {
        var bits = Snapshot(mask);
        int n = 0;
        for (int w = 0; w < bits.Length; w++) n += BitOperations.PopCount(bits[w] & ValidBits(w));
        return (ulong)n;
    }

    /// <summary>cpumask_any_distribute's per-CPU "previous" CPU: the next set CPU after it, wrapping, is returned.</summary>
    [ThreadStatic] private static int t_previous;

    private static ulong Distribute(ulong[] bits)
    {
        int n = NrCpus;
        int prev = t_previous;
        for (int i = 1; i <= n; i++)
        {
            int cpu = (prev + i) % n;
            if ((bits[cpu / 64] & (1UL << (cpu % 64))) != 0)
            {
                t_previous = cpu;
                return (ulong)cpu;
            }
        }
        return (ulong)n;
    }

    private static ulong AnyDistribute(ulong mask, ulong r2, ulong r3, ulong r4, ulong r5) => Distribute(Snapshot(mask));

    private static ulong AnyAndDistribute(ulong a, ulong b, ulong r3, ulong r4, ulong r5) => Distribute(Combine(a, b, (x, y) => x & y));

    /// <summary>bpf_cpumask_populate(mask, src, src__sz): -EACCES when the source is smaller than the mask's words
    /// (bitmap_size(nr_cpu_ids)); x86 has efficient unaligned access, so alignment is not checked.</summary>
    private static ulong Populate(ulong mask, ulong src, ulong size, ulong r4, ulong r5)
    {
        int bytes = Words * 8;
        if (size < (ulong)bytes) return BuiltinHelpers.Err(Errno.EACCES);
        if (!HelperMemory.CanAccess(src, (ulong)bytes, write: false)) return BuiltinHelpers.Err(Errno.EFAULT);
        var source = HelperMemory.Bytes(src, (ulong)bytes);
        var value = new ulong[Words];
        for (int w = 0; w < value.Length; w++) value[w] = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(source[(w * 8)..]) & ValidBits(w);
        Store(mask, value);
        return 0;
    }

    // ---- the pointer casts ----

    /// <summary>bpf_rdonly_cast(obj, btf_id): the same address, now typed untrusted; reads through it are probe loads.</summary>
    private static ulong RdonlyCast(ulong obj, ulong btfId, ulong r3, ulong r4, ulong r5) => obj;

    /// <summary>bpf_cast_to_kern_ctx(ctx): the kernel's context struct (sk_buff, xdp_buff …), which this runtime does not
    /// have: a non-NULL kernel-half address no probe window covers, so every read through it is 0 and nothing of the
    /// runtime's own context is passed off as the kernel's struct.</summary>
    private static ulong CastToKernCtx(ulong ctx, ulong r2, ulong r3, ulong r4, ulong r5) => HandleBase - HandleStride;
}
