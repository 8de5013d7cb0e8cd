using GpuNet.Tests.TensorOps;

namespace GpuNet.Tests.AutogradTests;

/// <summary>
/// User-defined ops (<see cref="Autograd.Function"/>): gradients against finite differences and against the
/// built-in op they reimplement, double backward, saved tensors under the version-counter checks, and the
/// errors a wrong backward gets.
/// </summary>
public sealed class CustomFunctionTests
{
    /// <summary>x³ with d/dx = 3x², the backward in tensor ops (so it can be differentiated again).</summary>
    public sealed class Cube : Autograd.Function
    {
        protected override Tensor Forward(Autograd.FunctionContext ctx, Tensor[] inputs)
        {
            ctx.SaveForBackward(inputs[0]);
            return inputs[0] * inputs[0] * inputs[0];
        }

        protected override Tensor?[] Backward(Autograd.FunctionContext ctx, Tensor gradOutput)
        {
            var x = ctx.SavedTensors[0];
            return [gradOutput * 3.0 * x * x];
        }
    }

    /// <summary>ln(1 + e^(βx))/β written from exp and log, its gradient σ(βx) from the saved input: a per-call setting in a field.</summary>
    public sealed class MySoftplus(double beta) : Autograd.Function
    {
        protected override Tensor Forward(Autograd.FunctionContext ctx, Tensor[] inputs)
        {
            ctx.SaveForBackward(inputs[0]);
            return ((inputs[0] * beta).Exp() + 1.0).Log() / beta;
        }

        protected override Tensor?[] Backward(Autograd.FunctionContext ctx, Tensor gradOutput) =>
            [gradOutput * (ctx.SavedTensors[0] * beta).Sigmoid()];
    }

    /// <summary>a·b + a with two inputs (broadcast: the gradients come back in the output's shape and are summed down); the backward computes only the gradients asked for.</summary>
    public sealed class MulAdd : Autograd.Function
    {
        public bool[]? Asked { get; private set; }

        protected override Tensor Forward(Autograd.FunctionContext ctx, Tensor[] inputs)
        {
            ctx.SaveForBackward(inputs[0], inputs[1]);
            return inputs[0] * inputs[1] + inputs[0];
        }

        protected override Tensor?[] Backward(Autograd.FunctionContext ctx, Tensor g)
        {
            Asked = [.. ctx.NeedsInputGrad];
            var (a, b) = (ctx.SavedTensors[0], ctx.SavedTensors[1]);
            return [ctx.NeedsInputGrad[0] ? g * (b + 1.0) : null, ctx.NeedsInputGrad[1] ? g * a : null];
        }
    }

    /// <summary>The identity, returning its input itself: the graph must still attach to a tensor of its own.</summary>
    public sealed class Same : Autograd.Function
    {
        protected override Tensor Forward(Autograd.FunctionContext ctx, Tensor[] inputs) => inputs[0];

        protected override Tensor?[] Backward(Autograd.FunctionContext ctx, Tensor gradOutput) => [gradOutput];
    }

    /// <summary>A backward that returns what it is told to (wrong on purpose).</summary>
    public sealed class Broken(Func<Tensor, Tensor?[]> backward) : Autograd.Function
    {
        protected override Tensor Forward(Autograd.FunctionContext ctx, Tensor[] inputs) => inputs[0] * 2.0;

        protected override Tensor?[] Backward(Autograd.FunctionContext ctx, Tensor gradOutput) => backward(gradOutput);
    }

    private static Tensor Leaf(params double[] values) => Tensor.FromArray(values, device: Device.Cpu, requiresGrad: true);

    [Fact]
    public void Cube_GradientIs3x2_AndItsSecondDerivative6x()
    {
        using var scope = Tensor.NewScope();
        var x = Leaf(-1.5, 0.5, 2);
        var y = new Cube().Apply(x);
        Assert.Equal("Cube", y.GradFn!.Name);
        Assert.Equal([-3.375, 0.125, 8], y.ToArray<double>());
        var g = Autograd.Grad([y.Sum()], [x], createGraph: true)[0]!;
        Assert.Equal([6.75, 0.75, 12], g.ToArray<double>()); // 3x²
        var h = Autograd.Grad(g.Sum(), x);
        Assert.Equal([-9, 3, 12], h.ToArray<double>()); // 6x
    }

    [Fact]
    public void MySoftplus_MatchesTheBuiltInSoftplus_ValuesAndGradients()
    {
        using var scope = Tensor.NewScope();
        var x = Leaf(-3, -0.2, 0.4, 2.5);
        var mine = new MySoftplus(1.5).Apply(x);
        var builtIn = x.Softplus(1.5);
        Host.AssertClose(Host.Read(builtIn), mine, "values", atol: 1e-15, rtol: 1e-14);
        Host.AssertClose(Host.Read(Autograd.Grad(builtIn.Sum(), x)), Autograd.Grad(mine.Sum(), x), "gradients", atol: 1e-15, rtol: 1e-14);
    }

    [Fact]
    public void TwoInputs_OnlyTheGradientsAskedFor()
    {
        using var scope = Tensor.NewScope();
        var a = Leaf(1, 2);
        var b = Tensor.FromArray(new[] { 3.0, -1 }, device: Device.Cpu);
        var f = new MulAdd();
        f.Apply(a, b).Sum().Backward();
        Assert.Equal([true, false], f.Asked!);
        Assert.Equal([4, 0], a.Grad!.ToArray<double>()); // b + 1
    }

    [Fact]
    public void ReturningTheInput_StillGivesANodeOfItsOwn()
    {
        using var scope = Tensor.NewScope();
        var x = Leaf(1, 2);
        var y = new Same().Apply(x);
        Assert.NotSame(x, y);
        Assert.Null(x.GradFn);
        Assert.Equal("Same", y.GradFn!.Name);
        (y * y).Sum().Backward();
        Assert.Equal([2, 4], x.Grad!.ToArray<double>());
    }

    [Fact]
    public void WithoutGrad_NothingIsRecorded()
    {
        using var scope = Tensor.NewScope();
        var x = Tensor.FromArray(new[] { 2.0 }, device: Device.Cpu);
        Assert.Null(new Cube().Apply(x).GradFn);
        using (Autograd.NoGrad()) Assert.Null(new Cube().Apply(Leaf(2)).GradFn);
    }

    [Fact]
    public void ChangingASavedInputInPlace_MakesBackwardThrow_NamingTheFunction()
    {
        using var scope = Tensor.NewScope();
        var x = Leaf(0.5, 1);
        var a = x * 1.0;
        var y = new Cube().Apply(a);
        a.AffineInPlace(2, 0);
        var e = Assert.Throws<InvalidOperationException>(() => y.Sum().Backward());
        Assert.Contains("'Cube' saved", e.Message);
        Assert.Contains("'AffineInPlace'", e.Message);
        Assert.Null(x.Grad);
    }

    [Fact]
    public void AWrongBackward_GetsAnErrorNamingTheFunctionAndShapes()
    {
        using var scope = Tensor.NewScope();
        var x = Leaf(1, 2, 3);
        var e = Assert.Throws<InvalidOperationException>(() => new Broken(g => [g, g]).Apply(x).Sum().Backward());
        Assert.Contains("Broken", e.Message);
        Assert.Contains("2 gradients for 1 inputs", e.Message);
        e = Assert.Throws<InvalidOperationException>(() => new Broken(g => [g.Sum()]).Apply(x).Sum().Backward());
        Assert.Contains("[]", e.Message);
        Assert.Contains("[3]", e.Message);
        Assert.Throws<ArgumentNullException>(() => new Cube().Apply(x, null!));
    }

    [Fact]
    public void ForwardTemporaries_AreFreed_AndTheGraphKeepsOnlyWhatItSaved()
    {
        using var scope = Tensor.NewScope();
        var x = Leaf(1, 2, 3);
        int before = scope.Count;
        var y = new MySoftplus(1).Apply(x);
        // The output and the one saved alias join the caller's scope; βx, e^(βx), +1 and log were freed.
        Assert.Equal(before + 2, scope.Count);
        y.Sum().Backward();
        Assert.Equal(3, x.Grad!.NumElements);
    }
}
