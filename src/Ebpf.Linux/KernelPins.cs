
namespace Ebpf.Linux;

/// <summary>
/// Which bpffs paths pin which object ids: a walk of every mounted bpffs, as `bpftool -f` builds
/// its table, so `show` lists "pinned PATH" lines like the managed runtime's pin table does.
/// </summary>
internal sealed class KernelPins
{
    private readonly Dictionary<uint, List<string>> _programs = new();
    private readonly Dictionary<uint, List<string>> _maps = new();

    private readonly Dictionary<uint, List<string>> _links = new();

    public IReadOnlyList<string> OfProgram(uint id) => _programs.TryGetValue(id, out var l) ? l : [];
    public IReadOnlyList<string> OfMap(uint id) => _maps.TryGetValue(id, out var l) ? l : [];

    /// <summary>Every pin by (kind, id).</summary>
    public IReadOnlyDictionary<(Abi.ObjectKind Kind, uint Id), IReadOnlyList<string>> All =>
        _programs.Select(p => ((Abi.ObjectKind.Program, p.Key), p.Value))
            .Concat(_maps.Select(m => ((Abi.ObjectKind.Map, m.Key), m.Value)))
            .Concat(_links.Select(l => ((Abi.ObjectKind.Link, l.Key), l.Value)))
            .ToDictionary(e => e.Item1, e => (IReadOnlyList<string>)e.Value);

    public static KernelPins Scan()
    {
        var pins = new KernelPins();
        foreach (var mount in BpfMounts())
            pins.Walk(mount, depth: 0);
        foreach (var list in pins._programs.Values.Concat(pins._maps.Values).Concat(pins._links.Values))
            list.Sort(StringComparer.Ordinal);
        return pins;
    }

    /// <summary>What pinning at a path needs first.</summary>
    internal enum PinTarget
    {
        /// <summary>The path's nearest existing directory is on a bpffs.</summary>
        Ready,
        /// <summary>The path is under /sys/fs/bpf, which has no bpffs yet: bpftool mounts one there and goes on.</summary>
        MountStandard,
        /// <summary>Anywhere else off bpffs: refused (mounting over an arbitrary directory would hide what is in it).</summary>
        NotBpfFs,
    }

    /// <summary>
    /// Makes PATH pinnable or says why not, before anything is loaded: under /sys/fs/bpf without a bpffs, mounts
    /// one there (as bpftool does); elsewhere off bpffs, an EINVAL naming the directory (as libbpf's "not on BPF
    /// FS") instead of the kernel's bare EPERM or a half-created directory. DIRECTORY: the path is a directory
    /// to pin into (prog loadall, pinmaps) rather than the pin itself.
    /// </summary>
    public static void PrepareTarget(string path, bool directory)
    {
        string full = Path.GetFullPath(path);
        var (target, probe) = Decide(full, directory, Directory.Exists, BpfFs.IsBpfFs);
        switch (target)
        {
            case PinTarget.Ready:
                return;
            case PinTarget.MountStandard:
                BpfFs.Mount(BpfFs.DefaultMount);
                return;
            default:
                throw new BpfException(Errno.EINVAL,
                    $"cannot pin at {path}: {probe ?? "/"} is not on a BPF file system (mount one: mount -t bpf bpf DIR)");
        }
    }

    /// <summary>mkdir -p on a bpffs; a path component that is a pin (a file) is an ENOTDIR naming the path.</summary>
    public static void CreateDirectory(string path)
    {
        try
        {
            Directory.CreateDirectory(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BpfException(e is UnauthorizedAccessException ? Errno.EACCES : Errno.ENOTDIR, $"cannot create pin directory {path}: {e.Message}");
        }
    }

    /// <summary>The decision behind <see cref="PrepareTarget"/>, over the file system as the two predicates see it.</summary>
    internal static (PinTarget Target, string? Probe) Decide(string fullPath, bool directory, Func<string, bool> directoryExists, Func<string, bool> isBpfFs)
    {
        string trimmed = fullPath.Length > 1 ? fullPath.TrimEnd('/') : fullPath;
        // Where the pin lands: the directory itself when pinning into one that exists, else the parent,
        // walking up past directories still to be created.
        string? probe = directory && directoryExists(trimmed) ? trimmed : Path.GetDirectoryName(trimmed);
        while (probe is not null && !directoryExists(probe))
            probe = Path.GetDirectoryName(probe);
        if (probe is not null && isBpfFs(probe))
            return (PinTarget.Ready, probe);
        bool underStandard = trimmed == BpfFs.DefaultMount || trimmed.StartsWith(BpfFs.DefaultMount + "/", StringComparison.Ordinal);
        if (underStandard && directoryExists(BpfFs.DefaultMount) && !isBpfFs(BpfFs.DefaultMount))
            return (PinTarget.MountStandard, BpfFs.DefaultMount);
        return (PinTarget.NotBpfFs, probe);
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
            else if (info.IsLink)
                Add(_links, KernelLink.FromFd(fd).GetInfo().Id, path);
        }
    }

    private static void Add(Dictionary<uint, List<string>> table, uint id, string path)
    {
        if (!table.TryGetValue(id, out var list))
            table[id] = list = [];
        list.Add(path);
    }
}
