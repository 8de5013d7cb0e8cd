namespace GpuNet.Kernels;

/// <summary>
/// A strided window onto a device buffer: element (i0, i1, …) lives at
/// <c>Offset + Σ i_d · Strides[d]</c>. Strides are in elements and may be zero (broadcast).
/// Every backend op takes its operands in this form, so transposes, narrows and
/// broadcasts reach the kernels without copies.
/// </summary>
public readonly struct StridedView
{
    /// <summary>Largest rank a kernel accepts.</summary>
    public const int MaxRank = 8;

    /// <summary>Creates a view; the arrays are not copied and must not be mutated afterwards.</summary>
    public StridedView(DeviceBuffer buffer, int[] shape, int[] strides, long offset)
    {
        if (shape.Length != strides.Length) throw new ArgumentException($"StridedView: shape rank {shape.Length} and strides rank {strides.Length} differ.");
        if (shape.Length > MaxRank) throw new ArgumentException($"StridedView: rank {shape.Length} exceeds the maximum {MaxRank}.");
        Buffer = buffer;
        Shape = shape;
        Strides = strides;
        Offset = offset;
    }

    /// <summary>A contiguous row-major view of the first <c>Π shape</c> elements after <paramref name="offset"/>.</summary>
    public static StridedView Contiguous(DeviceBuffer buffer, int[] shape, long offset = 0) =>
        new(buffer, shape, RowMajorStrides(shape), offset);

    /// <summary>The buffer viewed.</summary>
    public DeviceBuffer Buffer { get; }
    /// <summary>Extent of each dimension.</summary>
    public int[] Shape { get; }
    /// <summary>Step in elements per dimension.</summary>
    public int[] Strides { get; }
    /// <summary>Element offset of index (0, 0, …).</summary>
    public long Offset { get; }
    /// <summary>Number of dimensions.</summary>
    public int Rank => Shape.Length;
    /// <summary>Element type of the buffer.</summary>
    public DType DType => Buffer.DType;

    /// <summary>Number of elements addressed.</summary>
    public long Count
    {
        get { long n = 1; foreach (var d in Shape) n *= d; return n; }
    }

    /// <summary>True when the view is dense row-major (size-1 dimensions may have any stride).</summary>
    public bool IsContiguous
    {
        get
        {
            long expected = 1;
            for (int d = Rank - 1; d >= 0; d--)
            {
                if (Shape[d] == 1) continue;
                if (Strides[d] != expected) return false;
                expected *= Shape[d];
            }
            return true;
        }
    }

    /// <summary>Row-major strides for <paramref name="shape"/>.</summary>
    public static int[] RowMajorStrides(int[] shape)
    {
        var strides = new int[shape.Length];
        int s = 1;
        for (int d = shape.Length - 1; d >= 0; d--) { strides[d] = s; s *= Math.Max(shape[d], 1); }
        return strides;
    }

    /// <inheritdoc />
    public override string ToString() => $"[{string.Join(",", Shape)}] strides [{string.Join(",", Strides)}] +{Offset} {DType.Name()}";
}
