using System.Globalization;
using Ebpf.Btf;
using Ebpf.Loading;

namespace Ebpf.VerifierSuite;

/// <summary>What upstream expects of one program in one mode (test_loader.c's struct test_subspec).</summary>
internal sealed record SubSpec(bool ExpectFailure, IReadOnlyList<string> Messages, IReadOnlyList<string> NotMessages,
    int? Retval, ulong Caps);

/// <summary>
/// What upstream's bpf_misc.h says of one program: the btf_decl_tag("comment:test_…") attributes on its FUNC, read the
/// way test_loader.c's parse_test_spec reads them (either tag format: "comment:test_…" or the newer
/// "comment:COUNTER:test_…", ordered by the counter). A program is tested privileged when any privileged tag is present
/// (or no mode tag at all), unprivileged when any *_unpriv tag is; the unprivileged expectation inherits the
/// privileged verdict, messages and retval when it gives none of its own.
/// </summary>
internal sealed record TestAnnotations(
    string Description,
    bool? ExpectSuccess,
    IReadOnlyList<string> Messages,
    bool HasUnprivileged,
    bool Auxiliary,
    int LogLevel,
    uint Flags)
{
    private const string Prefix = "comment:";

    /// <summary>The unprivileged expectation (null when the program is not tested unprivileged).</summary>
    public SubSpec? Unpriv { get; init; }

    /// <summary>The privileged expectation (null when the program is not tested privileged).</summary>
    public SubSpec? Priv { get; init; }

    /// <summary>Why test_loader would skip it on this machine (x86-64, JIT on): an __arch_* or __load_if_* mismatch.</summary>
    public string? SkipReason { get; init; }

    /// <summary>Prog flags the annotations clear ("__flag(!X)").</summary>
    public uint ClearedFlags { get; init; }

    /// <summary>A tag test_loader cannot parse (it fails the test): named here, the program is left out.</summary>
    public string? ParseError { get; init; }

    public static TestAnnotations Of(ObjectSpec obj, ProgramSpec program) => Parse(program.Name, TagsOf(obj, program));

    /// <summary>The decl-tag strings on the program's FUNC in source order, "comment:" and any counter removed.</summary>
    private static List<string> TagsOf(ObjectSpec obj, ProgramSpec program)
    {
        var raw = new List<string>();
        if (obj.Btf is { } btf)
            foreach (uint id in btf.FindAllByName(program.Name, BtfKind.Func))
                raw.AddRange(btf.GetDeclTagValues(id).Where(t => t.StartsWith(Prefix, StringComparison.Ordinal)).Select(t => t[Prefix.Length..]));
        var numbered = new List<(long Counter, int Index, string Tag)>();
        for (int i = 0; i < raw.Count; i++)
        {
            string t = raw[i];
            int colon = t.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && t[..colon].All(char.IsAsciiDigit) && long.TryParse(t[..colon], CultureInfo.InvariantCulture, out long n))
                numbered.Add((n, i, t[(colon + 1)..]));
            else
                numbered.Add((-1, i, t));
        }
        // test_loader sorts with strverscmp so that "comment:N:" follows the source order; untagged ones keep BTF order.
        return numbered.OrderBy(x => x.Counter).ThenBy(x => x.Index).Select(x => x.Tag).ToList();
    }

    public static TestAnnotations Parse(string name, IReadOnlyList<string> tags)
    {
        const int Priv = 1, UnprivMode = 2;
        string description = name;
        int mode = 0;
        bool privFailure = false, unprivFailure = false, hasUnprivResult = false, aux = false;
        var privMsgs = new List<string>();
        var unprivMsgs = new List<string>();
        var privNot = new List<string>();
        var unprivNot = new List<string>();
        int? privRetval = null, unprivRetval = null;
        int logLevel = 0;
        uint flags = 0, cleared = 0;
        ulong caps = 0;
        int archMask = 0;
        string? loadMode = null, error = null;
        foreach (string tag in tags)
        {
            int eq = tag.IndexOf('=', StringComparison.Ordinal);
            string key = eq < 0 ? tag : tag[..eq];
            string value = eq < 0 ? "" : tag[(eq + 1)..];
            switch (key)
            {
                case "test_description": description = value; break;
                case "test_expect_failure": privFailure = true; mode |= Priv; break;
                case "test_expect_success": privFailure = false; mode |= Priv; break;
                case "test_expect_failure_unpriv": unprivFailure = true; hasUnprivResult = true; mode |= UnprivMode; break;
                case "test_expect_success_unpriv": unprivFailure = false; hasUnprivResult = true; mode |= UnprivMode; break;
                case "test_auxiliary": aux = true; mode |= Priv; break;
                case "test_auxiliary_unpriv": aux = true; mode |= UnprivMode; break;
                case "test_expect_msg": privMsgs.Add(value); mode |= Priv; break;
                case "test_expect_not_msg": privNot.Add(value); mode |= Priv; break;
                case "test_expect_msg_unpriv": unprivMsgs.Add(value); mode |= UnprivMode; break;
                case "test_expect_not_msg_unpriv": unprivNot.Add(value); mode |= UnprivMode; break;
                // __jited is collected (and sets the mode) only after an __arch_* naming this machine's architecture.
                case "test_jited":
                    if (archMask == 0) error ??= "__jited used before __arch_*";
                    else if ((archMask & ArchX86) != 0) mode |= Priv;
                    break;
                case "test_jited_unpriv":
                    if (archMask == 0) error ??= "__unpriv_jited used before __arch_*";
                    else if ((archMask & ArchX86) != 0) mode |= UnprivMode;
                    break;
                case "test_expect_xlated": mode |= Priv; break;
                case "test_expect_xlated_unpriv": mode |= UnprivMode; break;
                case "test_retval":
                    if (ParseRetval(value) is { } r) { privRetval = r; mode |= Priv; }
                    else error ??= $"failed to parse __retval from '{value}'";
                    break;
                case "test_retval_unpriv":
                    if (ParseRetval(value) is { } ru) { unprivRetval = ru; mode |= UnprivMode; }
                    else error ??= $"failed to parse __retval_unpriv from '{value}'";
                    break;
                case "test_log_level":
                    if (ParseInt(value) is { } level) logLevel = level;
                    else error ??= $"failed to parse test log level from '{value}'";
                    break;
                case "test_prog_flags":
                    bool clear = value.StartsWith('!');
                    uint flag = ParseFlag(clear ? value[1..] : value);
                    if (clear) { flags &= ~flag; cleared |= flag; }
                    else { flags |= flag; cleared &= ~flag; }
                    break;
                case "test_arch":
                    int arch = value switch { "X86_64" => ArchX86, "ARM64" => 4, "RISCV64" => 8, "s390x" or "S390X" => 0x10, "LOONGARCH" => 0x20, _ => 0 };
                    if (arch == 0) error ??= $"bad arch spec: '{value}'";
                    archMask |= arch;
                    break;
                case "test_caps_unpriv":
                    foreach (string c in value.Split('|', StringSplitOptions.RemoveEmptyEntries))
                        if (int.TryParse(c, CultureInfo.InvariantCulture, out int cap) && cap is > 0 and < 64) caps |= 1UL << cap;
                        else error ??= $"failed to parse caps '{value}'";
                    mode |= UnprivMode;
                    break;
                case "load_mode":
                    if (value is "jited" or "no_jited") loadMode = value;
                    else error ??= $"bad load spec: '{value}'";
                    break;
            }
        }
        if (mode == 0) mode = Priv;
        // test_loader: with no unprivileged result of its own, the unprivileged test inherits the privileged one.
        if (!hasUnprivResult) unprivFailure = privFailure;
        unprivRetval ??= privRetval;
        if (unprivMsgs.Count == 0) unprivMsgs.AddRange(privMsgs);
        if (unprivNot.Count == 0) unprivNot.AddRange(privNot);
        string? skip = null;
        if (archMask != 0 && (archMask & ArchX86) == 0) skip = "__arch_* excludes x86_64";
        else if (loadMode is not null && loadMode != (JitEnabled ? "jited" : "no_jited")) skip = $"__load_if_{(loadMode == "jited" ? "JITed" : "no_JITed")}";
        var priv = (mode & Priv) != 0 ? new SubSpec(privFailure, privMsgs, privNot, privRetval, 0) : null;
        var unpriv = (mode & UnprivMode) != 0 ? new SubSpec(unprivFailure, unprivMsgs, unprivNot, unprivRetval, caps) : null;
        return new TestAnnotations(description, priv is null ? null : !priv.ExpectFailure, privMsgs, unpriv is not null, aux, logLevel, flags)
        {
            Priv = priv,
            Unpriv = unpriv,
            SkipReason = skip,
            ClearedFlags = cleared,
            ParseError = error,
        };
    }

    private const int ArchX86 = 2;

    /// <summary>test_loader runs __load_if_JITed tests only when the JIT is on (net.core.bpf_jit_enable).</summary>
    private static readonly bool JitEnabled = ReadJitEnabled();

    private static bool ReadJitEnabled()
    {
        try
        {
            return File.ReadAllText("/proc/sys/net/core/bpf_jit_enable").Trim() != "0";
        }
        catch (IOException)
        {
            return true;
        }
        catch (UnauthorizedAccessException)
        {
            return true;
        }
    }

    private static int? ParseInt(string value)
    {
        if (value.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return long.TryParse(value[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out long h) ? unchecked((int)h) : null;
        return long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long d) ? unchecked((int)d) : null;
    }

    /// <summary>test_loader's parse_retval; a bpf_misc.h that stringifies without expanding leaves bpf_misc.h's own
    /// names (POINTER_VALUE, TEST_DATA_LEN), read here as test_loader.c defines them.</summary>
    private static int? ParseRetval(string value) => value switch
    {
        "_INT_MIN" => int.MinValue,
        "POINTER_VALUE" => 0xbadcafe,
        "TEST_DATA_LEN" => 64,
        _ => ParseInt(value),
    };

    /// <summary>test_loader.c's names for __flag; anything else is a number.</summary>
    private static uint ParseFlag(string value) => value switch
    {
        "BPF_F_STRICT_ALIGNMENT" => 1,
        "BPF_F_ANY_ALIGNMENT" => 2,
        "BPF_F_TEST_RND_HI32" => 4,
        "BPF_F_TEST_STATE_FREQ" => 8,
        "BPF_F_SLEEPABLE" => 16,
        "BPF_F_XDP_HAS_FRAGS" => 32,
        "BPF_F_TEST_REG_INVARIANTS" => 128,
        _ => ParseInt(value) is { } n ? unchecked((uint)n) : 0,
    };
}
