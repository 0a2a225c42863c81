namespace Ebpf.Runtime.ProgramTypes;

/// <summary>A virtual network device (ifindex, name, number of rx queues, MAC).</summary>
public sealed record NetDevice(uint Ifindex, string Name, uint RxQueues, byte[] Address);

/// <summary>
/// The runtime's network devices: test_run resolves ifindex through it. The loopback device
/// (ifindex 1, "lo", one rx queue, all-zero MAC and broadcast) always exists.
/// </summary>
public sealed class NetDevices
{
    public const uint Loopback = 1;

    private readonly Dictionary<uint, NetDevice> _devices = new() { [Loopback] = new(Loopback, "lo", 1, new byte[6]) };
    private readonly Lock _lock = new();

    public NetDevice? Find(uint ifindex)
    {
        lock (_lock) return _devices.GetValueOrDefault(ifindex);
    }

    /// <summary>Adds a device (EEXIST when the ifindex is taken).</summary>
    public NetDevice Add(uint ifindex, string name, uint rxQueues = 1, byte[]? address = null)
    {
        lock (_lock)
        {
            if (ifindex == 0 || _devices.ContainsKey(ifindex))
                throw new BpfException(Errno.EEXIST, $"ifindex {ifindex} is already in use");
            var dev = new NetDevice(ifindex, name, rxQueues, address ?? new byte[6]);
            _devices.Add(ifindex, dev);
            return dev;
        }
    }
}
