namespace GpuNet.Tests.Perf;

/// <summary>The fused SGD-with-momentum step equals PyTorch's formula, dense or strided, on every device.</summary>
public sealed class SgdMomentumStepTests
{
    public static TheoryData<string, DType, bool, double, bool> Cases()
    {
        var data = new TheoryData<string, DType, bool, double, bool>();
        foreach (var device in new[] { "cpu", "ilgpu-cpu" })
            foreach (var dtype in new[] { DType.Float32, DType.Float64 })
                foreach (bool transposed in new[] { false, true })
                    foreach (var (wd, nesterov) in new[] { (0.0, false), (0.05, false), (0.0, true), (0.05, true) })
                        data.Add(device, dtype, transposed, wd, nesterov);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TwoSteps_MatchTheFormula(string device, DType dtype, bool transposed, double weightDecay, bool nesterov)
    {
        var dev = Device.Get(device);
        using var scope = Tensor.NewScope();
        const int rows = 37, cols = 29; // odd sizes: block tails
        var p0 = Tensor.Randn([rows, cols], seed: 1, dtype: dtype, device: dev);
        var g1 = Tensor.Randn([rows, cols], seed: 2, dtype: dtype, device: dev);
        var g2 = Tensor.Randn([rows, cols], seed: 3, dtype: dtype, device: dev);
        // Nesterov needs zero dampening (PyTorch's rule); the plain cases keep one to check it is applied.
        double lr = 0.1, mu = 0.9, tau = nesterov ? 0 : 0.25;
        var p = transposed ? p0.T.Contiguous().T : p0.Clone();
        var b = Tensor.Zeros([rows, cols], dtype, dev);
        Functional.SgdMomentumStep(p, g1, b, new Kernels.SgdParameters(lr, mu, tau, FirstStep: true, weightDecay, nesterov));
        Functional.SgdMomentumStep(p, g2, b, new Kernels.SgdParameters(lr, mu, tau, FirstStep: false, weightDecay, nesterov));

        double[] P = p0.To(DType.Float64).ToArray<double>(), G1 = g1.To(DType.Float64).ToArray<double>(), G2 = g2.To(DType.Float64).ToArray<double>();
        var gotP = p.To(DType.Float64).ToArray<double>();
        var gotB = b.To(DType.Float64).ToArray<double>();
        double tol = dtype == DType.Float32 ? 1e-5 : 1e-12;
        for (int i = 0; i < P.Length; i++)
        {
            double param = P[i];
            double d = G1[i] + weightDecay * param;
            double buf = d;
            param -= lr * (nesterov ? d + mu * buf : buf);
            d = G2[i] + weightDecay * param;
            buf = mu * buf + (1 - tau) * d;
            param -= lr * (nesterov ? d + mu * buf : buf);
            Assert.Equal(buf, gotB[i], tol);
            Assert.Equal(param, gotP[i], tol);
        }
    }

    [Theory]
    [InlineData("sgd", DType.Float32)]
    [InlineData("sgd", DType.Float64)]
    [InlineData("adam", DType.Float32)]
    [InlineData("adam", DType.Float64)]
    public void LargeParameters_ThreadedStep_EqualsTheComposedBody(string optimizer, DType dtype)
    {
        // 301 × 257 is past both threading thresholds; the transposed copy is not contiguous, so the
        // managed backend sends it through ComposedOps instead of the threaded fused kernel.
        using var scope = Tensor.NewScope();
        const int rows = 301, cols = 257;
        var dense = Tensor.Randn([rows, cols], seed: 5, dtype: dtype);
        var strided = dense.T.Contiguous().T;
        Assert.False(strided.IsContiguous);
        var state = new[] { Tensor.Zeros([rows, cols], dtype), Tensor.Zeros([rows, cols], dtype), Tensor.Zeros([rows, cols], dtype), Tensor.Zeros([rows, cols], dtype) };
        for (int step = 1; step <= 3; step++)
        {
            var g = Tensor.Randn([rows, cols], seed: 10 + step, dtype: dtype);
            if (optimizer == "sgd")
            {
                Functional.SgdMomentumStep(dense, g, state[0], 0.1, 0.9, 0.1, firstStep: step == 1);
                Functional.SgdMomentumStep(strided, g, state[1], 0.1, 0.9, 0.1, firstStep: step == 1);
            }
            else
            {
                var hp = new Kernels.AdamParameters(1e-2, 0.9, 0.999, 1e-8, 0.01, true, step);
                Functional.AdamStep(dense, g, state[0], state[2], hp);
                Functional.AdamStep(strided, g, state[1], state[3], hp);
            }
        }
        var a = dense.To(DType.Float64).ToArray<double>();
        var b = strided.To(DType.Float64).ToArray<double>();
        double tol = dtype == DType.Float32 ? 1e-6 : 1e-14;
        for (int i = 0; i < a.Length; i++)
            Assert.True(Math.Abs(a[i] - b[i]) <= tol * Math.Max(1, Math.Abs(a[i])), $"{optimizer} {dtype.Name()}: element {i}: fused {a[i]:R}, composed {b[i]:R}");
    }
}
