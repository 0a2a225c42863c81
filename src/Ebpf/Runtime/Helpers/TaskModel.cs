namespace Ebpf.Runtime.Helpers;

/// <summary>
/// The "current task" helpers report (get_current_pid_tgid, _uid_gid, _comm). Hosts set their own;
/// the default describes the calling .NET process. <c>Comm</c> is cut to TASK_COMM_LEN-1 = 15 bytes.
/// </summary>
public sealed record TaskModel(uint Pid, uint Tgid, uint Uid, uint Gid, string Comm, int Cpu = 0, int NumaNode = 0)
{
    /// <summary>TASK_COMM_LEN: the comm buffer size including the terminating NUL.</summary>
    public const int CommLength = 16;

    /// <summary>The calling .NET process as a task: its pid as pid and tgid, uid/gid 0, its process name as comm.</summary>
    public static TaskModel Default { get; } = new(
        (uint)Environment.ProcessId, (uint)Environment.ProcessId, 0, 0,
        Truncate(System.Diagnostics.Process.GetCurrentProcess().ProcessName));

    private static string Truncate(string s) => s.Length <= CommLength - 1 ? s : s[..(CommLength - 1)];
}
