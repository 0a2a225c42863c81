using Ebpf.Linux;

namespace Ebpf.Cli.Commands.Linux;

/// <summary>
/// Which bpffs paths pin which object ids: a walk of every mounted bpffs, as `bpftool -f` builds
/// its table, so `show` lists "pinned PATH" lines like the managed runtime's pin table does.
/// </summary>
internal sealed class KernelPins
{
    private readonly Dictionary<uint, List<string>> _programs = new();
    private readonly Dictionary<uint, List<string>> _maps = new();

    public IReadOnlyList<string> OfProgram(uint id) => _programs.TryGetValue(id, out var l) ? l : [];
    public IReadOnlyList<string> OfMap(uint id) => _maps.TryGetValue(id, out var l) ? l : [];

    public static KernelPins Scan()
    {
        var pins = new KernelPins();
        foreach (var mount in BpfMounts())
            pins.Walk(mount, depth: 0);
        foreach (var list in pins._programs.Values.Concat(pins._maps.Values))
            list.Sort(StringComparer.Ordinal);
        return pins;
    }

    /// <summary>Mount points of type bpf from /proc/self/mounts (octal escapes such as \040 decoded).</summary>
    private static IEnumerable<string> BpfMounts()
    {
        if (!File.Exists("/proc/self/mounts"))
            yield break;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines("/proc/self/mounts"))
        {
            var parts = line.Split(' ');
            if (parts.Length > 2 && parts[2] == "bpf" && seen.Add(parts[1]))
                yield return System.Text.RegularExpressions.Regex.Replace(parts[1], @"\\([0-7]{3})", m => ((char)Convert.ToInt32(m.Groups[1].Value, 8)).ToString());
        }
    }

    private void Walk(string directory, int depth)
    {
        // bpffs trees are shallow; the bound keeps a pathological tree from running away.
        if (depth > 16)
            return;
        IEnumerable<string> files, dirs;
        try
        {
            files = Directory.EnumerateFiles(directory).ToList();
            dirs = Directory.EnumerateDirectories(directory).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }
        foreach (var file in files)
            Record(file);
        foreach (var dir in dirs)
        {
            var info = new DirectoryInfo(dir);
            if (info.LinkTarget is null)
                Walk(dir, depth + 1);
        }
    }

    private void Record(string path)
    {
        BpfFd fd;
        try
        {
            // The kind passed here only labels the fd; fdinfo says what it really is.
            fd = BpfFs.Get(path, BpfObjectKind.Map);
        }
        catch (BpfException)
        {
            return; // not a BPF object we can open (or a link): prog/map show skip it too
        }
        using (fd)
        {
            var info = KernelFdInfo.Read(fd);
            if (info.IsProgram)
                Add(_programs, KernelProgram.FromFd(fd).GetInfo().Id, path);
            else if (info.IsMap)
                Add(_maps, KernelMap.FromFd(fd).GetInfo().Id, path);
        }
    }

    private static void Add(Dictionary<uint, List<string>> table, uint id, string path)
    {
        if (!table.TryGetValue(id, out var list))
            table[id] = list = [];
        list.Add(path);
    }
}
