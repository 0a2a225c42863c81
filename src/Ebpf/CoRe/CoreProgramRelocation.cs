using Ebpf.Isa;
using Ebpf.Loading;

namespace Ebpf.CoRe;

/// <summary>
/// The loaders' CO-RE step (libbpf's bpf_object__relocate_core): a program's linked instructions with every CO-RE
/// relocation applied against the target BTF. One <see cref="CoreRelocator"/> per object load keeps libbpf's candidate
/// cache across the object's programs. The spec itself is not changed: relocation is part of loading it somewhere.
/// </summary>
public static class CoreProgramRelocation
{
    /// <summary>The instructions of <paramref name="program"/>, relocated; the originals when it has no CO-RE relocation.</summary>
    public static Instruction[] Apply(CoreRelocator? relocator, ObjectSpec spec, ProgramSpec program) =>
        Apply(relocator, spec, program, out _);

    /// <summary><see cref="Apply(CoreRelocator?, ObjectSpec, ProgramSpec)"/>, also giving each relocation's instruction
    /// and result in record order (empty without CO-RE relocations).</summary>
    public static Instruction[] Apply(CoreRelocator? relocator, ObjectSpec spec, ProgramSpec program,
        out IReadOnlyList<(int Instruction, CoreRelocationResult Result)> results)
    {
        var insns = program.Instructions.ToArray();
        results = [];
        if (program.CoreRelocations.Count == 0)
            return insns;
        if (relocator is null)
            throw new BpfException(Errno.EOPNOTSUPP, $"program '{program.Name}': {program.CoreRelocations.Count} CO-RE relocations but no target BTF to resolve them against");
        if (spec.Btf is null || !ReferenceEquals(relocator.Local, spec.Btf))
            throw new BpfException(Errno.EINVAL, $"program '{program.Name}': CO-RE relocations need the object's own BTF");
        try
        {
            var relocations = program.CoreRelocations
                .Select(r => new CoreRelocation(r.InstructionIndex, r.TypeId, r.AccessString, r.Kind)).ToList();
            var applied = relocator.Apply(program.Name, insns, relocations);
            results = [.. applied.Select((r, i) => (relocations[i].InstructionIndex, r))];
        }
        catch (BpfException e)
        {
            throw new BpfException(e.Errno, $"failed to perform CO-RE relocations: {e.Message}");
        }
        return insns;
    }

    /// <summary>A relocator for <paramref name="spec"/> when any of its programs has CO-RE relocations, else null.</summary>
    public static CoreRelocator? RelocatorFor(ObjectSpec spec, Func<CoreTargets> targets, CoreLog? log = null) =>
        spec.Btf is { } btf && spec.Programs.Any(p => p.CoreRelocations.Count > 0) ? new CoreRelocator(btf, targets(), log) : null;
}
