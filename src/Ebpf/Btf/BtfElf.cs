using Ebpf.Elf;

namespace Ebpf.Btf;

/// <summary>Finds the .BTF and .BTF.ext sections of a BPF ELF object.</summary>
public static class BtfElf
{
    /// <summary>Name of the ELF section holding an object's BTF.</summary>
    public const string BtfSection = ".BTF";
    /// <summary>Name of the ELF section holding func_info, line_info and CO-RE relocations.</summary>
    public const string BtfExtSection = ".BTF.ext";

    /// <summary>The object's BTF, or null when it has no .BTF section.</summary>
    public static BtfSpec? ReadBtf(ElfFile elf, BtfSpec? baseBtf = null)
    {
        var section = elf.FindSection(BtfSection);
        if (section is null)
            return null;
        try
        {
            return BtfSpec.Parse(section.Data, baseBtf);
        }
        catch (BpfException e)
        {
            throw e.Wrap($"{elf.Source}: {BtfSection}");
        }
    }

    /// <summary>The object's .BTF.ext, or null when it has none.</summary>
    internal static BtfExt? ReadBtfExt(ElfFile elf, BtfSpec btf)
    {
        var section = elf.FindSection(BtfExtSection);
        if (section is null)
            return null;
        try
        {
            return BtfExt.Parse(section.Data, btf);
        }
        catch (BpfException e)
        {
            throw e.Wrap($"{elf.Source}: {BtfExtSection}");
        }
    }

    /// <summary>Reads FILE as an ELF object's .BTF when it starts with the ELF magic, else as raw BTF.</summary>
    public static BtfSpec LoadAny(string path, BtfSpec? baseBtf = null)
    {
        byte[] head = new byte[4];
        try
        {
            using var f = File.OpenRead(path);
            f.ReadAtLeast(head, 4, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BpfException(e is FileNotFoundException or DirectoryNotFoundException ? Errno.ENOENT : Errno.EIO,
                $"{path}: {e.Message}", e);
        }
        if (head is [0x7f, (byte)'E', (byte)'L', (byte)'F'])
        {
            var elf = ElfFile.Open(path);
            return ReadBtf(elf, baseBtf) ?? throw new BpfException(Errno.ENOENT, $"{path}: no {BtfSection} section");
        }
        return BtfSpec.LoadFile(path, baseBtf);
    }
}
