using GpuNet;
using GpuNet.Distributed;
using GpuNet.Distributed.Mpi;

// One rank of an MPI test: `mpirun -np N dotnet GpuNet.MpiWorker.dll SCENARIO`. Prints "rank r/N: ok ..." and exits 0,
// or prints "rank r/N: error: ..." and aborts the whole job (exit 1), as gpunet train does. `bandwidth` is the
// measurement behind the README's all-reduce figures (bench/distributed/run.sh).
if (args.Length != 1 || args[0] is not ("allreduce" or "fail" or "bandwidth"))
{
    Console.Error.WriteLine("usage: GpuNet.MpiWorker allreduce|fail|bandwidth");
    return 2;
}
var world = MpiCommunicator.InitializeWorld();
try
{
    string result = args[0] switch
    {
        "allreduce" => Scenarios.AllReduce(world),
        "fail" => Scenarios.Fail(world),
        _ => Scenarios.Bandwidth(world),
    };
    Console.WriteLine($"rank {world.Rank}/{world.Size}: ok {result}");
}
catch (Exception e)
{
    Console.Error.WriteLine($"rank {world.Rank}/{world.Size}: error: {e.Message}");
    world.Abort(1);
}
world.Dispose();
return 0;

internal static class Scenarios
{
    private static readonly int[] s_sizes = [0, 1, 3, 1001, 65537, (1 << 20) + 7];

    /// <summary>Every dtype, odd sizes, every operation, broadcast from the last rank, strided views, host spans; on the managed CPU device and on a device reached through host copies.</summary>
    public static string AllReduce(MpiCommunicator world)
    {
        int checks = 0;
        foreach (var device in new[] { Device.Cpu, Device.IlgpuCpu })
            foreach (var dtype in new[] { DType.Float32, DType.Float64, DType.Int32 })
                foreach (int n in device == Device.Cpu ? s_sizes : [3, 1001])
                {
                    foreach (var op in new[] { ReduceOp.Sum, ReduceOp.Average, ReduceOp.Max, ReduceOp.Min })
                    {
                        if (op == ReduceOp.Average && dtype == DType.Int32) continue;
                        using var t = Pattern(n, world.Rank, dtype, device);
                        world.AllReduce(t, op);
                        Expect(t, i => Expected(op, world.Size, i), $"AllReduce({op}) of {n} {dtype} on {device}");
                        checks++;
                    }
                    using var b = Pattern(n, world.Rank, dtype, device);
                    world.Broadcast(b, root: world.Size - 1);
                    Expect(b, i => (double)world.Size * Base(i), $"Broadcast from rank {world.Size - 1} of {n} {dtype} on {device}");
                    checks++;
                }
        // A transposed (strided) view is reduced and written back in place.
        using (var m = Tensor.FromArray(Enumerable.Range(0, 35).Select(i => (float)((world.Rank + 1) * Base(i))).ToArray(), [5, 7]))
        {
            var view = m.Transpose(0, 1);
            world.AllReduce(view, ReduceOp.Sum);
            Expect(m, i => Tri(world.Size) * Base(i), "AllReduce of a transposed view");
            checks++;
        }
        // Host values.
        Span<long> longs = [world.Rank + 1, long.MaxValue / 8 * (world.Rank == 0 ? 1 : 0)];
        world.AllReduce(longs, ReduceOp.Sum);
        if (longs[0] != (long)Tri(world.Size) || longs[1] != long.MaxValue / 8) throw new InvalidOperationException($"AllReduce of host longs gave {longs[0]}, {longs[1]}");
        Span<double> doubles = [0.5 * (world.Rank + 1)];
        world.AllReduce(doubles, ReduceOp.Average);
        if (Math.Abs(doubles[0] - 0.5 * Tri(world.Size) / world.Size) > 1e-15) throw new InvalidOperationException($"Average of host doubles gave {doubles[0]}");
        checks += 2;
        // Integers have no average: refused on every rank alike, before any communication.
        using (var ints = Tensor.Zeros([4], DType.Int32))
        {
            try
            {
                world.AllReduce(ints, ReduceOp.Average);
                throw new InvalidOperationException("AllReduce(Average) of int32 was accepted");
            }
            catch (ArgumentException)
            {
                checks++;
            }
        }
        world.Barrier();
        return $"{checks} checks";
    }

    /// <summary>Rank 1 fails at step 3 while the others go on into the next all-reduce, where nobody will join them.</summary>
    public static string Fail(MpiCommunicator world)
    {
        using var t = Tensor.Ones([1000]);
        for (int step = 0; step < 1000; step++)
        {
            if (world.Rank == 1 && step == 3) throw new InvalidOperationException($"injected failure at step {step}");
            world.AllReduce(t, ReduceOp.Average);
        }
        return "the failure was not injected";
    }

    /// <summary>In-place float32 sums of 1–64 MB CPU tensors: the median of 20 after 3 warm-ups, a barrier before each (as allreduce_bw.c).</summary>
    public static string Bandwidth(MpiCommunicator world)
    {
        const int warm = 3, reps = 20;
        for (int mb = 1; mb <= 64; mb *= 2)
        {
            using var t = Tensor.Ones([mb * 1024 * 1024 / 4]);
            var times = new List<double>();
            for (int r = 0; r < warm + reps; r++)
            {
                world.Barrier();
                long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                world.AllReduce(t, ReduceOp.Sum);
                if (r >= warm) times.Add(System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalSeconds);
            }
            times.Sort();
            double median = times[reps / 2];
            if (world.Rank == 0) Console.WriteLine($"GpuNet AllReduce {mb,2} MB  {median * 1e3,8:0.000} ms  {mb / median,7:0} MB/s");
        }
        return "bandwidth measured";
    }

    private static double Base(long i) => i % 97 + 1;

    private static double Tri(int n) => n * (n + 1) / 2.0;

    // Rank r holds (r + 1)·base(i): exact in every dtype, and different on every rank.
    private static Tensor Pattern(int n, int rank, DType dtype, Device device)
    {
        var values = new double[n];
        for (int i = 0; i < n; i++) values[i] = (rank + 1) * Base(i);
        using var d = Tensor.FromArray(values, null, Device.Cpu);
        using var typed = d.To(dtype);
        return typed.To(device).Clone();
    }

    private static double Expected(ReduceOp op, int size, long i) => op switch
    {
        ReduceOp.Sum => Tri(size) * Base(i),
        ReduceOp.Average => Tri(size) / size * Base(i),
        ReduceOp.Max => size * Base(i),
        _ => Base(i),
    };

    private static void Expect(Tensor t, Func<long, double> expected, string what)
    {
        using var d = t.To(Device.Cpu);
        using var asDouble = d.To(DType.Float64);
        var got = asDouble.ToArray<double>();
        if (got.Length != t.NumElements) throw new InvalidOperationException($"{what}: {got.Length} elements back, expected {t.NumElements}");
        for (int i = 0; i < got.Length; i++)
        {
            double want = expected(i);
            // Sums, maxima, minima and broadcasts of these small integers are exact; an average divides once (float32: 1 ulp).
            if (Math.Abs(got[i] - want) > 1e-6 * Math.Abs(want))
                throw new InvalidOperationException($"{what}: element {i} is {got[i]}, expected {want}");
        }
    }
}
