using GpuNet.Kernels;
using Xunit;

namespace GpuNet.Tests.Backends;

/// <summary>How the operands of a MatMul case are laid out.</summary>
public enum MatMulLayout
{
    /// <summary>All three row-major.</summary>
    Contiguous,
    /// <summary>a stored as [batch, k, m] (a view of aᵀ).</summary>
    TransposedA,
    /// <summary>b stored as [batch, n, k].</summary>
    TransposedB,
    /// <summary>Both transposed.</summary>
    TransposedBoth,
    /// <summary>a or b shared by every batch (batch stride 0).</summary>
    BroadcastBatch,
    /// <summary>c written through permuted, padded strides.</summary>
    StridedOutput,
    /// <summary>Every operand a window (with offset) into a larger matrix: leading dimension &gt; columns.</summary>
    Narrowed,
    /// <summary>Random mixes of all of the above, any dim of a or b possibly broadcast.</summary>
    Mixed,
}

public sealed partial class BackendConformanceTests
{
    public static TheoryData<string, MatMulLayout, DType> MatMulCases()
    {
        var data = new TheoryData<string, MatMulLayout, DType>();
        foreach (var dev in BackendDevices.Names)
            foreach (var layout in Enum.GetValues<MatMulLayout>())
                foreach (var dt in Floating) data.Add(dev, layout, dt); // MatMul is floating only (IBackend remarks)
        return data;
    }

    private static (LayoutSpec A, LayoutSpec B, LayoutSpec C) MatMulSpecs(MatMulLayout layout, Random rng)
    {
        var t = new LayoutSpec(Order: LayoutSpec.SwapLastTwo(3));
        var bcast = new LayoutSpec(ZeroDims: [true, false, false], RandomOrder: rng.Next(2) == 0);
        return layout switch
        {
            MatMulLayout.TransposedA => (t, LayoutSpec.Contiguous, LayoutSpec.Contiguous),
            MatMulLayout.TransposedB => (LayoutSpec.Contiguous, t, LayoutSpec.Contiguous),
            MatMulLayout.TransposedBoth => (t, t, LayoutSpec.Contiguous),
            MatMulLayout.BroadcastBatch => rng.Next(2) == 0 ? (bcast, LayoutSpec.Contiguous, LayoutSpec.Contiguous) : (t, bcast, LayoutSpec.Contiguous),
            MatMulLayout.StridedOutput => (LayoutSpec.Contiguous, LayoutSpec.Contiguous, new LayoutSpec(RandomOrder: true, Pad: true)),
            MatMulLayout.Narrowed => (LayoutSpec.Narrowed, t with { Pad = true }, LayoutSpec.Narrowed),
            MatMulLayout.Mixed => (LayoutSpec.Any(rng, input: true), LayoutSpec.Any(rng, input: true), LayoutSpec.Any(rng, input: false)),
            _ => (LayoutSpec.Contiguous, LayoutSpec.Contiguous, LayoutSpec.Contiguous),
        };
    }

    [Theory]
    [MemberData(nameof(MatMulCases))]
    public void MatMul_TransposedBroadcastAndNarrowedOperands_MatchReference(string device, MatMulLayout layout, DType dtype)
    {
        using var h = new Harness(device, nameof(MatMul_TransposedBroadcastAndNarrowedOperands_MatchReference), layout, dtype);
        // (m, n, k): single elements, k = 0 (c must become zeros), empty m / n; then one large
        // triple per row, rotating so that 17, 33 and 65 (past one and two 16/32-wide tiles, odd)
        // reach m, n and k across the rows; then two small random triples. ILGPU's CPU accelerator
        // simulates every barrier of a tiled kernel (~15 ms a launch, ~0.3 s at 17³), so the
        // large triples are spread over rows rather than repeated in each.
        (int, int, int)[] large = [(65, 33, 17), (17, 65, 33), (33, 17, 65), (65, 1, 65), (1, 65, 65), (65, 65, 1), (17, 17, 17), (33, 3, 65)];
        var sizes = new List<(int M, int N, int K)> { (1, 1, 1), (3, 3, 0), (0, 3, 3), (3, 0, 3) };
        sizes.Add(large[((int)layout + (dtype == DType.Float64 ? 3 : 0)) % large.Length]);
        int[] small = [0, 1, 3, 17, 33];
        while (sizes.Count < 7)
        {
            var (m, n, k) = (small[h.Rng.Next(small.Length)], small[h.Rng.Next(small.Length)], small[h.Rng.Next(1, small.Length)]);
            if ((long)m * n * k <= 2_000) sizes.Add((m, n, k));
        }
        foreach (var (m, n, k) in sizes)
        {
            int batch = layout == MatMulLayout.BroadcastBatch ? h.Rng.Next(2, 4) : h.Rng.Next(1, 4);
            if ((long)m * n * k * batch > 4_000) batch = layout == MatMulLayout.BroadcastBatch ? 2 : 1;
            var (la, lb, lc) = MatMulSpecs(layout, h.Rng);
            var values = dtype == DType.Int32 ? Values.Ints(-20, 20) : Values.Uniform(-1, 1);
            var a = h.Input("a", dtype, [batch, m, k], la, values);
            var b = h.Input("b", dtype, [batch, k, n], lb, values);
            var c = h.Output("c", dtype, [batch, m, n], lc);
            var magnitude = HostView.Contiguous(DType.Float64, [batch, m, n]);
            ReferenceOps.MatMul(a.Host.Map(Math.Abs).As(DType.Float64), b.Host.Map(Math.Abs).As(DType.Float64), magnitude);
            h.Case($"MatMul {layout} {dtype.Name()} batch {batch} m {m} n {n} k {k}: {a}; {b}; {c}",
                () => h.Backend.MatMul(a.View, b.View, c.View),
                () => ReferenceOps.MatMul(a.Host, b.Host, c.Host),
                c, dtype == DType.Int32 ? Tol.Exact : Tol.Accumulated(dtype, k, i => magnitude[i]));
        }
        h.AssertAllPassed();
    }

    // ------------------------------------------------------------------ Gather / ScatterAdd

    private static IEnumerable<(int Outer, int N, int M, int Inner)> IndexShapes(Random rng, int randomCount)
    {
        (int, int, int, int)[] edge = [(1, 1, 1, 1), (2, 5, 8, 3), (0, 4, 2, 2), (3, 9, 0, 2), (2, 9, 4, 0), (1, 7, 33, 1), (4, 3, 3, 5)];
        foreach (var e in edge) yield return e;
        int[] outers = [1, 2, 3], ns = [1, 2, 5, 9], ms = [1, 3, 8, 17], inners = [1, 2, 4];
        for (int i = 0; i < randomCount; i++)
            yield return (outers[rng.Next(outers.Length)], ns[rng.Next(ns.Length)], ms[rng.Next(ms.Length)], inners[rng.Next(inners.Length)]);
    }

    [Theory]
    [MemberData(nameof(DeviceByDType))]
    public void Gather_WithRepeatedIndicesAndStridedViews_MatchesReference(string device, DType dtype)
    {
        using var h = new Harness(device, nameof(Gather_WithRepeatedIndicesAndStridedViews_MatchesReference), dtype);
        int k = 0;
        foreach (var (outer, n, m, inner) in IndexShapes(h.Rng, RandomCases))
        {
            // Every other case draws indices from the first three rows only: many repeats.
            int hi = k++ % 2 == 0 ? Math.Min(n, 3) - 1 : n - 1;
            var x = h.Input("x", dtype, [outer, n, inner], LayoutSpec.Any(h.Rng, input: true), dtype == DType.Int32 ? Values.Ints(-1000, 1000) : Values.Uniform(-5, 5));
            var index = h.Input("index", DType.Int32, [outer, m, inner], LayoutSpec.Any(h.Rng, input: true), Values.Ints(0, hi));
            var y = h.Output("y", dtype, [outer, m, inner], LayoutSpec.Any(h.Rng, input: false));
            h.Case($"Gather {dtype.Name()}: {x}; {index}; {y}",
                () => h.Backend.Gather(x.View, index.View, y.View),
                () => ReferenceOps.Gather(x.Host, index.Host, y.Host),
                y, Tol.Exact, i => Harness.At(index, i));
        }
        h.AssertAllPassed();
    }

    [Theory]
    [MemberData(nameof(DeviceByDType))]
    public void ScatterAdd_WithRepeatedIndices_AccumulatesLikeReference(string device, DType dtype)
    {
        using var h = new Harness(device, nameof(ScatterAdd_WithRepeatedIndices_AccumulatesLikeReference), dtype);
        int k = 0;
        foreach (var (outer, n, m, inner) in IndexShapes(h.Rng, RandomCases))
        {
            int hi = k++ % 2 == 0 ? Math.Min(n, 3) - 1 : n - 1;
            var src = h.Input("src", dtype, [outer, m, inner], LayoutSpec.Any(h.Rng, input: true), dtype == DType.Int32 ? Values.Ints(-1000, 1000) : Values.Uniform(-5, 5));
            var index = h.Input("index", DType.Int32, [outer, m, inner], LayoutSpec.Any(h.Rng, input: true), Values.Ints(0, hi));
            var y = h.Output("y", dtype, [outer, n, inner], LayoutSpec.Any(h.Rng, input: false));
            // Error bound: |y₀| plus the |src| scattered onto each element.
            var magnitude = y.Host.Map(Math.Abs).As(DType.Float64);
            ReferenceOps.ScatterAdd(src.Host.Map(Math.Abs).As(DType.Float64), index.Host, magnitude);
            var y0 = y.Host.Clone();
            h.Case($"ScatterAdd {dtype.Name()}: {src}; {index}; into {y}",
                () => h.Backend.ScatterAdd(src.View, index.View, y.View),
                () => ReferenceOps.ScatterAdd(src.Host, index.Host, y.Host),
                y, dtype == DType.Int32 ? Tol.Exact : Tol.Accumulated(dtype, m, i => magnitude[i]), i => $"y0={Harness.F(y0[i])}");
        }
        h.AssertAllPassed();
    }
}
