using GpuNet.Kernels;
using GpuNet.Tests.Backends;

namespace GpuNet.Tests.Perf;

/// <summary>
/// <see cref="IBackend.ActivationBackward"/> (dz = g ⊙ act′(y) and the bias gradient in one pass)
/// against a plain double reference, on every device: dense rows (the fused pass, threaded when
/// large), strided rows (the composed body), with and without a bias, both dtypes, and dz written
/// into g itself (a layer's backward reuses a spare incoming gradient).
/// </summary>
public sealed class ActivationBackwardTests
{
    public static TheoryData<string, DType, Activation, string> Cases()
    {
        var data = new TheoryData<string, DType, Activation, string>();
        foreach (var device in BackendDevices.Names)
            foreach (var dtype in new[] { DType.Float32, DType.Float64 })
                foreach (var act in Enum.GetValues<Activation>())
                    foreach (var layout in new[] { "dense", "strided", "large", "wide", "no-bias", "in-place", "strided-in-place" })
                        data.Add(device, dtype, act, layout);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheReference(string deviceName, DType dtype, Activation activation, string layout)
    {
        var dev = BackendDevices.Resolve(deviceName);
        using var scope = Tensor.NewScope();
        // 37 × 29: vector bodies and scalar tails; 600 × 450 crosses the threading threshold; 3 × 2100
        // spans two of the managed kernel's 2048-column chunks of bias sums.
        (int rows, int features) = layout switch { "large" => (600, 450), "wide" => (3, 2100), _ => (37, 29) };
        var g = Tensor.Randn([rows, features], seed: 1, dtype: dtype, device: dev);
        var pre = Tensor.Randn([rows, features], seed: 2, dtype: dtype, device: dev);
        var y = activation switch
        {
            Activation.Relu => pre.Relu(),
            Activation.Sigmoid => pre.Sigmoid(),
            Activation.Tanh => pre.Tanh(),
            Activation.LeakyRelu => pre.LeakyRelu(),
            Activation.Elu => pre.Elu(),
            Activation.Softplus => (pre * 12).Softplus(), // both sides of the threshold 20
            _ => pre, // none, and the activations whose slope is taken of their input (GELU, SiLU)
        };
        if (layout.StartsWith("strided", StringComparison.Ordinal))
        {
            // Transposed copies: the rows are not dense, so the managed backend takes the composed body.
            g = g.T.Contiguous().T;
            y = y.T.Contiguous().T;
        }
        double[] G = g.To(DType.Float64).ToArray<double>(), Y = y.To(DType.Float64).ToArray<double>();
        var dz = layout.EndsWith("in-place", StringComparison.Ordinal) ? g
            : layout == "strided" ? Tensor.Zeros([features, rows], dtype, dev).T : Tensor.Zeros([rows, features], dtype, dev);
        var db = layout == "no-bias" ? null : Tensor.Full([features], double.NaN, dtype, dev); // must be overwritten, not accumulated
        dev.Backend.ActivationBackward(g.AsView(), y.AsView(), activation, dz.AsView(), db?.AsView());

        double[] gotDz = dz.To(DType.Float64).ToArray<double>();
        double[]? gotDb = db?.To(DType.Float64).ToArray<double>();
        double tol = dtype == DType.Float32 ? 1e-5 : 1e-12;
        var sums = new double[features];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < features; j++)
            {
                int i = r * features + j;
                double slope = activation switch
                {
                    Activation.Relu => Y[i] > 0 ? 1 : 0,
                    Activation.Sigmoid => Y[i] * (1 - Y[i]),
                    Activation.Tanh => 1 - Y[i] * Y[i],
                    Activation.LeakyRelu => Y[i] > 0 ? 1 : 0.01,
                    Activation.Elu => Y[i] > 0 ? 1 : Y[i] + 1, // α eˣ = y + α
                    Activation.Softplus => Y[i] > 20 ? 1 : 1 - Math.Exp(-Y[i]), // σ(x) = 1 − e^(−softplus x)
                    // Of the input z: Φ(z) + zφ(z); the tanh form's derivative; σ(z)(1 + z(1 − σ(z))).
                    Activation.Gelu => 0.5 * SpecialFunctions.Erfc(-Y[i] / Math.Sqrt(2)) + Y[i] * Math.Exp(-Y[i] * Y[i] / 2) / Math.Sqrt(2 * Math.PI),
                    Activation.GeluTanh => GeluTanhSlope(Y[i]),
                    Activation.Silu => 1 / (1 + Math.Exp(-Y[i])) * (1 + Y[i] * (1 - 1 / (1 + Math.Exp(-Y[i])))),
                    _ => 1,
                };
                double want = G[i] * slope;
                sums[j] += want;
                Assert.True(Math.Abs(want - gotDz[i]) <= tol * Math.Max(1, Math.Abs(want)), $"dz[{r},{j}]: expected {want:R}, got {gotDz[i]:R}");
            }
        if (gotDb is null) return;
        for (int j = 0; j < features; j++)
            Assert.True(Math.Abs(sums[j] - gotDb[j]) <= tol * rows * Math.Max(1, Math.Abs(sums[j])), $"biasGrad[{j}]: expected {sums[j]:R}, got {gotDb[j]:R}");
    }

    // d/dz of z/2·(1 + tanh u), u = √(2/π)(z + 0.044715z³): (1 + t)/2 + z/2·(1 − t²)·du/dz.
    private static double GeluTanhSlope(double z)
    {
        double k = Math.Sqrt(2 / Math.PI), t = Math.Tanh(k * (z + 0.044715 * z * z * z));
        return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * k * (1 + 3 * 0.044715 * z * z);
    }

    [Fact]
    public void MismatchedShapes_NameTheOp()
    {
        using var scope = Tensor.NewScope();
        var a = Tensor.Zeros([3, 4]);
        var b = Tensor.Zeros([4, 3]);
        var e = Assert.Throws<ArgumentException>(() => Device.Cpu.Backend.ActivationBackward(a.AsView(), b.AsView(), Activation.Relu, a.AsView(), null));
        Assert.Contains("ActivationBackward", e.Message);
        var bias = Tensor.Zeros([3]);
        e = Assert.Throws<ArgumentException>(() => Device.Cpu.Backend.ActivationBackward(a.AsView(), a.AsView(), Activation.Relu, a.AsView(), bias.AsView()));
        Assert.Contains("[4]", e.Message);
    }
}
