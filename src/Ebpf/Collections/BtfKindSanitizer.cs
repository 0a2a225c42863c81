using Ebpf.Abi.Profiles;
using Ebpf.Btf;

namespace Ebpf.Collections;

/// <summary>
/// libbpf's bpf_object__sanitize_btf: each BTF kind the kernel cannot parse is rewritten, in place (every type id
/// stays), into something it can, rule by rule in libbpf's order (the first rule that applies to a type wins):
/// <list type="bullet">
/// <item>no DATASEC: VAR → INT of 1 byte (8 bits, no encoding, name kept); DATASEC → STRUCT of the same size whose
/// members are the variables (name, the VAR's id, bit offset = offset · 8), its name with '.' and '?' made '_';</item>
/// <item>no DECL_TAG: DECL_TAG → the same 1-byte INT (name kept);</item>
/// <item>no FLOAT: FLOAT → anonymous empty STRUCT of its size;</item>
/// <item>no TYPE_TAG: TYPE_TAG → CONST (anonymous) of the same type;</item>
/// <item>no ENUM64: ENUM → its signedness kind_flag cleared; ENUM64 → UNION of the same size and member count, each
/// member named as its enumerator, at offset 0, typed by one INT "enum64_placeholder" (1 byte) appended at the end the
/// first time it is needed.</item>
/// </list>
/// The kinds are probed on Linux (libbpf's FEAT_BTF_*); the managed runtime takes them from its profile.
/// </summary>
internal static class BtfKindSanitizer
{
    /// <summary>The INT libbpf appends as every former ENUM64 member's type.</summary>
    public const string Enum64Placeholder = "enum64_placeholder";

    /// <summary>Rewrites <paramref name="types"/> (ids from <paramref name="firstId"/>) for <paramref name="profile"/>'s kernel.</summary>
    public static void Sanitize(List<BtfType> types, uint firstId, KernelProfile profile)
    {
        bool hasDatasec = profile.HasFeature(KernelFeature.BtfDatasec);
        bool hasDeclTag = profile.HasFeature(KernelFeature.BtfDeclTag);
        bool hasFloat = profile.HasFeature(KernelFeature.BtfFloat);
        bool hasTypeTag = profile.HasFeature(KernelFeature.BtfTypeTag);
        bool hasEnum64 = profile.HasFeature(KernelFeature.BtfEnum64);
        if (hasDatasec && hasDeclTag && hasFloat && hasTypeTag && hasEnum64)
            return;
        uint placeholder = 0;
        // The placeholder appended below is an INT, which no rule touches: iterating to the growing end is harmless.
        for (int i = 0; i < types.Count; i++)
        {
            var t = types[i];
            if (!hasDatasec && t is BtfVar || !hasDeclTag && t is BtfDeclTag)
                types[i] = new BtfInt(t.Name, 1, BtfIntEncoding.None, 0, 8);
            else if (!hasDatasec && t is BtfDatasec ds)
                types[i] = DatasecAsStruct(ds, types, firstId);
            else if (!hasFloat && t is BtfFloat fl)
                types[i] = new BtfStruct("", fl.Size, []);
            else if (!hasTypeTag && t is BtfTypeTag tt)
                types[i] = new BtfConst(tt.Type);
            else if (!hasEnum64 && t is BtfEnum { IsSigned: true } e)
                types[i] = new BtfEnum(e.Name, e.Size, e.Values, isSigned: false);
            else if (!hasEnum64 && t is BtfEnum64 e64)
            {
                if (placeholder == 0)
                {
                    types.Add(new BtfInt(Enum64Placeholder, 1, BtfIntEncoding.None, 0, 8));
                    placeholder = firstId + (uint)types.Count - 1;
                }
                types[i] = new BtfUnion(e64.Name, e64.Size, e64.Values.Select(v => new BtfMember(v.Name, placeholder, 0)).ToList());
            }
        }
    }

    private static BtfStruct DatasecAsStruct(BtfDatasec ds, List<BtfType> types, uint firstId)
    {
        string name = ds.Name.Replace('.', '_').Replace('?', '_');
        var members = ds.Variables.Select(v =>
        {
            // The member keeps the variable's name (the VAR itself has become, or will become, a 1-byte INT).
            long index = (long)v.Type - firstId;
            string varName = index >= 0 && index < types.Count ? types[(int)index].Name : "";
            return new BtfMember(varName, v.Type, v.Offset * 8);
        }).ToList();
        return new BtfStruct(name, ds.Size, members);
    }
}
