using System.Collections.Concurrent;

namespace Ebpf.Abi.Profiles;

/// <summary>
/// Kernel BTF files read once per process and path (vmlinux is ~125k types, ~100 ms to parse): every profile naming
/// the same file shares one parsed <see cref="Btf.BtfSpec"/>. A file that is missing or unreadable gives null.
/// </summary>
internal static class KernelBtfCache
{
    private static readonly ConcurrentDictionary<string, Lazy<Btf.BtfSpec?>> Files = new(StringComparer.Ordinal);

    public static Btf.BtfSpec? Get(string path) => Files.GetOrAdd(path, static p => new Lazy<Btf.BtfSpec?>(() =>
    {
        try
        {
            return File.Exists(p) ? Btf.BtfSpec.LoadFile(p) : null;
        }
        catch (BpfException)
        {
            return null;
        }
    })).Value;
}
