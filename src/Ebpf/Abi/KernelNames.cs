using System.Text;

namespace Ebpf.Abi;

/// <summary>The lowercase names bpftool prints for program, map and attach types ("sched_cls", "percpu_hash").</summary>
public static class KernelNames
{
    /// <summary>The name bpftool prints for <paramref name="type"/> (<c>sched_cls</c>, <c>lwt_seg6local</c>).</summary>
    public static string Of(ProgramType type) => type switch
    {
        ProgramType.LwtSeg6Local => "lwt_seg6local",
        ProgramType.RawTracepointWritable => "raw_tracepoint_writable",
        _ => Snake(type.ToString()),
    };

    /// <summary>The name bpftool prints for <paramref name="type"/> (<c>percpu_hash</c>, <c>ringbuf</c>).</summary>
    public static string Of(MapType type) => Snake(type.ToString());

    /// <summary>
    /// The name bpftool prints for <paramref name="type"/> (<c>cgroup_inet_ingress</c>, <c>trace_fentry</c>).
    /// </summary>
    public static string Of(AttachType type) => Snake(type.ToString());

    /// <summary>The program type bpftool calls <paramref name="name"/>, or null.</summary>
    public static ProgramType? ProgramTypeNamed(string name) =>
        Enum.GetValues<ProgramType>().Cast<ProgramType?>().FirstOrDefault(t => Of(t!.Value) == name);

    /// <summary>PascalCase enum member to snake_case (digits stay attached to the word before them).</summary>
    public static string Snake(string pascal)
    {
        var sb = new StringBuilder(pascal.Length + 8);
        for (int i = 0; i < pascal.Length; i++)
        {
            char c = pascal[i];
            if (char.IsUpper(c) && i > 0)
                sb.Append('_');
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }
}
