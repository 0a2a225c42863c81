Console.WriteLine("Ebpf.NET demo: under construction");
