namespace Ebpf.Runtime.Helpers;

/// <summary>
/// The helpers of fentry/fexit programs that read the trampoline's argument block: ctx points at the first argument
/// word, the argument count is the frame's (the kernel keeps it in the word before ctx, which its verifier inlines
/// these helpers against) and, for fexit, the return value sits in the word after the last argument.
/// </summary>
/// <remarks>
/// The block is the one the running trampoline set up (<see cref="Enter"/>); a ctx that is not that block — a program
/// run any other way, which only an unverified program can be — gets -EINVAL and nothing is read or written.
/// </remarks>
internal static unsafe class TracingHelpers
{
    private const ulong EINVAL = unchecked((ulong)-22L), EFAULT = unchecked((ulong)-14L);

    [ThreadStatic] private static ulong* t_args;
    [ThreadStatic] private static int t_count;

    public static void Register(HelperRegistry r)
    {
        r.SetBuiltin(Abi.Helpers.HelperId.GetFuncArg, "get_func_arg", GetFuncArg);
        r.SetBuiltin(Abi.Helpers.HelperId.GetFuncRet, "get_func_ret", GetFuncRet);
        r.SetBuiltin(Abi.Helpers.HelperId.GetFuncArgCnt, "get_func_arg_cnt", GetFuncArgCnt);
    }

    /// <summary>A trampoline runs a tracing program on <paramref name="args"/>: the frame the helpers read until the returned scope ends.</summary>
    public static Frame Enter(ulong* args, int count)
    {
        var saved = new Frame(t_args, t_count);
        t_args = args;
        t_count = count;
        return saved;
    }

    public readonly struct Frame(ulong* args, int count) : IDisposable
    {
        public void Dispose()
        {
            t_args = args;
            t_count = count;
        }
    }

    /// <summary>bpf_get_func_arg (183): argument <paramref name="n"/> into *value; -EINVAL (and 0 stored) past the count.</summary>
    public static ulong GetFuncArg(ulong ctx, ulong n, ulong value, ulong r4, ulong r5)
    {
        if (ctx == 0 || (ulong*)ctx != t_args)
            return EINVAL;
        if (!HelperMemory.CanAccess(value, 8, write: true))
            return EFAULT;
        if (n >= (ulong)t_count)
        {
            *(ulong*)value = 0;
            return EINVAL;
        }
        *(ulong*)value = t_args[n];
        return 0;
    }

    /// <summary>bpf_get_func_ret (184): the traced function's return value (the verifier allows it only for fexit/fmod_ret).</summary>
    public static ulong GetFuncRet(ulong ctx, ulong value, ulong r3, ulong r4, ulong r5)
    {
        if (ctx == 0 || (ulong*)ctx != t_args)
            return EINVAL;
        if (!HelperMemory.CanAccess(value, 8, write: true))
            return EFAULT;
        *(ulong*)value = t_args[t_count];
        return 0;
    }

    /// <summary>bpf_get_func_arg_cnt (185): how many arguments the traced function has.</summary>
    public static ulong GetFuncArgCnt(ulong ctx, ulong r2, ulong r3, ulong r4, ulong r5) =>
        ctx != 0 && (ulong*)ctx == t_args ? (ulong)t_count : EINVAL;
}
