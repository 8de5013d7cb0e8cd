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

    /// <summary>
    /// Throws <see cref="ArgumentException"/> naming <paramref name="op"/> and the operand <paramref name="name"/>
    /// unless no extent is negative and every element the view addresses lies inside its buffer: what each
    /// backend checks of every operand before it touches memory.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    internal void Validate(string op, string name)
    {
        if (Shape is null || Strides is null) ThrowInvalid(op, name, 0, 0);
        long lo = Offset, hi = Offset;
        for (int d = 0; d < Shape!.Length; d++)
        {
            int n = Shape[d];
            if (n <= 0)
            {
                if (n < 0) ThrowInvalid(op, name, 0, 0);
                return; // addresses nothing
            }
            long span = (long)(n - 1) * Strides![d];
            if (span < 0) lo += span; else hi += span;
        }
        if (lo < 0 || hi >= Buffer.Length) ThrowInvalid(op, name, lo, hi);
    }

    // Kept out of Validate so that the check itself stays small enough to inline into every op.
    private void ThrowInvalid(string op, string name, long lo, long hi) => throw new ArgumentException(
        Shape is null || Strides is null ? $"{op}: {name} is an uninitialised view."
        : Array.Exists(Shape, d => d < 0) ? $"{op}: {name} has a negative dimension: {this}."
        : $"{op}: {name} view {this} reaches elements [{lo}, {hi}] outside its buffer of {Buffer.Length}.");

    /// <summary>
    /// Coalesces <paramref name="operands"/> views that share <paramref name="shape"/> (<paramref name="strides"/>: each operand's
    /// strides, operand after operand, <c>shape.Length</c> each) into the fewest dimensions that walk them in
    /// the same row-major order: size-1 dimensions are dropped, and a dimension merges into the one before it
    /// when every operand steps over it contiguously. Writes the extents to <paramref name="dims"/> and the
    /// strides to <paramref name="merged"/> (operand after operand, <see cref="MaxRank"/> each), outermost
    /// first, and returns the rank (at least 1: a single element is one dimension of extent 1, stride 0).
    /// Both backends build their iteration spaces with it, and the tensor layer asks it whether dims collapse.
    /// </summary>
    internal static int Coalesce(ReadOnlySpan<int> shape, int operands, ReadOnlySpan<int> strides, Span<long> dims, Span<long> merged)
    {
        int rank = shape.Length, r = 0;
        for (int d = 0; d < rank; d++)
        {
            if (shape[d] == 1) continue;
            bool merge = r > 0;
            for (int k = 0; k < operands && merge; k++)
                merge = merged[k * MaxRank + r - 1] == (long)strides[k * rank + d] * shape[d];
            if (merge)
            {
                dims[r - 1] *= shape[d];
                for (int k = 0; k < operands; k++) merged[k * MaxRank + r - 1] = strides[k * rank + d];
            }
            else
            {
                dims[r] = shape[d];
                for (int k = 0; k < operands; k++) merged[k * MaxRank + r] = strides[k * rank + d];
                r++;
            }
        }
        if (r > 0) return r;
        dims[0] = 1;
        for (int k = 0; k < operands; k++) merged[k * MaxRank] = 0;
        return 1;
    }

    /// <inheritdoc />
    public override string ToString() => $"[{string.Join(",", Shape)}] strides [{string.Join(",", Strides)}] +{Offset} {DType.Name()}";
}
