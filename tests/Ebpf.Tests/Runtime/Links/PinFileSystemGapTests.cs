using Ebpf.Abi;
using Ebpf.Runtime;
using Ebpf.Runtime.Objects;

namespace Ebpf.Tests.Runtime.Links;

/// <summary>§1.7 cases PinFileSystemTests leaves out: map access modes per opened handle, programs always read-write,
/// the dot rule on lookups, and pins that are independent references.</summary>
public class PinFileSystemGapTests
{
    private static Errno ErrnoOf(Action a) => Assert.Throws<BpfException>(a).Errno;

    [Fact]
    public void Map_opens_carry_their_mode_and_each_get_is_a_new_reference()
    {
        var rt = new BpfRuntime();
        using var map = rt.CreateMap(new MapDefinition(MapType.Hash, 4, 8, 8, Name: "h"));
        rt.Pins.Pin(map, "/sys/fs/bpf/h");
        using var ro = (BpfMap)rt.Pins.Get("/sys/fs/bpf/h", MapAccess.ReadOnly);
        using var wo = (BpfMap)rt.Pins.Get("/sys/fs/bpf/h", MapAccess.WriteOnly);
        using var rw = (BpfMap)rt.Pins.Get("/sys/fs/bpf/h");
        Assert.Equal((MapAccess.ReadOnly, MapAccess.WriteOnly, MapAccess.ReadWrite), (ro.Access, wo.Access, rw.Access));
        Assert.Equal(Errno.EPERM, ErrnoOf(ro.RequireWritable));
        Assert.Equal(Errno.EPERM, ErrnoOf(wo.RequireReadable));
        rw.RequireReadable();
        rw.RequireWritable();
        Assert.Equal(5, map.Map.UserReferenceCount); // handle + pin + three gets
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => BpfRuntime.AccessFromFlags((uint)(MapFlags.Rdonly | MapFlags.Wronly))));
    }

    [Fact]
    public void Names_with_dots_are_refused_on_lookup_too_and_programs_open_read_write()
    {
        var rt = new BpfRuntime();
        using var prog = RuntimeTestPrograms.Load(rt, name: "p");
        rt.Pins.Pin(prog, "/sys/fs/bpf/p");
        Assert.Equal(Errno.EPERM, ErrnoOf(() => rt.Pins.Get("/sys/fs/bpf/p.debug")));
        Assert.Equal(Errno.EPERM, ErrnoOf(() => rt.Pins.CreateDirectory("/sys/fs/bpf/maps.debug")));
        using var again = (BpfProgram)rt.Pins.Get("/sys/fs/bpf/p", MapAccess.ReadOnly); // a program fd is always read-write (6.18 accepts RDONLY/WRONLY gets of a program: checked with bpf(2))
        Assert.Equal(prog.Id, again.Id);
        rt.Pins.Unpin("/sys/fs/bpf/p");
        Assert.Equal(2, prog.Program.ReferenceCount);
        Assert.Single(rt.GetIds(ObjectKind.Program));
    }
}
