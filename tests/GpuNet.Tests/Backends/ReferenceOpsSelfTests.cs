using GpuNet.Kernels;
using Xunit;

namespace GpuNet.Tests.Backends;

/// <summary>The oracle checked by hand, so that the conformance suite's verdicts can be trusted.</summary>
public sealed class ReferenceOpsSelfTests
{
    private static HostView V(DType dtype, int[] shape, params double[] values) => HostView.Contiguous(dtype, shape, values.Length == 0 ? null : values);

    [Fact]
    public void Philox4x32_10_MatchesPublishedKnownAnswers()
    {
        Assert.Equal((0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u), ReferenceOps.Philox4x32_10(0, 0, 0, 0, 0, 0));
        const uint F = 0xffffffff;
        Assert.Equal((0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu), ReferenceOps.Philox4x32_10(F, F, F, F, F, F));
        Assert.Equal((0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u),
            ReferenceOps.Philox4x32_10(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0));
    }

    [Fact]
    public void RandomValue_UsesSeedWordsAndCounterAsSpecified()
    {
        ulong seed = 0x0123456789ABCDEF, c = (7UL << 32) | 9;
        var (w0, w1, w2, w3) = ReferenceOps.Philox4x32_10(9, 7, 0, 0, 0x89ABCDEF, 0x01234567);
        Assert.Equal((w0 >> 8) / 16777216.0, ReferenceOps.RandomValue(RandomDistribution.Uniform, DType.Float32, seed, c, 0, 1));
        Assert.Equal(((((ulong)w1 << 32) | w0) >> 11) / 9007199254740992.0, ReferenceOps.RandomValue(RandomDistribution.Uniform, DType.Float64, seed, c, 0, 1));
        double z32 = Math.Sqrt(-2 * Math.Log(((w0 >> 8) + 1) / 16777216.0)) * Math.Cos(2 * Math.PI * (w1 >> 8) / 16777216.0);
        Assert.Equal(3 + 2 * z32, ReferenceOps.RandomValue(RandomDistribution.Normal, DType.Float32, seed, c, 3, 2), 12);
        double u1 = (((((ulong)w1 << 32) | w0) >> 11) + 1) / 9007199254740992.0, u2 = ((((ulong)w3 << 32) | w2) >> 11) / 9007199254740992.0;
        double z64 = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
        Assert.Equal(3 + 2 * z64, ReferenceOps.RandomValue(RandomDistribution.Normal, DType.Float64, seed, c, 3, 2), 12);
    }

    [Fact]
    public void FillRandom_IsShiftedByCounterOffsetAndInRange()
    {
        var whole = V(DType.Float32, [110]);
        ReferenceOps.FillRandom(whole, RandomDistribution.Uniform, 5, 0, -2, 3);
        var part = V(DType.Float32, [2, 5]);
        ReferenceOps.FillRandom(part, RandomDistribution.Uniform, 5, 100, -2, 3);
        Assert.Equal(whole.Data.Skip(100).ToArray(), part.Data);
        Assert.All(whole.Data, v => Assert.InRange(v, -2, 3));
        var normal = V(DType.Float64, [4000]);
        ReferenceOps.FillRandom(normal, RandomDistribution.Normal, 11, 0, 1, 2);
        double mean = normal.Data.Average(), sd = Math.Sqrt(normal.Data.Select(v => (v - mean) * (v - mean)).Average());
        Assert.InRange(mean, 0.9, 1.1);
        Assert.InRange(sd, 1.9, 2.1);
    }

    [Fact]
    public void MatMul_2x3By3x2_ByHand()
    {
        var a = V(DType.Float32, [1, 2, 3], 1, 2, 3, 4, 5, 6);
        var b = V(DType.Float32, [1, 3, 2], 7, 8, 9, 10, 11, 12);
        var c = V(DType.Float32, [1, 2, 2]);
        ReferenceOps.MatMul(a, b, c);
        Assert.Equal([58, 64, 139, 154], c.Data);
    }

    [Fact]
    public void MatMul_TransposedAndBroadcastViews_ByHand()
    {
        // aᵀ stored: a = [[1,2,3],[4,5,6]] kept as its transpose [[1,4],[2,5],[3,6]]; b shared by 2 batches.
        var a = new HostView([0, 1, 4, 2, 5, 3, 6], DType.Float64, [1, 2, 3], [0, 1, 2], 1);
        var b = new HostView([7, 8, 9, 10, 11, 12], DType.Float64, [2, 3, 2], [0, 2, 1], 0);
        var aa = new HostView(a.Data, DType.Float64, [2, 2, 3], [0, 1, 2], 1);
        var c = V(DType.Float64, [2, 2, 2]);
        ReferenceOps.MatMul(aa, b, c);
        Assert.Equal([58, 64, 139, 154, 58, 64, 139, 154], c.Data);
        var c0 = V(DType.Float64, [1, 2, 0]);
        ReferenceOps.MatMul(a, new HostView(b.Data, DType.Float64, [1, 3, 0], [0, 2, 1], 0), c0);
        var k0 = V(DType.Float64, [1, 2, 2], 9, 9, 9, 9);
        ReferenceOps.MatMul(V(DType.Float64, [1, 2, 0]), V(DType.Float64, [1, 0, 2]), k0);
        Assert.Equal([0, 0, 0, 0], k0.Data);
    }

    [Fact]
    public void Softmax_Of123_ByHand()
    {
        var x = V(DType.Float64, [1, 3, 1], 1, 2, 3);
        var y = V(DType.Float64, [1, 3, 1]);
        ReferenceOps.Softmax(x, y, log: false);
        double s = Math.Exp(1) + Math.Exp(2) + Math.Exp(3);
        Assert.Equal(Math.Exp(1) / s, y.Data[0], 15);
        Assert.Equal(Math.Exp(2) / s, y.Data[1], 15);
        Assert.Equal(Math.Exp(3) / s, y.Data[2], 15);
        Assert.Equal(1.0, y.Data.Sum(), 15);
        ReferenceOps.Softmax(x, y, log: true);
        Assert.Equal(1 - Math.Log(s), y.Data[0], 14);
        Assert.Equal(3 - Math.Log(s), y.Data[2], 14);
    }

    [Fact]
    public void Softmax_HugeLogitsAndNegativeInfinity_StayFinite()
    {
        var x = V(DType.Float32, [2, 3, 1], 1e4, -1e4, 0, double.NegativeInfinity, 0, 0);
        var y = V(DType.Float32, [2, 3, 1]);
        ReferenceOps.Softmax(x, y, log: false);
        Assert.Equal([1, 0, 0, 0, 0.5, 0.5], y.Data);
        ReferenceOps.Softmax(x, y, log: true);
        Assert.Equal(0, y.Data[0]);
        Assert.Equal(-2e4, y.Data[1]);
        Assert.Equal(double.NegativeInfinity, y.Data[3]);
        Assert.Equal((float)-Math.Log(2), y.Data[4]);
    }

    [Fact]
    public void Softmax_AlongStridedMiddleAxis_ByHand()
    {
        // x = [1, 2, 2] (outer 1, n 2, inner 2) = [[0, 10], [0, 10]]: columns reduce independently.
        var x = V(DType.Float64, [1, 2, 2], 0, 10, 0, 10);
        var y = V(DType.Float64, [1, 2, 2]);
        ReferenceOps.Softmax(x, y, log: false);
        Assert.Equal([0.5, 0.5, 0.5, 0.5], y.Data);
    }

    [Fact]
    public void Reduce_SumMaxArgMaxWithTiesAndNaN_ByHand()
    {
        // [outer 2, n 3, inner 1]
        var x = V(DType.Float32, [2, 3, 1], 1, 3, 3, 2, double.NaN, double.NaN);
        var y = V(DType.Float32, [2, 1]);
        ReferenceOps.Reduce(ReduceOp.Sum, x, y);
        Assert.Equal(7, y.Data[0]);
        Assert.True(double.IsNaN(y.Data[1]));
        ReferenceOps.Reduce(ReduceOp.Max, x, y);
        Assert.Equal(3, y.Data[0]);
        Assert.True(double.IsNaN(y.Data[1]));
        var i = V(DType.Int32, [2, 1]);
        ReferenceOps.Reduce(ReduceOp.ArgMax, x, i);
        Assert.Equal([1, 1], i.Data);
        ReferenceOps.Reduce(ReduceOp.ArgMin, x, i);
        Assert.Equal([0, 1], i.Data);
        var nanFirst = V(DType.Float64, [1, 3, 1], double.NaN, 5, -5);
        ReferenceOps.Reduce(ReduceOp.ArgMin, nanFirst, i = V(DType.Int32, [1, 1]));
        Assert.Equal(0, i.Data[0]);
        ReferenceOps.Reduce(ReduceOp.Min, nanFirst, y = V(DType.Float64, [1, 1]));
        Assert.True(double.IsNaN(y.Data[0]));
    }

    [Fact]
    public void Reduce_MiddleAxisWithInner_AndEmptySum_ByHand()
    {
        // x [1, 2, 3] = [[1,2,3],[4,5,6]] → sums over n: [5,7,9]
        var x = V(DType.Int32, [1, 2, 3], 1, 2, 3, 4, 5, 6);
        var y = V(DType.Int32, [1, 3]);
        ReferenceOps.Reduce(ReduceOp.Sum, x, y);
        Assert.Equal([5, 7, 9], y.Data);
        var e = V(DType.Float32, [2, 0, 2]);
        var z = V(DType.Float32, [2, 2], 9, 9, 9, 9);
        ReferenceOps.Reduce(ReduceOp.Sum, e, z);
        Assert.Equal([0, 0, 0, 0], z.Data);
        Assert.Throws<ArgumentException>(() => ReferenceOps.Reduce(ReduceOp.Max, e, z));
    }

    [Fact]
    public void StridedOutput_WritesOnlyInsideTheView()
    {
        // y = column 1 of a 3x3 buffer, offset 1, stride 3.
        var buffer = Enumerable.Repeat(-1.0, 9).ToArray();
        var y = new HostView(buffer, DType.Float32, [3], [3], 1);
        ReferenceOps.FillAffine(y, 10, 0.5);
        Assert.Equal([-1, 10, -1, -1, 10.5, -1, -1, 11, -1], buffer);
        // A broadcast input (stride 0) through a transposed output.
        var x = new HostView([7, 8], DType.Float32, [2, 2], [0, 1], 0);
        var t = new HostView(new double[4], DType.Float32, [2, 2], [1, 2], 0);
        ReferenceOps.Unary(UnaryOp.Neg, x, t);
        Assert.Equal([-7, -7, -8, -8], t.Data);
    }

    [Fact]
    public void Copy_FloatToInt_TruncatesTowardZero_AndDoubleToFloatRounds()
    {
        var x = V(DType.Float64, [5], -2.7, 2.7, -0.5, 0.1, 16777217);
        var i = V(DType.Int32, [5]);
        ReferenceOps.Copy(x, i);
        Assert.Equal([-2, 2, 0, 0, 16777217], i.Data);
        var f = V(DType.Float32, [5]);
        ReferenceOps.Copy(x, f);
        Assert.Equal([(float)-2.7, (float)2.7, -0.5, (float)0.1, 16777216], f.Data);
    }

    [Fact]
    public void ElementwiseScalars_ByHand()
    {
        Assert.Equal(0.5, ReferenceOps.Unary(UnaryOp.Sigmoid, 0));
        Assert.Equal(0, ReferenceOps.Unary(UnaryOp.Sigmoid, double.NegativeInfinity));
        Assert.Equal(1, ReferenceOps.Unary(UnaryOp.Tanh, 1e4));
        Assert.Equal(9, ReferenceOps.Unary(UnaryOp.PowScalar, -3, 2));
        Assert.Equal(-8, ReferenceOps.Unary(UnaryOp.PowScalar, -2, 3));
        Assert.Equal(7, ReferenceOps.Unary(UnaryOp.Affine, 2, 2.5, 2));
        Assert.Equal(0.3, ReferenceOps.Unary(UnaryOp.Clamp, 5, double.NegativeInfinity, 0.3));
        Assert.Equal(-1, ReferenceOps.Unary(UnaryOp.Sign, -1e-30));
        Assert.Equal(0, ReferenceOps.Unary(UnaryOp.Relu, -2));
        Assert.Equal(1, ReferenceOps.Binary(BinaryOp.Ne, double.NaN, double.NaN));
        Assert.Equal(0, ReferenceOps.Binary(BinaryOp.Ge, double.NaN, 1));
        Assert.Equal(1, ReferenceOps.Binary(BinaryOp.Pow, double.NaN, 0));
        Assert.Equal(4, ReferenceOps.Binary(BinaryOp.Pow, -2, 2));
        Assert.Equal(3, ReferenceOps.Conform(DType.Float32, 3.0000000001));
        Assert.Equal(-3, ReferenceOps.Conform(DType.Int32, -3.9));
    }

    [Fact]
    public void WhereGatherScatterAdd_ByHand()
    {
        var cond = V(DType.Float32, [4], 0, double.NaN, -0.0, 2);
        var a = V(DType.Int32, [4], 1, 2, 3, 4);
        var b = V(DType.Int32, [4], -1, -2, -3, -4);
        var y = V(DType.Int32, [4]);
        ReferenceOps.Where(cond, a, b, y);
        Assert.Equal([-1, 2, -3, 4], y.Data);

        // x [1, 3, 2] rows r0=[1,2], r1=[3,4], r2=[5,6]; index [1, 2, 2] = [[2,0],[2,2]]
        var x = V(DType.Float32, [1, 3, 2], 1, 2, 3, 4, 5, 6);
        var index = V(DType.Int32, [1, 2, 2], 2, 0, 2, 2);
        var g = V(DType.Float32, [1, 2, 2]);
        ReferenceOps.Gather(x, index, g);
        Assert.Equal([5, 2, 5, 6], g.Data);

        var acc = V(DType.Float32, [1, 3, 2], 10, 10, 10, 10, 10, 10);
        var src = V(DType.Float32, [1, 2, 2], 1, 2, 3, 4);
        ReferenceOps.ScatterAdd(src, index, acc);
        Assert.Equal([10, 12, 10, 10, 14, 14], acc.Data);
    }

    [Fact]
    public void LayoutSpec_ViewsStayInsideTheirBuffers()
    {
        var rng = new Random(1);
        for (int t = 0; t < 500; t++)
        {
            var shape = Shapes.Random(rng);
            var spec = LayoutSpec.Any(rng, input: rng.Next(2) == 0);
            var (strides, offset, length) = spec.Make(rng, shape);
            var view = new HostView(new double[length], DType.Float32, shape, strides, offset);
            var seen = new HashSet<long>();
            foreach (var i in view.Indices())
            {
                long p = view.OffsetOf(i);
                Assert.InRange(p, 0, length - 1);
                // Outputs (no zero strides) never address one element twice.
                if (!strides.Contains(0)) Assert.True(seen.Add(p), $"{Shapes.Show(shape)} strides {Shapes.Show(strides)}: element {p} twice");
            }
            Assert.Equal(Shapes.Count(shape), view.Indices().Count());
        }
    }

    [Fact]
    public void BackendDevices_AlwaysListsBothCpuDevices()
    {
        Assert.Equal(["cpu", "ilgpu-cpu"], BackendDevices.Names.Take(2));
        Assert.True(BackendDevices.NamesGpu("cuda:1"));
        Assert.True(BackendDevices.NamesGpu("OpenCL"));
        Assert.False(BackendDevices.NamesGpu("ilgpu-cpu"));
        Assert.False(BackendDevices.NamesGpu(null));
    }
}
