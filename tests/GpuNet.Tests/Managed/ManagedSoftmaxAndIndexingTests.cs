using GpuNet.Kernels;
using Xunit;

namespace GpuNet.Tests.Managed;

public class ManagedSoftmaxAndIndexingTests
{
    private static double[] RefSoftmax(double[] x, bool log)
    {
        double m = x.Max();
        double s = x.Sum(v => Math.Exp(v - m));
        return x.Select(v => log ? v - m - Math.Log(s) : Math.Exp(v - m) / s).ToArray();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void StableWithLargeLogitsOnBothLayouts(bool log)
    {
        int outer = 2, n = 700, inner = 3;
        var data = M.RandomDoubles(outer * n * inner, 4, -5, 5).Select(v => v + 1000).ToArray(); // exp(1000) overflows naively
        data[10] = double.NegativeInfinity;
        foreach (bool dbl in new[] { false, true })
        {
            var host = dbl ? data : data.Select(v => (double)(float)v).ToArray();
            DeviceBuffer x = dbl ? M.Buf(host) : M.Buf(host.Select(v => (float)v).ToArray());
            DeviceBuffer y = dbl ? M.Empty<double>(host.Length) : M.Empty<float>(host.Length);
            // [outer, n, inner] with inner > 1: the softmax axis is strided.
            M.B.Softmax(M.V(x, [outer, n, inner]), M.V(y, [outer, n, inner]), log);
            var got = dbl ? M.Read<double>(y) : M.Read<float>(y).Select(v => (double)v).ToArray();
            for (int o = 0; o < outer; o++)
                for (int i = 0; i < inner; i++)
                {
                    var row = Enumerable.Range(0, n).Select(j => host[(o * n + j) * inner + i]).ToArray();
                    var want = RefSoftmax(row, log);
                    for (int j = 0; j < n; j++)
                    {
                        double g = got[(o * n + j) * inner + i];
                        Assert.False(double.IsNaN(g), $"NaN at [{o},{j},{i}]");
                        M.Close(want[j], g, dbl ? 1e-12 : 2e-5, $"softmax(log={log}, double={dbl}) [{o},{j},{i}]");
                    }
                }
            // Dense rows, in place.
            M.B.Softmax(M.V(x, [1, host.Length, 1]), M.V(x, [1, host.Length, 1]), log);
            var inPlace = dbl ? M.Read<double>(x) : M.Read<float>(x).Select(v => (double)v).ToArray();
            var wantAll = RefSoftmax(host, log);
            for (int j = 0; j < host.Length; j++) M.Close(wantAll[j], inPlace[j], dbl ? 1e-12 : 2e-5, $"in-place softmax {j}");
        }
    }

    [Fact]
    public void FullyMaskedRowGivesNaNLikePyTorch()
    {
        var x = M.Buf(new[] { float.NegativeInfinity, float.NegativeInfinity, 0f, float.NegativeInfinity });
        var y = M.Empty<float>(4);
        M.B.Softmax(M.V(x, [2, 2, 1]), M.V(y, [2, 2, 1]), false);
        var got = M.Read<float>(y);
        Assert.True(float.IsNaN(got[0]) && float.IsNaN(got[1]));
        Assert.Equal(new[] { 1f, 0f }, got[2..]);
        M.B.Softmax(M.V(x, [2, 2, 1]), M.V(y, [2, 2, 1]), true);
        Assert.Equal(new[] { 0f, float.NegativeInfinity }, M.Read<float>(y)[2..]);
    }

    [Fact]
    public void GatherPicksAlongTheMiddleAxis()
    {
        // x = [2, 3, 2], index = [2, 2, 2]
        var x = M.Buf(Enumerable.Range(0, 12).Select(v => (double)v).ToArray());
        var idx = M.Buf(new[] { 2, 0, 1, 1, /* o=1 */ 0, 2, 2, 2 });
        var y = M.Empty<double>(8);
        M.B.Gather(M.V(x, [2, 3, 2]), M.V(idx, [2, 2, 2]), M.V(y, [2, 2, 2]));
        Assert.Equal(new double[] { 4, 1, 2, 3, 6, 11, 10, 11 }, M.Read<double>(y));
        var bad = M.Buf(new[] { 3, 0, 0, 0, 0, 0, 0, 0 });
        Assert.Contains("Gather", Assert.Throws<ArgumentOutOfRangeException>(() => M.B.Gather(M.V(x, [2, 3, 2]), M.V(bad, [2, 2, 2]), M.V(y, [2, 2, 2]))).Message);
    }

    [Fact]
    public void GatherOfWholeRows_LargeEnoughToThread_CopiesEveryRowAndStillChecksRanges()
    {
        // 600 rows of 97 from a [1000, 97] table, in a shuffled order with repeats: the DataLoader's gather, split across threads.
        const int n = 1000, m = 600, inner = 97;
        var table = M.RandomFloats(n * inner, 5);
        var rng = new Random(6);
        var rows = Enumerable.Range(0, m).Select(_ => rng.Next(n)).ToArray();
        var x = M.Buf(table);
        var idx = M.Buf(rows);
        var y = M.Empty<float>((long)m * inner);
        M.B.Gather(M.V(x, [1, n, inner]), M.V(idx, [1, m, inner], [0, 1, 0]), M.V(y, [1, m, inner]));
        var got = M.Read<float>(y);
        for (int j = 0; j < m; j++)
            for (int i = 0; i < inner; i++)
                Assert.Equal(table[rows[j] * inner + i], got[j * inner + i]);
        rows[m - 3] = n; // one bad index in the last thread's share
        var bad = M.Buf(rows);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => M.B.Gather(M.V(x, [1, n, inner]), M.V(bad, [1, m, inner], [0, 1, 0]), M.V(y, [1, m, inner])));
        Assert.Contains($"index {n}", e.Message);
    }

    [Fact]
    public void ScatterAddAccumulatesDuplicatesDeterministically()
    {
        // One-hot style: src [1, 5, 1] into y [1, 3, 1] with duplicate targets.
        var src = M.Buf(new[] { 1f, 1e8f, 1f, -1e8f, 1f });
        var idx = M.Buf(new[] { 0, 2, 0, 2, 2 });
        var y = M.Buf(new[] { 10f, 20f, 30f });
        M.B.ScatterAdd(M.V(src, [1, 5, 1]), M.V(idx, [1, 5, 1]), M.V(y, [1, 3, 1]));
        // j ascending: 30 + 1e8 − 1e8 + 1 in float = 1 (30 is lost in 1e8's rounding), every time.
        Assert.Equal(new[] { 12f, 20f, ((30f + 1e8f) + -1e8f) + 1f }, M.Read<float>(y));
        var yi = M.Buf(new[] { 0, 0, 0, 0 });
        M.B.ScatterAdd(M.V(M.Buf(new[] { 1, 2, 3, 4 }), [2, 2, 1]), M.V(M.Buf(new[] { 1, 1, 0, 1 }), [2, 2, 1]), M.V(yi, [2, 2, 1]));
        Assert.Equal(new[] { 0, 3, 3, 4 }, M.Read<int>(yi));
    }
}
