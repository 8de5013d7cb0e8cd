namespace GpuNet.Tests.TensorOps;

/// <summary>IEEE special values and accuracy corners, as PyTorch treats them.</summary>
public sealed class SpecialValueTests
{
    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void Division_ByZero_FollowsIeee(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            using var a = Host.Make(new Ref([3], [1, -1, 0]), dtype, dev);
            using var zero = Tensor.Zeros([3], dtype, dev);
            using var q = a / zero;
            Host.AssertClose(new Ref([3], [double.PositiveInfinity, double.NegativeInfinity, double.NaN]), q, $"a / 0 {dtype}", dtype);
            using var s = a / 0.0;
            Host.AssertClose(new Ref([3], [double.PositiveInfinity, double.NegativeInfinity, double.NaN]), s, $"a / 0.0 {dtype}", dtype);
            using var r = 1 / zero;
            Host.AssertClose(new Ref([3], [double.PositiveInfinity, double.PositiveInfinity, double.PositiveInfinity]), r, $"1 / 0 {dtype}", dtype);
        }
        using var i = Tensor.FromArray(new[] { 3, 0 }, device: dev);
        using var iz = Tensor.FromArray(new[] { 0, 0 }, device: dev);
        using var iq = i / iz;
        Host.AssertClose(new Ref([2], [double.PositiveInfinity, double.NaN]), iq, "int32 / int32 zero is float division", DType.Float32);
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void NaN_PropagatesThroughExtremaClampAndRelu(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            string ctx = $"{dtype} on {device}";
            using var x = Host.Make(new Ref([2, 3], [1, double.NaN, 3, -1, -2, -3]), dtype, dev);
            using var max = x.Max();
            Assert.True(double.IsNaN(Host.Values(max)[0]), "Max() " + ctx);
            using var min = x.Min();
            Assert.True(double.IsNaN(Host.Values(min)[0]), "Min() " + ctx);
            using var rowMax = x.Max(1);
            Host.AssertClose(new Ref([2], [double.NaN, -1]), rowMax, "Max(1) " + ctx);
            using var colMin = x.Min(0);
            Host.AssertClose(new Ref([3], [-1, double.NaN, -3]), colMin, "Min(0) " + ctx);
            using var sum = x.Sum(1);
            Host.AssertClose(new Ref([2], [double.NaN, -6]), sum, "Sum(1) " + ctx);
            using var relu = x.Relu();
            Host.AssertClose(new Ref([2, 3], [1, double.NaN, 3, 0, 0, 0]), relu, "Relu " + ctx);
            using var clamp = x.Clamp(-1.5, 2);
            Host.AssertClose(new Ref([2, 3], [1, double.NaN, 2, -1, -1.5, -1.5]), clamp, "Clamp " + ctx);
            using var other = Host.Make(new Ref([2, 3], [0, 0, double.NaN, 0, 0, 0]), dtype, dev);
            using var maximum = Tensor.Maximum(x, other);
            Host.AssertClose(new Ref([2, 3], [1, double.NaN, double.NaN, 0, 0, 0]), maximum, "Maximum " + ctx);
            using var minimum = Tensor.Minimum(x, other);
            Host.AssertClose(new Ref([2, 3], [0, double.NaN, double.NaN, -1, -2, -3]), minimum, "Minimum " + ctx);
            using var softmax = x.Softmax(1);
            Host.AssertClose(new Ref([2, 3], [double.NaN, double.NaN, double.NaN, .. new Ref([3], [-1, -2, -3]).Softmax(0, false).Data]), softmax, "Softmax " + ctx);
        }
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void Softmax_OfMinusInfinityLogits_GivesZeroProbability(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        using var x = Tensor.FromArray(new float[] { float.NegativeInfinity, 0, 1, float.NegativeInfinity }, [1, 4], dev);
        using var p = x.Softmax(1);
        var e = Math.Exp(1);
        Host.AssertClose(new Ref([1, 4], [0, 1 / (1 + e), e / (1 + e), 0]), p, "masked softmax");
        using var lp = x.LogSoftmax(1);
        Host.AssertClose(new Ref([1, 4], [double.NegativeInfinity, -Math.Log(1 + e), 1 - Math.Log(1 + e), double.NegativeInfinity]), lp, "masked log-softmax");
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void Sum_OfManyFloat32Values_IsAccurate(string device)
    {
        // Sequential float32 accumulation of 100 000 × 0.1 is off by ~1.4e-4 relative; PyTorch's
        // cascaded CPU sum and tree-shaped GPU reductions are good to ~1e-7.
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        using var x = Tensor.Full([100_000], 0.1, device: dev);
        double expected = 100_000 * (double)0.1f;
        using var s = x.Sum();
        Host.AssertClose(new Ref([], [expected]), s, "Sum of 1e5 × 0.1f", atol: 0, rtol: 1e-5);
        using var m = x.Mean();
        Host.AssertClose(new Ref([], [(double)0.1f]), m, "Mean of 1e5 × 0.1f", atol: 0, rtol: 1e-5);
        using var rows = x.View(4, 25_000).Sum(1);
        Host.AssertClose(Ref.Fill([4], 25_000 * (double)0.1f), rows, "row sums of 25 000 × 0.1f", atol: 0, rtol: 1e-5);
        using var cols = x.View(25_000, 4).Sum(0);
        Host.AssertClose(Ref.Fill([4], 25_000 * (double)0.1f), cols, "column sums of 25 000 × 0.1f", atol: 0, rtol: 1e-5);
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void CopyFrom_BroadcastsAndConverts_IntoAStridedTarget(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        using var target = Tensor.Zeros([3, 2], device: dev);
        using var view = target.T;                                    // [2,3], strides [1,2]
        using var row = Tensor.FromArray(new double[] { 1.5, 2.5, 3.5 }, device: dev);
        view.CopyFrom(row);
        Assert.Equal(new float[] { 1.5f, 1.5f, 2.5f, 2.5f, 3.5f, 3.5f }, target.ToArray());
        using var ints = Tensor.FromArray(new[] { 7 }, device: dev);
        target.Narrow(0, 1, 1).CopyFrom(ints);
        Assert.Equal(new float[] { 1.5f, 1.5f, 7, 7, 3.5f, 3.5f }, target.ToArray());
    }
}
