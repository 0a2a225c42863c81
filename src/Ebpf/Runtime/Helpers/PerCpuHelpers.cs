using Ebpf.Runtime.Maps;

namespace Ebpf.Runtime.Helpers;

/// <summary>
/// bpf_per_cpu_ptr and bpf_this_cpu_ptr on a per-CPU module variable (the verifier allows only a per-CPU ksym's
/// unmodified address in R1): the instance of the given CPU (NULL past the possible CPUs) or of the running one.
/// </summary>
internal static class PerCpuHelpers
{
    public static ulong PerCpuPtr(ulong ptr, ulong cpu, ulong r3, ulong r4, ulong r5) =>
        HelperInvocation.Current?.Program?.BtfReferences?.PerCpuInstance(ptr, cpu) ?? 0;

    public static ulong ThisCpuPtr(ulong ptr, ulong r2, ulong r3, ulong r4, ulong r5) =>
        HelperInvocation.Current?.Program?.BtfReferences?.PerCpuInstance(ptr, (ulong)BpfCpu.Current) ?? 0;
}
