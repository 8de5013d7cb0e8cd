using GpuNet.Kernels;
using Xunit;

namespace GpuNet.Tests.Managed;

public class ManagedGemmTests
{
    /// <summary>How an operand is laid out in its buffer.</summary>
    public enum Layout { RowMajor, Transposed, Strided, BroadcastBatch }

    /// <summary>
    /// Builds a [batch, rows, cols] operand in the given layout over random data and returns its view
    /// and a double accessor for the reference.
    /// </summary>
    private static (StridedView View, Func<int, int, int, double> Get) Operand<T>(int batch, int rows, int cols, Layout layout, int seed) where T : unmanaged
    {
        int b = layout == Layout.BroadcastBatch ? 1 : batch;
        int[] strides;
        long len;
        long offset = 3; // a non-zero offset catches base-address mistakes
        switch (layout)
        {
            case Layout.Transposed: strides = [rows * cols, 1, rows]; len = (long)b * rows * cols; break;
            case Layout.Strided: strides = [rows * cols * 2 * 3, cols * 3 + 1, 2]; len = (long)b * rows * cols * 6 + 1; break;
            case Layout.BroadcastBatch: strides = [0, cols, 1]; len = (long)rows * cols; break;
            default: strides = [rows * cols, cols, 1]; len = (long)b * rows * cols; break;
        }
        len += offset;
        var data = M.RandomDoubles((int)len, seed);
        DeviceBuffer buf = typeof(T) == typeof(float) ? M.Buf(data.Select(x => (float)x).ToArray()) : M.Buf(data);
        if (typeof(T) == typeof(float)) data = data.Select(x => (double)(float)x).ToArray();
        var s = strides;
        return (M.V(buf, [batch, rows, cols], s, offset), (bi, i, j) => data[M.At(s, offset, bi, i, j)]);
    }

    private static void Check<T>(int batch, int m, int n, int k, Layout la, Layout lb, bool columnMajorC = false) where T : unmanaged
    {
        var (a, ga) = Operand<T>(batch, m, k, la, 1);
        var (b, gb) = Operand<T>(batch, k, n, lb, 2);
        var cBuf = M.Empty<T>((long)batch * m * n);
        var c = columnMajorC ? M.V(cBuf, [batch, m, n], [m * n, 1, m]) : M.V(cBuf, [batch, m, n]);
        M.B.Fill(c, double.NaN); // the product must overwrite, not accumulate
        M.B.MatMul(a, b, c);
        double[] got = typeof(T) == typeof(float) ? M.Read<float>(cBuf).Select(x => (double)x).ToArray() : M.Read<double>(cBuf);
        double tol = typeof(T) == typeof(float) ? 2e-5 * Math.Sqrt(k) + 1e-6 : 1e-13 * k;
        for (int bi = 0; bi < batch; bi++)
        {
            // Dense copies first: the strided accessors are too slow for the inner loop.
            var ad = new double[m, k];
            var bd = new double[k, n];
            for (int i = 0; i < m; i++) for (int p = 0; p < k; p++) ad[i, p] = ga(bi, i, p);
            for (int p = 0; p < k; p++) for (int j = 0; j < n; j++) bd[p, j] = gb(bi, p, j);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double s = 0;
                    for (int p = 0; p < k; p++) s += ad[i, p] * bd[p, j];
                    double g = got[(long)bi * c.Strides[0] + (long)i * c.Strides[1] + (long)j * c.Strides[2]];
                    if (!M.Near(s, g, tol)) M.Close(s, g, tol, $"C[{bi},{i},{j}] of [{batch},{m},{k}]x[{k},{n}] {la}/{lb}");
                }
        }
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 5, 7)]
    [InlineData(12, 32, 8)]
    [InlineData(13, 33, 17)]
    [InlineData(37, 65, 300)]
    [InlineData(100, 31, 513)]
    [InlineData(1, 200, 64)]
    [InlineData(200, 1, 64)]
    public void OddSizesAndTails(int m, int n, int k)
    {
        Check<float>(1, m, n, k, Layout.RowMajor, Layout.RowMajor);
        Check<double>(1, m, n, k, Layout.RowMajor, Layout.RowMajor);
    }

    [Theory]
    [InlineData(Layout.Transposed, Layout.RowMajor)]
    [InlineData(Layout.RowMajor, Layout.Transposed)]
    [InlineData(Layout.Transposed, Layout.Transposed)]
    [InlineData(Layout.Strided, Layout.Strided)]
    [InlineData(Layout.Strided, Layout.Transposed)]
    public void TransposedAndStridedOperands(Layout la, Layout lb)
    {
        Check<float>(2, 29, 47, 70, la, lb);
        Check<double>(2, 29, 47, 70, la, lb);
        Check<float>(1, 4, 5, 3, la, lb); // the small-product path
    }

    [Fact]
    public void BroadcastBatchOperands()
    {
        Check<float>(3, 20, 40, 30, Layout.RowMajor, Layout.BroadcastBatch);
        Check<double>(3, 20, 40, 30, Layout.BroadcastBatch, Layout.Transposed);
    }

    [Fact]
    public void ColumnMajorOutput()
    {
        Check<float>(2, 23, 41, 19, Layout.RowMajor, Layout.RowMajor, columnMajorC: true);
        Check<double>(1, 23, 41, 19, Layout.Transposed, Layout.RowMajor, columnMajorC: true);
    }

    [Fact]
    public void LargeParallelProductsMatchReference()
    {
        // Big enough to take the threaded path and several K and N blocks.
        Check<float>(1, 40, 530, 300, Layout.RowMajor, Layout.Transposed);
        Check<double>(1, 30, 520, 260, Layout.RowMajor, Layout.RowMajor);
        // Slabs split the rows, so B is packed once for all of them; and odd strides on the shared operand.
        Check<float>(1, 530, 40, 300, Layout.Strided, Layout.Strided);
        Check<double>(1, 500, 36, 270, Layout.Transposed, Layout.Transposed);
        Check<float>(1, 1100, 1040, 120, Layout.RowMajor, Layout.Transposed); // several column blocks (n > NC) in the shared B
        // A shared A with several row blocks (m > MC) and K blocks, and one too large to share (each slab packs its own).
        Check<float>(1, 200, 600, 600, Layout.Transposed, Layout.RowMajor);
        Check<float>(1, 450, 460, 700, Layout.RowMajor, Layout.Transposed);
        // Many small products: the parallel-over-batches path.
        Check<float>(64, 24, 24, 40, Layout.RowMajor, Layout.BroadcastBatch);
    }

    [Fact]
    public void EmptyInnerDimensionGivesZeros()
    {
        var a = M.Empty<float>(0);
        var b = M.Empty<float>(0);
        var c = M.Empty<float>(6);
        M.B.Fill(M.V(c, [6]), 7);
        M.B.MatMul(M.V(a, [1, 2, 0]), M.V(b, [1, 0, 3]), M.V(c, [1, 2, 3]));
        Assert.All(M.Read<float>(c), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Int32IsRejectedByName()
    {
        var x = M.Buf(new int[4]);
        var e = Assert.Throws<NotSupportedException>(() => M.B.MatMul(M.V(x, [1, 2, 2]), M.V(x, [1, 2, 2]), M.V(M.Buf(new int[4]), [1, 2, 2])));
        Assert.Contains("MatMul", e.Message);
    }

    [Fact]
    public void MismatchedShapesNameTheOp()
    {
        var x = M.Buf(new float[100]);
        var e = Assert.Throws<ArgumentException>(() => M.B.MatMul(M.V(x, [1, 2, 3]), M.V(x, [1, 4, 5]), M.V(M.Buf(new float[10]), [1, 2, 5])));
        Assert.Contains("MatMul", e.Message);
    }
}
