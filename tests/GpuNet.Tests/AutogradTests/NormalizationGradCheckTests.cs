using GpuNet.Tests.TensorOps;
using Xunit;

namespace GpuNet.Tests.AutogradTests;

/// <summary>
/// Functional.LayerNorm and Functional.BatchNorm (the fused Normalize op and its fused backward, weight and
/// bias) against float64 finite differences on every device, on dense and strided leaves, and their double
/// backward (the createGraph VJP, written in recorded ops) against finite differences of the gradient.
/// </summary>
public sealed class NormalizationGradCheckTests
{
    private static readonly Func<Random, double> Wide = Gen.Uniform(-2, 2);

    public static TheoryData<string> All => Devices.All;

    // (input shape, normalized shape): rows of one to five elements, two trailing dims, a leading batch of rank 2.
    private static readonly (int[] Shape, int[] Normalized)[] LayerShapes =
        [([3, 4], [4]), ([2, 2, 3], [2, 3]), ([2, 2, 3], [3]), ([1, 5], [5]), ([4, 1], [1])];

    // [N, C] and [N, C, L] inputs.
    private static readonly int[][] BatchShapes = [[4, 3], [2, 3], [3, 2, 2], [5, 1]];

    private static Func<Tensor[], Tensor> LayerNorm(int[] normalized, bool affine) =>
        xs => Functional.LayerNorm(xs[0], normalized, affine ? xs[1] : null, affine ? xs[2] : null);

    private static Func<Tensor[], Tensor> BatchNorm(bool affine) =>
        xs => Functional.BatchNorm(xs[0], null, null, affine ? xs[1] : null, affine ? xs[2] : null, training: true);

    [Theory, MemberData(nameof(All))]
    public void LayerNorm_MatchesFiniteDifferences(string device)
    {
        var dev = Devices.Get(device);
        var rng = new Random(1301);
        using var scope = Tensor.NewScope();
        for (int trial = 0; trial < 3; trial++)
            foreach (var (shape, normalized) in LayerShapes)
            {
                var layout = Checks.LayoutFor(trial, rng);
                var x = Checks.Leaf(rng, dev, shape, Wide, layout);
                var w = Checks.Leaf(rng, dev, normalized, Wide, layout);
                var b = Checks.Leaf(rng, dev, normalized, Wide, layout);
                Checks.GradCheck($"LayerNorm {Shapes(shape)} over {Shapes(normalized)} on {device} ({layout})", LayerNorm(normalized, true), x, w, b);
                Checks.GradCheck($"LayerNorm {Shapes(shape)} over {Shapes(normalized)} without affine on {device} ({layout})", LayerNorm(normalized, false), x);
            }
    }

    [Theory, MemberData(nameof(All))]
    public void BatchNorm_MatchesFiniteDifferences(string device)
    {
        var dev = Devices.Get(device);
        var rng = new Random(1302);
        using var scope = Tensor.NewScope();
        for (int trial = 0; trial < 3; trial++)
            foreach (var shape in BatchShapes)
            {
                var layout = Checks.LayoutFor(trial, rng);
                int c = shape[1];
                var x = Checks.Leaf(rng, dev, shape, Wide, layout);
                var w = Checks.Leaf(rng, dev, [c], Wide, layout);
                var b = Checks.Leaf(rng, dev, [c], Wide, layout);
                Checks.GradCheck($"BatchNorm training {Shapes(shape)} on {device} ({layout})", BatchNorm(true), x, w, b);
                Checks.GradCheck($"BatchNorm training {Shapes(shape)} without affine on {device} ({layout})", BatchNorm(false), x);
                // Evaluation: the running statistics are constants.
                var rm = Checks.Leaf(rng, dev, [c], Wide, layout).Detach();
                var rv = Checks.Leaf(rng, dev, [c], Gen.Uniform(0.5, 2), layout).Detach();
                Checks.GradCheck($"BatchNorm eval {Shapes(shape)} on {device} ({layout})",
                    xs => Functional.BatchNorm(xs[0], rm, rv, xs[1], xs[2], training: false), x, w, b);
            }
    }

    [Theory, MemberData(nameof(All))]
    public void Normalization_DoubleBackprop_MatchesFiniteDifferencesOfTheGradient(string device)
    {
        var dev = Devices.Get(device);
        var rng = new Random(1303);
        using var scope = Tensor.NewScope();
        var cases = new List<(string Name, Func<Tensor[], Tensor> F, Tensor[] Inputs)>
        {
            ("LayerNorm [3,4] over [4]", LayerNorm([4], true), [Checks.Leaf(rng, dev, [3, 4], Wide), Checks.Leaf(rng, dev, [4], Wide), Checks.Leaf(rng, dev, [4], Wide)]),
            ("LayerNorm [2,2,3] over [2,3] (permuted)", LayerNorm([2, 3], false), [Checks.Leaf(rng, dev, [2, 2, 3], Wide, Layout.Permuted)]),
            ("BatchNorm [4,3]", BatchNorm(true), [Checks.Leaf(rng, dev, [4, 3], Wide), Checks.Leaf(rng, dev, [3], Wide), Checks.Leaf(rng, dev, [3], Wide)]),
            ("BatchNorm [3,2,2] (narrowed)", BatchNorm(false), [Checks.Leaf(rng, dev, [3, 2, 2], Wide, Layout.Narrowed)]),
        };
        foreach (var (name, f, inputs) in cases)
        {
            Tensor cotangent;
            using (Autograd.NoGrad())
            using (var probe = f(inputs))
                cotangent = Host.Make(Gen.Values(rng, probe.ShapeArray, Wide), DType.Float64, dev);
            // x ↦ vᵀ ∂f/∂x for a fixed v: its Jacobian is the Hessian of vᵀf.
            Tensor Vjp(Tensor[] xs)
            {
                using var record = Autograd.EnableGrad();
                var y = f(xs);
                var grads = Autograd.Grad([y], xs, [cotangent], createGraph: true, allowUnused: true);
                return Tensor.Cat(grads.Select((g, i) => (g ?? Tensor.ZerosLike(xs[i])).Reshape(-1)).ToList());
            }
            Checks.GradCheck($"second order {name} on {device}", Vjp, inputs);
        }
    }

    [Theory, MemberData(nameof(All))]
    public void FusedBackward_AgreesWithTheComposedFormula(string device)
    {
        // The same gradient from the fused backward kernel (plain backward) and from the recorded ops (createGraph).
        var dev = Devices.Get(device);
        var rng = new Random(1304);
        using var scope = Tensor.NewScope();
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            var x = Host.Make(Gen.Values(rng, [6, 5], Wide), dtype, dev, requiresGrad: true);
            var v = Host.Make(Gen.Values(rng, [6, 5], Wide), dtype, dev);
            foreach (var f in new Func<Tensor, Tensor>[] { t => Functional.LayerNorm(t, [5]), t => Functional.BatchNorm(t, null, null, training: true) })
            {
                var fused = Autograd.Grad([f(x)], [x], [v])[0]!;
                var composed = Autograd.Grad([f(x)], [x], [v], createGraph: true)[0]!;
                Host.AssertClose(Host.Read(composed), fused, $"{dtype.Name()} on {device}", dtype);
            }
        }
    }

    private static string Shapes(int[] s) => "[" + string.Join(",", s) + "]";
}
