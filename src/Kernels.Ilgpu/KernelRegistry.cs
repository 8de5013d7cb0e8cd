using System.Reflection;

namespace GpuNet.Kernels.Ilgpu;

/// <summary>One concrete kernel: a closed generic instantiation of a method of <see cref="IlgpuKernels"/>.</summary>
/// <param name="Method">The closed method ILGPU compiles.</param>
/// <param name="Grouped">True when explicitly grouped (launched with a KernelConfig).</param>
internal sealed record KernelEntry(MethodInfo Method, bool Grouped)
{
    /// <summary>Readable name, e.g. <c>Unary&lt;Single,ExpOp&gt;</c>.</summary>
    public string Name => Method.IsGenericMethod
        ? $"{Method.Name}<{string.Join(",", Method.GetGenericArguments().Select(TypeName))}>"
        : Method.Name;

    private static string TypeName(Type t) => t.IsGenericType
        ? $"{t.Name[..t.Name.IndexOf('`')]}<{string.Join(",", t.GetGenericArguments().Select(TypeName))}>"
        : t.Name;

    /// <inheritdoc />
    public override string ToString() => Name;
}

/// <summary>
/// Every kernel instantiation the backend can launch, found by reflection: each [Kernel] method
/// closed over every combination of dtypes (float, double, int) and op / tile structs that
/// satisfies its generic constraints. Because the op structs declare per dtype what they support,
/// the constraint check yields exactly the valid set, and a new op struct or kernel is covered by
/// the codegen tests with no list to update.
/// </summary>
internal static class KernelRegistry
{
    private static readonly Type[] s_dtypes = [typeof(float), typeof(double), typeof(int)];
    private static readonly Lazy<IReadOnlyList<KernelEntry>> s_all = new(Build);

    /// <summary>All kernel instantiations.</summary>
    public static IReadOnlyList<KernelEntry> All => s_all.Value;

    /// <summary>Kernel <paramref name="definition"/> closed over <paramref name="typeArgs"/>; <see cref="ArgumentException"/> when they violate its constraints.</summary>
    public static MethodInfo Close(MethodInfo definition, params Type[] typeArgs) =>
        definition.IsGenericMethodDefinition ? definition.MakeGenericMethod(typeArgs) : definition;

    private static IReadOnlyList<KernelEntry> Build()
    {
        var candidates = new List<Type>(s_dtypes);
        foreach (var t in typeof(IlgpuKernels).Assembly.GetTypes())
        {
            if (!t.IsValueType || t.Namespace != typeof(IlgpuKernels).Namespace || t.IsEnum) continue;
            if (t == typeof(Dims8) || t == typeof(Strides8) || t == typeof(Coord8) || t == typeof(Axis3) || t == typeof(Rows) || t == typeof(MatGeom) || t == typeof(AdamScalars)) continue;
            if (t.IsGenericTypeDefinition)
            {
                foreach (var d in s_dtypes)
                {
                    try { candidates.Add(t.MakeGenericType(d)); } catch (ArgumentException) { }
                }
            }
            else candidates.Add(t);
        }

        var entries = new List<KernelEntry>();
        foreach (var m in typeof(IlgpuKernels).GetMethods(BindingFlags.Public | BindingFlags.Static))
        {
            var attr = m.GetCustomAttribute<KernelAttribute>();
            if (attr is null) continue;
            if (!m.IsGenericMethodDefinition) { entries.Add(new KernelEntry(m, attr.Grouped)); continue; }
            var parameters = m.GetGenericArguments();
            var perParam = parameters.Select(p => candidates.Where(c => Plausible(c, p)).ToArray()).ToArray();
            foreach (var combo in Cartesian(perParam))
            {
                try { entries.Add(new KernelEntry(m.MakeGenericMethod(combo), attr.Grouped)); }
                catch (ArgumentException) { /* violates a constraint that ties parameters together, e.g. IUnaryOp<T> */ }
            }
        }
        return entries;
    }

    /// <summary>Cheap pre-filter: the candidate implements the generic definitions of every interface constraint of <paramref name="parameter"/>.</summary>
    private static bool Plausible(Type candidate, Type parameter)
    {
        var implemented = candidate.GetInterfaces().Select(i => i.IsGenericType ? i.GetGenericTypeDefinition() : i).ToHashSet();
        foreach (var c in parameter.GetGenericParameterConstraints())
        {
            if (!c.IsInterface) continue;
            var def = c.IsGenericType ? c.GetGenericTypeDefinition() : c;
            if (!implemented.Contains(def)) return false;
        }
        return true;
    }

    private static IEnumerable<Type[]> Cartesian(Type[][] sets)
    {
        IEnumerable<Type[]> acc = [[]];
        foreach (var set in sets) acc = acc.SelectMany(prefix => set.Select(t => prefix.Append(t).ToArray())).ToList();
        return acc;
    }
}
