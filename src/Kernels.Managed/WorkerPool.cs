namespace GpuNet.Kernels.Managed;

/// <summary>
/// Fork-join over a few dedicated threads (one fewer than the cores; the caller is the last one).
/// <see cref="Parallel.For(int, int, Action{int})"/> costs tens of microseconds per call on a busy
/// two-core machine (thread-pool wake-up, task replication), which is the whole budget of a small
/// GEMM in an MLP step; here idle workers spin briefly on their signal before blocking, so a
/// fork-join costs a few microseconds. Calls from inside a running job, or while another thread
/// holds the pool, run inline on the calling thread.
/// </summary>
internal static class WorkerPool
{
    /// <summary>Threads a job can use, the caller included: the core count, or <c>GPUNET_THREADS</c> when set.</summary>
    public static readonly int Threads =
        int.TryParse(Environment.GetEnvironmentVariable("GPUNET_THREADS"), out int n) && n > 0 ? n : Math.Max(1, Environment.ProcessorCount);

    private sealed class Job(Action<int> body, int count)
    {
        public readonly Action<int> Body = body;
        public readonly int Count = count;
        public int Next;
        public int Done;
        public Exception? Error;
    }

    private static readonly ManualResetEventSlim[] s_signals = CreateWorkers();
    private static Job? s_job;
    private static int s_busy;

    /// <summary>
    /// How long an idle worker watches for the next job before it blocks: 200 µs of wall-clock time, so a
    /// training step's jobs (tens to hundreds of microseconds apart) find it awake. Measured in time, not in
    /// spin iterations: the runtime calibrates a spin iteration once per process, and with an iteration count
    /// (ManualResetEventSlim's) the same step ran at 1.0–1.1 ms in some processes and 1.7–1.9 ms in others.
    /// </summary>
    private static readonly long s_watchTicks = System.Diagnostics.Stopwatch.Frequency / 5000;

    private static ManualResetEventSlim[] CreateWorkers()
    {
        var signals = new ManualResetEventSlim[Threads - 1];
        for (int i = 0; i < signals.Length; i++)
        {
            var signal = signals[i] = new ManualResetEventSlim(false, spinCount: 1);
            new Thread(() => WorkerLoop(signal)) { IsBackground = true, Name = $"GpuNet worker {i + 1}" }.Start();
        }
        return signals;
    }

    private static void WorkerLoop(ManualResetEventSlim signal)
    {
        Job? last = null;
        while (true)
        {
            // Watch for a job this worker has not joined yet; a job it joined stays published until its caller
            // has seen every task done, and joining it again would find nothing left to claim anyway.
            long deadline = System.Diagnostics.Stopwatch.GetTimestamp() + s_watchTicks;
            Job? job;
            while ((job = Volatile.Read(ref s_job)) is null || job == last)
            {
                if (System.Diagnostics.Stopwatch.GetTimestamp() > deadline)
                {
                    // Every job is published before its signal is set, so after the wait the next read sees it.
                    signal.Wait();
                    signal.Reset();
                    deadline = System.Diagnostics.Stopwatch.GetTimestamp() + s_watchTicks;
                }
                else Thread.SpinWait(8);
            }
            last = job;
            Work(job);
        }
    }

    /// <summary>Runs <paramref name="body"/>(i) for every i in [0, <paramref name="count"/>), spread over the pool; returns when all are done.</summary>
    public static void For(int count, Action<int> body)
    {
        if (count <= 0) return;
        if (count == 1 || Threads == 1 || Interlocked.CompareExchange(ref s_busy, 1, 0) != 0)
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        var job = new Job(body, count);
        try
        {
            Volatile.Write(ref s_job, job);
            int wake = Math.Min(s_signals.Length, count - 1);
            for (int i = 0; i < wake; i++) s_signals[i].Set();
            Work(job);
            // Wait for tasks other threads claimed: spin, then yield (never sleep: a millisecond is longer than most jobs).
            int spins = 0;
            while (Volatile.Read(ref job.Done) < count)
            {
                if (++spins < 200) Thread.SpinWait(30);
                else Thread.Yield();
            }
        }
        finally
        {
            Volatile.Write(ref s_job, null);
            Volatile.Write(ref s_busy, 0);
        }
        if (job.Error is { } e) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e);
    }

    /// <summary>
    /// Splits [0, <paramref name="count"/>) into at most <paramref name="chunks"/> ranges of equal length,
    /// rounded up to a multiple of <paramref name="align"/>, and runs <paramref name="body"/>(start, end)
    /// for each through <see cref="For"/>.
    /// </summary>
    public static void ForRanges(int count, int chunks, Action<int, int> body, int align = 1)
    {
        if (count <= 0) return;
        chunks = Math.Clamp(chunks, 1, count);
        int per = (count + chunks - 1) / chunks;
        per = (per + align - 1) / align * align;
        For((count + per - 1) / per, c => body(c * per, Math.Min(count, (c + 1) * per)));
    }

    private static void Work(Job job)
    {
        int i;
        while ((i = Interlocked.Increment(ref job.Next) - 1) < job.Count)
        {
            try { job.Body(i); }
            catch (Exception e) { Interlocked.CompareExchange(ref job.Error, e, null); }
            finally { Interlocked.Increment(ref job.Done); }
        }
    }
}
