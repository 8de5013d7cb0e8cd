using GpuNet.Distributed.Mpi;
using GpuNet.Kernels;
using GpuNet.Kernels.Managed;
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
/// own). With <see cref="BeginBackward"/> before backward, each bucket's reduction starts as soon as its gradients are
/// in (see there); without it, <see cref="SynchronizeGradients"/> starts them all after backward. Either way a replica
/// sends few large messages instead of one per parameter, through a bounded extra buffer per bucket.
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

    private readonly Dictionary<Parameter, IDisposable> _hooked = new((IEqualityComparer<Parameter>)ReferenceEqualityComparer.Instance);
    private Reduction? _pending;

    /// <inheritdoc />
    public void Broadcast(IReadOnlyList<Tensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        using var noGrad = Autograd.NoGrad();
        foreach (var t in tensors) Communicator.Broadcast(t, 0);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Each parameter gets a hook (<see cref="Tensor.RegisterPostAccumulateGradHook"/>) the first time it is seen: as soon
    /// as backward has accumulated the last gradient of a bucket, and every bucket before it has started, the bucket is
    /// flattened, weighted and its all-reduce started (MPI's non-blocking <c>MPI_Iallreduce</c> for tensors on the CPU
    /// device), so that communication overlaps the rest of backward. Buckets start in plan order on every rank, as
    /// MPI requires of collectives; one whose gradients never come (an empty share) starts in
    /// <see cref="SynchronizeGradients"/>.
    /// </remarks>
    public void BeginBackward(IReadOnlyList<Parameter> parameters, double weight)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (_pending is not null)
            throw new InvalidOperationException("DataParallel.BeginBackward: the gradients of the previous backward were not synchronized; call SynchronizeGradients after each backward.");
        var step = new Reduction(this, parameters, weight);
        foreach (var p in step.Buckets.SelectMany(b => b))
            if (!_hooked.ContainsKey(p)) _hooked[p] = p.Data.RegisterPostAccumulateGradHook(_ => _pending?.Ready(p));
        _pending = step;
    }

    /// <inheritdoc />
    public void SynchronizeGradients(IReadOnlyList<Parameter> parameters, double weight)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var step = _pending ?? new Reduction(this, parameters, weight);
        _pending = null;
        using (step)
        {
            step.Finish();
            if (!step.Matches(parameters, weight))
                throw new InvalidOperationException("DataParallel.SynchronizeGradients: called with other parameters or another weight than BeginBackward.");
            LastBuckets = step.Buckets.Select(b => b.Sum(p => p.NumElements)).ToArray();
            LastStartedDuringBackward = step.StartedEarly;
        }
    }

    /// <summary>How many buckets of the last <see cref="SynchronizeGradients"/> started during backward, before it was called.</summary>
    public int LastStartedDuringBackward { get; private set; }

    // Starts the in-place sum of a flat bucket and returns what waits for it: non-blocking over MPI for a buffer in
    // (pinned) managed memory, else the communicator's blocking all-reduce, done by the time this returns.
    private unsafe Action StartSum(Tensor flat)
    {
        long n = flat.NumElements;
        if (Communicator is MpiCommunicator mpi && flat.Buffer is ManagedBuffer managed && n <= MpiCommunicator.MaxCount)
        {
            flat.MarkWritten("AllReduce");
            // The pinned object heap keeps the address valid after the fixed block, until Wait.
            MpiCommunicator.PendingReduce pending;
            if (flat.DType == DType.Float32) fixed (float* p = managed.AsSpan<float>()) pending = mpi.StartSum(p + flat.Offset, (int)n);
            else fixed (double* p = managed.AsSpan<double>()) pending = mpi.StartSum(p + flat.Offset, (int)n);
            return pending.Wait;
        }
        Communicator.AllReduce(flat, ReduceOp.Sum);
        return static () => { };
    }

    /// <summary>One backward's buckets: which gradients are in, which reductions have started.</summary>
    private sealed class Reduction(DataParallel owner, IReadOnlyList<Parameter> parameters, double weight) : IDisposable
    {
        private readonly List<(Tensor Flat, Action Wait, List<Parameter> Bucket)> _started = [];
        private readonly HashSet<Parameter> _ready = new((IEqualityComparer<Parameter>)ReferenceEqualityComparer.Instance);
        private int[]? _waiting;
        private Dictionary<Parameter, int>? _bucketOf;
        private int _next;
        private bool _finished;

        public List<List<Parameter>> Buckets { get; } = Plan(parameters, owner.BucketBytes);

        public int StartedEarly { get; private set; }

        public bool Matches(IReadOnlyList<Parameter> other, double otherWeight) =>
            otherWeight == weight && (ReferenceEquals(other, parameters) || other.SequenceEqual(parameters, ReferenceEqualityComparer.Instance));

        /// <summary>A hook: <paramref name="p"/>'s gradient is final for this backward.</summary>
        public void Ready(Parameter p)
        {
            if (_finished) return;
            _bucketOf ??= Buckets.SelectMany((b, i) => b.Select(q => (q, i))).ToDictionary(x => x.q, x => x.i, (IEqualityComparer<Parameter>)ReferenceEqualityComparer.Instance);
            _waiting ??= Buckets.Select(b => b.Count).ToArray();
            if (!_bucketOf.TryGetValue(p, out int bucket)) return;
            if (!_ready.Add(p))
                throw new InvalidOperationException($"DataParallel: {p} received a second gradient in one backward pass; call BeginBackward before each backward and SynchronizeGradients after it.");
            _waiting[bucket]--;
            while (_next < Buckets.Count && _waiting[_next] == 0)
            {
                Start(Buckets[_next++]);
                StartedEarly++;
            }
        }

        /// <summary>Starts what has not started (in plan order), waits for every reduction and writes the sums back.</summary>
        public void Finish()
        {
            _finished = true;
            while (_next < Buckets.Count) Start(Buckets[_next++]);
            using var noGrad = Autograd.NoGrad();
            foreach (var (flat, wait, bucket) in _started)
            {
                wait();
                using var scope = Tensor.NewScope();
                int at = 0;
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
        }

        private void Start(List<Parameter> bucket)
        {
            using var noGrad = Autograd.NoGrad();
            Tensor flat;
            using (Tensor.NewScope())
            {
                var first = bucket[0];
                flat = Tensor.Zeros([checked((int)bucket.Sum(p => p.NumElements))], first.DType, first.Device).DetachFromScope();
                int at = 0;
                foreach (var p in bucket)
                {
                    int n = (int)p.NumElements;
                    // A missing gradient (this replica's share of the batch was empty) stays zero.
                    if (p.Grad is { } g) flat.Narrow(0, at, n).CopyFrom(g.Reshape(n));
                    at += n;
                }
                if (weight != 1) flat.AffineInPlace(weight);
            }
            try
            {
                _started.Add((flat, owner.StartSum(flat), bucket));
            }
            catch
            {
                flat.Dispose();
                throw;
            }
        }

        /// <summary>Frees the flat buffers, after waiting for any reduction still writing into one (an error path).</summary>
        public void Dispose()
        {
            foreach (var (flat, wait, _) in _started)
            {
                try { wait(); }
                catch (MpiException) { } // the reduction failed; its buffer is ours again either way
                flat.Dispose();
            }
            _started.Clear();
        }
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
