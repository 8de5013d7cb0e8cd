using GpuNet.Cli;

namespace GpuNet.Tests.Cli;

/// <summary>The training curves' epoch axis: whole epochs, a few round ticks, one epoch readable.</summary>
public sealed class EpochAxisTests
{
    [Theory]
    [InlineData(1, 1), InlineData(1, 2), InlineData(1, 3), InlineData(1, 10), InlineData(1, 11), InlineData(1, 37)]
    [InlineData(5, 12), InlineData(1, 100), InlineData(1, 999), InlineData(90, 100), InlineData(1, 100_000), InlineData(7, 7)]
    public void Ticks_AreWholeEpochsInRange_AtARoundStep_AtMostTen(int first, int last)
    {
        var ticks = EpochAxis.Ticks(first, last);
        Assert.NotEmpty(ticks);
        Assert.InRange(ticks.Length, 1, 10);
        Assert.All(ticks, t => Assert.InRange(t, first, last));
        Assert.Equal(ticks.Order(), ticks);
        if (ticks.Length > 1)
        {
            int step = ticks[1] - ticks[0];
            Assert.All(ticks.Zip(ticks.Skip(1)), p => Assert.Equal(step, p.Second - p.First));
            Assert.Contains(step / (int)Math.Pow(10, Math.Floor(Math.Log10(step))), new[] { 1, 2, 5 });
            Assert.All(ticks, t => Assert.Equal(0, t % step));
            Assert.True(ticks[^1] + step > last, "a tick was left out at the end");
            Assert.True(ticks[0] - step < first, "a tick was left out at the start");
        }
        if (last - first < 10) Assert.Equal(Enumerable.Range(first, last - first + 1), ticks); // every epoch of a short run
    }

    [Fact]
    public void OneEpoch_IsAPointInTheMiddle()
    {
        Assert.Equal([1], EpochAxis.Ticks(1, 1));
        var (min, max) = EpochAxis.Limits(1, 1);
        Assert.Equal(0.5, min);
        Assert.Equal(1.5, max);
        Assert.Equal((0.5, 10.5), EpochAxis.Limits(1, 10));
    }
}
