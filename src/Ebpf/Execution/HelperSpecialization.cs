using System.Reflection;

namespace Ebpf.Execution;

/// <summary>
/// A helper call site bound to a known first argument: compiled code calls <see cref="Method"/> (an instance
/// method of <see cref="Target"/>'s type taking R2, R3, … as <c>ulong</c> and returning <c>ulong</c>) on
/// <see cref="Target"/> instead of the generic helper. It is the JIT's counterpart of the kernel's
/// do_misc_fixups, which calls <c>map-&gt;ops-&gt;map_lookup_elem</c> directly when R1 is one known map: the
/// generic helper's work of resolving R1 to an object is done once, at compile time.
/// </summary>
/// <remarks>The method must behave exactly as the generic helper does for that R1 in an unchecked run.</remarks>
internal sealed record HelperSpecialization(object Target, MethodInfo Method)
{
    /// <summary>How many registers after R1 the method takes (0–4).</summary>
    public int ArgumentCount => Method.GetParameters().Length;
}

/// <summary>
/// Offers a <see cref="HelperSpecialization"/> for helper <paramref name="helperId"/> called with R1 equal to
/// <paramref name="constantR1"/> (a value the call site's R1 provably holds, from an lddw in the same basic
/// block whose original instruction was a pseudo map reference: <see cref="InterpreterOptions.MapPointerLoads"/>), or null for the generic call.
/// </summary>
internal delegate HelperSpecialization? HelperSpecializer(long helperId, ulong constantR1);
