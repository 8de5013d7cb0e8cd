using GpuNet.Lessons;

namespace GpuNet.Tests.Lessons;

public class UniversalApproximationTests
{
    [Fact]
    public void Error_decreases_with_width_when_trained()
    {
        var r = UniversalApproximationLesson.Run(new UniversalApproximationOptions(Widths: [2, 8, 32], Steps: 300, TrainPoints: 100, Towers: [4], EvalPoints: 201));
        var errors = r.Trained.Select(a => a.MaxError).ToArray();
        Assert.True(errors[0] > errors[1] && errors[1] > errors[2], string.Join(" > ", errors));
        Assert.True(errors[2] < 0.5 * errors[0]);
    }

    [Fact]
    public void Towers_built_by_hand_converge_without_training()
    {
        var r = UniversalApproximationLesson.Run(new UniversalApproximationOptions(Widths: [], Towers: [4, 16, 64, 256], EvalPoints: 2001));
        var errors = r.Towers.Select(a => a.MaxError).ToArray();
        for (int i = 1; i < errors.Length; i++) Assert.True(errors[i] < errors[i - 1], string.Join(" > ", errors));
        Assert.True(errors[^1] < 0.05, $"256 towers: max error {errors[^1]}");
    }
}
