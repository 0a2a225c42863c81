using System.Text.Json;
using System.Text.RegularExpressions;
using Ebpf.Linux;

namespace Ebpf.Tests.Cli;

/// <summary>
/// The `link` and `fs` verbs and the `target` of `prog load/loadall`: a batch script (one runtime for the whole file)
/// proves the lifecycle of issue 14 — target loaded, extension loaded against it, link created and pinned, the
/// target's runs give the extension's result, the pin removed and the original result back.
/// </summary>
public sealed partial class LinkCliTests
{
    private const string Original = "Return value: 65", Extended = "Return value: 1064";

    private static string Fixture(string name) => SharedData.Fixture($"links/{name}.bpf.o");

    /// <summary>Writes a 64-byte frame (the target's check() sees 64) and the script; runs `ebpf [ARGS] batch file`.</summary>
    private static CliRunner.Result Batch(string script, params string[] options)
    {
        var work = Directory.CreateTempSubdirectory("ebpf-link-cli-");
        try
        {
            string frame = Path.Combine(work.FullName, "frame.bin");
            File.WriteAllBytes(frame, new byte[64]);
            string file = Path.Combine(work.FullName, "script.txt");
            File.WriteAllText(file, script.Replace("FRAME", frame, StringComparison.Ordinal));
            return CliRunner.Run([.. options, "batch", "file", file]);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static string Lifecycle(string dir) => $"""
        prog load {Fixture("target")} {dir}/target
        prog load {Fixture("ext")} {dir}/ext target pinned {dir}/target
        prog run pinned {dir}/target data_in FRAME
        link create pinned {dir}/ext pin {dir}/link
        prog run pinned {dir}/target data_in FRAME
        link show pinned {dir}/link
        fs rm {dir}/link
        prog run pinned {dir}/target data_in FRAME
        link show
        """;

    [Fact]
    public void Batch_lifecycle_extension_result_while_pinned_original_once_unpinned()
    {
        var r = Batch(Lifecycle("/sys/fs/bpf"));
        Assert.True(r.ExitCode == 0, r.Stderr);
        var runs = r.Stdout.Split('\n').Where(l => l.StartsWith("Return value:", StringComparison.Ordinal)).Select(l => l.Split(',')[0]).ToArray();
        Assert.Equal([Original, Extended, Original], runs);
        // bpftool's show_link_close_plain for a tracing link: the extension's prog_type, its attach type (0 for EXT),
        // and the trampoline key: the target program's id and check()'s BTF id in the target's BTF.
        var show = LinkShowText().Match(r.Stdout);
        Assert.True(show.Success, r.Stdout);
        Assert.Equal("1", show.Groups["target"].Value); // the target was the first program loaded
        Assert.Equal("3", show.Groups["btf"].Value);    // check's FUNC id in target.bpf.o's BTF
        Assert.Equal(show.Groups["link"].Value, r.Stdout.Split('\n')[1]); // link create printed the link's id
        Assert.EndsWith("processed 9 commands\n", r.Stdout); // the last `link show` printed nothing: the link is gone
    }

    [GeneratedRegex(@"(?<link>\d+): tracing  prog \d+  \n\tprog_type ext  attach_type cgroup_inet_ingress  \n\ttarget_obj_id (?<target>\d+)  target_btf_id (?<btf>\d+)  \n\tpinned /sys/fs/bpf/link\n")]
    private static partial Regex LinkShowText();

    [Fact]
    public void Json_link_show_has_bpftool_tracing_fields()
    {
        var r = Batch($"""
            prog load {Fixture("target")} /sys/fs/bpf/target
            prog load {Fixture("ext")} /sys/fs/bpf/ext target pinned /sys/fs/bpf/target func check
            link create pinned /sys/fs/bpf/ext cookie 9 pin /sys/fs/bpf/link
            link show pinned /sys/fs/bpf/link
            prog show pinned /sys/fs/bpf/ext
            """, "-j");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        uint linkId = JsonDocument.Parse(lines[0]).RootElement.GetProperty("id").GetUInt32();
        var link = JsonDocument.Parse(lines[1]).RootElement;
        Assert.Equal(linkId, link.GetProperty("id").GetUInt32());
        Assert.Equal("tracing", link.GetProperty("type").GetString());
        Assert.Equal("ext", link.GetProperty("prog_type").GetString());
        Assert.Equal("cgroup_inet_ingress", link.GetProperty("attach_type").GetString());
        Assert.Equal(1u, link.GetProperty("target_obj_id").GetUInt32());
        Assert.Equal(3u, link.GetProperty("target_btf_id").GetUInt32());
        Assert.Equal("/sys/fs/bpf/link", link.GetProperty("pinned")[0].GetString());
        var ext = JsonDocument.Parse(lines[2]).RootElement;
        Assert.Equal(link.GetProperty("prog_id").GetUInt32(), ext.GetProperty("id").GetUInt32());
        Assert.Equal(3u, ext.GetProperty("attach_btf_id").GetUInt32());
        Assert.True(ext.GetProperty("attach_btf_obj_id").GetUInt32() > 0);
    }

    [Fact]
    public void Unpinned_link_detaches_when_the_command_ends_and_a_reattach_must_name_its_target()
    {
        var r = Batch($"""
            prog load {Fixture("target")} /sys/fs/bpf/target
            prog load {Fixture("ext")} /sys/fs/bpf/ext target pinned /sys/fs/bpf/target
            link create pinned /sys/fs/bpf/ext
            prog run pinned /sys/fs/bpf/target data_in FRAME
            link show
            link create pinned /sys/fs/bpf/ext target name serve func check pin /sys/fs/bpf/again
            prog run pinned /sys/fs/bpf/target data_in FRAME
            link create pinned /sys/fs/bpf/ext
            """);
        Assert.Equal(1, r.ExitCode);
        var runs = r.Stdout.Split('\n').Where(l => l.StartsWith("Return value:", StringComparison.Ordinal)).Select(l => l.Split(',')[0]).ToArray();
        Assert.Equal([Original, Extended], runs);
        // The load-time target was consumed by the first attach: LINK_CREATE without a target is EINVAL now.
        Assert.Contains("Error: failed to create link: extension 2 (new_check) was attached before: a re-attach must name its target (EINVAL)", r.Stderr);
        Assert.Contains("error in line 8: processed 7 commands", r.Stderr);
    }

    [Fact]
    public void Loadall_with_target_loads_fentry_and_fexit_against_the_section_functions()
    {
        var r = Batch($"""
            prog load {Fixture("target")} /sys/fs/bpf/target
            prog loadall {Fixture("trace")} /sys/fs/bpf/trace target pinned /sys/fs/bpf/target
            prog show pinned /sys/fs/bpf/trace/on_entry
            link create pinned /sys/fs/bpf/trace/on_entry cookie 7 pin /sys/fs/bpf/entry
            link create pinned /sys/fs/bpf/trace/on_exit pin /sys/fs/bpf/exit
            link show pinned /sys/fs/bpf/entry
            link show pinned /sys/fs/bpf/exit
            fs ls /sys/fs/bpf/trace
            """);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("tracing  name on_entry", r.Stdout);
        Assert.Contains("\tattach_btf_obj_id 1  attach_btf_id 3\n", r.Stdout);
        Assert.Matches(@"\d+: tracing  prog \d+  \n\tprog_type tracing  attach_type trace_fentry  \n\ttarget_obj_id 1  target_btf_id 3  \n\tpinned /sys/fs/bpf/entry\n", r.Stdout);
        Assert.Matches(@"\d+: tracing  prog \d+  \n\tprog_type tracing  attach_type trace_fexit  \n\ttarget_obj_id 1  target_btf_id 3  \n\tpinned /sys/fs/bpf/exit\n", r.Stdout);
        Assert.Matches(@"on_entry  prog \d+\non_exit  prog \d+\n", r.Stdout);
    }

    [Fact]
    public void Tracing_links_have_no_update_and_no_detach()
    {
        var r = Batch($"""
            prog load {Fixture("target")} /sys/fs/bpf/target
            prog load {Fixture("ext")} /sys/fs/bpf/ext target pinned /sys/fs/bpf/target
            link create pinned /sys/fs/bpf/ext pin /sys/fs/bpf/link
            link update pinned /sys/fs/bpf/link prog pinned /sys/fs/bpf/ext
            """);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("failed link update:", r.Stderr);
        Assert.Contains("(EINVAL)", r.Stderr);
        var detach = Batch($"""
            prog load {Fixture("target")} /sys/fs/bpf/target
            prog load {Fixture("ext")} /sys/fs/bpf/ext target pinned /sys/fs/bpf/target
            link create pinned /sys/fs/bpf/ext pin /sys/fs/bpf/link
            link detach pinned /sys/fs/bpf/link
            """);
        Assert.Equal(1, detach.ExitCode);
        Assert.Contains("failed link detach:", detach.Stderr);
        Assert.Contains("(EOPNOTSUPP)", detach.Stderr);
    }

    [Fact]
    public void A_freplace_object_without_a_target_is_refused_as_the_kernel_refuses_it()
    {
        var r = CliRunner.Run("prog", "load", Fixture("ext"), "/sys/fs/bpf/ext");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("(EINVAL)", r.Stderr);
        Assert.Contains("\nTracing programs must provide btf_id", r.Stderr); // the kernel's log line after the error
    }

    [Fact]
    public void A_target_function_missing_from_the_target_BTF_is_libbpf_ENOENT()
    {
        var r = Batch($"""
            prog load {Fixture("target")} /sys/fs/bpf/target
            prog load {Fixture("ext")} /sys/fs/bpf/ext target pinned /sys/fs/bpf/target func no_such_function
            """);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("no_such_function is not found in prog's BTF", r.Stderr);
        Assert.Contains("(ENOENT)", r.Stderr);
    }

    [Fact]
    public void Usage_errors_name_the_word()
    {
        Assert.Contains("expected 'id' or 'pinned', got: 'name'?", CliRunner.Run("link", "show", "name", "x").Stderr);
        Assert.Contains("'target PROG' needs 'func NAME'", CliRunner.Run("link", "create", "id", "1", "target", "id", "2").Stderr);
        Assert.Equal(2, CliRunner.Run("fs", "ls", "/sys/fs/bpf", "extra").ExitCode);
    }

    // ---- both backends: fs verbs, and the kernel's own refusal ----

    private static string FsScript(string dir) => $"""
        fs mkdir {dir}/a/b
        fs ls {dir}/a
        prog load {SharedData.Fixture("runtime/xdp_count.bpf.o")} {dir}/a/p
        fs ls {dir}/a
        fs rm {dir}/a/p
        fs rm {dir}/a/b
        fs ls {dir}/a
        fs rm {dir}/a
        fs rm {dir}/a
        """;

    [Theory, ClassData(typeof(Backends))]
    public void Fs_verbs_list_make_and_remove_on_both_backends(string backend)
    {
        using var b = TestBackend.Create(backend);
        string dir = b.PinRoot.TrimEnd('/') + (b.IsLinux ? "" : "/fs-test");
        var r = Batch(FsScript(dir), "--backend", backend);
        Assert.Equal(1, r.ExitCode); // the last line: rm of what is gone
        Assert.Contains("error in line 9: processed 8 commands", r.Stderr);
        Assert.Contains("(ENOENT)", r.Stderr);
        Assert.Matches(@"^b/\nb/\np  prog \d+\n$", r.Stdout);
        Assert.False(Directory.Exists(Path.Combine(dir, "a")));
    }

    [Theory, ClassData(typeof(Backends))]
    public void Fs_rm_of_a_non_empty_directory_is_ENOTEMPTY(string backend)
    {
        using var b = TestBackend.Create(backend);
        string dir = b.PinRoot.TrimEnd('/') + (b.IsLinux ? "" : "/fs-test");
        var r = Batch($"""
            fs mkdir {dir}/a/b
            fs rm {dir}/a
            """, "--backend", backend);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("(ENOTEMPTY)", r.Stderr);
    }

    [Fact]
    public void Every_link_and_fs_verb_answers_in_json()
    {
        // bpftool -j prints null for a verb with nothing to say (link pin, link detach); update, mkdir and rm follow it.
        var r = Batch($"""
            prog load {Fixture("target")} /sys/fs/bpf/target
            prog load {Fixture("ext")} /sys/fs/bpf/ext target pinned /sys/fs/bpf/target
            fs mkdir /sys/fs/bpf/d
            link create pinned /sys/fs/bpf/ext pin /sys/fs/bpf/d/link
            link pin pinned /sys/fs/bpf/d/link /sys/fs/bpf/d/link2
            fs ls /sys/fs/bpf/d
            link show pinned /sys/fs/bpf/d/link2
            fs rm /sys/fs/bpf/d/link2
            fs rm /sys/fs/bpf/d/link
            fs rm /sys/fs/bpf/d
            link show
            """, "-j");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith("processed", StringComparison.Ordinal)).ToArray();
        Assert.Equal(9, lines.Length);
        Assert.Equal("null", lines[0]);                                          // fs mkdir
        uint id = JsonDocument.Parse(lines[1]).RootElement.GetProperty("id").GetUInt32(); // link create
        Assert.Equal("null", lines[2]);                                          // link pin
        var ls = JsonDocument.Parse(lines[3]).RootElement;                       // fs ls
        Assert.Equal(["link", "link2"], ls.EnumerateArray().Select(e => e.GetProperty("name").GetString()!).ToArray());
        Assert.All(ls.EnumerateArray(), e => Assert.Equal(("link", id), (e.GetProperty("type").GetString(), e.GetProperty("id").GetUInt32())));
        Assert.Equal(id, JsonDocument.Parse(lines[4]).RootElement.GetProperty("id").GetUInt32()); // link show
        Assert.Equal(["null", "null", "null"], lines[5..8]);                     // fs rm × 3
        Assert.Equal("[]", lines[8]);                                            // link show: the last pin went, so did the link
    }

    [Fact]
    public void Link_detach_of_a_tracing_link_is_refused_in_json_too()
    {
        // A tracing link has neither (EOPNOTSUPP / EINVAL): -j prints bpftool's error object instead.
        var r = Batch($"""
            prog load {Fixture("target")} /sys/fs/bpf/target
            prog load {Fixture("ext")} /sys/fs/bpf/ext target pinned /sys/fs/bpf/target
            link create pinned /sys/fs/bpf/ext pin /sys/fs/bpf/link
            link detach pinned /sys/fs/bpf/link
            """, "-j");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("failed link detach", r.Stdout + r.Stderr);
        Assert.Contains("EOPNOTSUPP", r.Stdout + r.Stderr);
    }

    [Fact]
    public void Linux_reports_the_kernels_refusal_of_an_extension_load_as_given()
    {
        if (!LinuxKernel.IsAvailable)
            Requirement.Missing(Requirement.Kernel, $"bpf(2) unavailable: {LinuxKernel.UnavailableReason}");
        using var bpffs = new TemporaryBpfFs();
        var r = Batch($"""
            prog load {Fixture("target")} {bpffs.Path}/target
            prog load {Fixture("ext")} {bpffs.Path}/ext target pinned {bpffs.Path}/target
            """, "--backend", "linux");
        Assert.Equal(1, r.ExitCode);
        // This kernel refuses tracing/EXT loads; whatever it says (errno, log) is what the CLI prints.
        Assert.Matches(@"Error: ext: load program new_check \(freplace/check\): BPF_PROG_LOAD new_check: .+ \(E[A-Z0-9]+\)\n", r.Stderr);
        Assert.Contains("error in line 2: processed 1 commands", r.Stderr);
        Assert.False(File.Exists(bpffs["ext"]));
    }
}
