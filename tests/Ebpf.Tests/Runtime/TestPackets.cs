namespace Ebpf.Tests.Runtime;

/// <summary>
/// The packets the whole-object comparisons run (JIT vs interpreter, translated vs untranslated): the smallest
/// Ethernet frame, TCP/IPv4 with options, UDP/IPv4, ICMPv6 and 300 bytes of noise.
/// </summary>
internal static class TestPackets
{
    public static readonly byte[][] Frames =
    [
        new byte[14],
        Convert.FromHexString("ffffffffffff00112233445508004500003c1c4640004006b1e6c0a80001c0a800c7" + "303900500000000000000000a0027210" + "00000000020405b40402080a00000000000000000103030700"),
        Convert.FromHexString("00112233445566778899aabb08004500001c000100004011f97cc0a80001c0a800020035003500080000"),
        Convert.FromHexString("0011223344556677889900aa86dd6000000000083a40" + "fe800000000000000000000000000001" + "fe800000000000000000000000000002" + "8000f7ff00000000"),
        [.. Enumerable.Range(0, 300).Select(i => (byte)(i * 37 + 11))],
    ];
}
