using Ebpf.Abi;
using Ebpf.Collections;

namespace Ebpf.Runtime.Objects;

/// <summary>A loaded BTF blob (BPF_BTF_LOAD). Held by its handles, by maps and programs that use it.</summary>
public sealed class BtfObject : KernelObject
{
    internal BtfObject(BpfRuntime runtime, ReadOnlyMemory<byte> data, string name, bool isKernel, Btf.BtfSpec? parsed = null)
        : base(runtime, ObjectKind.Btf)
    {
        _parsed = parsed;
        Data = data;
        Name = name;
        IsKernel = isKernel;
    }

    /// <summary>The raw .BTF bytes as loaded.</summary>
    public ReadOnlyMemory<byte> Data { get; }
    /// <summary>The BTF object's name (<c>vmlinux</c>, a module's name, or empty for a program's BTF).</summary>
    public string Name { get; }
    /// <summary>vmlinux or a module's BTF (affects attach rules), as opposed to a program's own BTF.</summary>
    public bool IsKernel { get; }

    /// <summary>BPF_OBJ_GET_INFO_BY_FD for this BTF: id, size, name and whether it is kernel BTF.</summary>
    public BtfInfo GetInfo() => new() { Id = Id, Size = (uint)Data.Length, Name = Name, IsKernel = IsKernel };

    private Btf.BtfSpec? _parsed;

    /// <summary>The blob parsed (once, on first use, unless the loader handed over the parse it wrote the blob from):
    /// what map creation reads special fields from.</summary>
    internal Btf.BtfSpec Parsed => _parsed ??= Btf.BtfSpec.Parse(Data);
}
