using GpuNet.Tests.TensorOps;

namespace GpuNet.Tests.AutogradTests;

/// <summary>The lecture notes' backpropagation examples, on tensors: closed forms the notes derive by hand.</summary>
public sealed class LectureNotesTests
{
    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void ChainRule_ExpSinSquare_GradientIsExpSinSquareTimesCosSquareTimesTwoX(string device)
    {
        var dev = Devices.Get(device);
        using var scope = Tensor.NewScope();
        double[] values = [-1.3, -0.4, 0, 0.7, 1.9];
        var x = Tensor.FromArray(values, device: dev, requiresGrad: true);
        var y = (x * x).Sin().Exp().Sum();
        y.Backward();
        var expected = values.Select(v => Math.Exp(Math.Sin(v * v)) * Math.Cos(v * v) * 2 * v).ToArray();
        Host.AssertClose(new Ref([5], expected), x.Grad!, $"d/dx exp(sin(x²)) on {device}", DType.Float64, 1e-13, 1e-12);
        Host.AssertClose(new Ref([], [values.Sum(v => Math.Exp(Math.Sin(v * v)))]), y, "the forward value", DType.Float64);
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void Graph_X1ReachesTheLossAlongTwoPaths_ItsGradientIsTheSumOfBoth(string device)
    {
        // x¹ = φ¹(x⁰) = sin x⁰;  x² = φ²(x⁰, x¹) = x⁰·x¹;  x³ = φ³(x¹, x²) = x¹·x²;  L = Σ x³.
        // x¹ reaches L directly (∂φ³/∂x¹ = x²) and through x² (∂φ³/∂x² · ∂φ²/∂x¹ = x¹ · x⁰).
        var dev = Devices.Get(device);
        using var scope = Tensor.NewScope();
        double[] v0 = [0.3, -1.1, 2.0];
        var x0 = Tensor.FromArray(v0, device: dev, requiresGrad: true);
        var x1 = x0.Sin();
        var x2 = x0 * x1;
        var x3 = x1 * x2;
        var loss = x3.Sum();

        var direct = v0.Select(a => a * Math.Sin(a)).ToArray();                 // x²
        var throughX2 = v0.Select(a => Math.Sin(a) * a).ToArray();              // x¹ · x⁰
        var g1 = Autograd.Grad([loss], [x1], retainGraph: true)[0]!;
        Host.AssertClose(new Ref([3], direct.Zip(throughX2, (p, q) => p + q).ToArray()), g1, $"∂L/∂x¹ on {device}", DType.Float64, 1e-14, 1e-13);

        // Each path on its own, by cutting the other with Detach.
        var onlyDirect = (x1 * x2.Detach()).Sum();
        Host.AssertClose(new Ref([3], direct), Autograd.Grad([onlyDirect], [x1], retainGraph: true)[0]!, "direct path", DType.Float64, 1e-14, 1e-13);
        var onlyThroughX2 = (x1.Detach() * (x0.Detach() * x1)).Sum();
        Host.AssertClose(new Ref([3], throughX2), Autograd.Grad([onlyThroughX2], [x1], retainGraph: true)[0]!, "path through x²", DType.Float64, 1e-14, 1e-13);

        // ∂L/∂x⁰ = (∂L/∂x¹)·cos x⁰ + (∂L/∂x²)·x¹ with ∂L/∂x² = x¹: L = x⁰ sin² x⁰.
        loss.Backward();
        Assert.Null(x1.Grad);
        var expected0 = v0.Select(a => Math.Sin(a) * Math.Sin(a) + 2 * a * Math.Sin(a) * Math.Cos(a)).ToArray();
        Host.AssertClose(new Ref([3], expected0), x0.Grad!, $"∂L/∂x⁰ on {device}", DType.Float64, 1e-14, 1e-13);
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void WorkedGraph_SumTimesMinusTwo_SendsMinusTwoBackToBothAddends(string device)
    {
        // f = (x + y)·z with x = −2, y = 5, z = −2: the product sends z = −2 back into the sum,
        // which copies it to x and y; z receives x + y = 3.
        var dev = Devices.Get(device);
        using var scope = Tensor.NewScope();
        var x = Tensor.Scalar(-2, DType.Float64, dev, requiresGrad: true);
        var y = Tensor.Scalar(5, DType.Float64, dev, requiresGrad: true);
        var z = Tensor.Scalar(-2, DType.Float64, dev, requiresGrad: true);
        var q = x + y;
        var f = q * z;
        Assert.Equal(-6, f.Item<double>());
        Assert.Equal(-2, Autograd.Grad([f], [q], retainGraph: true)[0]!.Item<double>());
        f.Backward();
        Assert.Equal(-2, x.Grad!.Item<double>());
        Assert.Equal(-2, y.Grad!.Item<double>());
        Assert.Equal(3, z.Grad!.Item<double>());
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void NumericalGradient_AgreesWithBackprop_AsTheNotesCompareThem(string device)
    {
        // The notes' numerical gradient: (f(x + h) − f(x − h)) / 2h per coordinate, against backprop.
        var dev = Devices.Get(device);
        using var scope = Tensor.NewScope();
        double[] v = [0.5, -0.25, 1.5];
        Tensor F(Tensor t) => (t * t * t).Sum() + t.Sin().Sum();
        var x = Tensor.FromArray(v, device: dev, requiresGrad: true);
        F(x).Backward();
        var analytic = x.Grad!.ToArray<double>();
        const double h = 1e-5;
        for (int i = 0; i < v.Length; i++)
        {
            var up = (double[])v.Clone(); up[i] += h;
            var down = (double[])v.Clone(); down[i] -= h;
            double numeric = (F(Tensor.FromArray(up, device: dev)).Item<double>() - F(Tensor.FromArray(down, device: dev)).Item<double>()) / (2 * h);
            Assert.Equal(3 * v[i] * v[i] + Math.Cos(v[i]), analytic[i], 12);
            Assert.Equal(analytic[i], numeric, 8);
        }
    }
}
