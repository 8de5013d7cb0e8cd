using GpuNet.Kernels;

namespace GpuNet.Tests.Backends;

/// <summary>
/// The oracle: every <see cref="IBackend"/> op written as the plainest possible loops over
/// <see cref="HostView"/>s, computing in double and rounding once, on store, to the output's
/// dtype. Nothing here is clever on purpose — when a backend and this class disagree, this
/// class should be the one that is obviously right.
/// </summary>
public static class ReferenceOps
{
    // ---------------------------------------------------------------- storage

    /// <summary>Rounds <paramref name="v"/> to what a <paramref name="dtype"/> element holds (float→int truncates toward zero).</summary>
    public static double Conform(DType dtype, double v) => dtype switch
    {
        DType.Float32 => (float)v,
        DType.Float64 => v,
        _ => double.IsNaN(v) ? 0 : Math.Truncate(Math.Clamp(v, int.MinValue, int.MaxValue)),
    };

    // ---------------------------------------------------------------- scalar functions

    /// <summary>The op's registered definition (<see cref="UnaryOps"/>), evaluated in double.</summary>
    public static double Unary(UnaryOp op, double x, double alpha = 0, double beta = 0) => UnaryOps.Get(op).Reference(x, alpha, beta);

    public static double Binary(BinaryOp op, double a, double b) => op switch
    {
        BinaryOp.Add => a + b,
        BinaryOp.Sub => a - b,
        BinaryOp.Mul => a * b,
        BinaryOp.Div => a / b,
        BinaryOp.Pow => Math.Pow(a, b),
        BinaryOp.Maximum => double.IsNaN(a) || double.IsNaN(b) ? double.NaN : Math.Max(a, b),
        BinaryOp.Minimum => double.IsNaN(a) || double.IsNaN(b) ? double.NaN : Math.Min(a, b),
        BinaryOp.Gt => a > b ? 1 : 0,
        BinaryOp.Ge => a >= b ? 1 : 0,
        BinaryOp.Lt => a < b ? 1 : 0,
        BinaryOp.Le => a <= b ? 1 : 0,
        BinaryOp.Eq => a == b ? 1 : 0,
        BinaryOp.Ne => a != b ? 1 : 0,
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, null),
    };

    // ---------------------------------------------------------------- fills and copies

    public static void Fill(HostView y, double value)
    {
        foreach (var i in y.Indices()) y[i] = value;
    }

    public static void FillAffine(HostView y, double start, double step)
    {
        long k = 0;
        foreach (var i in y.Indices()) y[i] = start + k++ * step;
    }

    public static void Copy(HostView x, HostView y)
    {
        SameShape("Copy", x, y);
        foreach (var i in y.Indices()) y[i] = x[i];
    }

    public static void Unary(UnaryOp op, HostView x, HostView y, double alpha = 0, double beta = 0)
    {
        SameShape("Unary", x, y);
        // Read every input first so that an aliased (in-place) y sees the old x values.
        var results = y.Indices().Select(i => (i, v: Unary(op, x[i], alpha, beta))).ToList();
        foreach (var (i, v) in results) y[i] = v;
    }

    public static void Binary(BinaryOp op, HostView a, HostView b, HostView y)
    {
        SameShape("Binary", a, y);
        SameShape("Binary", b, y);
        var results = y.Indices().Select(i => (i, v: Binary(op, a[i], b[i]))).ToList();
        foreach (var (i, v) in results) y[i] = v;
    }

    public static void Where(HostView condition, HostView a, HostView b, HostView y)
    {
        SameShape("Where", condition, y);
        SameShape("Where", a, y);
        SameShape("Where", b, y);
        var results = y.Indices().Select(i => (i, v: condition[i] != 0 ? a[i] : b[i])).ToList();
        foreach (var (i, v) in results) y[i] = v;
    }

    // ---------------------------------------------------------------- reductions

    public static void Reduce(ReduceOp op, HostView x, HostView y)
    {
        if (x.Rank != 3 || y.Rank != 2 || y.Shape[0] != x.Shape[0] || y.Shape[1] != x.Shape[2])
            throw new ArgumentException($"Reduce: x {x} and y {y} are not [outer,n,inner] and [outer,inner].");
        int outer = x.Shape[0], n = x.Shape[1], inner = x.Shape[2];
        if (n == 0 && op != ReduceOp.Sum) throw new ArgumentException($"Reduce: {op} over an empty axis.");
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                double acc;
                switch (op)
                {
                    case ReduceOp.Sum:
                        acc = 0;
                        for (int j = 0; j < n; j++) acc += x[o, j, i];
                        break;
                    case ReduceOp.Max:
                    case ReduceOp.Min:
                        acc = x[o, 0, i];
                        for (int j = 1; j < n; j++)
                        {
                            double v = x[o, j, i];
                            if (double.IsNaN(acc)) break;
                            if (double.IsNaN(v) || (op == ReduceOp.Max ? v > acc : v < acc)) acc = v;
                        }
                        break;
                    default:
                        {
                            int best = 0;
                            double bv = x[o, 0, i];
                            for (int j = 1; j < n && !double.IsNaN(bv); j++)
                            {
                                double v = x[o, j, i];
                                if (double.IsNaN(v) || (op == ReduceOp.ArgMax ? v > bv : v < bv)) { best = j; bv = v; }
                            }
                            acc = best;
                            break;
                        }
                }
                y[o, i] = acc;
            }
    }

    public static void Softmax(HostView x, HostView y, bool log)
    {
        SameShape("Softmax", x, y);
        if (x.Rank != 3) throw new ArgumentException($"Softmax: x {x} is not [outer,n,inner].");
        int outer = x.Shape[0], n = x.Shape[1], inner = x.Shape[2];
        var row = new double[n];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                double max = double.NegativeInfinity;
                for (int j = 0; j < n; j++) { row[j] = x[o, j, i]; max = Math.Max(max, row[j]); }
                double sum = 0;
                for (int j = 0; j < n; j++) sum += Math.Exp(row[j] - max);
                for (int j = 0; j < n; j++)
                    y[o, j, i] = log ? row[j] - max - Math.Log(sum) : Math.Exp(row[j] - max) / sum;
            }
    }

    // ---------------------------------------------------------------- matmul, gather, scatter

    public static void MatMul(HostView a, HostView b, HostView c)
    {
        if (a.Rank != 3 || b.Rank != 3 || c.Rank != 3) throw new ArgumentException("MatMul: operands must be rank 3.");
        int batch = c.Shape[0], m = c.Shape[1], n = c.Shape[2], k = a.Shape[2];
        if (a.Shape[0] != batch || b.Shape[0] != batch || a.Shape[1] != m || b.Shape[1] != k || b.Shape[2] != n)
            throw new ArgumentException($"MatMul: a {a}, b {b}, c {c} do not agree.");
        for (int q = 0; q < batch; q++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double s = 0;
                    for (int p = 0; p < k; p++) s += a[q, i, p] * b[q, p, j];
                    c[q, i, j] = s;
                }
    }

    public static void Gather(HostView x, HostView index, HostView y)
    {
        SameShape("Gather", index, y);
        int outer = y.Shape[0], m = y.Shape[1], inner = y.Shape[2];
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < m; j++)
                for (int i = 0; i < inner; i++)
                    y[o, j, i] = x[o, (int)index[o, j, i], i];
    }

    public static void ScatterAdd(HostView src, HostView index, HostView y)
    {
        SameShape("ScatterAdd", src, index);
        int outer = src.Shape[0], m = src.Shape[1], inner = src.Shape[2];
        // Accumulate exactly (in double), then round each touched element once.
        var acc = new Dictionary<long, double>();
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < m; j++)
                for (int i = 0; i < inner; i++)
                {
                    long at = y.OffsetOf([o, (int)index[o, j, i], i]);
                    acc[at] = (acc.TryGetValue(at, out var v) ? v : y.Data[at]) + src[o, j, i];
                }
        foreach (var (at, v) in acc) y.Data[at] = Conform(y.DType, v);
    }

    // ---------------------------------------------------------------- random

    /// <summary>Philox-4x32-10 (Salmon et al., SC'11): one 128-bit block from a 128-bit counter and a 64-bit key.</summary>
    public static (uint W0, uint W1, uint W2, uint W3) Philox4x32_10(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9, W1 = 0xBB67AE85;
        for (int round = 0; round < 10; round++)
        {
            if (round > 0) { k0 += W0; k1 += W1; }
            ulong p0 = (ulong)M0 * c0;
            ulong p1 = (ulong)M1 * c2;
            uint hi0 = (uint)(p0 >> 32), lo0 = (uint)p0;
            uint hi1 = (uint)(p1 >> 32), lo1 = (uint)p1;
            (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0);
        }
        return (c0, c1, c2, c3);
    }

    /// <summary>The Philox block for element counter <paramref name="c"/> under <paramref name="seed"/>, in GpuNet's scheme.</summary>
    public static (uint W0, uint W1, uint W2, uint W3) PhiloxBlock(ulong seed, ulong c) =>
        Philox4x32_10((uint)c, (uint)(c >> 32), 0, 0, (uint)seed, (uint)(seed >> 32));

    /// <summary>The value of element counter <paramref name="c"/> (= counterOffset + k) in double, before rounding to <paramref name="dtype"/>.</summary>
    public static double RandomValue(RandomDistribution distribution, DType dtype, ulong seed, ulong c, double alpha, double beta)
    {
        var (w0, w1, w2, w3) = PhiloxBlock(seed, c);
        const double TwoM24 = 1.0 / (1 << 24);
        const double TwoM53 = 1.0 / (1L << 53);
        // Float64 draws 53-bit uniforms from whole words (0–1, and 2–3 for Box–Muller's second uniform).
        if (distribution == RandomDistribution.Uniform)
        {
            double u = dtype == DType.Float64
                ? ((((ulong)w1 << 32) | w0) >> 11) * TwoM53
                : (w0 >> 8) * TwoM24;
            return alpha + (beta - alpha) * u;
        }
        double u1 = dtype == DType.Float64 ? (((((ulong)w1 << 32) | w0) >> 11) + 1) * TwoM53 : ((w0 >> 8) + 1) * TwoM24;
        double u2 = dtype == DType.Float64 ? ((((ulong)w3 << 32) | w2) >> 11) * TwoM53 : (w1 >> 8) * TwoM24;
        double z = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
        return alpha + beta * z;
    }

    public static void FillRandom(HostView y, RandomDistribution distribution, ulong seed, ulong counterOffset, double alpha, double beta)
    {
        ulong k = 0;
        foreach (var i in y.Indices()) y[i] = RandomValue(distribution, y.DType, seed, counterOffset + k++, alpha, beta);
    }

    private static void SameShape(string op, HostView a, HostView b)
    {
        if (!a.Shape.SequenceEqual(b.Shape)) throw new ArgumentException($"{op}: shapes [{string.Join(",", a.Shape)}] and [{string.Join(",", b.Shape)}] differ.");
    }
}
