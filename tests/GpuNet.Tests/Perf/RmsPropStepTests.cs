using GpuNet.Kernels;

namespace GpuNet.Tests.Perf;

/// <summary>
/// The fused RMSProp step against PyTorch's formula in double, on every device, dense (the one-pass
/// kernels, threaded when large) and strided (the composed body), plain, centered, with momentum and
/// with weight decay; and its flush of subnormal state.
/// </summary>
public sealed class RmsPropStepTests
{
    public static TheoryData<string, DType, string, bool, double, double> Cases()
    {
        var data = new TheoryData<string, DType, string, bool, double, double>();
        foreach (var device in new[] { "cpu", "ilgpu-cpu" })
            foreach (var dtype in new[] { DType.Float32, DType.Float64 })
                foreach (var layout in new[] { "dense", "strided", "large" })
                    foreach (var (centered, momentum, wd) in new[] { (false, 0.0, 0.0), (true, 0.0, 0.0), (false, 0.9, 0.0), (true, 0.9, 0.05) })
                        if (layout != "large" || device == "cpu") // the simulator is slow; large only matters for the managed threads
                            data.Add(device, dtype, layout, centered, momentum, wd);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TwoSteps_MatchTheFormula(string device, DType dtype, string layout, bool centered, double momentum, double weightDecay)
    {
        var dev = Device.Get(device);
        using var scope = Tensor.NewScope();
        (int rows, int cols) = layout == "large" ? (301, 257) : (37, 29);
        var p0 = Tensor.Randn([rows, cols], seed: 1, dtype: dtype, device: dev);
        var g1 = Tensor.Randn([rows, cols], seed: 2, dtype: dtype, device: dev);
        var g2 = Tensor.Randn([rows, cols], seed: 3, dtype: dtype, device: dev);
        Tensor State() => layout == "strided" ? Tensor.Zeros([cols, rows], dtype, dev).T : Tensor.Zeros([rows, cols], dtype, dev);
        var p = layout == "strided" ? p0.T.Contiguous().T : p0.Clone();
        var s = State();
        var a = centered ? State() : null;
        var b = momentum > 0 ? State() : null;
        var hp = new RmsPropParameters(LearningRate: 0.01, Alpha: 0.9, Epsilon: 1e-8, weightDecay, momentum, centered);
        Functional.RmsPropStep(p, g1, s, a, b, hp);
        Functional.RmsPropStep(p, g2, s, a, b, hp);

        double[] P = p0.To(DType.Float64).ToArray<double>(), G1 = g1.To(DType.Float64).ToArray<double>(), G2 = g2.To(DType.Float64).ToArray<double>();
        var gotP = p.To(DType.Float64).ToArray<double>();
        var gotS = s.To(DType.Float64).ToArray<double>();
        double tol = dtype == DType.Float32 ? 2e-5 : 1e-11;
        for (int i = 0; i < P.Length; i++)
        {
            double param = P[i], sq = 0, avg = 0, buf = 0;
            foreach (double g in new[] { G1[i], G2[i] })
            {
                double d = g + weightDecay * param;
                sq = 0.9 * sq + 0.1 * d * d;
                double den = centered ? Math.Sqrt(sq - Sq(avg = 0.9 * avg + 0.1 * d)) : Math.Sqrt(sq);
                double r = d / (den + 1e-8);
                if (momentum > 0) r = buf = momentum * buf + r;
                param -= 0.01 * r;
            }
            Assert.True(Math.Abs(sq - gotS[i]) <= tol * Math.Max(1, sq), $"square[{i}]: expected {sq:R}, got {gotS[i]:R}");
            Assert.True(Math.Abs(param - gotP[i]) <= tol * Math.Max(1, Math.Abs(param)), $"param[{i}]: expected {param:R}, got {gotP[i]:R}");
        }
    }

    private static double Sq(double x) => x * x;

    [Theory]
    [InlineData("cpu", false)]
    [InlineData("cpu", true)]
    [InlineData("ilgpu-cpu", false)]
    public void SubnormalState_IsStoredAsZero(string device, bool strided)
    {
        var dev = Device.Get(device);
        using var scope = Tensor.NewScope();
        double[] values = [1e-39, 0.5, 2e-38];
        Tensor Column(double[] v)
        {
            var t = Tensor.FromArray(v, [v.Length], dev).To(DType.Float32);
            if (!strided) return t;
            var column = Tensor.Zeros([v.Length, 2], DType.Float32, dev).Narrow(1, 0, 1).Squeeze(1);
            column.CopyFrom(t);
            return column;
        }
        var s = Column(values);
        var a = Column(values);
        var b = Column(values);
        var p = Column([1, 1, 1]);
        var g = Tensor.Zeros([3], DType.Float32, dev);
        Functional.RmsPropStep(p, g, s, a, b, new RmsPropParameters(0.01, 0.99, 1e-8, 0, 0.9, Centered: true));
        foreach (var (name, t, scale) in new[] { ("square", s, 0.99), ("gradAvg", a, 0.99) })
        {
            var got = t.ToArray<float>();
            Assert.True(got[0] == 0, $"{name}[0]: the subnormal {0.99e-39} should be stored as 0, got {got[0]:R}");
            Assert.Equal((float)(scale * 0.5), got[1], 1e-7);
            Assert.Equal((float)(scale * 2e-38), got[2], 1e-45f);
        }
        Assert.True(b.ToArray<float>()[0] == 0, "buffer[0] should be stored as 0");
    }
}
