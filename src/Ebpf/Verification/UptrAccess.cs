using Ebpf.Isa;

namespace Ebpf.Verification;

/// <summary>
/// Accesses to a map value's <c>__uptr</c> fields (6.12+, task storage only): check_map_access's field loop and
/// check_map_kptr_access for BPF_UPTR. The field is an 8-byte user pointer the kernel pins at update time; a program
/// may only load it (a BPF_MEM BPF_DW load at its exact, constant offset), which gives PTR_TO_MEM | PTR_MAYBE_NULL
/// sized by the pointee struct. Stores, atomics, other sizes, variable or misaligned offsets and helper accesses are
/// refused with the kernel's messages.
/// </summary>
internal sealed class UptrAccess(VerifierContext walk) : VerifierComponent(walk)
{
    /// <summary>A load or store of <paramref name="size"/> bytes at <paramref name="off"/> (insn off + reg off) through
    /// map value register <paramref name="regno"/>: null when no uptr field is touched, the loaded register when the
    /// field is read, a refusal otherwise.</summary>
    public RegisterState? Access(int regno, in RegisterState reg, int off, int size, bool write)
    {
        var fields = MapValueUptrs.Of(reg.Map!);
        if (fields.Count == 0) return null;
        CheckFields(reg, off, size, fields, helper: false);
        if (!reg.VarOff.IsConst) return null;
        long at = off + (long)reg.VarOff.Value;
        foreach (var field in fields)
        {
            if (field.Offset != at) continue;
            var insn = Insns[InsnIdx];
            if (insn.AccessMode != AccessMode.Mem)
                throw Fail("kptr in map can only be accessed using BPF_MEM instruction mode");
            if (write || insn.Class != InstructionClass.Ldx)
                throw Fail("store to uptr disallowed");
            // mark_uptr_ld_reg: the pointee is readable and writable as plain memory once checked for NULL.
            var loaded = RegisterState.Pointer(RegisterType.Mem);
            loaded.MemSize = field.PointeeSize;
            loaded.MaybeNull = true;
            loaded.Id = NewId();
            return loaded;
        }
        return null;
    }

    /// <summary>A helper's access to <paramref name="size"/> bytes of the value at the register's offset
    /// (check_map_access with ACCESS_HELPER): no uptr field may be touched.</summary>
    public void HelperAccess(in RegisterState reg, int off, long size)
    {
        var fields = MapValueUptrs.Of(reg.Map!);
        if (fields.Count > 0) CheckFields(reg, off, (int)Math.Min(size, int.MaxValue), fields, helper: true);
    }

    /// <summary>check_map_access's loop over the record, for the uptr fields: any field the access may touch must be
    /// touched exactly (direct access, constant offset, field start, BPF_DW).</summary>
    private void CheckFields(in RegisterState reg, int off, int size, IReadOnlyList<UptrField> fields, bool helper)
    {
        long lo = reg.SMin + off;
        long hi = (long)Math.Min(reg.UMax, (ulong)int.MaxValue) + off + size;
        foreach (var field in fields)
        {
            if (!(lo < field.Offset + 8 && field.Offset < hi)) continue;
            if (helper) throw Fail("uptr cannot be accessed indirectly by helper");
            if (!reg.VarOff.IsConst) throw Fail("uptr access cannot have variable offset");
            long at = off + (long)reg.VarOff.Value;
            if (field.Offset != at) throw Fail($"uptr access misaligned expected={field.Offset} off={at}");
            if (size != 8) throw Fail("uptr access size must be BPF_DW");
        }
    }
}
