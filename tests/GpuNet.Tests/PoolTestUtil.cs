using GpuNet.Kernels;

namespace GpuNet.Tests;

/// <summary>Pool counters as the tests read them.</summary>
internal static class PoolTestUtil
{
    /// <summary>Runs the finalizers of tensors nothing references any more and returns their buffers to the pool.</summary>
    public static void Settle(MemoryPool pool)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        pool.DrainFinalized();
    }

    /// <summary>The pool's live bytes once unreachable tensors are gone: what a program still holds.</summary>
    public static long LiveAfterSettling(MemoryPool pool)
    {
        Settle(pool);
        return pool.LiveBytes;
    }
}
