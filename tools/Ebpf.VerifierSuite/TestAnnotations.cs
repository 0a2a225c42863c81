using Ebpf.Btf;
using Ebpf.Loading;

namespace Ebpf.VerifierSuite;

/// <summary>
/// What upstream's bpf_misc.h says of one program: the btf_decl_tag("comment:test_…") attributes on its FUNC
/// (test_loader.c reads the same tags). Privileged expectations only: unprivileged loads are not possible here
/// (kernel.unprivileged_bpf_disabled), so the *_unpriv tags are counted but not checked.
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

    public static TestAnnotations Of(ObjectSpec obj, ProgramSpec program)
    {
        var tags = new List<string>();
        if (obj.Btf is { } btf)
            foreach (uint id in btf.FindAllByName(program.Name, BtfKind.Func))
                tags.AddRange(btf.GetDeclTagValues(id).Where(t => t.StartsWith(Prefix, StringComparison.Ordinal)).Select(t => t[Prefix.Length..]));
        string description = program.Name;
        bool? success = null;
        var messages = new List<string>();
        bool unpriv = false, aux = false;
        int logLevel = 0;
        uint flags = 0;
        foreach (string tag in tags)
        {
            int eq = tag.IndexOf('=', StringComparison.Ordinal);
            string key = eq < 0 ? tag : tag[..eq];
            string value = eq < 0 ? "" : tag[(eq + 1)..];
            switch (key)
            {
                case "test_description": description = value; break;
                case "test_expect_success": success = true; break;
                case "test_expect_failure": success = false; break;
                case "test_expect_msg": messages.Add(value); break;
                case "test_auxiliary": aux = true; break;
                case "test_log_level": logLevel = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
                case "test_prog_flags": flags |= ParseFlag(value); break;
                default:
                    if (key.EndsWith("_unpriv", StringComparison.Ordinal)) unpriv = true;
                    break;
            }
        }
        // bpf_misc.h: with no privileged attribute at all, privileged mode with expected success is implied
        // unless only unprivileged attributes are present.
        if (success is null && !unpriv && !aux) success = true;
        return new TestAnnotations(description, success, messages, unpriv, aux, logLevel, flags);
    }

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
        _ when value.StartsWith("0x", StringComparison.OrdinalIgnoreCase) => Convert.ToUInt32(value[2..], 16),
        _ => uint.TryParse(value, out uint n) ? n : 0,
    };
}
