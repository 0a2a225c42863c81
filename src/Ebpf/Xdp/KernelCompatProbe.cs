using System.Runtime.CompilerServices;
using Ebpf.Abi;
using Ebpf.Collections;
using Ebpf.Loading;

namespace Ebpf.Xdp;

/// <summary>
/// libxdp's kernel compatibility check (libxdp_check_kern_compat, kernel-semantics.md §6.6), run before the first
/// dispatcher is built and cached per backend for the process, as libxdp caches it per process: load the dispatcher
/// object's <c>xdp_pass</c> as a target, a second copy as an extension (freplace) of it, attach that with the target
/// fixed at load (raw_tracepoint_open without a target), pin the link under the bpffs root and unlink it at once. Any
/// failure means the dispatcher cannot work here: EOPNOTSUPP, which a single program answers by attaching directly
/// (§6.4 step 10). Program-owned mode pins nothing, so it skips the pin.
/// </summary>
internal static class KernelCompatProbe
{
    public const string TargetFunction = "xdp_pass";

    private sealed class Outcome(BpfException? failure)
    {
        public BpfException? Failure { get; } = failure;
    }

    private static readonly ConditionalWeakTable<IBpfBackend, Outcome> Cache = [];

    /// <summary>Returns when the dispatcher can work on <paramref name="backend"/>; EOPNOTSUPP (naming why) otherwise.</summary>
    public static void Require(IBpfBackend backend, XdpMultiprogOptions options)
    {
        var outcome = Cache.GetValue(backend, b => new Outcome(Run(b, options)));
        if (outcome.Failure is { } failure)
            throw new BpfException(Errno.EOPNOTSUPP, $"Compatibility check for dispatcher program failed: {failure.Message}", failure);
    }

    /// <summary>The probe itself, uncached: null when it passed, else the failure.</summary>
    internal static BpfException? Run(IBpfBackend backend, XdpMultiprogOptions options)
    {
        var dispatcher = options.Dispatcher ?? DispatcherObject.Default;
        try
        {
            using var target = LoadPass(backend, dispatcher, null);
            using var extension = LoadPass(backend, dispatcher, target.Programs[TargetFunction]);
            var ext = extension.Programs[TargetFunction];
            using var link = ext.AttachTracing();
            if (!options.ProgramOwned)
            {
                int lo = backend.GetDeviceIndex("lo");
                string pin = $"{options.BpfFsRoot.TrimEnd('/')}/prog-test-link-{lo}-{ext.Id}";
                backend.Pin(link, pin);
                backend.Unpin(pin);
            }
            return null;
        }
        catch (BpfException e)
        {
            return e;
        }
    }

    // xdp_pass of a fresh copy of the dispatcher object: as XDP, or as an extension replacing target's xdp_pass.
    private static BpfCollection LoadPass(IBpfBackend backend, DispatcherObject dispatcher, BpfProgram? target)
    {
        var spec = dispatcher.Parse();
        var pass = spec.FindProgram(TargetFunction)
            ?? throw new BpfException(Errno.ENOENT, $"{dispatcher.Name} has no {TargetFunction} program for the compatibility check");
        if (target is not null)
        {
            pass.Type = ProgramType.Ext;
            pass.ExpectedAttachType = null;
            pass.AttachTarget = TargetFunction;
        }
        return BpfCollection.Load(backend, spec, new ObjectLoadOptions
        {
            ProgramFilter = p => p.Name == TargetFunction,
            AttachTarget = target,
            AttachFunction = target is null ? null : TargetFunction,
            Elf = dispatcher.ParseElf(),
        });
    }
}
