using Ebpf.Btf;
using Ebpf.CoRe;
using Ebpf.Isa;
using Ebpf.Loading;
using BtfData = Ebpf.Btf.BtfSpec;

namespace Ebpf.Tests.CoRe;

/// <summary>
/// CO-RE input is the object's to choose, so it is attacker-controlled: random relocation records (any type id, any
/// access string, any kind, any instruction) against a real target must end in a result or a BpfException — never
/// another exception, a hang or a write outside the program.
/// </summary>
public class CoreRobustnessTests
{
    [Fact]
    public void Random_relocations_end_in_a_result_or_a_BpfException()
    {
        var spec = ObjectSpec.Load(SharedData.Fixture("core/vmlinux_reads.bpf.o"));
        var local = spec.Btf!;
        // A target with nesting, arrays, bitfields, enums and flavors: the fixture's own BTF plus a hand-built one.
        var b = new BtfBuilder();
        uint i = b.AddInt("int", 4, BtfIntEncoding.Signed);
        uint inner = b.AddStructLayout("", ("x", i), ("y", b.AddArray(i, 3)));
        b.AddStruct("task_struct", 64, new BtfMember("pid", i, 0), new BtfMember("", inner, 32), new BtfMember("bits", i, 192, 7));
        b.AddEnum("pid_type", 4, [new BtfEnumValue("PIDTYPE_SID", 3)]);
        var targets = new[] { local, BtfData.Parse(b.ToBytes()) };

        var random = new Random(5);
        int results = 0, refusals = 0;
        for (int n = 0; n < 20_000; n++)
        {
            var target = targets[n % targets.Length];
            var relocator = new CoreRelocator(local, CoreTargets.Custom("t", target));
            uint typeId = (uint)random.Next(0, (int)local.MaxTypeId + 3);
            string access = random.Next(6) switch
            {
                0 => "0",
                1 => string.Join(':', Enumerable.Range(0, random.Next(1, 6)).Select(_ => random.Next(0, 5))),
                2 => string.Join(':', Enumerable.Range(0, random.Next(60, 70)).Select(_ => 0)),
                3 => random.Next(2) == 0 ? "" : ":1",
                4 => random.Next(2) == 0 ? $"{random.Next(-3, 3)}:{random.Next()}" : $"{random.Next()}:{random.Next(0, 3)}",
                _ => "0:" + random.Next(0, 40),
            };
            var kind = (BtfCoreReloKind)random.Next(0, 15);
            var insns = new Instruction[4];
            for (int k = 0; k < insns.Length; k++)
                insns[k] = new Instruction((byte)random.Next(256), (byte)random.Next(11), (byte)random.Next(11), (short)random.Next(-8, 64), random.Next(-8, 64));
            try
            {
                relocator.Apply("fuzz", insns, [new CoreRelocation(random.Next(-1, 5), typeId, access, kind)]);
                results++;
            }
            catch (BpfException)
            {
                refusals++;
            }
        }
        Assert.True(results > 100, $"only {results} relocations applied: the stream proves little");
        Assert.True(refusals > 1000, $"only {refusals} refused");
    }
}

/// <summary>Malformed layouts a hand-written BTF can carry: refused, never a division by zero or an overflow.</summary>
public class CoreMalformedBtfTests
{
    [Fact]
    public void A_bitfield_of_a_zero_sized_int_and_a_huge_flexible_index_are_refused()
    {
        var btf = CoreTestKit.Build(b =>
        {
            uint zero = b.Add(new BtfInt("zero", 0, BtfIntEncoding.None, 0, 0));
            uint i = b.AddInt("int", 4);
            b.AddStruct("s", 8, new BtfMember("bf", zero, 3, 2), new BtfMember("n", i, 0), new BtfMember("flex", b.AddArray(i, 0), 32));
        });
        var kit = new CoreTestKit();
        Assert.Throws<BpfException>(() => kit.Resolve(btf, btf, "s", "0:0", BtfCoreReloKind.FieldByteOffset));
        var huge = Assert.Throws<BpfException>(() => kit.Resolve(btf, btf, "s", "0:2:2000000000", BtfCoreReloKind.FieldByteOffset));
        Assert.Equal(Errno.EINVAL, huge.Errno); // parse failures are reported as libbpf's "parsing … failed" (EINVAL)
        Assert.Contains("32-bit bit offset", huge.Message);
    }
}
