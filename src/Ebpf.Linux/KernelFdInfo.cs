using System.Globalization;

namespace Ebpf.Linux;

/// <summary>
/// /proc/self/fdinfo/FD of a BPF fd: where bpftool reads memlock, frozen and the object's kind
/// (bpf_obj_get_info_by_fd does not report them).
/// </summary>
internal sealed class KernelFdInfo
{
    private readonly Dictionary<string, string> _fields = new(StringComparer.Ordinal);

    private KernelFdInfo(BpfFd fd)
    {
        string path = $"/proc/self/fdinfo/{fd.Value}";
        if (!File.Exists(path))
            return;
        foreach (var line in File.ReadLines(path))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
                _fields[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }
    }

    public static KernelFdInfo Read(BpfFd fd) => new(fd);

    public bool IsProgram => _fields.ContainsKey("prog_type");
    public bool IsMap => _fields.ContainsKey("map_type");
    public bool IsLink => _fields.ContainsKey("link_type");

    public long? Memlock => _fields.TryGetValue("memlock", out var v) && long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : null;

    public bool Frozen => _fields.TryGetValue("frozen", out var v) && v != "0";
}
