using GpuNet.Nn;

namespace GpuNet.Lessons.Neurons;

/// <summary>How an input is wired into a <see cref="McCullochPittsNeuron"/>.</summary>
public enum Synapse
{
    /// <summary>An active input counts one towards the threshold.</summary>
    Excitatory,
    /// <summary>An active input vetoes firing, whatever the other inputs do.</summary>
    Inhibitory,
    /// <summary>Not connected: the input is ignored.</summary>
    None,
}

/// <summary>
/// The McCulloch–Pitts neuron (threshold logic unit), the first mathematical model of a neuron:
/// boolean inputs, each excitatory or inhibitory, and an integer threshold θ. It fires (outputs 1)
/// when no inhibitory input is active and at least θ excitatory inputs are. There are no weights and
/// no learning. <see cref="Forward"/> evaluates a batch of input patterns with two matrix products
/// (excitatory count and inhibitory count).
/// </summary>
public sealed class McCullochPittsNeuron
{
    private readonly Synapse[] _synapses;

    /// <summary>Creates a neuron with threshold <paramref name="threshold"/> and one synapse per input.</summary>
    /// <param name="threshold">θ ≥ 0: the number of active excitatory inputs needed to fire.</param>
    /// <param name="synapses">How each input is wired; at least one input.</param>
    public McCullochPittsNeuron(int threshold, params Synapse[] synapses)
    {
        ArgumentNullException.ThrowIfNull(synapses);
        if (synapses.Length == 0) throw new ArgumentException("McCullochPittsNeuron: needs at least one input.", nameof(synapses));
        if (threshold < 0) throw new ArgumentOutOfRangeException(nameof(threshold), $"McCullochPittsNeuron: the threshold must be ≥ 0; got {threshold}.");
        Threshold = threshold;
        _synapses = (Synapse[])synapses.Clone();
    }

    /// <summary>θ: the number of active excitatory inputs needed to fire.</summary>
    public int Threshold { get; }

    /// <summary>How each input is wired.</summary>
    public IReadOnlyList<Synapse> Synapses => _synapses;

    /// <summary>Number of inputs.</summary>
    public int Inputs => _synapses.Length;

    /// <summary>AND of <paramref name="n"/> inputs: all excitatory, θ = n.</summary>
    public static McCullochPittsNeuron And(int n = 2) => new(n, Repeat(Synapse.Excitatory, n));

    /// <summary>OR of <paramref name="n"/> inputs: all excitatory, θ = 1.</summary>
    public static McCullochPittsNeuron Or(int n = 2) => new(1, Repeat(Synapse.Excitatory, n));

    /// <summary>NOT: one inhibitory input and θ = 0, so it fires unless the input is on.</summary>
    public static McCullochPittsNeuron Not() => new(0, Synapse.Inhibitory);

    /// <summary>NOR of <paramref name="n"/> inputs: all inhibitory, θ = 0.</summary>
    public static McCullochPittsNeuron Nor(int n = 2) => new(0, Repeat(Synapse.Inhibitory, n));

    /// <summary>Majority of <paramref name="n"/> inputs (n odd): all excitatory, θ = (n + 1) / 2.</summary>
    public static McCullochPittsNeuron Majority(int n = 3) => new((n + 1) / 2, Repeat(Synapse.Excitatory, n));

    /// <summary>
    /// Fires for each row of <paramref name="inputs"/> [N, n] (entries 0 or 1, any floating dtype):
    /// 1 where no inhibitory input is on and Σ excitatory ≥ θ, else 0. Returns [N] in the input's dtype.
    /// </summary>
    public Tensor Forward(Tensor inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Rank != 2 || inputs.Shape[1] != Inputs)
            throw new ArgumentException($"McCullochPittsNeuron: inputs must be [N, {Inputs}]; got [{string.Join(",", inputs.Shape)}].");
        using var excitatory = Mask(Synapse.Excitatory, inputs);
        using var inhibitory = Mask(Synapse.Inhibitory, inputs);
        using var count = inputs.MatMul(excitatory);     // active excitatory inputs per row
        using var vetoes = inputs.MatMul(inhibitory);    // active inhibitory inputs per row
        using var reached = count.Ge(Threshold);
        using var free = vetoes.Eq(0);
        return reached * free;
    }

    /// <summary>Whether the neuron fires for one input pattern.</summary>
    public bool Fire(params bool[] inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Length != Inputs) throw new ArgumentException($"McCullochPittsNeuron: expected {Inputs} inputs; got {inputs.Length}.");
        using var scope = Tensor.NewScope();
        var x = Tensor.FromArray(inputs.Select(b => b ? 1f : 0f).ToArray(), [1, Inputs]);
        return Forward(x).Item() > 0.5f;
    }

    /// <summary>
    /// The output for every one of the 2ⁿ input patterns, in <see cref="BooleanPatterns"/> order
    /// (pattern k has input j on when bit n−1−j of k is set: 00, 01, 10, 11 for two inputs).
    /// </summary>
    public bool[] TruthTable()
    {
        using var scope = Tensor.NewScope();
        var patterns = BooleanPatterns(Inputs);
        return Forward(patterns).ToArray().Select(v => v > 0.5f).ToArray();
    }

    /// <summary>All 2ⁿ boolean input patterns as a [2ⁿ, n] float32 tensor of 0/1, counting up in binary with input 0 as the high bit.</summary>
    public static Tensor BooleanPatterns(int n, DType dtype = DType.Float32, Device? device = null)
    {
        if (n < 1 || n > 20) throw new ArgumentOutOfRangeException(nameof(n), $"BooleanPatterns: n must be in [1, 20]; got {n}.");
        int rows = 1 << n;
        var data = new float[rows * n];
        for (int k = 0; k < rows; k++)
            for (int j = 0; j < n; j++)
                data[k * n + j] = (k >> (n - 1 - j)) & 1;
        var t = Tensor.FromArray(data, [rows, n], device);
        if (dtype == DType.Float32) return t;
        using (t) return t.To(dtype);
    }

    /// <summary>Like <c>θ=2 [E,E]</c>: the threshold and the wiring (E excitatory, I inhibitory, − unconnected).</summary>
    public override string ToString() =>
        $"θ={Threshold} [{string.Join(",", _synapses.Select(s => s switch { Synapse.Excitatory => "E", Synapse.Inhibitory => "I", _ => "-" }))}]";

    private Tensor Mask(Synapse kind, Tensor like)
    {
        var mask = _synapses.Select(s => s == kind ? 1f : 0f).ToArray();
        var m = Tensor.FromArray(mask, null, like.Device);
        if (like.DType == DType.Float32) return m;
        using (m) return m.To(like.DType);
    }

    private static Synapse[] Repeat(Synapse s, int n)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), $"McCullochPittsNeuron: needs at least one input; got {n}.");
        return Enumerable.Repeat(s, n).ToArray();
    }
}
