using GpuNet.Nn;
using Xunit;
using static GpuNet.Tests.Nn.NnTestUtil;

namespace GpuNet.Tests.Nn;

/// <summary>Checkpoint keys are PyTorch nn.Sequential's; files with the older layers.-prefixed keys still load; LoadModel rebuilds a model from its file.</summary>
public class CheckpointKeyTests
{
    [Fact]
    public void Mlp_keys_are_those_of_nn_Sequential()
    {
        // nn.Sequential(Linear(5,7), ReLU(), Linear(7,4), ReLU(), Linear(4,3)) numbers its children 0–4; only 0, 2 and 4 have
        // parameters. With dropout, Sequential(Linear, ReLU, Dropout, Linear, ...) puts the Linears at 0, 3, 6.
        using var mlp = new Mlp([5, 7, 4, 3], seed: 1, device: Cpu);
        Assert.Equal(["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"], mlp.StateDict().Keys);
        Assert.Equal([7, 5], mlp.StateDict()["0.weight"].Shape); // [out, in], as torch.nn.Linear stores it
        using var dropped = new Mlp([5, 7, 3], dropout: 0.5, seed: 1, device: Cpu);
        Assert.Equal(["0.weight", "0.bias", "3.weight", "3.bias"], dropped.StateDict().Keys);
        Assert.Same(mlp.Layers[2], mlp.NamedChildren().Single(c => c.Name == "2").Module);
    }

    [Fact]
    public void Files_with_layers_prefixed_keys_still_load()
    {
        var dir = TempDir();
        var path = Path.Combine(dir, "old.safetensors");
        using var a = new Mlp([4, 6, 3], seed: 1, device: Cpu);
        Safetensors.Save(path, a.StateDict().ToDictionary(kv => "layers." + kv.Key, kv => kv.Value));
        Assert.All(Safetensors.Describe(path), t => Assert.StartsWith("layers.", t.Name));
        using var b = new Mlp([4, 6, 3], seed: 2, device: Cpu);
        b.Load(path);
        foreach (var (pa, pb) in a.Parameters().Zip(b.Parameters())) Assert.Equal(pa.ToArray(), pb.ToArray());
        // A mix of old and new names is not guessed at: the error names the keys.
        var mixed = a.StateDict().ToDictionary(kv => kv.Key == "0.bias" ? "layers.0.bias" : kv.Key, kv => kv.Value);
        Assert.Contains("'layers.0.bias'", Assert.Throws<InvalidOperationException>(() => b.LoadStateDict(mixed)).Message);
        Directory.Delete(dir, true);
    }

    [Fact]
    public void A_training_checkpoint_with_old_keys_resumes()
    {
        var dir = TempDir();
        var path = Path.Combine(dir, "m.safetensors");
        using var data = SyntheticData.Spirals(20, 10, seed: 2, device: Cpu);
        var config = new TrainConfig { Epochs = 2, Hidden = [8], Checkpoint = path };
        using (var straight = ClassifierTraining.Run(data, config, Cpu).Model)
        {
            var want = straight.StateDict().ToDictionary(kv => kv.Key, kv => D(kv.Value));
            Assert.Throws<OperationCanceledException>(() => ClassifierTraining.Run(data, config, Cpu, onEpoch: _ => throw new OperationCanceledException()));
            // Rewrite both files as an older gpunet wrote them: model.layers.0.weight in the state file, layers.0.weight in the model file.
            foreach (var (file, prefix) in new[] { (ClassifierTraining.StatePath(path), "model."), (path, "") })
            {
                var meta = Safetensors.ReadMetadata(file);
                using var scope = Tensor.NewScope();
                var tensors = Safetensors.Load(file, Cpu);
                Safetensors.Save(file, tensors.ToDictionary(kv => kv.Key.StartsWith(prefix + "0", StringComparison.Ordinal) || kv.Key.StartsWith(prefix + "2", StringComparison.Ordinal)
                    ? prefix + "layers." + kv.Key[prefix.Length..] : kv.Key, kv => kv.Value), meta);
            }
            Assert.Contains("model.layers.0.weight", Safetensors.Describe(ClassifierTraining.StatePath(path)).Select(t => t.Name));
            using var old = ClassifierTraining.LoadModel(path, Cpu);
            using var resumed = ClassifierTraining.Run(data, config with { Resume = true }, Cpu).Model;
            foreach (var (k, v) in resumed.StateDict()) Assert.Equal(want[k], D(v));
        }
        Directory.Delete(dir, true);
    }

    [Fact]
    public void LoadModel_rebuilds_the_trained_model_in_eval_mode()
    {
        var dir = TempDir();
        var path = Path.Combine(dir, "m.safetensors");
        using var data = SyntheticData.Spirals(20, 10, seed: 2, device: Cpu);
        using var trained = ClassifierTraining.Run(data, new TrainConfig { Epochs = 1, Hidden = [8, 5], Dropout = 0.3, Activation = Kernels.Activation.Tanh, Checkpoint = path }, Cpu).Model;
        using var loaded = ClassifierTraining.LoadModel(path, Cpu);
        Assert.Equal([2, 8, 5, 3], loaded.Sizes);
        Assert.Equal(Kernels.Activation.Tanh, loaded.Activation);
        Assert.False(loaded.IsTraining);
        Assert.All(loaded.Modules(), m => Assert.False(m.IsTraining));
        trained.Eval();
        using var scope = Tensor.NewScope();
        Assert.Equal(trained.Forward(data.Test.Features).ToArray<float>(), loaded.Forward(data.Test.Features).ToArray<float>());

        var bare = Path.Combine(dir, "bare.safetensors");
        trained.Save(bare);
        Assert.Contains("'sizes'", Assert.Throws<InvalidDataException>(() => ClassifierTraining.LoadModel(bare, Cpu)).Message);
        var lying = Path.Combine(dir, "lying.safetensors");
        trained.Save(lying, new Dictionary<string, string> { ["sizes"] = "2,9,3" });
        var e = Assert.Throws<InvalidDataException>(() => ClassifierTraining.LoadModel(lying, Cpu));
        Assert.Contains(lying, e.Message);
        Assert.Contains("'0.weight'", e.Message);
        Directory.Delete(dir, true);
    }
}
