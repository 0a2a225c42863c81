using System.Globalization;
using Ebpf.Abi;
using Ebpf.Fuzz;

// Differential fuzzer: our verifier and runtime against the live kernel.
//   dotnet run -c Release --project tools/Ebpf.Fuzz -- --seed 1 --count 20000 --type xdp --out /tmp/fuzz [--seeds DIR] [--verdicts-only] [--minimise N]
// Exit code 3 when a false accept or a checked-mode fault was found (reproducers in --out and on stdout).
//   dotnet run -c Release --project tools/Ebpf.Fuzz -- --cli-verify --seed 1 --count 2000 [--type ...] [--out DIR]
//     `prog verify` robustness (no kernel needed): exit code 3 when any step threw, printed "internal error" or hung.
//   dotnet run -c Release --project tools/Ebpf.Fuzz -- --write-elf REPRODUCER.txt OUT.o [--type xdp]
//     a reproducer's instruction words (one hex word a line, '#' comments) as the object --cli-verify would write.
if (args.Length >= 3 && args[0] == "--write-elf")
{
    var words = File.ReadAllLines(args[1]).Select(l => l.Trim())
        .Where(l => l.Length == 16 && l.All(char.IsAsciiHexDigit))
        .Select(l => Ebpf.Isa.Instruction.FromRaw(ulong.Parse(l, NumberStyles.HexNumber, CultureInfo.InvariantCulture))).ToArray();
    var elfType = args.Length >= 5 && args[3] == "--type" && args[4] == "xdp" ? ProgramType.Xdp : ProgramType.SocketFilter;
    File.WriteAllBytes(args[2], MiniElf.Write(new FuzzProgram(elfType, words, "reproducer", false)));
    return 0;
}
var options = new FuzzOptions { SeedDirectory = DefaultSeeds() };
bool cliVerify = false;
for (int i = 0; i < args.Length; i++)
{
    string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "--seed": options = options with { Seed = int.Parse(Value(), CultureInfo.InvariantCulture) }; break;
        case "--count": options = options with { Count = int.Parse(Value(), CultureInfo.InvariantCulture) }; break;
        case "--type":
            string t = Value();
            options = options with { Type = t switch { "xdp" => ProgramType.Xdp, "socket_filter" or "socket" => ProgramType.SocketFilter, "both" => null, _ => throw new ArgumentException($"unknown program type {t} (socket_filter, xdp, both)") } };
            break;
        case "--out": options = options with { OutputDirectory = Value() }; break;
        case "--seeds": options = options with { SeedDirectory = Value() }; break;
        case "--verdicts-only": options = options with { VerdictsOnly = true }; break;
        case "--minimise": options = options with { MaxMinimisations = int.Parse(Value(), CultureInfo.InvariantCulture) }; break;
        case "--cli-verify": cliVerify = true; break;
        default:
            Console.Error.WriteLine("usage: Ebpf.Fuzz [--seed N] [--count N] [--type socket_filter|xdp|both] [--out DIR] [--seeds DIR] [--verdicts-only] [--minimise N] [--cli-verify]");
            return 2;
    }
}
if (cliVerify)
{
    var cli = CliVerifyFuzz.Run(new CliFuzzOptions
    {
        Seed = options.Seed, Count = options.Count, Type = options.Type, SeedDirectory = options.SeedDirectory,
        OutputDirectory = options.OutputDirectory,
    }, reproducer => Console.Out.WriteLine(reproducer));
    foreach (var line in cli.Report())
        Console.WriteLine(line);
    return cli.FindingCount > 0 || cli.Hung ? 3 : 0;
}
if (KernelBackend.Unavailable() is { } why)
{
    Console.Error.WriteLine(why);
    return 1;
}
var summary = FuzzRun.Run(options, reproducer => Console.Out.WriteLine(reproducer));
foreach (var line in summary.Report())
    Console.WriteLine(line);
return summary.Count(FindingKind.FalseAccept) + summary.Count(FindingKind.CheckedFault) + summary.Count(FindingKind.EngineMismatch) > 0 ? 3 : 0;

// The conformance suite next to the repository, when present.
static string? DefaultSeeds()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        string candidate = Path.Combine(dir.FullName, "..", "shared", "conformance", "tests");
        if (Directory.Exists(candidate))
            return Path.GetFullPath(candidate);
    }
    return null;
}
