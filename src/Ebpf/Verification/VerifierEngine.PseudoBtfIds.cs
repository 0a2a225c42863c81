using Ebpf.Btf;
using Ebpf.Isa;

namespace Ebpf.Verification;

internal sealed partial class VerifierEngine
{
    /// <summary>
    /// check_pseudo_btf_id, part of resolve_pseudo_ldimm64: every <c>ld_imm64</c> with BPF_PSEUDO_BTF_ID (src 3) must
    /// name a VAR or FUNC of the kernel BTF, reachable or not. The kernel BTF is the profile's; without one no id
    /// resolves. (The kernel then looks the symbol's address up in kallsyms, which a profile does not carry.)
    /// </summary>
    private void CheckPseudoBtfIds()
    {
        for (int i = 0; i + 1 < _insns.Count; i++)
        {
            var insn = _insns[i];
            if (!insn.IsLoadImm64)
                continue;
            if (insn.Src == (byte)LoadImm64Source.BtfId && _insns[i + 1].Imm == 0)
            {
                var btf = _input.Profile.KernelBtf;
                if (btf is null || insn.Imm <= 0 || !btf.TryGetType((uint)insn.Imm, out var t) || (uint)insn.Imm > btf.MaxTypeId)
                    throw new VerifierError(Errno.ENOENT, $"ldimm64 insn specifies invalid btf_id {insn.Imm}.", i);
                if (t is not (BtfVar or BtfFunc))
                    throw new VerifierError(Errno.EINVAL, $"pseudo btf_id {insn.Imm} in ldimm64 isn't KIND_VAR or KIND_FUNC", i);
            }
            i++;
        }
    }
}
