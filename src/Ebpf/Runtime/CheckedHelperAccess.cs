using Ebpf.Runtime.Objects;

namespace Ebpf.Runtime;

/// <summary>A helper argument the checked interpreter's region checks refused (the helper returned -EFAULT).</summary>
public sealed record CheckedHelperAccessDenial(ProgramObject? Program, ulong Address, ulong Size, bool Write)
{
    /// <summary>The refusal as one diagnostic line naming the program, the access and its range.</summary>
    public override string ToString() =>
        $"{Program?.Name ?? "?"}: helper {(Write ? "write" : "read")} of {Size} bytes at 0x{Address:x} is outside every region the program may touch";
}

public sealed partial class BpfRuntime
{
    /// <summary>
    /// Raised (on the running thread) when a helper called by a program in the checked interpreter is handed
    /// memory outside the regions the program may touch. The helper returns -EFAULT and the program goes on, as
    /// the checked interpreter's contract says; for a verified program (see <see cref="Collections.ProgramLoadOptions.AlwaysChecked"/>)
    /// the verifier should have refused the call, so soundness tests watch this.
    /// </summary>
    public event Action<CheckedHelperAccessDenial>? CheckedHelperAccessDenied;

    internal void ReportCheckedHelperAccessDenied(ProgramObject? program, ulong address, ulong size, bool write) =>
        CheckedHelperAccessDenied?.Invoke(new CheckedHelperAccessDenial(program, address, size, write));
}
