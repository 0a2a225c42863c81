using Ebpf.Abi;
using Ebpf.Btf;
using Ebpf.Collections;

namespace Ebpf.Xdp;

/// <summary>
/// The XDP programs on one device and mode, as libxdp's struct xdp_multiprog: a dispatcher and its components in
/// run order, or one "legacy" program attached directly. <see cref="Attach"/> and <see cref="Detach"/> follow
/// libxdp's protocol (kernel-semantics.md §6.4–6.7) over any backend: a new dispatcher is built with the old and new
/// components re-attached to it through freplace links, pinned, then swapped onto the device atomically with
/// XDP_FLAGS_REPLACE; the old one is unpinned and goes. A frame therefore runs either the old set or the new one.
/// Dispose releases the handles this object holds; the device attachment and the pins stay.
/// </summary>
public sealed class XdpMultiprog : IDisposable
{
    private readonly List<XdpProgram> _programs;
    private readonly List<BpfLink> _links;

    private XdpMultiprog(IBpfBackend backend, int ifindex, XdpFlags mode, BpfProgram main, XdpDispatcherConfig? config, List<XdpProgram> programs, List<BpfLink> links, string? pinDirectory)
    {
        Backend = backend;
        Ifindex = ifindex;
        Mode = mode;
        MainProgram = main;
        Config = config;
        _programs = programs;
        _links = links;
        PinDirectory = pinDirectory;
    }

    /// <summary>The backend.</summary>
    public IBpfBackend Backend { get; }
    /// <summary>The device.</summary>
    public int Ifindex { get; }
    /// <summary>The mode bit the programs are attached in (SKB/DRV/HW), or none when the device's own choice was read back.</summary>
    public XdpFlags Mode { get; }
    /// <summary>The program on the device: the dispatcher, or the single legacy program.</summary>
    public BpfProgram MainProgram { get; }
    /// <summary>The dispatcher's config; null for a legacy program.</summary>
    public XdpDispatcherConfig? Config { get; }
    /// <summary>Whether the device runs one program directly (no dispatcher).</summary>
    public bool IsLegacy => Config is null;
    /// <summary>The dispatcher's version (0 for a legacy program).</summary>
    public int Version => Config?.Version ?? 0;
    /// <summary>The components in run order (for a legacy program: that program).</summary>
    public IReadOnlyList<XdpProgram> Programs => _programs;
    /// <summary>Where the components are pinned (null: legacy, or program-owned).</summary>
    public string? PinDirectory { get; }

    // ---------------------------------------------------------------- query

    /// <summary>
    /// What is on <paramref name="ifindex"/> (libxdp's xdp_multiprog__get_from_ifindex): null when nothing; a legacy
    /// program; or a dispatcher with its components, read from its pins (or, program-owned, from its links) and
    /// with priorities and actions from its config. EOPNOTSUPP for a dispatcher newer than ours.
    /// </summary>
    public static XdpMultiprog? Query(IBpfBackend backend, int ifindex, XdpMultiprogOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        options ??= new XdpMultiprogOptions();
        using var l = options.ProgramOwned ? null : DispatcherLock.Take(backend, DispatcherPins.XdpDirectory(options.BpfFsRoot));
        return Read(backend, ifindex, options);
    }

    private static XdpFlags CurrentMode(XdpDeviceState state, XdpFlags requested)
    {
        if ((requested & XdpFlags.Modes) != 0)
            return requested & XdpFlags.Modes;
        return state.AttachMode switch
        {
            XdpAttachMode.Generic => XdpFlags.SkbMode,
            XdpAttachMode.Hardware => XdpFlags.HwMode,
            _ => XdpFlags.DrvMode,
        };
    }

    private static XdpMultiprog? Read(IBpfBackend backend, int ifindex, XdpMultiprogOptions options)
    {
        var state = backend.XdpQuery(ifindex);
        var mode = CurrentMode(state, options.Mode);
        uint id = state.ProgramIdFor(mode);
        if (id == 0)
            return null;
        BpfProgram main;
        try
        {
            main = (BpfProgram)backend.Open(ObjectKind.Program, id);
        }
        catch (BpfException e) when (e.Errno == Errno.ENOENT)
        {
            return null; // gone between the query and the open
        }
        try
        {
            var config = DispatcherRecognizer.Read(backend, main);
            if (config is null)
                return new XdpMultiprog(backend, ifindex, mode, main, null, [new XdpProgram(main.Duplicate(), XdpRunConfig.DefaultPriority, XdpRunConfig.DefaultActions, false) { Slot = -1, OwnedByMultiprog = true }], [], null);
            string dir = DispatcherPins.Directory(options.BpfFsRoot, ifindex, main.Id);
            var components = new List<XdpProgram>();
            bool pinned = !options.ProgramOwned && IsPinned(backend, options.BpfFsRoot, dir);
            for (int slot = 0; slot < config.ProgramCount; slot++)
            {
                BpfProgram? p = pinned ? backend.GetPinned(DispatcherPins.ProgramPin(dir, slot)) as BpfProgram : FindOwnedComponent(backend, main, config.ProgramCount, slot);
                if (p is null)
                    throw new BpfException(Errno.ENOENT, $"dispatcher {main.Id} on ifindex {ifindex}: component of slot {slot} not found{(pinned ? $" at {DispatcherPins.ProgramPin(dir, slot)}" : "")}");
                components.Add(new XdpProgram(p, config.RunPriorities[slot], (XdpChainActions)(config.ChainCallActions[slot] & ~(1u << XdpDispatcherConfig.StubReturnValue)),
                    (config.ProgramFlags[slot] & XdpDispatcherConfig.HasFragsFlag) != 0) { Slot = slot, Attached = true, OwnedByMultiprog = true });
            }
            return new XdpMultiprog(backend, ifindex, mode, main, config, components, [], pinned ? dir : null);
        }
        catch
        {
            main.Dispose();
            throw;
        }
    }

    private static bool IsPinned(IBpfBackend backend, string root, string dir)
    {
        try
        {
            return backend.ListPinDirectory(DispatcherPins.XdpDirectory(root))
                .Any(e => e.IsDirectory && e.Path.TrimEnd('/').EndsWith("/" + Path.GetFileName(dir), StringComparison.Ordinal));
        }
        catch (BpfException e) when (e.Errno is Errno.ENOENT or Errno.ENOTDIR)
        {
            return false;
        }
    }

    // A component without pins: the extension whose tracing link targets this dispatcher's slot function.
    private static BpfProgram? FindOwnedComponent(IBpfBackend backend, BpfProgram dispatcher, int count, int slot)
    {
        uint btfId = BpfProgram.FindFunction(dispatcher, count == 1 ? DispatcherLayout.MainFunction : DispatcherLayout.StubName(slot));
        foreach (uint linkId in backend.GetIds(ObjectKind.Link))
        {
            LinkInfo info;
            try
            {
                using var link = (BpfLink)backend.Open(ObjectKind.Link, linkId);
                info = link.GetInfo();
            }
            catch (BpfException)
            {
                continue;
            }
            if (info.Type == LinkType.Tracing && info.TargetObjectId == dispatcher.Id && info.TargetBtfId == btfId)
                return (BpfProgram)backend.Open(ObjectKind.Program, info.ProgramId);
        }
        return null;
    }

    // ---------------------------------------------------------------- attach

    /// <summary>
    /// Adds <paramref name="programs"/> to the device's set (libxdp's xdp_program__attach_multi): E2BIG past ten,
    /// EBUSY over a legacy program or an older dispatcher; a single program falls back to a direct attach when the
    /// backend cannot load extensions (EOPNOTSUPP otherwise). Returns the new state.
    /// </summary>
    public static XdpMultiprog Attach(IBpfBackend backend, int ifindex, IReadOnlyList<XdpProgram> programs, XdpMultiprogOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(programs);
        options ??= new XdpMultiprogOptions();
        if (programs.Count == 0)
            throw new BpfException(Errno.EINVAL, "no XDP programs to attach");
        if (options.SkipDispatcher)
        {
            if (programs.Count != 1)
                throw new BpfException(Errno.EINVAL, "without a dispatcher only one XDP program can be attached");
            return AttachLegacy(backend, ifindex, programs[0], options);
        }
        return Swap(backend, ifindex, options, old =>
        {
            if (old is not null && old.IsLegacy)
                throw new BpfException(Errno.EBUSY, $"ifindex {ifindex}: Existing program is not using a dispatcher, can't replace; unload first (program {old.MainProgram.Id}, {old.MainProgram.Name})");
            var layout = (options.Dispatcher ?? DispatcherObject.Default).Layout;
            if (old is not null && old.Version < layout.Version)
                throw new BpfException(Errno.EBUSY, $"ifindex {ifindex} has an XDP dispatcher of version {old.Version}, older than ours ({layout.Version}); unload it first");
            var all = (old?.Programs ?? []).Concat(programs).ToList();
            if (all.Count > XdpDispatcherConfig.MaxPrograms)
                throw new BpfException(Errno.E2BIG, "Not enough free slots in the dispatcher.");
            return all;
        }, fallbackProgram: programs.Count == 1 ? programs[0] : null);
    }

    /// <summary>
    /// Removes the programs with these ids (libxdp's xdp_multiprog__detach / xdp_program__detach_multi): all of them →
    /// the dispatcher leaves the device and its pins go; some → a new dispatcher without them is swapped in.
    /// ENOENT when an id is not on the device.
    /// </summary>
    public static void Detach(IBpfBackend backend, int ifindex, IReadOnlyCollection<uint> programIds, XdpMultiprogOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(programIds);
        options ??= new XdpMultiprogOptions();
        using (var l = options.ProgramOwned ? null : DispatcherLock.Take(backend, DispatcherPins.XdpDirectory(options.BpfFsRoot)))
        {
            using var current = Read(backend, ifindex, options) ?? throw new BpfException(Errno.ENOENT, $"No XDP program loaded on ifindex {ifindex}");
            foreach (uint id in programIds)
                if (!current.Programs.Any(p => p.Id == id) && current.MainProgram.Id != id)
                    throw new BpfException(Errno.ENOENT, $"Program with ID {id} not loaded on ifindex {ifindex}");
            if (current.IsLegacy || programIds.Contains(current.MainProgram.Id) || current.Programs.All(p => programIds.Contains(p.Id)))
            {
                DetachMain(backend, ifindex, current);
                if (current.PinDirectory is { } dir)
                    DispatcherPins.Unpin(backend, dir);
                return;
            }
        }
        using var rest = Swap(backend, ifindex, options, old =>
        {
            if (old is null || old.IsLegacy)
                throw new BpfException(Errno.EAGAIN, $"ifindex {ifindex} changed during the detach");
            return old.Programs.Where(p => !programIds.Contains(p.Id)).ToList();
        }, fallbackProgram: null);
    }

    /// <summary>Removes everything on the device (xdp-loader unload --all).</summary>
    public static void DetachAll(IBpfBackend backend, int ifindex, XdpMultiprogOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        options ??= new XdpMultiprogOptions();
        using var l = options.ProgramOwned ? null : DispatcherLock.Take(backend, DispatcherPins.XdpDirectory(options.BpfFsRoot));
        using var current = Read(backend, ifindex, options) ?? throw new BpfException(Errno.ENOENT, $"No XDP program loaded on ifindex {ifindex}");
        DetachMain(backend, ifindex, current);
        if (current.PinDirectory is { } dir)
            DispatcherPins.Unpin(backend, dir);
    }

    // Netlink detach with the current program as expected (REPLACE semantics); a slot an XDP link holds is detached
    // through that link (LINK_DETACH), as libxdp does when netlink answers EBUSY.
    private static void DetachMain(IBpfBackend backend, int ifindex, XdpMultiprog current)
    {
        try
        {
            backend.XdpAttach(ifindex, null, current.Mode | XdpFlags.Replace, current.MainProgram);
        }
        catch (BpfException e) when (e.Errno == Errno.EBUSY)
        {
            foreach (uint linkId in backend.GetIds(ObjectKind.Link))
            {
                using var link = (BpfLink)backend.Open(ObjectKind.Link, linkId);
                var info = link.GetInfo();
                if (info.Type == LinkType.Xdp && info.Ifindex == ifindex && info.ProgramId == current.MainProgram.Id)
                {
                    link.Detach();
                    return;
                }
            }
            throw;
        }
    }

    private static XdpMultiprog AttachLegacy(IBpfBackend backend, int ifindex, XdpProgram program, XdpMultiprogOptions options)
    {
        program.Load(backend, null, null);
        if (program.Program!.Type != ProgramType.Xdp)
            throw new BpfException(Errno.EINVAL, $"XDP program {program.Name} is loaded as {program.Program.Type}; a direct attach needs an XDP program");
        backend.XdpAttach(ifindex, program.Program, options.Mode | XdpFlags.UpdateIfNoExist);
        program.Attached = true;
        var state = backend.XdpQuery(ifindex);
        return new XdpMultiprog(backend, ifindex, CurrentMode(state, options.Mode), program.Program.Duplicate(), null, [program], [], null);
    }

    // §6.4: read the device, compute the new list, build + link + pin a new dispatcher, swap it in with REPLACE,
    // unpin the old one; EAGAIN (someone else changed the device) restarts from the top.
    private static XdpMultiprog Swap(IBpfBackend backend, int ifindex, XdpMultiprogOptions options, Func<XdpMultiprog?, List<XdpProgram>> plan, XdpProgram? fallbackProgram)
    {
        if (options.ProgramOwned && backend is not IProgramOwnedLinks)
            throw new BpfException(Errno.EOPNOTSUPP, $"the {backend.Name} backend has no program-owned extension links");
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                using var l = options.ProgramOwned ? null : DispatcherLock.Take(backend, DispatcherPins.XdpDirectory(options.BpfFsRoot));
                using var old = Read(backend, ifindex, options);
                var programs = plan(old);
                if (programs.Count == 0)
                    throw new BpfException(Errno.EINVAL, "no XDP programs left to attach");
                XdpMultiprog built;
                try
                {
                    // §6.4 step 5 / §6.6: libxdp's check that the kernel takes freplace on a dispatcher decides
                    // between a dispatcher and the single-program fallback.
                    KernelCompatProbe.Require(backend, options);
                    built = Build(backend, ifindex, old, programs, options);
                }
                catch (BpfException e) when (old is null && fallbackProgram is not null && programs.Count == 1 && IsNoExtensionSupport(e))
                {
                    // §6.4 step 10: no freplace here — one program goes on the device directly.
                    return AttachLegacy(backend, ifindex, fallbackProgram, options);
                }
                catch (BpfException e) when (old is null && programs.Count > 1 && IsNoExtensionSupport(e))
                {
                    // libxdp cannot fall back either: only one program fits on a device without a dispatcher.
                    throw new BpfException(Errno.EOPNOTSUPP, $"Can't fall back to legacy load with {programs.Count} programs: the kernel does not support the features needed by the multiprog dispatcher ({e.Message})", e);
                }
                try
                {
                    options.BeforeSwap?.Invoke();
                    var mode = old?.Mode ?? (options.Mode & XdpFlags.Modes);
                    if (old is null)
                        backend.XdpAttach(ifindex, built.MainProgram, mode | XdpFlags.UpdateIfNoExist);
                    else
                        backend.XdpAttach(ifindex, built.MainProgram, mode | XdpFlags.Replace, old.MainProgram);
                }
                catch (BpfException e)
                {
                    built.Abandon();
                    // Another writer got there first: the expected program is no longer current.
                    if (old is not null && e.Errno == Errno.EEXIST || old is null && e.Errno == Errno.EBUSY)
                        throw new BpfException(Errno.EAGAIN, $"ifindex {ifindex} changed during the attach: {e.Message}", e);
                    throw;
                }
                if (old?.PinDirectory is { } oldDir)
                    DispatcherPins.Unpin(backend, oldDir);
                // The components read back from the old dispatcher now belong to the new one; those left out go.
                if (old is not null)
                {
                    foreach (var gone in old._programs.Where(p => p.OwnedByMultiprog && !programs.Contains(p)))
                        gone.Dispose();
                    old._programs.Clear();
                }
                foreach (var p in programs)
                    p.Attached = true;
                return built;
            }
            catch (BpfException e) when (e.Errno == Errno.EAGAIN && attempt < options.MaxRetries)
            {
                Thread.Sleep(TimeSpan.FromMilliseconds(Math.Min(100, 1 << attempt)));
            }
            catch (BpfException e) when (e.Errno == Errno.EAGAIN)
            {
                throw new BpfException(Errno.EBUSY, $"ifindex {ifindex} kept changing: gave up after {options.MaxRetries} retries", e);
            }
        }
    }

    private static bool IsNoExtensionSupport(BpfException e) =>
        e.Errno is Errno.EOPNOTSUPP or Errno.ENOTSUPP or Errno.EPERM or Errno.EINVAL && e.Message.Contains("freplace", StringComparison.Ordinal) || e.Errno is Errno.EOPNOTSUPP or Errno.ENOTSUPP or Errno.EPERM;

    // §6.4 steps 3–6: sort, generate, link each component, pin.
    private static XdpMultiprog Build(IBpfBackend backend, int ifindex, XdpMultiprog? old, List<XdpProgram> programs, XdpMultiprogOptions options)
    {
        programs.Sort(XdpProgram.CompareRunOrder);
        var dispatcherObject = options.Dispatcher ?? DispatcherObject.Default;
        var config = new XdpDispatcherConfig
        {
            Version = dispatcherObject.Layout.Version,
            ProgramCount = (byte)programs.Count,
            IsXdpFrags = programs.All(p => p.SupportsFrags),
        };
        for (int i = 0; i < programs.Count; i++)
        {
            config.ChainCallActions[i] = (uint)programs[i].ChainCallActions | (1u << XdpDispatcherConfig.StubReturnValue);
            config.RunPriorities[i] = programs[i].Priority;
            config.ProgramFlags[i] = programs[i].SupportsFrags ? XdpDispatcherConfig.HasFragsFlag : 0;
        }
        var collection = dispatcherObject.Load(backend, config);
        var dispatcher = collection.Programs[DispatcherLayout.MainFunction].Duplicate();
        collection.Dispose();
        var links = new List<BpfLink>();
        string? dir = null;
        try
        {
            for (int slot = 0; slot < programs.Count; slot++)
            {
                // One component: it replaces the whole main function (one call level less).
                string function = programs.Count == 1 ? DispatcherLayout.MainFunction : DispatcherLayout.StubName(slot);
                var p = programs[slot];
                bool wasLoaded = p.IsLoaded;
                p.Load(backend, dispatcher, function);
                if (p.Program!.Type != ProgramType.Ext)
                    throw new BpfException(Errno.EOPNOTSUPP, $"XDP program {p.Name} is loaded as {p.Program.Type}, not as an extension: it cannot join a dispatcher");
                BpfLink link;
                try
                {
                    link = p.Program.AttachExtension(dispatcher, function);
                }
                catch (BpfException e) when (wasLoaded && e.Errno == Errno.EINVAL)
                {
                    throw new BpfException(Errno.EOPNOTSUPP, $"Kernel doesn't support re-attaching freplace programs ({p.Name}): {e.Message}", e);
                }
                catch (BpfException e) when (e.Errno == Errno.EPERM)
                {
                    throw new BpfException(Errno.EOPNOTSUPP, $"freplace attach of {p.Name} refused: {e.Message}", e);
                }
                links.Add(link);
                p.Slot = slot;
            }
            if (options.ProgramOwned)
            {
                var owner = (IProgramOwnedLinks)backend;
                foreach (var link in links)
                    owner.GiveLinkToTarget(link);
            }
            else
            {
                dir = DispatcherPins.Directory(options.BpfFsRoot, ifindex, dispatcher.Id);
                DispatcherPins.Pin(backend, dir, links.Select((link, i) => (link, programs[i].Program!)).ToList());
            }
        }
        catch
        {
            foreach (var link in links)
                link.Dispose();
            dispatcher.Dispose();
            throw;
        }
        return new XdpMultiprog(backend, ifindex, options.Mode & XdpFlags.Modes, dispatcher, config, programs, links, dir);
    }

    // The swap failed: unpin and drop the new dispatcher (its links go with the last references).
    private void Abandon()
    {
        if (PinDirectory is { } dir)
            DispatcherPins.Unpin(Backend, dir);
        Dispose();
    }

    /// <summary>Drops this object's handles (the dispatcher's, the links' it created); pins and the device keep theirs.</summary>
    public void Dispose()
    {
        foreach (var link in _links)
            link.Dispose();
        _links.Clear();
        foreach (var p in _programs.Where(p => p.OwnedByMultiprog))
            p.Dispose();
        MainProgram.Dispose();
    }
}
