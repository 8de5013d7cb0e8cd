using System.Diagnostics;
using System.Reflection;
using GpuNet.Nn;
using GpuNet.Tests.Cli;

namespace GpuNet.Tests.Distributed;

[CollectionDefinition("MPI", DisableParallelization = true)]
public sealed class MpiCollection;

/// <summary>
/// Runs of several processes under Open MPI's mpirun: the worker (tests/GpuNet.MpiWorker) for the communicator itself,
/// and the real gpunet for data-parallel training. Each run is bounded by a timeout; without mpirun the tests are skipped
/// (.ci/run installs Open MPI, so CI runs them).
/// </summary>
[Collection("MPI")]
public sealed class MpiTests
{
    private const int TimeoutSeconds = 120;

    private static readonly string? s_mpirun = FindMpirun();

    private static string? FindMpirun() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "mpirun")).FirstOrDefault(File.Exists);

    private static string Mpirun()
    {
        Assert.SkipWhen(s_mpirun is null, "mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev; .ci/run installs it)");
        return s_mpirun!;
    }

    private static string WorkerDll()
    {
        var built = typeof(MpiTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "GpuNetMpiWorker")?.Value;
        Assert.True(built is not null && File.Exists(built), $"the MPI worker is not built at {built}; build tests/GpuNet.MpiWorker");
        return built!;
    }

    private static readonly string[] s_mpiFlags = ["--oversubscribe", "--allow-run-as-root", "--bind-to", "none"];

    /// <summary>Runs a whole mpirun command line (everything after "mpirun"), failing the test when it outlives the timeout.</summary>
    private static (CliResult Result, double Seconds) RunMpi(IEnumerable<string> arguments)
    {
        var sw = Stopwatch.StartNew();
        using var p = Gpunet.Start([.. s_mpiFlags, .. arguments], prefix: [Mpirun()], runGpunet: false);
        if (!p.Process.WaitForExit(TimeoutSeconds * 1000))
        {
            p.Kill();
            Assert.Fail($"mpirun {string.Join(" ", arguments)} did not finish in {TimeoutSeconds} s (a hang).\n{p.Result()}");
        }
        return (p.Result(), sw.Elapsed.TotalSeconds);
    }

    private static string[] Train(string outFile, int epochs, params string[] more) => TrainOn("spirals", outFile, epochs, more);

    private static string[] TrainOn(string data, string outFile, int epochs, params string[] more) =>
        ["train", "--data", data, "--limit", "6400", "--hidden", "64,64", "--device", "cpu", "--batch-size", "128", "--epochs", epochs.ToString(),
         "--out", outFile, .. more];

    private static string TempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "gpunet-mpi-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    // Largest |a − b| over every tensor of two checkpoints with the same keys and shapes.
    private static double MaxDifference(string a, string b)
    {
        using var scope = Tensor.NewScope();
        var x = Safetensors.Load(a, Device.Cpu);
        var y = Safetensors.Load(b, Device.Cpu);
        Assert.Equal(x.Keys.Order(), y.Keys.Order());
        double max = 0;
        foreach (var (k, t) in x)
        {
            Assert.Equal(t.Shape, y[k].Shape);
            var u = t.ToArray();
            var v = y[k].ToArray();
            for (int i = 0; i < u.Length; i++) max = Math.Max(max, Math.Abs(u[i] - v[i]));
        }
        return max;
    }

    private static string Line(string stdout, string prefix) =>
        stdout.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Contains(prefix, StringComparison.Ordinal)) ?? "";

    /// <summary>
    /// Float32 round-off bound for two runs that differ only in how each gradient is summed: one process adds the
    /// batch's 128 per-sample terms in one pass, two processes add two halves (each weighted by its share) and
    /// MPI adds the halves. Each step's gradients then differ by a few ulps (~1e-7 relative), and over 50–100 Adam steps
    /// of lr 1e-3 the parameters stay within ~1e-7 of each other (6e-8 measured). The bound is 100× that, yet 100×
    /// below one Adam step (≈ lr = 1e-3): a wrong shard, a gradient counted twice or left out, or a step taken on
    /// different gradients moves some parameter by about lr and fails the test.
    /// </summary>
    private const double Tolerance = 1e-5;

    [Fact]
    public void AllReduce_and_broadcast_cover_every_dtype_and_odd_sizes_on_three_processes()
    {
        var (r, _) = RunMpi(["-np", "3", "dotnet", WorkerDll(), "allreduce"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        var ok = r.Stdout.Split('\n').Where(l => l.Contains(": ok ", StringComparison.Ordinal)).ToList();
        Assert.True(ok.Count == 3, $"expected an ok line from each of 3 ranks: {r}");
        foreach (int rank in new[] { 0, 1, 2 }) Assert.Contains(ok, l => l.Contains($"rank {rank}/3: ok 116 checks", StringComparison.Ordinal));
    }

    [Fact]
    public void A_failing_rank_ends_every_rank_with_its_error_instead_of_a_hang()
    {
        var (r, seconds) = RunMpi(["-np", "2", "dotnet", WorkerDll(), "fail"]);
        Assert.True(r.ExitCode != 0, $"the job should fail: {r}");
        Assert.Contains("rank 1/2: error: injected failure at step 3", r.Stdout + r.Stderr);
        Assert.DoesNotContain(": ok ", r.Stdout);
        Assert.True(seconds < 60, $"took {seconds:0.0} s: rank 0 should be ended at once, not after a timeout");
    }

    [Fact]
    public void Gpunet_train_fails_on_every_rank_with_the_failing_ranks_error()
    {
        // MPMD launch: rank 1 gets a data directory that does not exist, rank 0 a good command that would wait for it forever.
        var dir = TempDir();
        string dll = Gpunet.Dll;
        var (r, seconds) = RunMpi(["-np", "1", "dotnet", dll, .. Train(Path.Combine(dir, "a.safetensors"), 1), ":",
            "-np", "1", "dotnet", dll, .. TrainOn("/nonexistent-gpunet-data", Path.Combine(dir, "b.safetensors"), 1)]);
        Assert.True(r.ExitCode != 0, $"the job should fail: {r}");
        Assert.Contains("rank 1/2: error: --data /nonexistent-gpunet-data: no such directory", r.Stderr);
        Assert.DoesNotContain("test accuracy", r.Stdout);
        Assert.True(seconds < 60, $"took {seconds:0.0} s: rank 0 should be ended at once");
    }

    [Fact]
    public void Two_processes_with_global_batch_128_match_one_process_after_50_steps_and_resume()
    {
        // 6,399 spirals samples in batches of 128: 50 steps per epoch, the last one of 127 samples (shards of 63 and 64).
        var dir = TempDir();
        string one = Path.Combine(dir, "one.safetensors"), two = Path.Combine(dir, "two.safetensors");
        var single = Gpunet.Run(Train(one, 1), timeoutSeconds: TimeoutSeconds);
        Assert.True(single.ExitCode == 0, single.ToString());
        Assert.DoesNotContain("data parallel", single.Stdout); // without mpirun nothing changes
        var (mpi, _) = RunMpi(["-np", "2", "dotnet", Gpunet.Dll, .. Train(two, 1)]);
        Assert.True(mpi.ExitCode == 0, mpi.ToString());
        Assert.Contains("data parallel: 2 processes over MPI (Open MPI", mpi.Stdout);
        Assert.Single(mpi.Stdout.Split('\n'), l => l.Contains("test accuracy", StringComparison.Ordinal)); // rank 0 alone prints
        double diff = MaxDifference(one, two);
        Assert.True(diff <= Tolerance, $"parameters after 50 steps differ by {diff:G3} > {Tolerance:G3}\n--- one process ---\n{single}\n--- two ---\n{mpi}");
        Assert.Equal(Line(single.Stdout, "test accuracy"), Line(mpi.Stdout, "test accuracy"));

        // Resume under mpirun: epoch 2 from the 2-process checkpoint matches one process trained for 2 epochs straight.
        string straight = Path.Combine(dir, "straight.safetensors");
        var twoEpochs = Gpunet.Run(Train(straight, 2), timeoutSeconds: TimeoutSeconds);
        Assert.True(twoEpochs.ExitCode == 0, twoEpochs.ToString());
        var (resumed, _) = RunMpi(["-np", "2", "dotnet", Gpunet.Dll, .. Train(two, 2, "--resume")]);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains("resuming from", resumed.Stdout);
        Assert.Contains("epoch 2/2", resumed.Stdout);
        diff = MaxDifference(straight, two);
        Assert.True(diff <= Tolerance, $"parameters after a resumed second epoch differ by {diff:G3} > {Tolerance:G3}\n{resumed}");
        Assert.Equal(Line(twoEpochs.Stdout, "test accuracy"), Line(resumed.Stdout, "test accuracy"));
    }
}
