using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GpuNet.Kernels.Managed;

internal sealed unsafe partial class ManagedBackend
{
    /// <inheritdoc />
    public void Binary(BinaryOp op, StridedView a, StridedView b, StridedView y)
    {
        string name = OpNames.Of(op);
        CheckView(a, name);
        CheckView(b, name);
        CheckView(y, name);
        CheckSameDType(name, a, b, y);
        var l = StridedLoop.Create([a, b, y]);
        switch (y.DType)
        {
            case DType.Float32: { var k = new BinaryRow<float>(op); StridedLoop.Run(ref l, ref k); break; }
            case DType.Float64: { var k = new BinaryRow<double>(op); StridedLoop.Run(ref l, ref k); break; }
            default:
                if (op is BinaryOp.Div or BinaryOp.Pow) throw IntNotSupported($"Binary {op}");
                { var k = new BinaryRow<int>(op); StridedLoop.Run(ref l, ref k); break; }
        }
    }

    /// <inheritdoc />
    public void BinaryUnary(BinaryOp op, StridedView a, StridedView b, StridedView y, UnaryOp unary, double alpha, double beta)
    {
        string name = OpNames.Of(op);
        if (op == BinaryOp.Pow) throw new ArgumentException("BinaryUnary: Pow is not exactly rounded, so it does not fuse; launch Binary and Unary apart.", nameof(op));
        CheckView(a, name);
        CheckView(b, name);
        CheckView(y, name);
        CheckSameDType(name, a, b, y);
        var l = StridedLoop.Create([a, b, y]);
        switch (y.DType)
        {
            case DType.Float32: { var k = new BinaryUnaryRow<float>(op, unary, alpha, beta); StridedLoop.Run(ref l, ref k); break; }
            case DType.Float64: { var k = new BinaryUnaryRow<double>(op, unary, alpha, beta); StridedLoop.Run(ref l, ref k); break; }
            default:
                if (op is BinaryOp.Div) throw IntNotSupported($"Binary {op}");
                if (!UnaryOps.Get(unary).Integer) throw IntNotSupported($"Unary {unary}");
                { var k = new BinaryUnaryRow<int>(op, unary, alpha, beta); StridedLoop.Run(ref l, ref k); break; }
        }
    }

    /// <summary>
    /// The binary op's row into an L1 chunk, then the unary step from the chunk into y: the very span
    /// kernels of the two launches apart, on the same values, so the result is theirs bit for bit while
    /// the intermediate never travels to memory.
    /// </summary>
    private readonly struct BinaryUnaryRow<T>(BinaryOp op, UnaryOp unaryOp, double alpha, double beta) : IMapRowKernel where T : unmanaged, INumber<T>
    {
        public void Row(long index, int n, ref readonly RowOperands o)
        {
            if (unaryOp == UnaryOp.Affine && o.S0 == 1 && o.S1 == 1 && o.S2 == 1 && op is BinaryOp.Add or BinaryOp.Sub or BinaryOp.Mul or BinaryOp.Div && Vector512.IsHardwareAccelerated)
            {
                if (typeof(T) == typeof(float)) { DenseArithmeticAffine((float*)o.P0, (float*)o.P1, (float*)o.P2, n, op, (float)alpha, (float)beta); return; }
                if (typeof(T) == typeof(double)) { DenseArithmeticAffine((double*)o.P0, (double*)o.P1, (double*)o.P2, n, op, alpha, beta); return; }
            }
            // 8 KB chunks rather than the 2 KB of the other row kernels: two TensorPrimitives calls per
            // chunk cost about as much as the arithmetic on 512 floats, and 8 KB still stays in L1.
            int chunk = 8192 / sizeof(T);
            Span<T> t = stackalloc T[chunk];
            var unary = new UnaryRow<T>(unaryOp, alpha, beta);
            var binary = new BinaryRow<T>(op);
            // A long dense output is finished in the chunk and streamed out with non-temporal stores,
            // as the dense affine path does, so y's lines are not read before they are overwritten.
            bool stream = o.S2 == 1 && n >= NonTemporalElements;
            RowOperands bo = default, uo = default;
            uo.S0 = 1;
            uo.S1 = stream ? 1 : o.S2;
            fixed (T* pt = t)
            {
                for (int s = 0; s < n; s += chunk)
                {
                    int len = Math.Min(chunk, n - s);
                    bo.P0 = o.P0 + s * o.S0 * sizeof(T);
                    bo.P1 = o.P1 + s * o.S1 * sizeof(T);
                    bo.P2 = (nint)pt;
                    bo.S0 = o.S0;
                    bo.S1 = o.S1;
                    bo.S2 = 1;
                    binary.Row(index < 0 ? -1 : index + s, len, in bo);
                    uo.P0 = (nint)pt;
                    uo.P1 = stream ? (nint)pt : o.P2 + s * o.S2 * sizeof(T);
                    unary.Row(index < 0 ? -1 : index + s, len, in uo);
                    if (stream) StridedLoop.StreamRow((byte*)pt, (byte*)(o.P2 + s * sizeof(T)), len * sizeof(T));
                }
                // Non-temporal stores are weakly ordered: fence them before the row counts as written.
                if (stream && Sse.IsSupported) Sse.StoreFence();
            }
        }
    }

    /// <summary>Rows at least this long store the result past the caches (the output is not read back soon).</summary>
    private const int NonTemporalElements = 1 << 16;

    /// <summary>
    /// y = affine(a op b) on dense rows in registers, for the four arithmetic ops: each lane rounds the
    /// op, then the multiply and the add of the affine step, apart (no FMA), as the span kernels of the
    /// unfused launches do, so the result is theirs bit for bit. Long rows store non-temporally, which
    /// spares the write-allocate read of y.
    /// </summary>
    private static void DenseArithmeticAffine<T>(T* a, T* b, T* y, int n, BinaryOp op, T alpha, T beta) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // The affine step's three forms, as FloatingUnary applies them.
        int form = alpha == T.One ? 0 : beta == T.Zero ? 1 : 2;
        int i = 0;
        bool stream = n >= NonTemporalElements;
        if (stream)
            for (; i < n && ((nint)(y + i) & 63) != 0; i++) y[i] = Affine(Arith(op, a[i], b[i]), form, alpha, beta);
        var va = Vector512.Create(alpha);
        var vb = Vector512.Create(beta);
        for (; i <= n - Vector512<T>.Count; i += Vector512<T>.Count)
        {
            var x = Vector512.Load(a + i);
            var z = Vector512.Load(b + i);
            var t = op switch { BinaryOp.Add => x + z, BinaryOp.Sub => x - z, BinaryOp.Mul => x * z, _ => x / z };
            var r = form == 0 ? t + vb : form == 1 ? t * va : t * va + vb;
            if (stream) Vector512.StoreAlignedNonTemporal(r, y + i);
            else Vector512.Store(r, y + i);
        }
        for (; i < n; i++) y[i] = Affine(Arith(op, a[i], b[i]), form, alpha, beta);
    }

    private static T Arith<T>(BinaryOp op, T x, T z) where T : IFloatingPointIeee754<T> =>
        op switch { BinaryOp.Add => x + z, BinaryOp.Sub => x - z, BinaryOp.Mul => x * z, _ => x / z };

    private static T Affine<T>(T t, int form, T alpha, T beta) where T : IFloatingPointIeee754<T> =>
        form == 0 ? t + beta : form == 1 ? t * alpha : t * alpha + beta;

    private readonly struct BinaryRow<T>(BinaryOp op) : IMapRowKernel where T : unmanaged, INumber<T>
    {
        public void Row(long index, int n, ref readonly RowOperands o)
        {
            T* a = (T*)o.P0, b = (T*)o.P1, y = (T*)o.P2;
            if (o.S2 == 1)
            {
                // The common shapes of broadcasting hit TensorPrimitives directly: both rows dense,
                // or one side a scalar (stride 0) against a dense row.
                bool ad = o.S0 == 1, bd = o.S1 == 1;
                if (ad && bd) { BinarySpans(op, new ReadOnlySpan<T>(a, n), new ReadOnlySpan<T>(b, n), new Span<T>(y, n)); return; }
                if (ad && o.S1 == 0) { BinarySpans(op, new ReadOnlySpan<T>(a, n), new ReadOnlySpan<T>(b, 1), new Span<T>(y, n)); return; }
                if (o.S0 == 0 && bd) { BinarySpans(op, new ReadOnlySpan<T>(a, 1), new ReadOnlySpan<T>(b, n), new Span<T>(y, n)); return; }
            }
            Span<T> ba = stackalloc T[Chunk];
            Span<T> bb = stackalloc T[Chunk];
            Span<T> by = stackalloc T[Chunk];
            for (int s = 0; s < n; s += Chunk)
            {
                int len = Math.Min(Chunk, n - s);
                ReadOnlySpan<T> sa = Gather(a + s * o.S0, o.S0, len, ba);
                ReadOnlySpan<T> sb = Gather(b + s * o.S1, o.S1, len, bb);
                if (sa.Length == 1 && sb.Length == 1 && len > 1)
                {
                    // Both sides broadcast: materialise one so the span kernels see at most one scalar.
                    ba[..len].Fill(sa[0]);
                    sa = ba[..len];
                }
                if (o.S2 == 1) { BinarySpans(op, sa, sb, new Span<T>(y + s, len)); continue; }
                BinarySpans(op, sa, sb, by[..len]);
                T* ys = y + s * o.S2;
                for (int i = 0; i < len; i++) ys[i * o.S2] = by[i];
            }
        }

        /// <summary>A dense span of the row: the memory itself when contiguous, one element when broadcast, else a gathered copy.</summary>
        private static ReadOnlySpan<T> Gather(T* p, nint stride, int len, Span<T> buffer)
        {
            if (stride == 1) return new ReadOnlySpan<T>(p, len);
            if (stride == 0) return new ReadOnlySpan<T>(p, 1);
            for (int i = 0; i < len; i++) buffer[i] = p[i * stride];
            return buffer[..len];
        }
    }

    /// <summary>
    /// y = op(a, b) on dense spans where a or b may be a single element standing for a broadcast
    /// scalar (when y is longer than one).
    /// </summary>
    private static void BinarySpans<T>(BinaryOp op, ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) where T : unmanaged, INumber<T>
    {
        bool sa = a.Length != y.Length, sb = b.Length != y.Length;
        switch (op)
        {
            case BinaryOp.Add:
                if (sa) TensorPrimitives.Add(b, a[0], y); else if (sb) TensorPrimitives.Add(a, b[0], y); else TensorPrimitives.Add(a, b, y);
                break;
            case BinaryOp.Sub:
                if (sa) TensorPrimitives.Subtract(a[0], b, y); else if (sb) TensorPrimitives.Subtract(a, b[0], y); else TensorPrimitives.Subtract(a, b, y);
                break;
            case BinaryOp.Mul:
                if (sa) TensorPrimitives.Multiply(b, a[0], y); else if (sb) TensorPrimitives.Multiply(a, b[0], y); else TensorPrimitives.Multiply(a, b, y);
                break;
            case BinaryOp.Div:
                if (typeof(T) == typeof(int)) throw IntNotSupported("Binary Div");
                if (sa) TensorPrimitives.Divide(a[0], b, y); else if (sb) TensorPrimitives.Divide(a, b[0], y); else TensorPrimitives.Divide(a, b, y);
                break;
            case BinaryOp.Pow:
                if (typeof(T) == typeof(float)) PowSpans(MemoryMarshal.Cast<T, float>(a), MemoryMarshal.Cast<T, float>(b), MemoryMarshal.Cast<T, float>(y), sa, sb);
                else if (typeof(T) == typeof(double)) PowSpans(MemoryMarshal.Cast<T, double>(a), MemoryMarshal.Cast<T, double>(b), MemoryMarshal.Cast<T, double>(y), sa, sb);
                else throw IntNotSupported("Binary Pow");
                break;
            case BinaryOp.Maximum:
                if (sa) TensorPrimitives.Max(b, a[0], y); else if (sb) TensorPrimitives.Max(a, b[0], y); else TensorPrimitives.Max(a, b, y);
                break;
            case BinaryOp.Minimum:
                if (sa) TensorPrimitives.Min(b, a[0], y); else if (sb) TensorPrimitives.Min(a, b[0], y); else TensorPrimitives.Min(a, b, y);
                break;
            default:
                Compare(op, a, b, y, sa, sb);
                break;
        }
    }

    private static void PowSpans<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y, bool sa, bool sb) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (sa) TensorPrimitives.Pow(a[0], b, y);
        else if (sb) TensorPrimitives.Pow(a, b[0], y);
        else TensorPrimitives.Pow(a, b, y);
    }

    /// <summary>Comparison masks: 1 or 0 in the operands' dtype, vectorised with <see cref="Vector{T}"/>; NaN compares false except under Ne.</summary>
    private static void Compare<T>(BinaryOp op, ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y, bool sa, bool sb) where T : unmanaged, INumber<T>
    {
        int n = y.Length, i = 0;
        ref T ra = ref MemoryMarshal.GetReference(a);
        ref T rb = ref MemoryMarshal.GetReference(b);
        ref T ry = ref MemoryMarshal.GetReference(y);
        if (Vector.IsHardwareAccelerated && n >= Vector<T>.Count)
        {
            var one = Vector<T>.One;
            var va0 = new Vector<T>(a[0]);
            var vb0 = new Vector<T>(b[0]);
            for (; i <= n - Vector<T>.Count; i += Vector<T>.Count)
            {
                var va = sa ? va0 : Vector.LoadUnsafe(ref ra, (nuint)i);
                var vb = sb ? vb0 : Vector.LoadUnsafe(ref rb, (nuint)i);
                var m = op switch
                {
                    BinaryOp.Gt => Vector.GreaterThan(va, vb),
                    BinaryOp.Ge => Vector.GreaterThanOrEqual(va, vb),
                    BinaryOp.Lt => Vector.LessThan(va, vb),
                    BinaryOp.Le => Vector.LessThanOrEqual(va, vb),
                    BinaryOp.Eq => Vector.Equals(va, vb),
                    BinaryOp.Ne => ~Vector.Equals(va, vb),
                    _ => throw new ArgumentOutOfRangeException(nameof(op), op, "Binary: unknown op."),
                };
                (m & one).StoreUnsafe(ref ry, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            T va = sa ? a[0] : Unsafe.Add(ref ra, i);
            T vb = sb ? b[0] : Unsafe.Add(ref rb, i);
            bool r = op switch
            {
                BinaryOp.Gt => va > vb,
                BinaryOp.Ge => va >= vb,
                BinaryOp.Lt => va < vb,
                BinaryOp.Le => va <= vb,
                BinaryOp.Eq => va == vb,
                BinaryOp.Ne => va != vb,
                _ => throw new ArgumentOutOfRangeException(nameof(op), op, "Binary: unknown op."),
            };
            Unsafe.Add(ref ry, i) = r ? T.One : T.Zero;
        }
    }
}
