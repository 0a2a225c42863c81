using System.Buffers.Binary;
using System.Globalization;
using Ebpf.Btf;

namespace Ebpf.Cli.Commands.Runtime;

/// <summary>
/// How a map's keys and values are typed: its BTF and btf_key/value_type_id (0 = none; bpftool only
/// formats maps whose value type is known). <see cref="PerCpu"/> values hold one round_up(value_size, 8)
/// slot per possible CPU.
/// </summary>
internal sealed record MapBtfLayout(Ebpf.Btf.BtfSpec Btf, uint KeyTypeId, uint ValueTypeId, bool PerCpu, int ValueSize);

/// <summary>
/// bpftool's BTF map dump (map.c do_dump_btf / print_entry_json and btf_dumper.c), observed with bpftool v7.1
/// against Linux 6.18: plain text is a pretty JSON array of {"key", "value"} (or "values" with one
/// {"cpu", "value"} per CPU) without a "Found N elements" line; <c>-j</c> adds "formatted" next to the hex
/// byte arrays. Formatting per kind: ints by width and signedness; char as "c" when printable; _Bool as
/// true/false; bitfields and 128-bit ints as hex ("0x5", a string in JSON); char arrays holding a
/// NUL-terminated printable string as that string, other arrays element by element; enums by name
/// (number when unknown); pointers as %p in text ("(nil)") and a number in JSON; a DATASEC as
/// {".bss": [{var: value}, …]}; modifiers and typedefs are looked through.
/// </summary>
internal static class BtfMapDump
{
    public static void Write(TextWriter output, IReadOnlyList<(byte[] Key, byte[] Value)> entries, MapBtfLayout layout, bool json, bool pretty = false)
    {
        var w = new BpftoolJsonWriter(pretty || !json);
        w.StartArray();
        foreach (var (key, value) in entries)
            Entry(w, key, value, layout, json);
        w.EndArray();
        output.WriteLine(w.ToString());
    }

    /// <summary>`map lookup` of a found element: the same object as one dump entry, on its own (no array).</summary>
    public static void WriteOne(TextWriter output, byte[] key, byte[] value, MapBtfLayout layout, bool json, bool pretty = false)
    {
        var w = new BpftoolJsonWriter(pretty || !json);
        Entry(w, key, value, layout, json);
        output.WriteLine(w.ToString());
    }

    private static void Entry(BpftoolJsonWriter w, byte[] key, byte[] value, MapBtfLayout layout, bool json)
    {
        if (!json)
        {
            Formatted(w, layout, key, value, plainText: true);
            return;
        }
        w.StartObject();
        w.Name("key");
        HexArray(w, key);
        if (!layout.PerCpu)
        {
            w.Name("value");
            HexArray(w, value);
        }
        else
        {
            PerCpuValues(w, layout, value, bytes => HexArray(w, bytes));
        }
        w.Name("formatted");
        Formatted(w, layout, key, value, plainText: false);
        w.EndObject();
    }

    private delegate void ValueWriter(ReadOnlySpan<byte> value);

    /// <summary>"values": [{"cpu": N, "value": …}, …] — per-CPU values are laid out 8-byte aligned, one per possible CPU.</summary>
    private static void PerCpuValues(BpftoolJsonWriter w, MapBtfLayout layout, byte[] value, ValueWriter writeValue)
    {
        w.Name("values");
        w.StartArray();
        int step = (layout.ValueSize + 7) & ~7;
        for (int cpu = 0; cpu * step < value.Length; cpu++)
        {
            w.StartObject();
            w.Name("cpu");
            w.Raw(cpu.ToString(CultureInfo.InvariantCulture));
            w.Name("value");
            writeValue(value.AsSpan(cpu * step, layout.ValueSize));
            w.EndObject();
        }
        w.EndArray();
    }

    private static void HexArray(BpftoolJsonWriter w, ReadOnlySpan<byte> bytes)
    {
        w.StartArray();
        foreach (byte b in bytes) w.Raw("\"0x" + b.ToString("x2", CultureInfo.InvariantCulture) + "\"");
        w.EndArray();
    }

    /// <summary>do_dump_btf: one {key, value|values} object.</summary>
    private static void Formatted(BpftoolJsonWriter w, MapBtfLayout layout, byte[] key, byte[] value, bool plainText)
    {
        var d = new Dumper(layout.Btf, w, plainText);
        w.StartObject();
        if (layout.KeyTypeId != 0)
        {
            w.Name("key");
            d.Type(layout.KeyTypeId, 0, key);
        }
        if (!layout.PerCpu)
        {
            w.Name("value");
            d.Type(layout.ValueTypeId, 0, value);
        }
        else
        {
            PerCpuValues(w, layout, value, bytes => d.Type(layout.ValueTypeId, 0, bytes));
        }
        w.EndObject();
    }

    private sealed class Dumper(Ebpf.Btf.BtfSpec btf, BpftoolJsonWriter w, bool plainText)
    {
        private const int MaxDepth = 64; // a malformed (cyclic) BTF must not recurse forever

        private int _depth;

        public void Type(uint id, int bitOffset, ReadOnlySpan<byte> data)
        {
            if (++_depth > MaxDepth || !btf.TryGetType(id, out var t))
            {
                w.Raw("(unknown)");
                _depth--;
                return;
            }
            try
            {
                Kind(t, bitOffset, data);
            }
            finally
            {
                _depth--;
            }
        }

        private void Kind(BtfType t, int bitOffset, ReadOnlySpan<byte> data)
        {
            switch (t)
            {
                case BtfInt i:
                    Int(i, bitOffset, data);
                    break;
                case BtfTypedef or BtfVolatile or BtfConst or BtfRestrict or BtfTypeTag:
                    Type(((BtfReferenceType)t).Type, bitOffset, data);
                    break;
                case BtfPtr:
                    ulong p = data.Length >= 8 ? BinaryPrimitives.ReadUInt64LittleEndian(data) : 0;
                    w.Raw(plainText ? (p == 0 ? "(nil)" : "0x" + p.ToString("x", CultureInfo.InvariantCulture)) : p.ToString(CultureInfo.InvariantCulture));
                    break;
                case BtfComposite c:
                    w.StartObject();
                    foreach (var m in c.Members)
                    {
                        w.Name(m.Name);
                        int byteOffset = (int)(m.BitOffset / 8);
                        var at = byteOffset < data.Length ? data[byteOffset..] : default;
                        if (m.IsBitfield)
                            Bitfield((int)m.BitfieldSize, (int)(m.BitOffset % 8), at);
                        else
                            Type(m.Type, (int)(m.BitOffset % 8), at);
                    }
                    w.EndObject();
                    break;
                case BtfArray a:
                    Array(a, data);
                    break;
                case BtfEnumType e:
                    Enum(e, data);
                    break;
                case BtfVar v:
                    w.StartObject();
                    w.Name(v.Name);
                    Type(v.Type, bitOffset, data);
                    w.EndObject();
                    break;
                case BtfDatasec ds:
                    w.StartObject();
                    w.Name(ds.Name);
                    w.StartArray();
                    foreach (var vsi in ds.Variables)
                        Type(vsi.Type, 0, vsi.Offset < data.Length ? data[(int)vsi.Offset..] : default);
                    w.EndArray();
                    w.EndObject();
                    break;
                case BtfFloat f:
                    double value = f.Size switch
                    {
                        4 when data.Length >= 4 => BinaryPrimitives.ReadSingleLittleEndian(data),
                        8 when data.Length >= 8 => BinaryPrimitives.ReadDoubleLittleEndian(data),
                        _ => 0,
                    };
                    w.Raw(value.ToString("F6", CultureInfo.InvariantCulture));
                    break;
                default:
                    w.Raw("(unknown)");
                    break;
            }
        }

        private static ulong Read(ReadOnlySpan<byte> data, int size)
        {
            Span<byte> buf = stackalloc byte[8];
            buf.Clear();
            data[..Math.Min(Math.Min(size, 8), data.Length)].CopyTo(buf);
            return BinaryPrimitives.ReadUInt64LittleEndian(buf);
        }

        private void Int(BtfInt t, int bitOffset, ReadOnlySpan<byte> data)
        {
            if (t.Bits == 128)
            {
                Int128Hex(data, 0, 128);
                return;
            }
            if (bitOffset != 0 || t.BitOffset != 0 || t.Bits != t.Size * 8)
            {
                Bitfield(t.Bits, bitOffset + t.BitOffset, data);
                return;
            }
            ulong raw = Read(data, (int)t.Size);
            if (t.IsBool)
            {
                w.Raw((raw & 0xff) != 0 ? "true" : "false");
                return;
            }
            if (t.IsChar)
            {
                char c = (char)(raw & 0xff);
                if (c is >= ' ' and <= '~') w.Raw("\"" + c + "\"");
                else if (plainText) w.Raw("0x" + (raw & 0xff).ToString("x", CultureInfo.InvariantCulture));
                else w.Raw("\"\\u00" + (raw & 0xff).ToString("x2", CultureInfo.InvariantCulture) + "\"");
                return;
            }
            if (t.IsSigned)
            {
                long v = t.Bits switch { 8 => (sbyte)raw, 16 => (short)raw, 32 => (int)raw, _ => (long)raw };
                w.Raw(v.ToString(CultureInfo.InvariantCulture));
            }
            else
                w.Raw(raw.ToString(CultureInfo.InvariantCulture));
        }

        /// <summary>btf_dumper_bitfield: <paramref name="bits"/> bits starting <paramref name="bitOffset"/> bits into data, unsigned, as hex.</summary>
        private void Bitfield(int bits, int bitOffset, ReadOnlySpan<byte> data) => Int128Hex(data, bitOffset, bits);

        private void Int128Hex(ReadOnlySpan<byte> data, int bitOffset, int bits)
        {
            Span<byte> buf = stackalloc byte[16];
            buf.Clear();
            int bytes = Math.Min((bitOffset + bits + 7) / 8, 16);
            data[..Math.Min(bytes, data.Length)].CopyTo(buf);
            var v = BinaryPrimitives.ReadUInt128LittleEndian(buf);
            v >>= bitOffset;
            if (bits < 128) v &= (UInt128.One << bits) - 1;
            ulong upper = (ulong)(v >> 64), lower = (ulong)v;
            string hex = upper == 0
                ? "0x" + lower.ToString("x", CultureInfo.InvariantCulture)
                : "0x" + upper.ToString("x", CultureInfo.InvariantCulture) + lower.ToString("x16", CultureInfo.InvariantCulture);
            w.Raw(plainText ? hex : "\"" + hex + "\"");
        }

        private void Array(BtfArray a, ReadOnlySpan<byte> data)
        {
            if (IsString(a, data, out string? s))
            {
                w.String(s!);
                return;
            }
            int size = (int)btf.SizeOf(a.ElementType);
            w.StartArray();
            for (int i = 0; i < a.Count && (long)i * size <= data.Length; i++)
                Type(a.ElementType, 0, size == 0 ? default : data[Math.Min(i * size, data.Length)..]);
            w.EndArray();
        }

        /// <summary>is_str_array: 1-byte "char" (or CHAR-encoded) elements holding a NUL-terminated printable string.</summary>
        private bool IsString(BtfArray a, ReadOnlySpan<byte> data, out string? s)
        {
            s = null;
            if (a.Count == 0 || !btf.TryGetType(a.ElementType, out var elem))
                return false;
            while (elem is BtfReferenceType { IsModifier: true } mod && btf.TryGetType(mod.Type, out var next))
                elem = next;
            if (elem is not BtfInt { Size: 1 } i || (!i.IsChar && i.Name != "char"))
                return false;
            for (int k = 0; k < a.Count && k < data.Length; k++)
            {
                byte b = data[k];
                if (b == 0)
                {
                    s = System.Text.Encoding.ASCII.GetString(data[..k]);
                    return true;
                }
                if (b <= 0x1f || b >= 0x7f)
                    return false;
            }
            return false;
        }

        private void Enum(BtfEnumType e, ReadOnlySpan<byte> data)
        {
            ulong raw = Read(data, (int)e.Size);
            long value = e.Size switch { 1 => (sbyte)raw, 2 => (short)raw, 4 => (int)raw, _ => (long)raw };
            foreach (var v in e.Values)
            {
                if (v.Value == value || (e.Size < 8 && (int)v.Value == (int)value))
                {
                    w.String(v.Name);
                    return;
                }
            }
            w.Raw(e.IsSigned || e.Size < 8 ? value.ToString(CultureInfo.InvariantCulture) : raw.ToString(CultureInfo.InvariantCulture));
        }
    }
}
