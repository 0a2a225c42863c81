using Ebpf.Abi;
using Ebpf.Isa;

namespace Ebpf.Fuzz;

/// <summary>
/// One generated program. Map references are placeholders: an lddw with src 1 (map fd) or 2 (map value) and imm 0
/// (the array map) or 1 (the hash map); each backend binds them to its own map handles (<see cref="MapBinding"/>).
/// </summary>
/// <param name="Nondeterministic">It calls a helper whose result differs between runs (prandom, time, cpu): run
/// results are not compared, only faults.</param>
public sealed record FuzzProgram(ProgramType Type, Instruction[] Instructions, string Origin, bool Nondeterministic);

/// <summary>The fuzzer's two maps, created alike in both backends.</summary>
public static class FuzzMaps
{
    public const uint KeySize = 4;
    public const uint ValueSize = 16;
    public const uint MaxEntries = 4;
    /// <summary>Placeholder imm of the array map / the hash map.</summary>
    public const int Array = 0, Hash = 1;
    /// <summary>What an unbound map reference becomes: an fd / id that names nothing in either backend.</summary>
    public const int Nothing = 0x3fff_0000;

    /// <summary>The values every run starts from: array slots and hash keys 0 and 1 hold recognisable bytes.</summary>
    public static byte[] InitialValue(uint key)
    {
        var v = new byte[ValueSize];
        for (int i = 0; i < v.Length; i++) v[i] = (byte)(key * 16 + i + 1);
        return v;
    }

    public static readonly uint[] HashKeys = [0, 1];
}

/// <summary>Rewrites map placeholders to one backend's handles.</summary>
public static class MapBinding
{
    public static Instruction[] Bind(Instruction[] program, int arrayHandle, int hashHandle)
    {
        var bound = (Instruction[])program.Clone();
        for (int i = 0; i + 1 < bound.Length; i++)
        {
            var insn = bound[i];
            if (!insn.IsLoadImm64)
                continue;
            if (insn.Src is 1 or 2)
                bound[i] = insn.WithImm(insn.Imm switch { FuzzMaps.Array => arrayHandle, FuzzMaps.Hash => hashHandle, _ => FuzzMaps.Nothing });
            i++;
        }
        return bound;
    }
}
