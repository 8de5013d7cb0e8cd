using GpuNet.Kernels;
using Xunit;

namespace GpuNet.Tests.Managed;

public class ManagedReduceTests
{
    private static double RefReduce(ReduceOp op, double[] v)
    {
        switch (op)
        {
            case ReduceOp.Sum: return v.Sum();
            case ReduceOp.Max: return v.Any(double.IsNaN) ? double.NaN : v.Max();
            case ReduceOp.Min: return v.Any(double.IsNaN) ? double.NaN : v.Min();
            default:
                int firstNaN = Array.FindIndex(v, double.IsNaN);
                if (firstNaN >= 0) return firstNaN;
                return Array.IndexOf(v, op == ReduceOp.ArgMax ? v.Max() : v.Min());
        }
    }

    public static TheoryData<ReduceOp, int> Cases()
    {
        var d = new TheoryData<ReduceOp, int>();
        foreach (var op in Enum.GetValues<ReduceOp>())
            for (int layout = 0; layout < 3; layout++) d.Add(op, layout);
        return d;
    }

    /// <summary>layout 0: reduce the last axis (dense rows); 1: a leading axis (dense inner rows); 2: a transposed, strided view.</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesReferenceOnEveryLayout(ReduceOp op, int layout)
    {
        int outer = 3, n = 37, inner = 11;
        var data = M.RandomDoubles(outer * n * inner * 2, 5, -4, 4).Select(v => Math.Round(v, 1)).ToArray(); // ties for the Arg ops
        data[7] = double.NaN;
        int[] strides = layout switch
        {
            0 => [n * inner, 1, n],           // n contiguous
            1 => [n * inner, inner, 1],       // inner contiguous
            _ => [2, 2 * outer * inner, 2 * outer], // everything strided
        };
        bool arg = op is ReduceOp.ArgMax or ReduceOp.ArgMin;
        foreach (var dt in new[] { DType.Float32, DType.Float64, DType.Int32 })
        {
            double[] host = dt switch
            {
                DType.Float32 => data.Select(v => (double)(float)v).ToArray(),
                DType.Float64 => data,
                _ => data.Select(v => double.IsNaN(v) ? 0 : Math.Round(v * 10)).ToArray(),
            };
            DeviceBuffer x = dt switch
            {
                DType.Float32 => M.Buf(host.Select(v => (float)v).ToArray()),
                DType.Float64 => M.Buf(host),
                _ => M.Buf(host.Select(v => (int)v).ToArray()),
            };
            var yb = arg ? M.Empty<int>(outer * inner) : M.B.Allocate(dt, outer * inner);
            M.B.Reduce(op, M.V(x, [outer, n, inner], strides), M.V(yb, [outer, inner]));
            double[] got = arg || dt == DType.Int32 ? M.Read<int>(yb).Select(v => (double)v).ToArray()
                : dt == DType.Float32 ? M.Read<float>(yb).Select(v => (double)v).ToArray() : M.Read<double>(yb);
            for (int o = 0; o < outer; o++)
                for (int i = 0; i < inner; i++)
                {
                    var row = Enumerable.Range(0, n).Select(j => host[M.At(strides, 0, o, j, i)]).ToArray();
                    M.Close(RefReduce(op, row), got[o * inner + i], dt == DType.Float32 ? 2e-5 : 1e-12, $"{op} {dt} layout {layout} at [{o},{i}]");
                }
        }
    }

    [Fact]
    public void ArgMaxReturnsTheFirstOfTiesAndNaNCountsAsMax()
    {
        var x = M.Buf(new[] { 1f, 5f, 5f, 2f, /* row 2 */ 1f, float.NaN, 9f, float.NaN });
        var y = M.Empty<int>(2);
        M.B.Reduce(ReduceOp.ArgMax, M.V(x, [2, 4, 1]), M.V(y, [2, 1]));
        Assert.Equal(new[] { 1, 1 }, M.Read<int>(y));
        M.B.Reduce(ReduceOp.ArgMin, M.V(x, [2, 4, 1]), M.V(y, [2, 1]));
        Assert.Equal(new[] { 0, 1 }, M.Read<int>(y));
        var m = M.Empty<float>(2);
        M.B.Reduce(ReduceOp.Max, M.V(x, [2, 4, 1]), M.V(m, [2, 1]));
        Assert.Equal(5f, M.Read<float>(m)[0]);
        Assert.True(float.IsNaN(M.Read<float>(m)[1]));
    }

    [Fact]
    public void EmptyAxisSumsToZeroAndOtherwiseThrows()
    {
        var x = M.Empty<float>(0);
        var y = M.Empty<float>(3);
        M.B.Fill(M.V(y, [3]), 5);
        M.B.Reduce(ReduceOp.Sum, M.V(x, [3, 0, 1]), M.V(y, [3, 1]));
        Assert.Equal(new float[3], M.Read<float>(y));
        Assert.Contains("Max", Assert.Throws<ArgumentException>(() => M.B.Reduce(ReduceOp.Max, M.V(x, [3, 0, 1]), M.V(y, [3, 1]))).Message);
    }

    [Fact]
    public void LongFloatSumsKeepAccuracyAndParallelSplitsAgree()
    {
        int n = 1 << 20;
        var data = M.RandomFloats(n * 2, 11, 0, 1);
        var x = M.Buf(data);
        var y = M.Empty<float>(2);
        M.B.Reduce(ReduceOp.Sum, M.V(x, [1, 2 * n, 1]), M.V(y, [1, 1]));
        double expect = data.Sum(v => (double)v);
        M.Close(expect, M.Read<float>(y)[0], 1e-6, "sum of 2M floats");
        // Leading-axis reduction big enough to be split across threads.
        M.B.Reduce(ReduceOp.Sum, M.V(x, [1, n, 2]), M.V(y, [1, 2]));
        var got = M.Read<float>(y);
        for (int i = 0; i < 2; i++)
        {
            double e = 0;
            for (int j = 0; j < n; j++) e += data[j * 2 + i];
            M.Close(e, got[i], 1e-4, $"column {i}");
        }
    }
}
