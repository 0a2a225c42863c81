using Ebpf.Collections;

namespace Ebpf.Xdp;

/// <summary>
/// Where a dispatcher's components are pinned (kernel-semantics.md §6.5): <c>&lt;root&gt;/xdp/dispatch-&lt;ifindex&gt;-&lt;dispatcher
/// id&gt;/prog&lt;N&gt;-link</c> (the freplace link: what keeps the component attached once the loading process is gone)
/// and <c>prog&lt;N&gt;-prog</c> (the component, so another process can move it to a new dispatcher). The dispatcher
/// itself is not pinned: the device and the links hold it.
/// </summary>
internal static class DispatcherPins
{
    public static string XdpDirectory(string root) => root.TrimEnd('/') + "/xdp";

    public static string Directory(string root, int ifindex, uint dispatcherId) => $"{XdpDirectory(root)}/dispatch-{ifindex}-{dispatcherId}";

    public static string LinkPin(string dir, int slot) => $"{dir}/prog{slot}-link";

    public static string ProgramPin(string dir, int slot) => $"{dir}/prog{slot}-prog";

    /// <summary>Pins every component's link and program; on any failure removes everything pinned and the directory.</summary>
    public static void Pin(IBpfBackend backend, string dir, IReadOnlyList<(BpfLink Link, BpfProgram Program)> slots)
    {
        backend.CreatePinDirectory(dir);
        try
        {
            for (int i = 0; i < slots.Count; i++)
            {
                backend.Pin(slots[i].Link, LinkPin(dir, i));
                backend.Pin(slots[i].Program, ProgramPin(dir, i));
            }
        }
        catch
        {
            Unpin(backend, dir);
            throw;
        }
    }

    /// <summary>Removes every <c>prog&lt;N&gt;-link</c>/<c>-prog</c> pin and then the directory; what is missing is skipped.</summary>
    public static void Unpin(IBpfBackend backend, string dir)
    {
        IReadOnlyList<PinEntry> entries;
        try
        {
            entries = backend.ListPinDirectory(dir);
        }
        catch (BpfException)
        {
            return;
        }
        for (int i = 0; i < XdpDispatcherConfig.MaxPrograms; i++)
            foreach (string pin in new[] { LinkPin(dir, i), ProgramPin(dir, i) })
                if (entries.Any(e => e.Path.TrimEnd('/') == pin || e.Path.EndsWith("/" + Path.GetFileName(pin), StringComparison.Ordinal)))
                    backend.Unpin(pin);
        try
        {
            backend.RemovePinDirectory(dir);
        }
        catch (BpfException)
        {
            // Something else was put there: libxdp only warns.
        }
    }
}
