using Ebpf.Collections;
using System.Buffers.Binary;
using Ebpf.Abi;

namespace Ebpf.Runtime.Maps;

/// <summary>
/// BPF_MAP_TYPE_CPUMAP (kernel/bpf/cpumap.c). Key: a CPU number; value <c>struct bpf_cpumap_val</c>:
/// 4 bytes (qsize) or 8 (qsize + bpf_prog.fd in, .id out).
/// <list type="bullet">
/// <item>Create: key_size 4, value_size 4 or 8, max_entries &gt; 0, flags ⊆ NUMA_NODE (EINVAL);
/// max_entries &gt; NR_CPUS → E2BIG (<see cref="NrCpus"/> is this kernel's CONFIG_NR_CPUS, 256).</item>
/// <item>Update: flags &gt; BPF_EXIST → EINVAL; key ≥ max_entries → E2BIG; BPF_NOEXIST → EEXIST;
/// qsize &gt; 16384 → EOVERFLOW; a CPU that is not possible → ENODEV; qsize 0 empties the slot; a program
/// that is not XDP/BPF_XDP_CPUMAP, unknown, or not matching the owner → ENOMEM (the entry allocation fails).</item>
/// <item>Lookup → {qsize, prog id} (ENOENT when empty); delete: out of range → EINVAL, else 0.</item>
/// </list>
/// Redirected frames go to the runtime's per-CPU queue (NetDevices.CpuQueue); the entry's
/// <see cref="RedirectEntry.Target"/> is the CPU number.
/// </summary>
internal sealed unsafe class CpuMap : BpfMapBase, IRedirectMap, IProgramHoldingMap
{
    public const uint NrCpus = 256;
    public const uint MaxQueueSize = 16384;

    private readonly object _writeLock = new();
    private readonly RedirectEntry?[] _slots;

    internal CpuMap(MapDefinition a) : base(a, a.MaxEntries) => _slots = new RedirectEntry?[a.MaxEntries];

    /// <summary>bpf_prog.fd of a value → program, taking a reference the map then owns (null → ENOMEM, as the kernel).</summary>
    public Func<uint, ProgArrayEntry?>? ProgramResolver { get; set; }

    public event Action<ProgArrayEntry>? ProgramReleased;

    public MapProgramOwner ProgramOwner { get; } = new(compareAttachType: false);

    public ulong RedirectFlagMask => 0;

    public RedirectEntry? RedirectLookup(uint key) => key < (uint)_slots.Length ? Volatile.Read(ref _slots[key]) : null;

    public IReadOnlyList<RedirectEntry> RedirectTargets() =>
        Enumerable.Range(0, _slots.Length).Select(i => Volatile.Read(ref _slots[i])).OfType<RedirectEntry>().ToArray();

    private void Drop(RedirectEntry e)
    {
        e.RetireValue();
        if (e.Program is { } p) ProgramReleased?.Invoke(p);
    }

    private protected override Errno UpdateCore(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, MapUpdateFlags flags)
    {
        if ((ulong)flags > (ulong)MapUpdateFlags.Exist) return Errno.EINVAL;
        uint cpu = BinaryPrimitives.ReadUInt32LittleEndian(key);
        if (cpu >= (uint)_slots.Length) return Errno.E2BIG;
        if (flags == MapUpdateFlags.NoExist) return Errno.EEXIST;
        uint qsize = BinaryPrimitives.ReadUInt32LittleEndian(value);
        if (qsize > MaxQueueSize) return Errno.EOVERFLOW;
        if (cpu >= (uint)BpfCpu.PossibleCount) return Errno.ENODEV;
        RedirectEntry? entry = null;
        if (qsize != 0)
        {
            int fd = value.Length >= 8 ? BinaryPrimitives.ReadInt32LittleEndian(value[4..]) : 0;
            // __cpu_map_entry_alloc returns NULL on any program failure: ENOMEM [6.18 observed].
            var refused = ProgramOwner.ResolveEntryProgram(fd, AttachType.XdpCpumap, ProgramResolver, ProgramReleased, Errno.ENOMEM, out var prog);
            if (refused != Errno.None) return refused;
            entry = new RedirectEntry(cpu, qsize, cpu, prog, (int)ValueSize);
        }
        lock (_writeLock)
        {
            var old = Interlocked.Exchange(ref _slots[cpu], entry);
            if (old is not null) Drop(old);
        }
        return Errno.None;
    }

    private protected override Errno LookupCore(ReadOnlySpan<byte> key, Span<byte> value, MapUpdateFlags flags) =>
        RedirectMaps.LookupInto(this, key, value);

    private protected override Errno DeleteCore(ReadOnlySpan<byte> key)
    {
        uint cpu = BinaryPrimitives.ReadUInt32LittleEndian(key);
        if (cpu >= (uint)_slots.Length) return Errno.EINVAL;
        lock (_writeLock)
        {
            var old = Interlocked.Exchange(ref _slots[cpu], null);
            if (old is not null) Drop(old);
        }
        return Errno.None;
    }

    private protected override Errno GetNextKeyCore(ReadOnlySpan<byte> key, Span<byte> nextKey) =>
        FdArrayKeys.Next(key, nextKey, (uint)_slots.Length);

    private protected override void FreeNative()
    {
        lock (_writeLock)
            for (int i = 0; i < _slots.Length; i++)
                if (Interlocked.Exchange(ref _slots[i], null) is { } old) Drop(old);
    }
}
