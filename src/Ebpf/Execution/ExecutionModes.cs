namespace Ebpf.Execution;

/// <summary>
/// Compile-time switch for the interpreter loop: it is generic over a struct implementing this, so the
/// JIT produces one specialised copy per mode and the checks vanish from the unchecked one.
/// </summary>
internal interface IExecutionMode
{
    static abstract bool IsChecked { get; }
}

internal struct CheckedMode : IExecutionMode
{
    public static bool IsChecked => true;
}

internal struct UncheckedMode : IExecutionMode
{
    public static bool IsChecked => false;
}
