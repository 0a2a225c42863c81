using System.Buffers.Binary;

namespace Ebpf.Btf;

/// <summary>
/// Encodes types into raw BTF (header, type section, deduplicated string section) as the kernel's
/// BPF_BTF_LOAD and libbpf expect. With a base, the output is split BTF: the first type gets id
/// base.MaxTypeId + 1 and string offsets continue the base's table.
/// </summary>
public static class BtfWriter
{
    /// <summary>
    /// Encodes <paramref name="types"/> as raw BTF; split BTF on top of <paramref name="baseBtf"/> when given.
    /// </summary>
    public static byte[] Write(IReadOnlyList<BtfType> types, BtfSpec? baseBtf = null) => Write(types, baseBtf, null);

    /// <summary>
    /// Like <see cref="Write(IReadOnlyList{BtfType}, BtfSpec?)"/>, but when <paramref name="preserveStringsOf"/> is
    /// given its string table is kept unchanged (new strings appended), so string offsets held elsewhere —
    /// .BTF.ext line_info and func names — remain valid for the written BTF.
    /// </summary>
    public static byte[] Write(IReadOnlyList<BtfType> types, BtfSpec? baseBtf, BtfSpec? preserveStringsOf)
    {
        var strings = new BtfStringTableBuilder(baseBtf, preserveStringsOf);
        long typeLen = 0;
        foreach (var t in types)
            typeLen += t.EncodedSize;
        if (typeLen > int.MaxValue / 2)
            throw new BpfException(Errno.E2BIG, $"type section of {typeLen} bytes is too large");
        var typeSection = new byte[typeLen];
        int pos = 0;
        foreach (var t in types)
            pos = Encode(t, typeSection, pos, strings);
        var str = strings.Bytes;
        var result = new byte[BtfHeader.Size + typeSection.Length + str.Length];
        var span = result.AsSpan();
        BinaryPrimitives.WriteUInt16LittleEndian(span, BtfHeader.BtfMagic);
        span[2] = BtfHeader.BtfVersion;
        span[3] = 0;
        BinaryPrimitives.WriteUInt32LittleEndian(span[4..], BtfHeader.Size);
        BinaryPrimitives.WriteUInt32LittleEndian(span[8..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(span[12..], (uint)typeSection.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(span[16..], (uint)typeSection.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(span[20..], (uint)str.Length);
        typeSection.CopyTo(span[BtfHeader.Size..]);
        str.CopyTo(span[(BtfHeader.Size + typeSection.Length)..]);
        return result;
    }

    private static void Put(byte[] b, ref int pos, uint v)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(pos), v);
        pos += 4;
    }

    private static int Encode(BtfType t, byte[] b, int pos, BtfStringTableBuilder strings)
    {
        uint info = ((uint)t.Kind << 24) | ((uint)t.Vlen & 0xffff) | (t.KindFlag ? 1u << 31 : 0);
        Put(b, ref pos, strings.Add(t.Name));
        Put(b, ref pos, info);
        switch (t)
        {
            case BtfInt i:
                Put(b, ref pos, i.Size);
                Put(b, ref pos, ((uint)i.Encoding << 24) | ((uint)i.BitOffset << 16) | i.Bits);
                break;
            case BtfReferenceType r:
                Put(b, ref pos, r.Type);
                break;
            case BtfFloat f:
                Put(b, ref pos, f.Size);
                break;
            case BtfFwd:
                Put(b, ref pos, 0);
                break;
            case BtfArray a:
                Put(b, ref pos, 0);
                Put(b, ref pos, a.ElementType);
                Put(b, ref pos, a.IndexType);
                Put(b, ref pos, a.Count);
                break;
            case BtfComposite c:
                Put(b, ref pos, c.Size);
                foreach (var m in c.Members)
                {
                    Put(b, ref pos, strings.Add(m.Name));
                    Put(b, ref pos, m.Type);
                    Put(b, ref pos, c.EncodeOffset(m));
                }
                break;
            case BtfEnum e:
                Put(b, ref pos, e.Size);
                foreach (var v in e.Values)
                {
                    Put(b, ref pos, strings.Add(v.Name));
                    Put(b, ref pos, (uint)v.Value);
                }
                break;
            case BtfEnum64 e:
                Put(b, ref pos, e.Size);
                foreach (var v in e.Values)
                {
                    Put(b, ref pos, strings.Add(v.Name));
                    Put(b, ref pos, (uint)v.Value);
                    Put(b, ref pos, (uint)((ulong)v.Value >> 32));
                }
                break;
            case BtfFunc f:
                Put(b, ref pos, f.ProtoType);
                break;
            case BtfFuncProto p:
                Put(b, ref pos, p.ReturnType);
                foreach (var param in p.Parameters)
                {
                    Put(b, ref pos, strings.Add(param.Name));
                    Put(b, ref pos, param.Type);
                }
                break;
            case BtfVar v:
                Put(b, ref pos, v.Type);
                Put(b, ref pos, (uint)v.Linkage);
                break;
            case BtfDatasec d:
                Put(b, ref pos, d.Size);
                foreach (var v in d.Variables)
                {
                    Put(b, ref pos, v.Type);
                    Put(b, ref pos, v.Offset);
                    Put(b, ref pos, v.Size);
                }
                break;
            case BtfDeclTag tag:
                Put(b, ref pos, tag.Type);
                Put(b, ref pos, (uint)tag.ComponentIndex);
                break;
            default:
                throw new BpfException(Errno.EINVAL, $"{t}: kind {t.Kind} cannot be encoded");
        }
        return pos;
    }
}
