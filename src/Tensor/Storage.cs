using GpuNet.Kernels;

namespace GpuNet;

/// <summary>
/// The memory behind one or more tensors. A tensor and every view of it share one storage; each
/// tensor object holds one reference, and the buffer goes back to the device pool when the last
/// tensor using it is disposed — so disposing a tensor never pulls memory from under a view.
/// </summary>
internal sealed class Storage
{
    private int _refs = 1;
    private int _version;

    public Storage(DeviceBuffer buffer) => Buffer = buffer;

    public DeviceBuffer Buffer { get; }

    public Device Device => Buffer.Device;

    /// <summary>
    /// Counts in-place writes to this storage (PyTorch's version counter). Nodes remember it for what
    /// they save, so a backward pass can tell that a saved value changed under it.
    /// </summary>
    public int Version => _version;

    /// <summary>The in-place op that last wrote to this storage (for error messages); null if none did.</summary>
    public string? LastInPlaceOp { get; private set; }

    /// <summary>Records an in-place write by <paramref name="op"/>: one increment, no lock, as a write race on the data would be a bug anyway.</summary>
    public void MarkWritten(string op)
    {
        _version++;
        LastInPlaceOp = op;
    }

    /// <summary>True when one tensor object alone uses this storage.</summary>
    public bool IsExclusive => Volatile.Read(ref _refs) == 1;

    public void AddRef()
    {
        if (Interlocked.Increment(ref _refs) <= 1)
            throw new ObjectDisposedException(nameof(Tensor), "A view was taken of a tensor whose memory was already released.");
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref _refs) != 0) return;
        // Nobody can read a result any more: its deferred launch is dropped, not run.
        Interlocked.Exchange(ref _pending, null)?.Drop();
        Buffer.Dispose();
    }

    // ---- deferred elementwise results (see PendingBinary) ----

    private PendingBinary? _pending;
    // Weak: a deferred result nobody can reach any more can never be read, so it need not run, and its
    // buffer must stay collectable (DeviceBuffer's finalizer returns it, as for any undisposed tensor).
    private static readonly List<WeakReference<Storage>> s_pending = [];
    private static int s_pendingCount;

    /// <summary>The launch that will write this storage when it is first read; null once it ran (or for storage written eagerly).</summary>
    public PendingBinary? Pending => Volatile.Read(ref _pending);

    /// <summary>Defers <paramref name="pending"/>, the launch that writes this fresh storage, until this storage or one of its inputs is accessed.</summary>
    public void Defer(PendingBinary pending)
    {
        _pending = pending;
        lock (s_pending)
        {
            s_pending.Add(new WeakReference<Storage>(this));
            Volatile.Write(ref s_pendingCount, s_pending.Count);
        }
    }

    /// <summary>
    /// Runs the deferred launches that touch <paramref name="accessed"/>: the one that writes it, and
    /// those that read it. Every access to a tensor's memory calls it first, so a deferred result is
    /// written before anything reads or writes it, and before anything can write to an input it reads.
    /// </summary>
    public static void RunPendingFor(Storage accessed)
    {
        if (Volatile.Read(ref s_pendingCount) == 0) return;
        RunPendingSlow(accessed);
    }

    private static void RunPendingSlow(Storage accessed)
    {
        List<PendingBinary>? due = null;
        lock (s_pending)
        {
            for (int i = 0; i < s_pending.Count; i++)
            {
                var pending = s_pending[i].TryGetTarget(out var storage) ? Volatile.Read(ref storage._pending) : null;
                // Entries whose launch ran, was dropped or can no longer be read leave the list too.
                if (pending is not null && storage != accessed && !pending.Reads(accessed)) continue;
                s_pending.RemoveAt(i--);
                if (pending is not null && Interlocked.CompareExchange(ref storage!._pending, null, pending) == pending) (due ??= []).Add(pending);
            }
            Volatile.Write(ref s_pendingCount, s_pending.Count);
        }
        // In the order they were made (none reads another's output: an input is run when it is accessed).
        if (due is not null) foreach (var pending in due) pending.Run();
    }
}

/// <summary>
/// A binary op's launch held back until its result is read, so that an exactly rounded unary step that
/// follows (a*b+1, relu(a+b)) can run as one <see cref="IBackend.BinaryUnary"/> pass on the same inputs and skip the
/// intermediate's trip through memory. It holds references to its inputs' storage, so their memory
/// stays valid after their tensors are disposed; the launch is exactly the one the op would have made.
/// </summary>
internal sealed class PendingBinary(IBackend backend, BinaryOp op, StridedView a, StridedView b, StridedView y, Storage sa, Storage sb)
{
    public IBackend Backend { get; } = backend;
    public BinaryOp Op { get; } = op;
    public StridedView A { get; } = a;
    public StridedView B { get; } = b;
    public StridedView Y { get; } = y;

    private bool _done;

    /// <summary>Launches the op into its output and lets go of the inputs.</summary>
    public void Run()
    {
        lock (this)
        {
            if (_done) return;
            _done = true;
            try { Backend.Binary(Op, A, B, Y); }
            finally { Release(); }
        }
    }

    /// <summary>Lets go of the inputs without launching.</summary>
    public void Drop()
    {
        lock (this)
        {
            if (_done) return;
            _done = true;
            Release();
        }
    }

    /// <summary>
    /// y = unary(op(a, b)) from the held inputs in one pass, leaving this launch pending; false
    /// when it already ran or was dropped (its inputs may then be gone), and the caller reads the result instead.
    /// </summary>
    public bool TryFuseUnary(StridedView y, UnaryOp unary, double alpha, double beta)
    {
        lock (this)
        {
            if (_done) return false;
            Backend.BinaryUnary(Op, A, B, y, unary, alpha, beta);
            return true;
        }
    }

    /// <summary>True when the launch reads <paramref name="storage"/>.</summary>
    public bool Reads(Storage storage) => storage == sa || storage == sb;

    private void Release()
    {
        sa.Release();
        sb.Release();
    }
}
