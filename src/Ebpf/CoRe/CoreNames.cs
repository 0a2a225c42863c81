using Ebpf.Btf;

namespace Ebpf.CoRe;

/// <summary>
/// Names as CO-RE compares them. A type may carry a "flavor" suffix (<c>task_struct___old</c>) so that several local
/// definitions of one kernel type can live in one object; the essential name is the part before the last
/// <c>X___Y</c> separator where X and Y are not underscores. Field names are compared whole.
/// </summary>
internal static class CoreNames
{
    /// <summary>The length of <paramref name="name"/>'s essential part (the one rule, in <see cref="Btf.BtfSpec.EssentialNameLength"/>).</summary>
    public static int EssentialLength(string name) => Btf.BtfSpec.EssentialNameLength(name);

    public static string Essential(string name) => Btf.BtfSpec.EssentialName(name);

    /// <summary>Equal essential names; an anonymous target matches only an anonymous local (bpf_core_names_match).</summary>
    public static bool Match(string local, string target)
    {
        if (target.Length == 0)
            return local.Length == 0;
        int length = EssentialLength(target);
        return length == EssentialLength(local) && string.CompareOrdinal(local, 0, target, 0, length) == 0;
    }

    /// <summary>Same kind, or both enums (ENUM and ENUM64 stand for each other).</summary>
    public static bool KindsCompatible(BtfType a, BtfType b) =>
        a.Kind == b.Kind || (a is BtfEnumType && b is BtfEnumType);

    /// <summary>The lowercase kind name libbpf's messages use ("struct", "typedef", "int", "enum64").</summary>
    public static string KindName(BtfType t) => t.Kind == BtfKind.Unknown ? "void" : t.Kind.ToKernelName().ToLowerInvariant();
}
