using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace GpuNet.Kernels.Ilgpu;

/// <summary>
/// cuBLAS GEMM for the ILGPU backend on CUDA: one handle per accelerator (ILGPU.Algorithms'
/// <c>CuBlas</c>, bound to the accelerator's default stream, so cuBLAS calls queue in order
/// with the ILGPU kernels and nothing synchronises). Row-major strided [batch, m, k] views are
/// mapped onto cuBLAS's column-major sgemm / dgemm:
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
/// </summary>
internal sealed unsafe class CuBlasGemm : IDisposable
{
    /// <summary>Most batches run as separate gemm calls when the batch strides rule out the strided-batched call.</summary>
    internal const int MaxLoopBatches = 64;

    private const int OpN = 0, OpT = 1; // cublasOperation_t

    private readonly CuBlas<CuBlasPointerModeHandlers.ManualMode> _blas;
    private readonly IntPtr _library;
    private readonly delegate* unmanaged<IntPtr, int, int, int, int, int, float*, IntPtr, int, long, IntPtr, int, long, float*, IntPtr, int, long, int, int> _sgemmStridedBatched;
    private readonly delegate* unmanaged<IntPtr, int, int, int, int, int, double*, IntPtr, int, long, IntPtr, int, long, double*, IntPtr, int, long, int, int> _dgemmStridedBatched;
    private bool _failed;

    private CuBlasGemm(CuBlas<CuBlasPointerModeHandlers.ManualMode> blas, IntPtr library, IntPtr sgemm, IntPtr dgemm)
    {
        _blas = blas;
        _library = library;
        _sgemmStridedBatched = (delegate* unmanaged<IntPtr, int, int, int, int, int, float*, IntPtr, int, long, IntPtr, int, long, float*, IntPtr, int, long, int, int>)sgemm;
        _dgemmStridedBatched = (delegate* unmanaged<IntPtr, int, int, int, int, int, double*, IntPtr, int, long, IntPtr, int, long, double*, IntPtr, int, long, int, int>)dgemm;
    }

    /// <summary>True when the strided-batched entry points were found (else batches loop over gemm).</summary>
    internal bool HasStridedBatched => _sgemmStridedBatched != null && _dgemmStridedBatched != null;

    /// <summary>cuBLAS's version number (major·10000 + minor·100 + patch).</summary>
    internal int Version => _blas.Version;

    /// <summary>
    /// Creates the handle on <paramref name="accelerator"/> (the newest cuBLAS ILGPU.Algorithms finds: 12, 11 or 10),
    /// or returns null with the reason in <paramref name="status"/>. Never throws.
    /// </summary>
    internal static CuBlasGemm? TryCreate(Accelerator accelerator, out string status)
    {
        if (accelerator is not CudaAccelerator cuda)
        {
            status = "not a CUDA device";
            return null;
        }
        CuBlas<CuBlasPointerModeHandlers.ManualMode>? blas = null;
        try
        {
            // No version: ILGPU.Algorithms tries the cuBLAS libraries it knows (12, 11, 10), newest first (1.5.3 IL checked).
            blas = new CuBlas<CuBlasPointerModeHandlers.ManualMode>(cuda);
            blas.Stream = (CudaStream)cuda.DefaultStream; // the stream the backend launches on
            blas.PointerMode = CuBlasPointerMode.Host;     // alpha and beta are host scalars
            // The strided-batched entry points are not wrapped by ILGPU.Algorithms 1.5.3: take them from the
            // library ILGPU already loaded (same soname, so dlopen hands back the same instance and handle).
            int major = blas.Version / 10000;
            IntPtr lib = IntPtr.Zero, s = IntPtr.Zero, d = IntPtr.Zero;
            foreach (var name in LibraryNames(major))
            {
                if (!NativeLibrary.TryLoad(name, out lib)) continue;
                if (NativeLibrary.TryGetExport(lib, "cublasSgemmStridedBatched", out s) && NativeLibrary.TryGetExport(lib, "cublasDgemmStridedBatched", out d)) break;
                NativeLibrary.Free(lib);
                lib = s = d = IntPtr.Zero;
            }
            status = $"cuBLAS {major}.{blas.Version / 100 % 100}.{blas.Version % 100}" + (lib == IntPtr.Zero ? " (no strided-batched entry point: batches loop)" : "");
            return new CuBlasGemm(blas, lib, s, d);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or CuBlasException or InvalidOperationException or NotSupportedException or BadImageFormatException or TypeInitializationException or InvalidCastException)
        {
            try { blas?.Dispose(); } catch (Exception) { /* already failing */ }
            status = $"cuBLAS unavailable ({e.GetType().Name}: {e.Message}); using the ILGPU GEMM kernels";
            return null;
        }
    }

    private static IEnumerable<string> LibraryNames(int major) =>
        OperatingSystem.IsWindows() ? [$"cublas64_{major}.dll"]
        : OperatingSystem.IsMacOS() ? [$"libcublas.{major}.dylib"]
        : [$"libcublas.so.{major}", "libcublas.so"];

    /// <summary>
    /// Queues c[b] = a[b]·b[b] (geometry <paramref name="g"/>, <paramref name="batch"/> batches) on the
    /// handle's stream; false (and nothing queued) when the layout has no cuBLAS form or cuBLAS failed.
    /// </summary>
    internal bool TryGemm<T>(ArrayView<T> a, ArrayView<T> b, ArrayView<T> c, MatGeom g, int batch) where T : unmanaged
    {
        if (_failed || g.K <= 0 || g.M <= 0 || g.N <= 0 || batch <= 0) return false;
        if (!TryPlan(g, out var plan)) return false;
        bool strided = batch > 1 && g.A.SO > 0 && g.B.SO > 0 && g.C.SO > 0 && HasStridedBatched;
        if (batch > 1 && !strided && (batch > MaxLoopBatches || g.C.SO == 0)) return false;
        try
        {
            // X' is the first cuBLAS operand (b when c is row-major), Y' the second.
            var (x, xs, y, ys) = plan.Swap ? (b, g.B, a, g.A) : (a, g.A, b, g.B);
            if (batch == 1 || !strided)
            {
                for (int i = 0; i < batch; i++)
                    Gemm(plan, Sub(x, xs.Offset + (long)i * xs.SO), Sub(y, ys.Offset + (long)i * ys.SO), Sub(c, g.C.Offset + (long)i * g.C.SO));
            }
            else
            {
                StridedBatched(plan, Sub(x, xs.Offset), xs.SO, Sub(y, ys.Offset), ys.SO, Sub(c, g.C.Offset), g.C.SO, batch);
            }
            return true;
        }
        catch (Exception e) when (e is CuBlasException or EntryPointNotFoundException or DllNotFoundException)
        {
            _failed = true;
            return false;
        }
    }

    private static ArrayView<T> Sub<T>(ArrayView<T> v, long offset) where T : unmanaged => v.SubView(offset, v.Length - offset);

    private void Gemm<T>(in Plan p, ArrayView<T> x, ArrayView<T> y, ArrayView<T> c) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            _blas.Gemm((CuBlasOperation)p.OpX, (CuBlasOperation)p.OpY, p.M, p.N, p.K, 1f, x.Cast<float>(), p.LdX, y.Cast<float>(), p.LdY, 0f, c.Cast<float>(), p.LdC);
        else if (typeof(T) == typeof(double))
            _blas.Gemm((CuBlasOperation)p.OpX, (CuBlasOperation)p.OpY, p.M, p.N, p.K, 1.0, x.Cast<double>(), p.LdX, y.Cast<double>(), p.LdY, 0.0, c.Cast<double>(), p.LdC);
        else throw new NotSupportedException($"cuBLAS GEMM: no {typeof(T).Name} variant.");
    }

    private void StridedBatched<T>(in Plan p, ArrayView<T> x, long sx, ArrayView<T> y, long sy, ArrayView<T> c, long sc, int batch) where T : unmanaged
    {
        int status;
        if (typeof(T) == typeof(float))
        {
            float one = 1f, zero = 0f;
            status = _sgemmStridedBatched(_blas.Handle, p.OpX, p.OpY, p.M, p.N, p.K, &one, x.LoadEffectiveAddressAsPtr(), p.LdX, sx,
                y.LoadEffectiveAddressAsPtr(), p.LdY, sy, &zero, c.LoadEffectiveAddressAsPtr(), p.LdC, sc, batch);
        }
        else if (typeof(T) == typeof(double))
        {
            double one = 1, zero = 0;
            status = _dgemmStridedBatched(_blas.Handle, p.OpX, p.OpY, p.M, p.N, p.K, &one, x.LoadEffectiveAddressAsPtr(), p.LdX, sx,
                y.LoadEffectiveAddressAsPtr(), p.LdY, sy, &zero, c.LoadEffectiveAddressAsPtr(), p.LdC, sc, batch);
        }
        else throw new NotSupportedException($"cuBLAS GEMM: no {typeof(T).Name} variant.");
        if (status != 0) throw new CuBlasException((CuBlasStatus)status);
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

    /// <summary>Frees the handle and the library reference taken for the strided-batched entry points.</summary>
    public void Dispose()
    {
        _blas.Dispose();
        if (_library != IntPtr.Zero) NativeLibrary.Free(_library);
    }
}
