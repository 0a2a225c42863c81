using Ebpf.Abi.Profiles;
using Ebpf.Isa;

namespace Ebpf.Verification;

/// <summary>
/// Instructions a kernel profile may lack: a kernel before may_goto (6.9) has no 0xe5 in its opcode table, and one
/// before load-acquire/store-release (6.15) none of the byte and half-word atomics, so resolve_pseudo_ldimm64 refuses
/// them as "unknown opcode". (A word or double-word BPF_LOAD_ACQ/BPF_STORE_REL passes the table there and is refused
/// by check_atomic as an invalid atomic opcode, see <see cref="MemoryAccessChecker"/>.)
/// </summary>
internal static class InstructionFeatures
{
    public static VerifierError? Check(IReadOnlyList<Instruction> insns, KernelProfile profile)
    {
        bool mayGoto = profile.HasFeature(KernelFeature.MayGoto);
        bool acquireRelease = profile.HasFeature(KernelFeature.LoadAcquireStoreRelease);
        if (mayGoto && acquireRelease) return null;
        for (int i = 0; i < insns.Count; i += insns[i].IsLoadImm64 ? 2 : 1)
        {
            var insn = insns[i];
            bool missing = (!mayGoto && insn.Opcode == OpcodeExtras.MayGoto)
                || (!acquireRelease && insn.Class == InstructionClass.Stx && insn.AccessMode == AccessMode.Atomic
                    && insn.AccessSize is AccessSize.Byte or AccessSize.Half);
            if (missing) return new VerifierError(Errno.EINVAL, $"unknown opcode {insn.Opcode:x2}", i);
        }
        return null;
    }
}
