using GpuNet.Nn;

namespace GpuNet.Distributed;

/// <summary>
/// <see cref="IDataParallel"/> over an <see cref="ICommunicator"/> (PyTorch's DistributedDataParallel, reduced to what
/// GpuNet's training loop needs): gradients are combined in size-bounded buckets, each flattened into one buffer on the
/// parameters' device and reduced with one all-reduce.
/// </summary>
/// <remarks>
/// Buckets are filled from the last parameter to the first, the order in which backward produces gradients, and hold
/// parameters of one dtype and device, at most <see cref="BucketBytes"/> bytes (a larger parameter is a bucket of its
/// own). GpuNet's autograd engine has no per-parameter "gradient ready" hook, so the reductions start after backward
/// returns, one bucket after the other; what bucketing buys here is few large messages instead of one per parameter,
/// with a bounded extra buffer.
/// </remarks>
public sealed class DataParallel : IDataParallel
{
    /// <summary>The default bucket bound, PyTorch DDP's 25 MiB.</summary>
    public const long DefaultBucketBytes = 25L << 20;

    /// <summary>Wraps <paramref name="communicator"/> (not owned: the caller disposes it).</summary>
    public DataParallel(ICommunicator communicator, long bucketBytes = DefaultBucketBytes)
    {
        Communicator = communicator ?? throw new ArgumentNullException(nameof(communicator));
        if (bucketBytes <= 0) throw new ArgumentOutOfRangeException(nameof(bucketBytes), $"DataParallel: bucketBytes must be positive; got {bucketBytes}.");
        BucketBytes = bucketBytes;
    }

    /// <summary>What carries the data.</summary>
    public ICommunicator Communicator { get; }

    /// <summary>The most bytes of gradients one bucket (one all-reduce) holds, unless a single parameter is larger.</summary>
    public long BucketBytes { get; }

    /// <inheritdoc />
    public int Rank => Communicator.Rank;

    /// <inheritdoc />
    public int Size => Communicator.Size;

    /// <summary>Elements in each bucket of the last <see cref="SynchronizeGradients"/>, in reduction order.</summary>
    public IReadOnlyList<long> LastBuckets { get; private set; } = [];

    /// <inheritdoc />
    public void Broadcast(IReadOnlyList<Tensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        using var noGrad = Autograd.NoGrad();
        foreach (var t in tensors) Communicator.Broadcast(t, 0);
    }

    /// <inheritdoc />
    public void SynchronizeGradients(IReadOnlyList<Parameter> parameters, double weight)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var buckets = Plan(parameters, BucketBytes);
        using var noGrad = Autograd.NoGrad();
        foreach (var bucket in buckets)
        {
            using var scope = Tensor.NewScope();
            var first = bucket[0];
            long total = bucket.Sum(p => p.NumElements);
            var flat = Tensor.Zeros([checked((int)total)], first.DType, first.Device);
            int at = 0;
            foreach (var p in bucket)
            {
                int n = (int)p.NumElements;
                // A missing gradient (this replica's share of the batch was empty) stays zero.
                if (p.Grad is { } g) flat.Narrow(0, at, n).CopyFrom(g.Reshape(n));
                at += n;
            }
            if (weight != 1) flat.AffineInPlace(weight);
            Communicator.AllReduce(flat, ReduceOp.Sum);
            at = 0;
            foreach (var p in bucket)
            {
                int n = (int)p.NumElements;
                var summed = flat.Narrow(0, at, n).Reshape([.. p.Shape]);
                if (p.Grad is { } g) g.CopyFrom(summed);
                else
                    using (TensorScope.Suspend())
                        p.Data.Grad = summed.Clone();
                at += n;
            }
        }
        LastBuckets = buckets.Select(b => b.Sum(p => p.NumElements)).ToArray();
    }

    /// <summary>
    /// The buckets for <paramref name="parameters"/>: those that require a gradient, last first, grouped while dtype and
    /// device agree and the bytes stay within <paramref name="bucketBytes"/>.
    /// </summary>
    internal static List<List<Parameter>> Plan(IReadOnlyList<Parameter> parameters, long bucketBytes)
    {
        var buckets = new List<List<Parameter>>();
        List<Parameter>? current = null;
        long bytes = 0;
        for (int i = parameters.Count - 1; i >= 0; i--)
        {
            var p = parameters[i];
            if (!p.RequiresGrad || p.NumElements == 0) continue;
            long size = p.NumElements * p.DType.SizeOf();
            bool fits = current is not null && current[0].DType == p.DType && current[0].Device == p.Device && bytes + size <= bucketBytes;
            if (!fits)
            {
                current = [];
                buckets.Add(current);
                bytes = 0;
            }
            current!.Add(p);
            bytes += size;
        }
        return buckets;
    }

    /// <inheritdoc />
    public void Sum(Span<double> values) => Communicator.AllReduce(values, ReduceOp.Sum);

    /// <inheritdoc />
    public byte[] BroadcastBytes(byte[]? data)
    {
        Span<long> length = [Rank == 0 ? (data ?? throw new ArgumentNullException(nameof(data), "BroadcastBytes: replica 0 must supply the bytes.")).LongLength : 0];
        Communicator.Broadcast(length, 0);
        var result = Rank == 0 ? data! : new byte[checked((int)length[0])];
        Communicator.Broadcast(result.AsSpan(), 0);
        return result;
    }
}
