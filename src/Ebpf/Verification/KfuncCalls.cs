using Ebpf.Abi;
using Ebpf.Abi.Helpers;
using Ebpf.Btf;
using Ebpf.Isa;

namespace Ebpf.Verification;

/// <summary>
/// kfunc calls (call with src_reg = BPF_PSEUDO_KFUNC_CALL): the callee's FUNC_PROTO gives the arguments
/// (check_kfunc_args: scalars, __k constants, ctx, typed kernel pointers, memory sized by a following __sz /
/// __szk argument), and the KF_* flags give reference semantics (acquire / release / return NULL) and the
/// RCU read-side section.
/// </summary>
internal sealed partial class KfuncCalls(VerifierContext walk) : VerifierComponent(walk)
{
    /// <summary>Reference ids that stand for an open bpf_rcu_read_lock section (kept in the state's reference list so
    /// that state comparison sees them; told apart from object references by this set).</summary>
    private readonly HashSet<int> _rcuSectionIds = [];

    private KernelFunction ResolveKfunc(Instruction insn)
    {
        if (Input.KernelFunctions is { } byInsn && byInsn.TryGetValue(InsnIdx, out var kf)) return kf;
        // __find_kfunc_desc_btf: a module slot needs an fd_array; with one, a module BTF the input does not carry
        // (a verifier run without the modules, e.g. against a kernel profile) cannot be checked here.
        if (insn.Offset != 0 && Input.MapsByIndex is null && Input.ModuleBtfs is null)
            throw Fail("kfunc offset > 0 without fd_array is invalid", Errno.EPROTO);
        if (insn.Offset != 0) throw Unsupported($"kfunc in module BTF (fd_array slot {insn.Offset})", UnsupportedFeatures.ModuleKfuncs);
        return KernelFunctions.ResolveById(insn.Imm, Input.Profile.KernelBtf) ?? throw Fail($"kernel btf_id {insn.Imm} is not a function", Errno.EINVAL);
    }

    /// <summary>Whether kernel struct <paramref name="have"/> begins with a <paramref name="want"/> (its first member
    /// at offset 0, or that member's first member, …): btf_struct_walk's WALK_STRUCT at offset 0.</summary>
    private static bool StartsWithStruct(Btf.BtfSpec btf, string have, string want)
    {
        if (!btf.TryFindByName(have, Btf.BtfKind.Struct, out var t))
            return false;
        for (int depth = 0; depth < Btf.BtfSpec.MaxResolveDepth && t is Btf.BtfComposite { Kind: Btf.BtfKind.Struct, Members.Count: > 0 } c; depth++)
        {
            var first = c.Members[0];
            if (first.BitOffset != 0 || first.IsBitfield)
                return false;
            t = btf.ResolveType(first.Type);
            if (t is Btf.BtfComposite { Kind: Btf.BtfKind.Struct } inner && inner.Name == want)
                return true;
        }
        return false;
    }

    /// <summary>A kfunc the host registered (VerifierInput.KernelFunctions) from its own BTF rather than vmlinux's.</summary>
    private bool IsHostKfunc(KernelFunction kf) => !ReferenceEquals(kf.Btf, Input.Profile.KernelBtf);

    internal void CheckKfuncCall(Instruction insn)
    {
        if (insn.Dst != 0) throw Fail("BPF_CALL uses reserved fields", Errno.EINVAL);
        var kf = ResolveKfunc(insn);
        string name = kf.Name;
        if (!Input.GplCompatible) throw Fail("cannot call kernel function from non-GPL compatible program", Errno.EINVAL);
        // fetch_kfunc_meta: the program type must be in one of the kfunc's id sets (host kfuncs are the host's to allow).
        if (IsHostKfunc(kf) ? !KfuncHooks.Allows(kf.ProgramTypes, Input.ProgramType) : !Input.Profile.IsKfuncAllowed(name, Input.ProgramType))
            throw Fail($"calling kernel function {name} is not allowed", Errno.EACCES);
        // clang (21+) turns unreachable code left by an uninitialised variable into a call of __bpf_trap: reaching one
        // refuses the program (a trap no path reaches is dead code, removed).
        if (name == "__bpf_trap" && insn.Offset == 0)
            throw Fail("unexpected __bpf_trap() due to uninitialized variable?", Errno.EFAULT);
        if (kf.Unsupported is { } why) throw Unsupported($"kernel function {name}", why);
        if ((kf.Flags & KernelFunctionFlags.Sleepable) != 0 && !Input.Sleepable)
            throw Fail($"program must be sleepable to call sleepable kfunc {name}", Errno.EACCES);
        if (Cur.ActiveLockId != 0) throw Fail("function calls are not allowed while holding a lock", Errno.EINVAL);
        if (!kf.Btf.TryGetType(kf.ProtoTypeId, out var pt) || pt is not BtfFuncProto proto)
            throw Fail($"kernel function {name} has no FUNC_PROTO", Errno.EINVAL);
        if (name == "bpf_throw" && !IsHostKfunc(kf))
        {
            Exceptions.CheckThrow();
            return;
        }

        int rcu = Cur.References.FindIndex(r => _rcuSectionIds.Contains(r.Id));
        if ((kf.Flags & KernelFunctionFlags.RcuReadLock) != 0)
        {
            if (rcu >= 0) throw Fail($"nested rcu read lock (kernel function {name})", Errno.EINVAL);
            int id = NewId();
            _rcuSectionIds.Add(id);
            Cur.References.Add(new AcquiredReference(id, InsnIdx));
        }
        else if ((kf.Flags & KernelFunctionFlags.RcuReadUnlock) != 0)
        {
            if (rcu < 0) throw Fail($"unmatched rcu read unlock (kernel function {name})", Errno.EINVAL);
            Cur.References.RemoveAt(rcu);
            Iterators.OnRcuReadUnlock();
            InvalidateRcuPointers();
        }

        if (IsPointerCast(name) && !IsHostKfunc(kf))
        {
            CheckPointerCast(kf);
            return;
        }

        var btf = kf.Btf;
        var parameters = proto.Parameters;
        if (parameters.Count > 5) throw Fail($"Function {name} has {parameters.Count} > 5 args", Errno.EINVAL);
        int releaseRef = 0;
        var iterator = IteratorSlots.IsSupported(name) ? IteratorSlots.Classify(name) : null;
        int iteratorRef = 0;
        DynptrSlots.Dynptr? dynptr = null, firstDynptr = null;
        int constSize = 0;
        for (int i = 0; i < parameters.Count; i++)
        {
            int regno = i + 1;
            string pname = parameters[i].Name;
            // is_kfunc_arg_ignore: an __ign argument is not checked at all (the kfunc reads it fault-safely).
            if (pname.EndsWith("__ign", StringComparison.Ordinal)) continue;
            if (i == 0 && iterator is { } it)
            {
                iteratorRef = Iterators.ProcessIterArg(kf, proto, it.Op, it.Type);
                continue;
            }
            var reg = ReadReg(regno);
            var t = ResolveBtf(btf, parameters[i].Type);
            if (t is null or not BtfPtr)
            {
                if (!reg.IsScalar) throw Fail($"R{regno} is not a scalar", Errno.EINVAL);
                if (pname.EndsWith("__k", StringComparison.Ordinal) || pname.EndsWith("__szk", StringComparison.Ordinal))
                {
                    if (!reg.VarOff.IsConst) throw Fail($"R{regno} must be a known constant", Errno.EINVAL);
                    constSize = (int)Math.Min(reg.VarOff.Value, int.MaxValue);
                    Precision.MarkPrecise(regno); // the constant decides the call's meaning: keep it precise for pruning
                }
                continue;
            }
            bool sizedByNext = i + 1 < parameters.Count
                && (parameters[i + 1].Name.EndsWith("__sz", StringComparison.Ordinal) || parameters[i + 1].Name.EndsWith("__szk", StringComparison.Ordinal));
            var pointee = ResolveBtf(btf, ((BtfPtr)t).Type);
            // KF_ARG_PTR_TO_DYNPTR: an initialised dynptr, or (__uninit) one this call makes; bpf_dynptr_clone's
            // clone is of its source's type and shares its reference.
            if (pointee is BtfComposite { Kind: BtfKind.Struct, Name: "bpf_dynptr" })
            {
                // Every kfunc's pointer arguments are trusted: a NULL dynptr is refused before its slots are looked at.
                if ((reg.IsScalar && ScalarBounds.IsConst(reg, 0)) || reg.MaybeNull)
                    throw Fail($"Possibly NULL pointer passed to trusted arg{i}", Errno.EACCES);
                bool uninit = pname.EndsWith("__uninit", StringComparison.Ordinal);
                int makes = DynptrSlots.KfuncMakes(name);
                var made = Dynptrs.Process(regno, uninit, makes != 0 ? makes : dynptr?.Type ?? 0, 0, kfunc: true, dynptr?.RefObjId ?? 0);
                if (!uninit)
                {
                    dynptr = made;
                    firstDynptr ??= made;
                }
                continue;
            }
            // __opt: the buffer may be NULL (its __szk size must still be a constant).
            bool nullable = pname.EndsWith("__nullable", StringComparison.Ordinal) || pname.EndsWith("__opt", StringComparison.Ordinal);
            if (reg.IsScalar) Precision.MarkPrecise(regno); // NULL or not decides the check
            if (nullable && reg.IsScalar && ScalarBounds.IsConst(reg, 0)) continue;
            if (sizedByNext)
            {
                var size = Reg(regno + 1);
                if (!size.IsScalar) throw Fail($"R{regno + 1} is not a scalar", Errno.EINVAL);
                Precision.MarkPrecise(regno + 1); // the size bounds the checked access
                try
                {
                    if (size.SMin < 0) throw Fail($"R{regno + 1} min value is negative, either use unsigned or 'var &= const'");
                    if (size.UMax >= (ulong)AluChecker.MaxVarOff) throw Fail($"R{regno + 1} unbounded memory access, use 'var &= const' or 'if (var < const)'");
                    if (size.UMax > 0)
                        HelperArgs.CheckHelperMemory(regno, reg, new HelperArg(HelperArgKind.PtrToMem), KfuncMemoryProto, (long)size.UMax, zeroSizeAllowed: true);
                }
                catch (VerifierError e)
                {
                    // check_kfunc_args: a failed memory / size pair is followed by the pair's own line.
                    throw new VerifierError(e.Errno, $"{e.Message}\narg#{i} arg#{i + 1} memory, len pair leads to invalid memory access", e.Insn);
                }
                continue;
            }
            // bpf_dynptr_from_skb / from_skb_meta / from_xdp from a program whose context is another struct (the kfunc
            // sets share hooks): the context is no sk_buff / xdp_buff, so it is an untrusted pointer to one.
            if (DynptrSlots.KfuncMakes(name) != 0 && reg.Type == RegisterType.Ctx
                && pointee is BtfComposite { Kind: BtfKind.Struct } ctxStruct && !IsContextStruct(ctxStruct.Name))
                throw Fail($"R{regno} must be referenced or trusted", Errno.EINVAL);
            if (pointee is BtfComposite { Kind: BtfKind.Struct } s && IsContextStruct(s.Name))
            {
                if (reg.Type != RegisterType.Ctx) throw Fail($"arg#{i} expected pointer to ctx, but got {StateFormatter.TypeName(reg)}", Errno.EINVAL);
                if (reg.Off != 0 || !reg.VarOff.IsConst || reg.VarOff.Value != 0)
                    throw Fail($"dereference of modified ctx ptr R{regno} off={reg.Off} disallowed", Errno.EACCES);
                continue;
            }
            if (pointee is BtfComposite { Kind: BtfKind.Struct } st)
            {
                if (Iterators.CheckStructArg(kf, i, reg, st.Name, nullable)) continue;
                int released = CheckTypedPointerArg(kf, i, regno, reg, st, nullable, releaseRef);
                if (released != 0) releaseRef = released;
                continue;
            }
            if (pointee is BtfInt or BtfEnumType)
            {
                // The kernel (6.18, bpf_xdp_metadata_rx_timestamp with 8 bytes from fp-4) logs the same line as for a
                // helper but fails the load with EINVAL, not EACCES.
                try
                {
                    HelperArgs.CheckHelperMemory(regno, reg, new HelperArg(HelperArgKind.PtrToMem), KfuncMemoryProto, btf.SizeOf(((BtfPtr)t).Type), zeroSizeAllowed: false);
                }
                catch (VerifierError e) when (e.Errno == Errno.EACCES)
                {
                    throw new VerifierError(Errno.EINVAL, e.Message, e.Insn);
                }
                continue;
            }
            string kind = pointee is null ? "UNKN" : pointee.Kind.ToString().ToUpperInvariant();
            throw Fail($"arg#{i} pointer type {kind} {pointee?.Name ?? ""} must point to scalar, or struct with scalar", Errno.EINVAL);
        }
        if ((kf.Flags & KernelFunctionFlags.Release) != 0 && releaseRef == 0)
            throw Fail($"release kernel function {name} expects refcounted PTR_TO_BTF_ID", Errno.EINVAL);
        if (releaseRef != 0) Subprograms.ReleaseReference(releaseRef);
        Iterators.CheckRcuProtected(name, iterator);
        var sliceBuffer = Reg(3);
        if (DynptrSlots.KfuncChangesPacket(name, firstDynptr))
        {
            ChangesPacketData = true;
            Subprograms.InvalidatePacketPointers();
        }

        Subprograms.ClobberCallerSaved();
        var ret = ResolveBtf(btf, proto.ReturnType);
        if (name is "bpf_dynptr_slice" or "bpf_dynptr_slice_rdwr" && dynptr is { } sliced)
        {
            // 6.18 refuses every bpf_dynptr_slice_rdwr call once its arguments are checked (xdp, tc and socket
            // programs, local and ring buffer dynptrs, with or without a buffer: observed on the live kernel). Until the
            // condition is known, it is refused here the same way.
            if (name == "bpf_dynptr_slice_rdwr") throw Fail("bpf_dynptr_slice_rdwr() is not allowed", Errno.EACCES);
            SetReg(0, Dynptrs.Slice(sliced, constSize, readOnly: name == "bpf_dynptr_slice", packetFlag: true, buffer: sliceBuffer));
            return;
        }
        if (iterator is { Op: IteratorOperation.Next })
        {
            SetReg(0, IteratorElement(kf, ret, iteratorRef));
            Iterators.ProcessNextCall();
            return;
        }
        if (ret is null)
        {
            Reg(0) = RegisterState.NotInit;
            return;
        }
        if (ret is not BtfPtr rp)
        {
            SetReg(0, RegisterState.UnknownScalar());
            return;
        }
        if (ResolveBtf(btf, rp.Type) is not BtfComposite { Kind: BtfKind.Struct } rs)
            throw Unsupported($"kernel function {name}", UnsupportedFeatures.KfuncNonStructPointer);
        var r = RegisterState.Pointer(RegisterType.BtfId);
        r.MemSize = KernelTypes.Intern(rs.Name);
        if ((kf.Flags & KernelFunctionFlags.ReturnsNull) != 0) { r.MaybeNull = true; r.Id = NewId(); }
        if ((kf.Flags & KernelFunctionFlags.Acquire) != 0)
        {
            if (r.Id == 0) r.Id = NewId();
            r.RefObjId = r.Id;
            Cur.References.Add(new AcquiredReference(r.Id, InsnIdx));
        }
        SetReg(0, r);
    }

    /// <summary>What an iterator's _next returns: a pointer to a scalar is read-only memory of its size
    /// (PTR_TO_MEM | MEM_RDONLY, KF_RET_NULL), tied to the iterator's reference so that _destroy invalidates it.</summary>
    private RegisterState IteratorElement(KernelFunction kf, BtfType? ret, int iteratorRef)
    {
        // A kernel object's iterator yields a maybe-NULL typed pointer (RCU or untrusted), not tied to the iterator.
        if (ret is BtfPtr op && ResolveBtf(kf.Btf, op.Type) is BtfComposite { Kind: BtfKind.Struct } os)
        {
            var e = KernelObjectIterators.Element(os.Name, Iterators.LastIteratorIsRcu);
            e.Id = NewId();
            return e;
        }
        if (ret is not BtfPtr rp || ResolveBtf(kf.Btf, rp.Type) is not (BtfInt or BtfEnumType))
            throw Unsupported($"kernel function {kf.Name}", UnsupportedFeatures.KfuncNonStructPointer);
        var r = RegisterState.Pointer(RegisterType.Mem);
        r.ReadOnly = true;
        r.MemSize = (int)kf.Btf.SizeOf(rp.Type);
        r.MaybeNull = true;
        r.Id = NewId();
        r.RefObjId = iteratorRef;
        return r;
    }

    private static readonly HelperPrototype KfuncMemoryProto = new(HelperId.Unspec, HelperReturnKind.Integer, [], PacketAccess: true);

    private bool IsContextStruct(string name) =>
        name == FunctionPrototypes.CanonicalContextName(Input.ProgramType)
        || (name == "sk_buff" && FunctionPrototypes.CanonicalContextName(Input.ProgramType) == "__sk_buff")
        || (name == "xdp_buff" && Input.ProgramType == ProgramType.Xdp)
        || (name == "xdp_md" && Input.ProgramType == ProgramType.Xdp);

    private static BtfType? ResolveBtf(Btf.BtfSpec btf, uint id)
    {
        if (id == 0) return null;
        uint r = btf.SkipTypedefs(id);
        return r != 0 && btf.TryGetType(r, out var t) ? t : null;
    }

    /// <summary>The XDP metadata kfuncs (bpf_dev_bound_kfunc_id).</summary>
    private static bool IsDevBoundKfunc(string name) =>
        name is "bpf_xdp_metadata_rx_timestamp" or "bpf_xdp_metadata_rx_hash" or "bpf_xdp_metadata_rx_vlan_tag";

    /// <summary>
    /// add_subprog_and_kfunc's part for the XDP metadata kfuncs, before the walk: each call refuses a program that is not
    /// device-bound (bpf_dev_bound_kfunc_check), reached or not, and a non-GPL one first (add_kfunc_call's order).
    /// </summary>
    internal void CheckDevBoundKfuncs()
    {
        for (int i = 0; i < Insns.Count; i++)
        {
            var insn = Insns[i];
            if (insn.IsLoadImm64) { i++; continue; }
            if (!insn.IsCall || insn.Src != (byte)CallSource.Kfunc || insn.Offset != 0) continue;
            var kf = Input.KernelFunctions is { } byInsn && byInsn.TryGetValue(i, out var k) ? k : KernelFunctions.ResolveById(insn.Imm, Input.Profile.KernelBtf);
            if (kf is null || IsHostKfunc(kf) || !IsDevBoundKfunc(kf.Name)) continue;
            if (!Input.GplCompatible) throw new VerifierError(Errno.EINVAL, "cannot call kernel function from non-GPL compatible program", i);
            if (!Input.DeviceBound) throw new VerifierError(Errno.EINVAL, "metadata kfuncs require device-bound program", i);
        }
    }

    /// <summary>At the main program's exit: an open RCU section is reported before references are.</summary>
    /// <summary>Whether reference <paramref name="id"/> stands for an open RCU read section, not an object.</summary>
    internal bool IsRcuSection(int id) => _rcuSectionIds.Contains(id);

    internal void CheckRcuSectionAtExit()
    {
        if (Cur.Frames.Count == 1 && Cur.References.Any(r => _rcuSectionIds.Contains(r.Id)))
            throw Fail("BPF_EXIT instruction in main prog cannot be used inside bpf_rcu_read_lock-ed region", Errno.EINVAL);
    }

    /// <summary>
    /// check_pseudo_btf_id, part of resolve_pseudo_ldimm64: every <c>ld_imm64</c> with BPF_PSEUDO_BTF_ID (src 3) must
    /// name a VAR or FUNC of the kernel BTF, reachable or not. The kernel BTF is the profile's; without one no id
    /// resolves. (The kernel then looks the symbol's address up in kallsyms, which a profile does not carry.)
    /// </summary>
    internal void CheckPseudoBtfIds()
    {
        for (int i = 0; i + 1 < Insns.Count; i++)
        {
            var insn = Insns[i];
            if (!insn.IsLoadImm64)
                continue;
            if (insn.Src == (byte)LoadImm64Source.BtfId)
            {
                int fd = Insns[i + 1].Imm;
                Btf.BtfSpec? module = null;
                if (fd != 0 && (Input.ModuleBtfs is null || !Input.ModuleBtfs.TryGetValue(fd, out module)))
                    throw new VerifierError(Errno.EINVAL, "invalid module BTF object FD specified.", i);
                var btf = module ?? Input.Profile.KernelBtf;
                if (btf is null || insn.Imm <= 0 || !btf.TryGetType((uint)insn.Imm, out var t) || (uint)insn.Imm > btf.MaxTypeId)
                    throw new VerifierError(Errno.ENOENT, $"ldimm64 insn specifies invalid btf_id {insn.Imm}.", i);
                if (t is not (BtfVar or BtfFunc))
                    throw new VerifierError(Errno.EINVAL, $"pseudo btf_id {insn.Imm} in ldimm64 isn't KIND_VAR or KIND_FUNC", i);
            }
            i++;
        }
    }
}
