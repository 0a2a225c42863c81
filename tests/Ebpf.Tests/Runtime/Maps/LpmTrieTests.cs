using Ebpf.Abi;
using Ebpf.Runtime.Maps;
using static Ebpf.Tests.Runtime.Maps.MapTestUtil;

namespace Ebpf.Tests.Runtime.Maps;

public class LpmTrieTests
{
    private static byte[] Key(uint prefix, params byte[] ip) => [.. U32(prefix), .. ip];

    private static LpmTrieMap Trie(uint max = 16) => Make<LpmTrieMap>(MapType.LpmTrie, 8, 4, max, MapFlags.NoPrealloc);

    private static uint? Match(LpmTrieMap t, byte[] key)
    {
        var v = new byte[4];
        return t.TryLookup(key, v) ? BitConverter.ToUInt32(v) : null;
    }

    [Fact]
    public void LongestPrefixMatchAsObserved()
    {
        using var t = Trie();
        t.Update(Key(8, 10, 0, 0, 0), U32(8));
        t.Update(Key(24, 10, 1, 2, 0), U32(24));
        Assert.Equal(24u, Match(t, Key(32, 10, 1, 2, 3)));
        Assert.Equal(8u, Match(t, Key(32, 10, 9, 2, 3)));
        Assert.Null(Match(t, Key(32, 11, 1, 2, 3)));
        Assert.Equal(8u, Match(t, Key(16, 10, 1, 0, 0)));
    }

    [Fact]
    public void GetNextKeyIsPostOrder()
    {
        using var t = Trie();
        t.Update(Key(8, 10, 0, 0, 0), U32(8));
        t.Update(Key(24, 10, 1, 2, 0), U32(24));
        var next = new byte[8];
        Assert.True(t.GetNextKey(default, next));
        Assert.Equal(Key(24, 10, 1, 2, 0), next);
        Assert.True(t.GetNextKey(next.ToArray(), next));
        Assert.Equal(Key(8, 10, 0, 0, 0), next);
        Assert.False(t.GetNextKey(next.ToArray(), next));
        Assert.True(t.GetNextKey(Key(16, 99, 0, 0, 0), next)); // missing → first
        Assert.Equal(Key(24, 10, 1, 2, 0), next);
    }

    [Fact]
    public void ErrorsAndDelete()
    {
        using var t = Trie(2);
        Assert.Equal(Errno.EINVAL, t.UpdateElem(Key(33, 1, 2, 3, 4), U32(1)));
        t.Update(Key(16, 192, 168, 0, 0), U32(16));
        t.Update(Key(24, 192, 168, 1, 0), U32(24));
        Assert.Equal(Errno.ENOSPC, t.UpdateElem(Key(32, 1, 1, 1, 1), U32(1)));
        Assert.Equal(Errno.EEXIST, t.UpdateElem(Key(16, 192, 168, 0, 0), U32(1), MapUpdateFlags.NoExist));
        Assert.Equal(Errno.ENOENT, t.UpdateElem(Key(20, 192, 168, 0, 0), U32(1), MapUpdateFlags.Exist));
        Assert.Equal(Errno.ENOENT, t.DeleteElem(Key(20, 192, 168, 0, 0)));
        t.Delete(Key(24, 192, 168, 1, 0));
        Assert.Equal(16u, Match(t, Key(32, 192, 168, 1, 1)));
        t.Update(Key(32, 1, 1, 1, 1), U32(32));
        Assert.Equal(32u, Match(t, Key(32, 1, 1, 1, 1)));
    }

    [Fact]
    public void MatchesABruteForceModel()
    {
        using var t = Make<LpmTrieMap>(MapType.LpmTrie, 6, 4, 1000, MapFlags.NoPrealloc);
        var rnd = new Random(7);
        var model = new Dictionary<(uint, ushort), uint>();
        static ushort Mask(ushort v, uint p) => p == 0 ? (ushort)0 : (ushort)(v & (0xffff << (int)(16 - p)));
        byte[] K(uint p, ushort v) => [.. U32(p), (byte)(v >> 8), (byte)v];
        for (int i = 0; i < 3000; i++)
        {
            uint p = (uint)rnd.Next(0, 17);
            ushort v = Mask((ushort)rnd.Next(0, 65536), p);
            if (rnd.Next(3) == 0)
            {
                var e = t.DeleteElem(K(p, v));
                Assert.Equal(model.Remove((p, v)) ? Errno.None : Errno.ENOENT, e);
            }
            else if (model.Count < 1000)
            {
                t.Update(K(p, v), U32((uint)i));
                model[(p, v)] = (uint)i;
            }
            if (i % 10 == 0)
            {
                ushort probe = (ushort)rnd.Next(0, 65536);
                uint? expect = null;
                for (int pl = 16; pl >= 0 && expect is null; pl--)
                    if (model.TryGetValue(((uint)pl, Mask(probe, (uint)pl)), out var val)) expect = val;
                Assert.Equal(expect, Match(t, K(16, probe)));
            }
        }
        Assert.Equal(model.Count, (int)t.Count);
        Assert.Equal(model.Count, t.Keys().Count);
    }
}
