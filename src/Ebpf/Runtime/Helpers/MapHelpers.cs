using Ebpf.Abi.Helpers;
using Ebpf.Abi;
using Ebpf.Execution;
using Ebpf.Runtime.Maps;
using Ebpf.Runtime.Objects;

namespace Ebpf.Runtime.Helpers;

/// <summary>
/// Helpers that take a map (R1 = the handle an lddw of the map produced) and the callback helpers.
/// Map semantics are the maps' program-side API; these wrappers resolve the handle, pick the CPU,
/// and in checked mode register the memory they hand back (map values, ring buffer records) as
/// regions the program may touch for the rest of the invocation.
/// </summary>
internal static unsafe class MapHelpers
{
    /// <summary>BPF_MAX_LOOPS.</summary>
    public const ulong MaxLoops = 1 << 23;

    public static void RegisterAll(HelperRegistry r)
    {
        r.SetBuiltin(HelperId.MapLookupElem, "map_lookup_elem", MapLookupElem);
        r.SetBuiltin(HelperId.MapUpdateElem, "map_update_elem", MapUpdateElem);
        r.SetBuiltin(HelperId.MapDeleteElem, "map_delete_elem", MapDeleteElem);
        r.SetBuiltin(HelperId.MapPushElem, "map_push_elem", MapPushElem);
        r.SetBuiltin(HelperId.MapPopElem, "map_pop_elem", MapPopElem);
        r.SetBuiltin(HelperId.MapPeekElem, "map_peek_elem", MapPeekElem);
        r.SetBuiltin(HelperId.ForEachMapElem, "for_each_map_elem", ForEachMapElem);
        r.SetBuiltin(HelperId.Loop, "loop", Loop);
        r.SetBuiltin(HelperId.TailCall, "tail_call", TailCall);
        r.SetBuiltin(HelperId.RingbufOutput, "ringbuf_output", RingbufOutput);
        r.SetBuiltin(HelperId.RingbufReserve, "ringbuf_reserve", RingbufReserve);
        r.SetBuiltin(HelperId.RingbufSubmit, "ringbuf_submit", RingbufSubmit);
        r.SetBuiltin(HelperId.RingbufDiscard, "ringbuf_discard", RingbufDiscard);
        r.SetBuiltin(HelperId.RingbufQuery, "ringbuf_query", RingbufQuery);
        r.SetBuiltin(HelperId.PerfEventOutput, "perf_event_output", PerfEventOutput);
        r.SetBuiltin(HelperId.RedirectMap, "redirect_map", RedirectMap);
    }

    private static int Cpu => BpfCpu.Current;

    /// <summary>
    /// The storage behind a map pointer: an lddw'd map (its <see cref="MapObject"/> handle) or an inner
    /// map returned by a lookup in an array/hash of maps (the storage's own handle). Both are
    /// <see cref="MapHandleTable"/> handles, validated here: any other value gives null.
    /// </summary>
    internal static BpfMapBase? Storage(ulong handle) => MapHandleTable.Find(handle) switch
    {
        MapObject m => m.Maps,
        BpfMapBase b => b,
        _ => null,
    };

    /// <summary>
    /// <see cref="Storage"/> for helper <paramref name="helper"/>'s map argument. A value that is no live map:
    /// a checked run faults (the program is not verified, the verifier did not prove the type); an unchecked
    /// run (where the verifier did prove it, so this is a runtime defect) gets null and the helper's error.
    /// </summary>
    private static BpfMapBase? MapArgument(ulong handle, string helper)
    {
        var map = Storage(handle);
        if (map is null && Ebpf.Execution.InvocationContext.Current is { Mode: ExecutionMode.Checked })
            throw NotAMap(handle, helper);
        return map;
    }

    internal static BpfException NotAMap(ulong handle, string helper) =>
        new(Errno.EINVAL, $"helper bpf_{helper}: map argument 0x{handle:x} is not a live map pointer");

    private static bool Readable(ulong address, ulong size) => HelperMemory.CanAccess(address, size, write: false);

    /// <summary>Registers memory handed to a checked program; <paramref name="kind"/> ("value", "key", …) names it after the map.</summary>
    private static void Expose(byte* pointer, int size, BpfMapBase map, string kind)
    {
        // The region name is built here, only for checked runs: an unchecked lookup must not pay for a string.
        if (pointer == null || Ebpf.Execution.InvocationContext.Current is not { Mode: ExecutionMode.Checked } ctx)
            return;
        var access = map.ProgramCanWrite ? MemoryAccess.ReadWrite : MemoryAccess.Read;
        ctx.AddRegion(new MemoryRegion((nuint)pointer, (nuint)size, access, $"{map.Name} {kind}"));
    }

    /// <summary>bpf_map_lookup_elem (1): value pointer or NULL.</summary>
    public static ulong MapLookupElem(ulong mapHandle, ulong key, ulong r3, ulong r4, ulong r5)
    {
        var map = MapArgument(mapHandle, "map_lookup_elem");
        if (map is null)
            return 0;
        if (Ebpf.Execution.InvocationContext.Current is { Mode: ExecutionMode.Unchecked })
        {
            // A verified caller (the hot path): the verifier proved the key pointer valid, and nothing needs
            // registering, so skip the checked-mode pointer validation and region bookkeeping.
            return (ulong)map.ProgramLookup((byte*)key, Cpu);
        }
        if (!Readable(key, map.KeySize))
            return 0;
        byte* value = map.ProgramLookup((byte*)key, Cpu);
        Expose(value, (int)map.ValueSize, map, "value");
        return (ulong)value;
    }

    /// <summary>bpf_map_update_elem (2).</summary>
    public static ulong MapUpdateElem(ulong mapHandle, ulong key, ulong value, ulong flags, ulong r5)
    {
        var map = MapArgument(mapHandle, "map_update_elem");
        if (map is null)
            return BuiltinHelpers.Err(Errno.EINVAL);
        if (!Readable(key, map.KeySize) || !Readable(value, map.ValueSize))
            return BuiltinHelpers.Err(Errno.EFAULT);
        return (ulong)map.ProgramUpdate((byte*)key, (byte*)value, flags, Cpu);
    }

    /// <summary>bpf_map_delete_elem (3).</summary>
    public static ulong MapDeleteElem(ulong mapHandle, ulong key, ulong r3, ulong r4, ulong r5)
    {
        var map = MapArgument(mapHandle, "map_delete_elem");
        if (map is null)
            return BuiltinHelpers.Err(Errno.EINVAL);
        if (!Readable(key, map.KeySize))
            return BuiltinHelpers.Err(Errno.EFAULT);
        return (ulong)map.ProgramDelete((byte*)key, Cpu);
    }

    /// <summary>bpf_map_push_elem (87).</summary>
    public static ulong MapPushElem(ulong mapHandle, ulong value, ulong flags, ulong r4, ulong r5)
    {
        var map = MapArgument(mapHandle, "map_push_elem");
        if (map is null)
            return BuiltinHelpers.Err(Errno.EINVAL);
        if (!Readable(value, map.ValueSize))
            return BuiltinHelpers.Err(Errno.EFAULT);
        return (ulong)map.ProgramPush((byte*)value, flags);
    }

    /// <summary>bpf_map_pop_elem (88).</summary>
    public static ulong MapPopElem(ulong mapHandle, ulong value, ulong r3, ulong r4, ulong r5)
    {
        var map = MapArgument(mapHandle, "map_pop_elem");
        if (map is null)
            return BuiltinHelpers.Err(Errno.EINVAL);
        if (!HelperMemory.CanAccess(value, map.ValueSize, write: true))
            return BuiltinHelpers.Err(Errno.EFAULT);
        return (ulong)map.ProgramPop((byte*)value);
    }

    /// <summary>bpf_map_peek_elem (89).</summary>
    public static ulong MapPeekElem(ulong mapHandle, ulong value, ulong r3, ulong r4, ulong r5)
    {
        var map = MapArgument(mapHandle, "map_peek_elem");
        if (map is null)
            return BuiltinHelpers.Err(Errno.EINVAL);
        if (!HelperMemory.CanAccess(value, map.ValueSize, write: true))
            return BuiltinHelpers.Err(Errno.EFAULT);
        return (ulong)map.ProgramPeek((byte*)value);
    }

    /// <summary>bpf_for_each_map_elem(map, cb, ctx, flags) (164): cb(map, &amp;key, value, ctx) per element.</summary>
    public static ulong ForEachMapElem(ulong mapHandle, ulong callback, ulong callbackCtx, ulong flags, ulong r5)
    {
        var map = MapArgument(mapHandle, "for_each_map_elem");
        var exec = Ebpf.Execution.InvocationContext.Current;
        if (map is null || exec is null || !map.SupportsForEach)
            return BuiltinHelpers.Err(Errno.EINVAL);
        return (ulong)map.ForEachElement((m, key, value) =>
        {
            Expose(key, (int)m.KeySize, m, "key");
            Expose(value, (int)m.ValueSize, m, "value");
            return (long)exec.CallFunction(callback, mapHandle, (ulong)key, (ulong)value, callbackCtx);
        }, flags, Cpu);
    }

    /// <summary>bpf_loop(nr_loops, cb, ctx, flags) (181).</summary>
    public static ulong Loop(ulong count, ulong callback, ulong callbackCtx, ulong flags, ulong r5)
    {
        if (flags != 0)
            return BuiltinHelpers.Err(Errno.EINVAL);
        if (count > MaxLoops)
            return BuiltinHelpers.Err(Errno.E2BIG);
        var exec = Ebpf.Execution.InvocationContext.Current;
        if (exec is null)
            return BuiltinHelpers.Err(Errno.EINVAL);
        for (ulong i = 0; i < count; i++)
        {
            if (exec.CallFunction(callback, i, callbackCtx) != 0)
                return i + 1;
        }
        return count;
    }

    /// <summary>
    /// bpf_tail_call(ctx, prog_array, index) (12): on success the current program is replaced when the
    /// helper returns; an index out of range, an empty slot, an incompatible program or a chain of 33
    /// tail calls fall through (the helper returns and the program continues).
    /// </summary>
    public static ulong TailCall(ulong ctx, ulong mapHandle, ulong index, ulong r4, ulong r5)
    {
        var map = MapObject.FromNativeHandle(mapHandle);
        if (map is null && Ebpf.Execution.InvocationContext.Current is { Mode: ExecutionMode.Checked })
            throw NotAMap(mapHandle, "tail_call");
        var slots = map?.ProgramSlots;
        var exec = Ebpf.Execution.InvocationContext.Current;
        if (slots is null || exec is null)
            return BuiltinHelpers.Err(Errno.EINVAL);
        // The kernel's order (___bpf_prog_run, the x86 JIT): an index out of range falls through without
        // counting; then the limit; then the count goes up BEFORE the slot is read, so an empty slot
        // still uses up one of the 33.
        uint slot = (uint)index;
        if (slot >= (uint)slots.Length || !exec.TryCountTailCall())
            return BuiltinHelpers.Err(Errno.ENOENT);
        var invocation = HelperInvocation.Current;
        if (invocation is not null)
            invocation.TailCallCount++;
        var target = slots.Get(slot);
        if (target?.Executable is not PreparedProgram prepared)
            return BuiltinHelpers.Err(Errno.ENOENT);
        if (invocation?.Program is { } current && (current.Type != target.Type || current.ExpectedAttachType != target.ExpectedAttachType))
            return BuiltinHelpers.Err(Errno.EINVAL);
        // A tail call continues in the caller's mode: a checked caller runs the target checked; an
        // unchecked caller may only enter a target that is itself allowed to run unchecked.
        var targetInterpreter = exec.Mode == ExecutionMode.Checked ? prepared.Checked : prepared.Unchecked;
        if (targetInterpreter is null)
            return BuiltinHelpers.Err(Errno.ENOENT);
        exec.SetTailCallTarget(targetInterpreter);
        if (exec.Mode == ExecutionMode.Checked)
            foreach (var region in prepared.StaticRegions)
                exec.AddRegion(region); // the target's global data
        if (invocation is not null)
            invocation.Program = target;
        return 0;
    }

    private static RingBufMap? Ring(ulong handle, string helper) => MapArgument(handle, helper) as RingBufMap;

    /// <summary>bpf_ringbuf_output(map, data, size, flags) (130).</summary>
    public static ulong RingbufOutput(ulong mapHandle, ulong data, ulong size, ulong flags, ulong r5)
    {
        if (Ring(mapHandle, "ringbuf_output") is not { } ring)
            return BuiltinHelpers.Err(Errno.EINVAL);
        if (!Readable(data, size))
            return BuiltinHelpers.Err(Errno.EFAULT);
        return (ulong)ring.Output((byte*)data, size, flags);
    }

    /// <summary>bpf_ringbuf_reserve(map, size, flags) (131): record pointer or NULL.</summary>
    public static ulong RingbufReserve(ulong mapHandle, ulong size, ulong flags, ulong r4, ulong r5)
    {
        if (Ring(mapHandle, "ringbuf_reserve") is not { } ring)
            return 0;
        byte* record = ring.Reserve(size, flags);
        if (record != null && Ebpf.Execution.InvocationContext.Current is { Mode: ExecutionMode.Checked })
        {
            Expose(record, (int)size, ring, "record");
            if (HelperInvocation.Current is { } invocation)
                (invocation.OpenRecords ??= []).Add((ring, (ulong)record));
        }
        return (ulong)record;
    }

    /// <summary>bpf_ringbuf_submit(data, flags) (132): the record's header locates its ring.</summary>
    public static ulong RingbufSubmit(ulong data, ulong flags, ulong r3, ulong r4, ulong r5) => Commit(data, flags, discard: false);

    /// <summary>bpf_ringbuf_discard(data, flags) (133).</summary>
    public static ulong RingbufDiscard(ulong data, ulong flags, ulong r3, ulong r4, ulong r5) => Commit(data, flags, discard: true);

    private static ulong Commit(ulong data, ulong flags, bool discard)
    {
        if (Ebpf.Execution.InvocationContext.Current is { Mode: ExecutionMode.Checked })
            return CommitChecked(data, flags, discard);
        // A verified caller: the verifier proved data is a record it reserved and has not released; find the used
        // ring buffer map whose data area contains it.
        var program = HelperInvocation.Current?.Program;
        if (program is null || data == 0)
            return 0;
        foreach (var map in program.UsedMaps)
        {
            if (map.Maps is RingBufMap ring && (byte*)data >= ring.Data && (byte*)data < ring.Data + 2 * ring.RingSize)
            {
                ring.Commit((byte*)data, flags, discard);
                return 0;
            }
        }
        return 0;
    }

    /// <summary>
    /// Commit for an unverified program: only a record this run reserved and has not yet committed. Anything
    /// else — a pointer into the middle of a record, the ring's first byte, a record already submitted — would
    /// make the ring write its header word somewhere it does not own.
    /// </summary>
    private static ulong CommitChecked(ulong data, ulong flags, bool discard)
    {
        var open = HelperInvocation.Current?.OpenRecords;
        int at = open?.FindIndex(r => r.Record == data) ?? -1;
        if (at < 0)
            throw new BpfException(Errno.EINVAL,
                $"helper bpf_ringbuf_{(discard ? "discard" : "submit")}: 0x{data:x} is not a ring buffer record this run reserved and still holds");
        var ring = open![at].Ring;
        open.RemoveAt(at);
        ring.Commit((byte*)data, flags, discard);
        return 0;
    }

    /// <summary>Discards the records a checked run reserved and never committed (the kernel's verifier refuses such a program).</summary>
    internal static void DiscardLeftOpen(HelperInvocation invocation)
    {
        foreach (var (ring, record) in invocation.OpenRecords!)
            ring.Commit((byte*)record, 0, discard: true);
        invocation.OpenRecords.Clear();
    }

    /// <summary>bpf_ringbuf_query(map, flags) (134).</summary>
    public static ulong RingbufQuery(ulong mapHandle, ulong flags, ulong r3, ulong r4, ulong r5) =>
        Ring(mapHandle, "ringbuf_query")?.Query(flags) ?? 0;

    /// <summary>bpf_perf_event_output(ctx, map, flags, data, size) (25).</summary>
    public static ulong PerfEventOutput(ulong ctx, ulong mapHandle, ulong flags, ulong data, ulong size)
    {
        if (MapArgument(mapHandle, "perf_event_output") is not PerfEventArrayMap perf)
            return BuiltinHelpers.Err(Errno.EINVAL);
        if (!Readable(data, size))
            return BuiltinHelpers.Err(Errno.EFAULT);
        var inv = HelperInvocation.Current;
        if (inv is not null && inv.PrintNesting >= PrintHelpers.MaxNesting)
            return BuiltinHelpers.Err(Errno.EBUSY);
        return (ulong)perf.Output(flags, (byte*)data, size, Cpu);
    }

    /// <summary>
    /// bpf_redirect_map(map, key, flags) (51), as __bpf_xdp_redirect_map: flag bits outside the fallback
    /// action (low two bits) and the map type's own flags (devmaps: BPF_F_BROADCAST, BPF_F_EXCLUDE_INGRESS)
    /// → XDP_ABORTED; a failed lookup without BROADCAST clears the recorded redirect and returns the
    /// fallback action; otherwise the target is recorded (on the XDP buffer, or the invocation's
    /// RedirectTarget for host-run programs) and XDP_REDIRECT returned.
    /// </summary>
    public static ulong RedirectMap(ulong mapHandle, ulong key, ulong flags, ulong r4, ulong r5)
    {
        const ulong ActionMask = 3;
        var map = MapArgument(mapHandle, "redirect_map");
        var redirect = map as IRedirectMap;
        ulong flagMask = redirect?.RedirectFlagMask ?? 0;
        if ((flags & ~(ActionMask | flagMask)) != 0)
            return PacketHelpers.XdpAborted;
        var inv = HelperInvocation.Current;
        var xdp = inv?.PacketState as Ebpf.Runtime.ProgramTypes.XdpContext;
        bool broadcast = (flags & DevMap.BroadcastFlag) != 0;
        if (redirect?.RedirectLookup((uint)key) is null && !broadcast)
        {
            if (xdp is not null) xdp.Redirect = null;
            return flags & ActionMask;
        }
        if (xdp is not null)
            xdp.Redirect = new Ebpf.Runtime.ProgramTypes.XdpRedirect(map!.Type, map.Id, (uint)key, broadcast ? flags : 0, map);
        if (inv is not null)
            inv.RedirectTarget = (uint)key;
        return PacketHelpers.XdpRedirect;
    }
}
