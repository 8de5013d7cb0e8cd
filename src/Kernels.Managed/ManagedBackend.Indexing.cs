namespace GpuNet.Kernels.Managed;

internal sealed unsafe partial class ManagedBackend
{
    /// <inheritdoc />
    public void Gather(StridedView x, StridedView index, StridedView y)
    {
        CheckIndexing("Gather", x, index, y, out _);
        switch (x.DType)
        {
            case DType.Float32: GatherT<float>(x, index, y); break;
            case DType.Float64: GatherT<double>(x, index, y); break;
            default: GatherT<int>(x, index, y); break;
        }
    }

    /// <inheritdoc />
    public void ScatterAdd(StridedView src, StridedView index, StridedView y)
    {
        CheckIndexing("ScatterAdd", y, index, src, out _);
        switch (y.DType)
        {
            case DType.Float32: ScatterAddT<float>(src, index, y); break;
            case DType.Float64: ScatterAddT<double>(src, index, y); break;
            default: ScatterAddT<int>(src, index, y); break;
        }
    }

    /// <summary>Checks big = [outer, n, inner] against index and small = [outer, m, inner].</summary>
    private static void CheckIndexing(string op, in StridedView big, in StridedView index, in StridedView small, out int n)
    {
        CheckView(big, op);
        CheckView(index, op);
        CheckView(small, op);
        if (big.Rank != 3 || index.Rank != 3 || small.Rank != 3)
            throw new ArgumentException($"{op}: operands must be rank-3 [outer, n, inner] views, got {big}, {index}, {small}.");
        if (index.DType != DType.Int32) throw new ArgumentException($"{op}: index must be int32, got {index.DType.Name()}.");
        if (big.DType != small.DType) throw new ArgumentException($"{op}: data dtypes differ ({big.DType.Name()} and {small.DType.Name()}).");
        for (int d = 0; d < 3; d++)
            if (index.Shape[d] != small.Shape[d]) throw new ArgumentException($"{op}: index {index} and {small} differ in shape.");
        if (big.Shape[0] != small.Shape[0] || big.Shape[2] != small.Shape[2])
            throw new ArgumentException($"{op}: {big} and {small} must agree on outer and inner extents.");
        n = big.Shape[1];
    }

    private static void GatherT<T>(StridedView x, StridedView index, StridedView y) where T : unmanaged
    {
        int outer = y.Shape[0], m = y.Shape[1];
        // Whole-row copies from scattered rows (a shuffled DataLoader batch) wait on memory, so two
        // threads fetch nearly twice as fast; rows are split, and each is written by one thread.
        if (outer == 1 && index.Strides[2] == 0 && y.Count >= GatherParallelThreshold && WorkerPool.Threads > 1)
        {
            WorkerPool.ForRanges(m, WorkerPool.Threads * 4, (j0, j1) => GatherRows<T>(x, index, y, j0, j1));
            return;
        }
        GatherRows<T>(x, index, y, 0, m);
    }

    private const long GatherParallelThreshold = 1 << 15;

    /// <summary>Gathers rows [j0, j1) of the middle axis of y, for every outer index.</summary>
    private static void GatherRows<T>(StridedView x, StridedView index, StridedView y, int j0, int j1) where T : unmanaged
    {
        int outer = y.Shape[0], inner = y.Shape[2], n = x.Shape[1];
        T* px = Ptr<T>(x), py = Ptr<T>(y);
        int* pi = Ptr<int>(index);
        for (int o = 0; o < outer; o++)
            for (int j = j0; j < j1; j++)
            {
                T* yr = py + o * (long)y.Strides[0] + j * (long)y.Strides[1];
                int* ir = pi + o * (long)index.Strides[0] + j * (long)index.Strides[1];
                T* xo = px + o * (long)x.Strides[0];
                if (index.Strides[2] == 0 && inner > 0)
                {
                    // One index for the whole inner row (IndexSelect, a DataLoader batch): check it once and copy the row.
                    int k0 = *ir;
                    if ((uint)k0 >= (uint)n) throw IndexOutOfRange("Gather", k0, n, o, j, 0);
                    T* xr = xo + k0 * (long)x.Strides[1];
                    if (x.Strides[2] == 1 && y.Strides[2] == 1) new ReadOnlySpan<T>(xr, inner).CopyTo(new Span<T>(yr, inner));
                    else for (int i = 0; i < inner; i++) yr[i * (long)y.Strides[2]] = xr[i * (long)x.Strides[2]];
                    continue;
                }
                for (int i = 0; i < inner; i++)
                {
                    int k = ir[i * (long)index.Strides[2]];
                    if ((uint)k >= (uint)n) throw IndexOutOfRange("Gather", k, n, o, j, i);
                    yr[i * (long)y.Strides[2]] = xo[k * (long)x.Strides[1] + i * (long)x.Strides[2]];
                }
            }
    }

    private static void ScatterAddT<T>(StridedView src, StridedView index, StridedView y) where T : unmanaged, System.Numerics.INumber<T>
    {
        // Sequential with j ascending for each output element: the same order of additions on every
        // run, so results are bit-reproducible (the guarantee atomics cannot give).
        int outer = src.Shape[0], m = src.Shape[1], inner = src.Shape[2], n = y.Shape[1];
        T* ps = Ptr<T>(src), py = Ptr<T>(y);
        int* pi = Ptr<int>(index);
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < m; j++)
            {
                T* sr = ps + o * (long)src.Strides[0] + j * (long)src.Strides[1];
                int* ir = pi + o * (long)index.Strides[0] + j * (long)index.Strides[1];
                T* yo = py + o * (long)y.Strides[0];
                for (int i = 0; i < inner; i++)
                {
                    int k = ir[i * (long)index.Strides[2]];
                    if ((uint)k >= (uint)n) throw IndexOutOfRange("ScatterAdd", k, n, o, j, i);
                    yo[k * (long)y.Strides[1] + i * (long)y.Strides[2]] += sr[i * (long)src.Strides[2]];
                }
            }
    }

    private static ArgumentOutOfRangeException IndexOutOfRange(string op, int k, int n, int o, int j, int i) =>
        new("index", $"{op}: index {k} at [{o},{j},{i}] is out of range for an axis of size {n}.");
}
