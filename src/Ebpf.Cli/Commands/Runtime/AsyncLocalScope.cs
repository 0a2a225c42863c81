namespace Ebpf.Cli.Commands.Runtime;

/// <summary>Sets an <see cref="AsyncLocal{T}"/> for a scope and puts the previous value back when the scope ends.</summary>
internal static class AsyncLocalScope
{
    /// <summary>Sets <paramref name="slot"/> to <paramref name="value"/> until the returned scope is disposed.</summary>
    public static IDisposable Set<T>(AsyncLocal<T?> slot, T value) where T : class
    {
        var previous = slot.Value;
        slot.Value = value;
        return new Restore<T>(slot, previous);
    }

    private sealed class Restore<T>(AsyncLocal<T?> slot, T? previous) : IDisposable where T : class
    {
        public void Dispose() => slot.Value = previous;
    }
}
