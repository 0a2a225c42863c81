using System.Globalization;
using System.Text;
using Ebpf.Collections;

namespace Ebpf.Cli.Commands.Runtime;

/// <summary>bpftool's text and JSON output shapes (observed on bpftool v7 / Linux 6.18).</summary>
internal static class BpftoolFormat
{
    /// <summary>bpftool's names: the uapi enum name lower-cased with '_' before each capital that follows a lower-case letter.</summary>
    public static string TypeName<T>(T value) where T : struct, Enum
    {
        if (!Enum.IsDefined(value))
            return $"type {Convert.ToUInt32(value, CultureInfo.InvariantCulture)}";
        string name = value.ToString();
        var sb = new StringBuilder();
        for (int i = 0; i < name.Length; i++)
        {
            if (i > 0 && char.IsUpper(name[i]) && char.IsLower(name[i - 1]))
                sb.Append('_');
            sb.Append(char.ToLowerInvariant(name[i]));
        }
        return sb.ToString();
    }

    public static bool TryParseType<T>(string text, out T value) where T : struct, Enum
    {
        foreach (T v in Enum.GetValues<T>())
        {
            if (TypeName(v) == text)
            {
                value = v;
                return true;
            }
        }
        value = default;
        return false;
    }

    /// <summary>"01 00 00 00".</summary>
    public static string Hex(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder(bytes.Length * 3);
        for (int i = 0; i < bytes.Length; i++)
        {
            if (i > 0) sb.Append(' ');
            sb.Append(bytes[i].ToString("x2", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    /// <summary>JSON byte arrays of map dumps: ["0x01","0x00"].</summary>
    public static string[] JsonBytes(ReadOnlySpan<byte> bytes)
    {
        var result = new string[bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
            result[i] = "0x" + bytes[i].ToString("x2", CultureInfo.InvariantCulture);
        return result;
    }

    /// <summary>bpftool's hex_print (prog run data_out -): offset, 16 bytes in pairs, ASCII column.</summary>
    public static string HexDump(ReadOnlySpan<byte> data)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < data.Length; i += 16)
        {
            sb.Append(i.ToString("x7", CultureInfo.InvariantCulture)).Append('\t');
            int j;
            for (j = i; j < i + 16 && j < data.Length; j++)
                sb.Append(data[j].ToString("x2", CultureInfo.InvariantCulture)).Append(j % 2 == 1 ? " " : "");
            for (; j < i + 16; j++)
                sb.Append("  ").Append(j % 2 == 1 ? " " : "");
            sb.Append("| ");
            for (j = i; j < i + 16 && j < data.Length; j++)
            {
                char c = (char)data[j];
                sb.Append(c is < ' ' or > '~' ? '.' : c);
                if (j == i + 7) sb.Append(' ');
            }
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>bpf_prog_size rounded to pages, as the kernel reports memlock for programs.</summary>
    public static long ProgramMemlock(ProgramInfo info) => (info.XlatedSize + 72 + 4095) / 4096 * 4096;

    /// <summary>The kernel's map_mem_usage for this map (Runtime/Maps/MapMemoryUsage: Linux 6.18 struct sizes).</summary>
    public static long MapMemlock(MapInfo info) =>
        (long)Math.Min(long.MaxValue / 2, Ebpf.Runtime.Maps.MapMemoryUsage.Of(info.Type, info.KeySize, info.ValueSize, info.MaxEntries, info.Flags,
            Ebpf.Runtime.Maps.BpfCpu.PossibleCount));

    /// <summary>strftime("%FT%T%z") in local time.</summary>
    public static string LoadedAt(DateTimeOffset time)
    {
        var local = time.ToLocalTime();
        var offset = local.Offset;
        string sign = offset < TimeSpan.Zero ? "-" : "+";
        offset = offset.Duration();
        return local.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture) + sign + offset.Hours.ToString("D2", CultureInfo.InvariantCulture) + offset.Minutes.ToString("D2", CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// The program's jited size and memlock come from the backend (bpf_prog_info.jited_prog_len, fdinfo memlock);
    /// the managed runtime reports the IL bytes of its JIT (0 = interpreted, "not jited") and no memlock, which is
    /// then estimated.
    /// </summary>
    public static string ProgramText(ProgramInfo p, IReadOnlyList<string> pins)
    {
        uint jitedSize = p.JitedSize;
        long? memlock = p.Memlock;
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{p.Id}: {TypeName(p.Type)}  ");
        if (p.Name.Length > 0) sb.Append(CultureInfo.InvariantCulture, $"name {p.Name}  ");
        sb.Append(CultureInfo.InvariantCulture, $"tag {p.TagHex}");
        if (p.GplCompatible) sb.Append("  gpl");
        sb.Append('\n');
        sb.Append(CultureInfo.InvariantCulture, $"\tloaded_at {LoadedAt(p.LoadTime)}  uid 0\n");
        sb.Append(CultureInfo.InvariantCulture, $"\txlated {p.XlatedSize}B  {(jitedSize > 0 ? $"jited {jitedSize}B" : "not jited")}  memlock {memlock ?? ProgramMemlock(p)}B");
        if (p.MapIds.Count > 0) sb.Append("  map_ids ").Append(string.Join(',', p.MapIds));
        sb.Append('\n');
        if (p.BtfId != 0) sb.Append(CultureInfo.InvariantCulture, $"\tbtf_id {p.BtfId}\n");
        foreach (var pin in pins) sb.Append(CultureInfo.InvariantCulture, $"\tpinned {pin}\n");
        return sb.ToString();
    }

    public static Dictionary<string, object> ProgramJson(ProgramInfo p, IReadOnlyList<string> pins)
    {
        uint jitedSize = p.JitedSize;
        long? memlock = p.Memlock;
        var d = new Dictionary<string, object>
        {
            ["id"] = p.Id,
            ["type"] = TypeName(p.Type),
        };
        if (p.Name.Length > 0) d["name"] = p.Name;
        d["tag"] = p.TagHex;
        d["gpl_compatible"] = p.GplCompatible;
        d["loaded_at"] = p.LoadTime.ToUnixTimeSeconds();
        d["uid"] = 0;
        d["bytes_xlated"] = p.XlatedSize;
        d["jited"] = jitedSize > 0;
        if (jitedSize > 0) d["bytes_jited"] = jitedSize;
        d["bytes_memlock"] = memlock ?? ProgramMemlock(p);
        if (p.MapIds.Count > 0) d["map_ids"] = p.MapIds;
        if (p.BtfId != 0) d["btf_id"] = p.BtfId;
        if (pins.Count > 0) d["pinned"] = pins;
        return d;
    }

    public static string MapText(MapInfo m, IReadOnlyList<string> pins)
    {
        long? memlock = m.Memlock;
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{m.Id}: {TypeName(m.Type)}  ");
        if (m.Name.Length > 0) sb.Append(CultureInfo.InvariantCulture, $"name {m.Name}  ");
        sb.Append(CultureInfo.InvariantCulture, $"flags 0x{(uint)m.Flags:x}\n");
        sb.Append(CultureInfo.InvariantCulture, $"\tkey {m.KeySize}B  value {m.ValueSize}B  max_entries {m.MaxEntries}  memlock {memlock ?? MapMemlock(m)}B\n");
        if (m.BtfId != 0) sb.Append(CultureInfo.InvariantCulture, $"\tbtf_id {m.BtfId}\n");
        if (m.Frozen) sb.Append("\tfrozen\n");
        foreach (var pin in pins) sb.Append(CultureInfo.InvariantCulture, $"\tpinned {pin}\n");
        return sb.ToString();
    }

    public static Dictionary<string, object> MapJson(MapInfo m, IReadOnlyList<string> pins)
    {
        long? memlock = m.Memlock;
        var d = new Dictionary<string, object>
        {
            ["id"] = m.Id,
            ["type"] = TypeName(m.Type),
        };
        if (m.Name.Length > 0) d["name"] = m.Name;
        d["flags"] = (uint)m.Flags;
        d["bytes_key"] = m.KeySize;
        d["bytes_value"] = m.ValueSize;
        d["max_entries"] = m.MaxEntries;
        d["bytes_memlock"] = memlock ?? MapMemlock(m);
        d["frozen"] = m.Frozen ? 1 : 0;
        if (m.BtfId != 0) d["btf_id"] = m.BtfId;
        if (pins.Count > 0) d["pinned"] = pins;
        return d;
    }

    /// <summary>One dump/lookup line: "key: 01 00 00 00  value: 01 02 …" (multi-line when long, as bpftool breaks).</summary>
    /// <summary>
    /// `prog run`'s output, the same for both backends: data_out/ctx_out go to their files (or, for `-`, as a
    /// hex dump or JSON byte arrays), then bpftool's "Return value: N, duration…" line or {retval, duration}.
    /// </summary>
    public static void WriteTestRun(TextWriter output, bool json, uint repeat, uint retval, ulong durationNs,
        (string? Target, byte[]? Bytes) dataOut, (string? Target, byte[]? Bytes) ctxOut)
    {
        var jsonOut = new Dictionary<string, object>();
        Emit(dataOut, "data_out");
        Emit(ctxOut, "ctx_out");
        if (json)
        {
            jsonOut["retval"] = retval;
            jsonOut["duration"] = durationNs;
            RuntimeJson.Write(output, jsonOut);
        }
        else
            output.WriteLine(repeat > 1
                ? $"Return value: {retval}, duration (average): {durationNs}ns"
                : $"Return value: {retval}, duration: {durationNs}ns");

        void Emit((string? Target, byte[]? Bytes) o, string name)
        {
            if (o.Target is null || o.Bytes is null)
                return;
            if (o.Target == "-")
            {
                if (json) jsonOut[name] = o.Bytes.Select(b => (int)b).ToArray();
                else output.Write(HexDump(o.Bytes));
            }
            else
                File.WriteAllBytes(o.Target, o.Bytes);
        }
    }

    /// <summary>The BTF layout of a map for <see cref="WriteDump"/>; null when its BTF cannot be parsed (bpftool then prints hex).</summary>
    public static MapBtfLayout? Layout(ReadOnlyMemory<byte> btfData, Ebpf.Abi.MapType type, uint keyTypeId, uint valueTypeId, uint valueSize)
    {
        Ebpf.Btf.BtfSpec btf;
        try
        {
            btf = Ebpf.Btf.BtfSpec.Parse(btfData);
        }
        catch (BpfException)
        {
            return null;
        }
        bool perCpu = type is Ebpf.Abi.MapType.PercpuArray or Ebpf.Abi.MapType.PercpuHash or Ebpf.Abi.MapType.LruPercpuHash or Ebpf.Abi.MapType.PercpuCgroupStorage;
        return new MapBtfLayout(btf, keyTypeId, valueTypeId, perCpu, (int)valueSize);
    }

    /// <summary>
    /// `map dump`: with a BTF layout, bpftool's BTF-formatted output (<see cref="BtfMapDump"/>); otherwise its JSON
    /// array of {key, value}, or one entry per line and "Found N elements".
    /// </summary>
    public static void WriteDump(TextWriter output, IReadOnlyList<(byte[] Key, byte[] Value)> entries, bool json, MapBtfLayout? layout = null)
    {
        if (layout is not null)
        {
            BtfMapDump.Write(output, entries, layout, json);
            return;
        }
        if (json)
        {
            RuntimeJson.Write(output, entries.Select(e => new Dictionary<string, object>
            {
                ["key"] = JsonBytes(e.Key),
                ["value"] = JsonBytes(e.Value),
            }).ToList());
            return;
        }
        foreach (var (key, value) in entries)
            output.WriteLine(EntryText(key, value));
        output.WriteLine($"Found {entries.Count} element{(entries.Count == 1 ? "" : "s")}");
    }

    /// <summary>`map lookup` of a found element: BTF-formatted when the map has BTF (as bpftool), else hex.</summary>
    public static void WriteLookup(TextWriter output, byte[] key, byte[] value, bool json, MapBtfLayout? layout)
    {
        if (layout is not null)
            BtfMapDump.WriteOne(output, key, value, layout, json);
        else if (json)
            RuntimeJson.Write(output, new Dictionary<string, object> { ["key"] = JsonBytes(key), ["value"] = JsonBytes(value) });
        else
            output.WriteLine(EntryText(key, value));
    }

    public static string EntryText(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        // bpftool prints on one line when key+value fit in 16+16 bytes (break_names heuristics: key_size + value_size <= 24).
        if (key.Length + value.Length <= 24)
            return $"key: {Hex(key)}  value: {Hex(value)}";
        return $"key:\n{Hex(key)}\nvalue:\n{Hex(value)}";
    }
}
