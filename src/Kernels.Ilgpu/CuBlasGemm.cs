using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace GpuNet.Kernels.Ilgpu;

/// <summary>
/// cuBLAS GEMM for the ILGPU backend on CUDA: one handle per accelerator, bound to the
/// accelerator's default stream, so cuBLAS calls queue in order with the ILGPU kernels and nothing
/// synchronises. cuBLAS is bound here directly (<see cref="CuBlasNative"/>), not through
/// ILGPU.Algorithms, whose 1.5.3 wrapper only knows cuBLAS 10–12: CUDA 13 ships
/// <c>libcublas.so.13</c>, and the <c>_v2</c> entry points used here are stable across versions.
/// Row-major strided [batch, m, k] views are mapped onto cuBLAS's column-major sgemm / dgemm:
/// <list type="bullet">
/// <item>a matrix whose columns are contiguous (column stride 1) is, read column-major, its own
/// transpose with leading dimension = its row stride; one whose rows are contiguous (row stride 1)
/// is column-major with leading dimension = its column stride; anything else (both strides ≠ 1,
/// negative, or rows overlapping) has no cuBLAS form;</item>
/// <item>a row-major c is computed as cᵀ = bᵀ·aᵀ (swap the operands, m ↔ n), a column-major c as
/// c = a·b directly; each operand then gets CUBLAS_OP_N or _T from its own layout;</item>
/// <item>batches: one gemm when batch = 1; <c>cublas{S,D}gemmStridedBatched</c> when every batch
/// stride is positive (c's must be; a's and b's may be 0 only through the loop below); otherwise,
/// for up to <see cref="MaxLoopBatches"/> batches, one gemm per batch.</item>
/// </list>
/// Anything else returns false and the caller runs its ILGPU kernel; so does any cuBLAS error
/// (which also switches cuBLAS off for the backend: a failed library never breaks the device).
/// float32 products run on the tensor cores in TF32 only while <see cref="Device.AllowTf32"/> is set.
/// </summary>
internal sealed unsafe class CuBlasGemm : IDisposable
{
    /// <summary>Most batches run as separate gemm calls when the batch strides rule out the strided-batched call.</summary>
    internal const int MaxLoopBatches = 64;

    private const int OpN = 0, OpT = 1; // cublasOperation_t

    private readonly CuBlasNative _native;
    private readonly IntPtr _handle;
    private bool _failed;
    private bool _tf32;

    private CuBlasGemm(CuBlasNative native, IntPtr handle, int version)
    {
        _native = native;
        _handle = handle;
        Version = version;
    }

    /// <summary>The error that switched cuBLAS off for this backend, or null while it works.</summary>
    internal string? Failure { get; private set; }

    /// <summary>cuBLAS's version number (major·10000 + minor·100 + patch from cuBLAS 11 on).</summary>
    internal int Version { get; }

    /// <summary>
    /// Creates the handle on <paramref name="accelerator"/> (the newest cuBLAS found: 13, 12 or 11),
    /// bound to its default stream, or returns null with the reason in <paramref name="status"/>. Never throws.
    /// The accelerator must be current on the calling thread.
    /// </summary>
    internal static CuBlasGemm? TryCreate(Accelerator accelerator, out string status)
    {
        if (accelerator is not CudaAccelerator cuda)
        {
            status = "not a CUDA device";
            return null;
        }
        var native = CuBlasNative.TryLoad(out string? loadError);
        if (native is null)
        {
            status = $"cuBLAS unavailable ({loadError}); using the ILGPU GEMM kernels";
            return null;
        }
        IntPtr handle = IntPtr.Zero;
        int rc = native.Create(&handle);
        if (rc != 0)
        {
            status = $"cuBLAS unavailable (cublasCreate_v2 returned {CuBlasNative.StatusName(rc)} from {native.LibraryName}); using the ILGPU GEMM kernels";
            return null;
        }
        var stream = ((CudaStream)cuda.DefaultStream).StreamPtr; // the stream the backend launches on
        int version = 0;
        if ((rc = native.SetStream(handle, stream)) != 0 || (rc = native.GetVersion(handle, &version)) != 0 || (rc = native.SetMathMode(handle, CuBlasNative.DefaultMath)) != 0)
        {
            native.Destroy(handle);
            status = $"cuBLAS unavailable (set-up returned {CuBlasNative.StatusName(rc)} from {native.LibraryName}); using the ILGPU GEMM kernels";
            return null;
        }
        status = $"cuBLAS {version / 10000}.{version / 100 % 100}.{version % 100} ({native.LibraryName})";
        return new CuBlasGemm(native, handle, version);
    }

    /// <summary>
    /// Queues c[b] = a[b]·b[b] (geometry <paramref name="g"/>, <paramref name="batch"/> batches) on the
    /// handle's stream; false (and nothing queued) when the layout has no cuBLAS form or cuBLAS failed.
    /// </summary>
    internal bool TryGemm<T>(ArrayView<T> a, ArrayView<T> b, ArrayView<T> c, MatGeom g, int batch, bool allowTf32, DeviceCounters counters) where T : unmanaged
    {
        if (_failed || g.K <= 0 || g.M <= 0 || g.N <= 0 || batch <= 0) return false;
        if (!TryPlan(g, out var plan)) return false;
        bool strided = batch > 1 && g.A.SO > 0 && g.B.SO > 0 && g.C.SO > 0;
        if (batch > 1 && !strided && (batch > MaxLoopBatches || g.C.SO == 0)) return false;
        try
        {
            ApplyMathMode(allowTf32 && typeof(T) == typeof(float));
            // X' is the first cuBLAS operand (b when c is row-major), Y' the second.
            var (x, xs, y, ys) = plan.Swap ? (b, g.B, a, g.A) : (a, g.A, b, g.B);
            if (batch == 1 || !strided)
            {
                counters.AddLaunches(batch);
                for (int i = 0; i < batch; i++)
                    Gemm(plan, Sub(x, xs.Offset + (long)i * xs.SO), Sub(y, ys.Offset + (long)i * ys.SO), Sub(c, g.C.Offset + (long)i * g.C.SO));
            }
            else
            {
                counters.AddLaunches(1);
                StridedBatched(plan, Sub(x, xs.Offset), xs.SO, Sub(y, ys.Offset), ys.SO, Sub(c, g.C.Offset), g.C.SO, batch);
            }
            return true;
        }
        catch (CuBlasCallException e)
        {
            _failed = true;
            Failure = e.Message;
            return false;
        }
    }

    private static ArrayView<T> Sub<T>(ArrayView<T> v, long offset) where T : unmanaged => v.SubView(offset, v.Length - offset);

    private void Gemm<T>(in Plan p, ArrayView<T> x, ArrayView<T> y, ArrayView<T> c) where T : unmanaged
    {
        int status;
        if (typeof(T) == typeof(float))
        {
            float one = 1f, zero = 0f;
            status = _native.Sgemm(_handle, p.OpX, p.OpY, p.M, p.N, p.K, &one, (float*)x.LoadEffectiveAddressAsPtr(), p.LdX,
                (float*)y.LoadEffectiveAddressAsPtr(), p.LdY, &zero, (float*)c.LoadEffectiveAddressAsPtr(), p.LdC);
        }
        else if (typeof(T) == typeof(double))
        {
            double one = 1, zero = 0;
            status = _native.Dgemm(_handle, p.OpX, p.OpY, p.M, p.N, p.K, &one, (double*)x.LoadEffectiveAddressAsPtr(), p.LdX,
                (double*)y.LoadEffectiveAddressAsPtr(), p.LdY, &zero, (double*)c.LoadEffectiveAddressAsPtr(), p.LdC);
        }
        else throw new NotSupportedException($"cuBLAS GEMM: no {typeof(T).Name} variant.");
        if (status != 0) throw new CuBlasCallException("cublas{S,D}gemm_v2", status);
    }

    private void StridedBatched<T>(in Plan p, ArrayView<T> x, long sx, ArrayView<T> y, long sy, ArrayView<T> c, long sc, int batch) where T : unmanaged
    {
        int status;
        if (typeof(T) == typeof(float))
        {
            float one = 1f, zero = 0f;
            status = _native.SgemmStridedBatched(_handle, p.OpX, p.OpY, p.M, p.N, p.K, &one, (float*)x.LoadEffectiveAddressAsPtr(), p.LdX, sx,
                (float*)y.LoadEffectiveAddressAsPtr(), p.LdY, sy, &zero, (float*)c.LoadEffectiveAddressAsPtr(), p.LdC, sc, batch);
        }
        else if (typeof(T) == typeof(double))
        {
            double one = 1, zero = 0;
            status = _native.DgemmStridedBatched(_handle, p.OpX, p.OpY, p.M, p.N, p.K, &one, (double*)x.LoadEffectiveAddressAsPtr(), p.LdX, sx,
                (double*)y.LoadEffectiveAddressAsPtr(), p.LdY, sy, &zero, (double*)c.LoadEffectiveAddressAsPtr(), p.LdC, sc, batch);
        }
        else throw new NotSupportedException($"cuBLAS GEMM: no {typeof(T).Name} variant.");
        if (status != 0) throw new CuBlasCallException("cublas{S,D}gemmStridedBatched", status);
    }

    /// <summary>Switches float32 products between plain FP32 and TF32 tensor-core math when the setting changed.</summary>
    private void ApplyMathMode(bool tf32)
    {
        if (tf32 == _tf32) return;
        int rc = _native.SetMathMode(_handle, tf32 ? CuBlasNative.Tf32TensorOpMath : CuBlasNative.DefaultMath);
        if (rc != 0) throw new CuBlasCallException("cublasSetMathMode", rc);
        _tf32 = tf32;
    }

    /// <summary>A cuBLAS call's shape: C' (M×N, column-major, ldc) = op(X') · op(Y').</summary>
    internal readonly record struct Plan(bool Swap, int OpX, int OpY, int M, int N, int K, int LdX, int LdY, int LdC);

    /// <summary>
    /// Maps the geometry onto one column-major call, or returns false. Pure host arithmetic (tested
    /// without a GPU): see the class remarks for the rules.
    /// </summary>
    internal static bool TryPlan(in MatGeom g, out Plan plan)
    {
        plan = default;
        int m = g.M, n = g.N, k = g.K;
        // c: row-major (compute cᵀ = bᵀaᵀ) or column-major (compute c = ab).
        if (RowMajor(m, n, g.C.SN, g.C.SI, out int ldc))
        {
            // X' = bᵀ (n×k), Y' = aᵀ (k×m).
            if (!Operand(k, n, g.B.SN, g.B.SI, transposeWanted: true, out int opX, out int ldx)) return false;
            if (!Operand(m, k, g.A.SN, g.A.SI, transposeWanted: true, out int opY, out int ldy)) return false;
            plan = new Plan(true, opX, opY, n, m, k, ldx, ldy, ldc);
            return true;
        }
        if (ColumnMajor(m, n, g.C.SN, g.C.SI, out ldc))
        {
            if (!Operand(m, k, g.A.SN, g.A.SI, transposeWanted: false, out int opX, out int ldx)) return false;
            if (!Operand(k, n, g.B.SN, g.B.SI, transposeWanted: false, out int opY, out int ldy)) return false;
            plan = new Plan(false, opX, opY, m, n, k, ldx, ldy, ldc);
            return true;
        }
        return false;
    }

    /// <summary>
    /// How cuBLAS reads a rows×cols matrix with strides (rs, cs) as the operand it needs: the matrix
    /// itself (<paramref name="transposeWanted"/> false) or its transpose. Stored column-major, the
    /// matrix is itself (op N) and its transpose is op T; stored row-major it is the transpose of a
    /// column-major cols×rows matrix, so the roles swap.
    /// </summary>
    private static bool Operand(int rows, int cols, int rs, int cs, bool transposeWanted, out int op, out int ld)
    {
        if (ColumnMajor(rows, cols, rs, cs, out ld)) { op = transposeWanted ? OpT : OpN; return true; }
        if (RowMajor(rows, cols, rs, cs, out ld)) { op = transposeWanted ? OpN : OpT; return true; }
        op = 0;
        return false;
    }

    /// <summary>Element (i, j) at i·ld + j with ld ≥ cols: row-major with a leading dimension. Extents of 1 accept any stride.</summary>
    internal static bool RowMajor(int rows, int cols, int rs, int cs, out int ld)
    {
        ld = rows == 1 ? Math.Max(cols, 1) : rs;
        return (cols == 1 || cs == 1) && ld >= Math.Max(cols, 1);
    }

    /// <summary>Element (i, j) at i + j·ld with ld ≥ rows: column-major with a leading dimension.</summary>
    internal static bool ColumnMajor(int rows, int cols, int rs, int cs, out int ld)
    {
        ld = cols == 1 ? Math.Max(rows, 1) : cs;
        return (rows == 1 || rs == 1) && ld >= Math.Max(rows, 1);
    }

    /// <summary>Frees the handle (the library stays loaded: other backends may share it).</summary>
    public void Dispose() => _native.Destroy(_handle);
}
