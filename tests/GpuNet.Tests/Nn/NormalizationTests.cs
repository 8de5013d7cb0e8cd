using GpuNet.Nn;
using Xunit;
using static GpuNet.Tests.Nn.NnTestUtil;

namespace GpuNet.Tests.Nn;

/// <summary>LayerNorm and BatchNorm1d against values computed by hand, their buffers, and Train/Eval.</summary>
public class NormalizationTests
{
    public static TheoryData<string, DType> DevicesAndDTypes()
    {
        var data = new TheoryData<string, DType>();
        foreach (var d in new[] { "cpu", "ilgpu-cpu" })
            foreach (var t in new[] { DType.Float32, DType.Float64 }) data.Add(d, t);
        return data;
    }

    private static Tensor On(double[] values, int[] shape, DType dtype, Device device)
    {
        using var t = Tensor.FromArray(values, shape, device);
        return t.To(dtype);
    }

    [Theory]
    [MemberData(nameof(DevicesAndDTypes))]
    public void LayerNorm_by_hand(string deviceName, DType dtype)
    {
        using var scope = Tensor.NewScope();
        var device = Device.Get(deviceName);
        double tol = dtype == DType.Float32 ? 1e-5 : 1e-12;
        // Row [1, 2, 3, 4]: mean 2.5, biased variance (2.25 + 0.25 + 0.25 + 2.25)/4 = 1.25.
        // Row [2, 2, 2, 6]: mean 3, variance (1 + 1 + 1 + 9)/4 = 3.
        var x = On([1, 2, 3, 4, 2, 2, 2, 6], [2, 4], dtype, device);
        double r0 = 1 / Math.Sqrt(1.25 + 1e-5), r1 = 1 / Math.Sqrt(3 + 1e-5);
        double[] expected = [-1.5 * r0, -0.5 * r0, 0.5 * r0, 1.5 * r0, -r1, -r1, -r1, 3 * r1];
        using var ln = new LayerNorm(4, dtype: dtype, device: device);
        Near(expected, D(ln.Forward(x)), tol);
        // Weight and bias apply per feature: y·w + b.
        using (Autograd.NoGrad())
        {
            ln.Weight!.Data.CopyFrom(On([1, 2, -1, 0.5], [4], dtype, device));
            ln.Bias!.Data.CopyFrom(On([0, 1, 0, -1], [4], dtype, device));
        }
        double[] w = [1, 2, -1, 0.5], b = [0, 1, 0, -1];
        Near(expected.Select((v, i) => v * w[i % 4] + b[i % 4]).ToArray(), D(ln.Forward(x)), tol);
        // Over two trailing dims: the same two rows as [2, 2, 2].
        using var ln2 = new LayerNorm([2, 2], elementwiseAffine: false, dtype: dtype, device: device);
        Near(expected, D(ln2.Forward(x.Reshape(2, 2, 2))), tol);
        // A non-contiguous input: the transpose of the same values, normalized over its rows.
        var xt = On([1, 2, 2, 2, 3, 2, 4, 6], [4, 2], dtype, device).T;
        Near(expected, D(new LayerNorm(4, elementwiseAffine: false, dtype: dtype, device: device).Forward(xt)), tol);
        Assert.Empty(ln2.Parameters());
        Assert.Equal(["weight", "bias"], ln.StateDict().Keys);
        Assert.Contains("input [2,3] must end in the normalized shape [4]", Assert.Throws<ArgumentException>(() => ln.Forward(On([1, 2, 3, 4, 5, 6], [2, 3], dtype, device))).Message);
    }

    [Theory]
    [MemberData(nameof(DevicesAndDTypes))]
    public void BatchNorm1d_training_uses_the_batch_and_updates_running_statistics_as_PyTorch(string deviceName, DType dtype)
    {
        using var scope = Tensor.NewScope();
        var device = Device.Get(deviceName);
        double tol = dtype == DType.Float32 ? 1e-5 : 1e-12;
        // Column 0 = [1, 2, 3, 4]: mean 2.5, biased var 1.25, unbiased 5/3.
        // Column 1 = [0, 0, 4, 4]: mean 2, biased var 4, unbiased 16/3.
        var x = On([1, 0, 2, 0, 3, 4, 4, 4], [4, 2], dtype, device);
        using var bn = new BatchNorm1d(2, dtype: dtype, device: device);
        double r0 = 1 / Math.Sqrt(1.25 + 1e-5), r1 = 1 / Math.Sqrt(4 + 1e-5);
        Near([-1.5 * r0, -2 * r1, -0.5 * r0, -2 * r1, 0.5 * r0, 2 * r1, 1.5 * r0, 2 * r1], D(bn.Forward(x)), tol);
        // running ← 0.9·running + 0.1·batch (mean from 0, variance from 1, unbiased)
        Near([0.25, 0.2], D(bn.RunningMean!), tol);
        Near([0.9 + 0.1 * 5 / 3.0, 0.9 + 0.1 * 16 / 3.0], D(bn.RunningVar!), tol);
        Assert.Equal(1, bn.NumBatchesTracked!.Item<int>());
        bn.Forward(x);
        Near([0.25 * 0.9 + 0.25, 0.2 * 0.9 + 0.2], D(bn.RunningMean!), tol);
        Assert.Equal(2, bn.NumBatchesTracked!.Item<int>());

        // Evaluation: (x − running_mean)/√(running_var + ε), and nothing updates.
        bn.Eval();
        double[] rm = D(bn.RunningMean!), rv = D(bn.RunningVar!);
        var y = D(bn.Forward(x));
        double[] xs = [1, 0, 2, 0, 3, 4, 4, 4];
        Near(xs.Select((v, i) => (v - rm[i % 2]) / Math.Sqrt(rv[i % 2] + 1e-5)).ToArray(), y, tol);
        Near(rm, D(bn.RunningMean!), 0);
        Assert.Equal(2, bn.NumBatchesTracked!.Item<int>());
    }

    [Fact]
    public void BatchNorm1d_over_N_C_L_momentum_null_and_no_tracking()
    {
        using var scope = Tensor.NewScope();
        // [N=2, C=2, L=2]; channel 0 holds {1, 3, 5, 7} (mean 4, var 5), channel 1 holds {0, 0, 0, 8} (mean 2, var 12).
        var x = F64([1, 3, 0, 0, 5, 7, 0, 8], 2, 2, 2);
        using var bn = new BatchNorm1d(2, momentum: null, dtype: DType.Float64, device: Cpu);
        double r0 = 1 / Math.Sqrt(5 + 1e-5), r1 = 1 / Math.Sqrt(12 + 1e-5);
        var y = bn.Forward(x);
        Assert.Equal([2, 2, 2], y.Shape);
        Near([-3 * r0, -r0, -2 * r1, -2 * r1, r0, 3 * r0, -2 * r1, 6 * r1], D(y), 1e-12);
        // momentum null: the cumulative average, so after one batch the running values are the batch's (unbiased: ×4/3).
        Near([4, 2], D(bn.RunningMean!), 1e-12);
        Near([5 * 4 / 3.0, 12 * 4 / 3.0], D(bn.RunningVar!), 1e-12);
        bn.Forward(F64([0, 0, 0, 0, 0, 0, 0, 4], 2, 2, 2)); // channel means 0 and 1
        Near([2, 1.5], D(bn.RunningMean!), 1e-12);

        // Without running statistics: batch statistics in evaluation too, and no buffers.
        using var plain = new BatchNorm1d(2, affine: false, trackRunningStats: false, dtype: DType.Float64, device: Cpu);
        plain.Eval();
        Near(D(y), D(plain.Forward(x)), 1e-12);
        Assert.Empty(plain.Buffers());
        Assert.Empty(plain.Parameters());
        Assert.Null(plain.RunningMean);

        Assert.Contains("more than one value per channel", Assert.Throws<ArgumentException>(() => bn.Forward(F64([1, 2], 1, 2))).Message);
        Assert.Contains("BatchNorm1d(2): input must be [batch, 2]", Assert.Throws<ArgumentException>(() => bn.Forward(F64([1, 2, 3], 1, 3))).Message);
    }

    [Fact]
    public void Train_and_Eval_switch_every_descendant_and_Dropout_and_BatchNorm_follow()
    {
        using var scope = Tensor.NewScope();
        using var model = new Sequential(new Linear(3, 4, seed: 1, dtype: DType.Float64, device: Cpu), new BatchNorm1d(4, dtype: DType.Float64, device: Cpu), new ReLU(), new Dropout(0.5, seed: 2));
        var x = Tensor.Randn([8, 3], seed: 3, dtype: DType.Float64, device: Cpu);
        Assert.All(model.Modules(), m => Assert.True(m.IsTraining));
        var trainOut = D(model.Forward(x));
        model.Eval();
        Assert.All(model.Modules(), m => Assert.False(m.IsTraining));
        var evalA = D(model.Forward(x));
        var evalB = D(model.Forward(x));
        Assert.Equal(evalA, evalB); // no dropout, running statistics: deterministic
        Assert.NotEqual(trainOut, evalA);
        model.Train();
        Assert.All(model.Modules(), m => Assert.True(m.IsTraining));
    }

    [Fact]
    public void Buffers_are_saved_and_loaded_with_the_weights_under_PyTorchs_names_and_never_trained()
    {
        using var scope = Tensor.NewScope();
        string dir = TempDir();
        using var model = new Sequential(new Linear(3, 2, seed: 1, device: Cpu), new BatchNorm1d(2, device: Cpu));
        var bn = (BatchNorm1d)model[1];
        Assert.Equal(["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked"], model.StateDict().Keys);
        Assert.Equal(["1.running_mean", "1.running_var", "1.num_batches_tracked"], model.NamedBuffers().Select(b => b.Name));
        Assert.Equal(4, model.Parameters().Count());
        Assert.All(model.Buffers(), b => Assert.False(b.RequiresGrad));
        Assert.Equal(DType.Int32, bn.NumBatchesTracked!.DType);
        Assert.Empty(bn.NumBatchesTracked.Shape);

        // A training step: buffers change, get no gradient, and an optimizer never sees them.
        using var opt = new SGD(model.Parameters(), lr: 0.1);
        var x = Tensor.Randn([6, 3], seed: 4, device: Cpu);
        var loss = model.Forward(x).Sum();
        loss.Backward();
        opt.Step();
        Assert.All(model.Buffers(), b => Assert.Null(b.Grad));
        var mean = bn.RunningMean!.ToArray();
        Assert.Contains(mean, v => v != 0);

        string path = Path.Combine(dir, "bn.safetensors");
        model.Save(path);
        using var copy = new Sequential(new Linear(3, 2, seed: 9, device: Cpu), new BatchNorm1d(2, device: Cpu));
        copy.Load(path);
        var bn2 = (BatchNorm1d)copy[1];
        Assert.Equal(mean, bn2.RunningMean!.ToArray());
        Assert.Equal(bn.RunningVar!.ToArray(), bn2.RunningVar!.ToArray());
        Assert.Equal(1, bn2.NumBatchesTracked!.Item<int>());
        copy.Eval();
        model.Eval();
        Assert.Equal(model.Forward(x).ToArray(), copy.Forward(x).ToArray());

        // A checkpoint without the buffers is refused when strict, naming them.
        var onlyParams = model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.Data);
        var e = Assert.Throws<InvalidOperationException>(() => copy.LoadStateDict(onlyParams));
        Assert.Contains("'1.running_mean'", e.Message);
        Assert.Equal(3, copy.LoadStateDict(onlyParams, strict: false).MissingKeys.Count);
    }

    [Fact]
    public void To_moves_buffers_with_the_parameters()
    {
        using var scope = Tensor.NewScope();
        using var bn = new BatchNorm1d(3, device: Cpu);
        bn.Forward(Tensor.Randn([5, 3], seed: 5, device: Cpu));
        var mean = bn.RunningMean!.ToArray();
        var gpu = Device.Get("ilgpu-cpu");
        bn.To(gpu);
        Assert.All(bn.Buffers(), b => Assert.Equal(gpu, b.Device));
        Assert.Equal(mean, bn.RunningMean!.ToArray());
        bn.Forward(Tensor.Randn([5, 3], seed: 6, device: gpu));
        Assert.Equal(2, bn.NumBatchesTracked!.Item<int>());
    }
}

/// <summary>Memory of a training loop through the normalization layers (alone: it reads the CPU pool).</summary>
[Collection("Nn serial")]
public class NormalizationMemoryTests
{
    [Fact]
    public void A_training_loop_with_normalization_keeps_memory_flat()
    {
        using var model = new Sequential(new Linear(8, 16, seed: 1, device: Cpu), new LayerNorm(16, device: Cpu), new ReLU(), new Linear(16, 4, seed: 2, device: Cpu), new BatchNorm1d(4, device: Cpu));
        using var opt = new SGD(model.Parameters(), lr: 0.01);
        long? live = null;
        for (int step = 0; step < 6; step++)
        {
            using (Tensor.NewScope())
            {
                var x = Tensor.Randn([10, 8], seed: step, device: Cpu);
                var loss = model.Forward(x).Sum();
                model.ZeroGrad();
                loss.Backward();
                opt.Step();
            }
            if (step == 2) live = Cpu.Pool.LiveBytes;
            if (step == 5) Assert.Equal(live, Cpu.Pool.LiveBytes);
        }
    }
}
