namespace Ebpf.Linux;

/// <summary>
/// Names the kernel accepts for programs and maps (prog_name / map_name): at most 15 bytes of
/// [A-Za-z0-9_.] plus the NUL. The kernel rejects anything else with EINVAL, so characters outside
/// that set are dropped and the rest truncated, the way loaders do before BPF_PROG_LOAD.
/// </summary>
internal static class ObjectName
{
    public const int MaxLength = 15;

    public static string Sanitize(string? name)
    {
        if (string.IsNullOrEmpty(name))
            return "";
        Span<char> buffer = stackalloc char[MaxLength];
        int n = 0;
        foreach (char c in name)
        {
            if (n == MaxLength)
                break;
            if (char.IsAsciiLetterOrDigit(c) || c is '_' or '.')
                buffer[n++] = c;
        }
        return new string(buffer[..n]);
    }

    /// <summary>Writes the sanitised name NUL-terminated into a 16-byte attr field.</summary>
    internal static unsafe void Write(string? name, byte* destination16)
    {
        string clean = Sanitize(name);
        for (int i = 0; i < clean.Length; i++)
            destination16[i] = (byte)clean[i];
        destination16[clean.Length] = 0;
    }

    internal static unsafe string Read(byte* source16)
    {
        int n = 0;
        while (n < 16 && source16[n] != 0)
            n++;
        return System.Text.Encoding.ASCII.GetString(source16, n);
    }
}
