using System.Numerics;
using System.Runtime.Intrinsics;

namespace GpuNet.Kernels.Managed;

internal sealed unsafe partial class ManagedBackend
{
    /// <inheritdoc />
    /// <remarks>
    /// Rows with dense features take one pass that writes dz and adds it into the bias gradient while
    /// it is in registers (the composed body reads and writes [rows, features] three or four times).
    /// Threads split the features, so each owns its slice of the bias gradient and the sums keep one
    /// order (row by row) whatever the thread count. Other layouts take the composed body.
    /// </remarks>
    public void ActivationBackward(StridedView grad, StridedView output, Activation activation, StridedView dz, StridedView? biasGrad)
    {
        const string op = "ActivationBackward";
        CheckView(grad, op);
        CheckView(output, op);
        CheckView(dz, op);
        CheckSameDType(op, grad, output, dz);
        if (grad.Rank != 2 || !SameShape(grad, output) || !SameShape(grad, dz))
            throw new ArgumentException($"{op}: grad {grad}, output {output} and dz {dz} must be one [rows, features] shape.");
        int rows = grad.Shape[0], features = grad.Shape[1];
        if (biasGrad is { } db)
        {
            CheckView(db, op);
            CheckSameDType(op, grad, db);
            if (db.Rank != 1 || db.Shape[0] != features) throw new ArgumentException($"{op}: biasGrad {db} must be [{features}].");
        }
        if (!grad.DType.IsFloating()) throw IntNotSupported(op);
        bool dense = grad.Strides[1] == 1 && output.Strides[1] == 1 && dz.Strides[1] == 1 && (biasGrad is not { } b || b.Strides[0] == 1 || features <= 1);
        if (!dense || rows == 0 || features == 0)
        {
            ComposedOps.ActivationBackward(this, grad, output, activation, dz, biasGrad);
            return;
        }
        if (grad.DType == DType.Float32) RunActivationBackward<float>(grad, output, activation, dz, biasGrad, rows, features);
        else RunActivationBackward<double>(grad, output, activation, dz, biasGrad, rows, features);
    }

    private static bool SameShape(in StridedView a, in StridedView b) => a.Shape.AsSpan().SequenceEqual(b.Shape);

    private static void RunActivationBackward<T>(StridedView grad, StridedView output, Activation activation, StridedView dz, StridedView? biasGrad, int rows, int features)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var k = new ActivationBackwardKernel<T>(Ptr<T>(grad), grad.Strides[0], Ptr<T>(output), output.Strides[0], Ptr<T>(dz), dz.Strides[0],
            biasGrad is { } db ? Ptr<T>(db) : null, activation, rows);
        long work = (long)rows * features;
        if (work < StridedLoop.ParallelThreshold || WorkerPool.Threads == 1)
        {
            k.Columns(0, features);
            return;
        }
        // Feature slices of whole cache lines, at most four per thread.
        WorkerPool.ForRanges(features, WorkerPool.Threads * 4, k.Columns, align: Math.Max(1, 64 / sizeof(T)));
    }

    private readonly struct ActivationBackwardKernel<T>(T* g, long gs, T* y, long ys, T* dz, long dzs, T* db, Activation activation, int rows)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        /// <summary>dz and the bias gradient for features [j0, j1), all rows.</summary>
        public void Columns(int j0, int j1)
        {
            // One loop per activation, specialised by the JIT through the struct type argument: a switch
            // on the activation inside the loop kept the slope out of line and made the pass 4× slower.
            switch (activation)
            {
                case Activation.Relu: Columns<ReluSlope<T>>(j0, j1); break;
                case Activation.Sigmoid: Columns<SigmoidSlope<T>>(j0, j1); break;
                case Activation.Tanh: Columns<TanhSlope<T>>(j0, j1); break;
                case Activation.LeakyRelu: Columns<LeakyReluSlope<T>>(j0, j1); break;
                case Activation.Elu: Columns<EluSlope<T>>(j0, j1); break;
                case Activation.Softplus: Columns<SoftplusSlope<T>>(j0, j1); break;
                case Activation.Gelu: GeluColumns(j0, j1); break;
                case Activation.GeluTanh: Columns<GeluTanhSlope<T>>(j0, j1); break;
                case Activation.Silu: Columns<SiluSlope<T>>(j0, j1); break;
                default: Columns<UnitSlope<T>>(j0, j1); break;
            }
        }

        /// <summary>GELU's slope of the pre-activation row by row through the chunked <see cref="Gelu{T}"/>, then dz = g·slope and the bias sums.</summary>
        private void GeluColumns(int j0, int j1)
        {
            int width = j1 - j0;
            T[]? rented = null;
            Span<T> slope = width <= 1024 ? stackalloc T[width] : (rented = System.Buffers.ArrayPool<T>.Shared.Rent(width)).AsSpan(0, width);
            Span<T> bias = db == null ? default : new Span<T>(db + j0, width);
            bias.Clear();
            for (int r = 0; r < rows; r++)
            {
                var z = new Span<T>(dz + r * dzs + j0, width);
                Gelu(new ReadOnlySpan<T>(y + r * ys + j0, width), slope, slope: true);
                System.Numerics.Tensors.TensorPrimitives.Multiply(new ReadOnlySpan<T>(g + r * gs + j0, width), slope, z);
                if (db != null) System.Numerics.Tensors.TensorPrimitives.Add(bias, z, bias);
            }
            if (rented != null) System.Buffers.ArrayPool<T>.Shared.Return(rented);
        }

        private void Columns<TSlope>(int j0, int j1) where TSlope : struct, ISlope<T>
        {
            if (db == null)
            {
                for (int r = 0; r < rows; r++)
                {
                    T* gr = g + r * gs, yr = y + r * ys, zr = dz + r * dzs;
                    int j = j0;
                    if (Vector256.IsHardwareAccelerated && default(TSlope).Vectorized)
                        for (; j <= j1 - Vector256<T>.Count; j += Vector256<T>.Count)
                            (Vector256.Load(gr + j) * default(TSlope).Of(Vector256.Load(yr + j))).Store(zr + j);
                    for (; j < j1; j++) zr[j] = gr[j] * default(TSlope).Of(yr[j]);
                }
                return;
            }
            // The bias sums build up on this thread's stack and reach db once per chunk: adding each row
            // into db itself bounced the cache line two threads' slices share at their boundary between
            // the cores, every row (3× slower than without a bias at 128 × 512).
            const int Chunk = 2048;
            T* acc = stackalloc T[Chunk];
            for (int c0 = j0; c0 < j1; c0 += Chunk)
            {
                int c1 = Math.Min(j1, c0 + Chunk), width = c1 - c0;
                new Span<T>(acc, width).Clear();
                for (int r = 0; r < rows; r++)
                {
                    T* gr = g + r * gs + c0, yr = y + r * ys + c0, zr = dz + r * dzs + c0;
                    int j = 0;
                    if (Vector256.IsHardwareAccelerated && default(TSlope).Vectorized)
                        for (; j <= width - Vector256<T>.Count; j += Vector256<T>.Count)
                        {
                            var v = Vector256.Load(gr + j) * default(TSlope).Of(Vector256.Load(yr + j));
                            v.Store(zr + j);
                            (Vector256.Load(acc + j) + v).Store(acc + j);
                        }
                    for (; j < width; j++)
                    {
                        T v = gr[j] * default(TSlope).Of(yr[j]);
                        zr[j] = v;
                        acc[j] += v;
                    }
                }
                new ReadOnlySpan<T>(acc, width).CopyTo(new Span<T>(db + c0, width));
            }
        }
    }

    /// <summary>An activation's derivative written in terms of its output (or of its input, see <see cref="ActivationOps.SlopeFromInput"/>).</summary>
    private interface ISlope<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        /// <summary>False for the slopes that have only the scalar form (transcendentals .NET has no vector form of).</summary>
        bool Vectorized { get; }
        Vector256<T> Of(Vector256<T> y);
        T Of(T y);
    }

    // The fused activations carry PyTorch's default parameters (ActivationOps.Parameters): slope 0.01, α = 1, β = 1, threshold 20.

    private readonly struct LeakyReluSlope<T> : ISlope<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public bool Vectorized => true;
        public Vector256<T> Of(Vector256<T> y) => Vector256.ConditionalSelect(Vector256.GreaterThan(y, Vector256<T>.Zero), Vector256<T>.One, Vector256.Create(T.CreateTruncating(0.01)));
        public T Of(T y) => y > T.Zero ? T.One : T.CreateTruncating(0.01);
    }

    private readonly struct EluSlope<T> : ISlope<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public bool Vectorized => true;
        public Vector256<T> Of(Vector256<T> y) => Vector256.ConditionalSelect(Vector256.GreaterThan(y, Vector256<T>.Zero), Vector256<T>.One, y + Vector256<T>.One);
        public T Of(T y) => y > T.Zero ? T.One : y + T.One;
    }

    private readonly struct SoftplusSlope<T> : ISlope<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public bool Vectorized => false;
        public Vector256<T> Of(Vector256<T> y) => throw new NotSupportedException();
        // σ(x) = 1 − e^(−y), as −expm1(−y) so that it keeps its digits where y is tiny.
        public T Of(T y) => y > T.CreateTruncating(20) ? T.One : T.CreateTruncating(-SpecialFunctions.Expm1(-double.CreateTruncating(y)));
    }

    private readonly struct GeluTanhSlope<T> : ISlope<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public bool Vectorized => false;
        public Vector256<T> Of(Vector256<T> z) => throw new NotSupportedException();
        public T Of(T z) => T.CreateTruncating(SpecialFunctions.GeluTanhSlope(double.CreateTruncating(z)));
    }

    private readonly struct SiluSlope<T> : ISlope<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public bool Vectorized => false;
        public Vector256<T> Of(Vector256<T> z) => throw new NotSupportedException();
        public T Of(T z) => T.CreateTruncating(SpecialFunctions.SiluSlope(double.CreateTruncating(z)));
    }

    private readonly struct ReluSlope<T> : ISlope<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public bool Vectorized => true;
        public Vector256<T> Of(Vector256<T> y) => Vector256.ConditionalSelect(Vector256.GreaterThan(y, Vector256<T>.Zero), Vector256<T>.One, Vector256<T>.Zero);
        public T Of(T y) => y > T.Zero ? T.One : T.Zero;
    }

    private readonly struct SigmoidSlope<T> : ISlope<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public bool Vectorized => true;
        public Vector256<T> Of(Vector256<T> y) => y * (Vector256<T>.One - y);
        public T Of(T y) => y * (T.One - y);
    }

    private readonly struct TanhSlope<T> : ISlope<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public bool Vectorized => true;
        public Vector256<T> Of(Vector256<T> y) => Vector256<T>.One - y * y;
        public T Of(T y) => T.One - y * y;
    }

    private readonly struct UnitSlope<T> : ISlope<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public bool Vectorized => true;
        public Vector256<T> Of(Vector256<T> y) => Vector256<T>.One;
        public T Of(T y) => T.One;
    }
}
