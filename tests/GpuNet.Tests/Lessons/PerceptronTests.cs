using GpuNet.Lessons.Neurons;
using GpuNet.Nn;
using GpuNet.Lessons;

namespace GpuNet.Tests.Lessons;

public class PerceptronTests
{
    [Fact]
    public void Converges_on_the_notes_gaussians_within_the_bound()
    {
        var r = PerceptronLesson.Run();
        Assert.Equal(200, r.Points.Length);
        Assert.True(r.Converged);
        Assert.Equal(0, r.TrainingMistakes);
        Assert.Equal(0, r.Epochs[^1].Changes);
        Assert.Equal(r.Updates, r.Epochs.Sum(e => e.Changes));
        Assert.True(r.GammaFinal > 0 && r.GammaSearch >= r.GammaFinal, $"gamma final {r.GammaFinal}, searched {r.GammaSearch}");
        Assert.True(r.Updates <= r.BoundSearch, $"{r.Updates} updates > bound {r.BoundSearch}");
        Assert.True(r.Updates <= r.BoundFinal);
        // The searched direction really has the margin it claims.
        using var data = LessonData.TwoGaussians(new PerceptronLessonOptions().Seed);
        Assert.Equal(r.GammaSearch, PerceptronLesson.Margin(data.X, data.Y, r.MaxMarginDirection), 4);
        double norm = Math.Sqrt(r.MaxMarginDirection.Sum(v => v * v));
        Assert.Equal(1, norm, 6);
    }

    [Fact]
    public void Data_is_the_notes_layout()
    {
        using var d = LessonData.TwoGaussians(3, perClass: 5);
        Assert.Equal([10, 3], d.X.Shape);
        Assert.Equal([1, -1, 1, -1, 1, -1, 1, -1, 1, -1], d.Labels());
        var x = d.X.ToArray();
        for (int i = 0; i < 10; i++) Assert.Equal(1f, x[i * 3 + 2]);
        using var d1 = Tensor.Randn([5, 2], 3);
        Assert.Equal(d1.ToArray()[0..2], x[0..2]);   // row 0 is D1[0]
    }

    [Fact]
    public void Fit_is_exactly_the_sequential_rule()
    {
        using var data = LessonData.TwoGaussians(7, perClass: 30);
        using var p = new Perceptron(3);
        var trace = p.Fit(data.X, data.Y, 6, earlyStop: false);

        // The rule as the notes write it, one point at a time, in plain C# (float, like the tensors).
        var x = data.X.ToArray();
        var y = data.Y.ToArray();
        var w = new float[3];
        var changesPerEpoch = new List<int>();
        for (int e = 0; e < 6; e++)
        {
            int changes = 0;
            for (int i = 0; i < 60; i++)
            {
                float dot = x[i * 3] * w[0] + x[i * 3 + 1] * w[1] + x[i * 3 + 2] * w[2];
                if (y[i] * dot <= 0)
                {
                    for (int k = 0; k < 3; k++) w[k] += y[i] * x[i * 3 + k];
                    changes++;
                }
            }
            changesPerEpoch.Add(changes);
        }
        Assert.Equal(changesPerEpoch, trace.Epochs.Select(e => e.Changes));
        var learned = p.WeightValues();
        for (int k = 0; k < 3; k++) Assert.Equal(w[k], learned[k], 3);
    }

    [Fact]
    public void Keeps_making_mistakes_on_xor()
    {
        var r = XorLesson.Run(new XorLessonOptions(PerceptronEpochs: 20, Steps: 1, GridSize: 2, ThreeInputs: false));
        Assert.False(r.XorConverged);
        Assert.Equal(20, r.XorEpochs.Count);
        Assert.All(r.XorEpochs, e => Assert.True(e.Changes > 0));
        Assert.True(r.CyclePeriod > 0, "the weights should revisit an earlier value");
        Assert.Equal(4, r.FirstEpochUpdates.Count);
        Assert.Equal([0.0, 0, 0], r.XorEpochs[0].Weight);
    }

    [Fact]
    public void Bad_labels_are_reported()
    {
        using var p = new Perceptron(2);
        using var x = Tensor.Ones([3, 2]);
        using var y = Tensor.FromArray(new float[] { 1, 0, -1 });
        Assert.Throws<ArgumentException>(() => p.Fit(x, y, 1));
        using var wide = Tensor.Ones([3, 4]);
        Assert.Throws<ArgumentException>(() => p.Fit(wide, y, 1));
    }
}
