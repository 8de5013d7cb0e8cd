using GpuNet.Kernels;
using Xunit;
using ReferenceOps = GpuNet.Tests.Backends.ReferenceOps;

namespace GpuNet.Tests.Managed;

public class ManagedElementwiseTests
{
    public static TheoryData<UnaryOp> UnaryOps() => new(Enum.GetValues<UnaryOp>());
    public static TheoryData<BinaryOp> BinaryOps() => new(Enum.GetValues<BinaryOp>());

    [Theory]
    [MemberData(nameof(UnaryOps))]
    public void UnaryMatchesReferenceOnContiguousAndTransposedViews(UnaryOp op)
    {
        bool positive = op is UnaryOp.Log or UnaryOp.Sqrt or UnaryOp.PowScalar;
        double alpha = op switch { UnaryOp.PowScalar => 1.7, UnaryOp.Affine => -2.5, UnaryOp.Clamp => -0.3, _ => 0 };
        double beta = op switch { UnaryOp.Affine => 0.75, UnaryOp.Clamp => 0.4, _ => 0 };
        int r = 37, c = 53; // x viewed transposed as [c, r]: strided input, dense output
        var data = M.RandomDoubles(r * c, 7, positive ? 0.1 : -3, 3);
        data[5] = 0;
        foreach (bool dbl in new[] { false, true })
        {
            DeviceBuffer xb = dbl ? M.Buf(data) : M.Buf(data.Select(v => (float)v).ToArray());
            var host = dbl ? data : data.Select(v => (double)(float)v).ToArray();
            var yb = dbl ? M.Empty<double>(r * c) : M.Empty<float>(r * c);
            M.B.Unary(op, M.V(xb, [c, r], [1, c]), M.V(yb, [c, r]), alpha, beta);
            var got = dbl ? M.Read<double>(yb) : M.Read<float>(yb).Select(v => (double)v).ToArray();
            for (int i = 0; i < c; i++)
                for (int j = 0; j < r; j++)
                    M.Close(ReferenceOps.Unary(op, host[j * c + i], alpha, beta), got[i * r + j], dbl ? 1e-14 : 2e-6, $"{op} at [{i},{j}] (double={dbl})");
            // Contiguous, in place.
            M.B.Unary(op, M.V(xb, [r * c]), M.V(xb, [r * c]), alpha, beta);
            got = dbl ? M.Read<double>(xb) : M.Read<float>(xb).Select(v => (double)v).ToArray();
            for (int i = 0; i < r * c; i++) M.Close(ReferenceOps.Unary(op, host[i], alpha, beta), got[i], dbl ? 1e-14 : 2e-6, $"{op} in place at {i}");
        }
    }

    [Theory]
    [MemberData(nameof(BinaryOps))]
    public void BinaryBroadcastsThroughZeroStrides(BinaryOp op)
    {
        // a: [4, 1→5] broadcast along columns, b: [1→4, 5] broadcast along rows, plus a scalar case.
        var ad = M.RandomDoubles(4, 1, 0.5, 2);
        var bd = M.RandomDoubles(5, 2, 0.5, 2);
        bd[2] = ad[1]; // equality cases for the comparisons
        var a = M.Buf(ad);
        var b = M.Buf(bd);
        var y = M.Empty<double>(20);
        M.B.Binary(op, M.V(a, [4, 5], [1, 0]), M.V(b, [4, 5], [0, 1]), M.V(y, [4, 5]));
        var got = M.Read<double>(y);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 5; j++)
                M.Close(ReferenceOps.Binary(op, ad[i], bd[j]), got[i * 5 + j], 1e-15, $"{op} [{i},{j}]");
        // Scalar on the left against a dense row (the TensorPrimitives scalar overloads), float32.
        var af = M.Buf(new[] { 1.25f });
        var bf = M.Buf(bd.Select(v => (float)v).ToArray());
        var yf = M.Empty<float>(5);
        M.B.Binary(op, M.V(af, [5], [0]), M.V(bf, [5]), M.V(yf, [5]));
        var gf = M.Read<float>(yf);
        for (int j = 0; j < 5; j++) M.Close(ReferenceOps.Binary(op, 1.25, (float)bd[j]), gf[j], 2e-6, $"{op} scalar-left [{j}]");
    }

    [Fact]
    public void ComparisonsWriteOneZeroAndTreatNaNLikeIeee()
    {
        var a = M.Buf(new[] { 1f, float.NaN, 3f, 2f, float.NaN, -0f, 5f, 6f, 7f, 8f, 9f, 10f, 11f, 12f, 13f, 14f, 15f, 16f });
        var b = M.Buf(new[] { 1f, 1f, 2f, 3f, float.NaN, 0f, 5f, 0f, 8f, 8f, 9f, 0f, 20f, 12f, 13f, 0f, 15f, 17f });
        var y = M.Empty<float>(18);
        M.B.Binary(BinaryOp.Ne, M.V(a, [18]), M.V(b, [18]), M.V(y, [18]));
        Assert.Equal(new float[] { 0, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 0, 1 }, M.Read<float>(y));
        M.B.Binary(BinaryOp.Ge, M.V(a, [18]), M.V(b, [18]), M.V(y, [18]));
        Assert.Equal(new float[] { 1, 0, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 0 }, M.Read<float>(y));
        var ia = M.Buf(new[] { 3, -1, 4, 1, 5 });
        var iy = M.Empty<int>(5);
        M.B.Binary(BinaryOp.Gt, M.V(ia, [5]), M.V(M.Buf(new[] { 2 }), [5], [0]), M.V(iy, [5]));
        Assert.Equal(new[] { 1, 0, 1, 0, 1 }, M.Read<int>(iy));
    }

    [Fact]
    public void Int32SupportsItsOpsAndRejectsFloatingOnlyOnesByName()
    {
        var x = M.Buf(new[] { -7, 0, 5, int.MinValue });
        var y = M.Empty<int>(4);
        M.B.Unary(UnaryOp.Abs, M.V(x, [4]), M.V(y, [4]));
        Assert.Equal(new[] { 7, 0, 5, int.MinValue }, M.Read<int>(y));
        M.B.Unary(UnaryOp.Affine, M.V(x, [3]), M.V(y, [3]), 3, -1);
        Assert.Equal(new[] { -22, -1, 14 }, M.Read<int>(y)[..3]);
        M.B.Unary(UnaryOp.Clamp, M.V(x, [3]), M.V(y, [3]), -2, double.PositiveInfinity);
        Assert.Equal(new[] { -2, 0, 5 }, M.Read<int>(y)[..3]);
        M.B.Unary(UnaryOp.Sign, M.V(x, [3]), M.V(y, [3]));
        Assert.Equal(new[] { -1, 0, 1 }, M.Read<int>(y)[..3]);
        M.B.Binary(BinaryOp.Minimum, M.V(x, [3]), M.V(M.Buf(new[] { 1 }), [3], [0]), M.V(y, [3]));
        Assert.Equal(new[] { -7, 0, 1 }, M.Read<int>(y)[..3]);
        Assert.Contains("Exp", Assert.Throws<NotSupportedException>(() => M.B.Unary(UnaryOp.Exp, M.V(x, [4]), M.V(y, [4]))).Message);
        Assert.Contains("Div", Assert.Throws<NotSupportedException>(() => M.B.Binary(BinaryOp.Div, M.V(x, [4]), M.V(x, [4]), M.V(y, [4]))).Message);
        Assert.Contains("Softmax", Assert.Throws<NotSupportedException>(() => M.B.Softmax(M.V(x, [1, 4, 1]), M.V(y, [1, 4, 1]), false)).Message);
    }

    [Fact]
    public void CopyConvertsAndTruncatesTowardZero()
    {
        var f = M.Buf(new[] { 2.7f, -2.7f, 0.5f, -0.5f, float.NaN, 3e9f, -3e9f, 7f });
        var i = M.Empty<int>(8);
        M.B.Copy(M.V(f, [8]), M.V(i, [8]));
        Assert.Equal(new[] { 2, -2, 0, 0, 0, int.MaxValue, int.MinValue, 7 }, M.Read<int>(i));
        var d = M.Empty<double>(8);
        M.B.Copy(M.V(i, [8]), M.V(d, [8]));
        Assert.Equal(new double[] { 2, -2, 0, 0, 0, int.MaxValue, int.MinValue, 7 }, M.Read<double>(d));
        // Strided conversion: every other element, reversed.
        var back = M.Empty<float>(4);
        M.B.Copy(M.V(d, [4], [-2], 6), M.V(back, [4]));
        Assert.Equal(new float[] { int.MinValue, 0, 0, 2 }, M.Read<float>(back));
    }

    [Fact]
    public void CopyMaterialisesTransposeAndBroadcast()
    {
        var x = M.Buf(Enumerable.Range(0, 24).Select(v => (float)v).ToArray());
        var y = M.Empty<float>(24);
        // [2,3,4] permuted to [4,2,3]
        M.B.Copy(M.V(x, [4, 2, 3], [1, 12, 4]), M.V(y, [4, 2, 3]));
        var got = M.Read<float>(y);
        for (int a = 0; a < 4; a++)
            for (int b = 0; b < 2; b++)
                for (int c = 0; c < 3; c++) Assert.Equal(b * 12 + c * 4 + a, got[a * 6 + b * 3 + c]);
        M.B.Copy(M.V(x, [3, 8], [1, 0], 5), M.V(y, [3, 8]));
        got = M.Read<float>(y);
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 8; c++) Assert.Equal(5 + r, got[r * 8 + c]);
    }

    [Fact]
    public void LargeStridedOpsTakeTheParallelPathCorrectly()
    {
        // 700×513 transposed view: more than the parallel threshold, rows that do not divide chunks.
        int r = 700, c = 513;
        var data = M.RandomFloats(r * c, 3);
        var x = M.Buf(data);
        var y = M.Empty<float>(r * c);
        M.B.Binary(BinaryOp.Mul, M.V(x, [c, r], [1, c]), M.V(M.Buf(new[] { 2f }), [c, r], [0, 0]), M.V(y, [c, r]));
        var got = M.Read<float>(y);
        for (int i = 0; i < c; i++)
            for (int j = 0; j < r; j++) Assert.Equal(2 * data[j * c + i], got[i * r + j]);
        M.B.FillAffine(M.V(y, [c, r], [1, c]), 1, 0.5);
        got = M.Read<float>(y);
        for (int i = 0; i < c; i++)
            for (int j = 0; j < r; j++) Assert.Equal((float)(1 + 0.5 * (i * r + j)), got[j * c + i]);
    }

    [Fact]
    public void WhereAcceptsAConditionOfAnotherDtype()
    {
        var cond = M.Buf(new[] { 1, 0, -3, 0, 2, 0, 0, 1, 1, 0, 0, 0, 5, 1, 0, 0, 0, 1 });
        var a = M.Buf(Enumerable.Range(0, 18).Select(v => (double)v).ToArray());
        var y = M.Empty<double>(18);
        M.B.Where(M.V(cond, [18]), M.V(a, [18]), M.V(M.Buf(new[] { -1.0 }), [18], [0]), M.V(y, [18]));
        var got = M.Read<double>(y);
        for (int i = 0; i < 18; i++) Assert.Equal(M.Read<int>(cond)[i] != 0 ? i : -1, got[i]);
        var fc = M.Buf(new[] { float.NaN, 0f, -0f, 1f, 1f, 0f, 0f, 0f, 1f, 1f, 0f, 0f, 1f, 1f, 0f, 0f, 2f });
        var fa = M.Buf(Enumerable.Range(0, 17).Select(v => (float)v).ToArray());
        var fy = M.Empty<float>(17);
        M.B.Where(M.V(fc, [17]), M.V(fa, [17]), M.V(M.Buf(new float[17]), [17]), M.V(fy, [17]));
        var gf = M.Read<float>(fy);
        Assert.Equal(0f, gf[0]); // NaN is non-zero: picks a (a[0] = 0)
        Assert.Equal(0f, gf[2]); // −0 is zero: picks b
        Assert.Equal(3f, gf[3]);
        Assert.Equal(16f, gf[16]);
    }

    [Fact]
    public void FillAndFillAffineOnStridedViews()
    {
        var y = M.Empty<int>(12);
        M.B.Fill(M.V(y, [12]), 0);
        M.B.Fill(M.V(y, [3, 2], [4, 2], 1), 9.9);
        Assert.Equal(new[] { 0, 9, 0, 9, 0, 9, 0, 9, 0, 9, 0, 9 }, M.Read<int>(y));
        M.B.FillAffine(M.V(y, [12]), -3, 2);
        Assert.Equal(Enumerable.Range(0, 12).Select(i => -3 + 2 * i).ToArray(), M.Read<int>(y));
    }

    [Fact]
    public void PoolReusesDisposedBuffers()
    {
        var b = M.Empty<float>(1000);
        b.Dispose();
        long before = M.B.Pool.Allocations;
        using var again = M.Empty<float>(900);
        Assert.Equal(before, M.B.Pool.Allocations);
        Assert.Throws<ObjectDisposedException>(() => M.B.Fill(M.V(b, [10]), 1));
    }
}
