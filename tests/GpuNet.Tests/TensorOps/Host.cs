using Xunit.Sdk;

namespace GpuNet.Tests.TensorOps;

/// <summary>How a test tensor is laid out in memory: the same logical values, different strides.</summary>
public enum Layout
{
    Contiguous,
    /// <summary>A permutation view of a dense tensor whose dims are in another order.</summary>
    Permuted,
    /// <summary>A Narrow view into a larger tensor (nonzero offset, padding on both sides).</summary>
    Narrowed,
    /// <summary>An Expand view (zero strides) of a tensor with size-1 dims.</summary>
    Expanded,
}

/// <summary>Moves values between <see cref="Ref"/> and tensors, and compares them.</summary>
public static class Host
{
    /// <summary>The values as the dtype stores them: rounded to float, or truncated to int.</summary>
    public static Ref Round(Ref r, DType dtype) => dtype switch
    {
        DType.Float32 => r.Map(v => (double)(float)v),
        DType.Int32 => r.Map(v => (double)(int)v),
        _ => r,
    };

    public static Tensor Make(Ref r, DType dtype, Device device, bool requiresGrad = false) => dtype switch
    {
        DType.Float32 => Tensor.FromArray(r.Data.Select(v => (float)v).ToArray(), r.Shape, device, requiresGrad),
        DType.Float64 => Tensor.FromArray(r.Data.ToArray(), r.Shape, device, requiresGrad),
        _ => Tensor.FromArray(r.Data.Select(v => (int)v).ToArray(), r.Shape, device, requiresGrad),
    };

    public static double[] Values(Tensor t) => t.DType switch
    {
        DType.Float32 => t.ToArray<float>().Select(v => (double)v).ToArray(),
        DType.Float64 => t.ToArray<double>(),
        _ => t.ToArray<int>().Select(v => (double)v).ToArray(),
    };

    public static Ref Read(Tensor t) => new([.. t.Shape], Values(t));

    /// <summary>(atol, rtol) for results computed in <paramref name="dtype"/> against a double reference.</summary>
    public static (double Atol, double Rtol) Tolerance(DType dtype) => dtype switch
    {
        DType.Float32 => (2e-6, 2e-5),
        DType.Float64 => (1e-12, 1e-11),
        _ => (0, 0),
    };

    public static void AssertClose(Ref expected, Tensor actual, string context, DType? dtype = null, double? atol = null, double? rtol = null)
    {
        if (dtype is { } dt && actual.DType != dt)
            throw new XunitException($"{context}: dtype {actual.DType} expected {dt}");
        if (!actual.Shape.SequenceEqual(expected.Shape))
            throw new XunitException($"{context}: shape [{string.Join(",", actual.Shape)}] expected [{string.Join(",", expected.Shape)}]");
        var tol = Tolerance(actual.DType);
        AssertClose(expected.Data, Values(actual), expected.Shape, context, atol ?? tol.Atol, rtol ?? tol.Rtol);
    }

    public static void AssertClose(double[] expected, double[] actual, int[] shape, string context, double atol, double rtol)
    {
        if (expected.Length != actual.Length)
            throw new XunitException($"{context}: {actual.Length} values, expected {expected.Length}");
        for (int k = 0; k < expected.Length; k++)
        {
            double e = expected[k], a = actual[k];
            bool ok = double.IsNaN(e) ? double.IsNaN(a)
                : double.IsInfinity(e) ? e == a
                : Math.Abs(e - a) <= atol + rtol * Math.Abs(e);
            if (!ok)
            {
                var index = shape.Length == 0 ? "[]" : "[" + string.Join(",", Ref.Indices(shape).ElementAt(k)) + "]";
                throw new XunitException($"{context}: at {index} (flat {k}) of shape [{string.Join(",", shape)}] got {a:R}, expected {e:R} (|diff| {Math.Abs(e - a):G3}, atol {atol:G2}, rtol {rtol:G2})");
            }
        }
    }

    public static string Describe(int[] shape) => "[" + string.Join(",", shape) + "]";

    public static string Describe(Tensor t) =>
        $"{Describe(t.ShapeArray)} strides {Describe(t.StrideArray)} offset {t.Offset} {t.DType}";

    /// <summary>
    /// A tensor holding <paramref name="logical"/>'s values in the given layout, and the reference it
    /// actually holds (computed on the host from the base's values and the view's definition). For
    /// Expanded the values are those of <paramref name="logical"/> at index 0 of each expanded dim.
    /// </summary>
    public static (Tensor Tensor, Ref Expected) Arrange(Ref logical, DType dtype, Device device, Layout layout, Random rng)
    {
        logical = Round(logical, dtype);
        var shape = logical.Shape;
        int rank = shape.Length;
        switch (layout)
        {
            case Layout.Permuted when rank >= 2:
            {
                var perm = Gen.Permutation(rng, rank, nonIdentity: true);
                var inverse = new int[rank];
                for (int i = 0; i < rank; i++) inverse[perm[i]] = i;
                var baseRef = logical.Permute(inverse);
                using var b = Make(baseRef, dtype, device);
                return (b.Permute(perm), baseRef.Permute(perm));
            }
            case Layout.Narrowed when rank >= 1:
            {
                int d = rng.Next(rank);
                int before = 1 + rng.Next(2), after = rng.Next(2);
                var bigShape = (int[])shape.Clone();
                bigShape[d] += before + after;
                var baseRef = Ref.FromFunc(bigShape, i =>
                {
                    if (i[d] < before || i[d] >= before + shape[d]) return dtype == DType.Int32 ? 777 : 777.25;
                    var src = (int[])i.Clone();
                    src[d] -= before;
                    return logical[src];
                });
                using var b = Make(baseRef, dtype, device);
                return (b.Narrow(d, before, shape[d]), baseRef.Narrow(d, before, shape[d]));
            }
            case Layout.Expanded when shape.Any(d => d > 1):
            {
                var small = (int[])shape.Clone();
                var candidates = Enumerable.Range(0, rank).Where(d => shape[d] > 1).ToList();
                small[candidates[rng.Next(candidates.Count)]] = 1;
                foreach (var d in candidates) if (rng.NextDouble() < 0.3) small[d] = 1;
                var baseRef = Ref.FromFunc(small, i => logical[i]);
                using var b = Make(baseRef, dtype, device);
                return (b.Expand(shape), baseRef.BroadcastTo(shape));
            }
            default:
                return (Make(logical, dtype, device), logical);
        }
    }

    /// <summary>A float64 leaf that requires grad, in a (non-expanded) layout: views are detached so the leaf itself is strided.</summary>
    public static Tensor Leaf(Ref values, Device device, Layout layout, Random rng)
    {
        if (layout == Layout.Contiguous) return Make(values, DType.Float64, device, requiresGrad: true);
        var (view, _) = Arrange(values, DType.Float64, device, layout, rng);
        var leaf = view.Detach().RequiresGrad_();
        view.Dispose();
        return leaf;
    }
}

/// <summary>Seeded random shapes and values.</summary>
public static class Gen
{
    /// <summary>A shape of rank 0..maxRank with dims in 0..maxDim: size-1 dims often, empty dims sometimes.</summary>
    public static int[] Shape(Random rng, int maxRank = 3, int maxDim = 4, double emptyProbability = 0.06, int minRank = 0)
    {
        int rank = rng.Next(minRank, maxRank + 1);
        var s = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            double u = rng.NextDouble();
            s[i] = u < emptyProbability ? 0 : u < 0.3 ? 1 : rng.Next(2, maxDim + 1);
        }
        return s;
    }

    /// <summary>Two shapes that broadcast together: both derived from one shape by dropping leading dims and setting dims to 1.</summary>
    public static (int[] A, int[] B) BroadcastPair(Random rng, int maxRank = 3, int maxDim = 4, double emptyProbability = 0.05)
    {
        var full = Shape(rng, maxRank, maxDim, emptyProbability);
        return (Derive(rng, full), Derive(rng, full));
    }

    public static int[] Derive(Random rng, int[] full)
    {
        int drop = rng.NextDouble() < 0.3 ? rng.Next(full.Length + 1) : 0;
        return full.Skip(drop).Select(d => rng.NextDouble() < 0.3 ? 1 : d).ToArray();
    }

    public static int[] Permutation(Random rng, int n, bool nonIdentity = false)
    {
        while (true)
        {
            var p = Enumerable.Range(0, n).OrderBy(_ => rng.Next()).ToArray();
            if (!nonIdentity || n < 2 || p.Where((v, i) => v != i).Any()) return p;
        }
    }

    public static Ref Values(Random rng, int[] shape, Func<Random, double> value) =>
        Ref.FromFunc(shape, _ => value(rng));

    public static Func<Random, double> Uniform(double lo, double hi) => r => lo + (hi - lo) * r.NextDouble();

    /// <summary>|x| in [lo, hi] with a random sign: keeps inputs away from kinks at 0.</summary>
    public static Func<Random, double> AwayFromZero(double lo, double hi) => r => (r.Next(2) == 0 ? -1 : 1) * (lo + (hi - lo) * r.NextDouble());

    /// <summary>Values from a small set, so ties and exact zeros occur.</summary>
    public static Func<Random, double> OneOf(params double[] values) => r => values[r.Next(values.Length)];

    public static Func<Random, double> Integers(int lo, int hi) => r => r.Next(lo, hi + 1);

    /// <summary>Distinct values (a shuffled grid plus jitter), so extrema are unique and far apart.</summary>
    public static Ref Distinct(Random rng, int[] shape, double spacing = 0.37, bool integers = false)
    {
        int n = Ref.Count(shape);
        var order = Enumerable.Range(0, n).OrderBy(_ => rng.Next()).ToArray();
        return new Ref(shape, order.Select(k => integers ? k - n / 2 : (k - n / 2.0) * spacing + 0.05 * rng.NextDouble()).ToArray());
    }

    public static Layout Layout(Random rng, bool allowExpanded = true) =>
        (Layout)rng.Next(allowExpanded ? 4 : 3);
}
