using Ebpf.Abi;

namespace Ebpf.Runtime.Maps;

/// <summary>
/// The owner record of a map that holds programs (prog_array, devmap, devmap_hash, cpumap): the
/// traits of the first program stored in it or loaded against it (bpf_prog_map_compatible). Type,
/// jited and xdp_has_frags must always match; expected_attach_type only for prog arrays (6.18).
/// Once set it stays, even when the map is emptied.
/// </summary>
internal sealed class MapProgramOwner(bool compareAttachType)
{
    private readonly Lock _lock = new();
    private ProgArrayOwner? _owner;

    public ProgArrayOwner? Current
    {
        get { lock (_lock) return _owner; }
    }

    /// <summary>0 when <paramref name="traits"/> is (or becomes) the owner's; EINVAL otherwise.</summary>
    public Errno Check(ProgArrayOwner traits)
    {
        lock (_lock)
        {
            if (_owner is not { } owner)
            {
                _owner = traits;
                return Errno.None;
            }
            bool same = owner.Type == traits.Type && owner.Jited == traits.Jited && owner.XdpHasFrags == traits.XdpHasFrags
                && (!compareAttachType || owner.ExpectedAttachType == traits.ExpectedAttachType);
            return same ? Errno.None : Errno.EINVAL;
        }
    }

    /// <summary>
    /// The program a devmap/cpumap value names by fd (0: none): resolved (taking a reference), an xdp program
    /// attached as <paramref name="expected"/>, and compatible with the owner. A refused program's reference
    /// goes back through <paramref name="release"/>; the map's own errno for a bad program is <paramref name="failure"/>.
    /// </summary>
    internal Errno ResolveEntryProgram(int fd, AttachType expected, Func<uint, ProgArrayEntry?>? resolver,
        Action<ProgArrayEntry>? release, Errno failure, out ProgArrayEntry? program)
    {
        program = null;
        if (fd <= 0)
            return Errno.None;
        var prog = resolver?.Invoke((uint)fd);
        if (prog is null)
            return failure;
        if (prog.Traits.Type != ProgramType.Xdp || prog.Traits.ExpectedAttachType != expected || Check(prog.Traits) != Errno.None)
        {
            release?.Invoke(prog);
            return failure;
        }
        program = prog;
        return Errno.None;
    }
}

/// <summary>A map that can hold programs, so a program using it must be compatible with its owner (bpf_check_tail_call).</summary>
internal interface IProgramHoldingMap
{
    MapProgramOwner ProgramOwner { get; }
}
