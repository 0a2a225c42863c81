using Ebpf.Abi;
using Ebpf.Btf;

namespace Ebpf.Verification.Attach;

/// <summary>
/// Loads through a typed kernel pointer of a program whose context hands out such pointers by BTF (fentry/fexit on a
/// BPF program: the target's context as the kernel's <c>xdp_buff</c>, <c>sk_buff</c>, …): <c>check_ptr_to_btf_access</c>
/// and <c>btf_struct_walk</c> over vmlinux BTF, with the kernel's messages. An allowed load is a BPF_PROBE_MEM load:
/// the verifier records it, and the runtime performs it as a fault-safe read (0 for memory it does not own).
/// </summary>
/// <remarks>
/// A void (or other non-struct) pointer member yields the kernel's PTR_TO_MEM | MEM_RDONLY | PTR_UNTRUSTED of size 0,
/// whose loads are probe loads with no bounds (6.18); it is kept here as a typed pointer to
/// <see cref="UntrustedMemory"/>. A pointer member's trust follows <see cref="TrustedPointers.Walked"/>.
/// </remarks>
internal sealed class BtfPointerLoads(VerifierContext walk) : VerifierComponent(walk)
{
    /// <summary>The pseudo struct of an untrusted read-only memory pointer (a void * member).</summary>
    public const string UntrustedMemory = "rdonly_untrusted_mem";

    /// <summary>A PTR_TO_BTF_ID register to the kernel struct <paramref name="kernelStruct"/> (null: unknown struct) with
    /// the modifiers <paramref name="trust"/> (a context argument is PTR_TRUSTED, a walked pointer whatever the walk gives).</summary>
    public static RegisterState TypedPointer(string? kernelStruct, PointerTrust trust = PointerTrust.Trusted)
    {
        var r = RegisterState.Pointer(RegisterType.BtfId);
        r.MemSize = KernelTypes.Intern(kernelStruct);
        r.Trust = kernelStruct == UntrustedMemory ? PointerTrust.Untrusted : trust;
        return r;
    }

    /// <summary>Whether a load through <paramref name="reg"/> is walked by BTF (else the older untyped rule applies): a
    /// program whose context hands out typed pointers, or a pointer to a struct of the kernel BTF.</summary>
    public static bool Applies(VerifierInput input, Abi.Contexts.ContextLayout? ctx, in RegisterState reg)
    {
        if (input.Profile.KernelBtf is not { } kernel || reg.MemSize == KernelTypes.Unknown || KernelTypes.TryGetPercpu(reg.MemSize, out _))
            return false;
        if (ctx?.KernelStructs is { Count: > 0 }) return true;
        string name = KernelTypes.Name(reg.MemSize);
        return name == UntrustedMemory || kernel.TryFindByName(name, BtfKind.Struct, out _) || kernel.TryFindByName(name, BtfKind.Union, out _);
    }

    /// <summary>check_ptr_to_btf_access for register <paramref name="regno"/> at <paramref name="off"/> (insn off + reg off).</summary>
    public RegisterState Load(int regno, in RegisterState reg, int off, int size, bool write)
    {
        var kernel = Input.Profile.KernelBtf!;
        string tname = KernelTypes.Name(reg.MemSize);
        // The runtime builds kernel-layout shadows of the objects an iterator's, an fentry/fexit-on-BPF program's or a
        // netfilter program's context hands out, so walks from them are modelled. Any other typed pointer (a tp_btf or
        // struct_ops argument, a kfunc's result) points at what would be the kernel's: the runtime reads it fault-safely
        // and cannot vouch for the values (not fully modelled; the pointer casts mark it so themselves).
        bool shadowed = Ctx?.KernelStructs is { Count: > 0 } && Input.ProgramType != ProgramType.StructOps
            && !(Input.ProgramType == ProgramType.Tracing && Input.ExpectedAttachType == AttachType.TraceRawTp);
        if (!shadowed)
            ReadsKernelPointers = true;
        if (tname == UntrustedMemory)
        {
            if (write) throw Fail($"R{regno} cannot write into {UntrustedMemory}");
            Walk.ProbeLoads.Add(InsnIdx);
            return RegisterState.UnknownOfSize(size);
        }
        if (!Input.GplCompatible)
            throw Fail($"Cannot access kernel 'struct {tname}' from non-GPL compatible program", Errno.EINVAL);
        if (off < 0)
            throw Fail($"R{regno} is ptr_{tname} invalid negative access: off={off}");
        if (!reg.VarOff.IsConst || reg.VarOff.Value != 0)
            throw Fail($"R{regno} is ptr_{tname} invalid variable offset: off={off}, var_off={reg.VarOff}");
        if (write)
        {
            // check_ptr_to_btf_access: a write goes to the program type's btf_struct_access op (struct_ops types).
            if (Walk.StructOps?.Type?.WriteAccess is not { } writeAccess)
                throw Fail("only read is supported");
            if (writeAccess(kernel, tname, off, size) is { } refused)
                throw Fail(refused);
            return RegisterState.UnknownOfSize(size);
        }
        if (!kernel.TryFindByName(tname, BtfKind.Struct, out var start) && !kernel.TryFindByName(tname, BtfKind.Union, out start))
            throw Fail($"Type '{tname}' is not a struct", Errno.EINVAL);
        _lastField = "";
        var result = StructWalk(kernel, (BtfComposite)start, off, size);
        Walk.ProbeLoads.Add(InsnIdx);
        if (result is null) return RegisterState.UnknownOfSize(size);
        if (result == UntrustedMemory) return TypedPointer(result);
        var trust = TrustedPointers.Walked(reg, tname, _lastField, InRcuSection, out bool maybeNull);
        var loaded = TypedPointer(result, trust);
        if (maybeNull)
        {
            loaded.MaybeNull = true;
            loaded.Id = NewId();
        }
        return loaded;
    }

    /// <summary>in_rcu_cs: inside bpf_rcu_read_lock, holding a lock, or any point of a non-sleepable program.</summary>
    private bool InRcuSection =>
        !Input.Sleepable || Cur.ActiveLockId != 0 || Cur.References.Any(r => Kfuncs.IsRcuSection(r.Id));

    /// <summary>The pointer member the last walk ended on (the BTF_TYPE_SAFE_* lists are keyed by its name).</summary>
    private string _lastField = "";

    /// <summary>
    /// btf_struct_walk + btf_struct_access: null for a scalar, else the struct (or <see cref="UntrustedMemory"/>)
    /// a pointer member points to. Throws the kernel's refusal otherwise.
    /// </summary>
    internal string? WalkStruct(BtfSpec btf, BtfComposite t, int off, int size) => StructWalk(btf, t, off, size);

    private string? StructWalk(BtfSpec btf, BtfComposite t, int off, int size)
    {
        bool untrusted = false;
        for (int guard = 0; guard < BtfSpec.MaxResolveDepth * 4; guard++)
        {
            string tname = t.Name;
            if (t.IsUnion && t.Members.Count != 1)
                untrusted = true;
            if (off + size > t.Size)
            {
                // A flexible array as the last member may be read past the struct.
                var last = t.Members.Count > 0 ? t.Members[^1] : default;
                if (t.Members.Count > 0 && btf.ResolveType(last.Type) is BtfArray { Count: 0 } flex && off >= (int)last.ByteOffset)
                {
                    var elem = btf.ResolveType(flex.ElementType);
                    if (elem is BtfInt)
                        return null;
                    if (elem is BtfComposite inner && inner.Size > 0)
                    {
                        off = (int)((off - last.ByteOffset) % inner.Size);
                        t = inner;
                        continue;
                    }
                }
                throw Fail($"access beyond struct {tname} at off {off} size {size}");
            }
            bool descended = false;
            foreach (var member in t.Members)
            {
                int moff = (int)(member.BitOffset / 8);
                if (off + size <= moff)
                    break;
                if (member.IsBitfield)
                {
                    uint endBit = member.BitOffset + member.BitfieldSize;
                    if (off <= moff && (endBit + 7) / 8 <= off + size)
                        return null;
                    continue;
                }
                if (off < moff)
                    break;
                var mtype = btf.ResolveType(member.Type);
                long msize = SizeOf(btf, member.Type);
                if (msize < 0)
                    throw Fail($"field {member.Name} doesn't have size", Errno.EFAULT);
                long mtrueEnd = moff + msize;
                if (off >= mtrueEnd)
                    continue;
                if (mtype is BtfArray)
                {
                    if (moff == mtrueEnd)
                        continue;
                    (mtype, long nelems) = Innermost(btf, member.Type);
                    msize /= nelems;
                    moff += (int)((off - moff) / msize * msize);
                }
                if (mtype is BtfComposite inner)
                {
                    off -= moff;
                    t = inner;
                    descended = true;
                    break;
                }
                if (mtype is BtfPtr ptr)
                {
                    if (msize != size || off != moff)
                        throw Fail($"cannot access ptr member {member.Name} with moff {moff} in struct {tname} with off {off} size {size}");
                    _lastField = member.Name;
                    return ptr.Type != 0 && btf.ResolveType(ptr.Type) is BtfComposite pointee ? pointee.Name : UntrustedMemory;
                }
                if (off + size > mtrueEnd && !untrusted)
                    throw Fail($"access beyond the end of member {member.Name} (mend:{mtrueEnd}) in struct {tname} with off {off} size {size}");
                return null;
            }
            if (!descended)
                throw Fail($"struct {tname} doesn't have field at offset {off}", Errno.EINVAL);
        }
        throw Fail($"struct {t.Name} nests too deep", Errno.EINVAL);
    }

    private static long SizeOf(BtfSpec btf, uint id)
    {
        try { return btf.SizeOf(id); }
        catch (BpfException) { return -1; }
    }

    /// <summary>__btf_resolve_size for arrays: the innermost element type and the total element count.</summary>
    private static (BtfType Elem, long Count) Innermost(BtfSpec btf, uint id)
    {
        long count = 1;
        var t = btf.ResolveType(id);
        for (int i = 0; t is BtfArray a && i < BtfSpec.MaxResolveDepth; i++)
        {
            count *= Math.Max(1u, a.Count);
            t = btf.ResolveType(a.ElementType);
        }
        return (t, count);
    }
}
