using Ebpf.Collections;
using Ebpf.Runtime.Objects;

namespace Ebpf.Runtime;

/// <summary>
/// What only the managed backend has, reached from the common live types: the runtime object graph behind a handle
/// and direct invocation. Each throws EINVAL for a handle of another backend (and EBADF once it is closed).
/// </summary>
public static class ManagedObjects
{
    extension(BpfHandle handle)
    {
        /// <summary>The runtime object behind the handle (no reference taken).</summary>
        public KernelObject Object => handle.Native as KernelObject
            ?? throw new BpfException(Errno.EINVAL, $"{handle.GetType().Name} {handle.Id} is not a managed runtime object ({handle.Backend.Name} backend)");

        /// <summary>The runtime the object lives in.</summary>
        public BpfRuntime Runtime => handle.Object.Runtime;
    }

    extension(BpfMap map)
    {
        /// <summary>The runtime's map object (storage in <see cref="MapObject.Maps"/>).</summary>
        public MapObject Map => map.NativeAs<MapObject>();
    }

    extension(BpfProgram program)
    {
        /// <summary>The runtime's program object (verdict, execution mode, translated instructions).</summary>
        public ProgramObject Program => program.NativeAs<ProgramObject>();

        /// <summary>
        /// A runner for direct invocation by the host (no per-call allocation or context construction);
        /// <paramref name="contextSize"/> overrides how many bytes at the context a checked program may touch
        /// (default: the program type's internal context size). Dispose it to drop its program reference.
        /// </summary>
        public ProgramRunner CreateRunner(int? contextSize = null) => new(program.Program, contextSize);
    }

    extension(BpfLink link)
    {
        /// <summary>The runtime's link object.</summary>
        public LinkObject Link => link.NativeAs<LinkObject>();
    }

    extension(BtfHandle btf)
    {
        /// <summary>The runtime's BTF object.</summary>
        public BtfObject Btf => btf.NativeAs<BtfObject>();
    }
}
