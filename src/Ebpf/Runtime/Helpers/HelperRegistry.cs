namespace Ebpf.Runtime.Helpers;

/// <summary>A helper as the execution engines call it: five u64 arguments in, R0 out.</summary>
public delegate ulong HelperFunction(ulong r1, ulong r2, ulong r3, ulong r4, ulong r5);

/// <summary>What a helper argument is, for hosts describing their own helpers (a subset of bpf_arg_type).</summary>
public enum HelperArgKind
{
    Anything,
    Scalar,
    ConstSize,
    ConstSizeOrZero,
    PointerToContext,
    PointerToMap,
    PointerToMapKey,
    PointerToMapValue,
    PointerToMemory,
    PointerToUninitMemory,
    PointerToConstString,
}

/// <summary>What a helper returns (a subset of bpf_return_type).</summary>
public enum HelperReturnKind
{
    Integer,
    Void,
    MapValueOrNull,
    MemoryOrNull,
}

/// <summary>A helper's prototype for the verifier (host helpers; kernel helpers use the Abi tables).</summary>
public sealed record HelperPrototype(HelperReturnKind Return, IReadOnlyList<HelperArgKind> Args, int ReturnMemorySize = 0);

/// <summary>A registered helper.</summary>
public sealed record HelperEntry(int Id, string Name, HelperFunction Function, HelperPrototype? Prototype);

/// <summary>
/// id → helper of one runtime: the built-in helpers plus those the host adds. Lookups are
/// lock-free reads of an immutable snapshot (programs resolve calls at load and during runs).
/// </summary>
public sealed class HelperRegistry
{
    /// <summary>Host helpers must use ids from here up, clear of the kernel's (≤ ~230 today).</summary>
    public const int FirstHostId = 0x1000;

    private volatile Dictionary<int, HelperEntry> _byId = new();
    private readonly Lock _lock = new();

    public static HelperRegistry CreateDefault()
    {
        var registry = new HelperRegistry();
        BuiltinHelpers.RegisterAll(registry);
        return registry;
    }

    public HelperEntry? Find(int id) => _byId.GetValueOrDefault(id);

    public HelperEntry? FindByName(string name) => _byId.Values.FirstOrDefault(e => e.Name == name || "bpf_" + e.Name == name);

    public IReadOnlyCollection<HelperEntry> All => _byId.Values;

    /// <summary>Registers a built-in (kernel-id) helper, replacing an earlier registration of the same id.</summary>
    internal void SetBuiltin(int id, string name, HelperFunction function, HelperPrototype? prototype = null) =>
        Write(new HelperEntry(id, name, function, prototype), replace: true);

    /// <summary>Adds a host helper (EINVAL below <see cref="FirstHostId"/>, EEXIST when the id is taken).</summary>
    public void Add(int id, string name, HelperFunction function, HelperPrototype prototype)
    {
        ArgumentNullException.ThrowIfNull(function);
        ArgumentNullException.ThrowIfNull(prototype);
        if (id < FirstHostId)
            throw new BpfException(Errno.EINVAL, $"host helper '{name}': id {id} is in the kernel's range (use >= {FirstHostId})");
        if (prototype.Args.Count > 5)
            throw new BpfException(Errno.EINVAL, $"host helper '{name}': {prototype.Args.Count} arguments (at most 5)");
        Write(new HelperEntry(id, name, function, prototype), replace: false);
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
