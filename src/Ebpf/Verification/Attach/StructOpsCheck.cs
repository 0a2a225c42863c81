using Ebpf.Abi;
using Ebpf.Abi.Contexts;
using Ebpf.Btf;

namespace Ebpf.Verification.Attach;

/// <summary>
/// A struct_ops program's member, as <c>check_struct_ops_btf_id</c> (6.18) resolves it from attach_btf_id (the
/// kernel struct) and expected_attach_type (the member index): the member's function prototype types the context
/// (<see cref="StructOpsContext"/>), its return type decides whether R0 is checked at exit, and the struct_ops type
/// decides the helpers. <see cref="Error"/> holds the kernel's refusal, thrown where the kernel checks (after the
/// CFG, before the walk).
/// </summary>
internal sealed class StructOpsMember
{
    private StructOpsMember(StructOpsType? type, string memberName, bool returnsVoid, ContextLayout? layout, VerifierError? error)
    {
        Type = type;
        MemberName = memberName;
        ReturnsVoid = returnsVoid;
        Layout = layout;
        Error = error;
    }

    /// <summary>The struct_ops type (null when refused).</summary>
    public StructOpsType? Type { get; }
    /// <summary>The member the program implements (attach_func_name).</summary>
    public string MemberName { get; }
    /// <summary>The member's prototype returns void: check_return_code returns at once (R0 need not be set).</summary>
    public bool ReturnsVoid { get; }
    /// <summary>The context: the prototype's arguments as u64 slots, typed by btf_ctx_access.</summary>
    public ContextLayout? Layout { get; }
    /// <summary>The kernel's refusal, with its line and errno; null when the program may be verified.</summary>
    public VerifierError? Error { get; }

    private static StructOpsMember Refused(Errno errno, string line) => new(null, "", false, null, new VerifierError(errno, line, 0));

    /// <summary>check_struct_ops_btf_id after the GPL check (which the engine does first, as the kernel).</summary>
    public static StructOpsMember Resolve(VerifierInput input)
    {
        uint btfId = input.AttachBtfId;
        // 6.18: no attach_btf_id is ENOTSUPP with no line (libbpf refuses an unreferenced program before that).
        if (btfId == 0)
            return Refused(Errno.ENOTSUPP, "");
        var kernel = input.Profile.KernelBtf;
        if (kernel is null || !kernel.TryGetType(btfId, out var t) || t is not BtfStruct st || string.IsNullOrEmpty(st.Name)
            || !kernel.TryFindByName(Loading.StructOpsBinding.ValuePrefix + st.Name, BtfKind.Struct, out _))
            return Refused(Errno.ENOTSUPP, $"attach_btf_id {btfId} is not a supported struct");
        uint memberIdx = (uint)input.ExpectedAttachType;
        if (memberIdx >= (uint)st.Members.Count)
            return Refused(Errno.EINVAL, $"attach to invalid member idx {memberIdx} of struct {st.Name}");
        var member = st.Members[(int)memberIdx];
        var proto = kernel.ResolveType(member.Type) is BtfPtr p && kernel.ResolveType(p.Type) is BtfFuncProto fp ? fp : null;
        if (proto is null)
            return Refused(Errno.EINVAL, $"attach to invalid member {member.Name}(@idx {memberIdx}) of struct {st.Name}");
        if (!StructOpsType.Known.TryGetValue(st.Name, out var type))
            return Refused(Errno.ENOTSUPP,
                $"struct_ops {st.Name} {VerificationResult.UnsupportedMarker}{UnsupportedFeatures.StructOpsTypes}");
        if (type.UnsupportedMembers.Contains(member.Name))
            return Refused(Errno.ENOTSUPP, $"attach to unsupported member {member.Name} of struct {st.Name}");
        if (type.CheckMember?.Invoke(member.Name, input.Sleepable) is { } err and not 0)
            return Refused(err, $"attach to unsupported member {member.Name} of struct {st.Name}");
        var layout = StructOpsContext.For(kernel, st.Name, member.Name, proto, type);
        return new StructOpsMember(type, member.Name, proto.ReturnType == 0, layout, null);
    }
}
