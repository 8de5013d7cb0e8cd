using GpuNet.Kernels;

namespace GpuNet.Tests.Backends;

/// <summary>
/// The host twin of <see cref="StridedView"/>: a window onto a plain <c>double[]</c> that holds a
/// whole buffer's contents, with the same shape / strides / offset rules. Values are kept as
/// doubles (exact for every Float32 and Int32 value); writes are rounded to the view's dtype by
/// <see cref="ReferenceOps.Conform"/> so the oracle stores what an ideal device would store.
/// </summary>
public sealed class HostView
{
    public HostView(double[] data, DType dtype, int[] shape, int[] strides, long offset)
    {
        if (shape.Length != strides.Length) throw new ArgumentException($"HostView: shape rank {shape.Length} and strides rank {strides.Length} differ.");
        Data = data;
        DType = dtype;
        Shape = shape;
        Strides = strides;
        Offset = offset;
    }

    /// <summary>A dense row-major view over a fresh (or given) array.</summary>
    public static HostView Contiguous(DType dtype, int[] shape, double[]? data = null)
    {
        long count = 1;
        foreach (var d in shape) count *= d;
        data ??= new double[count];
        if (data.Length < count) throw new ArgumentException($"HostView: {data.Length} values for shape [{string.Join(",", shape)}].");
        return new HostView(data, dtype, shape, StridedView.RowMajorStrides(shape), 0);
    }

    /// <summary>The whole buffer's contents (not only the viewed elements).</summary>
    public double[] Data { get; }
    public DType DType { get; }
    public int[] Shape { get; }
    public int[] Strides { get; }
    public long Offset { get; }
    public int Rank => Shape.Length;

    public long Count
    {
        get { long n = 1; foreach (var d in Shape) n *= d; return n; }
    }

    /// <summary>Buffer position of a logical index.</summary>
    public long OffsetOf(ReadOnlySpan<int> index)
    {
        if (index.Length != Rank) throw new ArgumentException($"HostView: index rank {index.Length} for view rank {Rank}.");
        long o = Offset;
        for (int d = 0; d < Rank; d++)
        {
            if ((uint)index[d] >= (uint)Shape[d]) throw new IndexOutOfRangeException($"HostView: index {index[d]} out of range for dim {d} of size {Shape[d]}.");
            o += (long)index[d] * Strides[d];
        }
        return o;
    }

    // Rank-2 and rank-3 accessors without the params array (the oracle's matmul / reduction loops).
    public double this[int i0, int i1, int i2]
    {
        get => Data[OffsetOf3(i0, i1, i2)];
        set => Data[OffsetOf3(i0, i1, i2)] = ReferenceOps.Conform(DType, value);
    }

    public double this[int i0, int i1]
    {
        get => Data[OffsetOf([i0, i1])];
        set => Data[OffsetOf([i0, i1])] = ReferenceOps.Conform(DType, value);
    }

    private long OffsetOf3(int i0, int i1, int i2)
    {
        if (Rank != 3) throw new ArgumentException($"HostView: 3 indices for view rank {Rank}.");
        if ((uint)i0 >= (uint)Shape[0] || (uint)i1 >= (uint)Shape[1] || (uint)i2 >= (uint)Shape[2])
            throw new IndexOutOfRangeException($"HostView: index [{i0},{i1},{i2}] out of range for shape [{string.Join(",", Shape)}].");
        return Offset + (long)i0 * Strides[0] + (long)i1 * Strides[1] + (long)i2 * Strides[2];
    }

    public double this[params int[] index]
    {
        get => Data[OffsetOf(index)];
        set => Data[OffsetOf(index)] = ReferenceOps.Conform(DType, value);
    }

    /// <summary>Every logical index in row-major order (one empty index for rank 0, none when a dim is 0).</summary>
    public IEnumerable<int[]> Indices() => RowMajor(Shape);

    /// <summary>Every index of <paramref name="shape"/> in row-major order.</summary>
    public static IEnumerable<int[]> RowMajor(int[] shape)
    {
        foreach (var d in shape) if (d == 0) yield break;
        var idx = new int[shape.Length];
        while (true)
        {
            yield return (int[])idx.Clone();
            int d = shape.Length - 1;
            while (d >= 0)
            {
                if (++idx[d] < shape[d]) break;
                idx[d] = 0;
                d--;
            }
            if (d < 0) yield break;
        }
    }

    /// <summary>The viewed elements in row-major order.</summary>
    public double[] ToArray() => Indices().Select(i => Data[OffsetOf(i)]).ToArray();

    /// <summary>A view of the same elements over a copy of the buffer.</summary>
    public HostView Clone() => new((double[])Data.Clone(), DType, Shape, Strides, Offset);

    /// <summary>Same layout, every buffer value replaced by <paramref name="f"/> of it (e.g. |x| for error bounds).</summary>
    public HostView Map(Func<double, double> f) => new(Data.Select(f).ToArray(), DType, Shape, Strides, Offset);

    /// <summary>Same layout and buffer, another dtype label (for magnitude computations in double).</summary>
    public HostView As(DType dtype) => new(Data, dtype, Shape, Strides, Offset);

    public override string ToString() => $"[{string.Join(",", Shape)}] strides [{string.Join(",", Strides)}] +{Offset} {DType.Name()} (buffer {Data.Length})";
}
