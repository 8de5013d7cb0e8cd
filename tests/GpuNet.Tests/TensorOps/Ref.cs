namespace GpuNet.Tests.TensorOps;

/// <summary>
/// The host reference: a row-major array of doubles with a shape, and every op the suite checks
/// written the slow, obvious way — explicit multi-indices, broadcasting and strides by index math.
/// It knows nothing of the engine, so agreement with it means something.
/// </summary>
public sealed class Ref
{
    public Ref(int[] shape, double[] data)
    {
        if (Count(shape) != data.Length) throw new ArgumentException($"Ref: shape [{string.Join(",", shape)}] vs {data.Length} values");
        Shape = shape;
        Data = data;
    }

    public int[] Shape { get; }
    public double[] Data { get; }
    public int Rank => Shape.Length;
    public int Length => Data.Length;

    public override string ToString() => $"Ref[{string.Join(",", Shape)}]";

    public static int Count(int[] shape) => shape.Aggregate(1, (a, b) => a * b);

    public static int[] RowMajorStrides(int[] shape)
    {
        var s = new int[shape.Length];
        int acc = 1;
        for (int d = shape.Length - 1; d >= 0; d--) { s[d] = acc; acc *= shape[d]; }
        return s;
    }

    private int[]? _strides;

    public int FlatIndex(int[] index)
    {
        var strides = _strides ??= RowMajorStrides(Shape);
        int flat = 0;
        for (int d = 0; d < index.Length; d++) flat += index[d] * strides[d];
        return flat;
    }

    public double this[int[] index] => Data[FlatIndex(index)];

    /// <summary>Every multi-index of <paramref name="shape"/> in row-major order (none when a dim is 0; one for rank 0).</summary>
    public static IEnumerable<int[]> Indices(int[] shape)
    {
        int n = Count(shape);
        var idx = new int[shape.Length];
        for (int k = 0; k < n; k++)
        {
            yield return (int[])idx.Clone();
            for (int d = shape.Length - 1; d >= 0; d--)
            {
                if (++idx[d] < shape[d]) break;
                idx[d] = 0;
            }
        }
    }

    public static Ref FromFunc(int[] shape, Func<int[], double> f) =>
        new(shape, Indices(shape).Select(f).ToArray());

    public static Ref Fill(int[] shape, double value) => FromFunc(shape, _ => value);

    public Ref Map(Func<double, double> f) => new(Shape, Data.Select(f).ToArray());

    /// <summary>NumPy broadcasting of two shapes, or null when they do not broadcast.</summary>
    public static int[]? BroadcastShape(int[] a, int[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var r = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : 1;
            int db = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : 1;
            if (da != db && da != 1 && db != 1) return null;
            r[i] = da == 1 ? db : da;
        }
        return r;
    }

    /// <summary>The element a broadcast operand contributes at <paramref name="outIndex"/> of the broadcast result.</summary>
    public double AtBroadcast(int[] outIndex)
    {
        int lead = outIndex.Length - Rank;
        int flat = 0, stride = 1;
        for (int d = Rank - 1; d >= 0; d--)
        {
            int i = Shape[d] == 1 ? 0 : outIndex[d + lead];
            flat += i * stride;
            stride *= Shape[d];
        }
        return Data[flat];
    }

    public Ref BroadcastTo(int[] shape) => FromFunc(shape, AtBroadcast);

    public static Ref Zip(Ref a, Ref b, Func<double, double, double> f)
    {
        var shape = BroadcastShape(a.Shape, b.Shape) ?? throw new ArgumentException($"Ref.Zip: {a} and {b} do not broadcast");
        return FromFunc(shape, i => f(a.AtBroadcast(i), b.AtBroadcast(i)));
    }

    public static Ref Zip3(Ref c, Ref a, Ref b, Func<double, double, double, double> f)
    {
        var shape = BroadcastShape(BroadcastShape(c.Shape, a.Shape)!, b.Shape)!;
        return FromFunc(shape, i => f(c.AtBroadcast(i), a.AtBroadcast(i), b.AtBroadcast(i)));
    }

    public Ref Reshape(params int[] shape) => new(shape, Data);

    /// <summary>Result dim i is dim perm[i] of this.</summary>
    public Ref Permute(params int[] perm)
    {
        var shape = perm.Select(p => Shape[p]).ToArray();
        return FromFunc(shape, i =>
        {
            var src = new int[Rank];
            for (int k = 0; k < Rank; k++) src[perm[k]] = i[k];
            return this[src];
        });
    }

    public Ref Transpose(int a, int b)
    {
        var perm = Enumerable.Range(0, Rank).ToArray();
        (perm[a], perm[b]) = (perm[b], perm[a]);
        return Permute(perm);
    }

    public Ref Narrow(int dim, int start, int length)
    {
        var shape = (int[])Shape.Clone();
        shape[dim] = length;
        return FromFunc(shape, i =>
        {
            var src = (int[])i.Clone();
            src[dim] += start;
            return this[src];
        });
    }

    public Ref Select(int dim, int index)
    {
        var shape = Shape.Where((_, d) => d != dim).ToArray();
        return FromFunc(shape, i =>
        {
            var src = i.Take(dim).Append(index).Concat(i.Skip(dim)).ToArray();
            return this[src];
        });
    }

    /// <summary>Reduces dim <paramref name="dim"/> with <paramref name="f"/> applied to the slice's values in order.</summary>
    public Ref Reduce(int dim, bool keepDim, Func<double[], double> f)
    {
        var outShape = (int[])Shape.Clone();
        outShape[dim] = 1;
        var reduced = FromFunc(outShape, i =>
        {
            var slice = new double[Shape[dim]];
            var src = (int[])i.Clone();
            for (int k = 0; k < slice.Length; k++) { src[dim] = k; slice[k] = this[src]; }
            return f(slice);
        });
        return keepDim ? reduced : reduced.Reshape(Shape.Where((_, d) => d != dim).ToArray());
    }

    public double SumAll() => Data.Sum();

    public static int ArgMax(double[] v)
    {
        int best = 0;
        for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    public static int ArgMin(double[] v)
    {
        int best = 0;
        for (int i = 1; i < v.Length; i++) if (v[i] < v[best]) best = i;
        return best;
    }

    /// <summary>Softmax (or log-softmax) along <paramref name="dim"/>, in double with the maximum subtracted.</summary>
    public Ref Softmax(int dim, bool log)
    {
        var max = Reduce(dim, keepDim: true, v => v.Max());
        var shifted = Zip(this, max, (v, m) => v - m);
        var logSum = shifted.Reduce(dim, keepDim: true, v => Math.Log(v.Sum(Math.Exp)));
        return Zip(shifted, logSum, (z, l) => log ? z - l : Math.Exp(z - l));
    }

    /// <summary>PyTorch's matmul: 1-D operands become a row (left) or column (right) and that dim is dropped; batch dims broadcast.</summary>
    public static Ref MatMul(Ref a, Ref b)
    {
        bool aVec = a.Rank == 1, bVec = b.Rank == 1;
        var a2 = aVec ? a.Reshape(1, a.Shape[0]) : a;
        var b2 = bVec ? b.Reshape(b.Shape[0], 1) : b;
        int m = a2.Shape[^2], k = a2.Shape[^1], n = b2.Shape[^1];
        if (b2.Shape[^2] != k) throw new ArgumentException("Ref.MatMul: inner dims differ");
        var batch = BroadcastShape(a2.Shape[..^2], b2.Shape[..^2])!;
        int[] outShape = [.. batch, m, n];
        var result = FromFunc(outShape, i =>
        {
            var bi = i[..^2];
            int ab = BatchOffset(a2.Shape[..^2], bi), bb = BatchOffset(b2.Shape[..^2], bi);
            double s = 0;
            for (int p = 0; p < k; p++)
                s += a2.Data[ab * m * k + i[^2] * k + p] * b2.Data[bb * k * n + p * n + i[^1]];
            return s;
        });
        var shape = result.Shape.ToList();
        if (bVec) shape.RemoveAt(shape.Count - 1);
        if (aVec) shape.RemoveAt(shape.Count - (bVec ? 1 : 2));
        return result.Reshape([.. shape]);
    }

    // Row-major offset of the broadcast batch index within an operand's own batch dims.
    private static int BatchOffset(int[] batchShape, int[] outBatch)
    {
        int lead = outBatch.Length - batchShape.Length, flat = 0;
        for (int d = 0; d < batchShape.Length; d++)
            flat = flat * batchShape[d] + (batchShape[d] == 1 ? 0 : outBatch[d + lead]);
        return flat;
    }
}
