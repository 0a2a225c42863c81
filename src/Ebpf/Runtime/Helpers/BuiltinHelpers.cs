using Ebpf.Abi.Helpers;
namespace Ebpf.Runtime.Helpers;

/// <summary>Registers every helper this assembly implements under its kernel id.</summary>
internal static class BuiltinHelpers
{
    public static void RegisterAll(HelperRegistry r)
    {
        r.SetBuiltin(HelperId.KtimeGetNs, "ktime_get_ns", TimeHelpers.KtimeGetNs);
        r.SetBuiltin(HelperId.KtimeGetBootNs, "ktime_get_boot_ns", TimeHelpers.KtimeGetBootNs);
        r.SetBuiltin(HelperId.KtimeGetCoarseNs, "ktime_get_coarse_ns", TimeHelpers.KtimeGetCoarseNs);
        r.SetBuiltin(HelperId.Jiffies64, "jiffies64", TimeHelpers.Jiffies64);
        r.SetBuiltin(HelperId.GetPrandomU32, "get_prandom_u32", TaskHelpers.GetPrandomU32);
        r.SetBuiltin(HelperId.GetSmpProcessorId, "get_smp_processor_id", TaskHelpers.GetSmpProcessorId);
        r.SetBuiltin(HelperId.GetNumaNodeId, "get_numa_node_id", TaskHelpers.GetNumaNodeId);
        r.SetBuiltin(HelperId.GetCurrentPidTgid, "get_current_pid_tgid", TaskHelpers.GetCurrentPidTgid);
        r.SetBuiltin(HelperId.GetCurrentUidGid, "get_current_uid_gid", TaskHelpers.GetCurrentUidGid);
        r.SetBuiltin(HelperId.GetCurrentComm, "get_current_comm", TaskHelpers.GetCurrentComm);
        r.SetBuiltin(HelperId.GetFuncIp, "get_func_ip", TaskHelpers.GetFuncIp);
        r.SetBuiltin(HelperId.GetAttachCookie, "get_attach_cookie", TaskHelpers.GetAttachCookie);
        TracingHelpers.Register(r);
        r.SetBuiltin(HelperId.TracePrintk, "trace_printk", PrintHelpers.TracePrintk);
        r.SetBuiltin(HelperId.TraceVprintk, "trace_vprintk", PrintHelpers.TraceVprintk);
        r.SetBuiltin(HelperId.Snprintf, "snprintf", PrintHelpers.Snprintf);
        r.SetBuiltin(HelperId.Strncmp, "strncmp", PrintHelpers.Strncmp);
        r.SetBuiltin(HelperId.SnprintfBtf, "snprintf_btf", BtfPrintHelpers.SnprintfBtf);
        r.SetBuiltin(HelperId.PerCpuPtr, "per_cpu_ptr", PerCpuHelpers.PerCpuPtr);
        r.SetBuiltin(HelperId.ThisCpuPtr, "this_cpu_ptr", PerCpuHelpers.ThisCpuPtr);
        Iterators.SeqHelpers.Register(r);
        r.SetBuiltin(HelperId.ProbeRead, "probe_read", ProbeReadHelpers.ProbeRead);
        r.SetBuiltin(HelperId.ProbeReadStr, "probe_read_str", ProbeReadHelpers.ProbeReadStr);
        r.SetBuiltin(HelperId.ProbeReadKernel, "probe_read_kernel", ProbeReadHelpers.ProbeReadKernel);
        r.SetBuiltin(HelperId.ProbeReadUser, "probe_read_user", ProbeReadHelpers.ProbeReadUser);
        r.SetBuiltin(HelperId.ProbeReadKernelStr, "probe_read_kernel_str", ProbeReadHelpers.ProbeReadKernelStr);
        r.SetBuiltin(HelperId.ProbeReadUserStr, "probe_read_user_str", ProbeReadHelpers.ProbeReadUserStr);
        r.SetBuiltin(HelperId.CsumDiff, "csum_diff", ChecksumHelpers.CsumDiff);
        r.SetBuiltin(HelperId.L3CsumReplace, "l3_csum_replace", ChecksumHelpers.L3CsumReplace);
        r.SetBuiltin(HelperId.L4CsumReplace, "l4_csum_replace", ChecksumHelpers.L4CsumReplace);
        r.SetBuiltin(HelperId.CsumUpdate, "csum_update", ChecksumHelpers.CsumUpdate);
        r.SetBuiltin(HelperId.SpinLock, "spin_lock", LockHelpers.SpinLock);
        r.SetBuiltin(HelperId.SpinUnlock, "spin_unlock", LockHelpers.SpinUnlock);
        PacketHelpers.RegisterAll(r);
        MapHelpers.RegisterAll(r);
        DynptrHelpers.RegisterAll(r);
    }

    /// <summary>A negative errno as the u64 a helper returns.</summary>
    public static ulong Err(Errno e) => unchecked((ulong)-(long)e);
}
