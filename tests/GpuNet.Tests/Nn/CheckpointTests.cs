using System.Diagnostics;
using System.Globalization;
using GpuNet.Nn;
using GpuNet.Tests.Cli;
using static GpuNet.Tests.Nn.NnTestUtil;

namespace GpuNet.Tests.Nn;

/// <summary>
/// Checkpoints survive crashes: the resume state is one atomically written file, leftovers of killed writers are
/// cleaned up, and a load that fails (a bad file, a wrong key) leaves the model and the optimizer as they were.
/// </summary>
public sealed class CheckpointTests(ITestOutputHelper output)
{
    private static Dictionary<string, float[]> Weights(string path)
    {
        using var scope = Tensor.NewScope();
        return Safetensors.Load(path, Cpu).ToDictionary(kv => kv.Key, kv => kv.Value.ToArray());
    }

    private static void AssertSameWeights(Dictionary<string, float[]> expected, Dictionary<string, float[]> actual, string what)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (k, v) in expected)
            Assert.True(v.SequenceEqual(actual[k]), $"{what}: '{k}' differs");
    }

    private static Dictionary<string, double[]> Snapshot(Module model, Optimizer opt)
    {
        using var scope = Tensor.NewScope();
        var all = model.StateDict().ToDictionary(kv => "model." + kv.Key, kv => kv.Value.To(DType.Float64).ToArray<double>());
        foreach (var (k, v) in opt.StateDict()) all["optimizer." + k] = v.To(DType.Float64).ToArray<double>();
        return all;
    }

    private static void AssertUnchanged(Dictionary<string, double[]> before, Dictionary<string, double[]> after)
    {
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        foreach (var (k, v) in before) Assert.True(v.SequenceEqual(after[k]), $"'{k}' changed by a failed load");
    }

    [Fact]
    public void AKillBetweenTheTwoRenames_StillResumes_BitForBit()
    {
        var dir = TempDir();
        using var data = SyntheticData.Spirals(40, 20, seed: 2, device: Cpu);
        var config = new TrainConfig { Epochs = 3, BatchSize = 16, Hidden = [16], Dropout = 0.1, Seed = 4 };
        var straight = ClassifierTraining.Run(data, config, Cpu);
        var path = Path.Combine(dir, "m.safetensors");
        byte[]? epochOneModel = null;
        Assert.Throws<Crash>(() => ClassifierTraining.Run(data, config with { Checkpoint = path }, Cpu, onEpoch: r =>
        {
            if (r.Epoch == 1) epochOneModel = File.ReadAllBytes(path);
            if (r.Epoch == 2) throw new Crash();
        }));
        // A kill between the two renames: the state file renamed for epoch 2, the model file still from epoch 1.
        File.WriteAllBytes(path, epochOneModel!);
        Assert.Equal("1", Safetensors.ReadMetadata(path)["epoch"]);
        var resumed = ClassifierTraining.Run(data, config with { Checkpoint = path, Resume = true }, Cpu);
        using (straight.Model)
        using (resumed.Model)
        {
            Assert.Equal(2, resumed.ResumedFromEpoch);
            foreach (var (p, q) in straight.Model.Parameters().Zip(resumed.Model.Parameters()))
                Assert.True(p.ToArray().SequenceEqual(q.ToArray()));
            Assert.Equal(straight.Epochs.Select(e => e.TrainLoss), resumed.Epochs.Select(e => e.TrainLoss));
        }
        Assert.Equal("3", Safetensors.ReadMetadata(path)["epoch"]);
        Directory.Delete(dir, true);
    }

    private sealed class Crash : Exception;

    [Fact]
    public void ABadStateFile_LeavesModelAndOptimizerUnchanged_AndNamesFileAndKey()
    {
        var dir = TempDir();
        using var data = SyntheticData.Spirals(20, 10, seed: 2, device: Cpu);
        var config = new TrainConfig { Epochs = 1, BatchSize = 8, Hidden = [8], Seed = 1 };
        var path = Path.Combine(dir, "m.safetensors");
        ClassifierTraining.Run(data, config with { Checkpoint = path }, Cpu).Model.Dispose();
        var statePath = ClassifierTraining.StatePath(path);
        var good = File.ReadAllBytes(statePath);

        // A trained model and optimizer (with Adam moments) that a failed load must not touch.
        var (model, opt, _) = ClassifierTraining.Build(config with { Seed = 9 }, 2, 3, Cpu);
        using (model)
        using (opt)
        {
            var trainer = new Trainer(model, new CrossEntropyLoss(), opt);
            trainer.TrainEpoch(new DataLoader(data.Train, 8), 0);
            var before = Snapshot(model, opt);

            void Rewrite(Action<Dictionary<string, Tensor>> change)
            {
                File.WriteAllBytes(statePath, good);
                using var scope = Tensor.NewScope();
                var meta = Safetensors.ReadMetadata(statePath).ToDictionary();
                var tensors = Safetensors.Load(statePath, Cpu);
                change(tensors);
                Safetensors.Save(statePath, tensors, meta);
            }

            void Fails(string key)
            {
                var history = new List<EpochResult>();
                var e = Assert.Throws<InvalidDataException>(() => ClassifierTraining.LoadCheckpoint(path, model, opt, history));
                Assert.Contains(statePath, e.Message);
                Assert.Contains(key, e.Message);
                Assert.Empty(history);
                AssertUnchanged(before, Snapshot(model, opt));
            }

            // optimizer.lr of shape [2]: once found only after the model was overwritten and Adam's moments dropped.
            Rewrite(t => t["optimizer.lr"] = Tensor.FromArray(new double[] { 1e-3, 1e-3 }, device: Cpu));
            Fails("'lr'");
            Rewrite(t => t["optimizer.state.0.exp_avg"] = Tensor.Zeros([3, 3], device: Cpu));
            Fails("'state.0.exp_avg'");
            Rewrite(t => t["optimizer.state.1.step"] = Tensor.Scalar(-1.0, DType.Float64, Cpu));
            Fails("'state.1.step'");
            Rewrite(t => Assert.True(t.Remove("model.2.bias")));
            Fails("'2.bias'");
            Rewrite(t => t["model.0.weight"] = Tensor.Zeros([8, 3], device: Cpu));
            Fails("'0.weight'");
            Rewrite(t => t["stray"] = Tensor.Zeros([1], device: Cpu));
            Fails("'stray'");

            // A good file still loads into the same objects afterwards.
            File.WriteAllBytes(statePath, good);
            Assert.Equal(1, ClassifierTraining.LoadCheckpoint(path, model, opt));
        }
        Directory.Delete(dir, true);
    }

    [Fact]
    public void OptimizerLoadStateDict_ValidatesEverythingBeforeClearingItsState()
    {
        using var scope = Tensor.NewScope();
        using var p = new Parameter(Tensor.FromArray(new double[] { 1, 2, 3 }, device: Cpu));
        using var adam = new Adam([p], lr: 0.1);
        (p.Data * p.Data).Sum().Backward();
        adam.Step();
        var moments = adam.StateDict()["state.0.exp_avg"].ToArray<double>();
        var bad = adam.StateDict().ToDictionary();
        bad["lr"] = Tensor.FromArray(new double[] { 1, 2 }, device: Cpu);
        var e = Assert.Throws<InvalidOperationException>(() => adam.LoadStateDict(bad));
        Assert.Contains("'lr' has shape [2]", e.Message);
        Assert.Equal(moments, adam.StateDict()["state.0.exp_avg"].ToArray<double>());
        Assert.Equal(0.1, adam.LearningRate);
        Assert.Equal(1, adam.StepCount);

        var path = Path.Combine(TempDir(), "adam.safetensors");
        Safetensors.Save(path, bad, new Dictionary<string, string> { ["optimizer"] = "Adam" });
        var fromFile = Assert.Throws<InvalidOperationException>(() => adam.Load(path));
        Assert.Contains(path, fromFile.Message);
        Assert.Contains("'lr'", fromFile.Message);
        Assert.Equal(moments, adam.StateDict()["state.0.exp_avg"].ToArray<double>());
    }

    [Fact]
    public void Save_RemovesTemporaryFilesOfDeadWriters_ButNotOfLiveOnes()
    {
        var dir = TempDir();
        var path = Path.Combine(dir, "m.safetensors");
        string Temp(int pid) => Path.Combine(dir, $".m.safetensors.{pid}.{Guid.NewGuid():N}.tmp");
        int deadPid = DeadPid();
        var dead = new[] { Temp(deadPid), Temp(deadPid) };
        var mine = Temp(Environment.ProcessId);        // another thread of this process may be writing it
        var live = Temp(LivePid());                    // so may another process that still runs
        var otherTarget = Path.Combine(dir, $".other.safetensors.{deadPid}.{Guid.NewGuid():N}.tmp");
        foreach (var f in dead.Append(mine).Append(live).Append(otherTarget)) File.WriteAllBytes(f, new byte[1000]);
        using (var scope = Tensor.NewScope())
            Safetensors.Save(path, new Dictionary<string, Tensor> { ["x"] = Tensor.Ones([4], device: Cpu) });
        foreach (var f in dead) Assert.False(File.Exists(f), $"{f} should have been removed");
        Assert.True(File.Exists(mine));
        Assert.True(File.Exists(live));
        Assert.True(File.Exists(otherTarget)); // only the target's own leftovers are touched
        Directory.Delete(dir, true);
    }

    private static int DeadPid()
    {
        using var p = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        p.WaitForExit();
        return p.Id;
    }

    private static int LivePid() => Environment.ProcessId == 1 ? Process.GetProcessesByName("dotnet").First(p => p.Id != 1).Id : 1;

    [Fact]
    public void Save_ErrorsNameThePathGiven_NotTheTemporaryFile()
    {
        using var scope = Tensor.NewScope();
        var tensors = new Dictionary<string, Tensor> { ["x"] = Tensor.Ones([4], device: Cpu) };
        var e = Assert.Throws<IOException>(() => Safetensors.Save("/proc/m.safetensors", tensors));
        Assert.StartsWith("/proc/m.safetensors: ", e.Message);
        Assert.DoesNotContain(".tmp", e.Message);
        var dir = TempDir();
        var asDir = Assert.Throws<IOException>(() => Safetensors.Save(dir, tensors));
        Assert.Contains("is a directory", asDir.Message);
        Assert.Empty(Directory.GetFiles(dir));
        Directory.Delete(dir, true);
    }

    /// <summary>
    /// kill -9 at random moments: gpunet train --out is killed 28 times, 21 of them while a checkpoint is being
    /// written (a random number of temporary files in, plus a random delay) and 7 at random moments, each time resumed with --resume, and the final model equals an uninterrupted run's
    /// bit for bit. After every kill the checkpoint on disk must load; at the end no temporary file is left.
    /// </summary>
    [Fact]
    public void KilledDuringSaves_EveryResumeSucceeds_AndContinuesBitForBit()
    {
        const int epochs = 60, kills = 28;
        var dir = TempDir();
        string[] common = ["train", "--data", "spirals", "--limit", "300", "--hidden", "512,512", "--epochs", epochs.ToString(CultureInfo.InvariantCulture),
            "--batch-size", "32", "--seed", "3", "--dropout", "0.1"];
        var config = new TrainConfig { Epochs = epochs, BatchSize = 32, Hidden = [512, 512], Dropout = 0.1, Seed = 3 };

        var reference = Path.Combine(dir, "ref", "m.safetensors");
        var straight = Gpunet.Run([.. common, "--out", reference]);
        Assert.True(straight.ExitCode == 0, straight.ToString());

        var work = Path.Combine(dir, "run");
        Directory.CreateDirectory(work);
        var path = Path.Combine(work, "m.safetensors");
        var statePath = ClassifierTraining.StatePath(path);
        var rng = new Random(12345);
        int lastEpoch = 0, killedWithTemp = 0, killedBetweenFiles = 0, done = 0, resumes = 0;
        var sw = Stopwatch.StartNew();
        for (int k = 0; k < kills && lastEpoch < epochs; k++)
        {
            bool resume = File.Exists(statePath);
            resumes += resume ? 1 : 0;
            using var cli = Gpunet.Start(resume ? [.. common, "--out", path, "--resume"] : [.. common, "--out", path]);
            var p = cli.Process;
            if (k % 4 == 3)
                Thread.Sleep(rng.Next(100, 400)); // anywhere: start-up, training, evaluation or a save
            else
            {
                // While a checkpoint is being written: after the n-th temporary file shows up, and a few microseconds more.
                int wanted = rng.Next(1, 4), seen = 0;
                string? last = null;
                var limit = Stopwatch.StartNew();
                while (seen < wanted && !p.HasExited && limit.Elapsed.TotalSeconds < 20)
                {
                    var temp = Directory.EnumerateFiles(work, "*.tmp").FirstOrDefault(f => f != last && !IsStale(f, p.Id));
                    if (temp is not null)
                    {
                        seen++;
                        last = temp;
                    }
                }
                var spin = Stopwatch.StartNew();
                long delayTicks = rng.Next(0, 500) * Stopwatch.Frequency / 1_000_000;
                while (spin.ElapsedTicks < delayTicks) { }
            }
            bool exited = p.HasExited;
            cli.Kill();
            if (exited)
            {
                var result = cli.Result();
                Assert.True(result.ExitCode == 0, $"gpunet exited by itself (resume {resume}): {result}");
                done++;
            }
            if (Directory.EnumerateFiles(work, $"*.{p.Id}.*.tmp").Any()) killedWithTemp++;
            else if (File.Exists(statePath) && File.Exists(path)
                && Safetensors.ReadMetadata(statePath)["epoch"] != Safetensors.ReadMetadata(path)["epoch"]) killedBetweenFiles++;

            // Every state a kill leaves must resume: load it into a fresh model and optimizer.
            if (!File.Exists(statePath)) continue;
            var (model, opt, _) = ClassifierTraining.Build(config, 2, 3, Cpu);
            using (model)
            using (opt)
            {
                var history = new List<EpochResult>();
                int epoch = ClassifierTraining.LoadCheckpoint(path, model, opt, history);
                Assert.True(epoch >= lastEpoch, $"kill {k}: the checkpoint went back from epoch {lastEpoch} to {epoch}");
                Assert.Equal(epoch, history.Count);
                lastEpoch = epoch;
            }
        }
        output.WriteLine($"{kills} runs in {sw.Elapsed.TotalSeconds:0.0} s: {resumes} resumed, {killedWithTemp} killed with a temporary file on disk, {killedBetweenFiles} between the state and the model file, {done} finished by themselves; checkpoint at epoch {lastEpoch}");
        Assert.True(killedWithTemp + killedBetweenFiles >= 3, $"only {killedWithTemp + killedBetweenFiles} kills landed inside a save");

        var finish = Gpunet.Run([.. common, "--out", path, "--resume"]);
        if (lastEpoch < epochs)
        {
            Assert.True(finish.ExitCode == 0, finish.ToString());
            Assert.Contains($"resuming from {path}", finish.Stdout);
            Assert.Equal(straight.Stdout.Split('\n').Last(l => l.StartsWith("test accuracy", StringComparison.Ordinal)),
                finish.Stdout.Split('\n').Last(l => l.StartsWith("test accuracy", StringComparison.Ordinal)));
        }
        else Assert.Contains($"already done {epochs} epochs", finish.Stderr); // and the model file is brought up to the state file
        AssertSameWeights(Weights(reference), Weights(path), "the model after the kills");
        Assert.Empty(Directory.GetFiles(work, "*.tmp"));
        Directory.Delete(dir, true);
    }

    // A temporary file of a writer that is not the running process (left by an earlier kill).
    private static bool IsStale(string file, int pid) => !Path.GetFileName(file).Contains($".{pid}.", StringComparison.Ordinal);
}
