using Ebpf.Abi;
using Ebpf.Runtime.Maps;
using static Ebpf.Tests.Runtime.Maps.MapTestUtil;

namespace Ebpf.Tests.Runtime.Maps;

public unsafe class QueueStackTests
{
    private static List<uint> Drain(QueueStackMap m)
    {
        var r = new List<uint>();
        var v = new byte[4];
        while (m.TryPop(v)) r.Add(BitConverter.ToUInt32(v));
        return r;
    }

    [Fact]
    public void QueueFullWithExistOverwritesTheOldest()
    {
        using var q = Make<QueueStackMap>(MapType.Queue, 0, 4, 2);
        q.Push(U32(1));
        q.Push(U32(2));
        Assert.Equal(Errno.E2BIG, q.UpdateElem(default, U32(3)));
        q.Push(U32(3), MapUpdateFlags.Exist);
        var v = new byte[4];
        Assert.True(q.TryPeek(v));
        Assert.Equal(2u, BitConverter.ToUInt32(v));
        Assert.Equal(new uint[] { 2, 3 }, Drain(q));
    }

    [Fact]
    public void StackFullWithExistDropsTheBottom()
    {
        using var s = Make<QueueStackMap>(MapType.Stack, 0, 4, 2);
        s.Push(U32(1));
        s.Push(U32(2));
        s.Push(U32(3), MapUpdateFlags.Exist);
        Assert.Equal(new uint[] { 3, 2 }, Drain(s));
    }

    [Fact]
    public void EmptyAndInvalidOperations()
    {
        using var q = Make<QueueStackMap>(MapType.Queue, 0, 4, 2);
        var v = new byte[] { 1, 2, 3, 4 };
        Assert.Equal(Errno.ENOENT, q.LookupElem(default, v));
        Assert.Equal(Errno.ENOENT, q.LookupAndDeleteElem(default, v));
        Assert.Equal(Errno.EINVAL, q.UpdateElem(default, U32(1), MapUpdateFlags.NoExist));
        Assert.Equal(Errno.EINVAL, q.DeleteElem(default));
        Assert.Equal(Errno.EINVAL, q.GetNextKeyElem(default, default));
        fixed (byte* p = v)
        {
            Assert.Equal(-(long)Errno.ENOENT, q.ProgramPop(p));
            Assert.Equal(new byte[4], v); // zeroed on empty
            *(uint*)p = 7;
            Assert.Equal(0, q.ProgramPush(p, 0));
            Assert.Equal(-(long)Errno.EINVAL, q.ProgramPush(p, 1));
            Assert.Equal(0, q.ProgramPeek(p));
            Assert.Equal(7u, *(uint*)p);
        }
    }
}
