using System.Collections.Concurrent;
using GpuNet.Kernels;

namespace GpuNet.Tests.Backends;

/// <summary>Bugs the <see cref="ReferenceBackend"/> can be told to have, to prove the suite catches them.</summary>
public enum Mutation
{
    None,
    /// <summary>Outputs written as if their view started at element 0.</summary>
    IgnoreOutputOffset,
    /// <summary>Inputs read as if dense row-major (transposes and broadcasts lost).</summary>
    IgnoreInputStrides,
    /// <summary>ArgMax/ArgMin return the last extreme, not the first.</summary>
    ArgLastIndex,
    /// <summary>Random counters wrap at 2³² (the high counter word dropped).</summary>
    Counter32Bit,
    /// <summary>Max/Min skip NaN instead of propagating it.</summary>
    MaxIgnoresNaN,
    /// <summary>MatMul leaves c untouched when k = 0.</summary>
    MatMulSkipsEmptyK,
    /// <summary>Softmax without subtracting the row maximum (overflows on large logits).</summary>
    UnstableSoftmax,
}

/// <summary>
/// A test-only device whose ops are <see cref="ReferenceOps"/> run on host arrays, optionally with
/// one deliberate <see cref="Mutation"/>. It lets the conformance suite be exercised end to end
/// (upload at offsets, views, comparisons, reports) before the real backends exist, and shows
/// that each class of bug makes the suite fail. Device names: <c>reference</c>, <c>reference:Mutation</c>.
/// </summary>
public sealed class ReferenceBackend : IBackend
{
    private static readonly ConcurrentDictionary<Mutation, Device> s_devices = new();

    private readonly Mutation _mutation;

    private ReferenceBackend(Device device, Mutation mutation)
    {
        Device = device;
        _mutation = mutation;
        Pool = new MemoryPool(device, bytes => new double[(bytes + 3) / 4], _ => { });
    }

    /// <summary>The device for a name <c>reference</c> or <c>reference:Mutation</c>.</summary>
    public static Device DeviceFor(string name)
    {
        int colon = name.IndexOf(':');
        var mutation = colon < 0 ? Mutation.None : Enum.Parse<Mutation>(name[(colon + 1)..], ignoreCase: true);
        return s_devices.GetOrAdd(mutation, m => new Device($"reference:{m}", DeviceKind.Cpu, 0, 1L << 30, 1, d => new ReferenceBackend(d, m)));
    }

    public Device Device { get; }
    public MemoryPool Pool { get; }

    private sealed class HostBuffer(MemoryPool pool, object raw, long capacity, DType dtype, long length)
        : DeviceBuffer(pool, raw, capacity, dtype, length)
    {
        public double[] Data => (double[])Raw;
    }

    public DeviceBuffer Allocate(DType dtype, long length)
    {
        var (raw, capacity) = Pool.Rent(length * dtype.SizeOf());
        return new HostBuffer(Pool, raw, capacity, dtype, length);
    }

    public void Upload<T>(ReadOnlySpan<T> src, DeviceBuffer dst, long dstOffset = 0) where T : unmanaged
    {
        var data = ((HostBuffer)dst).Data;
        for (int i = 0; i < src.Length; i++) data[dstOffset + i] = ToDouble(src[i]);
    }

    public void Download<T>(DeviceBuffer src, Span<T> dst, long srcOffset = 0) where T : unmanaged
    {
        var data = ((HostBuffer)src).Data;
        for (int i = 0; i < dst.Length; i++) dst[i] = FromDouble<T>(data[srcOffset + i]);
    }

    private static double ToDouble<T>(T v) => v switch
    {
        float f => f,
        double d => d,
        int n => n,
        _ => throw new NotSupportedException(typeof(T).Name),
    };

    private static T FromDouble<T>(double v) =>
        typeof(T) == typeof(float) ? (T)(object)(float)v
        : typeof(T) == typeof(double) ? (T)(object)v
        : (T)(object)(int)v;

    public void Synchronize() { }

    private HostView In(StridedView v) => _mutation == Mutation.IgnoreInputStrides
        ? new HostView(((HostBuffer)v.Buffer).Data, v.DType, v.Shape, StridedView.RowMajorStrides(v.Shape), v.Offset)
        : new HostView(((HostBuffer)v.Buffer).Data, v.DType, v.Shape, v.Strides, v.Offset);

    private HostView Out(StridedView v) =>
        new(((HostBuffer)v.Buffer).Data, v.DType, v.Shape, v.Strides, _mutation == Mutation.IgnoreOutputOffset ? 0 : v.Offset);

    public void Fill(StridedView y, double value) => ReferenceOps.Fill(Out(y), value);
    public void FillAffine(StridedView y, double start, double step) => ReferenceOps.FillAffine(Out(y), start, step);

    public void FillRandom(StridedView y, RandomDistribution distribution, ulong seed, ulong counterOffset, double alpha, double beta)
    {
        if (_mutation != Mutation.Counter32Bit) { ReferenceOps.FillRandom(Out(y), distribution, seed, counterOffset, alpha, beta); return; }
        var o = Out(y);
        uint k = 0;
        foreach (var i in o.Indices()) o[i] = ReferenceOps.RandomValue(distribution, o.DType, seed, (uint)counterOffset + k++, alpha, beta);
    }

    public void Copy(StridedView x, StridedView y) => ReferenceOps.Copy(In(x), Out(y));
    public void Unary(UnaryOp op, StridedView x, StridedView y, double alpha = 0, double beta = 0) => ReferenceOps.Unary(op, In(x), Out(y), alpha, beta);
    public void Binary(BinaryOp op, StridedView a, StridedView b, StridedView y) => ReferenceOps.Binary(op, In(a), In(b), Out(y));
    public void Where(StridedView condition, StridedView a, StridedView b, StridedView y) => ReferenceOps.Where(In(condition), In(a), In(b), Out(y));

    public void Reduce(ReduceOp op, StridedView x, StridedView y)
    {
        var (hx, hy) = (In(x), Out(y));
        if (_mutation == Mutation.ArgLastIndex && op is ReduceOp.ArgMax or ReduceOp.ArgMin)
        {
            // Reverse the axis, take the first extreme, map the index back: the last extreme.
            int n = hx.Shape[1];
            var rev = new HostView(hx.Data, hx.DType, hx.Shape, [hx.Strides[0], -hx.Strides[1], hx.Strides[2]], hx.Offset + (long)(n - 1) * hx.Strides[1]);
            ReferenceOps.Reduce(op, rev, hy);
            foreach (var i in hy.Indices()) hy[i] = n - 1 - hy[i];
            return;
        }
        if (_mutation == Mutation.MaxIgnoresNaN && op is ReduceOp.Max or ReduceOp.Min)
        {
            var clean = hx.Map(v => double.IsNaN(v) ? (op == ReduceOp.Max ? double.NegativeInfinity : double.PositiveInfinity) : v);
            ReferenceOps.Reduce(op, clean, hy);
            return;
        }
        ReferenceOps.Reduce(op, hx, hy);
    }

    public void Softmax(StridedView x, StridedView y, bool log)
    {
        if (_mutation != Mutation.UnstableSoftmax) { ReferenceOps.Softmax(In(x), Out(y), log); return; }
        var (hx, hy) = (In(x), Out(y));
        for (int o = 0; o < hx.Shape[0]; o++)
            for (int i = 0; i < hx.Shape[2]; i++)
            {
                double s = 0;
                for (int j = 0; j < hx.Shape[1]; j++) s += (float)Math.Exp(hx[o, j, i]);
                for (int j = 0; j < hx.Shape[1]; j++) hy[o, j, i] = log ? hx[o, j, i] - Math.Log(s) : Math.Exp(hx[o, j, i]) / s;
            }
    }

    public void MatMul(StridedView a, StridedView b, StridedView c)
    {
        if (_mutation == Mutation.MatMulSkipsEmptyK && a.Shape[2] == 0) return;
        ReferenceOps.MatMul(In(a), In(b), Out(c));
    }

    public void Gather(StridedView x, StridedView index, StridedView y) => ReferenceOps.Gather(In(x), In(index), Out(y));
    public void ScatterAdd(StridedView src, StridedView index, StridedView y) => ReferenceOps.ScatterAdd(In(src), In(index), Out(y));

    public void Dispose() { }
}
