using GpuNet.Nn;

namespace GpuNet.Tests.Readme;

/// <summary>The README's normalization snippet, verbatim, so it keeps compiling and telling the truth.</summary>
public sealed class ReadmeNormalizationTests
{
    [Fact]
    public void ReadmeNormalization_BatchNormAndLayerNorm_LearnSpirals_AndSaveTheirBuffers()
    {
        string path = Path.Combine(Path.GetTempPath(), $"gpunet-readme-norm-{Guid.NewGuid():N}.safetensors");
        try
        {
            // --- README: normalization ---
            using var data = SyntheticData.Spirals(trainPerClass: 200, testPerClass: 100, seed: 0);
            using var model = new Sequential(
                new Linear(2, 64, seed: 0), new BatchNorm1d(64), new ReLU(),
                new Linear(64, 64, seed: 1), new LayerNorm(64), new ReLU(),
                new Linear(64, 3, seed: 2));
            var lossFn = new CrossEntropyLoss(labelSmoothing: 0.05);
            var opt = new Adam(model.Parameters(), lr: 1e-2);   // buffers are not parameters: never trained
            var loader = new DataLoader(data.Train, batchSize: 64, shuffle: true, seed: 0);

            model.Train();                                      // BatchNorm: batch statistics, running ones updated
            for (int epoch = 0; epoch < 40; epoch++)
                foreach (var (xb, yb) in loader.Batches(epoch))
                {
                    using var step = Tensor.NewScope();
                    var loss = lossFn.Forward(model.Forward(xb), yb);
                    opt.ZeroGrad();
                    loss.Backward();
                    opt.Step();
                }

            model.Eval();                                       // BatchNorm: running statistics; Dropout: identity
            double accuracy;
            using (Autograd.NoGrad())
            using (Tensor.NewScope())
                accuracy = Metrics.Accuracy(model.Forward(data.Test.Features), data.Test.Labels);
            model.Save(path);   // 0.weight, 0.bias, 1.weight, 1.bias, 1.running_mean, 1.running_var, 1.num_batches_tracked, …
            // --- end ---

            Assert.True(accuracy > 0.9, $"accuracy {accuracy}");
            var keys = model.StateDict().Keys.ToList();
            Assert.Equal(["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked",
                "3.weight", "3.bias", "4.weight", "4.bias", "6.weight", "6.bias"], keys);
            var bn = (BatchNorm1d)model[1];
            Assert.Equal(40 * loader.BatchCount, bn.NumBatchesTracked!.Item<int>());
        }
        finally
        {
            File.Delete(path);
        }
    }
}
