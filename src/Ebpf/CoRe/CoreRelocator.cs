using Ebpf.Btf;
using Ebpf.Isa;

namespace Ebpf.CoRe;

/// <summary>One CO-RE relocation of a linked program: the instruction it patches, the local root type, the access string and the kind.</summary>
public readonly record struct CoreRelocation(int InstructionIndex, uint TypeId, string AccessString, BtfCoreReloKind Kind);

/// <summary>How CO-RE reports: libbpf's debug lines (<see cref="Debug"/>) and warnings (<see cref="Warn"/>).</summary>
public sealed class CoreLog
{
    /// <summary>Receives libbpf-style debug lines (candidates tried, matched specs); null drops them.</summary>
    public Action<string>? Debug { get; init; }
    /// <summary>Receives warnings (poisoned relocations); null drops them.</summary>
    public Action<string>? Warn { get; init; }
    /// <summary>
    /// The kernel's copy of the algorithm (bpf_core_apply, kernel-side CO-RE): candidates are printed as the kernel
    /// prints them ("CO-RE relocating STRUCT name: found target candidate [id]"), before the spec line, and a failed
    /// search is "target candidate search failed for ID".
    /// </summary>
    internal bool KernelStyle { get; init; }
}

/// <summary>
/// The CO-RE relocation engine for one object (libbpf's bpf_object__relocate_core, pure): resolves each relocation of
/// a program against <see cref="CoreTargets"/> and patches its instruction. Candidate lists are cached per local root
/// type for the whole object and shrink to the candidates that matched, as libbpf's do, so one instance serves all of
/// an object's programs in order.
/// </summary>
public sealed class CoreRelocator(Btf.BtfSpec local, CoreTargets targets, CoreLog? log = null)
{
    private readonly Dictionary<uint, List<(CoreTargetBtf Target, uint Id)>> _candidates = [];
    private readonly CoreLog _log = log ?? new CoreLog();

    /// <summary>The object's own BTF, which the access strings are read against.</summary>
    public Btf.BtfSpec Local => local;
    /// <summary>The BTFs candidates are searched in.</summary>
    public CoreTargets Targets => targets;

    /// <summary>
    /// bpf_core_resolve_relo + bpf_core_calc_relo_insn: what relocation <paramref name="index"/> of
    /// <paramref name="program"/> resolves to. Throws BpfException (libbpf's message and errno) when it cannot be
    /// resolved at all; a relocation whose target is missing is a result (poison or 0), not an error.
    /// </summary>
    public CoreRelocationResult Resolve(string program, int index, CoreRelocation relo)
    {
        string Where(string what) => $"prog '{program}': relo #{index}: {what}";
        if (!local.TryGetType(relo.TypeId, out var localType) || relo.TypeId == 0)
            throw new BpfException(Errno.EINVAL, Where($"bad type id {relo.TypeId}"));
        // Candidates are searched (and printed) before relo_core parses and prints the spec: libbpf's
        // bpf_core_resolve_relo and the kernel's bpf_core_apply both do so. Anonymous roots fail later, in relo_core.
        if (relo.Kind != BtfCoreReloKind.TypeIdLocal && !localType.IsAnonymous && !_candidates.ContainsKey(relo.TypeId))
        {
            try
            {
                _candidates[relo.TypeId] = targets.FindCandidates(local, relo.TypeId, _log.KernelStyle ? null : _log.Debug);
            }
            catch (BpfException e) when (_log.KernelStyle)
            {
                _log.Warn?.Invoke($"target candidate search failed for {relo.TypeId}");
                throw new BpfException(e.Errno, $"target candidate search failed for {relo.TypeId}");
            }
            catch (BpfException e)
            {
                string message = Where($"target candidate search failed for [{relo.TypeId}] {CoreNames.KindName(localType)} {localType.Name}: {-(int)e.Errno}");
                _log.Warn?.Invoke(message);
                throw new BpfException(e.Errno, message);
            }
            if (_log.KernelStyle)
                foreach (var (_, id) in _candidates[relo.TypeId])
                    _log.Debug?.Invoke($"CO-RE relocating {localType.Kind.ToKernelName()} {CoreNames.Essential(localType.Name)}: found target candidate [{id}]");
        }
        CoreSpec spec;
        try
        {
            spec = CoreSpec.Parse(local, relo.TypeId, relo.AccessString, relo.Kind);
        }
        catch (BpfException e) when (e.Errno != Errno.EOPNOTSUPP)
        {
            _log.Warn?.Invoke(Where($"parsing [{relo.TypeId}] {CoreNames.KindName(localType)} {localType.Name} + {relo.AccessString} failed: {-(int)e.Errno} ({e.Message})"));
            throw new BpfException(Errno.EINVAL, Where($"parsing [{relo.TypeId}] {CoreNames.KindName(localType)} {localType.Name} + {relo.AccessString} failed: {e.Message}"));
        }
        catch (BpfException e)
        {
            throw new BpfException(Errno.EOPNOTSUPP, Where($"unrecognized CO-RE relocation {(uint)relo.Kind} at insn #{relo.InstructionIndex}: {e.Message}"));
        }
        // relo_core's bpf_core_format_spec line (kernel and current libbpf): "<kind> [id] type.field (spec @ offset N)".
        _log.Debug?.Invoke(Where(spec.ToString()));

        if (relo.Kind == BtfCoreReloKind.TypeIdLocal)
            return new CoreRelocationResult { Original = relo.TypeId, New = relo.TypeId, Validate = false, Local = spec };

        if (!_candidates.TryGetValue(relo.TypeId, out var cands))
        {
            try
            {
                cands = targets.FindCandidates(local, relo.TypeId, _log.Debug);
            }
            catch (BpfException e)
            {
                string message = Where($"target candidate search failed for [{relo.TypeId}] {CoreNames.KindName(localType)} {localType.Name}: {-(int)e.Errno}");
                _log.Warn?.Invoke(message);
                throw new BpfException(e.Errno, message);
            }
            _candidates[relo.TypeId] = cands;
        }

        CoreRelocationResult? chosen = null;
        var matched = new List<(CoreTargetBtf, uint)>();
        for (int i = 0; i < cands.Count; i++)
        {
            var (target, id) = cands[i];
            var (r, targetSpec) = CoreSpecMatcher.Match(spec, target.Btf, id);
            if (r < 0)
            {
                string message = Where($"error matching candidate #{i} [{id}] {target.Btf.GetType(id).Name}: {r}");
                _log.Warn?.Invoke(message);
                throw new BpfException((Errno)(-r), message);
            }
            _log.Debug?.Invoke(Where($"{(r > 0 ? "matching" : "non-matching")} candidate #{i} {targetSpec?.ToString() ?? RootSpecText(relo.Kind, spec, target.Btf, id)}"));
            if (r == 0)
                continue;
            var res = CoreValueCalculator.Calculate(program, relo.InstructionIndex, spec, targetSpec, target.Name);
            if (chosen is null)
                chosen = res;
            else if (res.Target!.BitOffset != chosen.Target!.BitOffset)
                throw Ambiguity(Where($"field offset ambiguity: {res.Target.BitOffset} != {chosen.Target.BitOffset}"));
            else if (res.Poison != chosen.Poison || (!res.Poison && res.New != chosen.New))
                throw Ambiguity(Where($"relocation decision ambiguity: {(res.Poison ? "failure" : "success")} {res.New} != {(chosen.Poison ? "failure" : "success")} {chosen.New}"));
            matched.Add((target, id));
        }
        // Later relocations on the same root only consider what matched here (a field that exists nowhere keeps the list).
        if (matched.Count > 0)
            _candidates[relo.TypeId] = matched;
        if (chosen is not null)
            return chosen;
        _log.Debug?.Invoke(Where("no matching targets found"));
        return CoreValueCalculator.Calculate(program, relo.InstructionIndex, spec, null, null);
    }

    /// <summary>
    /// A candidate that did not match is printed with the part of its spec built before the mismatch; the root (the
    /// first access index at its byte offset) is what the kernel shows for a field missing at the first level.
    /// </summary>
    private static string RootSpecText(BtfCoreReloKind kind, CoreSpec local, Btf.BtfSpec btf, uint id)
    {
        var t = btf.GetType(id);
        string head = $"<{CoreSpec.KindName(kind)}> [{id}] {CoreNames.KindName(t)} {(t.IsAnonymous ? "<anon>" : t.Name)}";
        if (CoreSpec.ClassOf(kind) != CoreRelocationClass.Field || local.Raw.Count == 0)
            return head;
        long offset;
        try
        {
            offset = (long)local.Raw[0] * btf.SizeOf(id);
        }
        catch (BpfException)
        {
            offset = 0;
        }
        return $"{head} ({local.Raw[0]} @ offset {offset})";
    }

    private BpfException Ambiguity(string message)
    {
        _log.Warn?.Invoke(message);
        return new BpfException(Errno.EINVAL, message);
    }

    /// <summary>Resolves and patches every relocation of one program, in record order (libbpf's order).</summary>
    public IReadOnlyList<CoreRelocationResult> Apply(string program, Span<Instruction> insns, IReadOnlyList<CoreRelocation> relocations)
    {
        var results = new List<CoreRelocationResult>(relocations.Count);
        for (int i = 0; i < relocations.Count; i++)
        {
            var relo = relocations[i];
            CoreRelocationResult res;
            try
            {
                res = Resolve(program, i, relo);
            }
            catch (BpfException e)
            {
                _log.Warn?.Invoke($"prog '{program}': relo #{i}: failed to relocate: {-(int)e.Errno}");
                throw;
            }
            try
            {
                CoreInstructionPatcher.Patch(program, i, insns, relo.InstructionIndex, res, _log.Debug);
            }
            catch (BpfException e)
            {
                _log.Warn?.Invoke(e.Message);
                _log.Warn?.Invoke($"prog '{program}': relo #{i}: failed to patch insn #{relo.InstructionIndex}: {-(int)e.Errno}");
                throw;
            }
            results.Add(res);
        }
        return results;
    }
}
