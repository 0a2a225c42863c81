namespace Ebpf.Execution;

/// <summary>A helper written as a delegate (tests, closures). Static methods are better registered by pointer.</summary>
public delegate ulong HelperFunction(ulong r1, ulong r2, ulong r3, ulong r4, ulong r5);

/// <summary>
/// Helper id -> implementation, as <c>call imm</c> resolves it. Helpers are C# methods
/// <c>(ulong r1..r5) -> ulong</c>; per-invocation state (program, regions, runtime object) is reached
/// through <see cref="InvocationContext.Current"/>. Fill the table before running programs; registration
/// copies the entry array, so running programs see either the old or the new table, never a torn one.
/// </summary>
public sealed unsafe class HelperTable
{
    /// <summary>Largest helper id accepted (the kernel's ids are below 300; kfunc-like host ids may go higher).</summary>
    public const int MaxHelperId = 1 << 16;

    internal readonly struct Entry
    {
        public readonly delegate*<ulong, ulong, ulong, ulong, ulong, ulong> Pointer;
        public readonly HelperFunction? Delegate;
        public readonly string Name;

        public Entry(delegate*<ulong, ulong, ulong, ulong, ulong, ulong> pointer, HelperFunction? function, string name)
        {
            Pointer = pointer;
            Delegate = function;
            Name = name;
        }

        public bool IsPresent => Pointer != null || Delegate is not null;

        public ulong Invoke(ulong r1, ulong r2, ulong r3, ulong r4, ulong r5) =>
            Pointer != null ? Pointer(r1, r2, r3, r4, r5) : Delegate!(r1, r2, r3, r4, r5);
    }

    private volatile Entry[] _entries = [];
    private readonly Lock _writeLock = new();

    /// <summary>Registers a static method (called through a function pointer, no delegate indirection).</summary>
    public HelperTable Register(int id, delegate*<ulong, ulong, ulong, ulong, ulong, ulong> function, string? name = null)
    {
        if (function == null)
            throw new ArgumentNullException(nameof(function));
        Set(id, new Entry(function, null, name ?? $"helper#{id}"));
        return this;
    }

    /// <summary>Registers a delegate.</summary>
    public HelperTable Register(int id, HelperFunction function, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(function);
        Set(id, new Entry(null, function, name ?? $"helper#{id}"));
        return this;
    }

    /// <summary>
    /// Binds helper calls whose R1 is a compile-time constant (a map loaded by lddw) to a direct method of the
    /// object behind it; used by the JIT for unchecked programs only. Null: every call is generic.
    /// </summary>
    internal HelperSpecializer? Specializer { get; set; }

    /// <summary>Whether a helper is registered under <paramref name="id"/> (a call to any other id is refused).</summary>
    public bool Contains(int id) => (uint)id < (uint)_entries.Length && _entries[id].IsPresent;

    /// <summary>The registered name of a helper, or null.</summary>
    public string? NameOf(int id) => Contains(id) ? _entries[id].Name : null;

    /// <summary>Ids of all registered helpers, ascending.</summary>
    public IEnumerable<int> Ids
    {
        get
        {
            var entries = _entries;
            for (int i = 0; i < entries.Length; i++)
                if (entries[i].IsPresent)
                    yield return i;
        }
    }

    /// <summary>Calls helper <paramref name="id"/> directly (tests, the runtime's own dispatch).</summary>
    public ulong Invoke(int id, ulong r1 = 0, ulong r2 = 0, ulong r3 = 0, ulong r4 = 0, ulong r5 = 0)
    {
        if (!TryGet(id, out var entry))
            throw new BpfException(Errno.EINVAL, $"unknown helper #{id}");
        return entry.Invoke(r1, r2, r3, r4, r5);
    }

    internal bool TryGet(long id, out Entry entry)
    {
        var entries = _entries;
        if ((ulong)id < (ulong)entries.Length && entries[id].IsPresent)
        {
            entry = entries[id];
            return true;
        }
        entry = default;
        return false;
    }

    private void Set(int id, Entry entry)
    {
        if ((uint)id >= MaxHelperId)
            throw new ArgumentOutOfRangeException(nameof(id), id, $"helper id must be in [0, {MaxHelperId})");
        lock (_writeLock)
        {
            var copy = new Entry[Math.Max(_entries.Length, id + 1)];
            _entries.CopyTo(copy, 0);
            copy[id] = entry;
            _entries = copy;
        }
    }

    /// <summary>The helpers the conformance suite needs: #5 returns its first argument.</summary>
    public static HelperTable ForConformance() => new HelperTable().Register(5, &ReturnFirstArgument, "conformance_identity");

    private static ulong ReturnFirstArgument(ulong r1, ulong r2, ulong r3, ulong r4, ulong r5) => r1;
}
