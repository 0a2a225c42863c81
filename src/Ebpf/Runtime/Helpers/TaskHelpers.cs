namespace Ebpf.Runtime.Helpers;

/// <summary>Helpers that describe "current" (task, CPU, attach point) from the invocation context.</summary>
internal static unsafe class TaskHelpers
{
    [ThreadStatic]
    private static Random? t_random;

    /// <summary>
    /// bpf_get_prandom_u32 (7): a per-thread (per-"CPU") PRNG seeded once, or the runtime's seeded sequence when
    /// <see cref="BpfRuntime.RandomSeed"/> is set (deterministic runs).
    /// </summary>
    public static ulong GetPrandomU32(ulong r1, ulong r2, ulong r3, ulong r4, ulong r5) =>
        HelperInvocation.Current?.Runtime.SeededRandomU32() ?? (ulong)(t_random ??= new Random()).NextInt64(0, 1L << 32);

    /// <summary>bpf_get_smp_processor_id (8).</summary>
    public static ulong GetSmpProcessorId(ulong r1, ulong r2, ulong r3, ulong r4, ulong r5) => (uint)(HelperInvocation.Current?.Task.Cpu ?? 0);

    /// <summary>bpf_get_numa_node_id (42).</summary>
    public static ulong GetNumaNodeId(ulong r1, ulong r2, ulong r3, ulong r4, ulong r5) => (uint)(HelperInvocation.Current?.Task.NumaNode ?? 0);

    /// <summary>bpf_get_current_pid_tgid (14): tgid &lt;&lt; 32 | pid; -EINVAL without a task.</summary>
    public static ulong GetCurrentPidTgid(ulong r1, ulong r2, ulong r3, ulong r4, ulong r5)
    {
        var task = HelperInvocation.Current?.Task;
        return task is null ? BuiltinHelpers.Err(Errno.EINVAL) : ((ulong)task.Tgid << 32) | task.Pid;
    }

    /// <summary>bpf_get_current_uid_gid (15): gid &lt;&lt; 32 | uid.</summary>
    public static ulong GetCurrentUidGid(ulong r1, ulong r2, ulong r3, ulong r4, ulong r5)
    {
        var task = HelperInvocation.Current?.Task;
        return task is null ? BuiltinHelpers.Err(Errno.EINVAL) : ((ulong)task.Gid << 32) | task.Uid;
    }

    /// <summary>bpf_get_current_comm(buf, size) (16): strscpy_pad (6.4+: the rest of buf is zeroed); -EINVAL and zeroed buf without a task.</summary>
    public static ulong GetCurrentComm(ulong buf, ulong size, ulong r3, ulong r4, ulong r5)
    {
        if (size == 0)
            return 0;
        if (!HelperMemory.CanAccess(buf, size, write: true))
            return BuiltinHelpers.Err(Errno.EFAULT);
        var dest = HelperMemory.Bytes(buf, size);
        dest.Clear();
        var task = HelperInvocation.Current?.Task;
        if (task is null)
            return BuiltinHelpers.Err(Errno.EINVAL);
        var comm = System.Text.Encoding.UTF8.GetBytes(task.Comm);
        int n = Math.Min(Math.Min(comm.Length, TaskModel.CommLength - 1), dest.Length - 1);
        comm.AsSpan(0, n).CopyTo(dest);
        return 0;
    }

    /// <summary>bpf_get_func_ip (173): the traced function's address as set by the attach point (0 otherwise).</summary>
    public static ulong GetFuncIp(ulong ctx, ulong r2, ulong r3, ulong r4, ulong r5) => HelperInvocation.Current?.FuncIp ?? 0;

    /// <summary>bpf_get_attach_cookie (174): the cookie given at attach time, or 0.</summary>
    public static ulong GetAttachCookie(ulong ctx, ulong r2, ulong r3, ulong r4, ulong r5) => HelperInvocation.Current?.Cookie ?? 0;
}
