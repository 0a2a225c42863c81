using Ebpf.Abi;
using Ebpf.Execution;
using Ebpf.Isa;
using Ebpf.Runtime.Objects;

namespace Ebpf.Runtime;

/// <summary>
/// Turns a loaded program's instructions into something the interpreter runs: map references
/// (lddw src=1 map id, src=2 map id + value offset, src=5 map index, src=6 map index + value offset)
/// become 64-bit immediates — the map's handle (a <see cref="Maps.MapHandleTable"/> entry) or the address of its value — exactly where
/// the kernel's resolve_pseudo_ldimm64 puts struct bpf_map * and value addresses; then the
/// interpreter is created with the runtime's helper table.
/// </summary>
internal static unsafe class ProgramPreparation
{
    /// <summary>
    /// The instructions the engines run: the verifier's translated program (dead code removed, ctx accesses
    /// converted to this runtime's context layout where the verifier proved a ctx pointer), with map references
    /// resolved. A program loaded unverified has no proof and runs as written, in the checked interpreter, which
    /// resolves its ctx pointer fields by address (Interpreter's context field table).
    /// </summary>
    /// <param name="runtime">The runtime whose maps the references resolve to.</param>
    /// <param name="program">The program being prepared.</param>
    /// <param name="verified">The verifier's accepted program (null: loaded unverified, run as written).</param>
    /// <param name="indexed">The maps of the program's fd_array, for BPF_PSEUDO_MAP_IDX references.</param>
    /// <param name="mapPointerLoads">Receives the lddws of the returned instructions that load a map pointer.</param>
    public static Instruction[] Translated(BpfRuntime runtime, ProgramObject program, Verification.VerifiedProgram? verified, IReadOnlyList<MapObject> indexed,
        out HashSet<int> mapPointerLoads)
    {
        // The kernel resolves (and holds) every map the program names before verification, dead code included.
        var source = ResolveMapReferences(runtime, program, program.Instructions, indexed, out mapPointerLoads);
        if (verified is null)
            return source;
        return ResolveMapReferences(runtime, program, [.. verified.Instructions], indexed, out mapPointerLoads);
    }

    /// <summary>For a program without a translation: its type's pointer fields, which the checked interpreter
    /// resolves by address; null for a translated program or a type whose ctx has no pointer fields.</summary>
    public static ContextFieldMap? UntranslatedContextFields(ProgramObject program)
    {
        if (program.TypeInfo.PointerFields.Count == 0)
            return null;
        return new ContextFieldMap([.. program.TypeInfo.PointerFields.Select(f => new ContextPointerSlot(f.Name, f.UserOffset, f.InternalOffset))]);
    }

    /// <summary>
    /// Bytes of the ctx block a checked run may touch: the whole internal block for a translated program (its
    /// converted loads read the pointer slots); only the user-visible struct for an untranslated one, whose
    /// pointer fields are resolved by address and whose slots beyond the struct do not exist in the kernel's layout.
    /// </summary>
    public static int ContextRegionSize(ProgramObject program) =>
        program.Executable is PreparedProgram { Translated: true } || program.TypeInfo.PointerFields.Count == 0
            ? program.TypeInfo.InternalContextSize
            : program.TypeInfo.UserContextSize;

    /// <summary>Rewrites every map-referencing ld_imm64 (by fd, by index, map value) to the runtime's map handle or
    /// value address.</summary>
    /// <param name="runtime">The runtime whose maps the references resolve to.</param>
    /// <param name="program">The program the instructions belong to (for its messages).</param>
    /// <param name="insns">The instructions to resolve; they are copied, not changed.</param>
    /// <param name="indexed">The maps of the program's fd_array, for BPF_PSEUDO_MAP_IDX references.</param>
    /// <param name="mapPointerLoads">Receives the indexes of the lddws that now load a map pointer (src 1 and 5):
    /// the only constants the JIT may bind a map helper call to.</param>
    public static Instruction[] ResolveMapReferences(BpfRuntime runtime, ProgramObject program, Instruction[] insns, IReadOnlyList<MapObject> indexed,
        out HashSet<int> mapPointerLoads)
    {
        mapPointerLoads = [];
        var output = (Instruction[])insns.Clone();
        for (int pc = 0; pc < output.Length; pc++)
        {
            var insn = output[pc];
            if (!insn.IsLoadImm64)
                continue;
            if (pc + 1 >= output.Length)
                throw new BpfException(Errno.EINVAL, $"program {program.Name}: insn {pc}: lddw without its second half");
            byte src = insn.Src;
            if (src is not (1 or 2 or 5 or 6))
            {
                pc++;
                continue;
            }
            MapObject map;
            if (src is 5 or 6)
            {
                if ((uint)insn.Imm >= (uint)indexed.Count)
                    throw new BpfException(Errno.EINVAL, $"program {program.Name}: insn {pc}: map index {insn.Imm} out of range ({indexed.Count} maps)");
                map = indexed[insn.Imm];
            }
            else
            {
                map = runtime.FindObject(ObjectKind.Map, (uint)insn.Imm) as MapObject
                    ?? throw new BpfException(Errno.EBADF, $"program {program.Name}: insn {pc}: no map with id {insn.Imm}");
                program.BindMap(map);
            }
            ulong value;
            if (src is 1 or 5)
            {
                value = (ulong)map.NativeHandle;
                mapPointerLoads.Add(pc);
            }
            else
            {
                uint offset = (uint)output[pc + 1].Imm;
                value = ValueAddress(map, offset, program.Name, pc);
            }
            output[pc] = new Instruction(insn.Opcode, insn.Dst, 0, insn.Offset, (int)(uint)value);
            output[pc + 1] = new Instruction(output[pc + 1].Opcode, 0, 0, 0, (int)(uint)(value >> 32));
            pc++;
        }
        return output;
    }

    /// <summary>map_direct_value_addr: arrays only, offset inside the first value.</summary>
    private static ulong ValueAddress(MapObject map, uint offset, string name, int pc)
    {
        if (map.Maps is not Maps.ArrayMap array || map.Type != Abi.MapType.Array)
            throw new BpfException(Errno.EINVAL, $"program {name}: insn {pc}: direct value access needs an array map ('{map.Name}' is {map.Type})");
        if (offset >= map.Definition.ValueSize)
            throw new BpfException(Errno.EINVAL, $"program {name}: insn {pc}: value offset {offset} >= value_size {map.Definition.ValueSize} of '{map.Name}'");
        uint key = 0;
        return (ulong)array.ProgramLookup((byte*)&key, 0) + offset;
    }

    public static HelperTable BuildHelperTable(BpfRuntime runtime)
    {
        var table = new HelperTable { Specializer = Helpers.MapCallSpecializer.For(runtime.Helpers) };
        foreach (var entry in runtime.Helpers.All)
        {
            var f = entry.Function;
            string name = "bpf_" + entry.Name;
            if (f.Target is null && f.Method.IsStatic && f.GetInvocationList().Length == 1)
            {
                // A static method (the built-ins): called through a function pointer, no delegate hop.
                unsafe
                {
                    table.Register(entry.Id, (delegate*<ulong, ulong, ulong, ulong, ulong, ulong>)f.Method.MethodHandle.GetFunctionPointer(), name);
                }
            }
            else
            {
                table.Register(entry.Id, f, name);
            }
        }
        return table;
    }
}

/// <summary>
/// The executable form of a program: the interpreter in the chosen mode, a checked one (for entry
/// through a tail call from a checked program: a tail call continues in the caller's mode), and the
/// memory it may always touch.
/// </summary>
internal sealed class PreparedProgram(Interpreter interpreter, Func<Interpreter> checkedFactory, MemoryRegion[] staticRegions, bool translated)
{
    /// <summary>The instructions are the verifier's translation (ctx loads address the internal layout); false for a
    /// program run as written (unverified, or the test oracle), whose ctx pointer fields are resolved by address.</summary>
    public bool Translated { get; } = translated;

    private Interpreter? _checked = interpreter.Mode == ExecutionMode.Checked ? interpreter : null;

    /// <summary>The interpreter in <see cref="ProgramObject.ExecutionMode"/>.</summary>
    public Interpreter Interpreter { get; } = interpreter;

    /// <summary>The same program in the checked interpreter (built on first use when the program runs unchecked).</summary>
    public Interpreter Checked => _checked ??= checkedFactory();

    /// <summary>The unchecked interpreter, or null when the program must never run without checks.</summary>
    public Interpreter? Unchecked => Interpreter.Mode == ExecutionMode.Unchecked ? Interpreter : null;

    /// <summary>Global data (array values) the program addresses directly.</summary>
    public MemoryRegion[] StaticRegions { get; } = staticRegions;
}
