using Ebpf.Btf;

namespace Ebpf.Runtime.Iterators;

/// <summary>
/// A kernel struct laid out as vmlinux BTF says (the iterator's <c>bpf_iter_meta</c>, a <c>bpf_map</c>'s
/// user-visible fields), in native memory: what the program's typed-pointer (probe) loads read. Fields the runtime
/// has no value for stay zero.
/// </summary>
internal sealed unsafe class KernelStructImage : IDisposable
{
    private readonly Dictionary<string, (int Offset, int Size)> _fields = [];

    public KernelStructImage(BtfSpec kernel, string name, int minimumSize = 8)
    {
        int size = minimumSize;
        if (kernel.TryFindByName(name, BtfKind.Struct, out var t) && t is BtfComposite s)
        {
            size = Math.Max(size, (int)s.Size);
            uint id = kernel.FindAllByName(name, BtfKind.Struct).First();
            foreach (var member in s.Members)
                Add(kernel, id, member.Name);
            // __bpf_md_ptr members sit in an anonymous union: their name is one level down.
            foreach (var member in s.Members.Where(m => m.Name.Length == 0 && kernel.ResolveType(m.Type) is BtfComposite))
                foreach (var inner in ((BtfComposite)kernel.ResolveType(member.Type)).Members)
                    Add(kernel, id, inner.Name);
        }
        Size = size;
        Address = (byte*)System.Runtime.InteropServices.NativeMemory.AllocZeroed((nuint)size);
    }

    private void Add(BtfSpec kernel, uint id, string field)
    {
        if (field.Length == 0 || kernel.FindMember(id, field) is not { } m || m.Member.IsBitfield || m.BitOffset % 8 != 0)
            return;
        uint size = kernel.SizeOf(m.Member.Type);
        _fields[field] = ((int)(m.BitOffset / 8), (int)size);
    }

    public byte* Address { get; private set; }
    public int Size { get; }

    public void Clear() => new Span<byte>(Address, Size).Clear();

    public void Put(string field, ulong value)
    {
        if (!_fields.TryGetValue(field, out var f))
            return;
        byte* p = Address + f.Offset;
        switch (f.Size)
        {
            case 1: *p = (byte)value; break;
            case 2: *(ushort*)p = (ushort)value; break;
            case 4: *(uint*)p = (uint)value; break;
            case 8: *(ulong*)p = value; break;
        }
    }

    public void PutBytes(string field, ReadOnlySpan<byte> value)
    {
        if (_fields.TryGetValue(field, out var f))
            value[..Math.Min(value.Length, f.Size)].CopyTo(new Span<byte>(Address + f.Offset, f.Size));
    }

    public void Dispose()
    {
        if (Address != null)
            System.Runtime.InteropServices.NativeMemory.Free(Address);
        Address = null;
    }
}
