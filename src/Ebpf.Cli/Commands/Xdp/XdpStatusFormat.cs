using System.Text.Json;
using Ebpf.Collections;
using Ebpf.Xdp;

namespace Ebpf.Cli.Commands.Xdp;

/// <summary>xdp status: the text is xdp-loader's layout (<see cref="XdpStatusText"/>); -j gives the same as JSON.</summary>
internal static class XdpStatusFormat
{
    public static void WriteText(TextWriter o, IReadOnlyList<(string Name, int Ifindex, XdpMultiprog? State)> rows) =>
        XdpStatusText.Write(o, rows.Select(r => (r.Name, r.State)).ToList());

    public static string ModeName(XdpFlags mode) => XdpStatusText.ModeName(mode);

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
