using GpuNet.Kernels;

namespace GpuNet.Tests.Perf;

/// <summary>
/// The fused optimizer steps store subnormal moments as zero (x86 cores slow down by an order of
/// magnitude on subnormal arithmetic), keep NaN, and leave the smallest normal values alone, on
/// every device and through both the fused kernels (dense) and the composed fallback (strided).
/// </summary>
public sealed class SubnormalFlushTests
{
    public static TheoryData<string, DType, bool> Cases()
    {
        var data = new TheoryData<string, DType, bool>();
        foreach (var device in new[] { "cpu", "ilgpu-cpu" })
            foreach (var dtype in new[] { DType.Float32, DType.Float64 })
                foreach (bool strided in new[] { false, true })
                    data.Add(device, dtype, strided);
        return data;
    }

    // Per element: a subnormal state, a normal state whose decayed value stays normal, NaN, an ordinary value.
    private static double[] States(DType dtype) => dtype == DType.Float32
        ? [1e-39, -3e-39, 1e-37, double.NaN, 0.5, 2e-38]
        : [1e-310, -3e-310, 1e-306, double.NaN, 0.5, 4e-308];

    private static Tensor Column(double[] values, DType dtype, Device device, bool strided)
    {
        var t = Tensor.FromArray(values, [values.Length], device).To(dtype);
        if (!strided) return t;
        // Every other element of a buffer: not contiguous, so the managed backend takes the composed path.
        var column = Tensor.Zeros([values.Length, 2], dtype, device).Narrow(1, 0, 1).Squeeze(1);
        column.CopyFrom(t);
        Assert.False(column.IsContiguous);
        return column;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void SgdMomentum_FlushesSubnormalBuffer(string device, DType dtype, bool strided)
    {
        var dev = Device.Get(device);
        using var scope = Tensor.NewScope();
        var s = States(dtype);
        var b = Column(s, dtype, dev, strided);
        var p = Column([1, 1, 1, 1, 1, 1], dtype, dev, strided);
        var g = Tensor.Zeros([s.Length], dtype, dev);
        Functional.SgdMomentumStep(p, g, b, learningRate: 0.1, momentum: 0.9, dampening: 0, firstStep: false);
        var got = b.To(DType.Float64).ToArray<double>();
        double min = MinNormal(dtype);
        for (int i = 0; i < s.Length; i++) Check(Round(0.9 * s[i], dtype), got[i], min, $"b[{i}]");
        Assert.True(Math.Abs(Round(0.9 * s[2], dtype)) >= min, "the third state must stay normal, or the test checks nothing");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Adam_FlushesSubnormalMoments(string device, DType dtype, bool strided)
    {
        var dev = Device.Get(device);
        using var scope = Tensor.NewScope();
        var s = States(dtype);
        var m = Column(s, dtype, dev, strided);
        var v = Column(s.Select(Math.Abs).ToArray(), dtype, dev, strided);
        var p = Column([1, 1, 1, 1, 1, 1], dtype, dev, strided);
        var g = Tensor.Zeros([s.Length], dtype, dev);
        Functional.AdamStep(p, g, m, v, new AdamParameters(1e-3, 0.9, 0.999, 1e-8, 0, false, 1000));
        var gotM = m.To(DType.Float64).ToArray<double>();
        var gotV = v.To(DType.Float64).ToArray<double>();
        double min = MinNormal(dtype);
        for (int i = 0; i < s.Length; i++)
        {
            double wantM = Round(0.9 * s[i], dtype), wantV = Round(0.999 * Math.Abs(s[i]), dtype);
            Check(wantM, gotM[i], min, $"m[{i}]");
            Check(wantV, gotV[i], min, $"v[{i}]");
        }
        Assert.True(p.To(DType.Float64).ToArray<double>().Where((_, i) => i != 3).All(double.IsFinite), "parameters stay finite");
    }

    private static void Check(double want, double got, double min, string what)
    {
        if (Math.Abs(want) < min) Assert.True(got == 0, $"{what}: subnormal {want:R} should be stored as 0, got {got:R}");
        else if (double.IsNaN(want)) Assert.True(double.IsNaN(got), $"{what}: NaN expected, got {got}");
        else Assert.True(Math.Abs(want - got) <= Math.Abs(want) * 1e-6, $"{what}: expected {want:R}, got {got:R}");
    }

    private static double MinNormal(DType dtype) => dtype == DType.Float32 ? Math.Pow(2, -126) : Math.Pow(2, -1022);

    private static double Round(double x, DType dtype) => dtype == DType.Float32 ? (float)x : x;
}
