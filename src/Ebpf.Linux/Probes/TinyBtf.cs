using System.Buffers.Binary;
using System.Text;

namespace Ebpf.Linux.Probes;

/// <summary>
/// A minimal writer of raw .BTF blobs (header, type section, string section) for the handful of
/// types feature probes and tests need. Not a general BTF library: that lives in Ebpf.Btf.
/// </summary>
internal sealed class TinyBtf
{
    private const int KindInt = 1, KindPtr = 2, KindStruct = 4, KindFunc = 12, KindVar = 14, KindDatasec = 15, KindFuncProto = 13, KindFloat = 16, KindDeclTag = 17, KindTypeTag = 18, KindEnum64 = 19;

    private readonly MemoryStream _types = new();
    private readonly MemoryStream _strings = new();
    private readonly Dictionary<string, uint> _stringOffsets = new(StringComparer.Ordinal);
    private uint _nextId = 1;

    public TinyBtf()
    {
        _strings.WriteByte(0);
        _stringOffsets[""] = 0;
    }

    public uint String(string s)
    {
        if (_stringOffsets.TryGetValue(s, out uint off))
            return off;
        off = (uint)_strings.Length;
        _strings.Write(Encoding.UTF8.GetBytes(s));
        _strings.WriteByte(0);
        _stringOffsets[s] = off;
        return off;
    }

    private void U32(uint v)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        _types.Write(b);
    }

    private uint Type(string name, int kind, int vlen, uint sizeOrType, bool kindFlag = false)
    {
        U32(String(name));
        U32((uint)vlen | ((uint)kind << 24) | (kindFlag ? 1u << 31 : 0));
        U32(sizeOrType);
        return _nextId++;
    }

    /// <summary>INT: size in bytes; signed sets BTF_INT_SIGNED.</summary>
    public uint Int(string name, uint size, bool signed = true)
    {
        uint id = Type(name, KindInt, 0, size);
        U32((signed ? 1u << 24 : 0) | (size * 8));
        return id;
    }

    public uint Pointer(uint target) => Type("", KindPtr, 0, target);

    /// <summary>STRUCT with (name, type, bit offset) members.</summary>
    public uint Struct(string name, uint size, params (string Name, uint Type, uint BitOffset)[] members)
    {
        uint id = Type(name, KindStruct, members.Length, size);
        foreach (var m in members)
        {
            U32(String(m.Name));
            U32(m.Type);
            U32(m.BitOffset);
        }
        return id;
    }

    public uint FuncProto(uint returnType, params (string Name, uint Type)[] parameters)
    {
        uint id = Type("", KindFuncProto, parameters.Length, returnType);
        foreach (var p in parameters)
        {
            U32(String(p.Name));
            U32(p.Type);
        }
        return id;
    }

    /// <summary>FUNC with linkage 0 static, 1 global.</summary>
    public uint Func(string name, uint proto, bool global) => Type(name, KindFunc, global ? 1 : 0, proto);

    /// <summary>DECL_TAG on a type (componentIndex -1) or on a member/parameter.</summary>
    public uint DeclTag(string value, uint target, int componentIndex)
    {
        uint id = Type(value, KindDeclTag, 0, target);
        U32((uint)componentIndex);
        return id;
    }

    /// <summary>TYPE_TAG (5.17+): a pointer's pointee annotated with <paramref name="tag"/>.</summary>
    public uint TypeTag(string tag, uint target) => Type(tag, KindTypeTag, 0, target);

    /// <summary>FLOAT (5.13+) of <paramref name="size"/> bytes.</summary>
    public uint Float(string name, uint size) => Type(name, KindFloat, 0, size);

    /// <summary>ENUM64 (6.0+) with 64-bit values.</summary>
    public uint Enum64(string name, params (string Name, ulong Value)[] values)
    {
        uint id = Type(name, KindEnum64, values.Length, 8);
        foreach (var v in values)
        {
            U32(String(v.Name));
            U32((uint)v.Value);
            U32((uint)(v.Value >> 32));
        }
        return id;
    }

    /// <summary>VAR with linkage 0 static, 1 global.</summary>
    public uint Var(string name, uint type, uint linkage)
    {
        uint id = Type(name, KindVar, 0, type);
        U32(linkage);
        return id;
    }

    /// <summary>DATASEC of <paramref name="size"/> bytes with (var, offset, size) entries.</summary>
    public uint Datasec(string name, uint size, params (uint Var, uint Offset, uint Size)[] vars)
    {
        uint id = Type(name, KindDatasec, vars.Length, size);
        foreach (var v in vars)
        {
            U32(v.Var);
            U32(v.Offset);
            U32(v.Size);
        }
        return id;
    }

    /// <summary>The blob: 24-byte header, types, strings.</summary>
    public byte[] ToArray()
    {
        var types = _types.ToArray();
        var strings = _strings.ToArray();
        var blob = new byte[24 + types.Length + strings.Length];
        var h = blob.AsSpan();
        BinaryPrimitives.WriteUInt16LittleEndian(h, 0xEB9F);
        h[2] = 1; // version
        h[3] = 0; // flags
        BinaryPrimitives.WriteUInt32LittleEndian(h[4..], 24);
        BinaryPrimitives.WriteUInt32LittleEndian(h[8..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(h[12..], (uint)types.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(h[16..], (uint)types.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(h[20..], (uint)strings.Length);
        types.CopyTo(blob, 24);
        strings.CopyTo(blob, 24 + types.Length);
        return blob;
    }
}
