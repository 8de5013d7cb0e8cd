using GpuNet.Lessons;

namespace GpuNet.Tests.Lessons;

public class GradCheckTests
{
    private static readonly GradCheckLessonResult Result = GradCheckLesson.Run(new GradCheckOptions(Sizes: [4, 5, 3], Batch: 5));

    [Fact]
    public void Backprop_agrees_with_finite_differences()
    {
        Assert.True(Result.Passed);
        Assert.Equal(4, Result.Checks.Count);
        Assert.All(Result.Checks, c => Assert.True(c.Passed && c.MaxRelativeError < 1e-5, $"{c.Name}: rel {c.MaxRelativeError}"));
        Assert.Equal(4 * 5 + 5 + 5 * 3 + 3, Result.ParameterCount);
    }

    [Fact]
    public void Numerical_gradient_needs_two_forward_passes_per_parameter()
    {
        Assert.Equal(2 * Result.ParameterCount, Result.ForwardPasses);
    }

    [Fact]
    public void Step_size_has_a_sweet_spot_and_float32_is_worse()
    {
        var errors = Result.EpsSweep.Select(e => e.MaxRelativeError).ToArray();
        double best = errors.Min();
        Assert.True(errors[0] > 100 * best && errors[^1] > 100 * best, string.Join(" ", errors));
        Assert.True(Result.Float32AbsoluteError > 1000 * Result.MaxAbsoluteError);
    }
}
