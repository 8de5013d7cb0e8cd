namespace GpuNet.Tests.TensorOps;

/// <summary>ToString reads like PyTorch's repr (expected strings are PyTorch's, with GpuNet's dtype and grad names).</summary>
public sealed class FormatTests
{
    private static Device Cpu => Device.Get("cpu");

    [Fact]
    public void ToString_FloatVectorOfWholeNumbers_PrintsTrailingDots()
    {
        using var x = Tensor.FromArray(new float[] { 1, 2, 3 }, device: Cpu);
        Assert.Equal("tensor([1., 2., 3.])", x.ToString());
        using var y = Tensor.FromArray(new float[] { 100, 2 }, device: Cpu);
        Assert.Equal("tensor([100.,   2.])", y.ToString());
    }

    [Fact]
    public void ToString_Matrix_AlignsColumnsWithFourDecimals()
    {
        using var x = Tensor.FromArray(new float[,] { { 1.5f, 2 }, { 3, 4 } }, Cpu);
        Assert.Equal("tensor([[1.5000, 2.0000],\n        [3.0000, 4.0000]])", x.ToString());
        using var y = Tensor.FromArray(new float[] { -1.5f, 2 }, device: Cpu);
        Assert.Equal("tensor([-1.5000,  2.0000])", y.ToString());
    }

    [Fact]
    public void ToString_ThreeDims_SeparatesBlocksWithABlankLine()
    {
        using var x = Tensor.Zeros([2, 2, 2], device: Cpu);
        Assert.Equal("tensor([[[0., 0.],\n         [0., 0.]],\n\n        [[0., 0.],\n         [0., 0.]]])", x.ToString());
    }

    [Fact]
    public void ToString_ScalarsIntsAndDoubles_ShowDtypeWhenNotFloat32()
    {
        using var s = Tensor.Scalar(3.5, device: Cpu);
        Assert.Equal("tensor(3.5000)", s.ToString());
        using var i = Tensor.FromArray(new[] { 1, -2, 3 }, device: Cpu);
        Assert.Equal("tensor([ 1, -2,  3], dtype=int32)", i.ToString());
        using var d = Tensor.FromArray(new[] { 0.5, 1 }, device: Cpu);
        Assert.Equal("tensor([0.5000, 1.0000], dtype=float64)", d.ToString());
        using var special = Tensor.FromArray(new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity, 1 }, device: Cpu);
        Assert.Matches(@"^tensor\(\[ *nan, +inf, -inf, +1\.\]\)$", special.ToString());
    }

    [Fact]
    public void ToString_ValuesSpanningManyDecades_UseScientificNotation()
    {
        // PyTorch switches to scientific notation when max/min of the nonzero magnitudes exceeds 1000,
        // or the largest exceeds 1e8, or the smallest is below 1e-4 — so no value prints as 0.0000.
        using var x = Tensor.FromArray(new float[] { 1e-5f, 1 }, device: Cpu);
        Assert.Equal("tensor([1.0000e-05, 1.0000e+00])", x.ToString());
        using var y = Tensor.FromArray(new float[] { 0.001f, 10 }, device: Cpu);
        Assert.Equal("tensor([1.0000e-03, 1.0000e+01])", y.ToString());
        using var big = Tensor.FromArray(new float[] { 1e9f, 1 }, device: Cpu);
        Assert.Equal("tensor([1.0000e+09, 1.0000e+00])", big.ToString());
        using var plain = Tensor.FromArray(new float[] { 0.01f, 5 }, device: Cpu);
        Assert.Equal("tensor([0.0100, 5.0000])", plain.ToString());
    }

    [Fact]
    public void ToString_ShowsGradState()
    {
        using var x = Tensor.FromArray(new float[] { 1, 2 }, device: Cpu, requiresGrad: true);
        Assert.Equal("tensor([1., 2.], requiresGrad=True)", x.ToString());
        using var s = x.Sum();
        Assert.Equal("tensor(3., gradFn=Sum)", s.ToString());
    }

    [Fact]
    public void ToString_EmptyAndLarge_AreSummarised()
    {
        using var e = Tensor.Zeros([0, 3], device: Cpu);
        Assert.Equal("tensor([], size=[0,3])", e.ToString());
        using var big = Tensor.Arange(2000, device: Cpu);
        var text = big.ToString();
        Assert.StartsWith("tensor([   0.,    1.,    2.,", text);
        Assert.EndsWith("1997., 1998., 1999.])", text);
        Assert.Contains("...", text);
        Assert.True(text.Length < 120, text);
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void ToString_NamesTheDeviceUnlessCpu_BeforeTheDtype(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        using var x = Tensor.FromArray(new double[] { 1, 2 }, device: dev);
        var suffix = device == "cpu" ? "" : $", device='{dev}'";
        Assert.Equal($"tensor([1., 2.]{suffix}, dtype=float64)", x.ToString());
    }
}
