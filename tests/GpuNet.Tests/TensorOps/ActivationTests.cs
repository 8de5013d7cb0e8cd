using GpuNet.Kernels;
using GpuNet.Nn;

namespace GpuNet.Tests.TensorOps;

/// <summary>
/// erf, log1p, expm1 and the activations built on them, on every device and floating dtype, against
/// values computed independently: Python's math.erf / erfc / log1p / expm1 (double, after Cody and the C
/// library), and GELU's two formulas evaluated in double with them (x·erfc(−x/√2)/2 and
/// x/2·(1 + tanh(√(2/π)(x + 0.044715x³)))); the rest from their definitions written here.
/// </summary>
public sealed class ActivationTests
{
    private static readonly double[] s_erfX = [-6, -3.5, -2.5, -1.3, -0.5, -1e-3, 0, 1e-8, 0.25, 0.7, 1, 2.4999, 2.5, 3, 4.5, 6];

    // math.erf(x) for s_erfX
    private static readonly double[] s_erf =
    [
        -1.0, -0.9999992569016276, -0.999593047982555, -0.9340079449406524, -0.5204998778130465, -0.0011283787909692365, 0.0,
        1.1283791670955126e-08, 0.2763263901682369, 0.6778011938374184, 0.8427007929497149, 0.9995928300996666, 0.999593047982555,
        0.9999779095030014, 0.9999999998033839, 1.0,
    ];

    // math.erfc(x) for s_erfX
    private static readonly double[] s_erfc =
    [
        2.0, 1.9999992569016276, 1.999593047982555, 1.9340079449406524, 1.5204998778130465, 1.0011283787909693, 1.0,
        0.9999999887162083, 0.7236736098317631, 0.32219880616258156, 0.15729920705028513, 0.0004071699003334514, 0.0004069520174449589,
        2.2090496998585438e-05, 1.9661604415428873e-10, 2.1519736712498916e-17,
    ];

    private static readonly double[] s_geluX = [-8, -5, -3, -1.5, -0.5, 0, 0.3, 1, 2, 3.7, 6];

    // x * 0.5 * math.erfc(-x / math.sqrt(2)) in Python
    private static readonly double[] s_gelu =
    [
        -4.9767684594174555e-15, -1.4332578593959731e-06, -0.004049694094890287, -0.10021080190328713, -0.15426876936299344, 0.0,
        0.18537342665668577, 0.8413447460685429, 1.9544997361036416, 3.699601140986134, 5.999999994080474,
    ];

    // The tanh form in Python, written as x / (1 + math.exp(-2*u)), u = math.sqrt(2/math.pi)*(x + 0.044715*x**3)
    // (1 + tanh u = 2σ(2u); the tanh spelling loses the tail to cancellation even in double: 3e-10 relative at −5).
    private static readonly double[] s_geluTanh =
    [
        -3.107782937501113e-21, -2.2917961966295044e-07, -0.003637392081773019, -0.10042842301976705, -0.15428599017485609, 0.0,
        0.18537092354275925, 0.8411919906082768, 1.9545976940877752, 3.699728193978608, 5.9999999999156035,
    ];

    private static readonly double[] s_log1pX = [-0.9, -1e-5, 1e-12, 1e-5, 0.5, 3, 1e5];
    private static readonly double[] s_log1p = [-2.302585092994046, -1.0000050000333337e-05, 9.999999999995e-13, 9.999950000333332e-06, 0.4054651081081644, 1.3862943611198906, 11.51293546492023];
    private static readonly double[] s_expm1X = [-20, -1e-5, 1e-12, 1e-5, 0.5, 3, 50];
    private static readonly double[] s_expm1 = [-0.9999999979388464, -9.999950000166666e-06, 1.0000000000005e-12, 1.0000050000166668e-05, 0.6487212707001282, 19.085536923187668, 5.184705528587072e+21];

    [Fact]
    public void SpecialFunctions_MatchIndependentDoubleValues()
    {
        for (int i = 0; i < s_erfX.Length; i++)
        {
            Close(s_erf[i], SpecialFunctions.Erf(s_erfX[i]), 2e-15, $"erf({s_erfX[i]})");
            Close(s_erfc[i], SpecialFunctions.Erfc(s_erfX[i]), 4e-15, $"erfc({s_erfX[i]})");
        }
        // GELU far out (x = −8) inherits the rounding of x/√2 squared inside e^(−x²/2): ~32 ulp.
        for (int i = 0; i < s_geluX.Length; i++) Close(s_gelu[i], SpecialFunctions.Gelu(s_geluX[i]), 3e-14, $"gelu({s_geluX[i]})");
        for (int i = 0; i < s_geluX.Length; i++) Close(s_geluTanh[i], SpecialFunctions.GeluTanh(s_geluX[i]), 1e-14, $"gelu_tanh({s_geluX[i]})");
        for (int i = 0; i < s_log1pX.Length; i++) Close(s_log1p[i], SpecialFunctions.Log1p(s_log1pX[i]), 2e-15, $"log1p({s_log1pX[i]})");
        for (int i = 0; i < s_expm1X.Length; i++) Close(s_expm1[i], SpecialFunctions.Expm1(s_expm1X[i]), 2e-15, $"expm1({s_expm1X[i]})");

        static void Close(double want, double got, double rtol, string what) =>
            Assert.True(Math.Abs(want - got) <= rtol * Math.Abs(want) + 1e-300, $"{what}: expected {want:R}, got {got:R}");
    }

    public static TheoryData<string, DType> DeviceDTypes()
    {
        var data = new TheoryData<string, DType>();
        foreach (var d in Devices.Names) foreach (var t in new[] { DType.Float32, DType.Float64 }) data.Add(d, t);
        return data;
    }

    private static void Check(string device, DType dtype, string name, double[] xs, double[] want, Func<Tensor, Tensor> op)
    {
        using var scope = Tensor.NewScope();
        var x = Host.Make(new Ref([xs.Length], xs), dtype, Devices.Get(device));
        // Relative accuracy is the point (erfc and GELU far out in the tail, log1p/expm1 near 0): float to
        // 1e-5 relative (GELU's e^(−x²/2) at x = −8 inherits x²'s float rounding, ~3e-6), double to 1e-13.
        double rtol = dtype == DType.Float32 ? 1e-5 : 1e-13;
        var expected = dtype == DType.Float32 ? want.Select(v => (double)(float)v).ToArray() : want;
        Host.AssertClose(new Ref([xs.Length], expected), op(x), $"{name} {dtype.Name()} on {device}", dtype, atol: 1e-37, rtol: rtol);
    }

    [Theory, MemberData(nameof(DeviceDTypes))]
    public void Erf_Log1p_Expm1_MatchIndependentValues(string device, DType dtype)
    {
        Check(device, dtype, "Erf", s_erfX, s_erf, x => x.Erf());
        Check(device, dtype, "Log1p", s_log1pX, s_log1p, x => x.Log1p());
        Check(device, dtype, "Expm1", s_expm1X, s_expm1, x => x.Expm1());
    }

    [Theory, MemberData(nameof(DeviceDTypes))]
    public void Gelu_BothForms_MatchTheFormulasInDouble(string device, DType dtype)
    {
        Check(device, dtype, "Gelu", s_geluX, s_gelu, x => x.Gelu());
        Check(device, dtype, "Gelu(tanh)", s_geluX, s_geluTanh, x => x.Gelu("tanh"));
        using var scope = Tensor.NewScope();
        var e = Assert.Throws<ArgumentException>(() => Tensor.Zeros([2], dtype, Devices.Get(device)).Gelu("erf"));
        Assert.Contains("Gelu", e.Message);
        Assert.Contains("tanh", e.Message);
    }

    [Theory, MemberData(nameof(DeviceDTypes))]
    public void Silu_LeakyRelu_Elu_Softplus_MatchTheirDefinitions(string device, DType dtype)
    {
        double[] xs = [-30, -4, -1, -0.25, 0, 0.5, 2, 9.5, 10.5, 25];
        double Sigma(double v) => 1 / (1 + Math.Exp(-v));
        Check(device, dtype, "Silu", xs, xs.Select(v => v * Sigma(v)).ToArray(), x => x.Silu());
        Check(device, dtype, "LeakyRelu", xs, xs.Select(v => v > 0 ? v : 0.01 * v).ToArray(), x => x.LeakyRelu());
        Check(device, dtype, "LeakyRelu(0.2)", xs, xs.Select(v => v > 0 ? v : 0.2 * v).ToArray(), x => x.LeakyRelu(0.2));
        // e^x − 1 written as a series-free difference is fine in double away from 0 (|x| ≥ 0.25 here).
        Check(device, dtype, "Elu", xs, xs.Select(v => v > 0 ? v : Math.Exp(v) - 1).ToArray(), x => x.Elu());
        Check(device, dtype, "Elu(1.5)", xs, xs.Select(v => v > 0 ? v : 1.5 * (Math.Exp(v) - 1)).ToArray(), x => x.Elu(1.5));
        Check(device, dtype, "Softplus", xs, xs.Select(v => v > 20 ? v : Log1p(Math.Exp(v))).ToArray(), x => x.Softplus());
        // β = 2, threshold 20: linear from x = 10 on (9.5 is below, 10.5 above).
        Check(device, dtype, "Softplus(2)", xs, xs.Select(v => 2 * v > 20 ? v : Log1p(Math.Exp(2 * v)) / 2).ToArray(), x => x.Softplus(2));

        // ln(1 + u) = u − u²/2 + u³/3 − … to u⁹ for u < 0.01 (the rest is below 1e-18 relative), where 1 + u would round.
        static double Log1p(double u)
        {
            if (u >= 0.01) return Math.Log(1 + u);
            double sum = 0, power = 1;
            for (int k = 1; k <= 9; k++) { power *= -u; sum -= power / k; }
            return sum;
        }
    }

    [Fact]
    public void Softplus_Gradient_IsSigmoidBelowTheThreshold_AndOneAbove()
    {
        using var scope = Tensor.NewScope();
        var x = Tensor.FromArray(new[] { -3.0, 0.5, 9.9, 10.1 }, device: Device.Cpu).RequiresGrad_();
        var g = Autograd.Grad(x.Softplus(2, 20).Sum(), x);
        var got = g.ToArray<double>();
        double[] want = [1 / (1 + Math.Exp(6)), 1 / (1 + Math.Exp(-1)), 1 / (1 + Math.Exp(-19.8)), 1];
        for (int i = 0; i < 4; i++) Assert.True(Math.Abs(want[i] - got[i]) <= 1e-15, $"[{i}] {got[i]:R} vs {want[i]:R}");
        Assert.Throws<ArgumentException>(() => x.Softplus(0));
    }

    [Fact]
    public void Modules_ComputeTheirTensorMethods_AndFuseAfterLinear()
    {
        using var scope = Tensor.NewScope();
        var x = Tensor.Randn([5, 4], seed: 3, dtype: DType.Float64);
        (Module Module, Func<Tensor, Tensor> Method, Activation Fused)[] cases =
        [
            (new GELU(), t => t.Gelu(), Activation.Gelu),
            (new GELU("tanh"), t => t.Gelu("tanh"), Activation.GeluTanh),
            (new SiLU(), t => t.Silu(), Activation.Silu),
            (new LeakyReLU(), t => t.LeakyRelu(), Activation.LeakyRelu),
            (new LeakyReLU(0.3), t => t.LeakyRelu(0.3), Activation.None),
            (new ELU(), t => t.Elu(), Activation.Elu),
            (new ELU(0.5), t => t.Elu(0.5), Activation.None),
            (new Softplus(), t => t.Softplus(), Activation.Softplus),
            (new Softplus(2), t => t.Softplus(2), Activation.None),
        ];
        foreach (var (module, method, fused) in cases)
        {
            Assert.Equal(method(x).ToArray<double>(), module.Forward(x).ToArray<double>());
            Assert.Equal(fused, Activations.Fusable(module));
            if (fused != Activation.None) Assert.IsType(module.GetType(), Activations.Create(fused));
            // Linear then the activation: fused (or not) in Sequential, the same values and gradients as applied one after the other.
            var linear = new Linear(4, 3, seed: 7, dtype: DType.Float64, device: x.Device);
            var seq = new Sequential(linear, module);
            var xr = x.Detach().RequiresGrad_();
            var a = seq.Forward(xr);
            var b = module.Forward(linear.Forward(xr));
            Near(b, a, module.ToString());
            var ga = Autograd.Grad(a.Sum(), xr);
            var gb = Autograd.Grad(b.Sum(), xr);
            Near(gb, ga, module + " grad");
        }
        Assert.Throws<ArgumentException>(() => new GELU("erf"));
        Assert.Contains("approximate='tanh'", new GELU("tanh").ToString());
        Assert.Contains("negative_slope=0.3", new LeakyReLU(0.3).ToString());

        static void Near(Tensor want, Tensor got, string what)
        {
            var w = want.ToArray<double>();
            var g = got.ToArray<double>();
            for (int i = 0; i < w.Length; i++) Assert.True(Math.Abs(w[i] - g[i]) <= 1e-13 * Math.Max(1, Math.Abs(w[i])), $"{what}[{i}]: {g[i]:R} vs {w[i]:R}");
        }
    }
}
