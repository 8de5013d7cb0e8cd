using GpuNet.Nn;
using Xunit;
using static GpuNet.Tests.Nn.NnTestUtil;

namespace GpuNet.Tests.Nn;

public class TrainingTests(ITestOutputHelper output)
{
    [Fact]
    public void Save_then_Load_gives_identical_outputs()
    {
        var dir = TempDir();
        var path = Path.Combine(dir, "mlp.safetensors");
        using var a = new Mlp([6, 10, 3], Kernels.Activation.Tanh, seed: 1, device: Cpu);
        using var b = new Mlp([6, 10, 3], Kernels.Activation.Tanh, seed: 2, device: Cpu);
        a.Save(path, new Dictionary<string, string> { ["what"] = "test" });
        b.Load(path);
        using var scope = Tensor.NewScope();
        var x = Tensor.Randn([4, 6], seed: 3, device: Cpu);
        Assert.Equal(a.Forward(x).ToArray(), b.Forward(x).ToArray());
        Assert.Equal("test", Safetensors.ReadMetadata(path)["what"]);
        using var other = new Mlp([6, 10, 10, 3], seed: 1, device: Cpu);
        var e = Assert.Throws<InvalidOperationException>(() => other.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("missing keys: '4.weight', '4.bias'", e.Message);
        Directory.Delete(dir, true);
    }

    [Fact]
    public void Trainer_learns_the_spirals()
    {
        using var data = SyntheticData.Spirals(200, 100, seed: 1, device: Cpu);
        var config = new TrainConfig { Epochs = 20, BatchSize = 32, Hidden = [64, 64], LearningRate = 1e-2, Seed = 3 };
        var result = ClassifierTraining.Run(data, config, Cpu);
        using (result.Model)
        {
            output.WriteLine(string.Join("\n", result.Epochs.Select(r => $"{r.Epoch}: loss {r.TrainLoss:F4} test {r.TestAccuracy:F4}")));
            Assert.Equal(20, result.Epochs.Count);
            Assert.True(result.Epochs[^1].TrainLoss < result.Epochs[0].TrainLoss / 2);
            Assert.True(result.TestAccuracy >= 0.85, $"test accuracy {result.TestAccuracy}");
            var (_, acc) = Trainer.Evaluate(result.Model, data.Test);
            Assert.Equal(result.TestAccuracy, acc);
        }
    }

    private sealed class Crash : Exception;

    [Fact]
    public void Resume_continues_bit_for_bit()
    {
        var dir = TempDir();
        using var data = SyntheticData.Spirals(60, 30, seed: 2, device: Cpu);
        foreach (var optimizer in new[] { OptimizerKind.Adam, OptimizerKind.Sgd, OptimizerKind.RmsProp, OptimizerKind.AdamW })
        {
            var config = new TrainConfig { Epochs = 3, BatchSize = 16, Hidden = [16, 16], Dropout = 0.2, Optimizer = optimizer, Seed = 5 };
            var straight = ClassifierTraining.Run(data, config with { Checkpoint = Path.Combine(dir, "a.safetensors") }, Cpu);
            var path = Path.Combine(dir, $"b-{optimizer}.safetensors");
            // Crash after the first epoch's checkpoint…
            Assert.Throws<Crash>(() => ClassifierTraining.Run(data, config with { Checkpoint = path }, Cpu, onEpoch: r => { if (r.Epoch == 1) throw new Crash(); }));
            Assert.Equal("1", Safetensors.ReadMetadata(path)["epoch"]);
            // …and resume: the same weights, bit for bit, and the same history.
            var resumed = ClassifierTraining.Run(data, config with { Checkpoint = path, Resume = true }, Cpu);
            using (straight.Model)
            using (resumed.Model)
            {
                Assert.Equal(1, resumed.ResumedFromEpoch);
                foreach (var ((name, p), q) in straight.Model.NamedParameters().Zip(resumed.Model.Parameters()))
                    Assert.True(p.ToArray().SequenceEqual(q.ToArray()), $"{optimizer}: {name} differs after resuming");
                Assert.Equal(straight.Epochs.Select(e => e.TrainLoss), resumed.Epochs.Select(e => e.TrainLoss));
                Assert.Equal(straight.TestAccuracy, resumed.TestAccuracy);
            }
            var e = Assert.Throws<ArgumentException>(() => ClassifierTraining.Run(data, config with { Checkpoint = path, Resume = true }, Cpu));
            Assert.Contains("already done 3 epochs", e.Message);
        }
        Directory.Delete(dir, true);
    }

    [Fact]
    public void Resume_refuses_mismatched_checkpoints()
    {
        var dir = TempDir();
        using var data = SyntheticData.Spirals(20, 10, seed: 2, device: Cpu);
        var path = Path.Combine(dir, "m.safetensors");
        ClassifierTraining.Run(data, new TrainConfig { Epochs = 1, Hidden = [8], Checkpoint = path }, Cpu).Model.Dispose();
        Assert.Throws<InvalidDataException>(() => ClassifierTraining.Run(data, new TrainConfig { Epochs = 2, Hidden = [8], Checkpoint = path, Resume = true, Optimizer = OptimizerKind.Sgd }, Cpu));
        Assert.Contains("'0.weight'", Assert.Throws<InvalidDataException>(() => ClassifierTraining.Run(data, new TrainConfig { Epochs = 2, Hidden = [9], Checkpoint = path, Resume = true }, Cpu)).Message);
        File.Delete(ClassifierTraining.StatePath(path));
        Assert.Throws<FileNotFoundException>(() => ClassifierTraining.Run(data, new TrainConfig { Epochs = 2, Hidden = [8], Checkpoint = path, Resume = true }, Cpu));
        Directory.Delete(dir, true);
    }

    [Fact]
    public void Bad_configs_are_clear_errors()
    {
        Assert.Contains("optimizer", Assert.Throws<ArgumentException>(() => new TrainConfig { Optimizer = (OptimizerKind)99 }.Validate()).Message);
        Assert.Contains("dropout", Assert.Throws<ArgumentException>(() => new TrainConfig { Dropout = 1 }.Validate()).Message);
        Assert.Contains("--out", Assert.Throws<ArgumentException>(() => new TrainConfig { Resume = true }.Validate()).Message);
    }

    [FashionMnistFact]
    public void Trains_on_real_FashionMnist()
    {
        using var data = FashionMnist.Load(FashionMnist.Locate()!, Cpu, limit: 10_000);
        var config = new TrainConfig { Epochs = 3, BatchSize = 32, Hidden = [256], Seed = 1 };
        var result = ClassifierTraining.Run(data, config, Cpu, onEpoch: r => output.WriteLine($"epoch {r.Epoch}: loss {r.TrainLoss:F4} test acc {r.TestAccuracy:F4} {r.EpochSeconds:F1} s"));
        using (result.Model)
            Assert.True(result.TestAccuracy >= 0.80, $"test accuracy {result.TestAccuracy:F4} < 0.80");
    }
}

[Collection("Nn serial")]
public class MemoryTests
{
    [Fact]
    public void Training_loop_memory_is_flat_over_2000_steps()
    {
        var pool = Device.Cpu.Pool;
        // Tensors other tests dropped without disposing come back through finalizers: settle them first.
        Settle(pool);
        long before = pool.LiveBytes;
        {
            using var model = new Mlp([20, 32, 16, 4], dropout: 0.1, seed: 1, device: Cpu);
            using var opt = new Adam(model.Parameters(), lr: 1e-3);
            var lossFn = new CrossEntropyLoss();
            using var xs = Tensor.Randn([64, 20], seed: 2, device: Cpu);
            using var ys = Tensor.FromArray(Enumerable.Range(0, 64).Select(i => i % 4).ToArray(), null, Cpu);
            var loader = new DataLoader(new TensorDataset(xs, ys), batchSize: 16, shuffle: true, seed: 3);
            long warm = 0;
            int step = 0;
            while (step < 2000)
            {
                foreach (var (x, y) in loader)
                {
                    using var s = Tensor.NewScope();
                    var loss = lossFn.Forward(model.Forward(x), y);
                    opt.ZeroGrad();
                    loss.Backward();
                    opt.Step();
                    step++;
                    if (step == 100)
                    {
                        Settle(pool);
                        warm = pool.LiveBytes;
                    }
                    if (step > 100 && pool.LiveBytes != warm)
                        Assert.Fail($"step {step}: {pool.LiveBytes:N0} live bytes, {warm:N0} after warm-up");
                }
            }
        }
        // Model, optimizer state, gradients and data disposed: everything is back.
        Assert.Equal(before, pool.LiveBytes);
    }

    private static void Settle(Kernels.MemoryPool pool)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        pool.DrainFinalized();
    }

    [Fact]
    public void Evaluation_frees_everything()
    {
        var pool = Device.Cpu.Pool;
        using var model = new Mlp([5, 7, 3], seed: 1, device: Cpu);
        using var data = SyntheticData.Spirals(10, 10, seed: 1, device: Cpu);
        using var m2 = new Mlp([2, 8, 3], seed: 1, device: Cpu);
        Trainer.Evaluate(m2, data.Test, new CrossEntropyLoss());
        Settle(pool);
        long before = pool.LiveBytes;
        for (int i = 0; i < 20; i++) Trainer.Evaluate(m2, data.Test, new CrossEntropyLoss());
        Assert.Equal(before, pool.LiveBytes);
    }
}
