using Ebpf.Abi.Contexts;
using Ebpf.Btf;

namespace Ebpf.Verification;

/// <summary>
/// Accesses through the context pointer (check_ctx_access): the program type's <see cref="ContextLayout"/> decides
/// which offsets may be read or written and what a read yields (packet pointers, sockets, scalars); every allowed
/// access is recorded for the context conversion of the translated program. The layout is the one seam a program
/// type with a context described elsewhere (for example by a BTF function prototype) plugs into.
/// </summary>
internal sealed class ContextAccess(VerifierContext walk) : VerifierComponent(walk)
{
    /// <summary>Set by the load being checked: it is a BPF_MEMSX load.</summary>
    internal bool SignExtendingLoad { get; set; }

    internal RegisterState CtxAccess(int regno, in RegisterState reg, int off, int size, bool write)
    {
        // __check_ptr_off_reg, in its order: a negative fixed offset, any fixed offset, then a variable one.
        if (reg.Off < 0) throw Fail($"negative offset ctx ptr R{regno} off={reg.Off} disallowed");
        if (reg.Off != 0) throw Fail($"dereference of modified ctx ptr R{regno} off={reg.Off} disallowed");
        if (!reg.VarOff.IsConst || reg.VarOff.Value != 0) throw Fail($"variable ctx access var_off={reg.VarOff} disallowed");
        if (Ctx is null) throw Fail($"invalid bpf_context access off={off} size={size}");
        var access = Ctx.Check(off, size, write);
        // A sign-extending load (BPF_MEMSX) may only read a number: a field the kernel turns into a pointer
        // (packet, socket …) cannot be sign-extended, so the kernel's is_valid_access refuses it.
        if (!access.Allowed || (SignExtendingLoad && !write && access.Yields != ContextValueKind.Scalar))
            throw Fail((Ctx.DenialLog?.Invoke(off, size, write) is { } why ? why + "\n" : "") + $"invalid bpf_context access off={off} size={size}");
        ContextAccesses[InsnIdx] = new ContextAccessSite(InsnIdx, access.Field!, off, size, write);
        if (write) return default;
        return access.Yields switch
        {
            ContextValueKind.Packet => RegisterState.Pointer(RegisterType.Packet),
            ContextValueKind.PacketEnd => RegisterState.Pointer(RegisterType.PacketEnd),
            ContextValueKind.PacketMeta => RegisterState.Pointer(RegisterType.PacketMeta),
            ContextValueKind.SockCommonOrNull => NullablePointer(RegisterType.SockCommon),
            ContextValueKind.FlowKeys => RegisterState.Pointer(RegisterType.FlowKeys),
            ContextValueKind.TpBuffer => RegisterState.Pointer(RegisterType.TpBuffer),
            ContextValueKind.BtfId => Attach.BtfPointerLoads.TypedPointer(Ctx.KernelStructs?.GetValueOrDefault(off), TrustedPointers.OfContext(Ctx, off)),
            ContextValueKind.Socket => RegisterState.Pointer(RegisterType.Socket),
            ContextValueKind.SocketOrNull => NullablePointer(RegisterType.Socket),
            ContextValueKind.BtfIdOrNull => Nullable(Attach.BtfPointerLoads.TypedPointer(Ctx.KernelStructs?.GetValueOrDefault(off), TrustedPointers.OfContext(Ctx, off))),
            ContextValueKind.BufOrNull => NullablePointer(RegisterType.Buf),
            ContextValueKind.ReadOnlyBufOrNull => ReadOnly(NullablePointer(RegisterType.Buf)),
            _ => RegisterState.UnknownOfSize(size),
        };
    }

    private RegisterState Nullable(RegisterState r)
    {
        r.MaybeNull = true;
        r.Id = NewId();
        return r;
    }

    private static RegisterState ReadOnly(RegisterState r)
    {
        r.ReadOnly = true;
        return r;
    }

    private RegisterState NullablePointer(RegisterType type)
    {
        var r = RegisterState.Pointer(type);
        r.MaybeNull = true;
        r.Id = NewId();
        return r;
    }
}
