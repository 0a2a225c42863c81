using Ebpf.Btf;

namespace Ebpf.CoRe;

/// <summary>
/// bpf_core_calc_relo: the value a relocation kind takes from a spec (local: what clang wrote; target: what the
/// instruction gets), with libbpf's rules for bitfield containers, memory-size adjustment and "missing" targets.
/// </summary>
internal static class CoreValueCalculator
{
    /// <summary>Raised internally when the instruction must be poisoned (libbpf's -EUCLEAN).</summary>
    private sealed class PoisonRequest : Exception;

    public static CoreRelocationResult Calculate(string program, int insnIndex, CoreSpec local, CoreSpec? target, string? targetName)
    {
        var kind = local.Kind;
        try
        {
            switch (CoreSpec.ClassOf(kind))
            {
                case CoreRelocationClass.Field:
                {
                    var (orig, origSize, origType, validate) = Field(program, insnIndex, kind, local);
                    var (@new, newSize, newType, _) = Field(program, insnIndex, kind, target);
                    bool fail = false;
                    if (origSize != newSize)
                    {
                        var ot = local.Btf.GetType(origType);
                        var nt = target!.Btf.GetType(newType);
                        bool pointers = ot is BtfPtr && nt is BtfPtr;
                        bool unsignedInts = ot is BtfInt { IsSigned: false } && nt is BtfInt { IsSigned: false };
                        fail = !pointers && !unsignedInts;
                    }
                    return new CoreRelocationResult
                    {
                        Original = orig, New = @new, Validate = validate, OriginalSize = origSize, NewSize = newSize,
                        OriginalTypeId = origType, NewTypeId = newType, FailMemorySizeAdjust = fail, Local = local, Target = target, TargetBtfName = targetName,
                    };
                }
                case CoreRelocationClass.Type:
                {
                    bool validate = kind is not (BtfCoreReloKind.TypeIdLocal or BtfCoreReloKind.TypeIdTarget);
                    return new CoreRelocationResult
                    {
                        Original = TypeValue(local), New = target is null ? 0 : TypeValue(target), Validate = validate,
                        Local = local, Target = target, TargetBtfName = targetName,
                    };
                }
                default:
                    return new CoreRelocationResult
                    {
                        Original = EnumValue(kind, local), New = EnumValue(kind, target), Local = local, Target = target, TargetBtfName = targetName,
                    };
            }
        }
        catch (PoisonRequest)
        {
            return new CoreRelocationResult { Poison = true, Local = local, Target = target, TargetBtfName = targetName };
        }
    }

    private static ulong TypeValue(CoreSpec spec) => spec.Kind switch
    {
        BtfCoreReloKind.TypeIdLocal or BtfCoreReloKind.TypeIdTarget => spec.RootTypeId,
        BtfCoreReloKind.TypeExists or BtfCoreReloKind.TypeMatches => 1,
        BtfCoreReloKind.TypeSize => CoreSpec.SizeOf(spec.Btf, spec.RootTypeId),
        _ => throw new BpfException(Errno.EOPNOTSUPP, $"unrecognized CO-RE relocation {CoreSpec.KindName(spec.Kind)}"),
    };

    private static ulong EnumValue(BtfCoreReloKind kind, CoreSpec? spec)
    {
        if (kind == BtfCoreReloKind.EnumValueExists)
            return spec is null ? 0UL : 1UL;
        if (spec is null)
            throw new PoisonRequest();
        var e = (BtfEnumType)spec.Btf.GetType(spec.Accessors[0].TypeId);
        return (ulong)e.Values[spec.Accessors[0].Index].Value;
    }

    /// <summary>bpf_core_calc_field_relo: (value, memory size, field type id, validate).</summary>
    private static (ulong Value, uint Size, uint TypeId, bool Validate) Field(string program, int insnIndex, BtfCoreReloKind kind, CoreSpec? spec)
    {
        if (kind == BtfCoreReloKind.FieldExists)
            return (spec is null ? 0UL : 1UL, 0, 0, true);
        if (spec is null)
            throw new PoisonRequest();
        var acc = spec.Accessors[^1];
        if (acc.Name is null)
        {
            // An a[n] step last: only the element's offset and size make sense.
            uint size = CoreSpec.SizeOf(spec.Btf, acc.TypeId);
            return kind switch
            {
                BtfCoreReloKind.FieldByteOffset => (spec.BitOffset / 8, size, acc.TypeId, true),
                BtfCoreReloKind.FieldByteSize => (size, 0, 0, true),
                _ => throw new BpfException(Errno.EINVAL, $"prog '{program}': relo {(uint)kind} at insn #{insnIndex} can't be applied to array access"),
            };
        }

        var composite = (BtfComposite)spec.Btf.GetType(acc.TypeId);
        var member = composite.Members[acc.Index];
        uint fieldType = spec.Btf.SkipTypedefs(member.Type);
        var mt = spec.Btf.GetType(fieldType);
        uint bitOff = spec.BitOffset, bitSize = member.BitfieldSize, byteSize, byteOff;
        bool bitfield = bitSize > 0;
        if (bitfield)
        {
            byteSize = mt switch { BtfInt i => i.Size, BtfEnumType e => e.Size, _ => CoreSpec.SizeOf(spec.Btf, fieldType) };
            if (byteSize == 0)
                throw new BpfException(Errno.EINVAL, $"prog '{program}': relo {(uint)kind} at insn #{insnIndex}: bitfield of a zero-sized type");
            byteOff = bitOff / 8 / byteSize * byteSize;
            // The smallest naturally aligned 1/2/4/8-byte container that covers the bitfield.
            while (bitOff + bitSize - byteOff * 8 > byteSize * 8)
            {
                if (byteSize >= 8)
                    throw new BpfException(Errno.E2BIG, $"prog '{program}': relo {(uint)kind} at insn #{insnIndex} can't be satisfied for bitfield");
                byteSize *= 2;
                byteOff = bitOff / 8 / byteSize * byteSize;
            }
        }
        else
        {
            byteSize = CoreSpec.SizeOf(spec.Btf, fieldType);
            byteOff = bitOff / 8;
            bitSize = byteSize * 8;
        }
        // Bitfield offsets and sizes are the compiler's choice and may differ from ours: only signedness and the right
        // shift are validated for them.
        bool validate = !bitfield;
        return kind switch
        {
            BtfCoreReloKind.FieldByteOffset => (byteOff, bitfield ? 0u : byteSize, bitfield ? 0u : fieldType, validate),
            BtfCoreReloKind.FieldByteSize => (byteSize, 0, 0, validate),
            BtfCoreReloKind.FieldSigned => ((mt is BtfEnumType { IsSigned: true } || mt is BtfInt { IsSigned: true }) ? 1UL : 0UL, 0, 0, true),
            BtfCoreReloKind.FieldLShiftU64 => (64 - (bitOff + bitSize - byteOff * 8), 0, 0, validate),
            BtfCoreReloKind.FieldRShiftU64 => (64 - bitSize, 0, 0, true),
            _ => throw new BpfException(Errno.EOPNOTSUPP, $"unrecognized CO-RE relocation {CoreSpec.KindName(kind)}"),
        };
    }
}
