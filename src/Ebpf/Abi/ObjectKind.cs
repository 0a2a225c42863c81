namespace Ebpf.Abi;

/// <summary>The four kinds of BPF object that have ids (kernel-semantics.md §1.1).</summary>
public enum ObjectKind
{
    Program,
    Map,
    Btf,
    Link,
}
