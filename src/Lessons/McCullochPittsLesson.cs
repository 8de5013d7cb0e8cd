using GpuNet.Lessons.Neurons;
using GpuNet.Nn;

namespace GpuNet.Lessons;

/// <summary>A named gate built from one McCulloch–Pitts neuron, with its truth table.</summary>
/// <param name="Name">The gate (AND, OR, …).</param>
/// <param name="Neuron">The neuron realising it.</param>
/// <param name="Expected">The gate's truth table over <see cref="McCullochPittsNeuron.BooleanPatterns"/>.</param>
/// <param name="Output">What the neuron outputs on the same patterns.</param>
public sealed record MpGate(string Name, McCullochPittsNeuron Neuron, bool[] Expected, bool[] Output)
{
    /// <summary>True when the neuron reproduces the gate.</summary>
    public bool Reproduced => Expected.SequenceEqual(Output);
}

/// <summary>What <see cref="McCullochPittsLesson"/> shows.</summary>
/// <param name="Gates">AND, OR, NOT, NOR and 3-input majority as single neurons.</param>
/// <param name="NeuronsSearched">Two-input neurons tried: every θ in 0…3 and every wiring of each input (excitatory, inhibitory, unconnected).</param>
/// <param name="Realisable">Each two-input function some neuron realises (function number → a neuron doing it).</param>
/// <param name="XorRealisable">Whether any searched neuron computes XOR (none does).</param>
/// <param name="XnorRealisable">Whether any searched neuron computes XNOR (none does).</param>
public sealed record McCullochPittsLessonResult(IReadOnlyList<MpGate> Gates, int NeuronsSearched,
    IReadOnlyDictionary<int, McCullochPittsNeuron> Realisable, bool XorRealisable, bool XnorRealisable);

/// <summary>
/// Lesson "mp-neuron": McCulloch–Pitts threshold logic. Boolean gates as single neurons with their truth
/// tables, and an exhaustive search over thresholds and wirings showing which two-input functions a single
/// neuron can compute — XOR is not one of them.
/// </summary>
public static class McCullochPittsLesson
{
    /// <summary>Runs the lesson.</summary>
    public static McCullochPittsLessonResult Run()
    {
        var gates = new List<MpGate>
        {
            Gate("AND", McCullochPittsNeuron.And(2), p => p.All(b => b)),
            Gate("OR", McCullochPittsNeuron.Or(2), p => p.Any(b => b)),
            Gate("NOT", McCullochPittsNeuron.Not(), p => !p[0]),
            Gate("NOR", McCullochPittsNeuron.Nor(2), p => !p.Any(b => b)),
            Gate("MAJORITY-3", McCullochPittsNeuron.Majority(3), p => p.Count(b => b) >= 2),
        };
        var (searched, realisable) = Search(2);
        int xor = BooleanFunctions.Number([false, true, true, false]);
        int xnor = BooleanFunctions.Number([true, false, false, true]);
        return new McCullochPittsLessonResult(gates, searched, realisable, realisable.ContainsKey(xor), realisable.ContainsKey(xnor));
    }

    /// <summary>
    /// Every neuron with <paramref name="inputs"/> inputs: each input excitatory, inhibitory or unconnected, and θ from 0 to
    /// n + 1 (θ = n + 1 never fires; larger θ behave the same). Returns how many were tried and, for each function
    /// computed, the first neuron found computing it.
    /// </summary>
    public static (int Searched, IReadOnlyDictionary<int, McCullochPittsNeuron> Realisable) Search(int inputs)
    {
        var found = new SortedDictionary<int, McCullochPittsNeuron>();
        int wirings = (int)Math.Pow(3, inputs), searched = 0;
        for (int threshold = 0; threshold <= inputs + 1; threshold++)
            for (int w = 0; w < wirings; w++)
            {
                var synapses = new Synapse[inputs];
                for (int j = 0, rest = w; j < inputs; j++, rest /= 3) synapses[j] = (Synapse)(rest % 3);
                var neuron = new McCullochPittsNeuron(threshold, synapses);
                searched++;
                found.TryAdd(BooleanFunctions.Number(neuron.TruthTable()), neuron);
            }
        return (searched, found);
    }

    private static MpGate Gate(string name, McCullochPittsNeuron neuron, Func<bool[], bool> rule)
    {
        var expected = Enumerable.Range(0, 1 << neuron.Inputs)
            .Select(k => rule(Enumerable.Range(0, neuron.Inputs).Select(j => ((k >> (neuron.Inputs - 1 - j)) & 1) == 1).ToArray()))
            .ToArray();
        return new MpGate(name, neuron, expected, neuron.TruthTable());
    }
}
