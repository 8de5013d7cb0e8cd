using GpuNet.Kernels;
using GpuNet.Kernels.Ilgpu;
using GpuNet.Kernels.Managed;

namespace GpuNet.Tests.Memory;

/// <summary>
/// The PyTorch habit: a loop that never disposes and opens no scope. Its dead tensors must come back to
/// the pool at the pace the loop uses device memory, not whenever the GC happens to run.
/// </summary>
[Collection("Memory")]
public sealed class UnscopedLoopTests(ITestOutputHelper output)
{
    public static TheoryData<string> CpuDevices => new() { "cpu", "ilgpu-cpu" };

    [Theory, MemberData(nameof(CpuDevices))]
    public void UnscopedLoop_OfTwoThousandSteps_KeepsPoolBytesWithinASmallMultipleOfItsWorkingSet(string device)
    {
        // A device of its own, so that no other test's garbage (finalized during the loop) lands in its pool.
        var dev = device == "cpu" ? ManagedBackend.CreateDevice() : IlgpuDiscovery.Discover().First(d => d.Kind == DeviceKind.IlgpuCpu);
        var pool = dev.Pool;
        // 2 MB operands on the managed CPU; the CPU accelerator simulates a GPU thread by thread, so it
        // gets 64 KB ones.
        int n = dev.Kind == DeviceKind.Cpu ? 512 * 1024 : 16 * 1024;
        var x = Tensor.Rand([n], seed: 3, device: dev).DetachFromScope();
        long block = MemoryPool.SizeClass(n * sizeof(float));
        long workingSet = 3 * block; // x, x·2 and x·2 + 1
        GC.Collect();
        GC.WaitForPendingFinalizers();
        pool.DrainFinalized();
        long liveBefore = pool.LiveBytes, before = liveBefore + pool.CachedBytes;
        long peak = 0;
        float last = 0;
        var sw = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 2000; i++)
        {
            var y = x * 2 + 1; // never disposed
            if (i % 500 == 0) last = y.ToArray()[0];
            peak = Math.Max(peak, pool.LiveBytes + pool.CachedBytes - before);
        }
        output.WriteLine($"{device}: peak live + cached {peak / 1e6:F1} MB for a working set of {workingSet / 1e6:F1} MB ({(double)peak / workingSet:F1}×); {pool.Collections} collections, {sw.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(x.ToArray()[0] * 2 + 1, last);
        x.Dispose();
        (dev.Backend as IDisposable)?.Dispose();
        // The pool collects whenever its live bytes have doubled (or grown by its floor, for small working
        // sets), so dead blocks never outnumber live ones by much: about twice the working set.
        long bound = 2 * Math.Max(liveBefore + workingSet, MemoryPool.CollectFloorBytes);
        Assert.True(peak <= bound,
            $"{device}: the pool grew to {peak / 1e6:F1} MB (live + cached) for a {workingSet / 1e6:F1} MB working set, {(double)peak / workingSet:F1}× (bound {bound / 1e6:F1} MB).");
    }
}
