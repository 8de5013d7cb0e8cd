namespace GpuNet.Nn;

/// <summary>
/// In-place weight initialisers (PyTorch's <c>nn.init</c>). Fan-in and fan-out follow PyTorch: for a
/// weight [out, in, k…], fan_in = in·Πk and fan_out = out·Πk. Each takes an optional seed; without
/// one it draws from the global stream (<see cref="Tensor.ManualSeed"/>).
/// </summary>
public static class Init
{
    /// <summary>(fan_in, fan_out) of a weight shape, as PyTorch computes them.</summary>
    public static (int FanIn, int FanOut) Fans(int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Length < 2)
            throw new ArgumentException($"Init: fan in and fan out cannot be computed for a tensor with fewer than 2 dims (shape [{string.Join(",", shape)}]).");
        int receptive = 1;
        for (int i = 2; i < shape.Length; i++) receptive *= shape[i];
        return (shape[1] * receptive, shape[0] * receptive);
    }

    /// <summary>The recommended gain for a nonlinearity: linear/sigmoid 1, tanh 5/3, relu √2, leaky_relu √(2/(1+a²)).</summary>
    public static double CalculateGain(string nonlinearity, double param = 0.01) => nonlinearity.ToLowerInvariant() switch
    {
        "linear" or "identity" or "sigmoid" => 1,
        "tanh" => 5.0 / 3,
        "relu" => Math.Sqrt(2),
        "leaky_relu" => Math.Sqrt(2 / (1 + param * param)),
        _ => throw new ArgumentException($"CalculateGain: unknown nonlinearity '{nonlinearity}'; expected linear, sigmoid, tanh, relu or leaky_relu."),
    };

    /// <summary>Fills with U(low, high).</summary>
    public static Tensor Uniform(Tensor tensor, double low = 0, double high = 1, long? seed = null) =>
        Fill(tensor, t => Tensor.Rand(t.ShapeArray, seed, low, high, t.DType, t.Device));

    /// <summary>Fills with N(mean, std²).</summary>
    public static Tensor Normal(Tensor tensor, double mean = 0, double std = 1, long? seed = null) =>
        Fill(tensor, t => Tensor.Randn(t.ShapeArray, seed, mean, std, t.DType, t.Device));

    /// <summary>Fills with a constant.</summary>
    public static Tensor Constant(Tensor tensor, double value)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        using var noGrad = Autograd.NoGrad(); // initialising a parameter is not part of any graph
        return tensor.FillInPlace(value);
    }

    /// <summary>Fills with zeros.</summary>
    public static Tensor Zeros(Tensor tensor) => Constant(tensor, 0);

    /// <summary>Glorot uniform: U(−b, b) with b = gain·√(6 / (fan_in + fan_out)).</summary>
    public static Tensor XavierUniform(Tensor tensor, double gain = 1, long? seed = null)
    {
        var (fanIn, fanOut) = Fans(tensor.ShapeArray);
        double bound = gain * Math.Sqrt(6.0 / (fanIn + fanOut));
        return Uniform(tensor, -bound, bound, seed);
    }

    /// <summary>Glorot normal: N(0, σ²) with σ = gain·√(2 / (fan_in + fan_out)).</summary>
    public static Tensor XavierNormal(Tensor tensor, double gain = 1, long? seed = null)
    {
        var (fanIn, fanOut) = Fans(tensor.ShapeArray);
        return Normal(tensor, 0, gain * Math.Sqrt(2.0 / (fanIn + fanOut)), seed);
    }

    /// <summary>
    /// He uniform: U(−b, b) with b = gain·√(3 / fan), gain = √(2 / (1 + a²)) (leaky_relu with slope a; a = 0 is ReLU),
    /// fan = fan_in (or fan_out when <paramref name="fanOut"/>).
    /// </summary>
    public static Tensor KaimingUniform(Tensor tensor, double a = 0, bool fanOut = false, long? seed = null)
    {
        double bound = KaimingGain(a) * Math.Sqrt(3.0 / Fan(tensor, fanOut));
        return Uniform(tensor, -bound, bound, seed);
    }

    /// <summary>He normal: N(0, σ²) with σ = √(2 / (1 + a²)) / √fan.</summary>
    public static Tensor KaimingNormal(Tensor tensor, double a = 0, bool fanOut = false, long? seed = null) =>
        Normal(tensor, 0, KaimingGain(a) / Math.Sqrt(Fan(tensor, fanOut)), seed);

    /// <summary><see cref="XavierUniform(Tensor, double, long?)"/> on a parameter.</summary>
    public static Parameter XavierUniform(Parameter p, double gain = 1, long? seed = null) { XavierUniform(p.Data, gain, seed); return p; }

    /// <summary><see cref="XavierNormal(Tensor, double, long?)"/> on a parameter.</summary>
    public static Parameter XavierNormal(Parameter p, double gain = 1, long? seed = null) { XavierNormal(p.Data, gain, seed); return p; }

    /// <summary><see cref="KaimingUniform(Tensor, double, bool, long?)"/> on a parameter.</summary>
    public static Parameter KaimingUniform(Parameter p, double a = 0, bool fanOut = false, long? seed = null) { KaimingUniform(p.Data, a, fanOut, seed); return p; }

    /// <summary><see cref="KaimingNormal(Tensor, double, bool, long?)"/> on a parameter.</summary>
    public static Parameter KaimingNormal(Parameter p, double a = 0, bool fanOut = false, long? seed = null) { KaimingNormal(p.Data, a, fanOut, seed); return p; }

    private static double KaimingGain(double a) => Math.Sqrt(2.0 / (1 + a * a));

    private static int Fan(Tensor t, bool fanOut)
    {
        var (fi, fo) = Fans(t.ShapeArray);
        int fan = fanOut ? fo : fi;
        if (fan == 0) throw new ArgumentException($"Init: a tensor of shape [{string.Join(",", t.Shape)}] has fan 0.");
        return fan;
    }

    private static Tensor Fill(Tensor tensor, Func<Tensor, Tensor> sample)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        using var noGrad = Autograd.NoGrad();
        using var values = sample(tensor);
        return tensor.CopyFrom(values);
    }
}
