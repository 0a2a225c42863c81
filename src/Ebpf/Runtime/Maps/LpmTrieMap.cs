using Ebpf.Collections;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Ebpf.Abi;
using Ebpf.Runtime.Memory;

namespace Ebpf.Runtime.Maps;

/// <summary>
/// BPF_MAP_TYPE_LPM_TRIE: the kernel's path-compressed binary trie. Keys are
/// <c>struct bpf_lpm_trie_key_u8 { u32 prefixlen (host endian); u8 data[key_size − 4]; }</c>, data
/// most significant bit first; max_prefixlen = 8 × (key_size − 4). Lookup returns the longest stored
/// prefix matching the key; update with prefixlen > max → EINVAL, full → ENOSPC; delete needs the
/// exact prefix (ENOENT); get_next_key walks post-order (most specific first, NULL/missing → first).
/// Writers serialize on a lock; lookups are lock-free (children and values are published with
/// release stores; replaced values are retired through the epoch).
/// </summary>
internal sealed unsafe class LpmTrieMap : BpfMapBase
{
    private sealed class Node
    {
        public uint PrefixLen;
        public byte[] Data = [];
        public nint Value;            // 0 = intermediate node
        public readonly Node?[] Child = new Node?[2];
    }

    private readonly object _lock = new();
    private readonly int _dataSize;
    private readonly uint _maxPrefix;
    private readonly int _vs;
    private Node? _root;
    private uint _entries;

    internal LpmTrieMap(MapDefinition a) : base(a, a.MaxEntries)
    {
        _dataSize = (int)a.KeySize - 4;
        _maxPrefix = (uint)_dataSize * 8;
        _vs = (int)a.ValueSize;
    }

    public uint Count { get { lock (_lock) return _entries; } }

    private static int Bit(ReadOnlySpan<byte> data, uint index) => (data[(int)(index / 8)] >> (int)(7 - index % 8)) & 1;

    private uint MatchLen(Node node, uint keyPrefix, ReadOnlySpan<byte> keyData)
    {
        uint limit = Math.Min(node.PrefixLen, keyPrefix);
        uint n = 0;
        for (int i = 0; n < limit && i < _dataSize; i++)
        {
            int diff = node.Data[i] ^ keyData[i];
            if (diff == 0) { n += 8; continue; }
            n += (uint)System.Numerics.BitOperations.LeadingZeroCount((uint)diff) - 24;
            break;
        }
        return Math.Min(n, limit);
    }

    private nint FindValue(uint prefix, ReadOnlySpan<byte> data)
    {
        Node? found = null;
        for (var node = Volatile.Read(ref _root); node is not null;)
        {
            uint m = MatchLen(node, prefix, data);
            if (m == _maxPrefix)
            {
                if (node.Value != 0) found = node;
                break;
            }
            if (m < node.PrefixLen) break;
            if (node.Value != 0) found = node;
            if (node.PrefixLen >= prefix) break;
            node = Volatile.Read(ref node.Child[Bit(data, node.PrefixLen)]);
        }
        return found is null ? 0 : Volatile.Read(ref found.Value);
    }

    private protected override void FreeNative()
    {
        lock (_lock)
        {
            var stack = new Stack<Node>();
            if (_root is not null) stack.Push(_root);
            while (stack.Count > 0)
            {
                var n = stack.Pop();
                if (n.Value != 0) EpochManager.Retire((void*)n.Value);
                foreach (var c in n.Child) if (c is not null) stack.Push(c);
            }
            _root = null;
            _entries = 0;
        }
    }

    // ---------------- shared operations

    private Errno Update(uint prefix, ReadOnlySpan<byte> data, byte* value, MapUpdateFlags flags)
    {
        if ((ulong)flags > (ulong)MapUpdateFlags.Exist) return Errno.EINVAL;
        if (prefix > _maxPrefix) return Errno.EINVAL;
        var fresh = new Node { PrefixLen = prefix, Data = data.ToArray() };
        lock (_lock)
        {
            ref Node? slot = ref _root;
            Node? node;
            uint m = 0;
            while ((node = slot) is not null)
            {
                m = MatchLen(node, prefix, data);
                if (node.PrefixLen != m || node.PrefixLen == prefix || node.PrefixLen == _maxPrefix) break;
                slot = ref node.Child[Bit(data, node.PrefixLen)];
            }
            bool exact = node is not null && node.PrefixLen == m && m == prefix;
            bool replacesValue = exact && node!.Value != 0;
            if (replacesValue && flags == MapUpdateFlags.NoExist) return Errno.EEXIST;
            if (!replacesValue && flags == MapUpdateFlags.Exist) return Errno.ENOENT;
            if (!replacesValue && _entries >= MaxEntries) return Errno.ENOSPC;

            fresh.Value = (nint)NativeMemory.Alloc((nuint)_vs);
            Buffer.MemoryCopy(value, (void*)fresh.Value, _vs, _vs);
            if (!replacesValue) _entries++;

            if (node is null)
            {
                Volatile.Write(ref slot, fresh);
            }
            else if (exact)
            {
                fresh.Child[0] = node.Child[0];
                fresh.Child[1] = node.Child[1];
                nint oldValue = node.Value;
                Volatile.Write(ref slot, fresh);
                if (oldValue != 0) EpochManager.Retire((void*)oldValue);
            }
            else if (m == prefix)
            {
                // The new prefix is shorter: it becomes the parent of the existing node.
                fresh.Child[Bit(node.Data, m)] = node;
                Volatile.Write(ref slot, fresh);
            }
            else
            {
                var im = new Node { PrefixLen = m, Data = data.ToArray() };
                im.Child[Bit(data, m)] = fresh;
                im.Child[Bit(node.Data, m) ] = node;
                if (im.Child[0] is null || im.Child[1] is null) throw new InvalidOperationException("lpm: branch bits coincide");
                Volatile.Write(ref slot, im);
            }
        }
        return Errno.None;
    }

    private Errno Delete(uint prefix, ReadOnlySpan<byte> data, byte* valueOut)
    {
        if (prefix > _maxPrefix) return Errno.EINVAL;
        lock (_lock)
        {
            Node? parent = null;
            ref Node? trim = ref _root;
            ref Node? trim2 = ref _root; // the parent's slot
            Node? node;
            uint m = 0;
            while ((node = trim) is not null)
            {
                m = MatchLen(node, prefix, data);
                if (node.PrefixLen != m || node.PrefixLen == prefix) break;
                parent = node;
                trim2 = ref trim;
                trim = ref node.Child[Bit(data, node.PrefixLen)];
            }
            if (node is null || node.PrefixLen != prefix || m != prefix || node.Value == 0) return Errno.ENOENT;
            nint value = node.Value;
            if (valueOut != null) Buffer.MemoryCopy((void*)value, valueOut, _vs, _vs);
            _entries--;

            if (node.Child[0] is not null && node.Child[1] is not null)
            {
                // Still needed as a branch point: becomes an intermediate node (replaced, so readers never see a half state).
                var im = new Node { PrefixLen = node.PrefixLen, Data = node.Data };
                im.Child[0] = node.Child[0];
                im.Child[1] = node.Child[1];
                Volatile.Write(ref trim, im);
            }
            else if (parent is not null && parent.Value == 0 && node.Child[0] is null && node.Child[1] is null)
            {
                // The intermediate parent is left with one child: replace the parent by that child.
                var other = parent.Child[0] == node ? parent.Child[1] : parent.Child[0];
                Volatile.Write(ref trim2, other);
            }
            else
            {
                Volatile.Write(ref trim, node.Child[0] ?? node.Child[1]);
            }
            EpochManager.Retire((void*)value);
        }
        return Errno.None;
    }

    private List<Node> PostOrder()
    {
        var list = new List<Node>();
        void Walk(Node? n)
        {
            if (n is null) return;
            Walk(n.Child[0]);
            Walk(n.Child[1]);
            if (n.Value != 0) list.Add(n);
        }
        Walk(Volatile.Read(ref _root));
        return list;
    }

    // ---------------- host API

    private protected override Errno LookupCore(ReadOnlySpan<byte> key, Span<byte> value, MapUpdateFlags flags)
    {
        if (flags != 0) return Errno.EINVAL;
        nint v = FindValue(BinaryPrimitives.ReadUInt32LittleEndian(key), key[4..]);
        if (v == 0) return Errno.ENOENT;
        new ReadOnlySpan<byte>((void*)v, _vs).CopyTo(value);
        return Errno.None;
    }

    private protected override Errno UpdateCore(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, MapUpdateFlags flags)
    {
        fixed (byte* v = value) return Update(BinaryPrimitives.ReadUInt32LittleEndian(key), key[4..], v, flags);
    }

    private protected override Errno DeleteCore(ReadOnlySpan<byte> key) =>
        Delete(BinaryPrimitives.ReadUInt32LittleEndian(key), key[4..], null);

    private protected override Errno GetNextKeyCore(ReadOnlySpan<byte> key, Span<byte> nextKey)
    {
        lock (_lock)
        {
            var order = PostOrder();
            int next = 0;
            if (!key.IsEmpty)
            {
                uint prefix = BinaryPrimitives.ReadUInt32LittleEndian(key);
                var data = key[4..];
                int at = -1;
                for (int i = 0; i < order.Count && at < 0; i++)
                    if (order[i].PrefixLen == prefix && MatchLen(order[i], prefix, data) == prefix) at = i;
                next = at < 0 ? 0 : at + 1;
            }
            if (next >= order.Count) return Errno.ENOENT;
            var n = order[next];
            BinaryPrimitives.WriteUInt32LittleEndian(nextKey, n.PrefixLen);
            // Only the prefix bits are meaningful; the kernel copies the stored data bytes as they are.
            n.Data.CopyTo(nextKey[4..]);
            return Errno.None;
        }
    }

    // ---------------- program API

    internal override byte* ProgramLookup(byte* key, int cpu) =>
        (byte*)FindValue(*(uint*)key, new ReadOnlySpan<byte>(key + 4, _dataSize));

    internal override long ProgramUpdate(byte* key, byte* value, ulong flags, int cpu) =>
        flags > (ulong)MapUpdateFlags.Exist ? -(long)Errno.EINVAL
            : -(long)Update(*(uint*)key, new ReadOnlySpan<byte>(key + 4, _dataSize), value, (MapUpdateFlags)flags);

    internal override long ProgramDelete(byte* key, int cpu) =>
        -(long)Delete(*(uint*)key, new ReadOnlySpan<byte>(key + 4, _dataSize), null);
}
