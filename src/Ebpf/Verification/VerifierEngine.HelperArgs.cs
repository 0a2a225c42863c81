using Ebpf.Abi;
using Ebpf.Abi.Helpers;

namespace Ebpf.Verification;

// Helper arguments beyond maps, memory and ctx: typed kernel pointers, socket pointers, timers, and the
// prototypes this verifier refuses to guess (check_func_arg / check_reg_type for these arg types).
internal sealed partial class VerifierEngine
{
    private const string SockCommonArgTypes = "sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_";

    /// <summary>Rejects calls this verifier cannot check, before any argument is looked at.</summary>
    private void CheckHelperSupported(HelperPrototype proto, string name, int id)
    {
        if (proto.Unsupported is { } why)
            throw Fail($"helper {name}#{id} is not supported by this verifier: {why}", Errno.ENOTSUPP);
        if (proto.Arguments.Any(a => a.Kind == HelperArgKind.PtrToTimer)
            && _input.ProgramType is ProgramType.Kprobe or ProgramType.Tracepoint or ProgramType.PerfEvent
                or ProgramType.RawTracepoint or ProgramType.RawTracepointWritable)
            throw Fail("tracing progs cannot use bpf_timer yet", Errno.EINVAL);
    }

    /// <summary>Argument kinds the main switch of CheckHelperCall leaves to this file. Returns the reference the
    /// argument releases (0 for none).</summary>
    private int CheckOtherHelperArg(int regno, in RegisterState reg, HelperArg arg, HelperPrototype proto, ref IVerifierMapInfo? timerMap)
    {
        bool nullOk = arg.Has(HelperArgFlags.MaybeNull);
        if (nullOk && reg.IsScalar && ScalarBounds.IsConst(reg, 0)) return 0;
        switch (arg.Kind)
        {
            case HelperArgKind.PtrToBtfIdSockCommon:
            {
                bool ok = reg.Type is RegisterType.SockCommon or RegisterType.Socket or RegisterType.TcpSock
                    || (reg.Type == RegisterType.BtfId && KernelTypes.IsSockCommon(reg.MemSize));
                if (!ok || (reg.MaybeNull && !nullOk)) throw TypeMismatch(regno, reg, SockCommonArgTypes);
                return CheckReleaseArg(regno, reg, arg);
            }
            case HelperArgKind.PtrToBtfId:
            {
                if (reg.Type != RegisterType.BtfId || (reg.MaybeNull && !nullOk))
                    throw TypeMismatch(regno, reg, "ptr_, trusted_ptr_, rcu_ptr_");
                string want = arg.BtfType ?? "";
                if (KernelTypes.Name(reg.MemSize) != want || reg.Off != 0 || !reg.VarOff.IsConst || reg.VarOff.Value != 0)
                {
                    string have = KernelTypes.Name(reg.MemSize);
                    throw Fail($"R{regno} is of type {(have.Length == 0 ? "(anon)" : have)} but {want} is expected");
                }
                return CheckReleaseArg(regno, reg, arg);
            }
            case HelperArgKind.PtrToTimer:
            {
                if (reg.Type != RegisterType.MapValue || reg.MaybeNull) throw TypeMismatch(regno, reg, "map_value");
                var map = reg.Map!;
                if (!reg.VarOff.IsConst)
                    throw Fail($"R{regno} doesn't have constant offset. bpf_timer has to be at the constant offset", Errno.EINVAL);
                if (map.TimerOffset < 0) throw Fail($"map '{map.Name}' has no valid bpf_timer", Errno.EINVAL);
                long off = reg.Off + (long)reg.VarOff.Value;
                if (off != map.TimerOffset)
                    throw Fail($"off {off} doesn't point to 'struct bpf_timer' that is at {map.TimerOffset}", Errno.EINVAL);
                timerMap = map;
                return 0;
            }
            default:
                // Every kind a prototype can name is handled somewhere; reaching this is a table bug, and
                // rejecting keeps it from becoming an unchecked call.
                throw Fail($"helper {proto.Name}#{(int)proto.Id} argument R{regno} of kind {arg.Kind} is not checked by this verifier", Errno.ENOTSUPP);
        }
    }

    private int CheckReleaseArg(int regno, in RegisterState reg, HelperArg arg)
    {
        if (!arg.Has(HelperArgFlags.Release)) return 0;
        if (reg.IsScalar) return 0; // NULL passed to a nullable release argument releases nothing
        if (reg.RefObjId == 0) throw Fail($"R{regno} must be referenced when passed to release function");
        if (reg.Off != 0 || !reg.VarOff.IsConst || reg.VarOff.Value != 0)
            throw Fail($"R{regno} must have zero offset when passed to release func");
        return reg.RefObjId;
    }

    /// <summary>R0 of a helper returning a typed kernel pointer.</summary>
    private RegisterState TypedPointerReturn(HelperPrototype proto, bool maybeNull)
    {
        var r = RegisterState.Pointer(RegisterType.BtfId);
        r.MemSize = KernelTypes.Intern(proto.ReturnBtfType);
        if (maybeNull)
        {
            r.MaybeNull = true;
            r.Id = NewId();
        }
        return r;
    }

    /// <summary>True when <paramref name="callee"/> runs a bpf_timer callback (its call site is bpf_timer_set_callback).</summary>
    private bool IsAsyncCallback(FrameState callee) =>
        _calls.TryGetValue(callee.CallSite, out var call) && call.IsHelper && call.Target == (int)HelperId.TimerSetCallback;
}
