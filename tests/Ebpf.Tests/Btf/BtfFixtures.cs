using Ebpf.Btf;
using Ebpf.Elf;

namespace Ebpf.Tests.Btf;

/// <summary>Loads the committed BTF fixtures and the machine's vmlinux BTF (skipping when absent).</summary>
internal static class BtfFixtures
{
    public const string VmlinuxPath = "/sys/kernel/btf/vmlinux";
    private static readonly Lazy<Ebpf.Btf.BtfSpec?> VmlinuxLazy = new(() => File.Exists(VmlinuxPath) ? Ebpf.Btf.BtfSpec.LoadVmlinux() : null);

    public static ElfFile TypesElf() => ElfFile.Open(SharedData.Fixture("btf/types.bpf.o"));

    public static Ebpf.Btf.BtfSpec Types() => BtfElf.ReadBtf(TypesElf())!;

    public static Ebpf.Btf.BtfSpec Enum64() => BtfElf.ReadBtf(ElfFile.Open(SharedData.Fixture("btf/enum64.bpf.o")))!;

    public static Ebpf.Btf.BtfSpec Vmlinux()
    {
        var btf = VmlinuxLazy.Value;
        if (btf is null)
            Requirement.Missing(Requirement.Vmlinux, $"{VmlinuxPath} not present (kernel without CONFIG_DEBUG_INFO_BTF)");
        return btf;
    }

    public static byte[] VmlinuxBytes()
    {
        if (!File.Exists(VmlinuxPath))
            Requirement.Missing(Requirement.Vmlinux, $"{VmlinuxPath} not present");
        return File.ReadAllBytes(VmlinuxPath);
    }

    /// <summary>Every corpus object's .BTF section bytes (path, bytes), invalid/ included when asked.</summary>
    public static IEnumerable<(string Path, ElfFile Elf)> CorpusWithBtf(bool includeInvalid)
    {
        foreach (string path in SharedData.CorpusObjects(includeInvalid))
        {
            ElfFile elf;
            try
            {
                elf = ElfFile.Open(path);
            }
            catch (BpfException)
            {
                continue;
            }
            if (elf.FindSection(BtfElf.BtfSection) is not null)
                yield return (path, elf);
        }
    }
}
