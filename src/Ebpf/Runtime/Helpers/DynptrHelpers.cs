using System.Buffers.Binary;
using Ebpf.Abi.Helpers;
using Ebpf.Execution;
using Ebpf.Isa;
using Ebpf.Runtime.Maps;

namespace Ebpf.Runtime.Helpers;

/// <summary>
/// Local and ring buffer dynptrs at run time: the dynptr helpers (bpf_dynptr_from_mem, bpf_ringbuf_reserve_dynptr /
/// submit_dynptr / discard_dynptr, bpf_dynptr_read / write / data) and the dynptr kfuncs the verifier models
/// (bpf_dynptr_adjust / is_null / is_rdonly / size / clone / slice / slice_rdwr), with the kernel's semantics. The
/// dynptr lives on the program's stack laid out as the kernel's <c>bpf_dynptr_kern</c>: the data pointer, the size
/// (low 24 bits) with the type (bits 28-30) and the read-only bit (31), and the offset. Only helpers touch it (the
/// verifier refuses the program's own loads and stores); in a checked run every pointer taken from it is checked
/// against the run's regions before use.
/// </summary>
internal static unsafe class DynptrHelpers
{
    private const uint SizeMask = 0xffffff, TypeShift = 28, RdonlyBit = 1u << 31;
    private const uint TypeLocal = 1, TypeRingbuf = 2;

    /// <summary>DYNPTR_MAX_SIZE.</summary>
    private const ulong MaxSize = SizeMask;

    public static void RegisterAll(HelperRegistry r)
    {
        r.SetBuiltin(HelperId.DynptrFromMem, "dynptr_from_mem", FromMem);
        r.SetBuiltin(HelperId.RingbufReserveDynptr, "ringbuf_reserve_dynptr", RingbufReserve);
        r.SetBuiltin(HelperId.RingbufSubmitDynptr, "ringbuf_submit_dynptr", RingbufSubmit);
        r.SetBuiltin(HelperId.RingbufDiscardDynptr, "ringbuf_discard_dynptr", RingbufDiscard);
        r.SetBuiltin(HelperId.DynptrRead, "dynptr_read", Read);
        r.SetBuiltin(HelperId.DynptrWrite, "dynptr_write", Write);
        r.SetBuiltin(HelperId.DynptrData, "dynptr_data", Data);
    }

    private static ulong Err(Errno e) => BuiltinHelpers.Err(e);

    /// <summary>The dynptr at <paramref name="p"/>, or empty when the run may not touch it.</summary>
    private static Span<byte> Kern(ulong p) => HelperMemory.CanAccess(p, 16, write: true) ? HelperMemory.Bytes(p, 16) : default;

    private static ulong DataOf(Span<byte> k) => BinaryPrimitives.ReadUInt64LittleEndian(k);
    private static uint SizeOf(Span<byte> k) => BinaryPrimitives.ReadUInt32LittleEndian(k[8..]) & SizeMask;
    private static uint TypeOf(Span<byte> k) => (BinaryPrimitives.ReadUInt32LittleEndian(k[8..]) >> (int)TypeShift) & 7;
    private static bool IsRdonly(Span<byte> k) => (BinaryPrimitives.ReadUInt32LittleEndian(k[8..]) & RdonlyBit) != 0;
    private static uint OffsetOf(Span<byte> k) => BinaryPrimitives.ReadUInt32LittleEndian(k[12..]);

    private static void Init(Span<byte> k, ulong data, uint type, uint offset, uint size)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(k, data);
        BinaryPrimitives.WriteUInt32LittleEndian(k[8..], size | (type << (int)TypeShift));
        BinaryPrimitives.WriteUInt32LittleEndian(k[12..], offset);
    }

    private static void SetNull(Span<byte> k) => k.Clear();

    private static void SetSize(Span<byte> k, uint size)
    {
        uint word = BinaryPrimitives.ReadUInt32LittleEndian(k[8..]);
        BinaryPrimitives.WriteUInt32LittleEndian(k[8..], (word & ~SizeMask) | size);
    }

    /// <summary>bpf_dynptr_check_off_len.</summary>
    private static bool OffLenOk(Span<byte> k, ulong offset, ulong len)
    {
        ulong size = SizeOf(k);
        return offset <= size && len <= size - offset;
    }

    /// <summary>Where [offset, offset+len) of the dynptr's data is, checked for this run (null when not allowed).</summary>
    private static ulong At(Span<byte> k, ulong offset, ulong len, bool write)
    {
        ulong p = DataOf(k) + OffsetOf(k) + offset;
        return len == 0 || HelperMemory.CanAccess(p, len, write) ? p : 0;
    }

    /// <summary>The argument checks every dynptr constructor makes first: its slot (EFAULT), flags (EINVAL, the dynptr
    /// left NULL) and size (E2BIG, NULL); null when they pass.</summary>
    private static ulong? NewDynptrError(Span<byte> k, ulong size, ulong flags)
    {
        if (k.IsEmpty) return Err(Errno.EFAULT);
        if (flags == 0 && (uint)size <= MaxSize) return null;
        SetNull(k);
        return Err(flags != 0 ? Errno.EINVAL : Errno.E2BIG);
    }

    /// <summary>bpf_dynptr_from_mem(data, size, flags, ptr).</summary>
    private static ulong FromMem(ulong data, ulong size, ulong flags, ulong ptr, ulong r5)
    {
        var k = Kern(ptr);
        if (NewDynptrError(k, size, flags) is { } error) return error;
        Init(k, data, TypeLocal, 0, (uint)size);
        return 0;
    }

    /// <summary>bpf_ringbuf_reserve_dynptr(map, size, flags, ptr): the dynptr is NULL when the reservation fails (and
    /// must still be released, as the verifier requires).</summary>
    private static ulong RingbufReserve(ulong map, ulong size, ulong flags, ulong ptr, ulong r5)
    {
        var k = Kern(ptr);
        if (NewDynptrError(k, size, flags) is { } error) return error;
        ulong record = MapHelpers.RingbufReserve(map, (uint)size, 0, 0, 0);
        if (record == 0)
        {
            SetNull(k);
            return Err(Errno.EINVAL);
        }
        Init(k, record, TypeRingbuf, 0, (uint)size);
        return 0;
    }

    private static ulong RingbufSubmit(ulong ptr, ulong flags, ulong r3, ulong r4, ulong r5) => Commit(ptr, flags, discard: false);

    private static ulong RingbufDiscard(ulong ptr, ulong flags, ulong r3, ulong r4, ulong r5) => Commit(ptr, flags, discard: true);

    private static ulong Commit(ulong ptr, ulong flags, bool discard)
    {
        var k = Kern(ptr);
        if (k.IsEmpty || DataOf(k) == 0) return 0;
        ulong data = DataOf(k);
        SetNull(k);
        return discard ? MapHelpers.RingbufDiscard(data, flags, 0, 0, 0) : MapHelpers.RingbufSubmit(data, flags, 0, 0, 0);
    }

    /// <summary>bpf_dynptr_read(dst, len, src, offset, flags).</summary>
    private static ulong Read(ulong dst, ulong len, ulong src, ulong offset, ulong flags)
    {
        var k = Kern(src);
        if (k.IsEmpty || DataOf(k) == 0 || flags != 0) return Err(Errno.EINVAL);
        if (!OffLenOk(k, (uint)offset, (uint)len)) return Err(Errno.E2BIG);
        ulong from = At(k, (uint)offset, (uint)len, write: false);
        if ((uint)len == 0) return 0;
        if (from == 0 || !HelperMemory.CanAccess(dst, (uint)len, write: true)) return Err(Errno.EFAULT);
        HelperMemory.Bytes(from, (uint)len).CopyTo(HelperMemory.Bytes(dst, (uint)len));
        return 0;
    }

    /// <summary>bpf_dynptr_write(dst, offset, src, len, flags).</summary>
    private static ulong Write(ulong dst, ulong offset, ulong src, ulong len, ulong flags)
    {
        var k = Kern(dst);
        if (k.IsEmpty || DataOf(k) == 0 || IsRdonly(k)) return Err(Errno.EINVAL);
        if (!OffLenOk(k, (uint)offset, (uint)len)) return Err(Errno.E2BIG);
        if (flags != 0) return Err(Errno.EINVAL);
        if ((uint)len == 0) return 0;
        ulong to = At(k, (uint)offset, (uint)len, write: true);
        if (to == 0 || !HelperMemory.CanAccess(src, (uint)len, write: false)) return Err(Errno.EFAULT);
        HelperMemory.Bytes(src, (uint)len).CopyTo(HelperMemory.Bytes(to, (uint)len));
        return 0;
    }

    /// <summary>bpf_dynptr_data(ptr, offset, len): a pointer into the data, NULL when out of range or read-only.</summary>
    private static ulong Data(ulong ptr, ulong offset, ulong len, ulong r4, ulong r5)
    {
        var k = Kern(ptr);
        if (k.IsEmpty || DataOf(k) == 0) return 0;
        if (!OffLenOk(k, (uint)offset, len)) return 0;
        if (IsRdonly(k)) return 0;
        return At(k, (uint)offset, len, write: true);
    }

    // ---- kfuncs ----

    private const int KfuncBase = 0xE200;

    private static readonly Dictionary<string, int> KfuncIds = new(StringComparer.Ordinal)
    {
        ["bpf_dynptr_adjust"] = KfuncBase, ["bpf_dynptr_is_null"] = KfuncBase + 1, ["bpf_dynptr_is_rdonly"] = KfuncBase + 2,
        ["bpf_dynptr_size"] = KfuncBase + 3, ["bpf_dynptr_clone"] = KfuncBase + 4, ["bpf_dynptr_slice"] = KfuncBase + 5,
        ["bpf_dynptr_slice_rdwr"] = KfuncBase + 6,
    };

    /// <summary>The dynptr kfuncs the verifier models and this runtime runs.</summary>
    public static bool IsKfunc(string name) => KfuncIds.ContainsKey(name);

    /// <summary>The dynptr kfunc a call instruction (vmlinux kfunc, off 0) names, or null.</summary>
    public static string? KfuncOf(Instruction insn, Btf.BtfSpec? vmlinux) =>
        insn.IsCall && insn.Src == (byte)CallSource.Kfunc && insn.Offset == 0
        && Verification.KernelFunctions.ResolveById(insn.Imm, vmlinux) is { } kf && KfuncIds.ContainsKey(kf.Name) ? kf.Name : null;

    /// <summary>fixup_kfunc_call for the dynptr kfuncs.</summary>
    public static Instruction[] BindKfuncs(Instruction[] insns, Btf.BtfSpec? vmlinux)
    {
        for (int pc = 0; pc < insns.Length; pc++)
        {
            if (insns[pc].IsLoadImm64)
            {
                pc++;
                continue;
            }
            if (KfuncOf(insns[pc], vmlinux) is { } name)
                insns[pc] = new Instruction(insns[pc].Opcode, 0, 0, 0, KfuncIds[name]);
        }
        return insns;
    }

    public static void RegisterKfuncs(HelperTable table)
    {
        table.Register(KfuncIds["bpf_dynptr_adjust"], &Adjust, "bpf_dynptr_adjust");
        table.Register(KfuncIds["bpf_dynptr_is_null"], &IsNull, "bpf_dynptr_is_null");
        table.Register(KfuncIds["bpf_dynptr_is_rdonly"], &IsRdonlyKfunc, "bpf_dynptr_is_rdonly");
        table.Register(KfuncIds["bpf_dynptr_size"], &Size, "bpf_dynptr_size");
        table.Register(KfuncIds["bpf_dynptr_clone"], &Clone, "bpf_dynptr_clone");
        table.Register(KfuncIds["bpf_dynptr_slice"], &Slice, "bpf_dynptr_slice");
        table.Register(KfuncIds["bpf_dynptr_slice_rdwr"], &SliceRdwr, "bpf_dynptr_slice_rdwr");
    }

    private static ulong Adjust(ulong p, ulong start, ulong end, ulong r4, ulong r5)
    {
        var k = Kern(p);
        uint s = (uint)start, e = (uint)end;
        if (k.IsEmpty || DataOf(k) == 0 || s > e) return Err(Errno.EINVAL);
        uint size = SizeOf(k);
        if (s > size || e > size) return Err(Errno.ERANGE);
        BinaryPrimitives.WriteUInt32LittleEndian(k[12..], OffsetOf(k) + s);
        SetSize(k, e - s);
        return 0;
    }

    private static ulong IsNull(ulong p, ulong r2, ulong r3, ulong r4, ulong r5)
    {
        var k = Kern(p);
        return k.IsEmpty || DataOf(k) == 0 ? 1UL : 0UL;
    }

    private static ulong IsRdonlyKfunc(ulong p, ulong r2, ulong r3, ulong r4, ulong r5)
    {
        var k = Kern(p);
        return !k.IsEmpty && DataOf(k) != 0 && IsRdonly(k) ? 1UL : 0UL;
    }

    private static ulong Size(ulong p, ulong r2, ulong r3, ulong r4, ulong r5)
    {
        var k = Kern(p);
        return k.IsEmpty || DataOf(k) == 0 ? Err(Errno.EINVAL) : SizeOf(k);
    }

    private static ulong Clone(ulong p, ulong clone, ulong r3, ulong r4, ulong r5)
    {
        var k = Kern(p);
        var c = Kern(clone);
        if (c.IsEmpty) return Err(Errno.EFAULT);
        if (k.IsEmpty || DataOf(k) == 0)
        {
            SetNull(c);
            return Err(Errno.EINVAL);
        }
        k.CopyTo(c);
        return 0;
    }

    /// <summary>bpf_dynptr_slice: local and ring buffer data is contiguous, so the slice points into it (the buffer
    /// argument is not needed).</summary>
    private static ulong Slice(ulong p, ulong offset, ulong buffer, ulong len, ulong r5)
    {
        var k = Kern(p);
        if (k.IsEmpty || DataOf(k) == 0 || !OffLenOk(k, (uint)offset, len)) return 0;
        uint type = TypeOf(k);
        if (type is not (TypeLocal or TypeRingbuf)) return 0;
        return At(k, (uint)offset, len, write: false);
    }

    private static ulong SliceRdwr(ulong p, ulong offset, ulong buffer, ulong len, ulong r5)
    {
        var k = Kern(p);
        if (k.IsEmpty || DataOf(k) == 0 || IsRdonly(k)) return 0;
        if (!OffLenOk(k, (uint)offset, len)) return 0;
        return TypeOf(k) is TypeLocal or TypeRingbuf ? At(k, (uint)offset, len, write: true) : 0;
    }
}
