using GpuNet.Kernels;
using Xunit;

namespace GpuNet.Tests.Backends;

public sealed partial class BackendConformanceTests
{
    public static TheoryData<string, ReduceOp, DType> ReduceCases()
    {
        var data = new TheoryData<string, ReduceOp, DType>();
        foreach (var dev in BackendDevices.Names)
            foreach (var op in Enum.GetValues<ReduceOp>())
                foreach (var dt in AllDTypes) data.Add(dev, op, dt);
        return data;
    }

    public static TheoryData<string, ReduceOp, DType> ReduceNaNCases()
    {
        var data = new TheoryData<string, ReduceOp, DType>();
        foreach (var dev in BackendDevices.Names)
            foreach (var op in Enum.GetValues<ReduceOp>())
                foreach (var dt in Floating) data.Add(dev, op, dt);
        return data;
    }

    public static TheoryData<string, bool, DType> SoftmaxCases()
    {
        var data = new TheoryData<string, bool, DType>();
        foreach (var dev in BackendDevices.Names)
            foreach (var log in new[] { false, true })
                foreach (var dt in Floating) data.Add(dev, log, dt);
        return data;
    }

    /// <summary>[outer, n, inner] shapes: edge cases, then random ones with n up to 130 (past one warp / one SIMD block).</summary>
    private static IEnumerable<int[]> AxisShapes(Random rng, bool allowEmptyAxis, int randomCount)
    {
        int[][] edge = [[1, 1, 1], [0, 3, 2], [2, 3, 0], [1, 67, 1], [3, 130, 1], [2, 5, 4], [1, 1, 9], [4, 33, 3]];
        foreach (var s in edge) yield return s;
        if (allowEmptyAxis) yield return [2, 0, 3];
        int[] outers = [1, 1, 2, 3, 5], inners = [1, 1, 1, 2, 4, 7], ns = [1, 2, 3, 7, 16, 33, 67, 130];
        for (int k = 0; k < randomCount; k++)
            yield return [outers[rng.Next(outers.Length)], ns[rng.Next(ns.Length)], inners[rng.Next(inners.Length)]];
    }

    private static string Row(Operand x, int[] yIndex)
    {
        int n = x.Host.Shape[1];
        var values = Enumerable.Range(0, Math.Min(n, 12)).Select(j => Harness.F(x.Host[yIndex[0], j, yIndex[^1]]));
        return $"x[{yIndex[0]},:,{yIndex[^1]}] = [{string.Join(", ", values)}{(n > 12 ? ", …" : "")}]";
    }

    private static Func<int[], double, double>? ReduceTolerance(ReduceOp op, DType dtype, Operand x)
    {
        if (op != ReduceOp.Sum || dtype == DType.Int32) return Tol.Exact;
        var magnitude = HostView.Contiguous(DType.Float64, [x.Host.Shape[0], x.Host.Shape[2]]);
        ReferenceOps.Reduce(ReduceOp.Sum, x.Host.Map(Math.Abs).As(DType.Float64), magnitude);
        return Tol.Accumulated(dtype, x.Host.Shape[1], i => magnitude[i]);
    }

    private void RunReduce(Harness h, ReduceOp op, DType dtype, int[] shape, Func<Random, double> values, LayoutSpec? xLayout = null, IReadOnlyList<double>? fixedValues = null)
    {
        var layout = xLayout ?? LayoutSpec.Any(h.Rng, input: true);
        var x = fixedValues is null ? h.Input("x", dtype, shape, layout, values) : h.InputFrom("x", dtype, shape, layout, fixedValues);
        var yType = op is ReduceOp.ArgMax or ReduceOp.ArgMin ? DType.Int32 : dtype;
        var y = h.Output("y", yType, [shape[0], shape[2]], LayoutSpec.Any(h.Rng, input: false));
        h.Case($"Reduce {op} {dtype.Name()}: {x}; {y}",
            () => h.Backend.Reduce(op, x.View, y.View),
            () => ReferenceOps.Reduce(op, x.Host, y.Host),
            y, ReduceTolerance(op, dtype, x), i => Row(x, i));
    }

    [Theory]
    [MemberData(nameof(ReduceCases))]
    public void Reduce_AlongMiddleAxisOfStridedViews_MatchesReference(string device, ReduceOp op, DType dtype)
    {
        using var h = new Harness(device, nameof(Reduce_AlongMiddleAxisOfStridedViews_MatchesReference), op, dtype);
        int k = 0;
        foreach (var shape in AxisShapes(h.Rng, allowEmptyAxis: op == ReduceOp.Sum, RandomCases))
        {
            // Every other case draws from a handful of values, so extremes tie and ArgMax/ArgMin must pick the first.
            bool ties = op != ReduceOp.Sum && k++ % 2 == 0;
            var values = dtype == DType.Int32
                ? ties ? Values.Ints(-2, 2) : Values.Ints(-1000, 1000)
                : ties ? Values.OneOf(-2, -1, 0, 1, 2) : Values.Uniform(-3, 3);
            RunReduce(h, op, dtype, shape, values);
        }
        h.AssertAllPassed();
    }

    [Theory]
    [MemberData(nameof(ReduceNaNCases))]
    public void Reduce_WithNaNAndInfinities_PropagatesNaNAndArgPicksFirstNaN(string device, ReduceOp op, DType dtype)
    {
        using var h = new Harness(device, nameof(Reduce_WithNaNAndInfinities_PropagatesNaNAndArgPicksFirstNaN), op, dtype);
        double nan = double.NaN, inf = double.PositiveInfinity;
        double[][] rows =
        [
            [nan, 1, 2, 3, 4],
            [1, 2, 3, 4, nan],
            [1, nan, 5, nan, 0],
            [inf, 1, -inf, 2, 2],
            [-inf, -inf, -inf, -inf, -inf],
            [inf, inf, 3, inf, -inf],
            [2, 2, 1, 2, 1],
            [-0.0, 0, -1, 1, -1],
        ];
        // Rows along the reduced axis, once as [rows, 5, 1] and once transposed as [1, 5, rows].
        var flat = rows.SelectMany(r => r).ToArray();
        RunReduce(h, op, dtype, [rows.Length, 5, 1], _ => 0, LayoutSpec.Contiguous, flat);
        var transposed = Enumerable.Range(0, 5).SelectMany(j => rows.Select(r => r[j])).ToArray();
        RunReduce(h, op, dtype, [1, 5, rows.Length], _ => 0, LayoutSpec.Narrowed, transposed);
        var values = Values.WithSpecials(Values.OneOf(-1, 0, 1, 2), 0.1, nan, inf, -inf);
        foreach (var shape in AxisShapes(h.Rng, allowEmptyAxis: op == ReduceOp.Sum, 6))
            RunReduce(h, op, dtype, shape, values);
        h.AssertAllPassed();
    }

    [Theory]
    [MemberData(nameof(DeviceByDType))]
    public void Reduce_SumOverEmptyAxis_WritesZeros(string device, DType dtype)
    {
        using var h = new Harness(device, nameof(Reduce_SumOverEmptyAxis_WritesZeros), dtype);
        foreach (var shape in new[] { new[] { 1, 0, 1 }, [3, 0, 2], [0, 0, 3], [2, 0, 5] })
            RunReduce(h, ReduceOp.Sum, dtype, shape, Values.Uniform(-1, 1), LayoutSpec.Any(h.Rng, input: true));
        h.AssertAllPassed();
    }

    // ------------------------------------------------------------------ Softmax

    private static Func<int[], double, double> SoftmaxTolerance(bool log, DType dtype, int n)
    {
        double c = (dtype == DType.Float32 ? 4e-6 : 1e-13) * Math.Sqrt(n + 1);
        double floor = dtype == DType.Float32 ? 1e-7 : 1e-15;
        return log ? (_, r) => c * (1 + Math.Abs(r)) : (_, r) => c * Math.Abs(r) + floor;
    }

    [Theory]
    [MemberData(nameof(SoftmaxCases))]
    public void Softmax_AlongMiddleAxisOfStridedViews_MatchesReference(string device, bool log, DType dtype)
    {
        using var h = new Harness(device, nameof(Softmax_AlongMiddleAxisOfStridedViews_MatchesReference), log, dtype);
        int k = 0;
        foreach (var shape in AxisShapes(h.Rng, allowEmptyAxis: true, RandomCases))
        {
            var values = k++ % 3 == 2 ? Values.Uniform(-30, 30) : Values.Uniform(-5, 5);
            var x = h.Input("x", dtype, shape, LayoutSpec.Any(h.Rng, input: true), values);
            var y = h.Output("y", dtype, shape, LayoutSpec.Any(h.Rng, input: false));
            h.Case($"{(log ? "LogSoftmax" : "Softmax")} {dtype.Name()}: {x}; {y}",
                () => h.Backend.Softmax(x.View, y.View, log),
                () => ReferenceOps.Softmax(x.Host, y.Host, log),
                y, SoftmaxTolerance(log, dtype, shape[1]), i => Row(x, i));
        }
        h.AssertAllPassed();
    }

    [Theory]
    [MemberData(nameof(SoftmaxCases))]
    public void Softmax_ExtremeAndNegativeInfiniteLogits_StayStable(string device, bool log, DType dtype)
    {
        using var h = new Harness(device, nameof(Softmax_ExtremeAndNegativeInfiniteLogits_StayStable), log, dtype);
        double inf = double.PositiveInfinity;
        double[][] rows =
        [
            [1e4, -1e4, 0, 1],
            [-1e4, -1e4, -1e4, -1e4],
            [1e4, 1e4, 9999, 0],
            [-inf, 0, 1, 2],
            [-inf, -inf, 5, -inf],
            [100, 200, 300, 400],
            [-1e4, -inf, -9999, -9998],
            [88, 89, 90, -88],
        ];
        var flat = rows.SelectMany(r => r).ToArray();
        var transposed = Enumerable.Range(0, 4).SelectMany(j => rows.Select(r => r[j])).ToArray();
        foreach (var (shape, values, layout) in new[] { (new[] { rows.Length, 4, 1 }, flat, LayoutSpec.Contiguous), ([1, 4, rows.Length], transposed, LayoutSpec.Narrowed) })
        {
            var x = h.InputFrom("x", dtype, shape, layout, values);
            var y = h.Output("y", dtype, shape, LayoutSpec.Any(h.Rng, input: false));
            h.Case($"{(log ? "LogSoftmax" : "Softmax")} {dtype.Name()} of logits ±1e4 and −∞: {x}; {y}",
                () => h.Backend.Softmax(x.View, y.View, log),
                () => ReferenceOps.Softmax(x.Host, y.Host, log),
                y, SoftmaxTolerance(log, dtype, 4), i => Row(x, [i[0], i[2]]));
        }
        h.AssertAllPassed();
    }
}
