using Ebpf.Execution;
using Ebpf.Isa;
using static Ebpf.Tests.Execution.InterpreterTestKit;

namespace Ebpf.Tests.Execution;

/// <summary>The IL JIT against the interpreter: same r0 on the conformance suite and on calls, helpers and limits.</summary>
public class JitTests
{
    private static InterpreterOptions JitOptions(string name, HelperTable? helpers = null, bool validate = true) =>
        new()
        {
            Name = name,
            Mode = ExecutionMode.Unchecked,
            Helpers = helpers ?? HelperTable.ForConformance(),
            Jit = true,
            Validation = validate ? ValidatorOptions.Conformance : null,
        };

    [Fact]
    public void Conformance_suite_compiles_and_gives_the_expected_results()
    {
        string dir = SharedData.Require("conformance/tests");
        var failed = new List<string>();
        var notCompiled = new List<string>();
        int compiled = 0;
        foreach (var path in Directory.EnumerateFiles(dir, "*.data").Order(StringComparer.Ordinal))
        {
            var test = ConformanceDataFile.Load(path);
            var probe = Interpreter.Load(test.Instructions, JitOptions(test.Name));
            if (probe.IsCompiled) compiled++;
            else notCompiled.Add($"{test.Name}: {probe.CompileFailure}");
            ulong r0 = ConformanceRunner.Execute(test.Instructions, test.Memory, JitOptions(test.Name));
            if (r0 != test.ExpectedResult)
                failed.Add($"{test.Name}: expected 0x{test.ExpectedResult:x}, got 0x{r0:x}");
        }
        Assert.Empty(failed);
        // Only callx (register calls) stays interpreted in this suite; everything else is native code.
        Assert.All(notCompiled, reason => Assert.Contains("callx", reason));
        // README: every compiled one equal, only callx not compiled — over the whole suite.
        Assert.Equal(313, compiled + notCompiled.Count);
        Assert.True(compiled >= 300, $"only {compiled} of the suite compiled: {string.Join("; ", notCompiled)}");
    }

    [Fact]
    public void Unsupported_constructs_stay_in_the_interpreter_with_a_reason()
    {
        var tailCall = Interpreter.Load(Asm("mov %r0, 0\ncall 12\nexit"), JitOptions("tail"));
        Assert.False(tailCall.IsCompiled);
        Assert.Equal("insn 1: tail call", tailCall.CompileFailure);

        var checkedMode = Interpreter.Load(Asm("mov %r0, 1\nexit"), new InterpreterOptions { Mode = ExecutionMode.Checked, Jit = true });
        Assert.False(checkedMode.IsCompiled);
        Assert.Null(checkedMode.CompileFailure);

        var plain = Interpreter.Load(Asm("mov %r0, 7\nexit"), JitOptions("plain"));
        Assert.True(plain.IsCompiled);
        Assert.Equal(7ul, plain.Run());
    }

    [Fact]
    public void Local_calls_get_their_own_frame_and_keep_callee_saved_registers()
    {
        // main: r6 = 5; store 11 at fp-8; call f; r0 += r6 + *(fp-8)   f: writes its own fp-8, returns r1*2
        var program = Asm("""
            mov %r6, 5
            mov %r1, 21
            stxdw [%r10-8], %r6
            mov %r2, 11
            stxdw [%r10-8], %r2
            call local f
            add %r0, %r6
            ldxdw %r3, [%r10-8]
            add %r0, %r3
            exit
            f:
            mov %r6, 100
            stxdw [%r10-8], %r6
            mov %r0, %r1
            lsh %r0, 1
            exit
            """);
        Assert.Equal(42ul + 5 + 11, RunBoth(program));
        Assert.True(Interpreter.Load(program, JitOptions("calls")).IsCompiled);
    }

    [Fact]
    public void Runaway_recursion_ends_with_E2BIG_not_a_host_stack_overflow()
    {
        var program = Asm("""
            call local f
            exit
            f:
            call local f
            exit
            """);
        var jit = Interpreter.Load(program, JitOptions("recurse", validate: false));
        Assert.True(jit.IsCompiled);
        var e = Assert.Throws<BpfException>(() => jit.Run());
        Assert.Equal(Errno.E2BIG, e.Errno);
        Assert.Contains("too deep", e.Message);
    }

    [Fact]
    public void Helpers_by_pointer_and_by_delegate_and_unknown_ones()
    {
        var helpers = HelperTable.ForConformance().Register(7, (r1, r2, r3, r4, r5) => r1 + r2 + r3 + r4 + r5, "sum");
        var program = Asm("""
            mov %r1, 1
            mov %r2, 2
            mov %r3, 3
            mov %r4, 4
            mov %r5, 5
            call 7
            mov %r6, %r0
            mov %r1, 100
            call 5
            add %r0, %r6
            exit
            """);
        var jit = Interpreter.Load(program, JitOptions("helpers", helpers));
        Assert.True(jit.IsCompiled);
        Assert.Equal(115ul, jit.Run());

        var unknown = Interpreter.Load(Asm("call 99\nexit"), JitOptions("unknown", validate: false));
        var e = Assert.Throws<BpfException>(() => unknown.Run());
        Assert.Contains("invalid func unknown#99", e.Message);
    }
}

/// <summary>Callbacks from compiled code: the helper runs them in the interpreter, one frame below the compiled caller.</summary>
public class JitCallbackTests
{
    [Fact]
    public void Callback_called_from_a_nested_compiled_function_gets_its_own_frame()
    {
        // helper 7: r0 = sum over i < r1 of callback(r2)(i)
        var helpers = HelperTable.ForConformance().Register(7, (r1, r2, _, _, _) =>
        {
            var context = InvocationContext.Current!;
            ulong sum = 0;
            for (ulong i = 0; i < r1; i++)
                sum += context.CallFunction(r2, i);
            return sum;
        }, "loop");
        // main stores a canary at fp-8, calls f; f stores its own canary, runs the loop (the callback scribbles over
        // its own fp-8 each time), then both canaries must be intact: frames did not overlap.
        var program = InterpreterTestKit.Asm("""
            lddw %r6, 0x1111111111111111
            stxdw [%r10-8], %r6
            call local f
            ldxdw %r1, [%r10-8]
            jne %r1, %r6, bad
            exit
            bad:
            mov %r0, -1
            exit
            f:
            lddw %r7, 0x2222222222222222
            stxdw [%r10-8], %r7
            mov %r1, 5
            lddw %r2, func cb
            call 7
            ldxdw %r1, [%r10-8]
            jne %r1, %r7, fbad
            exit
            fbad:
            mov %r0, -2
            exit
            cb:
            stxdw [%r10-8], %r1
            mov %r0, %r1
            add %r0, 1
            exit
            """);
        var jit = Interpreter.Load(program, new InterpreterOptions { Mode = ExecutionMode.Unchecked, Helpers = helpers, Jit = true });
        Assert.True(jit.IsCompiled, jit.CompileFailure);
        Assert.Equal(15ul, jit.Run());
        Assert.Equal(15ul, InterpreterTestKit.RunBoth(program, helpers: helpers));
    }
}
