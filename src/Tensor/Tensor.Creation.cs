using System.Runtime.InteropServices;
using GpuNet.Kernels;

namespace GpuNet;

public sealed partial class Tensor
{
    private static long s_globalSeed = 0x5EED_6E7;
    private static long s_randomCounter;

    /// <summary>Allocates an uninitialised contiguous tensor.</summary>
    internal static Tensor Empty(int[] shape, DType dtype, Device device, string op = "Empty")
    {
        ShapeUtil.CheckShape(op, shape);
        var buffer = device.Backend.Allocate(dtype, Math.Max(ShapeUtil.Count(shape), 1));
        return new Tensor(new Storage(buffer), (int[])shape.Clone(), ShapeUtil.RowMajorStrides(shape), 0);
    }

    private static Tensor Finish(Tensor t, bool requiresGrad)
    {
        if (requiresGrad) t.RequiresGrad = true;
        return t;
    }

    /// <summary>A tensor filled with <paramref name="value"/>.</summary>
    public static Tensor Full(int[] shape, double value, DType dtype = DType.Float32, Device? device = null, bool requiresGrad = false)
    {
        var t = Empty(shape, dtype, device ?? Device.Default, "Full");
        if (t.NumElements > 0) t.Backend.Fill(t.AsView(), value);
        return Finish(t, requiresGrad);
    }

    /// <summary>A tensor of zeros.</summary>
    public static Tensor Zeros(int[] shape, DType dtype = DType.Float32, Device? device = null, bool requiresGrad = false) =>
        Full(shape, 0, dtype, device, requiresGrad);

    /// <summary>A tensor of ones.</summary>
    public static Tensor Ones(int[] shape, DType dtype = DType.Float32, Device? device = null, bool requiresGrad = false) =>
        Full(shape, 1, dtype, device, requiresGrad);

    /// <summary>Zeros with the shape, dtype and device of <paramref name="t"/>.</summary>
    public static Tensor ZerosLike(Tensor t, bool requiresGrad = false) => Full(t.ShapeArray, 0, t.DType, t.Device, requiresGrad);

    /// <summary>Ones with the shape, dtype and device of <paramref name="t"/>.</summary>
    public static Tensor OnesLike(Tensor t, bool requiresGrad = false) => Full(t.ShapeArray, 1, t.DType, t.Device, requiresGrad);

    /// <summary>A value filled with <paramref name="value"/> with the shape, dtype and device of <paramref name="t"/>.</summary>
    public static Tensor FullLike(Tensor t, double value, bool requiresGrad = false) => Full(t.ShapeArray, value, t.DType, t.Device, requiresGrad);

    /// <summary>[start, start+step, …) up to but excluding <paramref name="end"/>, as in PyTorch.</summary>
    public static Tensor Arange(double start, double end, double step = 1, DType dtype = DType.Float32, Device? device = null, bool requiresGrad = false)
    {
        if (step == 0) throw new ArgumentException("Arange: step must be nonzero.");
        if (double.IsNaN(start) || double.IsNaN(end) || double.IsInfinity(start) || double.IsInfinity(end))
            throw new ArgumentException($"Arange: start {start} and end {end} must be finite.");
        long n = Math.Max(0, (long)Math.Ceiling((end - start) / step));
        var t = Empty([checked((int)n)], dtype, device ?? Device.Default, "Arange");
        if (n > 0) t.Backend.FillAffine(t.AsView(), start, step);
        return Finish(t, requiresGrad);
    }

    /// <summary>[0, 1, …, end − 1].</summary>
    public static Tensor Arange(int end, DType dtype = DType.Float32, Device? device = null) => Arange(0, end, 1, dtype, device);

    /// <summary><paramref name="steps"/> evenly spaced values from <paramref name="start"/> to <paramref name="end"/> inclusive.</summary>
    public static Tensor Linspace(double start, double end, int steps, DType dtype = DType.Float32, Device? device = null, bool requiresGrad = false)
    {
        if (steps < 0) throw new ArgumentException($"Linspace: steps must be non-negative, got {steps}.");
        var t = Empty([steps], dtype, device ?? Device.Default, "Linspace");
        if (steps > 0) t.Backend.FillAffine(t.AsView(), start, steps == 1 ? 0 : (end - start) / (steps - 1));
        return Finish(t, requiresGrad);
    }

    /// <summary>The n×m identity (m defaults to n).</summary>
    public static Tensor Eye(int n, int? m = null, DType dtype = DType.Float32, Device? device = null, bool requiresGrad = false)
    {
        int cols = m ?? n;
        var t = Zeros([n, cols], dtype, device);
        int diag = Math.Min(n, cols);
        if (diag > 0)
        {
            // The diagonal is a strided view with step cols + 1.
            var view = new StridedView(t.Buffer, [diag], [cols + 1], 0);
            t.Backend.Fill(view, 1);
        }
        return Finish(t, requiresGrad);
    }

    /// <summary>A tensor holding a copy of <paramref name="data"/>, shaped <paramref name="shape"/> (1-D when omitted).</summary>
    public static Tensor FromArray<T>(T[] data, int[]? shape = null, Device? device = null, bool requiresGrad = false) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(data);
        shape ??= [data.Length];
        if (ShapeUtil.Count(shape) != data.Length)
            throw new ArgumentException($"FromArray: shape {ShapeUtil.Format(shape)} holds {ShapeUtil.Count(shape)} elements but the array has {data.Length}.");
        var t = Empty(shape, DTypeInfo.Of<T>(), device ?? Device.Default, "FromArray");
        if (data.Length > 0) t.Backend.Upload<T>(data, t.Buffer);
        return Finish(t, requiresGrad);
    }

    /// <summary>A tensor from a multi-dimensional .NET array (<c>float[,]</c>, <c>double[,,]</c>, <c>int[,]</c>…), keeping its shape.</summary>
    public static Tensor FromArray(Array data, Device? device = null, bool requiresGrad = false)
    {
        ArgumentNullException.ThrowIfNull(data);
        var shape = new int[data.Rank];
        for (int d = 0; d < data.Rank; d++) shape[d] = data.GetLength(d);
        var type = data.GetType().GetElementType()!;
        // A multi-dimensional array is stored row-major and contiguously, which is exactly our layout.
        if (type == typeof(float)) return FromArray(Flatten<float>(data), shape, device, requiresGrad);
        if (type == typeof(double)) return FromArray(Flatten<double>(data), shape, device, requiresGrad);
        if (type == typeof(int)) return FromArray(Flatten<int>(data), shape, device, requiresGrad);
        throw new ArgumentException($"FromArray: element type {type.Name} is not supported; use float, double or int.");
    }

    private static T[] Flatten<T>(Array data) where T : unmanaged
    {
        var flat = new T[data.Length];
        if (flat.Length == 0) return flat;
        var bytes = MemoryMarshal.CreateSpan(ref MemoryMarshal.GetArrayDataReference(data), checked(data.Length * Marshal.SizeOf<T>()));
        bytes.CopyTo(MemoryMarshal.AsBytes(flat.AsSpan()));
        return flat;
    }

    /// <summary>A one-element, zero-dimensional tensor.</summary>
    public static Tensor Scalar(double value, DType dtype = DType.Float32, Device? device = null, bool requiresGrad = false) =>
        Full([], value, dtype, device, requiresGrad);

    /// <summary>Sets the seed used by random ops called without one (like torch.manual_seed).</summary>
    public static void ManualSeed(long seed)
    {
        Interlocked.Exchange(ref s_globalSeed, seed);
        Interlocked.Exchange(ref s_randomCounter, 0);
    }

    /// <summary>
    /// Picks (seed, counter offset) for a random op: an explicit seed starts its own stream at 0;
    /// otherwise the global seed is used and its counter advances past the elements drawn, so
    /// successive calls give fresh numbers.
    /// </summary>
    internal static (ulong Seed, ulong Offset) NextRandom(long? seed, long count)
    {
        if (seed is { } s) return ((ulong)s, 0);
        long offset = Interlocked.Add(ref s_randomCounter, count) - count;
        return ((ulong)Interlocked.Read(ref s_globalSeed), (ulong)offset);
    }

    /// <summary>Uniform random numbers on [low, high). The same seed gives the same numbers on every device.</summary>
    public static Tensor Rand(int[] shape, long? seed = null, double low = 0, double high = 1, DType dtype = DType.Float32, Device? device = null, bool requiresGrad = false)
        => Random(shape, RandomDistribution.Uniform, seed, low, high, dtype, device, requiresGrad, "Rand");

    /// <summary>Normal random numbers with the given mean and standard deviation. The same seed gives the same numbers on every device.</summary>
    public static Tensor Randn(int[] shape, long? seed = null, double mean = 0, double std = 1, DType dtype = DType.Float32, Device? device = null, bool requiresGrad = false)
        => Random(shape, RandomDistribution.Normal, seed, mean, std, dtype, device, requiresGrad, "Randn");

    private static Tensor Random(int[] shape, RandomDistribution dist, long? seed, double a, double b, DType dtype, Device? device, bool requiresGrad, string op)
    {
        if (!dtype.IsFloating()) throw new ArgumentException($"{op}: dtype {dtype.Name()} is not supported; random tensors are float32 or float64.");
        var t = Empty(shape, dtype, device ?? Device.Default, op);
        var (s, offset) = NextRandom(seed, t.NumElements);
        if (t.NumElements > 0) t.Backend.FillRandom(t.AsView(), dist, s, offset, a, b);
        return Finish(t, requiresGrad);
    }
}
