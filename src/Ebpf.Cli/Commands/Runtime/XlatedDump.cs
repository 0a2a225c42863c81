using System.Globalization;
using Ebpf.Abi.Helpers;
using Ebpf.Isa;

namespace Ebpf.Cli.Commands.Runtime;

/// <summary>
/// `prog dump xlated` for both backends: bpftool prints the kernel's own disassembly
/// (<c>0: (b7) r0 = 2</c>, helper calls by name), so both backends share this one formatter.
/// </summary>
internal static class XlatedDump
{
    public static void Write(TextWriter output, string name, ReadOnlySpan<Instruction> insns, bool json)
    {
        if (json)
        {
            var items = new List<Dictionary<string, object>>();
            for (int pc = 0; pc < insns.Length; pc++)
            {
                items.Add(new Dictionary<string, object>
                {
                    ["pc"] = pc,
                    ["raw"] = insns[pc].ToRaw().ToString("x16", CultureInfo.InvariantCulture),
                    ["disasm"] = Format(insns, pc),
                });
                if (insns[pc].IsLoadImm64 && pc + 1 < insns.Length)
                    pc++;
            }
            RuntimeJson.Write(output, items);
            return;
        }
        output.WriteLine($"int {name}(void * ctx):");
        for (int pc = 0; pc < insns.Length; pc++)
        {
            output.WriteLine($"{pc,4}: {Format(insns, pc)}");
            if (insns[pc].IsLoadImm64 && pc + 1 < insns.Length)
                pc++;
        }
    }

    private static string Format(ReadOnlySpan<Instruction> insns, int pc)
    {
        // A truncated trailing lddw cannot be formatted as a pair; show it as the kernel's BUG form would.
        if (insns[pc].IsLoadImm64 && pc + 1 >= insns.Length)
            return $"({insns[pc].Opcode:x2}) BUG_ld_{insns[pc].Opcode:x2}";
        // bpftool's print_imm: the kernel's dump names maps by id (bpf_insn_prepare_dump), and so does the runtime's.
        var insn = insns[pc];
        if (insn.IsLoadImm64)
        {
            int next = insns[pc + 1].Imm;
            string? named = insn.Src switch
            {
                (byte)LoadImm64Source.MapFd => $"map[id:{(uint)insn.Imm}]",
                (byte)LoadImm64Source.MapValue => $"map[id:{(uint)insn.Imm}][0]+{next}",
                (byte)LoadImm64Source.MapIndexValue => $"map[idx:{(uint)insn.Imm}]+{next}",
                (byte)LoadImm64Source.Function => $"subprog[{insn.Imm.ToString("+0;-0", CultureInfo.InvariantCulture)}]",
                _ => null,
            };
            if (named is not null)
                return $"({insn.Opcode:x2}) r{insn.Dst} = {named}";
        }
        return KernelDisassembler.Format(insns, pc, call => call.IsHelperCall ? HelperNames.KernelName(call.Imm) : null);
    }
}

/// <summary>Reads the data_in/ctx_in files of `prog run` (`-` is stdin), with bpftool's error text.</summary>
internal static class RunInputFile
{
    public static byte[] Read(string path)
    {
        if (path == "-")
        {
            using var buffer = new MemoryStream();
            Console.OpenStandardInput().CopyTo(buffer);
            return buffer.ToArray();
        }
        return File.Exists(path)
            ? File.ReadAllBytes(path)
            : throw new BpfException(Errno.ENOENT, $"failed to open {path}: No such file or directory");
    }
}
