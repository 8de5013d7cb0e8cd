namespace GpuNet.Tests.AutogradTests;

/// <summary>The README's API tour, compiled and run: if this breaks, so does the README.</summary>
public sealed class ReadmeTests
{
    [Fact]
    public void ReadmeToolbox_ActivationsSelectionsAndStatistics()
    {
        using var scope = Tensor.NewScope();
        // --- README block after the tensor list (keep in sync with README.md) ---
        var t = Tensor.Randn([4, 10], seed: 3);
        var act = t.Gelu();
        var (top, idx) = t.TopK(3, dim: 1);
        var best = t.Max(1, out var argBest);
        var lse = t.LogSumExp(1);
        var sd = t.Std(0);
        var labels = Tensor.RandInt(0, 10, [4], seed: 4);
        // --- end ---
        Assert.Equal([4, 10], act.Shape);
        Assert.Equal([4, 3], top.Shape);
        Assert.Equal(DType.Int32, idx.DType);
        Assert.Equal(best.ToArray(), top.Select(1, 0).ToArray());
        Assert.Equal(argBest.ToArray<int>(), idx.Select(1, 0).ToArray<int>());
        Assert.Equal([4], lse.Shape);
        Assert.Equal([10], sd.Shape);
        Assert.All(labels.ToArray<int>(), v => Assert.InRange(v, 0, 9));
    }

    private sealed class Cube : Autograd.Function
    {
        protected override Tensor Forward(Autograd.FunctionContext ctx, Tensor[] inputs)
        {
            ctx.SaveForBackward(inputs[0]);
            return inputs[0] * inputs[0] * inputs[0];
        }
        protected override Tensor?[] Backward(Autograd.FunctionContext ctx, Tensor gradOutput) =>
            [gradOutput * 3.0 * ctx.SavedTensors[0] * ctx.SavedTensors[0]];
    }

    [Fact]
    public void ReadmeCustomFunction_Cube()
    {
        using var scope = Tensor.NewScope();
        var v = Tensor.FromArray(new double[] { 1, -1 }, requiresGrad: true);
        var c = new Cube().Apply(v);
        Assert.Equal("Cube", c.GradFn!.Name);
        Assert.True(Autograd.GradCheck(xs => new Cube().Apply(xs[0]).Sum(), [v]));
    }

    [Fact]
    public void ReadmeTour_ForwardBackwardNoGradAndGradCheck()
    {
        // --- README tour (keep in sync with README.md) ---
        Device dev = Device.Default;               // CUDA > OpenCL > CPU, or GPUNET_DEVICE
        var x = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, [2, 3], dev, requiresGrad: true);
        var w = Tensor.Randn([3, 4], seed: 0, device: dev, requiresGrad: true);
        var y = (x.MatMul(w) + 1f).Relu().Sum();
        y.Backward();
        float[] g = x.Grad!.ToArray();             // ∂y/∂x, row-major
        string shown = w.Grad!.ToString();         // tensor([[...]]) like PyTorch

        bool recorded;
        using (Autograd.NoGrad())
        {
            var z = x.MatMul(w);                   // no graph recorded
            recorded = z.RequiresGrad;             // false
        }

        var a = Tensor.Randn([3], seed: 1, dtype: DType.Float64, requiresGrad: true);
        var b = Tensor.Randn([3], seed: 2, dtype: DType.Float64, requiresGrad: true);
        bool ok = Autograd.GradCheck(xs => (xs[0] * xs[1]).Sum(), [a, b]);
        // --- end of tour ---

        Assert.False(recorded);
        Assert.StartsWith("tensor([[", shown);
        Assert.Equal(6, g.Length);
        Assert.Equal(new[] { 3, 4 }, w.Grad!.Shape);
        // Shape is read-only; the README's idiom turns it into an int[] for an op that takes one.
        using (var flat = x.Flatten())
        using (var back = flat.Reshape([.. x.Shape]))
            Assert.Equal(x.Shape, back.Shape);
        Assert.True(ok);
        // ∂y/∂x[i,k] = Σⱼ [h[i,j] > 0]·w[k,j]: check against the values themselves.
        var wv = w.ToArray();
        var xv = x.ToArray();
        for (int i = 0; i < 2; i++)
            for (int k = 0; k < 3; k++)
            {
                double expected = 0;
                for (int j = 0; j < 4; j++)
                {
                    double h = 1;
                    for (int m = 0; m < 3; m++) h += xv[i * 3 + m] * wv[m * 4 + j];
                    if (h > 0) expected += wv[k * 4 + j];
                }
                Assert.True(Math.Abs(expected - g[i * 3 + k]) < 1e-5, $"∂y/∂x[{i},{k}] = {g[i * 3 + k]}, expected {expected}");
            }
    }
}
