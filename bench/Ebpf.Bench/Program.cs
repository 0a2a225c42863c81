// Benchmarks live here; each suite is a verb (see BenchCatalog).
Console.Error.WriteLine("usage: dotnet run -c Release --project bench/Ebpf.Bench -- <suite>");
return 2;
