using GpuNet.Tests.TensorOps;

namespace GpuNet.Tests.AutogradTests;

/// <summary>Double backward: Hessians against closed forms, Hessian-vector products against finite differences, Jacobians of linear maps.</summary>
public sealed class HessianTests
{
    private static Ref Matrix(int rows, int cols, Func<int, int, double> f) => Ref.FromFunc([rows, cols], i => f(i[0], i[1]));

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void Hessian_OfQuadraticForm_IsAPlusATransposed(string device)
    {
        var dev = Devices.Get(device);
        var rng = new Random(1);
        using var scope = Tensor.NewScope();
        var a = Gen.Values(rng, [4, 4], Gen.Uniform(-1, 1));
        var A = Host.Make(a, DType.Float64, dev);
        var x = Host.Make(Gen.Values(rng, [4], Gen.Uniform(-1, 1)), DType.Float64, dev);
        var h = Autograd.Hessian(v => v.MatMul(A.MatMul(v)), x);
        Host.AssertClose(Matrix(4, 4, (i, j) => a.Data[i * 4 + j] + a.Data[j * 4 + i]), h, $"Hessian of xᵀAx on {device}", DType.Float64, 1e-12, 1e-12);
        Assert.False(x.RequiresGrad);
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void Hessian_OfSumOfTanh_IsDiagonalMinusTwoTanhTimesOneMinusTanhSquared(string device)
    {
        var dev = Devices.Get(device);
        var rng = new Random(2);
        using var scope = Tensor.NewScope();
        var values = Gen.Values(rng, [5], Gen.Uniform(-2, 2));
        var x = Host.Make(values, DType.Float64, dev);
        var h = Autograd.Hessian(v => v.Tanh().Sum(), x);
        var expected = Matrix(5, 5, (i, j) =>
        {
            double t = Math.Tanh(values.Data[i]);
            return i == j ? -2 * t * (1 - t * t) : 0;
        });
        Host.AssertClose(expected, h, $"Hessian of Σ tanh on {device}", DType.Float64, 1e-12, 1e-10);

        var matrix = Host.Make(Gen.Values(rng, [2, 3], Gen.Uniform(-1, 1)), DType.Float64, dev);
        var h2 = Autograd.Hessian(v => v.Tanh().Sum(), matrix);
        Assert.Equal(new[] { 2, 3, 2, 3 }, h2.Shape);
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void Hessian_OfSoftmaxCrossEntropy_IsDiagPMinusPPTransposed(string device)
    {
        var dev = Devices.Get(device);
        var rng = new Random(3);
        using var scope = Tensor.NewScope();
        var logits = Gen.Values(rng, [5], Gen.Uniform(-2, 2));
        var z = Host.Make(logits, DType.Float64, dev);
        var onehot = Host.Make(new Ref([5], [0, 0, 1, 0, 0]), DType.Float64, dev);
        var h = Autograd.Hessian(v => -(v.LogSoftmax(0) * onehot).Sum(), z);
        var p = logits.Softmax(0, log: false).Data;
        Host.AssertClose(Matrix(5, 5, (i, j) => (i == j ? p[i] : 0) - p[i] * p[j]), h, $"Hessian of cross-entropy on {device}", DType.Float64, 1e-12, 1e-10);

        // The same through Softmax then Log: a longer double-backward path with the same answer.
        var h2 = Autograd.Hessian(v => -(v.Softmax(0).Log() * onehot).Sum(), z);
        Host.AssertClose(Matrix(5, 5, (i, j) => (i == j ? p[i] : 0) - p[i] * p[j]), h2, $"Hessian of -log softmax on {device}", DType.Float64, 1e-12, 1e-9);
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void Jacobian_OfALinearMap_IsItsMatrix_AndOfSinIsDiagCos(string device)
    {
        var dev = Devices.Get(device);
        var rng = new Random(4);
        using var scope = Tensor.NewScope();
        var a = Gen.Values(rng, [3, 4], Gen.Uniform(-1, 1));
        var A = Host.Make(a, DType.Float64, dev);
        var x = Host.Make(Gen.Values(rng, [4], Gen.Uniform(-1, 1)), DType.Float64, dev);
        Host.AssertClose(a, Autograd.Jacobian(v => A.MatMul(v), x), $"Jacobian of Ax on {device}", DType.Float64, 1e-14, 0);

        // x [2,4] ↦ x·Aᵀ, a [2,3] output: J[i,k,j,l] = δij·A[k,l]
        var xm = Host.Make(Gen.Values(rng, [2, 4], Gen.Uniform(-1, 1)), DType.Float64, dev);
        var j2 = Autograd.Jacobian(v => v.MatMul(A.T), xm);
        Host.AssertClose(Ref.FromFunc([2, 3, 2, 4], i => i[0] == i[2] ? a.Data[i[1] * 4 + i[3]] : 0), j2, $"Jacobian of xAᵀ on {device}", DType.Float64, 1e-14, 0);

        var s = Gen.Values(rng, [3], Gen.Uniform(-2, 2));
        var js = Autograd.Jacobian(v => v.Sin(), Host.Make(s, DType.Float64, dev));
        Host.AssertClose(Matrix(3, 3, (i, j) => i == j ? Math.Cos(s.Data[i]) : 0), js, $"Jacobian of sin on {device}", DType.Float64, 1e-14, 1e-12);
    }

    /// <summary>Loss of a 2-layer tanh MLP with softmax cross-entropy, parameters [W1, b1, W2, b2].</summary>
    private static Tensor MlpLoss(Tensor x, Tensor labels, IReadOnlyList<Tensor> p) =>
        -(x.MatMul(p[0]) + p[1]).Tanh().MatMul(p[2]).Add(p[3]).LogSoftmax(1).Gather(1, labels).Mean();

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void GradGradCheck_TwoLayerMlp_HessianVectorProductsMatchFiniteDifferencesOfGradients(string device)
    {
        var dev = Devices.Get(device);
        var rng = new Random(5);
        using var scope = Tensor.NewScope();
        var x = Host.Make(Gen.Values(rng, [6, 3], Gen.Uniform(-1, 1)), DType.Float64, dev);
        var labels = Host.Make(new Ref([6, 1], [0, 1, 2, 1, 0, 2]), DType.Int32, dev);
        int[][] shapes = [[3, 5], [5], [5, 3], [3]];
        var theta = shapes.Select(s => Gen.Values(rng, s, Gen.Uniform(-1, 1))).ToArray();
        var v = shapes.Select(s => Gen.Values(rng, s, Gen.Uniform(-1, 1))).ToArray();

        Ref[] Gradient(Ref[] at)
        {
            var ps = at.Select(r => Host.Make(r, DType.Float64, dev, requiresGrad: true)).ToArray();
            var grads = Autograd.Grad([MlpLoss(x, labels, ps)], ps);
            return grads.Select(g => Host.Read(g!)).ToArray();
        }

        // Hessian-vector product by double backward: ∇θ (∇θL · v).
        var leaves = theta.Select(r => Host.Make(r, DType.Float64, dev, requiresGrad: true)).ToArray();
        var g1 = Autograd.Grad([MlpLoss(x, labels, leaves)], leaves, createGraph: true);
        Tensor dot = g1.Select((g, i) => (g! * Host.Make(v[i], DType.Float64, dev)).Sum()).Aggregate((s, t) => s + t);
        var hv = Autograd.Grad([dot], leaves);

        const double eps = 1e-5;
        var plus = Gradient(theta.Select((t, i) => Ref.Zip(t, v[i], (a, b) => a + eps * b)).ToArray());
        var minus = Gradient(theta.Select((t, i) => Ref.Zip(t, v[i], (a, b) => a - eps * b)).ToArray());
        for (int i = 0; i < shapes.Length; i++)
        {
            var fd = Ref.Zip(plus[i], minus[i], (a, b) => (a - b) / (2 * eps));
            Host.AssertClose(fd, hv[i]!, $"Hv for parameter {i} on {device}", DType.Float64, atol: 1e-7, rtol: 1e-5);
        }
        Assert.Contains(Host.Values(hv[0]!), e => Math.Abs(e) > 1e-3);
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void Hessian_OfTheMlpLoss_IsSymmetric_AndMatchesFiniteDifferences(string device)
    {
        var dev = Devices.Get(device);
        var rng = new Random(6);
        using var scope = Tensor.NewScope();
        var x = Host.Make(Gen.Values(rng, [4, 2], Gen.Uniform(-1, 1)), DType.Float64, dev);
        var labels = Host.Make(new Ref([4, 1], [0, 1, 1, 0]), DType.Int32, dev);
        var w2 = Host.Make(Gen.Values(rng, [3, 2], Gen.Uniform(-1, 1)), DType.Float64, dev);
        var b2 = Tensor.Zeros([2], DType.Float64, dev);
        var b1 = Host.Make(Gen.Values(rng, [3], Gen.Uniform(-1, 1)), DType.Float64, dev);
        var w1 = Gen.Values(rng, [2, 3], Gen.Uniform(-1, 1));
        var h = Autograd.Hessian(w => MlpLoss(x, labels, [w, b1, w2, b2]), Host.Make(w1, DType.Float64, dev));
        Assert.Equal(new[] { 2, 3, 2, 3 }, h.Shape);
        var hv = Host.Values(h);
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++)
                Assert.True(Math.Abs(hv[i * 6 + j] - hv[j * 6 + i]) < 1e-12, $"H[{i},{j}] = {hv[i * 6 + j]} but H[{j},{i}] = {hv[j * 6 + i]}");
        Checks.GradCheck($"Hessian rows as gradients on {device}",
            ws => { using var on = Autograd.EnableGrad(); return Autograd.Grad(MlpLoss(x, labels, [ws[0], b1, w2, b2]), ws[0], createGraph: true); },
            Host.Make(w1, DType.Float64, dev, requiresGrad: true));
    }
}
