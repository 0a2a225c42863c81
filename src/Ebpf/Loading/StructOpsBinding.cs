using Ebpf.Btf;

namespace Ebpf.Loading;

/// <summary>One function-pointer slot of a bound struct_ops value: where the program's fd (kernel) goes.</summary>
/// <param name="Program">The program's name.</param>
/// <param name="KernelMemberIndex">The member's index in the kernel struct: the program's expected_attach_type.</param>
/// <param name="ValueOffset">The slot's byte offset in the map value (the bpf_struct_ops_NAME wrapper).</param>
internal sealed record StructOpsSlot(string Program, int KernelMemberIndex, int ValueOffset);

/// <summary>
/// A struct_ops map bound to a kernel's BTF, as libbpf's bpf_map__init_kern_struct_ops does it: the kernel struct
/// (attach_btf_id of its programs) and its wrapper <c>bpf_struct_ops_NAME</c> (the map's btf_vmlinux_value_type_id
/// and value size), the value image with every data member copied by name into the wrapper's <c>data</c>, and the
/// function-pointer slots the loader fills with program fds.
/// </summary>
internal sealed record StructOpsBinding(
    string MapName, uint KernelTypeId, string KernelTypeName, uint ValueTypeId, uint ValueSize, byte[] Image,
    IReadOnlyList<StructOpsSlot> Slots, IReadOnlyList<string> Warnings)
{
    /// <summary>libbpf's STRUCT_OPS_VALUE_PREFIX: the kernel's wrapper type of a struct_ops struct.</summary>
    public const string ValuePrefix = "bpf_struct_ops_";

    /// <summary>Binds <paramref name="map"/> of <paramref name="obj"/> to <paramref name="kernel"/>; libbpf's errors as
    /// BpfException (ENOTSUP for what the kernel lacks, EINVAL for what the object gets wrong).</summary>
    public static StructOpsBinding Bind(ObjectSpec obj, MapSpec map, BtfSpec kernel)
    {
        var st = map.StructOps ?? throw new ArgumentException($"map {map.Name} is not a struct_ops map", nameof(map));
        var btf = obj.Btf!;
        var local = (BtfStruct)btf.GetType(st.LocalTypeId);
        // find_struct_ops_kern_types
        uint kernId = kernel.FindAllByName(st.TypeName, BtfKind.Struct).FirstOrDefault();
        if (kernId == 0)
            throw new BpfException(Errno.EOPNOTSUPP, $"struct_ops init_kern: struct {st.TypeName} is not found in kernel BTF");
        uint valueId = kernel.FindAllByName(ValuePrefix + st.TypeName, BtfKind.Struct).FirstOrDefault();
        if (valueId == 0)
            throw new BpfException(Errno.EOPNOTSUPP, $"struct_ops init_kern: struct {ValuePrefix}{st.TypeName} is not found in kernel BTF");
        var kern = (BtfStruct)kernel.GetType(kernId);
        var value = (BtfStruct)kernel.GetType(valueId);
        var dataMember = value.Members.FirstOrDefault(m => kernel.SkipModifiers(m.Type) == kernId);
        if (dataMember.Name is null)
            throw new BpfException(Errno.EOPNOTSUPP, $"struct_ops init_kern: struct {st.TypeName} data is not found in struct {ValuePrefix}{st.TypeName}");
        int dataOff = (int)(dataMember.BitOffset / 8);
        var image = new byte[value.Size];
        var data = map.InitialValue ?? new byte[local.Size];
        var slots = new List<StructOpsSlot>();
        var warnings = new List<string>();
        for (int i = 0; i < local.Members.Count; i++)
        {
            var member = local.Members[i];
            int moff = (int)(member.BitOffset / 8);
            uint msizeLocal = btf.SizeOf(member.Type);
            var mdata = moff + msizeLocal <= data.Length ? data.AsSpan(moff, (int)msizeLocal) : [];
            st.Programs.TryGetValue(i, out var prog);
            int kernIndex = -1;
            for (int k = 0; k < kern.Members.Count; k++)
                if (kern.Members[k].Name == member.Name) { kernIndex = k; break; }
            if (kernIndex < 0)
            {
                if (prog is null && !mdata.ContainsAnyExcept((byte)0))
                {
                    warnings.Add($"struct_ops init_kern {map.Name}: Ignore zero-valued member {member.Name} absent in kernel BTF");
                    continue;
                }
                throw new BpfException(Errno.EOPNOTSUPP, $"struct_ops init_kern {map.Name}: Cannot find member {member.Name} in kernel BTF");
            }
            var kmember = kern.Members[kernIndex];
            if (member.BitfieldSize != 0 || kmember.BitfieldSize != 0)
                throw new BpfException(Errno.EOPNOTSUPP, $"struct_ops init_kern {map.Name}: bitfield {member.Name} is not supported");
            int kmoff = (int)(kmember.BitOffset / 8);
            var mtype = btf.ResolveType(member.Type);
            var ktype = kernel.ResolveType(kmember.Type);
            if (mtype.Kind != ktype.Kind)
                throw new BpfException(Errno.EOPNOTSUPP,
                    $"struct_ops init_kern {map.Name}: Unmatched member type {member.Name} {(int)mtype.Kind} != {(int)ktype.Kind}(kernel)");
            if (mtype is BtfPtr)
            {
                if (prog is null)
                    continue;
                if (kernel.ResolveType(((BtfPtr)ktype).Type) is not BtfFuncProto)
                    throw new BpfException(Errno.EOPNOTSUPP, $"struct_ops init_kern {map.Name}: kernel member {member.Name} is not a func ptr");
                slots.Add(new StructOpsSlot(prog, kernIndex, dataOff + kmoff));
                continue;
            }
            uint kmsize = kernel.SizeOf(kmember.Type);
            if (msizeLocal != kmsize)
                throw new BpfException(Errno.EOPNOTSUPP,
                    $"struct_ops init_kern {map.Name}: Error in size of member {member.Name}: {msizeLocal} != {kmsize}(kernel)");
            mdata.CopyTo(image.AsSpan(dataOff + kmoff));
        }
        return new StructOpsBinding(map.Name, kernId, st.TypeName, valueId, value.Size, image, slots, warnings);
    }

    /// <summary>
    /// Every struct_ops map of <paramref name="obj"/> bound to <paramref name="kernel"/>, and each referenced program's
    /// (attach_btf_id, expected_attach_type): libbpf's rule that a program shared by several maps must sit in the same
    /// member of the same struct ("invalid reuse of prog").
    /// </summary>
    public static (IReadOnlyList<StructOpsBinding> Maps, IReadOnlyDictionary<string, (uint AttachBtfId, int MemberIndex)> Programs)
        BindAll(ObjectSpec obj, BtfSpec kernel, Func<MapSpec, bool>? include = null)
    {
        var maps = new List<StructOpsBinding>();
        var programs = new Dictionary<string, (uint, int)>(StringComparer.Ordinal);
        foreach (var ms in obj.Maps.Where(m => m.StructOps is not null && (include?.Invoke(m) ?? true)))
        {
            var binding = Bind(obj, ms, kernel);
            maps.Add(binding);
            foreach (var slot in binding.Slots)
            {
                if (programs.TryGetValue(slot.Program, out var seen))
                {
                    var member = ((BtfStruct)kernel.GetType(binding.KernelTypeId)).Members[slot.KernelMemberIndex].Name;
                    if (seen.Item1 != binding.KernelTypeId)
                        throw new BpfException(Errno.EINVAL,
                            $"struct_ops init_kern {ms.Name} func ptr {member}: invalid reuse of prog {slot.Program} in sec {ms.SectionName} with type {ms.StructOps!.LocalTypeId}: attach_btf_id {seen.Item1} != kern_type_id {binding.KernelTypeId}");
                    if (seen.Item2 != slot.KernelMemberIndex)
                        throw new BpfException(Errno.EINVAL,
                            $"struct_ops init_kern {ms.Name} func ptr {member}: invalid reuse of prog {slot.Program} in sec {ms.SectionName} with type {ms.StructOps!.LocalTypeId}: expected_attach_type {seen.Item2} != kern_member_idx {slot.KernelMemberIndex}");
                    continue;
                }
                programs[slot.Program] = (binding.KernelTypeId, slot.KernelMemberIndex);
            }
        }
        return (maps, programs);
    }
}
