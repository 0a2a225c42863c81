using Ebpf.Elf;
using Ebpf.Isa;

namespace Ebpf.Tests.Isa;

/// <summary>Every executable section of every corpus object (not invalid/) and every committed fixture object.</summary>
public static class IsaCorpus
{
    public sealed record Section(string File, string Name, ElfFile Elf, ElfSection ElfSection, Instruction[] Instructions)
    {
        public override string ToString() => $"{File} [{Name}]";
    }

    public static IEnumerable<string> Objects()
    {
        foreach (string path in SharedData.CorpusObjects())
            yield return path;
        foreach (string path in FixtureObjects())
            yield return path;
    }

    public static IEnumerable<string> FixtureObjects() =>
        Directory.EnumerateFiles(Path.Combine(SharedData.RepoRoot, "tests", "fixtures"), "*.o", SearchOption.AllDirectories)
            .Order(StringComparer.Ordinal);

    public static IEnumerable<Section> Sections(IEnumerable<string>? objects = null)
    {
        foreach (string path in objects ?? Objects())
        {
            var elf = ElfFile.Open(path);
            foreach (var section in elf.Sections)
            {
                if (!section.IsExecutable || section.IsNoBits || section.Size == 0)
                    continue;
                yield return new Section(path, section.Name, elf, section, InstructionStream.Read(section.Data.Span, section.Name));
            }
        }
    }
}
