using System.Numerics.Tensors;
using GpuNet.Kernels;
using Xunit;
using ReferenceOps = GpuNet.Tests.Backends.ReferenceOps;

namespace GpuNet.Tests.Managed;

/// <summary>
/// The managed backend's memory-order walks: inputs transposed against their output go through dense
/// blocks (StridedLoop.Transposed.cs), and float sums split by row blocks. Each case is checked element
/// by element, and bit for bit where the op is exact, on odd sizes (partial blocks, SIMD tails), sizes
/// past the parallel threshold, permuted rank-3/4 views, broadcasts and every dtype.
/// </summary>
public class ManagedStridedWalkTests
{
    /// <summary>Row-major strides of <paramref name="shape"/> permuted so the tensor is a view of a dense tensor of the permuted shape.</summary>
    private static int[] PermutedStrides(int[] shape, int[] perm)
    {
        // The storage is dense in the order perm[0], perm[1], ...: axis perm[^1] is its unit-stride axis.
        var strides = new int[shape.Length];
        int s = 1;
        for (int k = perm.Length - 1; k >= 0; k--)
        {
            strides[perm[k]] = s;
            s *= shape[perm[k]];
        }
        return strides;
    }

    private static long Offset(int[] strides, int flat, int[] shape)
    {
        long off = 0;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            off += (long)(flat % shape[d]) * strides[d];
            flat /= shape[d];
        }
        return off;
    }

    public static TheoryData<int[], int[]> Layouts() => new()
    {
        { new[] { 67, 131 }, new[] { 1, 0 } },        // a plain transpose with partial blocks on both axes
        { new[] { 130, 9 }, new[] { 1, 0 } },         // a short inner axis
        { new[] { 600, 517 }, new[] { 1, 0 } },       // past the parallel threshold
        { new[] { 3, 70, 45 }, new[] { 0, 2, 1 } },   // batched transpose
        { new[] { 40, 5, 33 }, new[] { 2, 0, 1 } },   // unit axis moved outermost
        { new[] { 6, 7, 8, 9 }, new[] { 3, 1, 2, 0 } },
        // Outputs past StreamOutputBytes, whose blocks are streamed from scratch: rows of 1,029 elements
        // start off 64-byte boundaries (aligned head, streamed body, tail), and a batched one.
        { new[] { 1031, 1029 }, new[] { 1, 0 } },
        { new[] { 3, 700, 650 }, new[] { 0, 2, 1 } },
    };

    [Theory]
    [MemberData(nameof(Layouts))]
    public void UnaryOnPermutedViewsMatchesTheDenseOpBitForBit(int[] shape, int[] perm)
    {
        int n = shape.Aggregate(1, (a, b) => a * b);
        var strides = PermutedStrides(shape, perm);
        var data = M.RandomFloats(n, 5, -3, 3);
        data[7] = float.NaN;
        data[11] = -0f;
        var x = M.Buf(data);
        var y = M.Empty<float>(n);
        foreach (var op in new[] { UnaryOp.Relu, UnaryOp.Neg, UnaryOp.Abs, UnaryOp.Exp })
        {
            M.B.Unary(op, M.V(x, shape, strides), M.V(y, shape));
            var got = M.Read<float>(y);
            for (int i = 0; i < n; i++)
            {
                float v = data[Offset(strides, i, shape)];
                if (op == UnaryOp.Exp) M.Close(ReferenceOps.Unary(op, v, 0, 0), got[i], 2e-6, $"{op} at {i}");
                else
                {
                    // Exact ops: relu(x) = max(x, 0) with NaN kept, -x, |x|, compared as bits (-0 and NaN included).
                    float expect = op switch { UnaryOp.Relu => float.IsNaN(v) ? v : Math.Max(v, 0f), UnaryOp.Neg => -v, _ => Math.Abs(v) };
                    Assert.True(BitConverter.SingleToInt32Bits(expect) == BitConverter.SingleToInt32Bits(got[i]) || (float.IsNaN(expect) && float.IsNaN(got[i])),
                        $"{op} at {i}: expected {expect}, got {got[i]}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void BinaryAndWhereMixTransposedBroadcastAndDenseOperands(int[] shape, int[] perm)
    {
        int n = shape.Aggregate(1, (a, b) => a * b);
        var ts = PermutedStrides(shape, perm);
        var ad = M.RandomDoubles(n, 1, -2, 2);
        var bd = M.RandomDoubles(n, 2, -2, 2);
        var a = M.Buf(ad);
        var b = M.Buf(bd);
        // b broadcast along the output's innermost axis: stride 0 there, dense elsewhere.
        var bs = new int[shape.Length];
        for (int d = shape.Length - 2, s = 1; d >= 0; d--) { bs[d] = s; s *= shape[d]; }
        var y = M.Empty<double>(n);
        M.B.Binary(BinaryOp.Sub, M.V(a, shape, ts), M.V(b, shape, bs), M.V(y, shape));
        var got = M.Read<double>(y);
        for (int i = 0; i < n; i++)
            Assert.Equal(ad[Offset(ts, i, shape)] - bd[Offset(bs, i, shape)], got[i]);
        // Both inputs transposed, the output dense.
        M.B.Binary(BinaryOp.Maximum, M.V(a, shape, ts), M.V(b, shape, ts), M.V(y, shape));
        got = M.Read<double>(y);
        for (int i = 0; i < n; i++)
            Assert.Equal(Math.Max(ad[Offset(ts, i, shape)], bd[Offset(ts, i, shape)]), got[i]);
        // Where with a transposed int32 condition and a transposed value against a dense one.
        var cd = Enumerable.Range(0, n).Select(i => (i * 7 + 3) % 5 == 0 ? 1 : 0).ToArray();
        var c = M.Buf(cd);
        M.B.Where(M.V(c, shape, ts), M.V(a, shape, ts), M.V(b, shape), M.V(y, shape));
        got = M.Read<double>(y);
        for (int i = 0; i < n; i++)
        {
            long o = Offset(ts, i, shape);
            Assert.Equal(cd[o] != 0 ? ad[o] : bd[i], got[i]);
        }
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void CopyConvertsAndWritesIntoPermutedOutputs(int[] shape, int[] perm)
    {
        int n = shape.Aggregate(1, (a, b) => a * b);
        var ts = PermutedStrides(shape, perm);
        var id = Enumerable.Range(0, n).Select(i => i * 3 - 1000).ToArray();
        var xi = M.Buf(id);
        // int32 → int32 and int32 → float64 from a permuted view.
        var yi = M.Empty<int>(n);
        M.B.Copy(M.V(xi, shape, ts), M.V(yi, shape));
        var gi = M.Read<int>(yi);
        var yd = M.Empty<double>(n);
        M.B.Copy(M.V(xi, shape, ts), M.V(yd, shape));
        var gd = M.Read<double>(yd);
        for (int i = 0; i < n; i++)
        {
            Assert.Equal(id[Offset(ts, i, shape)], gi[i]);
            Assert.Equal(id[Offset(ts, i, shape)], gd[i]);
        }
        // A dense float64 source written into a permuted destination: the walk follows the destination.
        var yt = M.Empty<double>(n);
        M.B.Copy(M.V(yd, shape), M.V(yt, shape, ts));
        var gt = M.Read<double>(yt);
        for (int i = 0; i < n; i++) Assert.Equal(gd[i], gt[Offset(ts, i, shape)]);
    }

    [Fact]
    public void InPlaceUnaryOnATransposedViewTouchesEachElementOnce()
    {
        int r = 90, c = 77;
        var data = M.RandomFloats(r * c, 9, -1, 1);
        var x = M.Buf(data);
        var t = M.V(x, [c, r], [1, c]);
        M.B.Unary(UnaryOp.Affine, t, t, 2, 1);
        var got = M.Read<float>(x);
        for (int i = 0; i < r * c; i++) Assert.Equal(data[i] * 2f + 1f, got[i]);
    }

    [Fact]
    public void ColumnSumsEqualTheSequentialBlockedSumsBitForBit()
    {
        // Float sums over the middle axis, on the parallel path (split by row blocks) and the sequential
        // one, with rows wider than the view (a column slice) and widths that leave vector and scalar
        // tails. The formula: rows fold in float in blocks of 64 (row j0 first, then j0+1, ...), block
        // sums add in double from zero, in block order, and the total rounds to float once.
        foreach (var (outer, n, inner, pitch) in new[] { (2, 1000, 300, 300), (1, 517, 1100, 1100), (1, 700, 333, 345), (3, 70, 37, 37), (2, 9, 5, 7) })
        {
            var data = M.RandomFloats(outer * n * pitch, 13, -1, 1);
            var x = M.Buf(data);
            var y = M.Empty<float>(outer * inner);
            M.B.Reduce(ReduceOp.Sum, M.V(x, [outer, n, inner], [n * pitch, pitch, 1]), M.V(y, [outer, inner]));
            var got = M.Read<float>(y);
            for (int o = 0; o < outer; o++)
                for (int i = 0; i < inner; i++)
                {
                    double total = 0;
                    for (int j0 = 0; j0 < n; j0 += 64)
                    {
                        float block = data[(o * n + j0) * pitch + i];
                        for (int j = j0 + 1; j < Math.Min(n, j0 + 64); j++) block += data[(o * n + j) * pitch + i];
                        total += block;
                    }
                    Assert.Equal((float)total, got[o * inner + i]);
                }
        }
    }

    [Theory]
    [InlineData(UnaryOp.Relu)]
    [InlineData(UnaryOp.Neg)]
    [InlineData(UnaryOp.Abs)]
    [InlineData(UnaryOp.Sign)]
    [InlineData(UnaryOp.Clamp)]
    [InlineData(UnaryOp.Sqrt)]
    [InlineData(UnaryOp.Reciprocal)]
    public void LongFusedRows_StreamedOut_EqualTheTwoLaunchesBitForBit(UnaryOp unary)
    {
        // Rows long enough for the non-temporal output path, with output offsets that leave every
        // alignment of head, plus a broadcast (stride-0) operand; NaN, ±0 and ±∞ included. The exactly
        // rounded ops only: Exp's vector body and scalar tail may differ in the last bit, which is why the
        // tensor layer never fuses it (the conformance suite holds BinaryUnary with Exp to a tolerance).
        const int n = (1 << 17) + 37;
        var ad = M.RandomDoubles(n + 8, 21, -4, 4);
        var bd = M.RandomDoubles(n + 8, 22, -4, 4);
        double[] special = [double.NaN, 0.0, -0.0, double.PositiveInfinity, double.NegativeInfinity, 1e-40];
        for (int i = 0; i < special.Length; i++) { ad[i * 997] = special[i]; bd[i * 991 + 5] = special[i]; }
        (double alpha, double beta) = unary == UnaryOp.Clamp ? (-1.0, 2.0) : (0.0, 0.0);
        using var af = M.Buf(ad.Select(v => (float)v).ToArray());
        using var bf = M.Buf(bd.Select(v => (float)v).ToArray());
        using var a64 = M.Buf(ad);
        using var b64 = M.Buf(bd);
        foreach (var op in new[] { BinaryOp.Add, BinaryOp.Mul, BinaryOp.Maximum })
            foreach (int offset in new[] { 0, 1, 3, 5 })
            {
                Check(af, bf, broadcastB: false);
                Check(a64, b64, broadcastB: false);
                Check(af, bf, broadcastB: true);

                void Check(DeviceBuffer a, DeviceBuffer b, bool broadcastB)
                {
                    var dt = a.DType;
                    using var fused = M.B.Allocate(dt, n + 8);
                    using var apart = M.B.Allocate(dt, n + 8);
                    var av = M.V(a, [n], [1], 2);
                    var bv = broadcastB ? M.V(b, [n], [0], 7) : M.V(b, [n], [1], offset);
                    M.B.BinaryUnary(op, av, bv, M.V(fused, [n], [1], offset), unary, alpha, beta);
                    M.B.Binary(op, av, bv, M.V(apart, [n], [1], offset));
                    M.B.Unary(unary, M.V(apart, [n], [1], offset), M.V(apart, [n], [1], offset), alpha, beta);
                    if (dt == DType.Float32) AssertSameBits(M.Read<float>(apart).Select(v => (double)v).ToArray(), M.Read<float>(fused).Select(v => (double)v).ToArray());
                    else AssertSameBits(M.Read<double>(apart), M.Read<double>(fused));

                    void AssertSameBits(double[] want, double[] got)
                    {
                        for (int i = offset; i < offset + n; i++)
                            if (BitConverter.DoubleToInt64Bits(want[i]) != BitConverter.DoubleToInt64Bits(got[i]))
                                Assert.Fail($"BinaryUnary {op} then {unary} {dt.Name()}, offset {offset}{(broadcastB ? ", b broadcast" : "")}: element {i - offset} is {got[i]:R}, the two launches give {want[i]:R}.");
                    }
                }
            }
    }

    [Fact]
    public void ParallelLongSumEqualsTheSequentialBlockedSumBitForBit()
    {
        // 4096-element blocks summed by TensorPrimitives in float, the block sums added in double in order.
        int n = (1 << 20) + 12345;
        var data = M.RandomFloats(n, 17, -1, 1);
        var x = M.Buf(data);
        var y = M.Empty<float>(1);
        M.B.Reduce(ReduceOp.Sum, M.V(x, [1, n, 1]), M.V(y, [1, 1]));
        double acc = 0;
        for (int i = 0; i < n; i += 4096) acc += TensorPrimitives.Sum(data.AsSpan(i, Math.Min(4096, n - i)));
        Assert.Equal((float)acc, M.Read<float>(y)[0]);
    }
}
