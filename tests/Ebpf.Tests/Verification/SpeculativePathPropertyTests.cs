using Ebpf.Abi;
using Ebpf.Abi.Helpers;
using Ebpf.Fuzz;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// The safety property of speculative-path exploration on the differential fuzzer's random programs: an error turns
/// into a barrier only on a path that runs under misprediction alone, so a program accepted without CAP_PERFMON (the
/// stricter mode, whose real paths are all explored and all pass) is accepted at full privilege too. A path wrongly
/// taken for speculative would turn a real error into a barrier, and the privileged verifier, which explores that
/// path as real, would refuse the program.
/// </summary>
public class SpeculativePathPropertyTests
{
    private const int Programs = 3000;

    private sealed class MapInfo(string name, MapType type) : IVerifierMapInfo
    {
        public string Name => name;
        public MapType Type => type;
        public uint KeySize => FuzzMaps.KeySize;
        public uint ValueSize => FuzzMaps.ValueSize;
        public uint MaxEntries => FuzzMaps.MaxEntries;
        public MapFlags Flags => MapFlags.None;
        public bool Frozen => false;
    }

    [Fact]
    public void What_is_accepted_without_CAP_PERFMON_is_accepted_at_full_privilege()
    {
        var maps = new Dictionary<int, IVerifierMapInfo> { [1] = new MapInfo("fuzz_array", MapType.Array), [2] = new MapInfo("fuzz_hash", MapType.Hash) };
        var generator = new ProgramGenerator(new Random(20261207), ProgramType.SocketFilter);
        int accepted = 0, withBarriers = 0;
        for (int i = 0; i < Programs; i++)
        {
            var program = MapBinding.Bind(generator.Next().Instructions, 1, 2);
            VerificationResult Verify(HelperPrivilege privilege, int logLevel) => Verifier.Verify(new VerifierInput
            {
                Instructions = program, ProgramType = ProgramType.SocketFilter, MapsByFd = maps, LogLevel = logLevel, Privilege = privilege,
            });
            var unprivileged = Verify(HelperPrivilege.Unprivileged, 2);
            Assert.True(unprivileged.Accepted || unprivileged.Errno != Errno.EFAULT, $"program {i}: internal error {unprivileged.Error}");
            if (!unprivileged.Accepted) continue;
            accepted++;
            if (unprivileged.Program!.SpeculationBarriers.Count > 0) withBarriers++;
            var full = Verify(HelperPrivilege.Full, 1);
            Assert.True(full.Accepted, $"program {i}: accepted without CAP_PERFMON, refused with it: {full.Error}\n{unprivileged.Log}");
        }
        // The run must mean something: enough programs pass unprivileged, and some of them only thanks to a barrier.
        Assert.True(accepted > Programs / 20, $"only {accepted} accepted without CAP_PERFMON");
        Assert.True(withBarriers > 0, $"none of the {accepted} accepted programs needed a speculation barrier");
    }
}
