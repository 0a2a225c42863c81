using System.Buffers.Binary;
using Ebpf.Btf;
using Ebpf.Loading;

namespace Ebpf.Tests.CoRe.Scenarios;

/// <summary>
/// The expected output of a scenario: the committed .out blob, except for type_id, whose values are type ids that
/// only the BTFs themselves can tell (as upstream's setup hook computes them from the objects).
/// </summary>
public static class ScenarioExpectations
{
    public static byte[] Output(CoreScenario s, string targetBtf) =>
        s.Object == "type_id" ? TypeIds(s.ObjectPath, targetBtf) : File.ReadAllBytes(s.ExpectedPath);

    /// <summary>
    /// type_id's output: the local ids of its types (in the program's BTF) and then their ids in the target (0 when
    /// the target has no type of that essential name and kind). The order is the program's (see type_id.bpf.c).
    /// </summary>
    public static byte[] TypeIds(string objectPath, string targetBtf)
    {
        var local = ObjectSpec.Load(objectPath).Btf!;
        var target = BtfElf.LoadAny(targetBtf);
        var ids = new List<uint>();
        foreach (var (name, kind) in TypeIdTypes)
            ids.Add(Find(local, name, kind, essential: false));
        foreach (var (name, kind) in TypeIdTypes)
            ids.Add(Find(target, name, kind, essential: true));
        var bytes = new byte[ids.Count * 4];
        for (int i = 0; i < ids.Count; i++)
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(i * 4), ids[i]);
        return bytes;
    }

    /// <summary>The types type_id.bpf.c asks about, in output order.</summary>
    public static readonly (string Name, BtfKind Kind)[] TypeIdTypes =
    [
        ("a_struct", BtfKind.Struct), ("a_union", BtfKind.Union), ("an_enum", BtfKind.Enum),
        ("int_typedef", BtfKind.Typedef), ("func_proto_typedef", BtfKind.Typedef), ("arr_typedef", BtfKind.Typedef),
    ];

    private static uint Find(Ebpf.Btf.BtfSpec btf, string name, BtfKind kind, bool essential)
    {
        foreach (var t in btf.AllTypes)
            if (t.Kind == kind && (essential ? Ebpf.CoRe.CoreNames.Essential(t.Name) : t.Name) == name)
                return t.Id;
        return 0;
    }
}
