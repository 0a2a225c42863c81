// Ebpf.NET demo: the same clang-built objects (examples/*.bpf.o) through every layer of the library.
//   1. the interpreter runs a plain BPF function on a buffer;
//   2. the verifier checks an XDP program the way the kernel would;
//   3. the managed runtime loads the object (maps, .rodata edited before load) and test-runs packets;
//   4. where bpf(2) is available (Linux, root), the real kernel runs the same object for comparison;
//   5. a live program's check() is replaced by an extension and observed by fexit, through a pinned link;
//   6. three XDP programs share one device through libxdp's dispatcher; one is replaced while traffic flows;
//   7. a CO-RE program is relocated against two kernels' BTF, with its relocation table per kernel.
using System.Buffers.Binary;
using System.Text;
using Ebpf;
using Ebpf.Collections;
using Ebpf.Demo;
using Ebpf.Execution;
using Ebpf.Linux;
using Ebpf.Loading;
using Ebpf.Runtime;
using Ebpf.Verification;

string examples = FindExamples();
try
{
    RunInterpreter(Path.Combine(examples, "fnv1a.bpf.o"));
    var spec = ObjectSpec.Load(Path.Combine(examples, "packet_stats.bpf.o"));
    SetBlockedPort(spec, 2323);
    Verify(spec);
    var managed = RunManaged(spec);
    RunKernel(spec, managed);
    LiveReplace.Run(examples);
    XdpMultiprogDemo.Run(examples, Console.Out);
    CoreRelocations.Run(examples);
    return 0;
}
catch (BpfException e)
{
    Console.Error.WriteLine($"demo failed: {e.Message} ({e.Errno})");
    if (e.Log is not null)
        Console.Error.WriteLine(e.Log);
    return 1;
}

static unsafe void RunInterpreter(string objectPath)
{
    Console.WriteLine("== 1. interpreter: fnv1a over a buffer (checked mode)");
    var program = ObjectSpec.Load(objectPath).Programs.Single();
    var interpreter = Interpreter.Load(program.Instructions, new InterpreterOptions { Name = program.Name, Mode = ExecutionMode.Checked });
    byte[] input = Encoding.ASCII.GetBytes("hello, world");
    fixed (byte* data = input)
    {
        var request = new ExecutionRequest { R1 = (ulong)data, R2 = (ulong)input.Length }
            .AddRegion(new MemoryRegion((nuint)data, (nuint)input.Length, MemoryAccess.Read, "input"));
        ulong r0 = interpreter.Run(request);
        Console.WriteLine($"   fnv1a(\"hello, world\") = 0x{r0:x16} (expected 0x{Fnv1a(input):x16})");
    }
}

static void SetBlockedPort(ObjectSpec spec, ushort port)
{
    // `const volatile __u16 blocked_port` is the only variable in .rodata: specs are plain data, so the
    // host edits the initial value before loading, exactly as with a libbpf skeleton's rodata.
    var rodata = spec.Maps.Single(m => m.IsGlobalData && m.SectionName == ".rodata");
    BinaryPrimitives.WriteUInt16LittleEndian(rodata.InitialValue!, port);
    Console.WriteLine($"\n== .rodata: blocked_port set to {port} before loading");
}

static void Verify(ObjectSpec spec)
{
    Console.WriteLine("\n== 2. verifier: packet_stats as the kernel would check it");
    var program = spec.FindProgram("packet_stats")!;
    var result = Verifier.Verify(ProgramSpecInput.Create(spec, program, logLevel: 1));
    Console.WriteLine($"   {(result.Accepted ? "accepted" : "rejected: " + result.Error)}; {result.StatsLine}");
}

static List<(string Name, uint Action)> RunManaged(ObjectSpec spec)
{
    Console.WriteLine("\n== 3. managed runtime: load, test_run, read the map");
    var runtime = new BpfRuntime();
    var verdicts = RunPackets(runtime.Backend, spec, print: true);
    return verdicts;
}

// The same code for both backends: one collection type, one program type, one map type.
static List<(string Name, uint Action)> RunPackets(IBpfBackend backend, ObjectSpec spec, bool print)
{
    using var collection = BpfCollection.Load(backend, spec);
    var program = collection.Programs["packet_stats"];
    var verdicts = new List<(string, uint)>();
    foreach (var (name, frame) in Packets.Sample())
    {
        var result = program.TestRun(new TestRunOptions { DataIn = frame });
        if (print)
            Console.WriteLine($"   {name,-10} -> {Packets.XdpAction(result.ReturnValue)}");
        verdicts.Add((name, result.ReturnValue));
    }
    if (print)
    {
        var counts = collection.Maps["proto_counts"];
        foreach (var key in counts.Keys().OrderBy(k => BinaryPrimitives.ReadUInt32LittleEndian(k)))
            Console.WriteLine($"   proto_counts[{BinaryPrimitives.ReadUInt32LittleEndian(key)}] = {BinaryPrimitives.ReadUInt64LittleEndian(counts.Lookup(key))}");
    }
    return verdicts;
}

static void RunKernel(ObjectSpec spec, List<(string Name, uint Action)> managed)
{
    Console.WriteLine("\n== 4. Linux kernel: the same object through bpf(2)");
    if (!LinuxKernel.IsAvailable)
    {
        Console.WriteLine($"   skipped: {LinuxKernel.UnavailableReason}");
        return;
    }
    int agree = 0;
    foreach (var (name, action) in RunPackets(LinuxKernel.Backend, spec, print: false))
    {
        bool same = managed.Single(m => m.Name == name).Action == action;
        agree += same ? 1 : 0;
        Console.WriteLine($"   {name,-10} -> {Packets.XdpAction(action)}{(same ? "" : "  (differs from the managed runtime!)")}");
    }
    Console.WriteLine($"   kernel and managed runtime agree on {agree}/{managed.Count} packets");
}

static ulong Fnv1a(ReadOnlySpan<byte> bytes)
{
    ulong hash = 0xcbf29ce484222325UL;
    foreach (byte b in bytes)
        hash = (hash ^ b) * 0x100000001b3UL;
    return hash;
}

static string FindExamples()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        string candidate = Path.Combine(dir.FullName, "examples");
        if (File.Exists(Path.Combine(candidate, "packet_stats.bpf.o")))
            return candidate;
    }
    throw new BpfException(Errno.ENOENT, "cannot find examples/packet_stats.bpf.o above " + AppContext.BaseDirectory);
}
