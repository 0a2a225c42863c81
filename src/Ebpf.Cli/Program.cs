using Ebpf.Cli;

return EbpfCli.Run(args, Console.Out, Console.Error);
