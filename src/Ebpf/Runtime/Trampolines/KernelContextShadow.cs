using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Ebpf.Btf;
using Ebpf.Execution;
using Ebpf.Runtime.ProgramTypes;

namespace Ebpf.Runtime.Trampolines;

/// <summary>
/// What an fentry/fexit program sees through its target's context argument. The kernel passes the real kernel
/// struct (<c>xdp_buff</c>, <c>sk_buff</c>) and the verifier types the argument as that struct of vmlinux BTF; the
/// runtime's context block has another layout, so the trampoline hands the program a kernel-layout shadow: the
/// fields the runtime knows (xdp_buff: data, data_end, data_meta, data_hard_start, frame_sz; sk_buff: len, data,
/// mark, priority, protocol, queue_mapping, hash) at their vmlinux offsets, every other byte zero. The shadow and
/// the target's packet are the memory the program's probe loads may read.
/// </summary>
internal static unsafe class KernelContextShadow
{
    /// <summary>Largest kernel context struct shadowed (sk_buff is 232 bytes on 6.18).</summary>
    public const int MaxSize = 1024;

    private sealed record Plan(int Size, IReadOnlyDictionary<string, (int Offset, int Size)> Fields);

    private static readonly ConditionalWeakTable<BtfSpec, ConcurrentDictionary<string, Plan?>> Plans = new();

    private static readonly string[] XdpFields = ["data", "data_end", "data_meta", "data_hard_start", "frame_sz"];
    private static readonly string[] SkbFields = ["len", "data", "mark", "priority", "protocol", "queue_mapping", "hash"];

    /// <summary>Bytes of the shadow of <paramref name="kernelStruct"/> (0: it cannot be shadowed).</summary>
    public static int SizeOf(BtfSpec kernel, string kernelStruct) => PlanFor(kernel, kernelStruct)?.Size ?? 0;

    /// <summary>
    /// Fills <paramref name="shadow"/> (zeroed, <see cref="SizeOf"/> bytes) from the runtime context block at
    /// <paramref name="ctx"/> and adds the windows probe loads may read: the shadow and the packet.
    /// </summary>
    public static void Fill(BtfSpec kernel, string kernelStruct, byte* shadow, nint ctx, object? packetState, List<ProbeMemory.Window> windows)
    {
        var plan = PlanFor(kernel, kernelStruct);
        if (plan is null)
            return;
        windows.Add(new ProbeMemory.Window((ulong)shadow, (ulong)plan.Size));
        if (ctx == 0)
            return;
        byte* block = (byte*)ctx;
        switch (kernelStruct)
        {
            case "xdp_buff":
            {
                ulong data = *(ulong*)(block + ProgramTypeInfo.XdpDataSlot);
                ulong dataEnd = *(ulong*)(block + ProgramTypeInfo.XdpDataEndSlot);
                ulong dataMeta = *(ulong*)(block + ProgramTypeInfo.XdpDataMetaSlot);
                var xdp = packetState as XdpContext;
                ulong hardStart = xdp is null ? 0 : (ulong)xdp.HardStart;
                Put(plan, shadow, "data", data);
                Put(plan, shadow, "data_end", dataEnd);
                Put(plan, shadow, "data_meta", dataMeta);
                Put(plan, shadow, "data_hard_start", hardStart);
                Put(plan, shadow, "frame_sz", xdp is null ? 0UL : XdpContext.FrameSize);
                if (hardStart != 0)
                    windows.Add(new ProbeMemory.Window(hardStart, XdpContext.FrameSize));
                else if (dataEnd > dataMeta && dataMeta != 0)
                    windows.Add(new ProbeMemory.Window(dataMeta, dataEnd - dataMeta));
                break;
            }
            case "sk_buff":
            {
                ulong data = *(ulong*)(block + ProgramTypeInfo.SkbDataSlot);
                ulong dataEnd = *(ulong*)(block + ProgramTypeInfo.SkbDataEndSlot);
                // __sk_buff's user view sits at the start of the block: len @0, mark @8, queue_mapping @12,
                // protocol @16 (the be16 in the low half), priority @32, hash @68.
                Put(plan, shadow, "len", *(uint*)block);
                Put(plan, shadow, "data", data);
                Put(plan, shadow, "mark", *(uint*)(block + 8));
                Put(plan, shadow, "queue_mapping", *(uint*)(block + 12));
                Put(plan, shadow, "protocol", *(uint*)(block + 16));
                Put(plan, shadow, "priority", *(uint*)(block + 32));
                Put(plan, shadow, "hash", *(uint*)(block + 68));
                if (dataEnd > data && data != 0)
                    windows.Add(new ProbeMemory.Window(data, dataEnd - data));
                break;
            }
        }
    }

    private static void Put(Plan plan, byte* shadow, string field, ulong value)
    {
        if (!plan.Fields.TryGetValue(field, out var f))
            return;
        byte* p = shadow + f.Offset;
        switch (f.Size)
        {
            case 1: *p = (byte)value; break;
            case 2: *(ushort*)p = (ushort)value; break;
            case 4: *(uint*)p = (uint)value; break;
            case 8: *(ulong*)p = value; break;
        }
    }

    private static Plan? PlanFor(BtfSpec kernel, string kernelStruct) =>
        Plans.GetOrCreateValue(kernel).GetOrAdd(kernelStruct, name => Build(kernel, name));

    private static Plan? Build(BtfSpec kernel, string name)
    {
        if (!kernel.TryFindByName(name, BtfKind.Struct, out var t) || t is not BtfComposite s || s.Size == 0 || s.Size > MaxSize)
            return null;
        uint id = kernel.FindAllByName(name, BtfKind.Struct).First();
        var fields = new Dictionary<string, (int, int)>();
        foreach (var field in name switch { "xdp_buff" => XdpFields, "sk_buff" => SkbFields, _ => [] })
        {
            if (kernel.FindMember(id, field) is not { } m || m.Member.IsBitfield || m.BitOffset % 8 != 0)
                continue;
            uint size = kernel.SizeOf(m.Member.Type);
            if (size is 1 or 2 or 4 or 8)
                fields[field] = ((int)(m.BitOffset / 8), (int)size);
        }
        return new Plan((int)s.Size, fields);
    }
}
