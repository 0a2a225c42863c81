using System.Globalization;
using System.Text;
using Ebpf.Abi;
using Ebpf.Collections;

namespace Ebpf.Cli.Commands.Runtime;

// `link show` as bpftool prints it (show_link_close_plain/json), and the load-time target of tracing/EXT programs.
internal static partial class BpftoolFormat
{
    /// <summary>
    /// A program loaded against another program's function (fentry/fexit/freplace): the target's BTF object and the
    /// function's id in it. bpftool v7.1's `prog show` prints no such line; it is ours, in bpftool's key/value style.
    /// </summary>
    private static bool ShowsAttachTarget(ProgramInfo p) => p.AttachBtfId != 0 && p.Type is ProgramType.Tracing or ProgramType.Ext;

    /// <summary>
    /// "ID: TYPE  prog N  " then the type's details, pins, and a newline; bpftool's spacing (two trailing spaces per
    /// field). <paramref name="program"/> is the attached program's info (tracing links print its type).
    /// </summary>
    public static string LinkText(LinkInfo l, ProgramInfo? program, IReadOnlyList<string> pins)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{l.Id}: {TypeName(l.Type)}  prog {l.ProgramId}  ");
        switch (l.Type)
        {
            case LinkType.RawTracepoint when l.TracepointName is not null:
                sb.Append(CultureInfo.InvariantCulture, $"\n\ttp '{l.TracepointName}'  ");
                break;
            case LinkType.Tracing:
                if (program is not null)
                    sb.Append(CultureInfo.InvariantCulture, $"\n\tprog_type {TypeName(program.Type)}  ");
                sb.Append(CultureInfo.InvariantCulture, $"attach_type {TypeName(l.AttachType)}  ");
                if (l.TargetObjectId != 0 || l.TargetBtfId != 0)
                    sb.Append(CultureInfo.InvariantCulture, $"\n\ttarget_obj_id {l.TargetObjectId}  target_btf_id {l.TargetBtfId}  ");
                break;
            case LinkType.Cgroup when l.TypeSpecific.Count > 0:
                sb.Append(CultureInfo.InvariantCulture, $"\n\tcgroup_id {l.TypeSpecific[0]}  attach_type {TypeName(l.AttachType)}  ");
                break;
            case LinkType.Netns when l.TypeSpecific.Count > 0:
                sb.Append(CultureInfo.InvariantCulture, $"\n\tnetns_ino {(uint)l.TypeSpecific[0]}  attach_type {TypeName(l.AttachType)}  ");
                break;
            case LinkType.Xdp when l.TypeSpecific.Count > 0:
                sb.Append(CultureInfo.InvariantCulture, $"\n\tifindex {DeviceText((uint)l.TypeSpecific[0])}  ");
                break;
            case LinkType.Iter when l.IterTargetName is not null:
                // bpftool's show_iter_plain: on the same line; map targets add their map.
                sb.Append(CultureInfo.InvariantCulture, $"target_name {l.IterTargetName}  ");
                if (IsIterMapTarget(l.IterTargetName))
                    sb.Append(CultureInfo.InvariantCulture, $"map_id {l.IterMapId}  ");
                break;
        }
        foreach (var pin in pins)
            sb.Append(CultureInfo.InvariantCulture, $"\n\tpinned {pin}");
        sb.Append('\n');
        return sb.ToString();
    }

    public static Dictionary<string, object> LinkJson(LinkInfo l, ProgramInfo? program, IReadOnlyList<string> pins)
    {
        var d = new Dictionary<string, object>
        {
            ["id"] = l.Id,
            ["type"] = TypeName(l.Type),
            ["prog_id"] = l.ProgramId,
        };
        switch (l.Type)
        {
            case LinkType.RawTracepoint when l.TracepointName is not null:
                d["tp_name"] = l.TracepointName;
                break;
            case LinkType.Tracing:
                if (program is not null)
                    d["prog_type"] = TypeName(program.Type);
                d["attach_type"] = TypeName(l.AttachType);
                d["target_obj_id"] = l.TargetObjectId;
                d["target_btf_id"] = l.TargetBtfId;
                break;
            case LinkType.Cgroup when l.TypeSpecific.Count > 0:
                d["cgroup_id"] = l.TypeSpecific[0];
                d["attach_type"] = TypeName(l.AttachType);
                break;
            case LinkType.Netns when l.TypeSpecific.Count > 0:
                d["netns_ino"] = (uint)l.TypeSpecific[0];
                d["attach_type"] = TypeName(l.AttachType);
                break;
            case LinkType.Xdp when l.TypeSpecific.Count > 0:
                uint ifindex = (uint)l.TypeSpecific[0];
                d["devname"] = ifindex == 0 ? "(detached)" : InterfaceName(ifindex) ?? "(unknown)";
                d["ifindex"] = ifindex;
                break;
            case LinkType.Iter when l.IterTargetName is not null:
                d["target_name"] = l.IterTargetName;
                if (IsIterMapTarget(l.IterTargetName))
                    d["map_id"] = l.IterMapId;
                break;
        }
        if (pins.Count > 0)
            d["pinned"] = pins;
        return d;
    }

    /// <summary>bpftool's is_iter_map_target.</summary>
    private static bool IsIterMapTarget(string target) => target is "bpf_map_elem" or "bpf_sk_storage_map";

    /// <summary>bpftool's show_link_ifindex_plain: "lo(1)", "(detached)", "(unknown)".</summary>
    private static string DeviceText(uint ifindex) =>
        ifindex == 0 ? "(detached)" : InterfaceName(ifindex) is { } name ? $"{name}({ifindex})" : "(unknown)";

    /// <summary>if_indextoname through /sys/class/net (null when no interface has the index).</summary>
    private static string? InterfaceName(uint ifindex)
    {
        const string root = "/sys/class/net";
        if (!Directory.Exists(root))
            return null;
        foreach (var dir in Directory.EnumerateDirectories(root))
        {
            string file = Path.Combine(dir, "ifindex");
            if (File.Exists(file) && uint.TryParse(File.ReadAllText(file).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out uint i) && i == ifindex)
                return Path.GetFileName(dir);
        }
        return null;
    }
}
