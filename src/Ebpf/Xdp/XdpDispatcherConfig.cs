using System.Buffers.Binary;

namespace Ebpf.Xdp;

/// <summary>
/// The dispatcher's configuration, the <c>struct xdp_dispatcher_config</c> its <c>.rodata</c> holds
/// (kernel-semantics.md §6.2). Version 1: num_progs_enabled, chain_call_actions, run_prios (no magic byte); version 2
/// adds magic, version, is_xdp_frags and program_flags in front; version 3 appends is_xdp_devbound.
/// </summary>
public sealed record XdpDispatcherConfig
{
    /// <summary>MAX_DISPATCHER_ACTIONS: the dispatcher's component slots.</summary>
    public const int MaxPrograms = 10;
    /// <summary>XDP_DISPATCHER_MAGIC, 'X' + 'D' + 'P'.</summary>
    public const byte Magic = 236;
    /// <summary>The version our dispatcher implements (XDP_DISPATCHER_VERSION).</summary>
    public const byte CurrentVersion = 3;
    /// <summary>XDP_DISPATCHER_RETVAL: what an unreplaced stub returns; its bit is set in every slot's bitmap.</summary>
    public const int StubReturnValue = 31;
    /// <summary>BPF_F_XDP_HAS_FRAGS, per slot in <see cref="ProgramFlags"/>.</summary>
    public const uint HasFragsFlag = 1u << 5;
    /// <summary>BPF_F_XDP_DEV_BOUND_ONLY, per slot in <see cref="ProgramFlags"/>.</summary>
    public const uint DevBoundOnlyFlag = 1u << 6;

    /// <summary>The layout version (1, 2 or 3).</summary>
    public byte Version { get; init; } = CurrentVersion;
    /// <summary>num_progs_enabled.</summary>
    public byte ProgramCount { get; init; }
    /// <summary>is_xdp_frags: the dispatcher was loaded with BPF_F_XDP_HAS_FRAGS.</summary>
    public bool IsXdpFrags { get; init; }
    /// <summary>is_xdp_devbound (version 3).</summary>
    public bool IsXdpDevBound { get; init; }
    /// <summary>chain_call_actions per slot, bit 31 included.</summary>
    public uint[] ChainCallActions { get; init; } = new uint[MaxPrograms];
    /// <summary>run_prios per slot.</summary>
    public uint[] RunPriorities { get; init; } = new uint[MaxPrograms];
    /// <summary>program_flags per slot (versions 2 and 3).</summary>
    public uint[] ProgramFlags { get; init; } = new uint[MaxPrograms];

    /// <summary>Bytes of the struct in a version (sizeof, padding included).</summary>
    public static int SizeOf(byte version) => version switch
    {
        1 => 84,   // u8 + pad + 2 x u32[10]
        2 => 124,
        3 => 128,  // is_xdp_devbound at 124, padded to 4
        _ => throw new BpfException(Errno.EOPNOTSUPP, $"XDP dispatcher config version {version} is unknown"),
    };

    /// <summary>The struct as the dispatcher's .rodata holds it (<see cref="SizeOf"/>(<see cref="Version"/>) bytes).</summary>
    public byte[] Encode()
    {
        var b = new byte[SizeOf(Version)];
        int arrays;
        if (Version == 1)
        {
            b[0] = ProgramCount;
            arrays = 4;
        }
        else
        {
            b[0] = Magic;
            b[1] = Version;
            b[2] = ProgramCount;
            b[3] = IsXdpFrags ? (byte)1 : (byte)0;
            arrays = 4;
        }
        var span = b.AsSpan();
        for (int i = 0; i < MaxPrograms; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(span[(arrays + 4 * i)..], ChainCallActions[i]);
            BinaryPrimitives.WriteUInt32LittleEndian(span[(arrays + 40 + 4 * i)..], RunPriorities[i]);
            if (Version >= 2)
                BinaryPrimitives.WriteUInt32LittleEndian(span[(arrays + 80 + 4 * i)..], ProgramFlags[i]);
        }
        if (Version >= 3)
            b[124] = IsXdpDevBound ? (byte)1 : (byte)0;
        return b;
    }

    /// <summary>
    /// Reads a dispatcher's config value as libxdp does (§6.4 step 1): byte 0 is the magic → the version is byte 1;
    /// otherwise <paramref name="btfVersion"/> (the xdp_metadata variable) must say 1. A version above ours is
    /// EOPNOTSUPP, more than ten enabled programs EINVAL, a value too short for its version EINVAL.
    /// </summary>
    public static XdpDispatcherConfig Parse(ReadOnlySpan<byte> value, uint btfVersion)
    {
        if (value.Length < 2)
            throw new BpfException(Errno.EINVAL, $"XDP dispatcher config of {value.Length} bytes is too short");
        byte version = value[0] == Magic ? value[1] : (byte)Math.Min(btfVersion, 255);
        if (version > CurrentVersion)
            throw new BpfException(Errno.EOPNOTSUPP, $"XDP dispatcher version {version} higher than supported {CurrentVersion}");
        if (version == 0)
            throw new BpfException(Errno.EINVAL, "XDP dispatcher has neither the magic byte nor a version in BTF");
        int size = SizeOf(version);
        // Version 3 readers accept a value of a v2 size padded as v3 and vice versa only by version; sizes must hold.
        if (value.Length < (version == 3 ? 125 : size))
            throw new BpfException(Errno.EINVAL, $"XDP dispatcher config of {value.Length} bytes is too short for version {version} ({size})");
        var config = new XdpDispatcherConfig
        {
            Version = version,
            ProgramCount = version == 1 ? value[0] : value[2],
            IsXdpFrags = version >= 2 && value[3] != 0,
            IsXdpDevBound = version >= 3 && value[124] != 0,
        };
        for (int i = 0; i < MaxPrograms; i++)
        {
            config.ChainCallActions[i] = BinaryPrimitives.ReadUInt32LittleEndian(value[(4 + 4 * i)..]);
            config.RunPriorities[i] = BinaryPrimitives.ReadUInt32LittleEndian(value[(44 + 4 * i)..]);
            if (version >= 2)
                config.ProgramFlags[i] = BinaryPrimitives.ReadUInt32LittleEndian(value[(84 + 4 * i)..]);
        }
        if (config.ProgramCount > MaxPrograms)
            throw new BpfException(Errno.EINVAL, $"XDP dispatcher has {config.ProgramCount} programs enabled, more than {MaxPrograms}");
        return config;
    }
}
