using Ebpf.Abi;
using Ebpf.Btf;
using Ebpf.Runtime.Objects;

namespace Ebpf.Runtime.Iterators;

/// <summary>
/// A struct bpf_prog image and its bpf_prog_aux (what <c>prog-&gt;aux-&gt;id</c> and <c>prog-&gt;aux-&gt;name</c> walk to):
/// type, expected_attach_type, len, tag; aux: id, name, verified_insns, attach_btf_id.
/// </summary>
internal sealed unsafe class ProgramImage(BtfSpec kernel) : IDisposable
{
    private readonly KernelStructImage _prog = new(kernel, "bpf_prog");
    private readonly KernelStructImage _aux = new(kernel, "bpf_prog_aux");

    public ulong Address => (ulong)_prog.Address;

    public void Fill(ProgramObject p, List<Execution.ProbeMemory.Window> windows)
    {
        _prog.Clear();
        _aux.Clear();
        _prog.Put("type", (ulong)p.Type);
        _prog.Put("expected_attach_type", (ulong)p.ExpectedAttachType);
        _prog.Put("len", (ulong)p.Instructions.Length);
        _prog.PutBytes("tag", p.Tag);
        _prog.Put("aux", (ulong)_aux.Address);
        _aux.Put("id", p.Id);
        _aux.PutBytes("name", System.Text.Encoding.ASCII.GetBytes(p.Name));
        _aux.Put("verified_insns", (ulong)(p.Verification?.ProcessedInstructions ?? 0));
        _aux.Put("attach_btf_id", p.AttachBtfId);
        windows.Add(new Execution.ProbeMemory.Window((ulong)_prog.Address, (ulong)_prog.Size));
        windows.Add(new Execution.ProbeMemory.Window((ulong)_aux.Address, (ulong)_aux.Size));
    }

    public void Dispose()
    {
        _prog.Dispose();
        _aux.Dispose();
    }
}

/// <summary>
/// Walks one kind of the runtime's objects by ascending id (bpf_prog and bpf_link targets, kernel/bpf/prog_iter.c and
/// link_iter.c): the object is NULL in the final call; ids that vanish between reads are skipped.
/// </summary>
internal abstract unsafe class IdCursor<T>(BpfRuntime runtime, ObjectKind kind) : IterCursor where T : KernelObject
{
    private uint _id;
    private T? _current;

    protected BpfRuntime Runtime => runtime;

    public override bool Seek()
    {
        if (_current is not null)
            return true;
        foreach (uint id in runtime.Backend.GetIds(kind))
        {
            if (id <= _id || runtime.FindObject(kind, id) is not T o)
                continue;
            _id = id;
            _current = o;
            return true;
        }
        return false;
    }

    public override void Advance() => _current = null;

    public override bool Fill(ulong* ctx, bool final, List<Execution.MemoryRegion> regions, List<Execution.ProbeMemory.Window> windows)
    {
        ctx[1] = final || _current is null ? 0 : Image(_current, windows);
        return true;
    }

    /// <summary>The kernel-layout image of <paramref name="o"/> the program's pointer points to.</summary>
    protected abstract ulong Image(T o, List<Execution.ProbeMemory.Window> windows);
}

/// <summary>bpf_prog: every program of the runtime.</summary>
internal sealed class ProgCursor(BpfRuntime runtime, BtfSpec kernel) : IdCursor<ProgramObject>(runtime, ObjectKind.Program)
{
    private readonly ProgramImage _image = new(kernel);

    protected override ulong Image(ProgramObject o, List<Execution.ProbeMemory.Window> windows)
    {
        _image.Fill(o, windows);
        return _image.Address;
    }

    public override void Dispose() => _image.Dispose();
}

/// <summary>bpf_link: every link of the runtime (struct bpf_link: id, type, attach_type, prog).</summary>
internal sealed unsafe class LinkCursor(BpfRuntime runtime, BtfSpec kernel) : IdCursor<LinkObject>(runtime, ObjectKind.Link)
{
    private readonly KernelStructImage _link = new(kernel, "bpf_link");
    private readonly ProgramImage _program = new(kernel);

    protected override ulong Image(LinkObject o, List<Execution.ProbeMemory.Window> windows)
    {
        _link.Clear();
        _link.Put("id", o.Id);
        _link.Put("type", (ulong)o.Type);
        _link.Put("attach_type", (ulong)o.AttachType);
        if (o.Program is { } p)
        {
            _program.Fill(p, windows);
            _link.Put("prog", _program.Address);
        }
        windows.Add(new Execution.ProbeMemory.Window((ulong)_link.Address, (ulong)_link.Size));
        return (ulong)_link.Address;
    }

    public override void Dispose()
    {
        _link.Dispose();
        _program.Dispose();
    }
}
