namespace Ebpf.Collections;

/// <summary>
/// The ebpf extension beyond mainline that carries a BTF object with a type id (include/ebpf/btf_ptr.h, README "CO-RE"):
/// the loader marks the ld_imm64 of a TYPE_ID_TARGET relocation that resolved into a module's BTF with this src_reg and
/// puts the module BTF's fd (in the managed runtime: its index in the load's fd_array) in the second imm, as map fds
/// travel in BPF_PSEUDO_MAP_FD. The managed runtime resolves it at load, before verification: the program takes a
/// reference on the BTF object and the instruction becomes the plain constant <c>(slot &lt;&lt; 32) | type_id</c>, slot
/// being the 1-based index of that BTF among the program's used BTFs. Mainline kernels never see it: the Linux backend
/// keeps libbpf's encoding (upper half 0).
/// </summary>
internal static class BtfObjectReference
{
    /// <summary>src_reg of the extension's ld_imm64 (the kernel's pseudo sources end at 6, BPF_PSEUDO_MAP_IDX_VALUE).</summary>
    public const byte PseudoBtfObject = 7;
}
