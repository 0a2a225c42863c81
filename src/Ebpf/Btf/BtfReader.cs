using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Ebpf.Btf;

/// <summary>
/// Decodes raw BTF bytes into a <see cref="Btf"/>. Every length is checked before it is used, so a
/// truncated or hostile blob fails with EINVAL naming the header field or type id, and the reader never
/// allocates more than a small multiple of the input.
/// </summary>
internal static class BtfReader
{
    public static BtfSpec Read(ReadOnlySpan<byte> data, BtfSpec? baseBtf)
    {
        var header = ReadHeader(data, baseBtf);
        var typeSection = data.Slice((int)(header.HeaderLength + header.TypeOffset), (int)header.TypeLength);
        var strSection = data.Slice((int)(header.HeaderLength + header.StringOffset), (int)header.StringLength);
        CheckStrings(strSection, baseBtf);
        var strings = strSection.ToArray();
        var names = new NameReader(strings, baseBtf);
        var types = ReadTypes(typeSection, baseBtf is null ? 1 : baseBtf.MaxTypeId + 1, names);
        return new BtfSpec(header, baseBtf, types, strings) { SourceLength = data.Length, EmptyNamesAtNonZeroOffset = names.EmptyAtNonZero };
    }

    private static BpfException Invalid(string message) => new(Errno.EINVAL, message);

    private static BtfHeader ReadHeader(ReadOnlySpan<byte> data, BtfSpec? baseBtf)
    {
        if (data.Length < 8)
            throw Invalid($"BTF is {data.Length} bytes: hdr_len not found");
        ushort magic = BinaryPrimitives.ReadUInt16LittleEndian(data);
        if (magic == 0x9feb)
            throw new BpfException(Errno.ENOTSUPP, "BTF is big-endian; only little-endian BTF is supported");
        if (magic != BtfHeader.BtfMagic)
            throw Invalid($"Invalid magic 0x{magic:x4} (expected 0xeb9f)");
        byte version = data[2];
        if (version != BtfHeader.BtfVersion)
            throw new BpfException(Errno.ENOTSUPP, $"Unsupported version {version}");
        byte flags = data[3];
        if (flags != 0)
            throw new BpfException(Errno.ENOTSUPP, $"Unsupported flags 0x{flags:x}");
        uint hdrLen = BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
        if (hdrLen < BtfHeader.Size || hdrLen > (uint)data.Length)
            throw Invalid($"btf_header not found: hdr_len {hdrLen}, data is {data.Length} bytes");
        // A newer, longer header is acceptable only if everything we do not understand is zero.
        foreach (byte b in data[BtfHeader.Size..(int)hdrLen])
        {
            if (b != 0)
                throw new BpfException(Errno.E2BIG, "Unsupported btf_header: unknown non-zero fields after byte 24");
        }
        var h = new BtfHeader(magic, version, flags, hdrLen,
            BinaryPrimitives.ReadUInt32LittleEndian(data[8..]),
            BinaryPrimitives.ReadUInt32LittleEndian(data[12..]),
            BinaryPrimitives.ReadUInt32LittleEndian(data[16..]),
            BinaryPrimitives.ReadUInt32LittleEndian(data[20..]));
        ulong available = (ulong)data.Length - hdrLen;
        if (h.TypeOffset % 4 != 0)
            throw Invalid($"Unaligned type_off {h.TypeOffset}");
        if ((ulong)h.TypeOffset + h.TypeLength > available)
            throw Invalid($"type section (off {h.TypeOffset}, len {h.TypeLength}) overruns the {available} bytes after the header");
        if ((ulong)h.StringOffset + h.StringLength > available)
            throw Invalid($"string section (off {h.StringOffset}, len {h.StringLength}) overruns the {available} bytes after the header");
        if ((ulong)h.TypeOffset + h.TypeLength > h.StringOffset && (ulong)h.StringOffset + h.StringLength > h.TypeOffset
            && h.TypeLength != 0 && h.StringLength != 0)
            throw Invalid("Section overlap found between type and string sections");
        if (baseBtf is null && h.TypeLength == 0 && h.StringLength == 0)
            throw Invalid("No data");
        return h;
    }

    private static void CheckStrings(ReadOnlySpan<byte> s, BtfSpec? baseBtf)
    {
        if (baseBtf is not null && s.Length == 0)
            return;
        if (s.Length == 0 || (uint)s.Length - 1 > BtfSpec.MaxNameOffset || s[^1] != 0)
            throw Invalid($"Invalid string section (len {s.Length}: must be non-empty, at most {BtfSpec.MaxNameOffset + 1} bytes and NUL-terminated)");
        if (baseBtf is null && s[0] != 0)
            throw Invalid("Invalid string section: first string is not empty (split BTF parsed without its base?)");
        if (baseBtf is not null && (ulong)baseBtf.TotalStringLength + (ulong)s.Length - 1 > BtfSpec.MaxNameOffset)
            throw Invalid("Invalid string section: base and split strings exceed the maximum name offset");
    }

    /// <summary>What a name offset names, for the error message (built only when the offset is bad).</summary>
    private enum NamePart
    {
        Type,
        Member,
        Enumerator,
        Param,
    }

    /// <summary>
    /// Decodes names once per string offset: BTF strings are deduplicated, so member names such as "next"
    /// or "flags" share one offset and, here, one .NET string.
    /// </summary>
    private sealed class NameReader(byte[] strings, BtfSpec? baseBtf)
    {
        private readonly uint _base = baseBtf?.TotalStringLength ?? 0;
        private readonly Dictionary<uint, string> _cache = new(Math.Min(strings.Length / 24, 1 << 18));

        /// <summary>(type id, component or -1) whose name offset is non-zero but names the empty string.</summary>
        public HashSet<(uint Id, int Component)> EmptyAtNonZero { get; } = [];

        public string Read(uint offset, uint typeId, int component, NamePart part)
        {
            if (offset == 0)
                return "";
            string name = ReadNonZero(offset, typeId, component, part);
            if (name.Length == 0)
                EmptyAtNonZero.Add((typeId, component));
            return name;
        }

        private string ReadNonZero(uint offset, uint typeId, int component, NamePart part)
        {
            if (offset < _base)
            {
                if (baseBtf!.TryGetString(offset, out var s))
                    return s;
            }
            else if (offset - _base < (uint)strings.Length)
            {
                ref string? slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_cache, offset, out bool exists);
                if (!exists)
                    slot = BtfSpec.DecodeString(strings, offset - _base);
                return slot!;
            }
            string what = part switch
            {
                NamePart.Member => $"member {component}",
                NamePart.Enumerator => $"enumerator {component}",
                NamePart.Param => $"param {component}",
                _ => "name",
            };
            throw Invalid($"[{typeId}] Invalid name_offset:{offset} ({what})");
        }
    }

    private static int TrailerSize(BtfKind kind, int vlen) => kind switch
    {
        BtfKind.Int => 4,
        BtfKind.Array => 12,
        BtfKind.Struct or BtfKind.Union => 12 * vlen,
        BtfKind.Enum => 8 * vlen,
        BtfKind.Enum64 => 12 * vlen,
        BtfKind.FuncProto => 8 * vlen,
        BtfKind.Var => 4,
        BtfKind.Datasec => 12 * vlen,
        BtfKind.DeclTag => 4,
        _ => 0,
    };

    /// <summary>
    /// Counts the records the way <see cref="ReadTypes"/> walks them, so the type array is allocated once at its
    /// exact size. It stops at the first record that does not fit; the real walk reports that record's error.
    /// </summary>
    private static int CountTypes(ReadOnlySpan<byte> section)
    {
        int pos = 0, count = 0;
        while (section.Length - pos >= 12 && count < (int)BtfSpec.MaxTypes)
        {
            uint info = BinaryPrimitives.ReadUInt32LittleEndian(section[(pos + 4)..]);
            var kind = (BtfKind)((info >> 24) & 0x1f);
            if (kind == BtfKind.Unknown || kind > BtfKind.Enum64)
                break;
            int trailer = TrailerSize(kind, (int)(info & 0xffff));
            if (section.Length - pos - 12 < trailer)
                break;
            pos += 12 + trailer;
            count++;
        }
        return pos < section.Length ? count + 1 : count;
    }

    private static BtfType[] ReadTypes(ReadOnlySpan<byte> section, uint firstId, NameReader names)
    {
        // Each type takes at least 12 bytes, which bounds the count and so the allocation.
        var types = new BtfType[CountTypes(section)];
        int pos = 0;
        uint id = firstId;
        while (pos < section.Length)
        {
            if (section.Length - pos < 12)
                throw Invalid($"[{id}] meta_left:{section.Length - pos} meta_needed:12 (type section truncated)");
            if (id - firstId >= BtfSpec.MaxTypes)
                throw new BpfException(Errno.E2BIG, $"[{id}] more than {BtfSpec.MaxTypes} types");
            uint nameOff = BinaryPrimitives.ReadUInt32LittleEndian(section[pos..]);
            uint info = BinaryPrimitives.ReadUInt32LittleEndian(section[(pos + 4)..]);
            uint sizeOrType = BinaryPrimitives.ReadUInt32LittleEndian(section[(pos + 8)..]);
            var kind = (BtfKind)((info >> 24) & 0x1f);
            int vlen = (int)(info & 0xffff);
            bool kflag = (info >> 31) != 0;
            if (kind == BtfKind.Unknown || kind > BtfKind.Enum64)
                throw Invalid($"[{id}] Invalid kind:{(info >> 24) & 0x1f}");
            int trailer = TrailerSize(kind, vlen);
            if (section.Length - pos - 12 < trailer)
                throw Invalid($"[{id}] {kind.ToKernelName()} meta_left:{section.Length - pos - 12} meta_needed:{trailer} (vlen {vlen} overruns the type section)");
            var extra = section.Slice(pos + 12, trailer);
            string name = names.Read(nameOff, id, -1, NamePart.Type);
            var type = Decode(kind, kflag, vlen, sizeOrType, name, extra, id, names);
            type.RawInfo = info;
            type.RawSizeOrType = sizeOrType;
            types[id - firstId] = type;
            pos += 12 + trailer;
            id++;
        }
        return types;
    }

    private static uint U32(ReadOnlySpan<byte> s, int at) => BinaryPrimitives.ReadUInt32LittleEndian(s[at..]);

    private static BtfType Decode(BtfKind kind, bool kflag, int vlen, uint sizeOrType, string name,
        ReadOnlySpan<byte> extra, uint id, NameReader names)
    {
        switch (kind)
        {
            case BtfKind.Int:
            {
                uint word = U32(extra, 0);
                return new BtfInt(name, sizeOrType, (BtfIntEncoding)((word >> 24) & 0x0f), (byte)((word >> 16) & 0xff), (byte)(word & 0xff))
                { RawIntWord = word };
            }
            case BtfKind.Ptr: return new BtfPtr(sizeOrType, name);
            case BtfKind.Typedef: return new BtfTypedef(name, sizeOrType);
            case BtfKind.Volatile: return new BtfVolatile(sizeOrType, name);
            case BtfKind.Const: return new BtfConst(sizeOrType, name);
            case BtfKind.Restrict: return new BtfRestrict(sizeOrType, name);
            case BtfKind.TypeTag: return new BtfTypeTag(name, sizeOrType, kflag);
            case BtfKind.Float: return new BtfFloat(name, sizeOrType);
            case BtfKind.Fwd: return new BtfFwd(name, kflag);
            case BtfKind.Array: return new BtfArray(U32(extra, 0), U32(extra, 4), U32(extra, 8), name);
            case BtfKind.Struct:
            case BtfKind.Union:
            {
                var members = new BtfMember[vlen];
                for (int i = 0; i < vlen; i++)
                {
                    int at = i * 12;
                    uint off = U32(extra, at + 8);
                    string mname = names.Read(U32(extra, at), id, i, NamePart.Member);
                    members[i] = kflag
                        ? new BtfMember(mname, U32(extra, at + 4), off & 0xffffff, off >> 24)
                        : new BtfMember(mname, U32(extra, at + 4), off);
                }
                return kind == BtfKind.Struct
                    ? new BtfStruct(name, sizeOrType, members, kflag, ArrayOwnership.Take)
                    : new BtfUnion(name, sizeOrType, members, kflag, ArrayOwnership.Take);
            }
            case BtfKind.Enum:
            {
                var values = new BtfEnumValue[vlen];
                for (int i = 0; i < vlen; i++)
                {
                    uint raw = U32(extra, i * 8 + 4);
                    values[i] = new BtfEnumValue(names.Read(U32(extra, i * 8), id, i, NamePart.Enumerator), kflag ? (int)raw : raw);
                }
                return new BtfEnum(name, sizeOrType, values, kflag, ArrayOwnership.Take);
            }
            case BtfKind.Enum64:
            {
                var values = new BtfEnumValue[vlen];
                for (int i = 0; i < vlen; i++)
                {
                    int at = i * 12;
                    ulong raw = U32(extra, at + 4) | ((ulong)U32(extra, at + 8) << 32);
                    values[i] = new BtfEnumValue(names.Read(U32(extra, at), id, i, NamePart.Enumerator), (long)raw);
                }
                return new BtfEnum64(name, sizeOrType, values, kflag, ArrayOwnership.Take);
            }
            case BtfKind.Func:
                return new BtfFunc(name, sizeOrType, (BtfFuncLinkage)vlen);
            case BtfKind.FuncProto:
            {
                var ps = new BtfParam[vlen];
                for (int i = 0; i < vlen; i++)
                    ps[i] = new BtfParam(names.Read(U32(extra, i * 8), id, i, NamePart.Param), U32(extra, i * 8 + 4));
                return new BtfFuncProto(sizeOrType, ps, name, ArrayOwnership.Take);
            }
            case BtfKind.Var:
                return new BtfVar(name, sizeOrType, (BtfVarLinkage)U32(extra, 0));
            case BtfKind.Datasec:
            {
                var vars = new BtfVarSecinfo[vlen];
                for (int i = 0; i < vlen; i++)
                    vars[i] = new BtfVarSecinfo(U32(extra, i * 12), U32(extra, i * 12 + 4), U32(extra, i * 12 + 8));
                return new BtfDatasec(name, sizeOrType, vars, ArrayOwnership.Take);
            }
            case BtfKind.DeclTag:
                return new BtfDeclTag(name, sizeOrType, (int)U32(extra, 0), kflag);
            default:
                throw Invalid($"[{id}] Invalid kind:{(int)kind}");
        }
    }
}
