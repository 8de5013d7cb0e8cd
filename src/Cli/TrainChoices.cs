using GpuNet.Kernels;
using GpuNet.Nn;

namespace GpuNet.Cli;

/// <summary>
/// The words <c>gpunet train</c> takes for the activation, optimizer and schedule, and the settings
/// they name. The library takes only the enums; spelling is the command line's business.
/// </summary>
internal static class TrainChoices
{
    private static readonly (string Name, Activation Value)[] s_activations =
        [("relu", Activation.Relu), ("sigmoid", Activation.Sigmoid), ("tanh", Activation.Tanh), ("gelu", Activation.Gelu), ("gelu-tanh", Activation.GeluTanh),
         ("silu", Activation.Silu), ("leaky-relu", Activation.LeakyRelu), ("elu", Activation.Elu), ("softplus", Activation.Softplus), ("identity", Activation.None)];

    private static readonly (string Name, OptimizerKind Value)[] s_optimizers =
        [("sgd", OptimizerKind.Sgd), ("adam", OptimizerKind.Adam), ("adamw", OptimizerKind.AdamW), ("rmsprop", OptimizerKind.RmsProp),
         ("adagrad", OptimizerKind.Adagrad), ("nadam", OptimizerKind.NAdam), ("radam", OptimizerKind.RAdam)];

    private static readonly (string Name, ScheduleKind Value)[] s_schedules =
        [("none", ScheduleKind.None), ("cosine", ScheduleKind.Cosine), ("step", ScheduleKind.Step), ("exponential", ScheduleKind.Exponential),
         ("multistep", ScheduleKind.MultiStep), ("onecycle", ScheduleKind.OneCycle)];

    /// <summary>Activation names, in the order --help lists them.</summary>
    public static IReadOnlyList<string> Activations { get; } = [.. s_activations.Select(a => a.Name)];

    /// <summary>Optimizer names.</summary>
    public static IReadOnlyList<string> Optimizers { get; } = [.. s_optimizers.Select(a => a.Name)];

    /// <summary>Schedule names.</summary>
    public static IReadOnlyList<string> Schedules { get; } = [.. s_schedules.Select(a => a.Name)];

    public static Activation ParseActivation(string name) => Parse(s_activations, name, "activation");

    public static OptimizerKind ParseOptimizer(string name) => Parse(s_optimizers, name, "optimizer");

    public static ScheduleKind ParseSchedule(string name) => Parse(s_schedules, name, "schedule");

    public static string Name(Activation value) => s_activations.First(a => a.Value == value).Name;

    public static string Name(OptimizerKind value) => s_optimizers.First(a => a.Value == value).Name;

    public static string Name(ScheduleKind value) => s_schedules.First(a => a.Value == value).Name;

    private static T Parse<T>((string Name, T Value)[] choices, string name, string what)
    {
        foreach (var (n, v) in choices)
            if (string.Equals(n, name?.Trim(), StringComparison.OrdinalIgnoreCase)) return v;
        throw new ArgumentException($"unknown {what} '{name}'; expected {string.Join(", ", choices.Select(c => c.Name))}.");
    }
}
