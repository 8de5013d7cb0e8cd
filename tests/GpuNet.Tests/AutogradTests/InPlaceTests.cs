using GpuNet.Kernels;

namespace GpuNet.Tests.AutogradTests;

/// <summary>
/// In-place ops and autograd (PyTorch's version counters): a value a graph saved for its backward,
/// or a tensor an op computed, that is changed in place afterwards makes Backward throw, naming the
/// op that saved it and the in-place op; a leaf that requires grad can be changed only under NoGrad.
/// </summary>
public sealed class InPlaceTests
{
    private static readonly Device Dev = Device.Cpu;

    /// <summary>Every in-place op, applied to a float64 tensor.</summary>
    private static readonly Dictionary<string, Action<Tensor>> InPlaceOps = new()
    {
        ["FillInPlace"] = t => t.FillInPlace(0.5),
        ["AddInPlace"] = t => t.AddInPlace(Tensor.OnesLike(t), 1),
        ["AffineInPlace"] = t => t.AffineInPlace(0, 5),
        ["MulInPlace"] = t => t.MulInPlace(Tensor.Full(t.ShapeArray, 2, DType.Float64, Dev)),
        ["CopyFrom"] = t => t.CopyFrom(Tensor.Full(t.ShapeArray, 3, DType.Float64, Dev)),
        ["AdamStep"] = t => Functional.AdamStep(t, Tensor.OnesLike(t), Tensor.ZerosLike(t), Tensor.ZerosLike(t),
            new AdamParameters(0.1, 0.9, 0.999, 1e-8, 0, false, 1)),
        ["SgdMomentumStep"] = t => Functional.SgdMomentumStep(t, Tensor.OnesLike(t), Tensor.ZerosLike(t), 0.1, 0.9, 0, firstStep: true),
        ["RmsPropStep"] = t => Functional.RmsPropStep(t, Tensor.OnesLike(t), Tensor.ZerosLike(t), null, null, new RmsPropParameters(0.1, 0.99, 1e-8, 0, 0, Centered: false)),
    };

    /// <summary>
    /// Every op that saves a tensor for its backward: from a [2,3] float64 input <c>a</c> that requires grad,
    /// its output and the saved tensor the test changes (the input, the output, or a constant operand).
    /// </summary>
    private static readonly Dictionary<string, Func<Tensor, (Tensor Output, Tensor Saved)>> SavingOps = new()
    {
        ["Abs"] = a => (a.Abs(), a),
        ["Log"] = a => (a.Log(), a),
        ["Sin"] = a => (a.Sin(), a),
        ["Cos"] = a => (a.Cos(), a),
        ["Relu"] = a => (a.Relu(), a),
        ["Pow"] = a => (a.Pow(3), a),
        ["Clamp"] = a => (a.Clamp(0.2, 0.8), a),
        ["Exp"] = a => Output(a.Exp()),
        ["Sqrt"] = a => Output(a.Sqrt()),
        ["Sigmoid"] = a => Output(a.Sigmoid()),
        ["Tanh"] = a => Output(a.Tanh()),
        ["Reciprocal"] = a => Output(a.Reciprocal()),
        ["Softmax"] = a => Output(a.Softmax(1)),
        ["LogSoftmax"] = a => Output(a.LogSoftmax(1)),
        ["Max"] = a => (a.Max(), a),
        ["Mul"] = a => Constant(c => a * c),
        ["Div"] = a => Constant(c => a / c),
        ["Maximum"] = a => Constant(c => Tensor.Maximum(a, c)),
        ["Where"] = a => Constant(c => Tensor.Where(c, a, 0.0)),
        ["MatMul"] = a =>
        {
            var w = Tensor.Full([3, 2], 0.5, DType.Float64, Dev);
            return (a.MatMul(w), w);
        },
        ["Linear(Relu)"] = a =>
        {
            var w = Tensor.Full([4, 3], 0.25, DType.Float64, Dev);
            return (Functional.Linear(a, w, null, Activation.Relu), w);
        },
        ["CrossEntropy"] = a => (Functional.CrossEntropy(a, Tensor.FromArray(new[] { 0, 2 }, device: Dev)), a),
        ["Erf"] = a => (a.Erf(), a),
        ["Log1p"] = a => (a.Log1p(), a),
        ["Expm1"] = a => Output(a.Expm1()),
        ["Gelu"] = a => (a.Gelu(), a),
        ["Gelu(tanh)"] = a => (a.Gelu("tanh"), a),
        ["Silu"] = a => (a.Silu(), a),
        ["LeakyRelu"] = a => (a.LeakyRelu(), a),
        ["Elu"] = a => (a.Elu(), a),
        ["Softplus"] = a => (a.Softplus(), a),
        ["Linear(Gelu)"] = a =>
        {
            var w = Tensor.Full([4, 3], 0.25, DType.Float64, Dev);
            return (Functional.Linear(a, w, null, Activation.Gelu), w);
        },
        ["Cube"] = a => (new CustomFunctionTests.Cube().Apply(a), a),
    };

    private static (Tensor, Tensor) Output(Tensor y) => (y, y);

    private static (Tensor, Tensor) Constant(Func<Tensor, Tensor> op)
    {
        var c = Tensor.FromArray(new double[,] { { 0.5, 2, 1.5 }, { 0.25, 1, 3 } }, Dev);
        return (op(c), c);
    }

    public static TheoryData<string, string> Pairs()
    {
        var data = new TheoryData<string, string>();
        foreach (var saving in SavingOps.Keys)
            foreach (var inPlace in InPlaceOps.Keys)
                data.Add(saving, inPlace);
        return data;
    }

    private static Tensor Leaf() =>
        Tensor.FromArray(new double[,] { { 0.3, 0.6, 0.9 }, { 0.2, 0.4, 0.7 } }, Dev, requiresGrad: true);

    [Theory, MemberData(nameof(Pairs))]
    public void ChangingASavedTensorInPlace_MakesBackwardThrow_NamingBothOps(string savingOp, string inPlaceOp)
    {
        using var scope = Tensor.NewScope();
        var x = Leaf();
        var a = x * 1.0; // not a leaf, so the in-place op itself is allowed
        var (y, saved) = SavingOps[savingOp](a);
        Assert.Equal(savingOp, y.GradFn!.Name);
        var loss = y.Sum();
        InPlaceOps[inPlaceOp](saved);

        var e = Assert.Throws<InvalidOperationException>(() => loss.Backward());
        Assert.Contains($"'{savingOp}' saved", e.Message);
        Assert.Contains($"'{inPlaceOp}'", e.Message);
        Assert.Contains("[", e.Message);
        Assert.Null(x.Grad); // checked before any gradient flowed

        // The same graph with a copy changed instead backwards fine.
        var a2 = x * 1.0;
        var (y2, saved2) = SavingOps[savingOp](a2);
        var loss2 = y2.Sum();
        var copy = saved2.Clone();
        InPlaceOps[inPlaceOp](copy);
        loss2.Backward();
        Assert.NotNull(x.Grad);
    }

    [Fact]
    public void ChangingAnOperandOfASquareInPlace_ThrowsInsteadOfAWrongGradient()
    {
        using var scope = Tensor.NewScope();
        var x = Tensor.FromArray(new double[] { 1 }, device: Dev, requiresGrad: true);
        var a = x * 2;
        var b = a * a;
        a.AffineInPlace(0, 5);
        var e = Assert.Throws<InvalidOperationException>(() => b.Backward());
        Assert.Contains("'Mul' saved", e.Message);
        Assert.Contains("'AffineInPlace'", e.Message);
        Assert.Null(x.Grad);

        var a2 = x * 2;
        var b2 = a2 * a2;
        a2.Clone().AffineInPlace(0, 5);
        b2.Backward();
        Assert.Equal(8, x.Grad!.Item<double>()); // d(2x)²/dx = 8x
    }

    [Theory]
    [InlineData("FillInPlace"), InlineData("AddInPlace"), InlineData("AffineInPlace"), InlineData("MulInPlace"), InlineData("CopyFrom")]
    [InlineData("AdamStep"), InlineData("SgdMomentumStep"), InlineData("RmsPropStep")]
    public void InPlaceOnALeafThatRequiresGrad_ThrowsOutsideNoGrad_AndWorksUnderIt(string inPlaceOp)
    {
        using var scope = Tensor.NewScope();
        var x = Leaf();
        var before = x.ToArray<double>();
        int version = x.Storage.Version;
        var e = Assert.Throws<InvalidOperationException>(() => InPlaceOps[inPlaceOp](x));
        Assert.Contains(inPlaceOp, e.Message);
        Assert.Contains("leaf that requires grad", e.Message);
        Assert.Contains("NoGrad", e.Message);
        Assert.Equal(before, x.ToArray<double>());
        Assert.Equal(version, x.Storage.Version);

        using (Autograd.NoGrad()) InPlaceOps[inPlaceOp](x);
        Assert.NotEqual(before, x.ToArray<double>());
        Assert.Equal(version + 1, x.Storage.Version);
        Assert.Equal(inPlaceOp, x.Storage.LastInPlaceOp);
    }

    [Fact]
    public void ATensorChangedInPlaceAfterItsOpRan_CannotPassGradientsToThatOp()
    {
        using var scope = Tensor.NewScope();
        var x = Tensor.FromArray(new double[] { 1, 2 }, device: Dev, requiresGrad: true);
        var a = x * x;
        a.AffineInPlace(0, 5);           // a no longer equals x²: Mul's VJP would be wrong for it
        var b = (a + Tensor.OnesLike(a)).Sum(); // Add saves nothing, so only the stale edge can catch it
        var e = Assert.Throws<InvalidOperationException>(() => b.Backward());
        Assert.Contains("'Mul'", e.Message);
        Assert.Contains("'AffineInPlace'", e.Message);
        Assert.Contains("'Add'", e.Message);
        Assert.Null(x.Grad);

        var viaGrad = Assert.Throws<InvalidOperationException>(() => Autograd.Grad((a * 1.0).Sum(), x));
        Assert.Contains("'AffineInPlace'", viaGrad.Message);
    }

    [Fact]
    public void TheRootChangedInPlace_IsAnError()
    {
        using var scope = Tensor.NewScope();
        var x = Tensor.FromArray(new double[] { 1, 2 }, device: Dev, requiresGrad: true);
        var s = (x * 3).Sum();
        s.AffineInPlace(2);
        var e = Assert.Throws<InvalidOperationException>(() => s.Backward());
        Assert.Contains("'Sum'", e.Message);
        Assert.Contains("'AffineInPlace'", e.Message);
        Assert.Throws<InvalidOperationException>(() => Autograd.Grad(s, x));
    }

    [Fact]
    public void AViewOrADetachedAlias_SharesTheVersion()
    {
        using var scope = Tensor.NewScope();
        var x = Leaf();
        var y = (x * 1.0).Exp();
        var loss = y.Sum();
        y.Narrow(1, 0, 1).FillInPlace(0);
        Assert.Contains("'Exp' saved", Assert.Throws<InvalidOperationException>(() => loss.Backward()).Message);

        var z = (x * 1.0).Exp();
        var loss2 = z.Sum();
        z.Detach().AddInPlace(Tensor.OnesLike(z));
        Assert.Contains("'AddInPlace'", Assert.Throws<InvalidOperationException>(() => loss2.Backward()).Message);
    }

    [Fact]
    public void AnOptimizerStepBetweenForwardAndASecondBackward_IsCaught()
    {
        using var scope = Tensor.NewScope();
        using var w = new GpuNet.Nn.Parameter(Tensor.FromArray(new double[] { 1, -2, 3 }, device: Dev));
        using var opt = new GpuNet.Nn.Adam([w], lr: 0.1);
        var input = Tensor.FromArray(new double[] { 0.5, 1, 2 }, device: Dev);
        var loss = (input * w.Data * w.Data).Sum(); // Mul saves w
        loss.Backward(retainGraph: true);
        opt.Step();                                   // in place, under NoGrad: allowed

        var e = Assert.Throws<InvalidOperationException>(() => loss.Backward(retainGraph: false));
        Assert.Contains("'AdamStep'", e.Message);
        Assert.Contains("'Mul' saved", e.Message);
    }

    [Fact]
    public void ChangingASavedIndexInPlace_IsCaught()
    {
        using var scope = Tensor.NewScope();
        var x = Leaf();
        var index = Tensor.FromArray(new[,] { { 0 }, { 2 } }, Dev);
        var loss = x.Gather(1, index).Sum();
        index.FillInPlace(1);
        var e = Assert.Throws<InvalidOperationException>(() => loss.Backward());
        Assert.Contains("'Gather' saved", e.Message);
        Assert.Contains("'FillInPlace'", e.Message);
    }

    [Fact]
    public void TrainingStillWorks_AndStepsBumpTheVersion()
    {
        using var scope = Tensor.NewScope();
        using var model = new GpuNet.Nn.Mlp([3, 4, 2], seed: 1, device: Dev);
        using var opt = new GpuNet.Nn.SGD(model.Parameters(), lr: 0.1, momentum: 0.9);
        var x = Tensor.Randn([5, 3], seed: 2, device: Dev);
        var labels = Tensor.FromArray(new[] { 0, 1, 1, 0, 1 }, device: Dev);
        var first = model.Parameters().First().Data;
        int version = first.Storage.Version;
        var losses = new List<double>();
        for (int step = 0; step < 5; step++)
        {
            using var s = Tensor.NewScope();
            var loss = new GpuNet.Nn.CrossEntropyLoss().Forward(model.Forward(x), labels);
            opt.ZeroGrad();
            loss.Backward();
            opt.Step();
            losses.Add(loss.Item());
        }
        Assert.True(losses[^1] < losses[0], string.Join(", ", losses));
        Assert.Equal(version + 5, first.Storage.Version);
    }
}
