using System.IO.Compression;
using System.Buffers.Binary;
using Ebpf.Loading;

namespace Ebpf.Linux;

/// <summary>
/// Values for .kconfig externs, as libbpf supplies them: LINUX_KERNEL_VERSION from the running kernel's
/// release, CONFIG_* from /proc/config.gz or /boot/config-RELEASE (y=1, m=2, n=0, numbers as numbers).
/// Unknown weak externs read as 0; an unknown strong one is an error naming it.
/// </summary>
internal sealed class KernelConfig
{
    private readonly Dictionary<string, string> _values;

    private KernelConfig(Dictionary<string, string> values, string release)
    {
        _values = values;
        Release = release;
    }

    public string Release { get; }

    public static KernelConfig ReadRunning()
    {
        string release = File.Exists("/proc/sys/kernel/osrelease") ? File.ReadAllText("/proc/sys/kernel/osrelease").Trim() : "";
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        IEnumerable<string>? lines = null;
        if (File.Exists("/proc/config.gz"))
        {
            using var gz = new GZipStream(File.OpenRead("/proc/config.gz"), CompressionMode.Decompress);
            using var reader = new StreamReader(gz);
            lines = reader.ReadToEnd().Split('\n');
        }
        else if (File.Exists($"/boot/config-{release}"))
        {
            lines = File.ReadAllLines($"/boot/config-{release}");
        }
        foreach (var line in lines ?? [])
        {
            int eq = line.IndexOf('=');
            if (line.StartsWith("CONFIG_", StringComparison.Ordinal) && eq > 0)
                values[line[..eq]] = line[(eq + 1)..];
        }
        return new KernelConfig(values, release);
    }

    /// <summary>KERNEL_VERSION(a, b, c) of a release string like "6.18.0-1-amd64" (patch clamped to 255).</summary>
    public static uint VersionCode(string release)
    {
        var parts = release.Split('.', '-', '+').Take(3).Select(p => uint.TryParse(new string(p.TakeWhile(char.IsAsciiDigit).ToArray()), out uint v) ? v : 0).ToArray();
        uint a = parts.Length > 0 ? parts[0] : 0, b = parts.Length > 1 ? parts[1] : 0, c = parts.Length > 2 ? parts[2] : 0;
        return (a << 16) | (b << 8) | Math.Min(c, 255u);
    }

    /// <summary>Writes every Kconfig extern's value into the .kconfig map image.</summary>
    public void Fill(Span<byte> image, IEnumerable<ExternSpec> externs)
    {
        foreach (var ext in externs.Where(e => e.Kind == ExternKind.Kconfig))
        {
            if (ext.DataOffset + ext.Size > image.Length)
                throw new BpfException(Errno.EINVAL, $".kconfig extern {ext.Name}: offset {ext.DataOffset}+{ext.Size} is outside the {image.Length}-byte map");
            var slot = image.Slice((int)ext.DataOffset, (int)ext.Size);
            slot.Clear();
            if (ext.Name == "LINUX_KERNEL_VERSION")
            {
                WriteNumber(slot, VersionCode(Release), ext);
                continue;
            }
            if (!_values.TryGetValue(ext.Name, out string? text))
            {
                if (ext.IsWeak || ext.Name.StartsWith("LINUX_HAS_", StringComparison.Ordinal))
                    continue; // weak: reads as 0 (n), as libbpf does
                throw new BpfException(Errno.EOPNOTSUPP, $"unresolved kconfig extern {ext.Name}: not set in the running kernel's config (declare it __weak to read 0)");
            }
            switch (text)
            {
                case "y": WriteNumber(slot, 1, ext); break;
                case "m": WriteNumber(slot, 2, ext); break;
                case "n": break;
                default:
                    if (text.StartsWith('"'))
                    {
                        var s = System.Text.Encoding.ASCII.GetBytes(text.Trim('"'));
                        s.AsSpan(0, Math.Min(s.Length, slot.Length - 1)).CopyTo(slot);
                    }
                    else if (long.TryParse(text.StartsWith("0x") ? text[2..] : text,
                                 text.StartsWith("0x") ? System.Globalization.NumberStyles.HexNumber : System.Globalization.NumberStyles.Integer, null, out long n))
                    {
                        WriteNumber(slot, (ulong)n, ext);
                    }
                    else
                    {
                        throw new BpfException(Errno.EINVAL, $"kconfig extern {ext.Name}: cannot use value '{text}'");
                    }
                    break;
            }
        }
    }

    private static void WriteNumber(Span<byte> slot, ulong value, ExternSpec ext)
    {
        switch (slot.Length)
        {
            case 1: slot[0] = (byte)value; break;
            case 2: BinaryPrimitives.WriteUInt16LittleEndian(slot, (ushort)value); break;
            case 4: BinaryPrimitives.WriteUInt32LittleEndian(slot, (uint)value); break;
            case 8: BinaryPrimitives.WriteUInt64LittleEndian(slot, value); break;
            default: throw new BpfException(Errno.EINVAL, $"kconfig extern {ext.Name}: {slot.Length}-byte slot cannot hold a number");
        }
    }
}
