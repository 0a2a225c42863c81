using Ebpf.Abi;
using Ebpf.Collections;
using Ebpf.Verification;

namespace Ebpf.Runtime.Objects;

/// <summary>
/// BPF_MAP_CREATE for a value with <c>__uptr</c> fields (6.12+). The kernel's rules first, in its order
/// (map_check_btf, then btf_check_and_fixup_fields): BPF_F_RDONLY_PROG / BPF_F_WRONLY_PROG → EACCES, any map but task
/// storage → EOPNOTSUPP, a pointee vmlinux also defines (a kernel struct) or of size 0 → EINVAL, larger than a page →
/// E2BIG. A map that passes them is still refused here (EOPNOTSUPP): the kernel pins the user page behind each uptr at
/// update time and hands the program a kernel address; the managed runtime has no task storage and no way to pin
/// another address space's memory, and it never stores a user address a program could later dereference.
/// </summary>
internal static class UptrMapRules
{
    private const int PageSize = 4096;

    /// <summary>Throws the kernel's errno for a map whose value has uptr fields (nothing when it has none).</summary>
    public static void Check(MapDefinition definition, Btf.BtfSpec btf, Func<Btf.BtfSpec?> vmlinux)
    {
        var uptrs = MapValueUptrs.Find(btf, definition.BtfValueTypeId);
        if (uptrs.Count == 0) return;
        string map = $"map '{definition.Name}'";
        if ((definition.Flags & (MapFlags.RdonlyProg | MapFlags.WronlyProg)) != 0)
            throw new BpfException(Errno.EACCES, $"{map}: a value with special fields (uptr) cannot be BPF_F_RDONLY_PROG or BPF_F_WRONLY_PROG");
        if (definition.Type != MapType.TaskStorage)
            throw new BpfException(Errno.EOPNOTSUPP, $"{map}: uptr fields are only allowed in task storage map values (this is {definition.Type})");
        foreach (var field in uptrs)
        {
            if (vmlinux() is { } kernel && kernel.TryFindByName(field.PointeeName, Btf.BtfKind.Struct, out _))
                throw new BpfException(Errno.EINVAL, $"{map}: the uptr at offset {field.Offset} points to struct {field.PointeeName}, a kernel struct");
            if (field.PointeeSize == 0)
                throw new BpfException(Errno.EINVAL, $"{map}: the uptr at offset {field.Offset} points to an empty struct");
            if (field.PointeeSize > PageSize)
                throw new BpfException(Errno.E2BIG, $"{map}: the uptr at offset {field.Offset} points to {field.PointeeSize} bytes, more than a page");
        }
        throw new BpfException(Errno.EOPNOTSUPP,
            $"{map}: uptr fields are not supported by the managed runtime (it has no task storage and cannot pin user memory)");
    }
}
