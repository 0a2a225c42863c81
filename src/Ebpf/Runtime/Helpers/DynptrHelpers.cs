using System.Buffers.Binary;
using Ebpf.Abi.Helpers;
using Ebpf.Execution;
using Ebpf.Isa;
using Ebpf.Runtime.Maps;

namespace Ebpf.Runtime.Helpers;

/// <summary>
/// Dynptrs at run time: the dynptr helpers (bpf_dynptr_from_mem, bpf_ringbuf_reserve_dynptr / submit_dynptr /
/// discard_dynptr, bpf_dynptr_read / write / data) and the dynptr kfuncs the verifier models (bpf_dynptr_from_skb /
/// from_xdp / from_skb_meta, adjust / is_null / is_rdonly / size / clone / slice / slice_rdwr / copy / memset), with
/// the kernel's semantics. The dynptr lives on the program's stack laid out as the kernel's <c>bpf_dynptr_kern</c>:
/// the data pointer (for a packet dynptr, the context), the size (low 24 bits) with the type (bits 28-30) and the
/// read-only bit (31), and the offset. Only helpers touch it (the verifier refuses the program's own loads and
/// stores); in a checked run every pointer taken from it is checked against the run's regions before use. Packet
/// dynptrs reach the invocation's packet through <see cref="PacketDynptrs"/>.
/// </summary>
internal static unsafe class DynptrHelpers
{
    private const uint SizeMask = 0xffffff, TypeShift = 28, RdonlyBit = 1u << 31;
    private const uint TypeLocal = 1, TypeRingbuf = 2;

    /// <summary>The bytes bpf_dynptr_copy and bpf_dynptr_memset move per step when they cannot slice (the kernel's
    /// on-stack buffer).</summary>
    private const int ChunkSize = 256;

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
        if ((uint)len == 0) return 0;
        if (!HelperMemory.CanAccess(dst, (uint)len, write: true)) return Err(Errno.EFAULT);
        return (ulong)ReadInto(k, (uint)offset, HelperMemory.Bytes(dst, (uint)len));
    }

    /// <summary>__bpf_dynptr_read past its argument checks: the bytes at <paramref name="offset"/> into
    /// <paramref name="to"/>, by the dynptr's type; 0 or a negative errno.</summary>
    private static long ReadInto(Span<byte> k, uint offset, Span<byte> to)
    {
        uint type = TypeOf(k);
        if (type is not (TypeLocal or TypeRingbuf))
            return PacketDynptrs.Read(type, (ulong)OffsetOf(k) + offset, to);
        ulong from = At(k, offset, (ulong)to.Length, write: false);
        if (from == 0) return -(long)Errno.EFAULT;
        HelperMemory.Bytes(from, (ulong)to.Length).CopyTo(to);
        return 0;
    }

    /// <summary>bpf_dynptr_write(dst, offset, src, len, flags).</summary>
    private static ulong Write(ulong dst, ulong offset, ulong src, ulong len, ulong flags)
    {
        var k = Kern(dst);
        if (k.IsEmpty || DataOf(k) == 0 || IsRdonly(k)) return Err(Errno.EINVAL);
        if (!OffLenOk(k, (uint)offset, (uint)len)) return Err(Errno.E2BIG);
        if ((uint)len != 0 && !HelperMemory.CanAccess(src, (uint)len, write: false)) return Err(Errno.EFAULT);
        var from = (uint)len == 0 ? default : HelperMemory.Bytes(src, (uint)len);
        return (ulong)WriteFrom(k, (uint)offset, from, flags);
    }

    /// <summary>__bpf_dynptr_write past its NULL, read-only and size checks: local and ring buffer data take no flags,
    /// an skb's take bpf_skb_store_bytes' (checked before anything is written).</summary>
    private static long WriteFrom(Span<byte> k, uint offset, ReadOnlySpan<byte> from, ulong flags)
    {
        uint type = TypeOf(k);
        if (type is not (TypeLocal or TypeRingbuf))
            return PacketDynptrs.Write(type, (ulong)OffsetOf(k) + offset, from, flags);
        if (flags != 0) return -(long)Errno.EINVAL;
        if (from.IsEmpty) return 0;
        ulong to = At(k, offset, (ulong)from.Length, write: true);
        if (to == 0) return -(long)Errno.EFAULT;
        from.CopyTo(HelperMemory.Bytes(to, (ulong)from.Length)); // memmove: Span copies handle overlap
        return 0;
    }

    /// <summary>bpf_dynptr_data(ptr, offset, len): a pointer into local or ring buffer data, NULL when out of range or
    /// read-only; always NULL for skb / xdp / skb_meta dynptrs (they must use bpf_dynptr_slice).</summary>
    private static ulong Data(ulong ptr, ulong offset, ulong len, ulong r4, ulong r5)
    {
        var k = Kern(ptr);
        if (k.IsEmpty || DataOf(k) == 0) return 0;
        if (!OffLenOk(k, (uint)offset, len)) return 0;
        if (IsRdonly(k)) return 0;
        if (TypeOf(k) is not (TypeLocal or TypeRingbuf)) return 0;
        return At(k, (uint)offset, len, write: true);
    }

    // ---- kfuncs ----

    private const int KfuncBase = 0xE200;

    private static readonly Dictionary<string, int> KfuncIds = new(StringComparer.Ordinal)
    {
        ["bpf_dynptr_adjust"] = KfuncBase, ["bpf_dynptr_is_null"] = KfuncBase + 1, ["bpf_dynptr_is_rdonly"] = KfuncBase + 2,
        ["bpf_dynptr_size"] = KfuncBase + 3, ["bpf_dynptr_clone"] = KfuncBase + 4, ["bpf_dynptr_slice"] = KfuncBase + 5,
        ["bpf_dynptr_slice_rdwr"] = KfuncBase + 6, ["bpf_dynptr_from_skb"] = KfuncBase + 7, ["bpf_dynptr_from_xdp"] = KfuncBase + 8,
        ["bpf_dynptr_from_skb_meta"] = KfuncBase + 9, ["bpf_dynptr_copy"] = KfuncBase + 10, ["bpf_dynptr_memset"] = KfuncBase + 11,
        ["bpf_probe_read_user_dynptr"] = KfuncBase + 12, ["bpf_probe_read_kernel_dynptr"] = KfuncBase + 13,
        ["bpf_probe_read_user_str_dynptr"] = KfuncBase + 14, ["bpf_probe_read_kernel_str_dynptr"] = KfuncBase + 15,
    };

    /// <summary>The dynptr kfuncs the verifier models and this runtime runs.</summary>
    public static bool IsKfunc(string name) => KfuncIds.ContainsKey(name);

    /// <summary>The dynptr kfunc a call instruction (vmlinux kfunc, off 0) names, or null.</summary>
    public static string? KfuncOf(Instruction insn, Btf.BtfSpec? vmlinux) => HostKfuncBinding.NameOf(insn, vmlinux, KfuncIds);

    /// <summary>fixup_kfunc_call for the dynptr kfuncs.</summary>
    public static Instruction[] BindKfuncs(Instruction[] insns, Btf.BtfSpec? vmlinux) => HostKfuncBinding.Bind(insns, vmlinux, KfuncIds);

    public static void RegisterKfuncs(HelperTable table)
    {
        table.Register(KfuncIds["bpf_dynptr_adjust"], &Adjust, "bpf_dynptr_adjust");
        table.Register(KfuncIds["bpf_dynptr_is_null"], &IsNull, "bpf_dynptr_is_null");
        table.Register(KfuncIds["bpf_dynptr_is_rdonly"], &IsRdonlyKfunc, "bpf_dynptr_is_rdonly");
        table.Register(KfuncIds["bpf_dynptr_size"], &Size, "bpf_dynptr_size");
        table.Register(KfuncIds["bpf_dynptr_clone"], &Clone, "bpf_dynptr_clone");
        table.Register(KfuncIds["bpf_dynptr_slice"], &Slice, "bpf_dynptr_slice");
        table.Register(KfuncIds["bpf_dynptr_slice_rdwr"], &SliceRdwr, "bpf_dynptr_slice_rdwr");
        table.Register(KfuncIds["bpf_dynptr_from_skb"], &FromSkb, "bpf_dynptr_from_skb");
        table.Register(KfuncIds["bpf_dynptr_from_xdp"], &FromXdp, "bpf_dynptr_from_xdp");
        table.Register(KfuncIds["bpf_dynptr_from_skb_meta"], &FromSkbMeta, "bpf_dynptr_from_skb_meta");
        table.Register(KfuncIds["bpf_dynptr_copy"], &Copy, "bpf_dynptr_copy");
        table.Register(KfuncIds["bpf_dynptr_memset"], &Memset, "bpf_dynptr_memset");
        table.Register(KfuncIds["bpf_probe_read_user_dynptr"], &ProbeReadUserDynptr, "bpf_probe_read_user_dynptr");
        table.Register(KfuncIds["bpf_probe_read_kernel_dynptr"], &ProbeReadKernelDynptr, "bpf_probe_read_kernel_dynptr");
        table.Register(KfuncIds["bpf_probe_read_user_str_dynptr"], &ProbeReadUserStrDynptr, "bpf_probe_read_user_str_dynptr");
        table.Register(KfuncIds["bpf_probe_read_kernel_str_dynptr"], &ProbeReadKernelStrDynptr, "bpf_probe_read_kernel_str_dynptr");
    }

    private static ulong ProbeReadUserDynptr(ulong p, ulong off, ulong size, ulong src, ulong r5) => ProbeRead(p, off, size, src, AddressSpace.User, str: false);
    private static ulong ProbeReadKernelDynptr(ulong p, ulong off, ulong size, ulong src, ulong r5) => ProbeRead(p, off, size, src, AddressSpace.Kernel, str: false);
    private static ulong ProbeReadUserStrDynptr(ulong p, ulong off, ulong size, ulong src, ulong r5) => ProbeRead(p, off, size, src, AddressSpace.User, str: true);
    private static ulong ProbeReadKernelStrDynptr(ulong p, ulong off, ulong size, ulong src, ulong r5) => ProbeRead(p, off, size, src, AddressSpace.Kernel, str: true);

    /// <summary>
    /// bpf_probe_read_{user,kernel}{,_str}_dynptr(dptr, off, size, unsafe_ptr) as __bpf_dynptr_copy{,_str}: straight into
    /// a writable slice of the dynptr when it has one, else (-E2BIG past its end) 256-byte chunks read then written with
    /// __bpf_dynptr_write's checks (a read-only dynptr: -EINVAL). The _str variants return the bytes written, NUL
    /// included, each chunk after the first overwriting the previous chunk's NUL.
    /// </summary>
    private static ulong ProbeRead(ulong p, ulong off, ulong size, ulong src, AddressSpace space, bool str)
    {
        var k = Kern(p);
        if (k.IsEmpty) return Err(Errno.EFAULT);
        ulong slice = DataOf(k) == 0 || IsRdonly(k) ? 0 : SliceOf(k, off, 0, size, write: true);
        if (slice != 0)
        {
            var to = HelperMemory.Bytes(slice, size);
            return (ulong)(str ? ProbeReadHelpers.CopyStrNofault(to, src, space) : ProbeReadHelpers.CopyNofault(to, src, space));
        }
        if (!OffLenOk(k, off, size)) return Err(Errno.E2BIG);
        Span<byte> chunk = stackalloc byte[ChunkSize];
        ulong at = 0;
        while (at < size)
        {
            int step = (int)Math.Min(ChunkSize, size - at);
            long got = str ? ProbeReadHelpers.CopyStrNofault(chunk[..step], src + at, space) : ProbeReadHelpers.CopyNofault(chunk[..step], src + at, space);
            if (got < 0) return (ulong)got;
            int written = str ? (int)got : step;
            long err = WriteChecked(k, (uint)(off + at), chunk[..written], 0);
            if (err != 0) return (ulong)err;
            if (!str)
            {
                at += (ulong)step;
                continue;
            }
            if (written < step || step == 1) return at + (ulong)written;
            at += (ulong)step - 1;
        }
        return str ? at : 0;
    }

    private static ulong FromSkb(ulong ctx, ulong flags, ulong ptr, ulong r4, ulong r5) => FromPacket(ctx, flags, ptr, PacketDynptrs.TypeSkb);

    private static ulong FromXdp(ulong ctx, ulong flags, ulong ptr, ulong r4, ulong r5) => FromPacket(ctx, flags, ptr, PacketDynptrs.TypeXdp);

    private static ulong FromSkbMeta(ulong ctx, ulong flags, ulong ptr, ulong r4, ulong r5) => FromPacket(ctx, flags, ptr, PacketDynptrs.TypeSkbMeta);

    /// <summary>bpf_dynptr_from_skb / from_xdp / from_skb_meta(ctx, flags, ptr): flags must be 0 (-EINVAL, a NULL
    /// dynptr); the dynptr covers the whole packet (skb->len, linear part and frags) or the metadata. A program type that
    /// may not write packet data gets a read-only skb dynptr (the verifier's bpf_dynptr_from_skb_rdonly).</summary>
    private static ulong FromPacket(ulong ctx, ulong flags, ulong ptr, uint type)
    {
        var k = Kern(ptr);
        if (k.IsEmpty) return Err(Errno.EFAULT);
        if (flags != 0)
        {
            SetNull(k);
            return Err(Errno.EINVAL);
        }
        if (PacketDynptrs.NewSize(type) is not { } size || ctx == 0)
        {
            SetNull(k); // no packet of that kind behind this run's context (the verifier allows none such)
            return Err(Errno.EINVAL);
        }
        Init(k, ctx, type, 0, size);
        if (type == PacketDynptrs.TypeSkb && !PacketDynptrs.MayWritePacket(HelperInvocation.Current?.Program?.Type))
            BinaryPrimitives.WriteUInt32LittleEndian(k[8..], BinaryPrimitives.ReadUInt32LittleEndian(k[8..]) | RdonlyBit);
        return 0;
    }

    /// <summary>bpf_dynptr_slice and bpf_dynptr_slice_rdwr after their NULL / read-only checks: a pointer to
    /// [offset, offset+len), or the bytes copied into <paramref name="buffer"/> where the data is not contiguous, or 0.</summary>
    private static ulong SliceOf(Span<byte> k, ulong offset, ulong buffer, ulong len, bool write)
    {
        if (!OffLenOk(k, offset, len)) return 0;
        uint type = TypeOf(k);
        if (type is TypeLocal or TypeRingbuf) return At(k, offset, len, write);
        return PacketDynptrs.Slice(type, (ulong)OffsetOf(k) + offset, len, buffer);
    }

    /// <summary>bpf_dynptr_copy(dst, dst_off, src, src_off, size): slices of both when they have them (memmove), else
    /// one side's slice written or read through the other, else 256-byte steps; the first error is returned.</summary>
    private static ulong Copy(ulong dst, ulong dstOff, ulong src, ulong srcOff, ulong size)
    {
        var d = Kern(dst);
        var s = Kern(src);
        if (d.IsEmpty || s.IsEmpty) return Err(Errno.EFAULT);
        uint dOff = (uint)dstOff, sOff = (uint)srcOff, n = (uint)size;
        ulong from = DataOf(s) == 0 ? 0 : SliceOf(s, sOff, 0, n, write: false);
        ulong to = DataOf(d) == 0 || IsRdonly(d) ? 0 : SliceOf(d, dOff, 0, n, write: true);
        if (from != 0 && to != 0)
        {
            HelperMemory.Bytes(from, n).CopyTo(HelperMemory.Bytes(to, n));
            return 0;
        }
        if (from != 0) return (ulong)WriteChecked(d, dOff, HelperMemory.Bytes(from, n), 0);
        if (to != 0) return (ulong)ReadChecked(s, sOff, HelperMemory.Bytes(to, n));
        if (!OffLenOk(d, dOff, n) || !OffLenOk(s, sOff, n)) return Err(Errno.E2BIG);
        Span<byte> chunk = stackalloc byte[ChunkSize];
        for (uint off = 0; off < n;)
        {
            int step = (int)Math.Min(ChunkSize, n - off);
            long err = ReadChecked(s, sOff + off, chunk[..step]);
            if (err != 0) return (ulong)err;
            err = WriteChecked(d, dOff + off, chunk[..step], 0);
            if (err != 0) return (ulong)err;
            off += (uint)step;
        }
        return 0;
    }

    /// <summary>bpf_dynptr_memset(p, offset, size, val): a writable slice filled, or 256-byte writes of the value.</summary>
    private static ulong Memset(ulong p, ulong offset, ulong size, ulong val, ulong r5)
    {
        var k = Kern(p);
        if (k.IsEmpty) return Err(Errno.EFAULT);
        uint off = (uint)offset, n = (uint)size;
        ulong slice = DataOf(k) == 0 || IsRdonly(k) ? 0 : SliceOf(k, off, 0, n, write: true);
        if (slice != 0)
        {
            HelperMemory.Bytes(slice, n).Fill((byte)val);
            return 0;
        }
        if (IsRdonly(k)) return Err(Errno.EINVAL);
        if (!OffLenOk(k, off, n)) return Err(Errno.E2BIG);
        Span<byte> chunk = stackalloc byte[ChunkSize];
        chunk.Fill((byte)val);
        for (uint at = 0; at < n;)
        {
            int step = (int)Math.Min(ChunkSize, n - at);
            long err = WriteChecked(k, off + at, chunk[..step], 0);
            if (err != 0) return (ulong)err;
            at += (uint)step;
        }
        return 0;
    }

    /// <summary>__bpf_dynptr_read with all its checks (copy's inner reads).</summary>
    private static long ReadChecked(Span<byte> k, uint offset, Span<byte> to)
    {
        if (DataOf(k) == 0) return -(long)Errno.EINVAL;
        if (!OffLenOk(k, offset, (ulong)to.Length)) return -(long)Errno.E2BIG;
        return to.IsEmpty ? 0 : ReadInto(k, offset, to);
    }

    /// <summary>__bpf_dynptr_write with all its checks (copy's and memset's inner writes).</summary>
    private static long WriteChecked(Span<byte> k, uint offset, ReadOnlySpan<byte> from, ulong flags)
    {
        if (DataOf(k) == 0 || IsRdonly(k)) return -(long)Errno.EINVAL;
        if (!OffLenOk(k, offset, (ulong)from.Length)) return -(long)Errno.E2BIG;
        return WriteFrom(k, offset, from, flags);
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

    /// <summary>bpf_dynptr_slice: local and ring buffer data is contiguous, so the slice points into it; packet data
    /// is pointed into where contiguous, else copied into the buffer (NULL without one).</summary>
    private static ulong Slice(ulong p, ulong offset, ulong buffer, ulong len, ulong r5)
    {
        var k = Kern(p);
        if (k.IsEmpty || DataOf(k) == 0) return 0;
        return SliceOf(k, (uint)offset, buffer, (uint)len, write: false);
    }

    private static ulong SliceRdwr(ulong p, ulong offset, ulong buffer, ulong len, ulong r5)
    {
        var k = Kern(p);
        if (k.IsEmpty || DataOf(k) == 0 || IsRdonly(k)) return 0;
        return SliceOf(k, (uint)offset, buffer, (uint)len, write: true);
    }
}
