using Ebpf.Abi;
using Ebpf.Runtime.ProgramTypes;

namespace Ebpf.Runtime.Net;

// The host's side of the wire: frames arriving at a device.
public sealed partial class VirtualNetwork
{
    /// <summary>
    /// One frame arrives at <paramref name="device"/> on rx queue <paramref name="rxQueue"/>: the device's XDP program
    /// runs on the calling thread and the verdict acts (see <see cref="InjectBatch(string, IReadOnlyList{byte[]}, uint)"/>).
    /// </summary>
    public XdpInjectResult Inject(string device, ReadOnlySpan<byte> frame, uint rxQueue = 0) =>
        InjectBatch(device, [frame.ToArray()], rxQueue);

    /// <summary>
    /// Frames arrive at <paramref name="device"/> together, as one NAPI poll of rx queue <paramref name="rxQueue"/>:
    /// each runs the device's program on the calling thread (any number of threads may inject at once, each its own
    /// CPU); native-mode transmits and redirects are bulked and delivered at the end of the poll (xdp_do_flush), generic
    /// ones at once; frames that reach a veth peer run its program in the next poll. EINVAL for a queue the device does
    /// not have, or a frame shorter than an Ethernet header or longer than a page's linear area (3,520 bytes).
    /// </summary>
    public XdpInjectResult InjectBatch(string device, IReadOnlyList<byte[]> frames, uint rxQueue = 0) =>
        InjectBatch(device, frames, null, rxQueue);

    /// <summary>
    /// One frame arrives with the receive metadata its driver reported (<paramref name="metadata"/>; null or a null value:
    /// absent), which a device-bound program reads through the XDP metadata kfuncs.
    /// </summary>
    public XdpInjectResult Inject(string device, ReadOnlySpan<byte> frame, XdpRxMetadata? metadata, uint rxQueue = 0) =>
        InjectBatch(device, [frame.ToArray()], [metadata], rxQueue);

    /// <summary>
    /// As <see cref="InjectBatch(string, IReadOnlyList{byte[]}, uint)"/>, each frame with the receive metadata its
    /// driver reported (<paramref name="metadata"/>[i] for frames[i]; null entries, or a null list: absent). EINVAL when
    /// the lists differ in length. Frames that a program sends on (XDP_TX, redirects) carry none, as an xdp_frame has no skb.
    /// </summary>
    public XdpInjectResult InjectBatch(string device, IReadOnlyList<byte[]> frames, IReadOnlyList<XdpRxMetadata?>? metadata, uint rxQueue = 0)
    {
        ArgumentNullException.ThrowIfNull(frames);
        if (metadata is not null && metadata.Count != frames.Count)
            throw new BpfException(Errno.EINVAL, $"{metadata.Count} metadata entries for {frames.Count} frames");
        var dev = Find(device);
        if (rxQueue >= dev.RxQueues)
            throw new BpfException(Errno.EINVAL, $"{dev.Name} has {dev.RxQueues} rx queues, not {rxQueue + 1}");
        foreach (var f in frames)
        {
            if (f is null || f.Length < XdpContext.EthernetHeaderLength || f.Length > XdpContext.MaxLinear)
                throw new BpfException(Errno.EINVAL, $"frame of {f?.Length ?? 0} bytes: a frame is {XdpContext.EthernetHeaderLength}..{XdpContext.MaxLinear} bytes");
        }
        var executor = _runtime.Executor ?? throw new BpfException(Errno.ENOTSUPP, "no program executor is installed in this runtime");
        return new XdpPoll(this, _runtime, executor).Run(dev, frames, metadata, rxQueue);
    }
}
