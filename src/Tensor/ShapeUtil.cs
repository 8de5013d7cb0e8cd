namespace GpuNet;

/// <summary>Shape arithmetic shared by every op: counting, broadcasting, dim normalisation, formatting.</summary>
internal static class ShapeUtil
{
    public static long Count(int[] shape)
    {
        long n = 1;
        foreach (var d in shape) n *= d;
        return n;
    }

    public static string Format(int[] shape) => "[" + string.Join(",", shape) + "]";

    public static bool SameShape(int[] a, int[] b) => a.AsSpan().SequenceEqual(b);

    public static int[] RowMajorStrides(int[] shape) => Kernels.StridedView.RowMajorStrides(shape);

    public static bool IsContiguous(int[] shape, int[] strides)
    {
        long expected = 1;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            if (shape[d] == 1) continue;
            if (strides[d] != expected) return false;
            expected *= shape[d];
        }
        return true;
    }

    /// <summary>Resolves a possibly negative dim against <paramref name="rank"/>, or throws naming the op.</summary>
    public static int NormalizeDim(string op, int dim, int rank, int[] shape)
    {
        int r = Math.Max(rank, 1);
        int d = dim < 0 ? dim + r : dim;
        if (d < 0 || d >= r)
            throw new ArgumentOutOfRangeException(nameof(dim), $"{op}: dim {dim} is out of range for a tensor of shape {Format(shape)} (expected {-r}..{r - 1}).");
        return d;
    }

    /// <summary>NumPy broadcasting: aligns trailing dims; each pair must be equal or contain a 1.</summary>
    public static int[] BroadcastShape(string op, int[] a, int[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var result = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            int db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            if (da != db && da != 1 && db != 1)
                throw new ArgumentException($"{op}: shapes {Format(a)} and {Format(b)} cannot be broadcast: dim {i} has sizes {da} and {db} (each pair must be equal or one of them 1).");
            result[i] = da == 1 ? db : da;
        }
        return result;
    }

    /// <summary>Strides that view a tensor of (shape, strides) as <paramref name="target"/> by broadcasting (zero strides).</summary>
    public static int[] BroadcastStrides(int[] shape, int[] strides, int[] target)
    {
        var result = new int[target.Length];
        int lead = target.Length - shape.Length;
        for (int i = 0; i < target.Length; i++)
        {
            if (i < lead) continue;
            result[i] = shape[i - lead] == 1 && target[i] != 1 ? 0 : strides[i - lead];
        }
        return result;
    }

    /// <summary>
    /// Tries to express dims [from, to) of a strided tensor as a single dim (<see cref="Kernels.StridedView.Coalesce"/>
    /// down to one dimension): <paramref name="count"/> elements <paramref name="stride"/> apart. Always true when
    /// the range holds no element.
    /// </summary>
    public static bool TryCollapse(int[] shape, int[] strides, int from, int to, out int count, out int stride)
    {
        count = 1;
        for (int d = from; d < to; d++) count *= shape[d];
        Span<long> dims = stackalloc long[Kernels.StridedView.MaxRank];
        Span<long> merged = stackalloc long[Kernels.StridedView.MaxRank];
        int rank = Kernels.StridedView.Coalesce(shape.AsSpan(from, to - from), 1, strides.AsSpan(from, to - from), dims, merged);
        stride = count == 0 ? 0 : (int)merged[0];
        return rank == 1 || count == 0;
    }

    public static void CheckShape(string op, int[] shape)
    {
        foreach (var d in shape)
            if (d < 0) throw new ArgumentException($"{op}: shape {Format(shape)} has a negative size.");
        if (shape.Length > Kernels.StridedView.MaxRank)
            throw new ArgumentException($"{op}: shape {Format(shape)} has rank {shape.Length}; at most {Kernels.StridedView.MaxRank} dims are supported.");
        if (Count(shape) > int.MaxValue)
            throw new ArgumentException($"{op}: shape {Format(shape)} has {Count(shape):N0} elements; at most {int.MaxValue:N0} are supported.");
    }
}
