using Ebpf.Abi;

namespace Ebpf.Loading;

/// <summary>How a section-name entry matches, mirroring libbpf's SEC_DEF spellings.</summary>
internal enum SectionMatch
{
    /// <summary>The section name must equal the entry ("xdp", "socket").</summary>
    Exact,
    /// <summary>libbpf's "type+": the entry alone or followed by '/' and an attach target ("kprobe/do_sys_open").</summary>
    ExactOrSlash,
    /// <summary>libbpf's "type/": the entry followed by anything ("struct_ops/" style).</summary>
    Prefix,
}

/// <summary>One row of libbpf's section_defs table: prefix, program type, expected attach type, flags.</summary>
internal sealed record SectionDefinition(
    string Prefix,
    SectionMatch Match,
    ProgramType ProgramType,
    AttachType? ExpectedAttachType,
    ProgramLoadFlags Flags = ProgramLoadFlags.None,
    bool AttachBtf = false)
{
    /// <summary>Whether <paramref name="section"/> matches this row under libbpf ≥ 1.0 rules.</summary>
    public bool Matches(string section) => Match switch
    {
        SectionMatch.Exact => section == Prefix,
        SectionMatch.ExactOrSlash => section.StartsWith(Prefix, StringComparison.Ordinal)
            && (section.Length == Prefix.Length || section[Prefix.Length] == '/'),
        _ => section.StartsWith(Prefix, StringComparison.Ordinal),
    };

    /// <summary>libbpf 0.x "sloppy" prefix matching, which old objects rely on ("xdp_prog", "socket1", "cgroup/sock1").</summary>
    public bool MatchesSloppy(string section) => section.StartsWith(Prefix.TrimEnd('/'), StringComparison.Ordinal);

    /// <summary>The attach target: what follows the prefix and its '/' separator, or null when nothing does.</summary>
    public string? AttachTargetOf(string section)
    {
        if (section.Length <= Prefix.Length)
            return null;
        string rest = section[Prefix.Length..];
        if (Match == SectionMatch.ExactOrSlash && rest.StartsWith('/'))
            rest = rest[1..];
        return rest.Length == 0 ? null : rest;
    }
}
