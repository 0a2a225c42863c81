using Ebpf.Abi.Helpers;
using System.Reflection;
using Ebpf.Execution;
using Ebpf.Runtime.Maps;

namespace Ebpf.Runtime.Helpers;

/// <summary>
/// Binds map-helper calls whose R1 is a known map (a loader-resolved map lddw earlier in the block, which the
/// verifier proved is what R1 holds) to the map itself, as the
/// kernel's do_misc_fixups does with <c>map-&gt;ops-&gt;map_lookup_elem</c>: compiled code then skips resolving
/// the map handle, the type switch and the checked-mode test on every call. Shared (not per-CPU) arrays and
/// hashes get a lookup that does not ask for the CPU, which RyuJIT inlines. Only the runtime's own built-in
/// helpers are specialised; a host that replaced one keeps its replacement.
/// </summary>
internal static class MapCallSpecializer
{
    private static readonly MethodInfo Lookup = Method(typeof(BpfMapBase), nameof(BpfMapBase.CompiledLookup));
    private static readonly MethodInfo Update = Method(typeof(BpfMapBase), nameof(BpfMapBase.CompiledUpdate));
    private static readonly MethodInfo Delete = Method(typeof(BpfMapBase), nameof(BpfMapBase.CompiledDelete));
    private static readonly MethodInfo HashLookupShared = Method(typeof(HashMap), nameof(HashMap.CompiledLookupShared));
    private static readonly MethodInfo ArrayLookupShared = Method(typeof(ArrayMap), nameof(ArrayMap.CompiledLookupShared));
    private static readonly MethodInfo ArrayUpdateShared = Method(typeof(ArrayMap), nameof(ArrayMap.CompiledUpdateShared));

    /// <summary>A specializer for the helper ids whose registered function is still the built-in one.</summary>
    public static HelperSpecializer For(HelperRegistry registry)
    {
        bool lookup = IsBuiltin(registry, HelperId.MapLookupElem, nameof(MapHelpers.MapLookupElem));
        bool update = IsBuiltin(registry, HelperId.MapUpdateElem, nameof(MapHelpers.MapUpdateElem));
        bool delete = IsBuiltin(registry, HelperId.MapDeleteElem, nameof(MapHelpers.MapDeleteElem));
        return (id, r1) =>
        {
            // Only the map helpers take a map in R1; for any other helper R1 is not a map whatever it holds.
            if ((HelperId)id is not (HelperId.MapLookupElem or HelperId.MapUpdateElem or HelperId.MapDeleteElem))
                return null;
            // The JIT offers only R1 values of loader-resolved map lddws; the table lookup still validates them.
            if (MapHelpers.Storage(r1) is not { } map)
                return null;
            return (HelperId)id switch
            {
                HelperId.MapLookupElem when lookup => new HelperSpecialization(map, map switch
                {
                    HashMap { IsPerCpu: false } => HashLookupShared,
                    ArrayMap { IsPerCpu: false } => ArrayLookupShared,
                    _ => Lookup,
                }),
                HelperId.MapUpdateElem when update => new HelperSpecialization(map, map is ArrayMap { IsPerCpu: false } ? ArrayUpdateShared : Update),
                HelperId.MapDeleteElem when delete => new HelperSpecialization(map, Delete),
                _ => null,
            };
        };
    }

    private static bool IsBuiltin(HelperRegistry registry, HelperId id, string method) =>
        registry.Find((int)id) is { } entry
        && entry.Function.Target is null && entry.Function.Method.DeclaringType == typeof(MapHelpers) && entry.Function.Method.Name == method;

    private static MethodInfo Method(Type type, string name) =>
        type.GetMethod(name, BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
        ?? throw new InvalidOperationException($"{type.Name}.{name} is missing");
}
