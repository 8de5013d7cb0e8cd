using GpuNet.Kernels;
using GpuNet.Kernels.Ilgpu;
using Xunit;

namespace GpuNet.Tests.Ilgpu;

/// <summary>The ILGPU CPU-accelerator device and its backend, created once for all ILGPU backend tests.</summary>
public sealed class IlgpuCpuFixture
{
    public IlgpuCpuFixture()
    {
        // Straight from discovery: Device.All also needs the managed backend, which is built elsewhere.
        // GPUNET_ILGPU_TEST_DEVICE=cuda|opencl runs the same tests on a GPU when one is present.
        var wanted = Environment.GetEnvironmentVariable("GPUNET_ILGPU_TEST_DEVICE")?.Trim().ToLowerInvariant() switch
        {
            "cuda" => DeviceKind.Cuda,
            "opencl" => DeviceKind.OpenCL,
            _ => DeviceKind.IlgpuCpu,
        };
        var devices = IlgpuDiscovery.Discover().ToList();
        Device = devices.FirstOrDefault(d => d.Kind == wanted)
            ?? throw new InvalidOperationException($"GPUNET_ILGPU_TEST_DEVICE asks for {wanted}, but ILGPU found only: {string.Join(", ", devices.Select(d => d.Name))}.");
        Backend = (IlgpuBackend)Device.Backend;
    }

    public Device Device { get; }
    internal IlgpuBackend Backend { get; }
}

[CollectionDefinition(Name)]
public sealed class IlgpuCpuCollection : ICollectionFixture<IlgpuCpuFixture>
{
    public const string Name = "ILGPU CPU accelerator";
}

/// <summary>How a random operand is laid out in memory.</summary>
public enum Layout { Contiguous, Transposed, Narrowed, Broadcast }

/// <summary>
/// A strided operand on the host: values in a double[] storage plus shape, strides and offset, the
/// same description the device gets. References read through it, so a transposed, narrowed or
/// broadcast device view is checked against exactly the elements it should see.
/// </summary>
public sealed class HostView
{
    public const double Sentinel = -777;

    public required double[] Storage { get; init; }
    public required int[] Shape { get; init; }
    public required int[] Strides { get; init; }
    public required long Offset { get; init; }
    public required DType DType { get; init; }
    public Layout Layout { get; init; }

    public long Count => Shape.Aggregate(1L, (a, d) => a * d);

    public long OffsetOf(int[] c)
    {
        long o = Offset;
        for (int d = 0; d < c.Length; d++) o += (long)c[d] * Strides[d];
        return o;
    }

    public double this[int[] c] => Storage[OffsetOf(c)];

    /// <summary>Coordinates of every element in row-major order.</summary>
    public IEnumerable<int[]> Coords() => AllCoords(Shape);

    public static IEnumerable<int[]> AllCoords(int[] shape)
    {
        long n = shape.Aggregate(1L, (a, d) => a * d);
        for (long k = 0; k < n; k++)
        {
            var c = new int[shape.Length];
            long r = k;
            for (int d = shape.Length - 1; d >= 0; d--) { c[d] = (int)(r % shape[d]); r /= shape[d]; }
            yield return c;
        }
    }

    public override string ToString() => $"[{string.Join(",", Shape)}] strides [{string.Join(",", Strides)}] +{Offset} {DType.Name()} {Layout}";

    /// <summary>
    /// A random operand of <paramref name="shape"/> in <paramref name="layout"/>. Storage outside the
    /// view holds <see cref="Sentinel"/> (outputs then prove the op wrote nothing else).
    /// </summary>
    public static HostView Random(Random rng, int[] shape, DType dtype, Layout layout, Func<Random, double>? value = null)
    {
        int rank = shape.Length;
        int[] strides = new int[rank];
        long offset = 0, size;
        switch (layout)
        {
            case Layout.Transposed:
            {
                // A random permutation of a contiguous parent: the view's axes are the parent's, shuffled.
                int[] perm = Enumerable.Range(0, rank).OrderBy(_ => rng.Next()).ToArray();
                int[] parentShape = perm.Select(p => shape[p]).ToArray();
                int[] ps = StridedView.RowMajorStrides(parentShape);
                for (int i = 0; i < rank; i++) strides[perm[i]] = ps[i];
                size = Math.Max(1, parentShape.Aggregate(1L, (a, d) => a * d));
                break;
            }
            case Layout.Narrowed:
            {
                // A window into a larger parent, starting past some leading elements.
                int[] extra = shape.Select(_ => rng.Next(0, 3)).ToArray();
                int[] parentShape = shape.Select((d, i) => d + extra[i]).ToArray();
                int[] ps = StridedView.RowMajorStrides(parentShape);
                offset = 2;
                for (int i = 0; i < rank; i++) { strides[i] = ps[i]; offset += (long)rng.Next(0, extra[i] + 1) * ps[i]; }
                size = 2 + Math.Max(1, parentShape.Aggregate(1L, (a, d) => a * d));
                break;
            }
            case Layout.Broadcast:
            {
                // Some axes get stride 0: every index along them reads the same element.
                var keep = shape.Select(_ => rng.Next(2) == 0).ToArray();
                int s = 1;
                for (int d = rank - 1; d >= 0; d--)
                {
                    if (keep[d]) { strides[d] = s; s *= Math.Max(1, shape[d]); }
                    else strides[d] = 0;
                }
                size = s;
                break;
            }
            default:
                strides = StridedView.RowMajorStrides(shape);
                size = Math.Max(1, shape.Aggregate(1L, (a, d) => a * d));
                break;
        }
        var storage = new double[size];
        Array.Fill(storage, Sentinel);
        var view = new HostView { Storage = storage, Shape = shape, Strides = strides, Offset = offset, DType = dtype, Layout = layout };
        value ??= DefaultValue(dtype);
        foreach (var c in view.Coords()) storage[view.OffsetOf(c)] = Round(dtype, value(rng));
        return view;
    }

    /// <summary>Uniform on [-2, 2] for floats, integers in [-5, 5] for int32.</summary>
    public static Func<Random, double> DefaultValue(DType dtype) => dtype == DType.Int32
        ? r => r.Next(-5, 6)
        : r => r.NextDouble() * 4 - 2;

    /// <summary>The value as the dtype stores it.</summary>
    public static double Round(DType dtype, double v) => dtype switch
    {
        DType.Float32 => (float)v,
        DType.Int32 => (int)v,
        _ => v,
    };

    /// <summary>Uploads the whole storage and returns the device view (the buffer is owned by the caller).</summary>
    public StridedView ToDevice(IBackend backend)
    {
        var buffer = backend.Allocate(DType, Storage.Length);
        switch (DType)
        {
            case DType.Float32: backend.Upload<float>(Storage.Select(v => (float)v).ToArray(), buffer); break;
            case DType.Float64: backend.Upload<double>(Storage, buffer); break;
            default: backend.Upload<int>(Storage.Select(v => (int)v).ToArray(), buffer); break;
        }
        return new StridedView(buffer, Shape, Strides, Offset);
    }

    /// <summary>Downloads a device buffer's first <paramref name="length"/> elements as doubles.</summary>
    public static double[] Download(IBackend backend, DeviceBuffer buffer, long length)
    {
        switch (buffer.DType)
        {
            case DType.Float32: { var a = new float[length]; backend.Download<float>(buffer, a); return a.Select(v => (double)v).ToArray(); }
            case DType.Float64: { var a = new double[length]; backend.Download<double>(buffer, a); return a; }
            default: { var a = new int[length]; backend.Download<int>(buffer, a); return a.Select(v => (double)v).ToArray(); }
        }
    }

    /// <summary>
    /// Checks a device output against <paramref name="expected"/> (indexed by coordinates): every
    /// view element within tolerance, every storage element outside the view still the sentinel.
    /// </summary>
    public void AssertDevice(IBackend backend, StridedView device, Func<int[], double> expected, double rtol, double atol, string what)
    {
        var got = Download(backend, device.Buffer, Storage.Length);
        var inView = new HashSet<long>();
        foreach (var c in Coords())
        {
            long o = OffsetOf(c);
            inView.Add(o);
            double e = Round(DType, expected(c)), g = got[o];
            bool ok = double.IsNaN(e) ? double.IsNaN(g)
                : double.IsInfinity(e) ? e == g
                : Math.Abs(g - e) <= atol + rtol * Math.Abs(e);
            if (!ok) Assert.Fail($"{what}: at [{string.Join(",", c)}] of {this}: expected {e:R}, got {g:R}.");
        }
        for (long o = 0; o < got.Length; o++)
            if (!inView.Contains(o) && got[o] != Sentinel)
                Assert.Fail($"{what}: wrote storage element {o} outside the output view {this} (value {got[o]}).");
    }

    /// <summary>A random shape: rank 0–4, extents mostly 1–5, sometimes 0.</summary>
    public static int[] RandomShape(Random rng, int maxRank = 4, bool allowEmpty = true)
    {
        int rank = rng.Next(0, maxRank + 1);
        int[] choices = allowEmpty ? [0, 1, 1, 2, 3, 4, 5] : [1, 1, 2, 3, 4, 5];
        // Empty dims are rarer than the rest: redraw a zero once.
        return Enumerable.Range(0, rank).Select(_ =>
        {
            int d = choices[rng.Next(choices.Length)];
            return d == 0 ? choices[rng.Next(choices.Length)] : d;
        }).ToArray();
    }

    public static Layout RandomLayout(Random rng, bool output = false) =>
        output ? (Layout)rng.Next(3) : (Layout)rng.Next(4);

    /// <summary>Relative tolerance for a dtype: float32 kernels against double references.</summary>
    public static double Tol(DType dtype) => dtype == DType.Float32 ? 2e-5 : dtype == DType.Float64 ? 1e-12 : 0;
}
