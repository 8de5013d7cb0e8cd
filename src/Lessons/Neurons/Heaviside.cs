using GpuNet.Nn;

namespace GpuNet.Lessons.Neurons;

/// <summary>
/// The perceptron's threshold activation as a module: 1 where the input is ≥ 0, else 0 (the step
/// function). Placed after a <see cref="Linear"/> layer it makes a layer of perceptrons. Its gradient is
/// zero almost everywhere, which is why networks of perceptrons are built by hand or by the perceptron
/// rule, and networks trained by backprop use sigmoids instead.
/// </summary>
public sealed class Heaviside : Module
{
    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.Ge(0);
    }
}
