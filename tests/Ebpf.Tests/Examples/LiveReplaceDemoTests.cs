using Ebpf.Demo;

namespace Ebpf.Tests.Examples;

/// <summary>The demo's live-replacement story (examples/Demo/LiveReplace.cs) counts what it claims.</summary>
public class LiveReplaceDemoTests
{
    [Fact]
    public void Extension_replaces_check_live_and_the_fentry_counters_add_up()
    {
        var c = LiveReplace.Run(Path.Combine(SharedData.RepoRoot, "examples"));
        const int perSize = LiveReplace.FramesPerPhase / 3;
        // Original check(): 60-byte frames drop, 100 and 200 pass; strict_check(): only 200 passes; then back.
        Assert.Equal([0, perSize, perSize], c.Passed[0]);
        Assert.Equal([0, 0, perSize], c.Passed[1]);
        Assert.Equal([0, perSize, perSize], c.Passed[2]);
        // The extension could not take check() while fentry traced it.
        Assert.Equal(Errno.EBUSY, c.TracedWhileExtending);
        // fentry on check() ran in the two original phases only, once per frame; 2 of 3 sizes are >= 64 bytes.
        Assert.Equal(2ul * LiveReplace.FramesPerPhase, c.CheckCalls);
        Assert.Equal(2ul * 2 * perSize, c.CheckLongFrames);
        // The extension served every frame of its phase, and the fentry on it saw each of those calls.
        Assert.Equal((ulong)LiveReplace.FramesPerPhase, c.ExtensionRuns);
        Assert.Equal((ulong)LiveReplace.FramesPerPhase, c.ExtensionCallsSeenByFentry);
    }
}
