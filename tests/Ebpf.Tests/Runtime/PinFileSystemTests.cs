using Ebpf.Abi;
using Ebpf.Runtime;
using Ebpf.Runtime.Objects;
using static Ebpf.Tests.Runtime.RuntimeTestPrograms;

namespace Ebpf.Tests.Runtime;

public class PinFileSystemTests
{
    private static Errno ErrnoOf(Action a) => Assert.Throws<BpfException>(a).Errno;

    [Fact]
    public void Pin_holds_a_user_reference_and_get_returns_new_handles()
    {
        var rt = new BpfRuntime();
        var map = Hash(rt);
        var obj = map.Map;
        rt.Pins.Pin(map, "/sys/fs/bpf/counts");
        map.Dispose();
        Assert.Equal(1, obj.UserReferenceCount);
        using var a = (BpfMap)rt.Pins.Get("/sys/fs/bpf/counts");
        using var b = (BpfMap)rt.Pins.Get("/sys/fs/bpf/counts", MapAccess.ReadOnly);
        Assert.Equal(obj.Id, a.Id);
        Assert.Equal(MapAccess.ReadOnly, b.Access);
        Assert.Equal(3, obj.UserReferenceCount);
    }

    [Fact]
    public void Unpin_frees_an_object_nothing_else_holds()
    {
        var rt = new BpfRuntime();
        var prog = Load(rt);
        rt.Pins.Pin(prog, "/sys/fs/bpf/prog");
        prog.Dispose();
        Assert.Single(rt.GetIds(ObjectKind.Program));
        rt.Pins.Unpin("/sys/fs/bpf/prog");
        Assert.Empty(rt.GetIds(ObjectKind.Program));
    }

    [Fact]
    public void Kernel_errors()
    {
        var rt = new BpfRuntime();
        using var map = Hash(rt);
        using var btf = rt.LoadBtf(new byte[] { 1 });
        rt.Pins.Pin(map, "/sys/fs/bpf/m");
        Assert.Equal(Errno.EEXIST, ErrnoOf(() => rt.Pins.Pin(map, "/sys/fs/bpf/m")));
        Assert.Equal(Errno.ENOENT, ErrnoOf(() => rt.Pins.Pin(map, "/sys/fs/bpf/nodir/m")));
        Assert.Equal(Errno.ENOTDIR, ErrnoOf(() => rt.Pins.Pin(map, "/sys/fs/bpf/m/x")));
        Assert.Equal(Errno.EPERM, ErrnoOf(() => rt.Pins.Pin(map, "/tmp/m")));
        Assert.Equal(Errno.EPERM, ErrnoOf(() => rt.Pins.Pin(map, "/sys/fs/bpf/has.dot")));
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => rt.Pins.Pin(btf, "/sys/fs/bpf/btf")));
        Assert.Equal(Errno.ENOENT, ErrnoOf(() => rt.Pins.Get("/sys/fs/bpf/missing")));
        Assert.Equal(Errno.ENOENT, ErrnoOf(() => rt.Pins.Unpin("/sys/fs/bpf/missing")));
        rt.Pins.CreateDirectory("/sys/fs/bpf/dir");
        Assert.Equal(Errno.EEXIST, ErrnoOf(() => rt.Pins.CreateDirectory("/sys/fs/bpf/dir")));
        Assert.Equal(Errno.EACCES, ErrnoOf(() => rt.Pins.Get("/sys/fs/bpf/dir")));
        Assert.Equal(Errno.EISDIR, ErrnoOf(() => rt.Pins.Unpin("/sys/fs/bpf/dir")));
        rt.Pins.Pin(map, "/sys/fs/bpf/dir/inner");
        Assert.Equal(Errno.ENOTEMPTY, ErrnoOf(() => rt.Pins.RemoveDirectory("/sys/fs/bpf/dir")));
        Assert.Equal(Errno.ENOTDIR, ErrnoOf(() => rt.Pins.RemoveDirectory("/sys/fs/bpf/m")));
        rt.Pins.Unpin("/sys/fs/bpf/dir/inner");
        rt.Pins.RemoveDirectory("/sys/fs/bpf/dir");
        Assert.Equal(2, map.Map.UserReferenceCount);
    }

    [Fact]
    public void Links_can_only_be_opened_read_write()
    {
        var rt = new BpfRuntime();
        using var prog = Load(rt);
        using var link = rt.CreateLink(prog, Ebpf.Abi.LinkType.Xdp, Ebpf.Abi.AttachType.Xdp, _ => new NoopAttachment());
        rt.Pins.Pin(link, "/sys/fs/bpf/l");
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => rt.Pins.Get("/sys/fs/bpf/l", MapAccess.ReadOnly)));
        using var again = (BpfLink)rt.Pins.Get("/sys/fs/bpf/l");
        Assert.Equal(link.Id, again.Id);
    }

    [Fact]
    public void List_rename_and_lock()
    {
        var rt = new BpfRuntime();
        using var map = Hash(rt);
        rt.Pins.CreateDirectories("/sys/fs/bpf/a/b");
        rt.Pins.Pin(map, "/sys/fs/bpf/a/b/m");
        rt.Pins.Rename("/sys/fs/bpf/a/b/m", "/sys/fs/bpf/a/m2");
        var entries = rt.Pins.List(recursive: true);
        Assert.Equal(["/sys/fs/bpf/a", "/sys/fs/bpf/a/b", "/sys/fs/bpf/a/m2"], entries.Select(e => e.Path));
        Assert.Equal(["/sys/fs/bpf/a/m2"], rt.Pins.PathsOf(map.Map));
        using (rt.Pins.LockDirectory("/sys/fs/bpf/a"))
            Assert.Equal(Errno.EAGAIN, ErrnoOf(() => rt.Pins.LockDirectory("/sys/fs/bpf/a")));
        using (rt.Pins.LockDirectory("/sys/fs/bpf/a")) { }
    }

    private sealed class NoopAttachment : ILinkAttachment
    {
        public void Release(LinkObject link) { }
    }
}
