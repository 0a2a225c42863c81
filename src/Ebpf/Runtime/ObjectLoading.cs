using Ebpf.Collections;
using Ebpf.Loading;

namespace Ebpf.Runtime;

public sealed partial class BpfRuntime
{
    private ManagedBackend? _backend;

    /// <summary>This runtime as an <see cref="IBpfBackend"/>: what the collection loader, the CLI and backend-neutral code use.</summary>
    public IBpfBackend Backend => _backend ??= new ManagedBackend(this);

    /// <summary>
    /// Loads an object into this runtime (<see cref="BpfCollection.Load"/>: libbpf's work, the same for every backend).
    /// Each program is verified at load; see <see cref="LoadProgram"/> for the execution mode.
    /// </summary>
    public BpfCollection Load(ObjectSpec spec, ObjectLoadOptions? options = null) => BpfCollection.Load(Backend, spec, options);
}
