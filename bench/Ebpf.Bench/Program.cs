using Ebpf.Bench;

var suites = typeof(IBenchSuite).Assembly.GetTypes()
    .Where(t => typeof(IBenchSuite).IsAssignableFrom(t) && !t.IsAbstract && !t.IsInterface)
    .Select(t => (IBenchSuite)Activator.CreateInstance(t)!)
    .OrderBy(s => s.Name, StringComparer.Ordinal)
    .ToList();

var suite = args.Length > 0 ? suites.FirstOrDefault(s => s.Name == args[0]) : null;
if (suite is null)
{
    Console.Error.WriteLine("usage: dotnet run -c Release --project bench/Ebpf.Bench -- <suite> [args]");
    foreach (var s in suites)
        Console.Error.WriteLine($"  {s.Name,-12} {s.Description}");
    return 2;
}
return suite.Run(args[1..]);
