using Ebpf.Abi;
using Ebpf.Execution;
using Ebpf.Isa;
using Ebpf.Runtime;
using Ebpf.Runtime.Objects;
using Ebpf.Verification;

namespace Ebpf.Fuzz;

/// <summary>How a program ran in one of our execution engines.</summary>
public readonly record struct ManagedRun(uint? ReturnValue, string? Fault, string? Error, byte[]? DataOut = null);

/// <summary>Our side: the verifier through BpfRuntime's program load, and the three ways the runtime executes.</summary>
public sealed class ManagedBackend : IDisposable
{
    private readonly BpfRuntime _runtime;
    private readonly BpfMap _array;
    private readonly BpfMap _hash;

    public ManagedBackend(Abi.Profiles.KernelProfile profile)
    {
        _runtime = new BpfRuntime { RandomSeed = 1, Profile = profile };
        _array = _runtime.CreateMap(new MapDefinition(MapType.Array, FuzzMaps.KeySize, FuzzMaps.ValueSize, FuzzMaps.MaxEntries, Name: "fuzz_array"));
        _hash = _runtime.CreateMap(new MapDefinition(MapType.Hash, FuzzMaps.KeySize, FuzzMaps.ValueSize, FuzzMaps.MaxEntries, Name: "fuzz_hash"));
    }

    public Instruction[] Bind(Instruction[] program) => MapBinding.Bind(program, (int)_array.Map.Id, (int)_hash.Map.Id);

    /// <summary>The verifier's verdict (a program load that keeps going past a rejection, so nothing but the verifier decides).</summary>
    public VerificationResult Verify(ProgramType type, Instruction[] instructions) =>
        Verifier.Verify(new VerifierInput
        {
            Instructions = Bind(instructions),
            ProgramType = type,
            MapsByFd = VerifierMaps(),
            LogLevel = 1,
            Profile = _runtime.Profile,
        });

    private Dictionary<int, IVerifierMapInfo>? _verifierMaps;

    /// <summary>The maps as the verifier sees them (what the runtime's load passes for an lddw naming a map id).</summary>
    private Dictionary<int, IVerifierMapInfo> VerifierMaps()
    {
        if (_verifierMaps is not null)
            return _verifierMaps;
        var maps = new Dictionary<int, IVerifierMapInfo>();
        foreach (var m in new[] { _array, _hash })
            maps[(int)m.Map.Id] = new MapInfo(m.Map.Definition);
        return _verifierMaps = maps;
    }

    private sealed class MapInfo(MapDefinition d) : IVerifierMapInfo
    {
        public string Name => d.Name;
        public bool Frozen => false;
        public MapType Type => d.Type;
        public uint KeySize => d.KeySize;
        public uint ValueSize => d.ValueSize;
        public uint MaxEntries => d.MaxEntries;
        public MapFlags Flags => d.Flags;
    }

    /// <summary>BPF_PROG_LOAD in the runtime; <paramref name="checkedMode"/> forces the checked interpreter, <paramref name="jit"/> allows the JIT.</summary>
    public BpfProgram Load(ProgramType type, Instruction[] instructions, bool checkedMode, bool jit)
    {
        _runtime.JitEnabled = jit;
        return _runtime.LoadProgram(new ProgramDefinition(type, Bind(instructions), "fuzz"), [_array, _hash], options: new ProgramLoadOptions
        {
            AlwaysChecked = checkedMode,
            LogLevel = 0,
        });
    }

    public ManagedRun Run(BpfProgram program, byte[] packet)
    {
        Reset();
        try
        {
            var result = _runtime.TestRun(program, new TestRunOptions { DataIn = packet, DataSizeOut = 0 });
            return new ManagedRun(result.ReturnValue, null, null, result.DataOut);
        }
        catch (BpfException e)
        {
            string message = e.Message.Split('\n')[0];
            return IsFault(message) ? new ManagedRun(null, message, null) : new ManagedRun(null, null, $"{e.Errno}: {message}");
        }
    }

    /// <summary>The checked interpreter's fault messages: memory violations and structural faults a verified program never reaches.</summary>
    private static bool IsFault(string message) =>
        new[] { "invalid memory access", "misaligned atomic", "fell off the end", "second half of an ldimm64", "too deep", "callx to" }
            .Any(m => message.Contains(m, StringComparison.Ordinal));

    private void Reset()
    {
        for (uint k = 0; k < FuzzMaps.MaxEntries; k++)
            _array.Update(BitConverter.GetBytes(k), FuzzMaps.InitialValue(k));
        for (uint k = 0; k < 64; k++)
            _hash.TryDelete(BitConverter.GetBytes(k));
        foreach (uint k in FuzzMaps.HashKeys)
            _hash.Update(BitConverter.GetBytes(k), FuzzMaps.InitialValue(k));
    }

    public void Dispose()
    {
        _array.Dispose();
        _hash.Dispose();
    }
}
