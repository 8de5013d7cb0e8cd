using GpuNet.Lessons;

namespace GpuNet.Tests.Lessons;

public class LossesTests
{
    private static readonly LossesLessonResult Result = LossesLesson.Run();

    [Fact]
    public void Squared_loss_and_empirical_risk()
    {
        Assert.Equal([0.25, 0.25, 0, 1], Result.Squared.PerSample);
        Assert.Equal(0.375, Result.Squared.Risk, 12);
        Assert.Equal([-0.25, 0.25, 0, 0.5], Result.Squared.Gradient);
    }

    [Fact]
    public void Hinge_loss_matches_the_hand_computed_values()
    {
        var c = Result.Classifier;
        Assert.Equal(2.9, c.HingePerSample[0], 12);
        Assert.Equal(0.0, c.HingePerSample[1], 12);
        Assert.Equal(12.9, c.HingePerSample[2], 12);
        Assert.Equal(15.8 / 3, c.HingeRisk, 12);
        Assert.Equal([-1.0, 1, 0], c.HingeGradient[0]);
        Assert.Equal([0.0, 0, 0], c.HingeGradient[1]);
        Assert.Equal([1.0, 1, -2], c.HingeGradient[2]);
        for (int i = 0; i < 3; i++) Assert.Equal(c.HingeGradientByHand[i], c.HingeGradient[i]);
    }

    [Fact]
    public void Cross_entropy_nll_and_zero_one()
    {
        var c = Result.Classifier;
        Assert.Equal(2.0404, c.CrossEntropyPerSample[0], 4);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(c.CrossEntropyPerSample[i], c.NllPerSample[i], 12);
            double lse = Math.Log(c.Scores[i].Sum(Math.Exp));
            Assert.Equal(lse - c.Scores[i][c.Labels[i]], c.CrossEntropyPerSample[i], 12);
            Assert.Equal(1.0, c.Probabilities[i].Sum(), 12);
        }
        Assert.Equal(c.CrossEntropyPerSample.Average(), c.CrossEntropyRisk, 12);
        Assert.Equal([1, 1, 1], c.Predicted);
        Assert.Equal(2.0 / 3, c.ZeroOneRisk, 12);
        Assert.Equal(c.ZeroOneRisk, c.ZeroOneRiskNudged);
    }

    [Fact]
    public void Regularised_hinge_gradient_matches_the_formula()
    {
        var g = Result.Regularised;
        Assert.Equal(-0.979, g.Scores[0], 12);
        Assert.Equal(4.347, g.Scores[1], 12);
        Assert.Equal(0.6195, g.Scores[2], 12);
        Assert.Equal(6.326 + 2.5985, g.DataLoss, 10);
        double sq = g.W.SelectMany(r => r).Sum(v => v * v);
        Assert.Equal(g.Lambda * sq, g.Penalty, 12);
        Assert.True(Result.MaxGradientDifference < 1e-12, $"{Result.MaxGradientDifference}");
    }
}
