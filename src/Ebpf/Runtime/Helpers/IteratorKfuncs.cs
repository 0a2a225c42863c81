using System.Buffers.Binary;
using System.Collections.Concurrent;
using Ebpf.Execution;
using Ebpf.Isa;

namespace Ebpf.Runtime.Helpers;

/// <summary>
/// The open-coded iterator kfuncs the verifier models (<see cref="Verification.IteratorSlots"/>): bpf_iter_num_* and
/// bpf_iter_bits_*, with the kernel's semantics (kernel/bpf/bpf_iter.c, kernel/bpf/helpers.c). After verification
/// each call (a vmlinux BTF id) is bound to a host implementation, as fixup_kfunc_call binds it to the kernel's
/// address. The iterator's state lives where the program put it, on its stack, laid out as the kernel's
/// <c>bpf_iter_num_kern</c> / <c>bpf_iter_bits_kern</c>; the element pointer _next returns points into it.
/// </summary>
internal static unsafe class IteratorKfuncs
{
    private const int HelperBase = 0xE100;

    /// <summary>The helper id bound to each kfunc, by name.</summary>
    private static readonly Dictionary<string, int> Ids = new(StringComparer.Ordinal)
    {
        ["bpf_iter_num_new"] = HelperBase, ["bpf_iter_num_next"] = HelperBase + 1, ["bpf_iter_num_destroy"] = HelperBase + 2,
        ["bpf_iter_bits_new"] = HelperBase + 3, ["bpf_iter_bits_next"] = HelperBase + 4, ["bpf_iter_bits_destroy"] = HelperBase + 5,
    };

    /// <summary>BPF_MAX_LOOPS: the most iterations bpf_iter_num allows.</summary>
    private const long MaxLoops = 8 * 1024 * 1024;

    /// <summary>BITS_ITER_NR_WORDS_MAX.</summary>
    private const uint MaxBitsWords = 511;

    /// <summary>The iterator kfunc a call instruction (vmlinux kfunc, off 0) names, or null.</summary>
    public static string? Of(Instruction insn, Btf.BtfSpec? vmlinux) =>
        insn.IsCall && insn.Src == (byte)CallSource.Kfunc && insn.Offset == 0
        && Verification.KernelFunctions.ResolveById(insn.Imm, vmlinux) is { } kf && Ids.ContainsKey(kf.Name) ? kf.Name : null;

    /// <summary>The objects each kernel-object iterator family walks, for the refusal that names them.</summary>
    private static readonly Dictionary<string, string> KernelObjects = new(StringComparer.Ordinal)
    {
        ["task"] = "the kernel's tasks", ["css"] = "cgroup subsystem states", ["css_task"] = "a cgroup's tasks",
        ["task_vma"] = "a task's memory areas", ["kmem_cache"] = "the slab caches", ["dmabuf"] = "DMA buffers",
    };

    /// <summary>
    /// fixup_kfunc_call for the iterator kfuncs: each call becomes a call of its host implementation. An iterator over
    /// kernel objects (task, css, css_task, task_vma, kmem_cache, dmabuf) is refused with ENOTSUPP naming it: this
    /// runtime has no kernel objects to walk (its task model is one current task, with no task_struct to point to), and
    /// yielding made-up ones would run the program on data no kernel has. Such programs run in the kernel (Linux backend).
    /// </summary>
    public static Instruction[] Bind(Instruction[] insns, Btf.BtfSpec? vmlinux)
    {
        for (int pc = 0; pc < insns.Length; pc++)
        {
            if (insns[pc].IsLoadImm64)
            {
                pc++;
                continue;
            }
            if (Of(insns[pc], vmlinux) is { } name)
                insns[pc] = new Instruction(insns[pc].Opcode, 0, 0, 0, Ids[name]);
            else if (KernelObjectIteratorOf(insns[pc], vmlinux) is { } refused)
                throw new BpfException(Errno.ENOTSUPP,
                    $"insn {pc}: open-coded iterator bpf_iter_{refused.Type} ({refused.Kfunc}) walks {KernelObjects[refused.Type]}, which the managed runtime does not have; load the program with the Linux backend");
        }
        return insns;
    }

    /// <summary>The kernel-object iterator kfunc a call names (vmlinux kfunc, off 0), or null.</summary>
    internal static (string Kfunc, string Type)? KernelObjectIteratorOf(Instruction insn, Btf.BtfSpec? vmlinux) =>
        insn.IsCall && insn.Src == (byte)CallSource.Kfunc && insn.Offset == 0
        && Verification.KernelFunctions.ResolveById(insn.Imm, vmlinux) is { } kf
        && Verification.IteratorSlots.Classify(kf.Name) is { } c && KernelObjects.ContainsKey(c.Type) ? (kf.Name, c.Type) : null;

    /// <summary>Adds the implementations to a program's helper table.</summary>
    public static void Register(HelperTable table)
    {
        table.Register(Ids["bpf_iter_num_new"], &NumNew, "bpf_iter_num_new");
        table.Register(Ids["bpf_iter_num_next"], &NumNext, "bpf_iter_num_next");
        table.Register(Ids["bpf_iter_num_destroy"], &NumDestroy, "bpf_iter_num_destroy");
        table.Register(Ids["bpf_iter_bits_new"], &BitsNew, "bpf_iter_bits_new");
        table.Register(Ids["bpf_iter_bits_next"], &BitsNext, "bpf_iter_bits_next");
        table.Register(Ids["bpf_iter_bits_destroy"], &BitsDestroy, "bpf_iter_bits_destroy");
    }

    private static ulong Err(Errno e) => BuiltinHelpers.Err(e);

    // ---- bpf_iter_num: { int cur; int end; } ----

    private static Span<byte> State(ulong it, int size) =>
        HelperMemory.CanAccess(it, (ulong)size, write: true) ? HelperMemory.Bytes(it, (ulong)size) : default;

    private static void SetNum(Span<byte> s, int cur, int end)
    {
        BinaryPrimitives.WriteInt32LittleEndian(s, cur);
        BinaryPrimitives.WriteInt32LittleEndian(s[4..], end);
    }

    /// <summary>bpf_iter_num_new: start &gt; end is -EINVAL, more than BPF_MAX_LOOPS elements -E2BIG (both leave an
    /// iterator that yields nothing); otherwise the first _next yields start.</summary>
    private static ulong NumNew(ulong it, ulong start, ulong end, ulong r4, ulong r5)
    {
        var s = State(it, 8);
        if (s.IsEmpty) return Err(Errno.EFAULT);
        int first = (int)start, last = (int)end;
        if (first > last)
        {
            SetNum(s, 0, 0);
            return Err(Errno.EINVAL);
        }
        if ((long)last - first > MaxLoops)
        {
            SetNum(s, 0, 0);
            return Err(Errno.E2BIG);
        }
        SetNum(s, unchecked(first - 1), last);
        return 0;
    }

    /// <summary>bpf_iter_num_next: the next value, or NULL (sticky) once the range is done.</summary>
    private static ulong NumNext(ulong it, ulong r2, ulong r3, ulong r4, ulong r5)
    {
        var s = State(it, 8);
        if (s.IsEmpty) return 0;
        int cur = BinaryPrimitives.ReadInt32LittleEndian(s), end = BinaryPrimitives.ReadInt32LittleEndian(s[4..]);
        if ((long)unchecked(cur + 1) >= end)
        {
            SetNum(s, 0, 0);
            return 0;
        }
        BinaryPrimitives.WriteInt32LittleEndian(s, cur + 1);
        return it;
    }

    private static ulong NumDestroy(ulong it, ulong r2, ulong r3, ulong r4, ulong r5)
    {
        var s = State(it, 8);
        if (!s.IsEmpty) SetNum(s, 0, 0);
        return 0;
    }

    // ---- bpf_iter_bits: { u64 bits_copy or the words' handle; int nr_bits; int bit; } ----

    /// <summary>Words of masks wider than 64 bits. The kernel keeps a pointer to a bpf_mem_alloc copy in the
    /// iterator; here the iterator keeps a handle into this table, so a program can never make the host dereference
    /// an address it wrote.</summary>
    private static readonly ConcurrentDictionary<ulong, ulong[]> Copies = new();
    private static long _nextHandle;

    /// <summary>At most this many copies exist at once (a program aborted between _new and _destroy leaves one).</summary>
    private const int MaxCopies = 1 << 16;

    private static void SetBits(Span<byte> s, ulong word, int nrBits, int bit)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(s, word);
        BinaryPrimitives.WriteInt32LittleEndian(s[8..], nrBits);
        BinaryPrimitives.WriteInt32LittleEndian(s[12..], bit);
    }

    /// <summary>bpf_iter_bits_new: copies <paramref name="words"/> u64 words from <paramref name="ptr"/> (read
    /// fault-safely: the argument is __ign, unchecked by the verifier).</summary>
    private static ulong BitsNew(ulong it, ulong ptr, ulong words, ulong r4, ulong r5)
    {
        var s = State(it, 16);
        if (s.IsEmpty) return Err(Errno.EFAULT);
        uint nrWords = (uint)words;
        SetBits(s, 0, 0, -1);
        if (ptr == 0 || nrWords == 0) return Err(Errno.EINVAL);
        if (nrWords > MaxBitsWords) return Err(Errno.E2BIG);
        int nrBytes = (int)nrWords * 8;
        var bytes = HelperMemory.ReadNoFault(ptr, (ulong)nrBytes);
        if (bytes is null) return Err(Errno.EFAULT);
        if (nrWords == 1)
        {
            SetBits(s, BinaryPrimitives.ReadUInt64LittleEndian(bytes), 64, -1);
            return 0;
        }
        if (Copies.Count >= MaxCopies) return Err(Errno.ENOMEM);
        var copy = new ulong[nrWords];
        for (int i = 0; i < copy.Length; i++) copy[i] = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(i * 8));
        ulong handle = (ulong)Interlocked.Increment(ref _nextHandle);
        Copies[handle] = copy;
        SetBits(s, handle, nrBytes * 8, -1);
        return 0;
    }

    /// <summary>bpf_iter_bits_next: the index of the next set bit, or NULL once none is left.</summary>
    private static ulong BitsNext(ulong it, ulong r2, ulong r3, ulong r4, ulong r5)
    {
        var s = State(it, 16);
        if (s.IsEmpty) return 0;
        ulong word = BinaryPrimitives.ReadUInt64LittleEndian(s);
        int nrBits = BinaryPrimitives.ReadInt32LittleEndian(s[8..]), bit = BinaryPrimitives.ReadInt32LittleEndian(s[12..]);
        if (nrBits <= 0 || bit >= nrBits) return 0;
        ulong[]? copy = null;
        if (nrBits != 64 && !(Copies.TryGetValue(word, out copy) && copy.Length * 64 == nrBits))
            return 0; // the handle is not one this iterator made (only an unverified program can get here)
        int next = copy is null ? FindNextBit([word], nrBits, bit + 1) : FindNextBit(copy, nrBits, bit + 1);
        BinaryPrimitives.WriteInt32LittleEndian(s[12..], next);
        return next >= nrBits ? 0 : it + 12;
    }

    private static ulong BitsDestroy(ulong it, ulong r2, ulong r3, ulong r4, ulong r5)
    {
        var s = State(it, 16);
        if (s.IsEmpty) return 0;
        int nrBits = BinaryPrimitives.ReadInt32LittleEndian(s[8..]);
        if (nrBits > 64) Copies.TryRemove(BinaryPrimitives.ReadUInt64LittleEndian(s), out _);
        return 0;
    }

    /// <summary>find_next_bit: the first set bit at or after <paramref name="start"/>, else <paramref name="size"/>.</summary>
    private static int FindNextBit(ReadOnlySpan<ulong> bits, int size, int start)
    {
        for (int i = Math.Max(start, 0); i < size;)
        {
            ulong w = bits[i / 64] >> (i % 64);
            if (w != 0) return Math.Min(size, i + System.Numerics.BitOperations.TrailingZeroCount(w));
            i = (i / 64 + 1) * 64;
        }
        return size;
    }
}
