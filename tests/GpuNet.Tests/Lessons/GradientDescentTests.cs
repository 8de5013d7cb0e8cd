using GpuNet.Lessons;

namespace GpuNet.Tests.Lessons;

public class GradientDescentTests
{
    private static readonly GradientDescentResult Result = GradientDescentLesson.Run(new GradientDescentOptions(Epochs: 3, RateSteps: 30));

    [Fact]
    public void Updates_per_epoch_follow_the_batch_size()
    {
        Assert.Equal([1, 200, 10], Result.Runs.Select(r => r.UpdatesPerEpoch));
        Assert.Equal([4, 601, 31], Result.Runs.Select(r => r.LossPerUpdate.Length));
        Assert.All(Result.Runs, r => Assert.Equal(r.LossPerUpdate[0], Result.Runs[0].LossPerUpdate[0]));   // same start
    }

    [Fact]
    public void Per_epoch_more_updates_go_further_and_batch_descent_is_monotone()
    {
        var (batch, sgd, mini) = (Result.Runs[0], Result.Runs[1], Result.Runs[2]);
        for (int e = 1; e < batch.LossPerEpoch.Length; e++)
        {
            Assert.True(sgd.LossPerEpoch[e] < mini.LossPerEpoch[e]);
            Assert.True(mini.LossPerEpoch[e] < batch.LossPerEpoch[e]);
        }
        Assert.Equal(0, batch.LossIncreases);
        Assert.True(sgd.LossIncreases > 0, "single-sample steps should sometimes raise the full loss");
    }

    [Fact]
    public void Too_large_a_learning_rate_diverges_and_the_limit_is_two_over_lambda_max()
    {
        var h = Result.Hessian;
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) Assert.Equal(h[i, j], h[j, i], 4);
        Assert.Equal(2 / Result.LambdaMax, Result.CriticalRate, 10);
        foreach (var q in Result.Rates)
        {
            // Along the top eigenvector each step multiplies the error by 1 − η λmax exactly (a quadratic).
            double ratio = q.TopComponent[5] / q.TopComponent[4];
            Assert.Equal(1 - q.LearningRate * Result.LambdaMax, ratio, 2);
        }
        var (safe, oscillating, diverging) = (Result.Rates[0], Result.Rates[1], Result.Rates[2]);
        Assert.True(safe.Loss[^1] < safe.Loss[0]);
        Assert.True(oscillating.Loss[^1] < oscillating.Loss[0]);
        Assert.True(oscillating.TopComponent.Take(6).Zip(oscillating.TopComponent.Skip(1)).All(p => p.First * p.Second < 0), "sign should flip every step");
        Assert.True(diverging.Loss[^1] > 100 * diverging.Loss[0], $"loss {diverging.Loss[0]} -> {diverging.Loss[^1]}");
    }
}
