using Ebpf.Abi;
using System.CommandLine;
using Ebpf.Loading;

namespace Ebpf.Cli.Commands.Loading;

/// <summary>`ebpf object show FILE.o`: what libbpf would see in an object — programs, maps, global data, externs.</summary>
internal sealed class ObjectShowCommand : ICliVerb
{
    public IReadOnlyList<string> Path => ["object", "show"];

    public Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "A clang-built BPF object (.o)" };
        var command = new Command("show", "List the programs, maps, global data and externs of a BPF object") { file };
        CliConsole.SetBody(command, pr =>
        {
            var spec = ObjectSpec.Load(pr.GetValue(file)!);
            if (CliConsole.IsJson(pr))
                CliConsole.WriteJson(ToJson(spec));
            else
                WriteText(spec, CliConsole.Out);
            return 0;
        });
        return command;
    }

    internal static object ToJson(ObjectSpec spec) => new
    {
        name = spec.Name,
        license = spec.License,
        kernel_version = spec.KernelVersion,
        programs = spec.Programs.Select(p => new
        {
            name = p.Name,
            section = p.SectionName,
            type = KernelNames.Of(p.Type),
            attach = p.AttachTarget,
            expected_attach_type = p.ExpectedAttachType is { } a ? KernelNames.Of(a) : null,
            autoload = p.Autoload,
            insns = p.Instructions.Length,
            subprograms = p.Subprograms.Select(s => new { name = s.Name, offset = s.Offset, insns = s.Length }).ToList(),
            relocations = p.Relocations.Count,
            unresolved = p.UnresolvedSymbols.ToList(),
        }).ToList(),
        maps = spec.Maps.Select(m => new
        {
            name = m.Name,
            type = KernelNames.Of(m.Type),
            key_size = m.KeySize,
            value_size = m.ValueSize,
            max_entries = m.MaxEntries,
            flags = (uint)m.Flags,
            pinning = (uint)m.Pinning,
            section = m.SectionName,
            inner_map = m.InnerMap?.Name,
            initial_slots = m.InitialSlots.Select(s => new { index = s.Index, name = s.Name }).ToList(),
            frozen = m.Freeze,
        }).ToList(),
        data_sections = spec.DataSections.Select(m => new { name = m.Name, section = m.SectionName, size = m.ValueSize, frozen = m.Freeze }).ToList(),
        externs = spec.Externs.Select(e => new
        {
            name = e.Name,
            kind = ExternKindName(e.Kind),
            weak = e.IsWeak,
            type = e.TypeName,
            offset = e.DataOffset,
        }).ToList(),
    };

    private static string ExternKindName(ExternKind kind) => kind switch
    {
        ExternKind.Kconfig => "kconfig",
        ExternKind.KsymFunction => "kfunc",
        _ => "ksym",
    };

    internal static void WriteText(ObjectSpec spec, TextWriter o)
    {
        o.WriteLine($"object {spec.Name}  license \"{spec.License}\"" + (spec.KernelVersion != 0 ? $"  kernel_version 0x{spec.KernelVersion:x}" : ""));
        foreach (var p in spec.Programs)
        {
            string attach = p.AttachTarget is null ? "" : $"  attach {p.AttachTarget}";
            string expected = p.ExpectedAttachType is { } a ? $"  expected_attach {KernelNames.Of(a)}" : "";
            string subs = p.Subprograms.Any() ? "  subprogs " + string.Join(",", p.Subprograms.Select(s => s.Name)) : "";
            string autoload = p.Autoload ? "" : "  autoload off";
            string unresolved = p.UnresolvedSymbols.Any() ? "  unresolved " + string.Join(",", p.UnresolvedSymbols) : "";
            o.WriteLine($"prog {p.Name}: {KernelNames.Of(p.Type)}  section {p.SectionName}{attach}{expected}  insns {p.Instructions.Length}{subs}{autoload}{unresolved}");
        }
        foreach (var m in spec.Maps)
        {
            string flags = m.Flags != 0 ? $"  flags 0x{(uint)m.Flags:x}" : "";
            string pin = m.Pinning != 0 ? $"  pinning {(uint)m.Pinning}" : "";
            string inner = m.InnerMap is { } im ? $"  inner {KernelNames.Of(im.Type)}({im.KeySize},{im.ValueSize})" : "";
            string slots = m.InitialSlots.Count > 0 ? "  values " + string.Join(",", m.InitialSlots.Select(s => $"[{s.Index}]={s.Name}")) : "";
            string frozen = m.Freeze ? "  frozen" : "";
            o.WriteLine($"map {m.Name}: {KernelNames.Of(m.Type)}  key {m.KeySize}B  value {m.ValueSize}B  max_entries {m.MaxEntries}{flags}{pin}{inner}{slots}{frozen}");
        }
        foreach (var e in spec.Externs)
            o.WriteLine($"extern {e.Name}: {ExternKindName(e.Kind)}{(e.IsWeak ? " weak" : "")}  type {e.TypeName}" +
                (e.Kind == ExternKind.Kconfig ? $"  offset {e.DataOffset}" : ""));
    }
}
