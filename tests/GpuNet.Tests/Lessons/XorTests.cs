using GpuNet.Lessons.Neurons;
using GpuNet.Nn;
using GpuNet.Lessons;

namespace GpuNet.Tests.Lessons;

public class XorTests
{
    private static readonly XorLessonResult Result = XorLesson.Run(new XorLessonOptions(PerceptronEpochs: 8, Steps: 400, GridSize: 11));

    [Fact]
    public void Feature_map_makes_xor_separable()
    {
        Assert.True(Result.FeatureConverged);
        Assert.Equal([0, 1, 1, 0], Result.FeaturePredictions);
    }

    [Fact]
    public void Two_to_the_n_hidden_perceptrons_reproduce_all_16_functions()
    {
        Assert.Equal(16, Result.TwoInputFunctions.Count);
        Assert.All(Result.TwoInputFunctions, c => Assert.True(c.Reproduced, $"{c.Name}: {BooleanFunctions.Bits(c.Table)} vs {BooleanFunctions.Bits(c.Network)}"));
        Assert.Equal(256, Result.ThreeInputFunctions);
        Assert.Equal(256, Result.ThreeInputReproduced);
    }

    [Fact]
    public void Boolean_network_has_2_to_the_n_hidden_units()
    {
        using var net = BooleanNetwork.Build(3, BooleanFunctions.Table(0b10010110, 3));   // 3-input parity
        var hidden = (Linear)net[0];
        Assert.Equal(8, hidden.OutFeatures);
        using var x = McCullochPittsNeuron.BooleanPatterns(3);
        using var y = net.Forward(x);
        Assert.Equal([1f, 0, 0, 1, 0, 1, 1, 0], y.ToArray());
    }

    [Fact]
    public void Sigmoid_mlp_trained_by_backprop_solves_xor()
    {
        Assert.True(Result.MlpSolved, string.Join(", ", Result.MlpProbabilities));
        Assert.True(Result.MlpLoss[^1] < 0.05 * Result.MlpLoss[0]);
        Assert.Equal(11, Result.GridAxis.Length);
        Assert.Equal(11, Result.Surface.GetLength(0));
    }

    [Fact]
    public void Truth_table_numbering_round_trips()
    {
        Assert.Equal([false, true, true, false], BooleanFunctions.Table(6, 2));
        Assert.Equal("XOR", BooleanFunctions.Name(6));
        for (int f = 0; f < 16; f++) Assert.Equal(f, BooleanFunctions.Number(BooleanFunctions.Table(f, 2)));
    }
}
