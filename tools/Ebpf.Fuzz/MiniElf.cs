using System.Buffers.Binary;
using System.Text;
using Ebpf.Abi;
using Ebpf.Isa;

namespace Ebpf.Fuzz;

/// <summary>
/// The smallest relocatable ELF a BPF loader accepts for one fuzz program: its code in a "socket" or "xdp" section,
/// the fuzzer's two maps as legacy "maps" definitions (struct bpf_map_def) with one R_BPF_64_64 relocation per
/// ld_imm64 that names them, a GPL license, a symbol table. `ebpf prog verify` reads it as it reads clang's objects.
/// </summary>
public static class MiniElf
{
    private const int EhSize = 64, ShSize = 64, SymSize = 24, RelSize = 16, MapDefSize = 20;

    public static byte[] Write(FuzzProgram program)
    {
        string section = program.Type == ProgramType.Xdp ? "xdp" : "socket";
        var code = new byte[program.Instructions.Length * 8];
        var relocations = new List<(int Offset, int Symbol)>();
        for (int i = 0; i < program.Instructions.Length; i++)
        {
            var insn = program.Instructions[i];
            // A map placeholder becomes what clang emits: a plain ld_imm64 and a relocation against the map's symbol.
            if (insn.IsLoadImm64 && i + 1 < program.Instructions.Length && insn.Src is 1 or 2 && insn.Imm is FuzzMaps.Array or FuzzMaps.Hash)
            {
                relocations.Add((i * 8, insn.Imm == FuzzMaps.Array ? 2 : 3));
                insn = insn.WithSrc(0).WithImm(0);
            }
            BinaryPrimitives.WriteUInt64LittleEndian(code.AsSpan(i * 8), insn.ToRaw());
        }
        var maps = new byte[2 * MapDefSize];
        WriteMapDef(maps.AsSpan(0), (uint)MapType.Array);
        WriteMapDef(maps.AsSpan(MapDefSize), (uint)MapType.Hash);
        byte[] license = "GPL\0"u8.ToArray();

        var strtab = new StringTable();
        var symbols = new List<byte[]>
        {
            Symbol(0, 0, 0, 0, 0),
            Symbol(strtab.Add("fuzz_prog"), 0x12, 1, 0, (ulong)code.Length),
            Symbol(strtab.Add("array_map"), 0x11, 3, 0, MapDefSize),
            Symbol(strtab.Add("hash_map"), 0x11, 3, MapDefSize, MapDefSize),
            Symbol(strtab.Add("_license"), 0x11, 2, 0, (ulong)license.Length),
        };
        var rel = new byte[relocations.Count * RelSize];
        for (int r = 0; r < relocations.Count; r++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(rel.AsSpan(r * RelSize), (ulong)relocations[r].Offset);
            BinaryPrimitives.WriteUInt64LittleEndian(rel.AsSpan(r * RelSize + 8), ((ulong)relocations[r].Symbol << 32) | 1);
        }
        byte[] symtab = symbols.SelectMany(s => s).ToArray();

        var shstr = new StringTable();
        // (name, type, flags, data, link, info, align, entsize)
        var sections = new List<(uint Name, uint Type, ulong Flags, byte[] Data, uint Link, uint Info, ulong Align, ulong EntSize)>
        {
            (0, 0, 0, [], 0, 0, 0, 0),
            (shstr.Add(section), 1, 6, code, 0, 0, 8, 0),
            (shstr.Add("license"), 1, 3, license, 0, 0, 1, 0),
            (shstr.Add("maps"), 1, 3, maps, 0, 0, 4, 0),
            (shstr.Add(".rel" + section), 9, 0, rel, 5, 1, 8, RelSize),
            (shstr.Add(".symtab"), 2, 0, symtab, 6, 1, 8, SymSize),
            (shstr.Add(".strtab"), 3, 0, strtab.Bytes, 0, 0, 1, 0),
        };
        uint shstrName = shstr.Add(".shstrtab");
        sections.Add((shstrName, 3, 0, shstr.Bytes, 0, 0, 1, 0));

        var image = new MemoryStream();
        image.Write(new byte[EhSize]);
        var offsets = new List<long>();
        foreach (var s in sections)
        {
            while (image.Length % 8 != 0) image.WriteByte(0);
            offsets.Add(image.Length);
            image.Write(s.Data);
        }
        while (image.Length % 8 != 0) image.WriteByte(0);
        long shoff = image.Length;
        for (int i = 0; i < sections.Count; i++)
        {
            var s = sections[i];
            var h = new byte[ShSize];
            BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(0), s.Name);
            BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(4), s.Type);
            BinaryPrimitives.WriteUInt64LittleEndian(h.AsSpan(8), s.Flags);
            BinaryPrimitives.WriteUInt64LittleEndian(h.AsSpan(24), i == 0 ? 0 : (ulong)offsets[i]);
            BinaryPrimitives.WriteUInt64LittleEndian(h.AsSpan(32), (ulong)s.Data.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(40), s.Link);
            BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(44), s.Info);
            BinaryPrimitives.WriteUInt64LittleEndian(h.AsSpan(48), s.Align);
            BinaryPrimitives.WriteUInt64LittleEndian(h.AsSpan(56), s.EntSize);
            image.Write(h);
        }
        var bytes = image.ToArray();
        var eh = bytes.AsSpan(0, EhSize);
        "\x7f"u8.CopyTo(eh);
        "ELF"u8.CopyTo(eh[1..]);
        eh[4] = 2; // ELFCLASS64
        eh[5] = 1; // little endian
        eh[6] = 1; // EV_CURRENT
        BinaryPrimitives.WriteUInt16LittleEndian(eh[16..], 1);   // ET_REL
        BinaryPrimitives.WriteUInt16LittleEndian(eh[18..], 247); // EM_BPF
        BinaryPrimitives.WriteUInt32LittleEndian(eh[20..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(eh[40..], (ulong)shoff);
        BinaryPrimitives.WriteUInt16LittleEndian(eh[52..], EhSize);
        BinaryPrimitives.WriteUInt16LittleEndian(eh[58..], ShSize);
        BinaryPrimitives.WriteUInt16LittleEndian(eh[60..], (ushort)sections.Count);
        BinaryPrimitives.WriteUInt16LittleEndian(eh[62..], (ushort)(sections.Count - 1));
        return bytes;
    }

    private static void WriteMapDef(Span<byte> def, uint type)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(def, type);
        BinaryPrimitives.WriteUInt32LittleEndian(def[4..], FuzzMaps.KeySize);
        BinaryPrimitives.WriteUInt32LittleEndian(def[8..], FuzzMaps.ValueSize);
        BinaryPrimitives.WriteUInt32LittleEndian(def[12..], FuzzMaps.MaxEntries);
    }

    private static byte[] Symbol(uint name, byte info, ushort section, ulong value, ulong size)
    {
        var s = new byte[SymSize];
        BinaryPrimitives.WriteUInt32LittleEndian(s, name);
        s[4] = info;
        BinaryPrimitives.WriteUInt16LittleEndian(s.AsSpan(6), section);
        BinaryPrimitives.WriteUInt64LittleEndian(s.AsSpan(8), value);
        BinaryPrimitives.WriteUInt64LittleEndian(s.AsSpan(16), size);
        return s;
    }

    private sealed class StringTable
    {
        private readonly List<byte> _data = [0];

        public uint Add(string s)
        {
            uint at = (uint)_data.Count;
            _data.AddRange(Encoding.ASCII.GetBytes(s));
            _data.Add(0);
            return at;
        }

        public byte[] Bytes => [.. _data];
    }
}
