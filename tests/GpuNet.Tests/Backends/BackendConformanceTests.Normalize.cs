using GpuNet.Kernels;
using Xunit;

namespace GpuNet.Tests.Backends;

// Normalize and NormalizeBackward (LayerNorm's rows, BatchNorm's columns as a transposed view) on every
// device, and on the reference device, which runs the interface's composed default bodies, against double
// references written here from the definitions.
public sealed partial class BackendConformanceTests
{
    public static TheoryData<string, DType> NormalizeCases()
    {
        var data = new TheoryData<string, DType>();
        foreach (var dev in BackendDevices.Names.Append("reference"))
            foreach (var dt in Floating) data.Add(dev, dt);
        return data;
    }

    // (rows, n): one element, short rows, long rows (past the managed backend's 512-element chunks), many short rows
    // (BatchNorm-like), no rows.
    private static readonly (int Rows, int N)[] NormalizeSizes = [(1, 1), (3, 5), (4, 33), (2, 1100), (40, 3), (600, 2), (0, 4)];

    // Case s: every operand's rows dense (LayerNorm), every operand's rows as columns of a row-major matrix
    // (BatchNorm's transposed view), or each operand in a random layout.
    private static LayoutSpec NormalizeLayout(int s, Random rng, bool input) => (s % 3) switch
    {
        0 => LayoutSpec.Contiguous,
        1 => new LayoutSpec(Order: [1, 0]),
        _ => LayoutSpec.Any(rng, input),
    };

    [Theory]
    [MemberData(nameof(NormalizeCases))]
    public void Normalize_StatisticsAndOutput_MatchReference(string device, DType dtype)
    {
        using var h = new Harness(device, nameof(Normalize_StatisticsAndOutput_MatchReference), dtype);
        const double epsilon = 1e-5;
        int s = 0;
        foreach (var (rows, n) in NormalizeSizes)
        {
            // Values off-centre so the mean matters.
            var x = h.Input("x", dtype, [rows, n], NormalizeLayout(s, h.Rng, input: true), Values.Uniform(2, 8));
            var y = h.Output("y", dtype, [rows, n], NormalizeLayout(s++, h.Rng, input: false));
            var mean = h.Output("mean", dtype, [rows], LayoutSpec.Any(h.Rng, input: false));
            var rstd = h.Output("rstd", dtype, [rows], LayoutSpec.Any(h.Rng, input: false));
            double c = dtype == DType.Float32 ? 4e-6 : 1e-13;
            string what = $"Normalize {dtype.Name()} rows {rows} n {n}: {x}; {y}; {mean}; {rstd}";
            // mean = Σx/n, var = Σ(x − mean)²/n, rstd = 1/√(var + ε), y = (x − mean)·rstd
            h.Case(what,
                () => h.Backend.Normalize(x.View, y.View, mean.View, rstd.View, epsilon),
                () =>
                {
                    for (int r = 0; r < rows; r++)
                    {
                        double m = 0, v = 0;
                        for (int j = 0; j < n; j++) m += x.Host[r, j];
                        m /= n;
                        for (int j = 0; j < n; j++) v += (x.Host[r, j] - m) * (x.Host[r, j] - m);
                        double rs = 1 / Math.Sqrt(v / n + epsilon);
                        mean.Host[[r]] = m;
                        rstd.Host[[r]] = rs;
                        for (int j = 0; j < n; j++) y.Host[r, j] = (x.Host[r, j] - m) * rs;
                    }
                },
                y, (_, r) => c * (1 + Math.Abs(r)) * Math.Sqrt(n + 1) * 4);
            h.Compare(what + " (mean)", mean, h.Download(mean.Buffer, mean.Host.Data.Length), (_, r) => c * (1 + Math.Abs(r)) * Math.Sqrt(n + 1), null);
            h.Compare(what + " (rstd)", rstd, h.Download(rstd.Buffer, rstd.Host.Data.Length), (_, r) => c * Math.Abs(r) * (n + 1) * 4, null);
        }
        h.AssertAllPassed();
    }

    [Theory]
    [MemberData(nameof(NormalizeCases))]
    public void NormalizeBackward_ClosedForm_MatchesReference(string device, DType dtype)
    {
        using var h = new Harness(device, nameof(NormalizeBackward_ClosedForm_MatchesReference), dtype);
        int s = 0;
        foreach (var (rows, n) in NormalizeSizes)
        {
            var g = h.Input("grad", dtype, [rows, n], NormalizeLayout(s, h.Rng, input: true), Values.Uniform(-1, 1));
            var xhat = h.Input("normalized", dtype, [rows, n], NormalizeLayout(s, h.Rng, input: true), Values.Uniform(-2, 2));
            var rstd = h.Input("rstd", dtype, [rows], LayoutSpec.Any(h.Rng, input: true), Values.Uniform(0.2, 3));
            var dx = h.Output("dx", dtype, [rows, n], NormalizeLayout(s++, h.Rng, input: false));
            double c = dtype == DType.Float32 ? 4e-6 : 1e-13;
            // dx = rstd·(g − mean(g) − ŷ·mean(g·ŷ)), means over the row
            h.Case($"NormalizeBackward {dtype.Name()} rows {rows} n {n}: {g}; {xhat}; {rstd}; {dx}",
                () => h.Backend.NormalizeBackward(g.View, xhat.View, rstd.View, dx.View),
                () =>
                {
                    for (int r = 0; r < rows; r++)
                    {
                        double mg = 0, mgh = 0;
                        for (int j = 0; j < n; j++)
                        {
                            mg += g.Host[r, j];
                            mgh += g.Host[r, j] * xhat.Host[r, j];
                        }
                        mg /= n;
                        mgh /= n;
                        for (int j = 0; j < n; j++) dx.Host[r, j] = rstd.Host[[r]] * (g.Host[r, j] - mg - xhat.Host[r, j] * mgh);
                    }
                },
                dx, (_, r) => c * (1 + Math.Abs(r)) * Math.Sqrt(n + 1) * 8);
        }
        h.AssertAllPassed();
    }
}
