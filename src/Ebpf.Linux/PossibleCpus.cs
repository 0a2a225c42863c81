namespace Ebpf.Linux;

/// <summary>
/// The possible-CPU count that sizes per-CPU map values (/sys/devices/system/cpu/possible, e.g. "0-1"
/// or "0,2-5"), which can exceed the online count.
/// </summary>
internal static class PossibleCpus
{
    private static readonly Lazy<int> CountLazy = new(Read);

    public static int Count => CountLazy.Value;

    /// <summary>Parses the kernel's CPU list format; bad text is an EINVAL naming it.</summary>
    public static int Parse(string list)
    {
        int max = -1;
        foreach (var part in list.Trim().Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var bounds = part.Split('-');
            if (bounds.Length is < 1 or > 2 || !bounds.All(b => int.TryParse(b, out int v) && v >= 0))
                throw new BpfException(Errno.EINVAL, $"cpu list '{list}': bad range '{part}'");
            max = Math.Max(max, int.Parse(bounds[^1]));
        }
        if (max < 0)
            throw new BpfException(Errno.EINVAL, $"cpu list '{list}' is empty");
        return max + 1;
    }

    private static int Read()
    {
        const string path = "/sys/devices/system/cpu/possible";
        try
        {
            return Parse(File.ReadAllText(path));
        }
        catch (IOException)
        {
            return Environment.ProcessorCount;
        }
        catch (UnauthorizedAccessException)
        {
            return Environment.ProcessorCount;
        }
    }
}
