using Ebpf.Runtime.Objects;
using Ebpf.Verification.Attach;

namespace Ebpf.Runtime.Trampolines;

/// <summary>
/// The runtime's trampoline hash (bpf_trampoline_lookup / put): one trampoline per key, reference counted by its
/// holders (tracing links and programs' load-time trampolines), removed when the last holder puts it.
/// </summary>
internal sealed class TrampolineTable
{
    private readonly Dictionary<ulong, Trampoline> _byKey = [];
    private readonly Lock _lock = new();

    /// <summary>Existing trampoline with one more reference, or a new one for function <paramref name="point"/> of <paramref name="target"/>.</summary>
    internal Trampoline Get(ProgramObject target, AttachPoint point)
    {
        var key = TrampolineKey.ForProgram(target.Id, point.Function.BtfId);
        lock (_lock)
        {
            if (_byKey.TryGetValue(key.Value, out var existing))
            {
                existing.References++;
                return existing;
            }
            var slot = target.SlotAt(point.Function.Start)
                ?? throw new BpfException(Errno.EINVAL, $"program {target.Id} ({target.Name}): function {point.FunctionName} has no call slot");
            var created = new Trampoline(this, key, target, slot, point) { References = 1 };
            _byKey.Add(key.Value, created);
            return created;
        }
    }

    internal void Put(Trampoline trampoline)
    {
        lock (_lock)
        {
            if (--trampoline.References > 0)
                return;
            _byKey.Remove(trampoline.Key.Value);
        }
    }

    /// <summary>The live trampoline of <paramref name="key"/> (diagnostics and tests), or null.</summary>
    public Trampoline? Find(TrampolineKey key)
    {
        lock (_lock) return _byKey.GetValueOrDefault(key.Value);
    }

    public int Count
    {
        get { lock (_lock) return _byKey.Count; }
    }
}
