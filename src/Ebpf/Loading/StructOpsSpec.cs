namespace Ebpf.Loading;

/// <summary>
/// A struct_ops variable of a <c>.struct_ops</c> / <c>.struct_ops.link</c> section as libbpf's open step records it
/// (bpf_object__init_struct_ops_maps, bpf_object__collect_st_ops_relos): the object's own view of the kernel struct
/// (its local BTF type, the variable's bytes) and, per function-pointer member, the program the relocation put there.
/// The kernel's view (value type, member indexes) is bound at load against the target kernel's BTF
/// (<see cref="StructOpsBinding"/>).
/// </summary>
/// <param name="TypeName">The struct's name (<c>tcp_congestion_ops</c>), which names the kernel type too.</param>
/// <param name="LocalTypeId">The struct's id in the object's BTF.</param>
/// <param name="Programs">Local member index → the program its function pointer names.</param>
internal sealed record StructOpsSpec(string TypeName, uint LocalTypeId, IReadOnlyDictionary<int, string> Programs);
