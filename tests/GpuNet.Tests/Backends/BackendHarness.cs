using System.Globalization;
using System.Text;
using GpuNet.Kernels;
using Xunit;

namespace GpuNet.Tests.Backends;

/// <summary>The backend suite runs alone: the pool counters it checks must not move under other tests' feet.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class BackendCollection
{
    public const string Name = "Backends";
}

/// <summary>
/// How an operand is laid out in its buffer: a dimension order (a permutation of the logical
/// dims from outermost to innermost in memory: a transpose), padding around each dim (a
/// narrow: the view is a window with an offset into a larger array), zero strides (a broadcast;
/// inputs only), and a random leading offset. The buffer is always larger than the view needs.
/// </summary>
public sealed record LayoutSpec(int[]? Order = null, bool RandomOrder = false, bool Pad = false, bool[]? ZeroDims = null, bool RandomBroadcast = false)
{
    public static readonly LayoutSpec Contiguous = new();
    public static readonly LayoutSpec Transposed = new(RandomOrder: true);
    public static readonly LayoutSpec Narrowed = new(Pad: true);
    public static readonly LayoutSpec Broadcast = new(RandomBroadcast: true);

    /// <summary>A random mix of the above (broadcast only when <paramref name="input"/>).</summary>
    public static LayoutSpec Any(Random rng, bool input) =>
        new(RandomOrder: rng.Next(2) == 0, Pad: rng.Next(2) == 0, RandomBroadcast: input && rng.Next(3) == 0);

    /// <summary>Swaps the last two dims in memory (a matrix transpose), keeping the rest outer.</summary>
    public static int[] SwapLastTwo(int rank)
    {
        var order = Enumerable.Range(0, rank).ToArray();
        if (rank >= 2) (order[rank - 2], order[rank - 1]) = (order[rank - 1], order[rank - 2]);
        return order;
    }

    /// <summary>Strides, offset and the buffer length that holds the view with some slack.</summary>
    public (int[] Strides, long Offset, long BufferLength) Make(Random rng, int[] shape)
    {
        int rank = shape.Length;
        var order = Order ?? Enumerable.Range(0, rank).ToArray();
        if (Order is null && RandomOrder && rank >= 2)
        {
            order = order.OrderBy(_ => rng.Next()).ToArray();
            if (order.SequenceEqual(Enumerable.Range(0, rank))) (order[0], order[rank - 1]) = (order[rank - 1], order[0]);
        }
        var zero = ZeroDims ?? new bool[rank];
        if (ZeroDims is null && RandomBroadcast && rank > 0)
        {
            for (int d = 0; d < rank; d++) zero[d] = rng.Next(2) == 0;
            if (!zero.Any(z => z)) zero[rng.Next(rank)] = true;
        }
        var extent = new int[rank];
        var start = new int[rank];
        for (int d = 0; d < rank; d++)
        {
            extent[d] = zero[d] ? 1 : shape[d] + (Pad ? rng.Next(0, 3) : 0);
            start[d] = zero[d] ? 0 : rng.Next(0, extent[d] - shape[d] + 1);
        }
        var strides = new int[rank];
        long running = 1;
        for (int p = rank - 1; p >= 0; p--)
        {
            int d = order[p];
            if (zero[d]) { strides[d] = 0; continue; }
            strides[d] = checked((int)running);
            running *= Math.Max(extent[d], 1);
        }
        long baseOffset = rng.Next(0, 6);
        long offset = baseOffset;
        for (int d = 0; d < rank; d++) offset += (long)start[d] * strides[d];
        bool empty = shape.Any(s => s == 0);
        long last = offset;
        if (!empty) for (int d = 0; d < rank; d++) last += (long)(shape[d] - 1) * strides[d];
        long length = Math.Max(last + 1, baseOffset + running) + rng.Next(0, 5);
        return (strides, offset, length);
    }
}

/// <summary>An operand on the device and its host twin (same buffer contents, same layout).</summary>
public sealed class Operand
{
    public Operand(string name, HostView host, DeviceBuffer buffer, StridedView view)
    {
        Name = name;
        Host = host;
        Buffer = buffer;
        View = view;
    }

    public string Name { get; }
    /// <summary>The reference's copy of the whole buffer; reference ops write into it.</summary>
    public HostView Host { get; }
    public DeviceBuffer Buffer { get; }
    public StridedView View { get; }
    public override string ToString() => $"{Name} {View} buf {Buffer.Length}";
}

/// <summary>Random values for test inputs.</summary>
public static class Values
{
    public static Func<Random, double> Uniform(double lo, double hi) => r => lo + (hi - lo) * r.NextDouble();
    public static Func<Random, double> Ints(int lo, int hiInclusive) => r => r.Next(lo, hiInclusive + 1);
    public static Func<Random, double> OneOf(params double[] values) => r => values[r.Next(values.Length)];
    /// <summary>±[lo, hi]: bounded away from zero.</summary>
    public static Func<Random, double> AwayFromZero(double lo, double hi) => r => (r.Next(2) == 0 ? -1 : 1) * (lo + (hi - lo) * r.NextDouble());
    public static Func<Random, double> WithSpecials(Func<Random, double> inner, double probability, params double[] specials) =>
        r => r.NextDouble() < probability ? specials[r.Next(specials.Length)] : inner(r);
}

/// <summary>Shapes for the suite: fixed edge cases first, then random ones from a fixed seed.</summary>
public static class Shapes
{
    /// <summary>Rank 0, size-1 dims, empty dims, a prime-sized run, and ranks 5 and 8 (StridedView.MaxRank).</summary>
    public static readonly int[][] Edge =
    [
        [], [1], [0], [7], [1, 1, 1, 1], [3, 0, 2], [2, 1, 3], [4, 5], [2, 3, 1, 5], [67], [3, 1, 2, 2, 1], [2, 1, 2, 1, 2, 1, 2, 3],
    ];

    public static int[] Random(Random rng, int maxRank = 4, long maxCount = 240)
    {
        int rank = rng.Next(0, maxRank + 1);
        var shape = new int[rank];
        for (int d = 0; d < rank; d++)
        {
            double p = rng.NextDouble();
            shape[d] = p < 0.05 ? 0 : p < 0.25 ? 1 : rng.Next(2, 9);
        }
        while (Count(shape) > maxCount)
        {
            int big = Array.IndexOf(shape, shape.Max());
            shape[big] /= 2;
        }
        return shape;
    }

    /// <summary>The edge shapes followed by <paramref name="randomCount"/> random ones.</summary>
    public static IEnumerable<int[]> EdgeThenRandom(Random rng, int randomCount, int maxRank = 4)
    {
        foreach (var s in Edge) yield return s;
        for (int i = 0; i < randomCount; i++) yield return Random(rng, maxRank);
    }

    public static long Count(int[] shape) { long n = 1; foreach (var d in shape) n *= d; return n; }
    public static string Show(int[] shape) => $"[{string.Join(",", shape)}]";
}

/// <summary>
/// Per-test driver: resolves the device, creates operands (uploading random contents into
/// buffers larger than the views), downloads results and compares them with the reference —
/// every element of the output buffer: inside the view within tolerance, outside it unchanged.
/// Mismatches are collected per case and reported together at the end of the test.
/// </summary>
public sealed class Harness : IDisposable
{
    private readonly List<DeviceBuffer> _buffers = [];
    private readonly List<string> _failures = [];
    private int _failedCases, _cases;

    public Harness(string deviceName, params object[] testKey)
    {
        DeviceName = deviceName;
        Device = BackendDevices.Resolve(deviceName);
        Backend = Device.Backend;
        Seed = StableSeed([.. testKey.Select(k => k.ToString() ?? "")]);
        Rng = new Random(Seed);
    }

    public string DeviceName { get; }
    public Device Device { get; }
    public IBackend Backend { get; }
    public int Seed { get; }
    public Random Rng { get; }

    /// <summary>A seed that is the same in every process (string.GetHashCode is not).</summary>
    public static int StableSeed(params string[] parts)
    {
        uint h = 2166136261;
        foreach (var part in parts)
            foreach (char c in part + "|") { h ^= c; h *= 16777619; }
        return (int)(h & 0x7fffffff);
    }

    // ------------------------------------------------------------------ operands

    /// <summary>An input: the whole buffer (padding included) holds random values, so a backend that reads outside the view gets a wrong answer.</summary>
    public Operand Input(string name, DType dtype, int[] shape, LayoutSpec layout, Func<Random, double> values)
    {
        var (strides, offset, length) = layout.Make(Rng, shape);
        var data = new double[length];
        for (long i = 0; i < length; i++) data[i] = ReferenceOps.Conform(dtype, values(Rng));
        return Create(name, dtype, shape, strides, offset, data);
    }

    /// <summary>An input whose viewed elements take <paramref name="values"/> in row-major order (padding random).</summary>
    public Operand InputFrom(string name, DType dtype, int[] shape, LayoutSpec layout, IReadOnlyList<double> values)
    {
        var op = Input(name, dtype, shape, layout, Values.Uniform(-9, 9));
        int k = 0;
        foreach (var i in op.Host.Indices()) op.Host[i] = values[k++];
        Upload(op);
        return op;
    }

    /// <summary>An output: the buffer holds sentinel values that must survive outside the view.</summary>
    public Operand Output(string name, DType dtype, int[] shape, LayoutSpec layout) =>
        Input(name, dtype, shape, layout with { RandomBroadcast = false, ZeroDims = null }, Values.Ints(-999, 999));

    private Operand Create(string name, DType dtype, int[] shape, int[] strides, long offset, double[] data)
    {
        var buffer = Backend.Allocate(dtype, data.Length);
        _buffers.Add(buffer);
        var op = new Operand(name, new HostView(data, dtype, shape, strides, offset), buffer, new StridedView(buffer, shape, strides, offset));
        Upload(op);
        return op;
    }

    /// <summary>Uploads the host twin's whole buffer, sometimes in two pieces (exercising the destination offset).</summary>
    public void Upload(Operand op)
    {
        var data = op.Host.Data;
        int split = data.Length > 1 && Rng.Next(3) == 0 ? Rng.Next(1, data.Length) : data.Length;
        switch (op.Buffer.DType)
        {
            case DType.Float32:
                {
                    var a = data.Select(v => (float)v).ToArray();
                    Backend.Upload<float>(a.AsSpan(0, split), op.Buffer, 0);
                    if (split < a.Length) Backend.Upload<float>(a.AsSpan(split), op.Buffer, split);
                    break;
                }
            case DType.Float64:
                Backend.Upload<double>(data.AsSpan(0, split), op.Buffer, 0);
                if (split < data.Length) Backend.Upload<double>(data.AsSpan(split), op.Buffer, split);
                break;
            default:
                {
                    var a = data.Select(v => (int)v).ToArray();
                    Backend.Upload<int>(a.AsSpan(0, split), op.Buffer, 0);
                    if (split < a.Length) Backend.Upload<int>(a.AsSpan(split), op.Buffer, split);
                    break;
                }
        }
    }

    /// <summary>The device buffer's whole contents, sometimes downloaded in two pieces (exercising the source offset).</summary>
    public double[] Download(DeviceBuffer buffer, long length)
    {
        int n = checked((int)length);
        int split = n > 1 && Rng.Next(3) == 0 ? Rng.Next(1, n) : n;
        switch (buffer.DType)
        {
            case DType.Float32:
                {
                    var a = new float[n];
                    Backend.Download<float>(buffer, a.AsSpan(0, split), 0);
                    if (split < n) Backend.Download<float>(buffer, a.AsSpan(split), split);
                    return a.Select(v => (double)v).ToArray();
                }
            case DType.Float64:
                {
                    var a = new double[n];
                    Backend.Download<double>(buffer, a.AsSpan(0, split), 0);
                    if (split < n) Backend.Download<double>(buffer, a.AsSpan(split), split);
                    return a;
                }
            default:
                {
                    var a = new int[n];
                    Backend.Download<int>(buffer, a.AsSpan(0, split), 0);
                    if (split < n) Backend.Download<int>(buffer, a.AsSpan(split), split);
                    return a.Select(v => (double)v).ToArray();
                }
        }
    }

    // ------------------------------------------------------------------ running and checking

    /// <summary>
    /// Runs one case: <paramref name="device"/> launches the op, <paramref name="reference"/> applies
    /// ReferenceOps to the host twins; then <paramref name="output"/>'s buffer is compared. An
    /// exception from the device is recorded as the case's failure.
    /// </summary>
    public void Case(string description, Action device, Action reference, Operand output,
        Func<int[], double, double>? tolerance = null, Func<int[], string>? inputsAt = null)
    {
        _cases++;
        var expected = output.Host;
        try
        {
            device();
        }
        catch (Exception e)
        {
            Fail(description, $"device threw {e.GetType().Name}: {e.Message}");
            return;
        }
        reference();
        double[] actual;
        try { actual = Download(output.Buffer, expected.Data.Length); }
        catch (Exception e)
        {
            Fail(description, $"download threw {e.GetType().Name}: {e.Message}");
            return;
        }
        Compare(description, output, actual, tolerance, inputsAt);
        // Keep the device and the twin in step for cases that reuse an operand.
        Array.Copy(actual, expected.Data, actual.Length);
    }

    /// <summary>Compares a downloaded buffer with the reference's copy.</summary>
    public void Compare(string description, Operand output, double[] actual, Func<int[], double, double>? tolerance, Func<int[], string>? inputsAt)
    {
        var expected = output.Host;
        var inView = new Dictionary<long, int[]>();
        foreach (var i in expected.Indices()) inView[expected.OffsetOf(i)] = i;
        var sb = new StringBuilder();
        int bad = 0;
        for (long p = 0; p < actual.Length; p++)
        {
            double d = actual[p], r = expected.Data[p];
            bool ok;
            double tol = 0;
            if (inView.TryGetValue(p, out var index))
            {
                tol = tolerance?.Invoke(index, r) ?? 0;
                ok = Close(d, r, tol);
            }
            else ok = Close(d, r, 0);
            if (ok) continue;
            if (++bad <= 4)
            {
                sb.Append(index is null
                    ? $"\n    buffer[{p}] outside the view was overwritten: {F(r)} → {F(d)}"
                    : $"\n    {output.Name}{Shapes.Show(index)} (buffer {p}): device {F(d)}, reference {F(r)}, |Δ| {F(Math.Abs(d - r))} > tol {F(tol)}"
                      + (inputsAt is null ? "" : $"; inputs {inputsAt(index)}"));
            }
        }
        if (bad > 0) Fail(description, $"{bad} of {actual.Length} buffer elements wrong ({inView.Count} in view):{sb}");
    }

    public static bool Close(double d, double r, double tol)
    {
        if (double.IsNaN(r)) return double.IsNaN(d);
        if (double.IsInfinity(r) || tol == 0) return d == r;
        return !double.IsNaN(d) && Math.Abs(d - r) <= tol;
    }

    public void Fail(string description, string what)
    {
        _failedCases++;
        if (_failures.Count < 8) _failures.Add($"[{DeviceName}] {description}\n  → {what}");
    }

    /// <summary>Fails the test with every collected mismatch (up to eight cases in detail).</summary>
    public void AssertAllPassed()
    {
        if (_failedCases == 0) return;
        Assert.Fail($"{_failedCases} of {_cases} cases failed on {DeviceName} (suite seed {Seed}):\n" + string.Join("\n", _failures)
            + (_failedCases > _failures.Count ? $"\n  … and {_failedCases - _failures.Count} more" : ""));
    }

    public static string F(double v) => v.ToString("G9", CultureInfo.InvariantCulture);

    /// <summary>Values of an operand at a logical index, for mismatch messages.</summary>
    public static string At(Operand op, int[] index) => $"{op.Name}={F(op.Host[index])}";

    public void Dispose()
    {
        foreach (var b in _buffers) b.Dispose();
        _buffers.Clear();
    }
}

/// <summary>Tolerances: |device − reference| ≤ bound, per element.</summary>
public static class Tol
{
    /// <summary>Bit-exact (NaN matches NaN, −0 matches +0).</summary>
    public static Func<int[], double, double>? Exact => null;

    /// <summary>Elementwise results of correctly rounded or approximate (GPU fast-math) functions.</summary>
    public static Func<int[], double, double> Elementwise(DType dtype, double scale = 1) => dtype switch
    {
        DType.Float32 => (_, r) => 1e-5 * Math.Abs(r) + 1e-6 * scale,
        DType.Float64 => (_, r) => 1e-12 * Math.Abs(r) + 1e-14 * scale,
        _ => (_, _) => 0,
    };

    /// <summary>
    /// Accumulations of <paramref name="n"/> terms whose absolute values sum to magnitude[index]:
    /// the error grows like √n · ε · Σ|terms| (c = 2e-6 for float covers sequential float sums up to n ≈ 1000).
    /// </summary>
    public static Func<int[], double, double> Accumulated(DType dtype, int n, Func<int[], double> magnitude) => dtype switch
    {
        DType.Float32 => (i, r) => 2e-6 * Math.Sqrt(n + 1) * magnitude(i) + 1e-6 * Math.Abs(r) + 1e-30,
        DType.Float64 => (i, r) => 1e-14 * Math.Sqrt(n + 1) * magnitude(i) + 1e-14 * Math.Abs(r) + 1e-300,
        _ => (_, _) => 0,
    };
}
