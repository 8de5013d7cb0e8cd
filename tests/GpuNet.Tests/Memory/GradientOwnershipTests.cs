namespace GpuNet.Tests.Memory;

/// <summary>Leaves adopt gradients nobody else holds, and copy the ones that are shared.</summary>
public sealed class GradientOwnershipTests
{
    public static TheoryData<string> Devices => ["cpu", "ilgpu-cpu"];

    [Theory]
    [MemberData(nameof(Devices))]
    public void OneGradientObjectFlowingToTwoLeaves_GivesEachLeafItsOwnMemory(string device)
    {
        var dev = Device.Get(device);
        using var scope = Tensor.NewScope();
        var a = Tensor.Zeros([3], device: dev, requiresGrad: true);
        var b = Tensor.Zeros([3], device: dev, requiresGrad: true);
        var y = (a + b) * 2f; // Add hands the same gradient object to both leaves
        y.Sum().Backward();
        a.Grad!.AddInPlace(Tensor.Ones([3], device: dev), 10);
        Assert.Equal([12f, 12f, 12f], a.Grad.ToArray());
        Assert.Equal([2f, 2f, 2f], b.Grad!.ToArray());
        a.ZeroGrad();
        b.ZeroGrad();
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void ViewsOfOneGradient_ReachingTwoLeaves_AreNotAdopted(string device)
    {
        var dev = Device.Get(device);
        using var scope = Tensor.NewScope();
        var a = Tensor.Zeros([2, 3], device: dev, requiresGrad: true);
        var b = Tensor.Zeros([3, 2], device: dev, requiresGrad: true);
        var s = a.Reshape(6) + b.Reshape(6); // both reshape VJPs return views of one gradient buffer
        (s * Tensor.Arange(6, device: dev)).Sum().Backward();
        a.Grad!.FillInPlace(-1);
        Assert.Equal([0f, 1, 2, 3, 4, 5], b.Grad!.ToArray());
        a.ZeroGrad();
        b.ZeroGrad();
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void GradientsAccumulateAcrossBackwardCalls_AfterAnAdoptedFirstGradient(string device)
    {
        var dev = Device.Get(device);
        using var scope = Tensor.NewScope();
        var w = Tensor.FromArray(new float[] { 1, 2 }, device: dev, requiresGrad: true);
        (w * w).Sum().Backward();
        (w * 3f).Sum().Backward();
        Assert.Equal([2f + 3, 4f + 3], w.Grad!.ToArray());
        w.ZeroGrad();
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void AddInPlace_WithAlpha_OnStridedAndBroadcastOperands_MatchesTheFormula(string device)
    {
        var dev = Device.Get(device);
        using var scope = Tensor.NewScope();
        var y = Tensor.Arange(0, 12, 1, DType.Float64, dev).Reshape(3, 4);
        var x = Tensor.Arange(100, 112, 1, DType.Float64, dev).Reshape(4, 3).T; // transposed
        var row = Tensor.FromArray(new double[] { 1, 2, 3, 4 }, device: dev);   // broadcast over rows
        var expectedY = y.ToArray<double>();
        var xs = x.Contiguous().ToArray<double>();
        y.AddInPlace(x, -0.5);
        for (int i = 0; i < 12; i++) expectedY[i] += -0.5 * xs[i];
        Assert.Equal(expectedY, y.ToArray<double>());
        y.AddInPlace(row, 2);
        for (int i = 0; i < 12; i++) expectedY[i] += 2 * (i % 4 + 1);
        Assert.Equal(expectedY, y.ToArray<double>());
        var dense = Tensor.Ones([5], DType.Float32, dev);
        dense.AddInPlace(Tensor.Full([5], 3, DType.Float32, dev), 0.25);
        Assert.All(dense.ToArray(), v => Assert.Equal(1.75f, v));
    }
}
