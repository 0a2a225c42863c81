using Ebpf.Abi.Profiles;
using Ebpf.Btf;

namespace Ebpf.Runtime;

/// <summary>
/// BPF_BTF_LOAD on a kernel that predates some BTF kinds (the runtime's <see cref="KernelProfile"/> lacks the feature):
/// such a kernel's btf_check_meta refuses the first type of a kind it does not know, "[id] Invalid kind:N" (EINVAL).
/// This is what makes libbpf's sanitization necessary, and the loader's sanitised BTF pass.
/// </summary>
internal static class BtfKindSupport
{
    private static KernelFeature? Feature(BtfKind kind) => kind switch
    {
        BtfKind.Var or BtfKind.Datasec => KernelFeature.BtfDatasec,
        BtfKind.DeclTag => KernelFeature.BtfDeclTag,
        BtfKind.TypeTag => KernelFeature.BtfTypeTag,
        BtfKind.Float => KernelFeature.BtfFloat,
        BtfKind.Enum64 => KernelFeature.BtfEnum64,
        _ => null,
    };

    private static readonly BtfKind[] Gated = [BtfKind.Var, BtfKind.Datasec, BtfKind.DeclTag, BtfKind.TypeTag, BtfKind.Float, BtfKind.Enum64];

    /// <summary>Throws EINVAL naming the first type of a kind <paramref name="profile"/>'s kernel lacks.</summary>
    public static void Check(ReadOnlyMemory<byte> raw, Btf.BtfSpec? parsed, KernelProfile profile)
    {
        if (Gated.All(k => profile.HasFeature(Feature(k)!.Value)))
            return; // the common case: no parse needed
        parsed ??= Btf.BtfSpec.Parse(raw);
        for (uint id = parsed.FirstTypeId; id <= parsed.MaxTypeId; id++)
        {
            var kind = parsed.GetType(id).Kind;
            if (Feature(kind) is { } feature && !profile.HasFeature(feature))
            {
                string line = $"[{id}] Invalid kind:{(int)kind}";
                throw new BpfException(Errno.EINVAL, $"BTF load refused by kernel {profile}: {line}", line);
            }
        }
    }
}
