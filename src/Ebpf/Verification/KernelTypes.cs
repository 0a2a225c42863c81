using System.Collections.Concurrent;

namespace Ebpf.Verification;

/// <summary>
/// Names of the kernel structs typed pointers (<see cref="RegisterType.BtfId"/>) point to, interned to small
/// numbers. A BtfId register keeps its struct's number in <see cref="RegisterState.MemSize"/> (unused for that
/// type otherwise), so state comparison, which already compares MemSize, never confuses two struct types.
/// </summary>
internal static class KernelTypes
{
    private static readonly ConcurrentDictionary<string, int> Ids = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<int, string> Names = new();
    private static int _next;

    /// <summary>0 = a typed pointer whose struct is not known (it then matches no typed helper argument).</summary>
    public const int Unknown = 0;

    public static int Intern(string? name)
    {
        if (string.IsNullOrEmpty(name)) return Unknown;
        return Ids.GetOrAdd(name, n =>
        {
            int id = Interlocked.Increment(ref _next);
            Names[id] = n;
            return id;
        });
    }

    public static string Name(int id) => Names.TryGetValue(id, out var n) ? n : "";

    /// <summary>Structs whose first member leads to <c>struct sock_common</c>, so <c>btf_struct_ids_match</c>
    /// accepts them where a sock_common is expected (ARG_PTR_TO_BTF_ID_SOCK_COMMON).</summary>
    private static readonly HashSet<string> SockCommonFamily =
    [
        "sock_common", "sock", "inet_sock", "inet_connection_sock", "tcp_sock", "tcp6_sock", "udp_sock", "udp6_sock",
        "unix_sock", "mptcp_sock", "tcp_timewait_sock", "inet_timewait_sock", "tcp_request_sock", "inet_request_sock",
        "request_sock",
    ];

    public static bool IsSockCommon(int id) => SockCommonFamily.Contains(Name(id));

    /// <summary>What a per-CPU typed pointer (PTR_TO_BTF_ID | MEM_PERCPU, a per-CPU __ksym) points to: the type's
    /// name, whether it is a struct (bpf_per_cpu_ptr then returns a typed pointer, else read-only memory of
    /// <paramref name="Size"/> bytes).</summary>
    internal readonly record struct PercpuType(string Name, bool IsStruct, int Size);

    private static readonly ConcurrentDictionary<int, PercpuType> PercpuTypes = new();

    /// <summary>The number of a per-CPU pointer's type, distinct from the plain typed pointer's (state comparison
    /// compares MemSize, so a per-CPU pointer never matches a plain one).</summary>
    public static int InternPercpu(string name, bool isStruct, int size)
    {
        // ':' is no C identifier character: the key cannot collide with a struct name.
        int id = Intern($"percpu:{(isStruct ? 's' : 'm')}{size}:{name}");
        PercpuTypes.TryAdd(id, new PercpuType(name, isStruct, size));
        return id;
    }

    public static bool TryGetPercpu(int id, out PercpuType type) => PercpuTypes.TryGetValue(id, out type);

    /// <summary>The <c>ptr_</c> log name of a typed pointer, e.g. <c>ptr_task_struct</c>.</summary>
    public static string LogName(int id) => "ptr_" + Name(id);
}
