using Ebpf.Collections;
using Ebpf.Abi;
using Ebpf.Runtime.Objects;

namespace Ebpf.Runtime.PinFs;

/// <summary>
/// The runtime's bpffs, mounted at <see cref="MountPoint"/>: directories plus files that each hold
/// one reference on a program, map (refcnt + usercnt) or link (kernel-semantics.md §1.7, §7.3).
/// Errors follow the kernel: EEXIST for an existing name, ENOENT for a missing path or parent,
/// ENOTDIR for a file used as a directory, EPERM for paths outside bpffs and for names with '.',
/// EINVAL for objects that cannot be pinned (BTF), EACCES for getting a directory, ENOTEMPTY for
/// rmdir of a non-empty directory, EISDIR for unlinking a directory.
/// </summary>
public sealed class PinFileSystem
{
    /// <summary>Where the runtime's bpffs is mounted: every pin path must lie below it, as with the kernel's usual mount.</summary>
    public const string MountPoint = "/sys/fs/bpf";

    private readonly BpfRuntime _runtime;
    private readonly Directory _root = new();
    private readonly Lock _lock = new();

    internal PinFileSystem(BpfRuntime runtime)
    {
        _runtime = runtime;
    }

    private abstract class Node;

    private sealed class Directory : Node
    {
        public readonly SortedDictionary<string, Node> Children = new(StringComparer.Ordinal);
        public bool Locked;
    }

    private sealed class ObjectFile(KernelObject obj) : Node
    {
        public readonly KernelObject Object = obj;
    }

    /// <summary>One entry of <see cref="List"/>.</summary>
    public sealed record Entry(string Path, bool IsDirectory, ObjectKind? Kind, uint Id);

    /// <summary>BPF_OBJ_PIN: the new file takes its own reference.</summary>
    public void Pin(BpfHandle handle, string path)
    {
        ArgumentNullException.ThrowIfNull(handle);
        handle.ThrowIfClosed();
        var obj = handle.Object;
        if (obj is BtfObject)
            throw new BpfException(Errno.EINVAL, $"pin '{path}': BTF objects cannot be pinned");
        if (!ReferenceEquals(obj.Runtime, _runtime))
            throw new BpfException(Errno.EINVAL, $"pin '{path}': handle belongs to another runtime");
        lock (_lock)
        {
            var (parent, name) = ResolveParent(path, creating: true);
            if (parent.Children.ContainsKey(name))
                throw new BpfException(Errno.EEXIST, $"pin '{path}': file exists");
            TakeReference(obj);
            parent.Children.Add(name, new ObjectFile(obj));
        }
    }

    /// <summary>BPF_OBJ_GET: a new handle on the pinned object (maps with the requested access; links only read-write).</summary>
    public BpfHandle Get(string path, MapAccess access = MapAccess.ReadWrite)
    {
        lock (_lock)
        {
            var node = Resolve(path);
            if (node is not ObjectFile file)
                throw new BpfException(Errno.EACCES, $"get '{path}': not a BPF object");
            switch (file.Object)
            {
                case MapObject map:
                    map.AcquireUser();
                    return new BpfMap(map, access);
                case ProgramObject prog:
                    prog.Acquire();
                    return new BpfProgram(prog);
                case LinkObject link:
                    if (access != MapAccess.ReadWrite)
                        throw new BpfException(Errno.EINVAL, $"get '{path}': links can only be opened read-write");
                    link.Acquire();
                    return new BpfLink(link);
                default:
                    throw new BpfException(Errno.EACCES, $"get '{path}': not a BPF object");
            }
        }
    }

    /// <summary>The pinned object without taking a reference (inspection); null when missing or a directory.</summary>
    public KernelObject? Peek(string path)
    {
        lock (_lock)
        {
            try { return (Resolve(path) as ObjectFile)?.Object; }
            catch (BpfException) { return null; }
        }
    }

    /// <summary>unlink(2) of a pinned file: drops the file's reference (a link whose last reference this was detaches).</summary>
    public void Unpin(string path)
    {
        KernelObject obj;
        lock (_lock)
        {
            var (parent, name) = ResolveParent(path, creating: false);
            if (!parent.Children.TryGetValue(name, out var node))
                throw new BpfException(Errno.ENOENT, $"unlink '{path}': no such file");
            if (node is not ObjectFile file)
                throw new BpfException(Errno.EISDIR, $"unlink '{path}': is a directory");
            parent.Children.Remove(name);
            obj = file.Object;
        }
        // Outside the lock: releasing may free objects (and run link detach callbacks).
        DropReference(obj);
    }

    /// <summary>mkdir(2).</summary>
    public void CreateDirectory(string path)
    {
        lock (_lock)
        {
            var (parent, name) = ResolveParent(path, creating: true);
            if (parent.Children.ContainsKey(name))
                throw new BpfException(Errno.EEXIST, $"mkdir '{path}': file exists");
            parent.Children.Add(name, new Directory());
        }
    }

    /// <summary>mkdir -p: creates missing directories; ENOTDIR if a file is in the way.</summary>
    public void CreateDirectories(string path)
    {
        var parts = Split(path);
        lock (_lock)
        {
            var dir = _root;
            foreach (var part in parts)
            {
                CheckName(part, path);
                if (!dir.Children.TryGetValue(part, out var node))
                    dir.Children.Add(part, node = new Directory());
                dir = node as Directory ?? throw new BpfException(Errno.ENOTDIR, $"mkdir '{path}': '{part}' is not a directory");
            }
        }
    }

    /// <summary>rmdir(2): ENOTEMPTY unless empty, ENOTDIR on a file, EBUSY for the mount point.</summary>
    public void RemoveDirectory(string path)
    {
        lock (_lock)
        {
            if (Split(path).Length == 0)
                throw new BpfException(Errno.EBUSY, $"rmdir '{path}': mount point");
            var (parent, name) = ResolveParent(path, creating: false);
            if (!parent.Children.TryGetValue(name, out var node))
                throw new BpfException(Errno.ENOENT, $"rmdir '{path}': no such directory");
            if (node is not Directory dir)
                throw new BpfException(Errno.ENOTDIR, $"rmdir '{path}': not a directory");
            if (dir.Children.Count != 0)
                throw new BpfException(Errno.ENOTEMPTY, $"rmdir '{path}': directory not empty");
            parent.Children.Remove(name);
        }
    }

    /// <summary>rename(2) within bpffs (the target must not exist: EEXIST, like RENAME_NOREPLACE).</summary>
    public void Rename(string from, string to)
    {
        lock (_lock)
        {
            var (srcParent, srcName) = ResolveParent(from, creating: false);
            if (!srcParent.Children.TryGetValue(srcName, out var node))
                throw new BpfException(Errno.ENOENT, $"rename '{from}': no such file");
            var (dstParent, dstName) = ResolveParent(to, creating: true);
            if (dstParent.Children.ContainsKey(dstName))
                throw new BpfException(Errno.EEXIST, $"rename '{to}': file exists");
            if (node is Directory d && IsAncestorOf(d, dstParent))
                throw new BpfException(Errno.EINVAL, $"rename '{from}' into its own subdirectory");
            srcParent.Children.Remove(srcName);
            dstParent.Children.Add(dstName, node);
        }
    }

    /// <summary>
    /// flock(LOCK_EX|LOCK_NB) on a directory (libxdp's protocol): returns a token whose disposal unlocks,
    /// EAGAIN (EWOULDBLOCK) when another holder has it.
    /// </summary>
    public IDisposable LockDirectory(string path)
    {
        lock (_lock)
        {
            var dir = Resolve(path) as Directory ?? throw new BpfException(Errno.ENOTDIR, $"lock '{path}': not a directory");
            if (dir.Locked)
                throw new BpfException(Errno.EAGAIN, $"lock '{path}': already locked");
            dir.Locked = true;
            return new Unlocker(this, dir);
        }
    }

    private sealed class Unlocker(PinFileSystem fs, Directory dir) : IDisposable
    {
        private int _done;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
                lock (fs._lock) dir.Locked = false;
        }
    }

    /// <summary>Entries under a directory (recursively when asked), sorted by path.</summary>
    public IReadOnlyList<Entry> List(string path = MountPoint, bool recursive = false)
    {
        lock (_lock)
        {
            var node = Resolve(path);
            if (node is not Directory dir)
                throw new BpfException(Errno.ENOTDIR, $"list '{path}': not a directory");
            var result = new List<Entry>();
            Collect(dir, "/" + string.Join('/', new[] { MountPoint.Trim('/') }.Concat(Split(path))), recursive, result);
            return result;
        }
    }

    private static void Collect(Directory dir, string prefix, bool recursive, List<Entry> into)
    {
        foreach (var (name, child) in dir.Children)
        {
            string full = prefix + "/" + name;
            if (child is ObjectFile f)
                into.Add(new Entry(full, false, f.Object.Kind, f.Object.Id));
            else
            {
                into.Add(new Entry(full, true, null, 0));
                if (recursive)
                    Collect((Directory)child, full, true, into);
            }
        }
    }

    /// <summary>All pinned paths of an object (bpftool's "pinned" lines).</summary>
    public IReadOnlyList<string> PathsOf(KernelObject obj) =>
        List(MountPoint, recursive: true).Where(e => e.Kind == obj.Kind && e.Id == obj.Id && !e.IsDirectory).Select(e => e.Path).ToArray();

    /// <summary>Drops every pin (runtime teardown).</summary>
    public void Clear()
    {
        List<KernelObject> objects = new();
        lock (_lock)
        {
            Gather(_root, objects);
            _root.Children.Clear();
        }
        foreach (var obj in objects)
            DropReference(obj);

        static void Gather(Directory d, List<KernelObject> into)
        {
            foreach (var child in d.Children.Values)
            {
                if (child is ObjectFile f) into.Add(f.Object);
                else Gather((Directory)child, into);
            }
        }
    }

    // ---- path handling ---------------------------------------------------------------------------

    private static void TakeReference(KernelObject obj)
    {
        if (obj is MapObject map)
            map.AcquireUser();
        else
            obj.Acquire();
    }

    private static void DropReference(KernelObject obj)
    {
        if (obj is MapObject map)
            map.ReleaseUser();
        else
            obj.Release();
    }

    /// <summary>Path components below the mount point; EPERM for paths outside bpffs.</summary>
    private static string[] Split(string path)
    {
        if (string.IsNullOrEmpty(path))
            throw new BpfException(Errno.ENOENT, "empty path");
        var parts = new List<string>();
        foreach (var part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == ".")
                continue;
            if (part == "..")
            {
                if (parts.Count > 0) parts.RemoveAt(parts.Count - 1);
                continue;
            }
            parts.Add(part);
        }
        string[] mount = MountPoint.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (!path.StartsWith('/') || parts.Count < mount.Length || !parts.Take(mount.Length).SequenceEqual(mount))
            throw new BpfException(Errno.EPERM, $"'{path}' is not on a bpf filesystem (mounted at {MountPoint})");
        return parts.Skip(mount.Length).ToArray();
    }

    private static void CheckName(string name, string path)
    {
        // Dotted names are reserved in bpffs directories (the kernel's bpf_lookup).
        if (name.Contains('.'))
            throw new BpfException(Errno.EPERM, $"'{path}': names containing '.' are reserved in bpffs");
        if (name.Length > 255)
            throw new BpfException(Errno.ENAMETOOLONG, $"'{path}': name too long");
    }

    private Node Resolve(string path)
    {
        Node node = _root;
        foreach (var part in Split(path))
        {
            if (node is not Directory dir)
                throw new BpfException(Errno.ENOTDIR, $"'{path}': a path component is not a directory");
            CheckName(part, path);
            if (!dir.Children.TryGetValue(part, out var child))
                throw new BpfException(Errno.ENOENT, $"'{path}': no such file or directory");
            node = child;
        }
        return node;
    }

    private (Directory Parent, string Name) ResolveParent(string path, bool creating)
    {
        var parts = Split(path);
        if (parts.Length == 0)
            throw new BpfException(creating ? Errno.EEXIST : Errno.EBUSY, $"'{path}' is the bpffs mount point");
        Directory dir = _root;
        for (int i = 0; i < parts.Length - 1; i++)
        {
            CheckName(parts[i], path);
            if (!dir.Children.TryGetValue(parts[i], out var child))
                throw new BpfException(Errno.ENOENT, $"'{path}': directory '{parts[i]}' does not exist");
            dir = child as Directory ?? throw new BpfException(Errno.ENOTDIR, $"'{path}': '{parts[i]}' is not a directory");
        }
        CheckName(parts[^1], path);
        return (dir, parts[^1]);
    }

    private static bool IsAncestorOf(Directory candidate, Directory node)
    {
        if (ReferenceEquals(candidate, node))
            return true;
        foreach (var child in candidate.Children.Values)
            if (child is Directory d && IsAncestorOf(d, node))
                return true;
        return false;
    }
}
