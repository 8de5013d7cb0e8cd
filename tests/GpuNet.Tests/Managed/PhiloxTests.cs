using GpuNet.Kernels;
using Xunit;

namespace GpuNet.Tests.Managed;

public class PhiloxTests
{
    [Fact]
    public void KnownAnswersFromTheRandom123Paper()
    {
        var z = Philox.Generate(0u, 0u, 0u, 0u, 0u, 0u);
        Assert.Equal(new uint[] { 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8 }, new[] { z.X0, z.X1, z.X2, z.X3 });
        var f = Philox.Generate(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu);
        Assert.Equal(new uint[] { 0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd }, new[] { f.X0, f.X1, f.X2, f.X3 });
        // Third vector of the reference set (pi digits).
        var p = Philox.Generate(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u);
        Assert.Equal(new uint[] { 0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1 }, new[] { p.X0, p.X1, p.X2, p.X3 });
    }

    [Fact]
    public void FillRandomIsAPureFunctionOfSeedAndCounter()
    {
        var a = M.Empty<float>(1000);
        M.B.FillRandom(M.V(a, [1000]), RandomDistribution.Uniform, 42, 0, -2, 3);
        var all = M.Read<float>(a);
        Assert.All(all, v => Assert.InRange(v, -2f, 3f - 1e-6f));
        // A strided fill with an offset counter gives the same values for the same counters.
        var b = M.Empty<float>(200);
        M.B.FillRandom(M.V(b, [10, 10], [1, 20], 0), RandomDistribution.Uniform, 42, 500, -2, 3);
        var got = M.Read<float>(b);
        for (int i = 0; i < 10; i++)
            for (int j = 0; j < 10; j++) Assert.Equal(all[500 + i * 10 + j], got[j * 20 + i]);
        Assert.Equal(Philox.UniformFloat(42, 7, -2, 3), all[7]);
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void NormalHasTheRequestedMoments(DType dt)
    {
        int n = 200_000; // above the parallel threshold
        var buf = M.B.Allocate(dt, n);
        M.B.FillRandom(M.V(buf, [n]), RandomDistribution.Normal, 7, 123, 1.5, 2.0);
        double[] v = dt == DType.Float32 ? M.Read<float>(buf).Select(x => (double)x).ToArray() : M.Read<double>(buf);
        Assert.All(v, x => Assert.True(double.IsFinite(x)));
        double mean = v.Average();
        double var = v.Sum(x => (x - mean) * (x - mean)) / (n - 1);
        Assert.InRange(mean, 1.5 - 0.03, 1.5 + 0.03);
        Assert.InRange(Math.Sqrt(var), 2.0 - 0.03, 2.0 + 0.03);
        Assert.Equal(dt == DType.Float32 ? Philox.NormalFloat(7, 123 + 99, 1.5f, 2f) : Philox.NormalDouble(7, 123 + 99, 1.5, 2.0), v[99], 6);
    }

    [Fact]
    public void Int32FillRandomIsRejected() =>
        Assert.Throws<NotSupportedException>(() => M.B.FillRandom(M.V(M.Empty<int>(4), [4]), RandomDistribution.Uniform, 1, 0, 0, 1));
}
