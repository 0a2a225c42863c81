using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Ebpf.Btf;

/// <summary>
/// The <c>bpftool btf dump file F</c> listing ("raw" format): one line per type, members/params/values/vars
/// indented by a tab, and the <c>bpftool -j</c> JSON shape (an object with a "types" array).
/// For split BTF only the split's own types are listed, as bpftool does with -B.
/// </summary>
public static class BtfRawDumper
{
    /// <summary>The raw listing of <paramref name="btf"/> as a string.</summary>
    public static string Dump(BtfSpec btf)
    {
        var sb = new StringBuilder(btf.Types.Count * 64);
        using var w = new StringWriter(sb, CultureInfo.InvariantCulture) { NewLine = "\n" };
        Dump(btf, w);
        return sb.ToString();
    }

    /// <summary>Writes the raw listing of <paramref name="btf"/> to <paramref name="w"/>.</summary>
    public static void Dump(BtfSpec btf, TextWriter w)
    {
        foreach (var t in btf.Types)
        {
            WriteType(btf, t, w);
            w.Write('\n');
        }
    }

    private static string Quoted(string name) => name.Length == 0 ? "'(anon)'" : $"'{name}'";

    internal static string IntEncoding(BtfIntEncoding e) => e switch
    {
        BtfIntEncoding.None => "(none)",
        BtfIntEncoding.Signed => "SIGNED",
        BtfIntEncoding.Char => "CHAR",
        BtfIntEncoding.Bool => "BOOL",
        _ => "UNKN",
    };

    internal static string FuncLinkage(BtfFuncLinkage l) => l switch
    {
        BtfFuncLinkage.Static => "static",
        BtfFuncLinkage.Global => "global",
        BtfFuncLinkage.Extern => "extern",
        _ => "(unknown)",
    };

    internal static string VarLinkage(BtfVarLinkage l) => l switch
    {
        BtfVarLinkage.Static => "static",
        BtfVarLinkage.GlobalAllocated => "global",
        BtfVarLinkage.GlobalExtern => "extern",
        _ => "(unknown)",
    };

    private static string EnumValue(BtfEnumType e, BtfEnumValue v) => e switch
    {
        BtfEnum when e.IsSigned => ((int)v.Value).ToString(CultureInfo.InvariantCulture),
        BtfEnum => ((uint)v.Value).ToString(CultureInfo.InvariantCulture),
        _ when e.IsSigned => v.Value.ToString(CultureInfo.InvariantCulture) + "LL",
        _ => ((ulong)v.Value).ToString(CultureInfo.InvariantCulture) + "ULL",
    };

    /// <summary>One type in bpftool's text form (without the trailing newline).</summary>
    public static void WriteType(BtfSpec btf, BtfType t, TextWriter w)
    {
        w.Write($"[{t.Id}] {t.Kind.ToKernelName()} {Quoted(t.Name)}");
        switch (t)
        {
            case BtfInt i:
                w.Write($" size={i.Size} bits_offset={i.BitOffset} nr_bits={i.Bits} encoding={IntEncoding(i.Encoding)}");
                break;
            case BtfReferenceType r:
                w.Write($" type_id={r.Type}");
                break;
            case BtfArray a:
                w.Write($" type_id={a.ElementType} index_type_id={a.IndexType} nr_elems={a.Count}");
                break;
            case BtfComposite c:
                w.Write($" size={c.Size} vlen={c.Members.Count}");
                foreach (var m in c.Members)
                {
                    w.Write($"\n\t{Quoted(m.Name)} type_id={m.Type} bits_offset={m.BitOffset}");
                    if (m.BitfieldSize != 0)
                        w.Write($" bitfield_size={m.BitfieldSize}");
                }
                break;
            case BtfEnumType e:
                w.Write($" encoding={(e.IsSigned ? "SIGNED" : "UNSIGNED")} size={e.Size} vlen={e.Values.Count}");
                foreach (var v in e.Values)
                    w.Write($"\n\t{Quoted(v.Name)} val={EnumValue(e, v)}");
                break;
            case BtfFwd f:
                w.Write($" fwd_kind={(f.IsUnion ? "union" : "struct")}");
                break;
            case BtfFunc f:
                w.Write($" type_id={f.ProtoType} linkage={FuncLinkage(f.Linkage)}");
                break;
            case BtfFuncProto p:
                w.Write($" ret_type_id={p.ReturnType} vlen={p.Parameters.Count}");
                foreach (var param in p.Parameters)
                    w.Write($"\n\t{Quoted(param.Name)} type_id={param.Type}");
                break;
            case BtfVar v:
                w.Write($" type_id={v.Type}, linkage={VarLinkage(v.Linkage)}");
                break;
            case BtfDatasec d:
                w.Write($" size={d.Size} vlen={d.Variables.Count}");
                foreach (var v in d.Variables)
                {
                    w.Write($"\n\ttype_id={v.Type} offset={v.Offset} size={v.Size}");
                    if (btf.TryGetType(v.Type, out var vt))
                        w.Write($" ({vt.Kind.ToKernelName()} {Quoted(vt.Name)})");
                }
                break;
            case BtfFloat f:
                w.Write($" size={f.Size}");
                break;
            case BtfDeclTag tag:
                w.Write($" type_id={tag.Type} component_idx={tag.ComponentIndex}");
                break;
        }
    }

    /// <summary>The <c>bpftool -j btf dump</c> shape: {"types":[{"id":…,"kind":…,"name":…,…}]}.</summary>
    public static void DumpJson(BtfSpec btf, Stream output, bool indented = false)
    {
        using var j = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = indented });
        j.WriteStartObject();
        j.WriteStartArray("types");
        foreach (var t in btf.Types)
            WriteJson(t, j);
        j.WriteEndArray();
        j.WriteEndObject();
    }

    /// <summary>The <c>bpftool -j btf dump</c> JSON of <paramref name="btf"/>.</summary>
    public static string DumpJson(BtfSpec btf, bool indented = false)
    {
        using var ms = new MemoryStream();
        DumpJson(btf, ms, indented);
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    private static string JsonName(string name) => name.Length == 0 ? "(anon)" : name;

    private static void WriteJson(BtfType t, Utf8JsonWriter j)
    {
        j.WriteStartObject();
        j.WriteNumber("id", t.Id);
        j.WriteString("kind", t.Kind.ToKernelName());
        j.WriteString("name", JsonName(t.Name));
        switch (t)
        {
            case BtfInt i:
                j.WriteNumber("size", i.Size);
                j.WriteNumber("bits_offset", i.BitOffset);
                j.WriteNumber("nr_bits", i.Bits);
                j.WriteString("encoding", IntEncoding(i.Encoding));
                break;
            case BtfReferenceType r:
                j.WriteNumber("type_id", r.Type);
                break;
            case BtfArray a:
                j.WriteNumber("type_id", a.ElementType);
                j.WriteNumber("index_type_id", a.IndexType);
                j.WriteNumber("nr_elems", a.Count);
                break;
            case BtfComposite c:
                j.WriteNumber("size", c.Size);
                j.WriteNumber("vlen", c.Members.Count);
                j.WriteStartArray("members");
                foreach (var m in c.Members)
                {
                    j.WriteStartObject();
                    j.WriteString("name", JsonName(m.Name));
                    j.WriteNumber("type_id", m.Type);
                    j.WriteNumber("bits_offset", m.BitOffset);
                    if (m.BitfieldSize != 0)
                        j.WriteNumber("bitfield_size", m.BitfieldSize);
                    j.WriteEndObject();
                }
                j.WriteEndArray();
                break;
            case BtfEnumType e:
                j.WriteString("encoding", e.IsSigned ? "SIGNED" : "UNSIGNED");
                j.WriteNumber("size", e.Size);
                j.WriteNumber("vlen", e.Values.Count);
                j.WriteStartArray("values");
                foreach (var v in e.Values)
                {
                    j.WriteStartObject();
                    j.WriteString("name", JsonName(v.Name));
                    if (e.IsSigned)
                        j.WriteNumber("val", e is BtfEnum ? (int)v.Value : v.Value);
                    else
                        j.WriteNumber("val", e is BtfEnum ? (uint)v.Value : (ulong)v.Value);
                    j.WriteEndObject();
                }
                j.WriteEndArray();
                break;
            case BtfFwd f:
                j.WriteString("fwd_kind", f.IsUnion ? "union" : "struct");
                break;
            case BtfFunc f:
                j.WriteNumber("type_id", f.ProtoType);
                j.WriteString("linkage", FuncLinkage(f.Linkage));
                break;
            case BtfFuncProto p:
                j.WriteNumber("ret_type_id", p.ReturnType);
                j.WriteNumber("vlen", p.Parameters.Count);
                j.WriteStartArray("params");
                foreach (var param in p.Parameters)
                {
                    j.WriteStartObject();
                    j.WriteString("name", JsonName(param.Name));
                    j.WriteNumber("type_id", param.Type);
                    j.WriteEndObject();
                }
                j.WriteEndArray();
                break;
            case BtfVar v:
                j.WriteNumber("type_id", v.Type);
                j.WriteString("linkage", VarLinkage(v.Linkage));
                break;
            case BtfDatasec d:
                j.WriteNumber("size", d.Size);
                j.WriteNumber("vlen", d.Variables.Count);
                j.WriteStartArray("vars");
                foreach (var v in d.Variables)
                {
                    j.WriteStartObject();
                    j.WriteNumber("type_id", v.Type);
                    j.WriteNumber("offset", v.Offset);
                    j.WriteNumber("size", v.Size);
                    j.WriteEndObject();
                }
                j.WriteEndArray();
                break;
            case BtfFloat f:
                j.WriteNumber("size", f.Size);
                break;
            case BtfDeclTag tag:
                j.WriteNumber("type_id", tag.Type);
                j.WriteNumber("component_idx", tag.ComponentIndex);
                break;
        }
        j.WriteEndObject();
    }
}
