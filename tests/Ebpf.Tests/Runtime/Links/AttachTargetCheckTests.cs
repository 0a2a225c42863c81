using Ebpf.Abi;
using Ebpf.Btf;
using Ebpf.Verification.Attach;

namespace Ebpf.Tests.Runtime.Links;

/// <summary>bpf_check_attach_target's rules that fixtures reach only with difficulty, on the target fixture's real BTF.</summary>
public class AttachTargetCheckTests
{
    private static readonly BtfSpec TargetBtf = Ebpf.Loading.ObjectSpec.Load(SharedData.Fixture("links/target.bpf.o")).Btf!;
    private static uint Func(string name) => TargetBtf.FindAllByName(name, BtfKind.Func).Single();

    private static AttachTargetProgram Target(ProgramType type = ProgramType.Xdp, AttachType attach = default, bool attachedToTracing = false) =>
        new("serve", type, attach, TargetBtf, [new AttachableFunction(Func("check"), 7, "check", Reliable: true),
            new AttachableFunction(Func("serve"), 0, "serve", Reliable: true)], attachedToTracing);

    private static AttachingProgram Fentry() => new("t", ProgramType.Tracing, AttachType.TraceFentry, null, 0);

    private static string Refusal(AttachingProgram p, AttachTargetProgram? t, uint id)
    {
        var e = Assert.Throws<AttachTargetException>(() => AttachTargetCheck.Check(p, t, id));
        Assert.Equal(Errno.EINVAL, e.Errno);
        return e.LogLine ?? "(silent)";
    }

    [Fact]
    public void General_and_target_rules_in_the_kernels_order()
    {
        Assert.Equal("Tracing programs must provide btf_id", Refusal(Fentry(), Target(), 0));
        Assert.Equal("FENTRY/FEXIT program can only be attached to another program annotated with BTF", Refusal(Fentry(), null, 3));
        Assert.Equal("Cannot nest tracing program attach more than once", Refusal(Fentry(), Target(ProgramType.Tracing, AttachType.TraceFentry, attachedToTracing: true), Func("check")));
        var ext = new AttachingProgram("e", ProgramType.Ext, default, TargetBtf, Func("check"));
        Assert.Equal("Cannot recursively attach", Refusal(ext, Target(ProgramType.Ext), Func("check")));
        Assert.Equal("Cannot extend fentry/fexit", Refusal(ext, Target(ProgramType.Tracing, AttachType.TraceFexit), Func("check")));
        var lsm = new AttachingProgram("l", ProgramType.Lsm, AttachType.LsmMac, null, 0);
        Assert.Equal("Cannot recursively attach", Refusal(lsm, Target(ProgramType.Lsm, AttachType.LsmMac), Func("check")));
        var rawTp = new AttachingProgram("r", ProgramType.Tracing, AttachType.TraceRawTp, null, 0);
        Assert.Equal("Only FENTRY/FEXIT progs are attachable to another BPF prog", Refusal(rawTp, Target(), Func("check")));
    }

    [Fact]
    public void Device_binding_and_packet_data_rules_P1_and_P6()
    {
        // P1: a device-bound program (an extension inherits its load-time target's binding) attaches only to a
        // program bound to the same device; it comes after the id checks and before P2, so a FUNC that is not one of
        // the target's subprograms (mix is not in Target()'s list) still gets this line.
        var bound = new AttachingProgram("e", ProgramType.Ext, default, TargetBtf, Func("check"), BoundIfindex: 2);
        Assert.Equal("attach_btf_id 9999 is invalid", Refusal(bound, Target(), 9999));
        Assert.Equal("Target program bound device mismatch", Refusal(bound, Target(), Func("mix")));
        Assert.Equal("Target program bound device mismatch", Refusal(bound, Target() with { BoundIfindex = 3 }, Func("check")));
        AttachTargetCheck.Check(bound, Target() with { BoundIfindex = 2 }, Func("check"));
        // P6: an extension that changes packet data replaces only a function that does; one that does not replaces either.
        var changing = new AttachingProgram("e", ProgramType.Ext, default, TargetBtf, Func("check"), ChangesPacketData: true);
        Assert.Equal("Extension program changes packet data, while original does not", Refusal(changing, Target(), Func("check")));
        var changingTarget = Target() with
        {
            Functions = [new AttachableFunction(Func("check"), 7, "check", Reliable: true, ChangesPacketData: true)],
        };
        AttachTargetCheck.Check(changing, changingTarget, Func("check"));
        AttachTargetCheck.Check(changing with { ChangesPacketData = false }, Target(), Func("check"));
        // fentry/fexit are not extensions: P6 does not apply to them.
        AttachTargetCheck.Check(Fentry() with { ChangesPacketData = true }, Target(), Func("check"));
    }

    [Fact]
    public void An_extension_is_checked_against_its_saved_target_type()
    {
        // A9: loaded against an XDP program, now offered a tc one — silent EINVAL.
        var ext = new AttachingProgram("e", ProgramType.Ext, default, TargetBtf, Func("check"), SavedTargetType: (ProgramType.Xdp, default));
        Assert.Equal("(silent)", Refusal(ext, Target(ProgramType.SchedCls), Func("check")));
        var point = AttachTargetCheck.Check(ext, Target(), Func("check")); // same prototype (check against itself), same type
        Assert.Equal((1, true, false), (point.ArgumentCount, point.ReturnsValue, point.Conservative));
    }

    [Fact]
    public void Unreliable_functions_get_the_conservative_model_for_tracing()
    {
        var target = Target() with { Functions = [new AttachableFunction(Func("check"), 7, "check", Reliable: false)] };
        var point = AttachTargetCheck.Check(Fentry(), target, Func("check"));
        Assert.Equal((5, true, true), (point.ArgumentCount, point.ReturnsValue, point.Conservative));
        Assert.Equal("Can attach to only JITed progs", Refusal(Fentry(), Target() with { Jited = false }, Func("check")));
    }
}
