using GpuNet.Tests.TensorOps;
using Xunit.Sdk;

namespace GpuNet.Tests.AutogradTests;

/// <summary>GradCheck with the case named in the failure, and a count of the cases run.</summary>
public static class Checks
{
    private static int s_count;
    private static readonly Lock s_logLock = new();

    /// <summary>GradCheck cases run so far in this process.</summary>
    public static int Count => Volatile.Read(ref s_count);

    /// <summary>Set to a file path to have every GradCheck case appended to it (for counting).</summary>
    public const string LogVariable = "GPUNET_GRADCHECK_LOG";

    public static void GradCheck(string what, Func<Tensor[], Tensor> function, params Tensor[] inputs)
    {
        Interlocked.Increment(ref s_count);
        if (Environment.GetEnvironmentVariable(LogVariable) is { Length: > 0 } log)
            lock (s_logLock) File.AppendAllText(log, what + "\n");
        try
        {
            Assert.True(Autograd.GradCheck(function, inputs));
        }
        catch (GradCheckException e)
        {
            var shapes = string.Join(", ", inputs.Select(Host.Describe));
            throw new XunitException($"{what} with inputs {shapes}: {e.Message}");
        }
    }

    /// <summary>A float64 leaf of <paramref name="shape"/> with values from <paramref name="value"/> in <paramref name="layout"/>.</summary>
    public static Tensor Leaf(Random rng, Device device, int[] shape, Func<Random, double> value, Layout layout = Layout.Contiguous) =>
        Host.Leaf(Gen.Values(rng, shape, value), device, layout, rng);

    /// <summary>A small shape (at most <paramref name="maxElements"/> elements, none empty) for finite differences.</summary>
    public static int[] SmallShape(Random rng, int minRank = 0, int maxRank = 3, int maxElements = 12)
    {
        while (true)
        {
            var s = Gen.Shape(rng, maxRank, maxDim: 3, emptyProbability: 0, minRank: minRank);
            if (Ref.Count(s) <= maxElements) return s;
        }
    }

    /// <summary>The layout of trial <paramref name="trial"/>: dense first, then strided leaves.</summary>
    public static Layout LayoutFor(int trial, Random rng) => trial switch
    {
        0 => Layout.Contiguous,
        1 => Layout.Permuted,
        _ => rng.Next(2) == 0 ? Layout.Narrowed : Layout.Permuted,
    };
}
