namespace Ebpf.Btf;

/// <summary>
/// <c>struct btf_header</c>. Section offsets are relative to the end of the header (<see cref="HeaderLength"/>).
/// </summary>
internal readonly record struct BtfHeader(
    ushort Magic, byte Version, byte Flags, uint HeaderLength,
    uint TypeOffset, uint TypeLength, uint StringOffset, uint StringLength)
{
    public const ushort BtfMagic = 0xeB9F;
    public const byte BtfVersion = 1;
    public const int Size = 24;
}
