using System.Runtime.CompilerServices;

namespace GpuNet.Kernels.Ilgpu;

/// <summary>
/// The shape an elementwise kernel walks, innermost dimension first (D0 is the last axis of the
/// view). A fixed set of fields rather than an array, because ILGPU kernel parameters must be
/// blittable structs; rank ≤ <see cref="StridedView.MaxRank"/>.
/// </summary>
internal struct Dims8
{
    public int Rank;
    public int D0, D1, D2, D3, D4, D5, D6, D7;
}

/// <summary>One operand's placement: element offset and per-dimension strides, innermost first (matching <see cref="Dims8"/>).</summary>
internal struct Strides8
{
    public long Offset;
    public int S0, S1, S2, S3, S4, S5, S6, S7;
}

/// <summary>A linear index decomposed into coordinates, innermost first.</summary>
internal struct Coord8
{
    public int C0, C1, C2, C3, C4, C5, C6, C7;
}

/// <summary>Index arithmetic shared by kernels and host. Everything here must stay ILGPU-compilable (no arrays, no exceptions).</summary>
internal static class Geo
{
    /// <summary>Splits a row-major linear index into coordinates; dimensions beyond the rank stay 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Coord8 Decompose(int index, in Dims8 d)
    {
        // Unrolled and gated by rank: the common collapsed case (rank 1–2) costs one or two divisions.
        Coord8 c = default;
        int r = index;
        if (d.Rank > 1) { int q = r / d.D0; c.C0 = r - q * d.D0; r = q; } else { c.C0 = r; return c; }
        if (d.Rank > 2) { int q = r / d.D1; c.C1 = r - q * d.D1; r = q; } else { c.C1 = r; return c; }
        if (d.Rank > 3) { int q = r / d.D2; c.C2 = r - q * d.D2; r = q; } else { c.C2 = r; return c; }
        if (d.Rank > 4) { int q = r / d.D3; c.C3 = r - q * d.D3; r = q; } else { c.C3 = r; return c; }
        if (d.Rank > 5) { int q = r / d.D4; c.C4 = r - q * d.D4; r = q; } else { c.C4 = r; return c; }
        if (d.Rank > 6) { int q = r / d.D5; c.C5 = r - q * d.D5; r = q; } else { c.C5 = r; return c; }
        if (d.Rank > 7) { int q = r / d.D6; c.C6 = r - q * d.D6; r = q; } else { c.C6 = r; return c; }
        c.C7 = r;
        return c;
    }

    /// <summary>Element offset of coordinates <paramref name="c"/> in operand <paramref name="s"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long At(in Coord8 c, in Strides8 s) =>
        s.Offset + (long)c.C0 * s.S0 + (long)c.C1 * s.S1 + (long)c.C2 * s.S2 + (long)c.C3 * s.S3
        + (long)c.C4 * s.S4 + (long)c.C5 * s.S5 + (long)c.C6 * s.S6 + (long)c.C7 * s.S7;

    // ---- host side -------------------------------------------------------------------------

    /// <summary>
    /// Builds the kernel geometry for operands sharing <paramref name="shape"/>. Size-1 axes are
    /// dropped and neighbouring axes that are contiguous in every operand are merged, so a dense
    /// tensor becomes rank 1 and its kernel does no division at all.
    /// </summary>
    public static (Dims8 Dims, Strides8[] Strides) Build(int[] shape, params StridedView[] views)
    {
        Span<int> strides = stackalloc int[views.Length * shape.Length];
        for (int v = 0; v < views.Length; v++) views[v].Strides.CopyTo(strides[(v * shape.Length)..]);
        Span<long> dims = stackalloc long[StridedView.MaxRank];
        Span<long> merged = stackalloc long[views.Length * StridedView.MaxRank];
        int rank = StridedView.Coalesce(shape, views.Length, strides, dims, merged);
        // Stored innermost first: D0 is the last axis. Extents fit an int: the caller checked the element count.
        Span<int> ds = stackalloc int[8];
        ds.Fill(1);
        for (int i = 0; i < rank; i++) ds[i] = (int)dims[rank - 1 - i];
        var result = new Dims8 { Rank = rank, D0 = ds[0], D1 = ds[1], D2 = ds[2], D3 = ds[3], D4 = ds[4], D5 = ds[5], D6 = ds[6], D7 = ds[7] };
        var outs = new Strides8[views.Length];
        Span<int> ss = stackalloc int[8];
        for (int v = 0; v < views.Length; v++)
        {
            ss.Clear();
            for (int i = 0; i < rank; i++) ss[i] = (int)merged[v * StridedView.MaxRank + rank - 1 - i];
            outs[v] = new Strides8
            {
                Offset = views[v].Offset,
                S0 = ss[0], S1 = ss[1], S2 = ss[2], S3 = ss[3], S4 = ss[4], S5 = ss[5], S6 = ss[6], S7 = ss[7],
            };
        }
        return (result, outs);
    }
}

/// <summary>
/// A rank-3 operand [outer, n, inner] as reductions, softmax, gather and scatter see it:
/// offset and the three strides.
/// </summary>
internal struct Axis3
{
    public long Offset;
    public int SO, SN, SI;

    /// <summary>Element offset of (o, j, i).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly long At(int o, int j, int i) => Offset + (long)o * SO + (long)j * SN + (long)i * SI;

    /// <summary>Host: the axis view of a rank-3 operand.</summary>
    public static Axis3 Of(StridedView v) => new() { Offset = v.Offset, SO = v.Strides[0], SN = v.Strides[1], SI = v.Strides[2] };
}

/// <summary>Sizes of a row-wise op: x = [Outer, N, Inner]; M is the middle extent of the second shape (gather/scatter) or the number of partial lanes (reductions).</summary>
internal struct Rows
{
    public int Outer, N, Inner, M;
}

/// <summary>Batched matmul geometry: a = [batch, M, K], b = [batch, K, N], c = [batch, M, N], each with batch/row/column strides.</summary>
internal struct MatGeom
{
    public int M, N, K;
    public Axis3 A, B, C;
}
