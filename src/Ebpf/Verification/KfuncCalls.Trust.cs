using Ebpf.Abi;
using Ebpf.Btf;

namespace Ebpf.Verification;

/// <summary>
/// check_kfunc_args for a typed-pointer argument (KF_ARG_PTR_TO_BTF_ID) as 6.18 checks it: KF_TRUSTED_ARGS / KF_RCU
/// (a release kfunc's arguments are trusted too), NULL, the trust of the register, its offset (check_func_arg_reg_off),
/// the modifiers a plain kfunc refuses, and the struct match with the first-member walk (btf_struct_ids_match); then the
/// two pointer cast kfuncs, bpf_rdonly_cast and bpf_cast_to_kern_ctx.
/// </summary>
internal sealed partial class KfuncCalls
{
    /// <summary>Checks typed-pointer argument <paramref name="i"/> (register <paramref name="regno"/>) of <paramref name="kf"/>
    /// against the struct <paramref name="want"/>; returns the reference it releases (0: none).</summary>
    private int CheckTypedPointerArg(KernelFunction kf, int i, int regno, in RegisterState reg, BtfComposite want, bool nullable, int releaseRef)
    {
        string name = kf.Name;
        bool release = (kf.Flags & KernelFunctionFlags.Release) != 0;
        bool trustedArgs = (kf.Flags & KernelFunctionFlags.TrustedArgs) != 0 || release;
        bool rcuArgs = (kf.Flags & KernelFunctionFlags.Rcu) != 0;
        bool isNull = reg.IsScalar && ScalarBounds.IsConst(reg, 0);
        if ((trustedArgs || rcuArgs) && (isNull || reg.MaybeNull) && !nullable)
            throw Fail($"Possibly NULL pointer passed to trusted arg{i}", Errno.EACCES);
        if (reg.Type != RegisterType.BtfId)
            throw Fail($"arg#{i} pointer type STRUCT {want.Name} must point to scalar, or struct with scalar", Errno.EINVAL);
        if (trustedArgs || rcuArgs)
        {
            if (!TrustedPointers.IsTrusted(reg))
            {
                if (!rcuArgs) throw Fail($"R{regno} must be referenced or trusted", Errno.EINVAL);
                if (!TrustedPointers.IsRcu(reg)) throw Fail($"R{regno} must be a rcu pointer", Errno.EINVAL);
            }
        }
        // check_func_arg_reg_off: a referenced pointer a release kfunc drops (OBJ_RELEASE) must point at its object's
        // start; a plain, trusted or RCU typed pointer may carry a fixed offset (a struct nested in its object, matched
        // below); any other (untrusted, maybe NULL) may not; none may have a variable offset.
        if (release && reg.RefObjId != 0 && reg.Off != 0)
            throw Fail($"R{regno} must have zero offset when passed to release func or trusted arg to kfunc", Errno.EINVAL);
        bool fixedOffOk = !(release && reg.RefObjId != 0) && !reg.MaybeNull && (reg.Trust & PointerTrust.Untrusted) == 0;
        if (reg.Off < 0)
            throw Fail($"negative offset {StateFormatter.TypeName(reg)} ptr R{regno} off={reg.Off} disallowed", Errno.EACCES);
        if (!fixedOffOk && reg.Off != 0)
            throw Fail($"dereference of modified {StateFormatter.TypeName(reg)} ptr R{regno} off={reg.Off} disallowed", Errno.EACCES);
        if (!reg.VarOff.IsConst || reg.VarOff.Value != 0)
            throw Fail($"variable {StateFormatter.TypeName(reg)} access var_off={reg.VarOff} disallowed", Errno.EACCES);
        // bpf_type_has_unsafe_modifiers: untrusted, RCU (unless the kfunc takes RCU) or maybe-NULL pointers are refused
        // by a kfunc that does not vouch for its arguments.
        bool unsafeModifiers = reg.MaybeNull || (reg.Trust & (PointerTrust.Untrusted | PointerTrust.Rcu)) != 0;
        if (unsafeModifiers && !TrustedPointers.IsRcu(reg))
        {
            var stripped = reg;
            stripped.MaybeNull = false;
            stripped.Trust &= PointerTrust.Trusted;
            throw Fail($"arg#{i} is {StateFormatter.TypeName(reg)} expected {StateFormatter.TypeName(stripped)} or socket", Errno.EINVAL);
        }
        string have = KernelTypes.Name(reg.MemSize);
        bool strict = release && reg.RefObjId != 0;
        if (!StructIdsMatch(have, reg.Off, want.Name, strict))
            throw Fail($"kernel function {name} args#{i} expected pointer to STRUCT {want.Name} but R{regno} has a pointer to STRUCT {(have.Length == 0 ? "(anon)" : have)}", Errno.EINVAL);
        if (release && releaseRef == 0 && reg.RefObjId != 0) return reg.RefObjId;
        return 0;
    }

    /// <summary>btf_struct_ids_match: the same struct at offset 0, or (not strict) a struct nested at the offset, then
    /// repeatedly at offset 0 of that one (struct bpf_cpumask begins with its struct cpumask).</summary>
    private bool StructIdsMatch(string have, int off, string want, bool strict)
    {
        // DynptrSlots.IsProjectionOf: a trusted sk_buff / xdp_buff stands for the __sk_buff / xdp_md a dynptr kfunc names.
        if (off == 0 && (have == want || DynptrSlots.IsProjectionOf(want, have))) return true;
        if (strict || Input.Profile.KernelBtf is not { } kernel || have.Length == 0) return false;
        if (!kernel.TryFindByName(have, BtfKind.Struct, out var t) || t is not BtfComposite s) return false;
        for (int guard = 0; guard < BtfSpec.MaxResolveDepth; guard++)
        {
            var nested = NestedStructAt(kernel, s, off);
            if (nested is null) return false;
            if (nested.Name == want) return true;
            s = nested;
            off = 0;
        }
        return false;
    }

    /// <summary>btf_struct_walk's WALK_STRUCT: the struct member that starts exactly at <paramref name="off"/>, descending
    /// through enclosing struct members; null when none does.</summary>
    private static BtfComposite? NestedStructAt(BtfSpec btf, BtfComposite s, int off)
    {
        for (int guard = 0; guard < BtfSpec.MaxResolveDepth; guard++)
        {
            BtfComposite? next = null;
            int nextOff = 0;
            foreach (var m in s.Members)
            {
                if (m.IsBitfield) continue;
                int moff = (int)(m.BitOffset / 8);
                if (btf.ResolveType(m.Type) is not BtfComposite inner) continue;
                if (off < moff || off >= moff + (int)inner.Size) continue;
                if (off == moff) return inner;
                next = inner;
                nextOff = off - moff;
                break;
            }
            if (next is null) return null;
            s = next;
            off = nextOff;
        }
        return null;
    }

    /// <summary>btf_struct_ids_match (not strict), for other callers (a global function's arg:trusted).</summary>
    internal bool TypedStructMatches(string have, int off, string want) => StructIdsMatch(have, off, want, strict: false);

    /// <summary>Whether <paramref name="name"/> is one of the two pointer cast kfuncs handled by <see cref="CheckPointerCast"/>.</summary>
    internal static bool IsPointerCast(string name) => name is "bpf_rdonly_cast" or "bpf_cast_to_kern_ctx";

    /// <summary>
    /// bpf_rdonly_cast(obj__ign, btf_id__k): R0 is PTR_TO_BTF_ID | PTR_UNTRUSTED of the vmlinux struct btf_id names, or
    /// PTR_TO_MEM | MEM_RDONLY | PTR_UNTRUSTED of size 0 for void (id 0); its loads are fault-handled, writes refused.
    /// bpf_cast_to_kern_ctx(ctx): R0 is the program type's kernel context struct as a trusted pointer.
    /// </summary>
    private void CheckPointerCast(KernelFunction kf)
    {
        ReadsKernelPointers = true; // the runtime has no kernel object behind a cast pointer: not fully modelled
        if (kf.Name == "bpf_rdonly_cast")
        {
            var id = ReadReg(2);
            if (!id.IsScalar) throw Fail("R2 is not a scalar", Errno.EINVAL);
            if (!id.VarOff.IsConst) throw Fail("R2 must be a known constant", Errno.EINVAL);
            Precision.MarkPrecise(2);
            ulong typeId = id.VarOff.Value;
            Subprograms.ClobberCallerSaved();
            var btf = Input.Profile.KernelBtf;
            if (typeId == 0)
            {
                SetReg(0, Attach.BtfPointerLoads.TypedPointer(Attach.BtfPointerLoads.UntrustedMemory));
                return;
            }
            if (btf is null || typeId > btf.MaxTypeId || !btf.TryGetType((uint)typeId, out var t))
                throw Fail($"Unknown type ID {(long)typeId} passed to kfunc bpf_rdonly_cast", Errno.EINVAL);
            if (t is not BtfComposite { Kind: BtfKind.Struct } s)
                throw Fail("kfunc bpf_rdonly_cast type ID argument must be of a struct or void", Errno.EINVAL);
            SetReg(0, Attach.BtfPointerLoads.TypedPointer(s.Name, PointerTrust.Untrusted));
            return;
        }
        var ctx = ReadReg(1);
        if (ctx.Type != RegisterType.Ctx) throw Fail($"arg#0 expected pointer to ctx, but got {StateFormatter.TypeName(ctx)}", Errno.EINVAL);
        if (ctx.Off != 0 || !ctx.VarOff.IsConst || ctx.VarOff.Value != 0)
            throw Fail($"dereference of modified ctx ptr R1 off={ctx.Off} disallowed", Errno.EACCES);
        string? kern = KernelContextStruct(Input.ProgramType);
        if (kern is null) throw Unsupported($"kernel function {kf.Name}", $"bpf_cast_to_kern_ctx in {Input.ProgramType} programs");
        Subprograms.ClobberCallerSaved();
        SetReg(0, Attach.BtfPointerLoads.TypedPointer(kern, PointerTrust.Trusted));
    }

    /// <summary>get_kern_ctx_btf_id for the program types whose kernel context this verifier knows (bpf_ctx_convert,
    /// include/linux/bpf_types.h); the others are refused as not supported.</summary>
    private static string? KernelContextStruct(ProgramType type) => type switch
    {
        ProgramType.SocketFilter or ProgramType.SchedCls or ProgramType.SchedAct or ProgramType.CgroupSkb
            or ProgramType.LwtIn or ProgramType.LwtOut or ProgramType.LwtXmit or ProgramType.LwtSeg6Local or ProgramType.SkSkb => "sk_buff",
        ProgramType.Xdp => "xdp_buff",
        ProgramType.SockOps => "bpf_sock_ops_kern",
        ProgramType.SkMsg => "sk_msg",
        ProgramType.CgroupSockAddr => "bpf_sock_addr_kern",
        ProgramType.CgroupSockopt => "bpf_sockopt_kern",
        ProgramType.CgroupSysctl => "bpf_sysctl_kern",
        ProgramType.PerfEvent => "bpf_perf_event_data_kern",
        ProgramType.Kprobe => "pt_regs",
        ProgramType.SkLookup => "bpf_sk_lookup_kern",
        ProgramType.SkReuseport => "sk_reuseport_kern",
        ProgramType.FlowDissector => "bpf_flow_dissector",
        _ => null,
    };

    /// <summary>bpf_rcu_read_unlock: every MEM_RCU pointer of every frame loses MEM_RCU and PTR_MAYBE_NULL and becomes
    /// PTR_UNTRUSTED (it may be freed once the section ends).</summary>
    private void InvalidateRcuPointers()
    {
        foreach (var (frame, index, spilled) in Cur.AllRegisters())
        {
            var r = VerifierState.Read(frame, index, spilled);
            if (r.Type != RegisterType.BtfId || (r.Trust & PointerTrust.Rcu) == 0) continue;
            r.Trust = (r.Trust & ~PointerTrust.Rcu) | PointerTrust.Untrusted;
            r.MaybeNull = false;
            VerifierState.Write(frame, index, spilled, r);
        }
    }
}
