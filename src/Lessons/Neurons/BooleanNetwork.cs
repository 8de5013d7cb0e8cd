using GpuNet.Nn;

namespace GpuNet.Lessons.Neurons;

/// <summary>
/// The notes' construction showing that one hidden layer of perceptrons represents any boolean function
/// of n inputs: 2ⁿ hidden perceptrons, one per input pattern p, each firing only on its own pattern
/// (weight +1 where pⱼ = 1 and −1 where pⱼ = 0, bias ½ − |p|), and an output perceptron that ORs the
/// hidden units of the patterns where f = 1 (weight 1 for those, 0 for the rest, bias −½).
/// </summary>
public static class BooleanNetwork
{
    /// <summary>
    /// Builds Linear(n, 2ⁿ) → <see cref="Heaviside"/> → Linear(2ⁿ, 1) → <see cref="Heaviside"/> with the weights
    /// set by hand so that the network computes <paramref name="truthTable"/> on 0/1 inputs [N, n].
    /// </summary>
    /// <param name="inputs">n, the number of boolean inputs (1 to 12).</param>
    /// <param name="truthTable">f(p) for the 2ⁿ patterns in <see cref="McCullochPittsNeuron.BooleanPatterns"/> order.</param>
    /// <param name="device">Where the parameters live.</param>
    public static Sequential Build(int inputs, IReadOnlyList<bool> truthTable, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(truthTable);
        if (inputs < 1 || inputs > 12) throw new ArgumentOutOfRangeException(nameof(inputs), $"BooleanNetwork: inputs must be in [1, 12]; got {inputs}.");
        int patterns = 1 << inputs;
        if (truthTable.Count != patterns)
            throw new ArgumentException($"BooleanNetwork: a function of {inputs} inputs needs a truth table of {patterns} entries; got {truthTable.Count}.", nameof(truthTable));
        var hidden = new Linear(inputs, patterns, device: device);
        var output = new Linear(patterns, 1, device: device);
        var w1 = new float[patterns * inputs];
        var b1 = new float[patterns];
        var w2 = new float[patterns];
        for (int k = 0; k < patterns; k++)
        {
            int ones = 0;
            for (int j = 0; j < inputs; j++)
            {
                bool on = ((k >> (inputs - 1 - j)) & 1) == 1;
                w1[k * inputs + j] = on ? 1 : -1;
                if (on) ones++;
            }
            // wᵀx − |p| is 0 on pattern p and ≤ −1 on every other pattern; the ½ puts the step between.
            b1[k] = 0.5f - ones;
            w2[k] = truthTable[k] ? 1 : 0;
        }
        using (Autograd.NoGrad())
        using (Tensor.NewScope())
        {
            hidden.Weight.Data.CopyFrom(Tensor.FromArray(w1, [patterns, inputs], hidden.Weight.Device));
            hidden.Bias!.Data.CopyFrom(Tensor.FromArray(b1, null, hidden.Weight.Device));
            output.Weight.Data.CopyFrom(Tensor.FromArray(w2, [1, patterns], output.Weight.Device));
            output.Bias!.Data.FillInPlace(-0.5);
        }
        return new Sequential(hidden, new Heaviside(), output, new Heaviside());
    }
}
