namespace Ebpf.Runtime.Objects;

/// <summary>
/// The kernel's object-name rule (bpf_obj_name_cpy): at most BPF_OBJ_NAME_LEN-1 = 15 characters of
/// [A-Za-z0-9_.]; anything else → EINVAL. Longer names are an error too (the kernel requires the
/// NUL inside the 16-byte field); loaders truncate before they get here.
/// </summary>
public static class ObjectName
{
    /// <summary>BPF_OBJ_NAME_LEN - 1: the longest name that leaves room for the terminating NUL.</summary>
    public const int MaxLength = 15;

    /// <summary>Returns <paramref name="name"/> (empty for null) if the kernel would accept it, else throws EINVAL
    /// naming <paramref name="what"/> (e.g. "map", "prog").</summary>
    public static string Validate(string? name, string what)
    {
        if (string.IsNullOrEmpty(name))
            return string.Empty;
        if (name.Length > MaxLength)
            throw new BpfException(Errno.EINVAL, $"{what} name '{name}' is longer than {MaxLength} characters");
        foreach (char c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '.'))
                throw new BpfException(Errno.EINVAL, $"{what} name '{name}' contains '{c}' (only [A-Za-z0-9_.] allowed)");
        }
        return name;
    }

    /// <summary>What libbpf does before loading: cut to 15 characters.</summary>
    public static string Truncate(string name) => name.Length <= MaxLength ? name : name[..MaxLength];
}
