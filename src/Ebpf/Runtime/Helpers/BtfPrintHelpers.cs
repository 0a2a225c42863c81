using System.Buffers.Binary;
using Ebpf.Btf;

namespace Ebpf.Runtime.Helpers;

/// <summary>
/// bpf_snprintf_btf (149): the object a <c>struct btf_ptr</c> names printed as the kernel's btf_type_snprintf_show
/// prints it (<see cref="BtfObjectPrinter"/>). The type is in the runtime's vmlinux BTF (mainline: a 16-byte btf_ptr)
/// or, with the ebpf extension (include/ebpf/btf_ptr.h: a 24-byte btf_ptr whose third word is non-zero), in the
/// program's used BTF object of that slot, a module's BTF the program holds since load.
/// </summary>
internal static unsafe class BtfPrintHelpers
{
    /// <summary>sizeof(struct btf_ptr): { void *ptr; u32 type_id; u32 flags; }.</summary>
    public const int BtfPtrSize = 16;
    /// <summary>The extension's struct: { void *ptr; u32 type_id; u32 flags; u32 btf_obj; u32 pad; }.</summary>
    public const int BtfPtrObjectSize = 24;

    /// <summary>Kernel reads below this address are user or NULL-page reads (copy_from_kernel_nofault: ERANGE).</summary>
    private const ulong LowGuard = 4096;

    /// <summary>bpf_snprintf_btf(str, str_size, ptr, btf_ptr_size, flags): the output's length without its NUL (even
    /// when truncated), or -EINVAL (flags, size, type id 0, BTF object), -ENOENT (no such type), -ERANGE/-EFAULT
    /// (the object is not readable).</summary>
    public static ulong SnprintfBtf(ulong str, ulong strSize, ulong ptr, ulong btfPtrSize, ulong flags)
    {
        var text = Render(ptr, btfPtrSize, flags, out ulong error);
        if (text is null)
            return error;
        // btf_snprintf_show: chunks are vsnprintf'd until one does not fit; the buffer then holds the first
        // str_size - 1 bytes and a NUL. Nothing printed leaves it untouched.
        if (strSize > 0 && text.Length > 0)
        {
            if (PrintHelpers.CopyTruncated(str, strSize, text) is { } fault)
                return fault;
        }
        return (ulong)text.Length;
    }

    /// <summary>
    /// bpf_btf_printf_prepare then btf_type_show: the text the object prints as, or null with the helper's negative
    /// errno in <paramref name="error"/> (shared by bpf_snprintf_btf and bpf_seq_printf_btf).
    /// </summary>
    internal static byte[]? Render(ulong ptr, ulong btfPtrSize, ulong flags, out ulong error)
    {
        error = 0;
        if ((flags & ~(ulong)BtfPrintFlags.All) != 0 || btfPtrSize is not (BtfPtrSize or BtfPtrObjectSize))
            return Fail(Errno.EINVAL, out error);
        var inv = HelperInvocation.Current;
        if (inv is null || !HelperMemory.CanAccess(ptr, btfPtrSize, write: false))
            return Fail(Errno.EFAULT, out error);
        var raw = HelperMemory.Bytes(ptr, btfPtrSize);
        ulong objectAddress = BinaryPrimitives.ReadUInt64LittleEndian(raw);
        uint typeId = BinaryPrimitives.ReadUInt32LittleEndian(raw[8..]);
        uint slot = btfPtrSize == BtfPtrObjectSize ? BinaryPrimitives.ReadUInt32LittleEndian(raw[16..]) : 0;
        BtfSpec btf;
        if (slot == 0)
        {
            try { btf = inv.Runtime.Vmlinux; }
            catch (BpfException) { return Fail(Errno.EINVAL, out error); } // bpf_get_btf_vmlinux: none
        }
        else if (inv.Program?.BtfReferences?.UsedBtf(slot) is { } used)
            btf = used.Parsed;
        else
            return Fail(Errno.EINVAL, out error);
        if (typeId == 0)
            return Fail(Errno.EINVAL, out error);
        if (!btf.TryGetType(typeId, out _) || typeId > btf.MaxTypeId)
            return Fail(Errno.ENOENT, out error);
        uint size = BtfObjectPrinter.SizeOrZero(btf, typeId);
        byte[] data = [];
        if (size > 0)
        {
            if (objectAddress < LowGuard)
                return Fail(Errno.ERANGE, out error);
            data = HelperMemory.ReadNoFault(objectAddress, size) ?? [];
            if (data.Length != size)
                return Fail(Errno.EFAULT, out error);
        }
        return BtfObjectPrinter.Print(btf, typeId, data, (BtfPrintFlags)flags, p => (ulong)HashCode.Combine(p, inv.Runtime));
    }

    private static byte[]? Fail(Errno e, out ulong error)
    {
        error = BuiltinHelpers.Err(e);
        return null;
    }
}
