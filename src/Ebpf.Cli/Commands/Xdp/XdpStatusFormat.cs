using System.Text.Json;
using Ebpf.Collections;
using Ebpf.Xdp;

namespace Ebpf.Cli.Commands.Xdp;

/// <summary>
/// xdp-loader status's layout: a header, then per device either "&lt;No XDP program loaded!&gt;", the single program,
/// or the dispatcher followed by one " =&gt;" row per component (priority, name, id, tag, chain actions).
/// </summary>
internal static class XdpStatusFormat
{
    public static void WriteText(TextWriter o, IReadOnlyList<(string Name, int Ifindex, XdpMultiprog? State)> rows)
    {
        o.WriteLine("CURRENT XDP PROGRAM STATUS:");
        o.WriteLine();
        o.WriteLine($"{"Interface",-16} {"Prio",-5} {"Program name",-17} {"Mode",-8} {"ID",-4} {"Tag",-17} Chain actions");
        o.WriteLine(new string('-', 86));
        foreach (var (name, _, state) in rows)
        {
            if (state is null)
            {
                o.WriteLine($"{name,-16} {"",-5} <No XDP program loaded!>");
                continue;
            }
            var main = state.MainProgram.GetInfo();
            o.WriteLine($"{name,-16} {"",-5} {main.Name,-17} {ModeName(state.Mode),-8} {main.Id,-4} {main.TagHex,-17}".TrimEnd());
            if (state.IsLegacy)
                continue;
            foreach (var p in state.Programs)
            {
                var info = p.Program!.GetInfo();
                o.WriteLine($" {"=>",-15} {p.Priority,-5} {p.Name,-17} {"",-8} {info.Id,-4} {info.TagHex,-17} {XdpActionNames.Format(p.ChainCallActions)}".TrimEnd());
            }
        }
        o.WriteLine();
    }

    public static string ModeName(XdpFlags mode) => (mode & XdpFlags.Modes) switch
    {
        XdpFlags.DrvMode => "native",
        XdpFlags.SkbMode => "skb",
        XdpFlags.HwMode => "hw",
        _ => "unknown",
    };

    public static void WriteJson(TextWriter o, IReadOnlyList<(string Name, int Ifindex, XdpMultiprog? State)> rows)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartArray();
            foreach (var (name, ifindex, state) in rows)
            {
                w.WriteStartObject();
                w.WriteString("ifname", name);
                w.WriteNumber("ifindex", ifindex);
                if (state is null)
                {
                    w.WriteNull("mode");
                    w.WriteNull("dispatcher");
                    w.WriteStartArray("programs");
                    w.WriteEndArray();
                    w.WriteEndObject();
                    continue;
                }
                w.WriteString("mode", ModeName(state.Mode));
                var main = state.MainProgram.GetInfo();
                if (state.IsLegacy)
                    w.WriteNull("dispatcher");
                else
                {
                    w.WriteStartObject("dispatcher");
                    w.WriteNumber("id", main.Id);
                    w.WriteString("name", main.Name);
                    w.WriteString("tag", main.TagHex);
                    w.WriteNumber("version", state.Version);
                    if (state.PinDirectory is { } dir)
                        w.WriteString("pin_dir", dir);
                    w.WriteEndObject();
                }
                w.WriteStartArray("programs");
                foreach (var p in state.Programs)
                {
                    var info = p.Program!.GetInfo();
                    w.WriteStartObject();
                    if (!state.IsLegacy)
                        w.WriteNumber("slot", p.Slot);
                    w.WriteNumber("priority", p.Priority);
                    w.WriteString("name", p.Name);
                    w.WriteNumber("id", info.Id);
                    w.WriteString("tag", info.TagHex);
                    w.WriteStartArray("chain_call_actions");
                    foreach (var a in XdpActionNames.All.Where(a => ((uint)p.ChainCallActions & (1u << (int)a)) != 0))
                        w.WriteStringValue(a.ToKernelName());
                    w.WriteEndArray();
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        o.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }
}
