namespace Ebpf.Runtime.Helpers;

/// <summary>
/// The helpers of fentry/fexit programs that read the trampoline's argument block: ctx points at the first argument
/// word, the argument count sits in the word before it (as in the kernel's trampoline frame, which its verifier
/// inlines these helpers against) and, for fexit, the return value in the word after the last argument.
/// </summary>
internal static unsafe class TracingHelpers
{
    private const ulong EINVAL = unchecked((ulong)-22L);

    public static void Register(HelperRegistry r)
    {
        r.SetBuiltin((int)Abi.Helpers.HelperId.GetFuncArg, "get_func_arg", GetFuncArg);
        r.SetBuiltin((int)Abi.Helpers.HelperId.GetFuncRet, "get_func_ret", GetFuncRet);
        r.SetBuiltin((int)Abi.Helpers.HelperId.GetFuncArgCnt, "get_func_arg_cnt", GetFuncArgCnt);
    }

    /// <summary>bpf_get_func_arg (183): argument <paramref name="n"/> into *value; -EINVAL (and 0 stored) past the count.</summary>
    public static ulong GetFuncArg(ulong ctx, ulong n, ulong value, ulong r4, ulong r5)
    {
        ulong* args = (ulong*)ctx;
        ulong count = args[-1];
        if (n >= count)
        {
            *(ulong*)value = 0;
            return EINVAL;
        }
        *(ulong*)value = args[n];
        return 0;
    }

    /// <summary>bpf_get_func_ret (184): the traced function's return value (the verifier allows it only for fexit/fmod_ret).</summary>
    public static ulong GetFuncRet(ulong ctx, ulong value, ulong r3, ulong r4, ulong r5)
    {
        ulong* args = (ulong*)ctx;
        *(ulong*)value = args[args[-1]];
        return 0;
    }

    /// <summary>bpf_get_func_arg_cnt (185): how many arguments the traced function has.</summary>
    public static ulong GetFuncArgCnt(ulong ctx, ulong r2, ulong r3, ulong r4, ulong r5) => ((ulong*)ctx)[-1];
}
