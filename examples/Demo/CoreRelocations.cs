using Ebpf.Btf;
using Ebpf.Collections;
using Ebpf.CoRe;
using Ebpf.Loading;
using Ebpf.Runtime;

namespace Ebpf.Demo;

/// <summary>
/// Step 7 of the demo: one CO-RE object (task_fields.bpf.o reads task_struct's layout) loaded against two kernels'
/// BTF — this machine's vmlinux and a small "other kernel" whose task_struct is laid out differently and has no tgid —
/// with the relocation table per kernel (kind, access string, local type, result) and what the programs return.
/// </summary>
internal static class CoreRelocations
{
    public static void Run(string examples)
    {
        Console.WriteLine("\n== 7. CO-RE: one object, two kernels' BTF");
        string path = Path.Combine(examples, "task_fields.bpf.o");
        var spec = ObjectSpec.Load(path);
        var kernels = new List<CoreTargetBtf>();
        if (File.Exists("/sys/kernel/btf/vmlinux"))
            kernels.Add(new CoreTargetBtf("vmlinux", BtfSpec.LoadVmlinux()));
        else
            Console.WriteLine("   (no /sys/kernel/btf/vmlinux here: only the other kernel)");
        kernels.Add(new CoreTargetBtf("other-kernel", OtherKernel()));

        Console.WriteLine($"   {"program",-12} {"kind",-16} {"access",-7} {"local type",-20} " + string.Join(" ", kernels.Select(k => $"{k.Name,-28}")));
        var relocators = kernels.Select(k => new CoreRelocator(spec.Btf!, CoreTargets.Custom(k.Name, k.Btf))).ToList();
        foreach (var program in spec.Programs)
        {
            for (int i = 0; i < program.CoreRelocations.Count; i++)
            {
                var r = program.CoreRelocations[i];
                var local = spec.Btf!.GetType(r.TypeId);
                var relo = new CoreRelocation(r.InstructionIndex, r.TypeId, r.AccessString, r.Kind);
                var results = relocators.Select(rel => Outcome(rel, program.Name, i, relo));
                Console.WriteLine($"   {program.Name,-12} {r.Kind,-16} {r.AccessString,-7} {"struct " + local.Name,-20} " +
                    string.Join(" ", results.Select(s => $"{s,-28}")));
            }
        }
        foreach (var kernel in kernels)
        {
            // The managed runtime with this kernel's BTF as its own: the loader relocates, the programs run.
            var runtime = new BpfRuntime { KernelBtf = CoreTargets.Custom(kernel.Name, kernel.Btf) };
            using var collection = runtime.Load(spec);
            var values = collection.Programs.Select(p => $"{p.Key} = {p.Value.TestRun(new TestRunOptions { DataIn = new byte[64] }).ReturnValue}");
            Console.WriteLine($"   loaded against {kernel.Name}: {string.Join(", ", values)}");
        }
    }

    private static string Outcome(CoreRelocator relocator, string program, int index, CoreRelocation relo)
    {
        try
        {
            var res = relocator.Resolve(program, index, relo);
            return res.Poison ? "poisoned (no such field)" : $"{res.New} (compiled: {res.Original})";
        }
        catch (BpfException e)
        {
            return $"error {e.Errno}";
        }
    }

    /// <summary>An older kernel's task_struct: comm first, pid later, no tgid (built with the public BTF types).</summary>
    private static BtfSpec OtherKernel()
    {
        var types = new List<BtfType>
        {
            new BtfInt("int", 4, BtfIntEncoding.Signed, 0, 32),                 // [1]
            new BtfInt("char", 1, BtfIntEncoding.Signed, 0, 8),                 // [2]
            new BtfArray(2, 1, 16),                                             // [3] char[16]
            new BtfStruct("task_struct", 64, [new BtfMember("state", 1, 0), new BtfMember("comm", 3, 64), new BtfMember("pid", 1, 256)]),
        };
        return BtfSpec.Parse(BtfWriter.Write(types));
    }
}
