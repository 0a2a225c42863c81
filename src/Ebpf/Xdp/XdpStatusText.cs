using Ebpf.Collections;

namespace Ebpf.Xdp;

/// <summary>
/// xdp-loader status's text layout: a header, then per device either "&lt;No XDP program loaded!&gt;", the single
/// program, or the dispatcher followed by one " =&gt;" row per component (priority, name, id, tag, chain actions).
/// </summary>
public static class XdpStatusText
{
    /// <summary>Writes the status of the devices <paramref name="rows"/> name (null state: nothing attached).</summary>
    public static void Write(TextWriter output, IReadOnlyList<(string Device, XdpMultiprog? State)> rows)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(rows);
        output.WriteLine("CURRENT XDP PROGRAM STATUS:");
        output.WriteLine();
        output.WriteLine($"{"Interface",-16} {"Prio",-5} {"Program name",-17} {"Mode",-8} {"ID",-4} {"Tag",-17} Chain actions");
        output.WriteLine(new string('-', 86));
        foreach (var (name, state) in rows)
        {
            if (state is null)
            {
                output.WriteLine($"{name,-16} {"",-5} <No XDP program loaded!>");
                continue;
            }
            var main = state.MainProgram.GetInfo();
            // xdp-loader pads the tag to 17 (so the row ends in a space) and shifts the components' names one column
            // right of the header's; the text is compared with its output byte for byte.
            output.WriteLine($"{name,-16} {"",-5} {main.Name,-17} {ModeName(state.Mode),-8} {main.Id,-4} {main.TagHex,-17}");
            if (state.IsLegacy)
                continue;
            foreach (var p in state.Programs)
            {
                var info = p.Program!.GetInfo();
                output.WriteLine($" {"=>",-15} {p.Priority,-5}  {p.Name,-16} {"",-8} {info.Id,-4} {info.TagHex,-17} {XdpActionNames.Format(p.ChainCallActions)}");
            }
        }
        output.WriteLine();
    }

    /// <summary>xdp-loader's mode names: native, skb, hw (unknown otherwise).</summary>
    public static string ModeName(XdpFlags mode) => (mode & XdpFlags.Modes) switch
    {
        XdpFlags.DrvMode => "native",
        XdpFlags.SkbMode => "skb",
        XdpFlags.HwMode => "hw",
        _ => "unknown",
    };
}
