using Ebpf.Abi.Helpers;
using Ebpf.Execution;

namespace Ebpf.Runtime.Helpers;

/// <summary>A registered helper: its id, its name (without <c>bpf_</c>), the implementation, and — for host
/// helpers, always — the prototype the verifier checks calls against.</summary>
public sealed record HelperEntry(int Id, string Name, HelperFunction Function, HelperPrototype? Prototype);

/// <summary>
/// id → helper of one runtime: the built-in helpers plus those the host adds. Lookups are
/// lock-free reads of an immutable snapshot (programs resolve calls at load and during runs).
/// </summary>
public sealed class HelperRegistry
{
    /// <summary>Host helpers must use ids from here up, clear of the kernel's (≤ ~230 today).</summary>
    public const int FirstHostId = 0x1000;

    /// <summary>Argument kinds a host helper may declare: the ones the verifier checks from the prototype alone.
    /// The others (callbacks, spin locks, timers, dynptrs, kernel pointers) carry meaning the verifier ties to
    /// specific kernel helpers, so a host prototype using them could not be honoured.</summary>
    private static readonly HashSet<HelperArgKind> HostArgKinds =
    [
        HelperArgKind.None, HelperArgKind.Anything, HelperArgKind.ConstMapPtr, HelperArgKind.PtrToMapKey,
        HelperArgKind.PtrToMapValue, HelperArgKind.PtrToMem, HelperArgKind.ConstSize, HelperArgKind.ConstSizeOrZero,
        HelperArgKind.PtrToCtx, HelperArgKind.PtrToStack, HelperArgKind.PtrToConstStr,
    ];

    private volatile Dictionary<int, HelperEntry> _byId = new();
    private readonly Lock _lock = new();

    /// <summary>A registry holding every built-in helper the runtime implements (what a new runtime starts with).</summary>
    public static HelperRegistry CreateDefault()
    {
        var registry = new HelperRegistry();
        BuiltinHelpers.RegisterAll(registry);
        return registry;
    }

    /// <summary>The helper registered under <paramref name="id"/> (the call instruction's imm), or null.</summary>
    public HelperEntry? Find(int id) => _byId.GetValueOrDefault(id);

    /// <summary>The helper named <paramref name="name"/>, with or without the <c>bpf_</c> prefix, or null.</summary>
    public HelperEntry? FindByName(string name) => _byId.Values.FirstOrDefault(e => e.Name == name || "bpf_" + e.Name == name);

    /// <summary>Every registered helper, built-in and host (a snapshot: later registrations do not show).</summary>
    public IReadOnlyCollection<HelperEntry> All => _byId.Values;

    /// <summary>The host helpers' prototypes by id, as the verifier takes them (<see cref="Verification.VerifierInput.HostHelpers"/>).</summary>
    public IReadOnlyDictionary<int, Verification.HostHelper> HostPrototypes =>
        _byId.Values.Where(e => e.Id >= FirstHostId && e.Prototype is not null)
            .ToDictionary(e => e.Id, e => new Verification.HostHelper(e.Name, e.Prototype!));

    /// <summary>Registers a built-in (kernel-id) helper, replacing an earlier registration of the same id. Its
    /// prototype is the kernel's, from <see cref="HelperPrototypes"/>.</summary>
    internal void SetBuiltin(HelperId id, string name, HelperFunction function) =>
        Write(new HelperEntry((int)id, name, function, null), replace: true);

    /// <summary>
    /// Adds a host helper with the prototype the verifier checks its calls against, exactly as a kernel helper's
    /// (argument kinds, sizes, return kind). EINVAL below <see cref="FirstHostId"/>, for more than five arguments,
    /// for a prototype naming another id, or for an argument or return kind a host helper cannot declare; EEXIST
    /// when the id is taken.
    /// </summary>
    public void Add(int id, string name, HelperFunction function, HelperPrototype prototype)
    {
        ArgumentNullException.ThrowIfNull(function);
        ArgumentNullException.ThrowIfNull(prototype);
        if (id < FirstHostId)
            throw new BpfException(Errno.EINVAL, $"host helper '{name}': id {id} is in the kernel's range (use >= {FirstHostId})");
        if (prototype.Arguments.Count > 5)
            throw new BpfException(Errno.EINVAL, $"host helper '{name}': {prototype.Arguments.Count} arguments (at most 5)");
        if (prototype.Id != HelperId.Unspec && (int)prototype.Id != id)
            throw new BpfException(Errno.EINVAL, $"host helper '{name}': prototype is for id {(int)prototype.Id}, registered as {id}");
        for (int i = 0; i < prototype.Arguments.Count; i++)
            if (!HostArgKinds.Contains(prototype.Arguments[i].Kind))
                throw new BpfException(Errno.EINVAL, $"host helper '{name}': argument {i + 1} kind {prototype.Arguments[i].Kind} is not available to host helpers");
        if (prototype.Return is not (HelperReturnKind.Integer or HelperReturnKind.Void or HelperReturnKind.MapValueOrNull))
            throw new BpfException(Errno.EINVAL, $"host helper '{name}': return kind {prototype.Return} is not available to host helpers");
        if (prototype.Return == HelperReturnKind.MapValueOrNull && prototype.MapArgument < 0)
            throw new BpfException(Errno.EINVAL, $"host helper '{name}': returns a map value but takes no map");
        foreach (var arg in prototype.Arguments)
            if (arg.Has(HelperArgFlags.Release) || arg.BtfType is not null)
                throw new BpfException(Errno.EINVAL, $"host helper '{name}': argument {arg.Kind} with {arg.Flags} is not available to host helpers");
        if (prototype.Unsupported is not null || prototype.CastsReference || prototype.ReturnBtfType is not null)
            throw new BpfException(Errno.EINVAL, $"host helper '{name}': prototype uses kernel-only properties");
        Write(new HelperEntry(id, name, function, prototype with { Id = (HelperId)id }), replace: false);
    }

    private void Write(HelperEntry entry, bool replace)
    {
        lock (_lock)
        {
            if (!replace && _byId.ContainsKey(entry.Id))
                throw new BpfException(Errno.EEXIST, $"helper id {entry.Id} is already registered ({_byId[entry.Id].Name})");
            var copy = new Dictionary<int, HelperEntry>(_byId) { [entry.Id] = entry };
            _byId = copy;
        }
    }
}
