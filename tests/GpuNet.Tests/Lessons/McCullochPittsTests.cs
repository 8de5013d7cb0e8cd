using GpuNet.Lessons.Neurons;
using GpuNet.Nn;
using GpuNet.Lessons;

namespace GpuNet.Tests.Lessons;

public class McCullochPittsTests
{
    [Fact]
    public void Gates_reproduce_their_truth_tables()
    {
        var r = McCullochPittsLesson.Run();
        Assert.Equal(["AND", "OR", "NOT", "NOR", "MAJORITY-3"], r.Gates.Select(g => g.Name));
        Assert.All(r.Gates, g => Assert.True(g.Reproduced, $"{g.Name}: expected {BooleanFunctions.Bits(g.Expected)}, got {BooleanFunctions.Bits(g.Output)}"));
        Assert.Equal([false, false, false, true], McCullochPittsNeuron.And().TruthTable());
        Assert.Equal([false, true, true, true], McCullochPittsNeuron.Or().TruthTable());
        Assert.Equal([true, false], McCullochPittsNeuron.Not().TruthTable());
        Assert.Equal([true, false, false, false], McCullochPittsNeuron.Nor().TruthTable());
        Assert.Equal([false, false, false, true, false, true, true, true], McCullochPittsNeuron.Majority(3).TruthTable());
    }

    [Fact]
    public void An_active_inhibitory_input_vetoes_firing()
    {
        var n = new McCullochPittsNeuron(1, Synapse.Excitatory, Synapse.Excitatory, Synapse.Inhibitory);
        Assert.True(n.Fire(true, true, false));
        Assert.False(n.Fire(true, true, true));
        Assert.False(n.Fire(false, false, false));
    }

    [Fact]
    public void No_single_neuron_computes_xor_or_xnor()
    {
        var r = McCullochPittsLesson.Run();
        Assert.Equal(4 * 9, r.NeuronsSearched);
        Assert.False(r.XorRealisable);
        Assert.False(r.XnorRealisable);
        Assert.DoesNotContain(6, r.Realisable.Keys);   // 0110
        Assert.DoesNotContain(9, r.Realisable.Keys);   // 1001
        // What a single neuron can do: constants, projections, negations, AND/OR/NOR and the mixed ANDs.
        Assert.Equal([0, 1, 2, 3, 4, 5, 7, 8, 10, 12, 15], r.Realisable.Keys);
        foreach (var (f, neuron) in r.Realisable)
            Assert.Equal(BooleanFunctions.Table(f, 2), neuron.TruthTable());
    }

    [Fact]
    public void Bad_arguments_are_reported()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new McCullochPittsNeuron(-1, Synapse.Excitatory));
        Assert.Throws<ArgumentException>(() => new McCullochPittsNeuron(1));
        using var x = Tensor.Zeros([4, 3]);
        var e = Assert.Throws<ArgumentException>(() => McCullochPittsNeuron.And(2).Forward(x));
        Assert.Contains("[N, 2]", e.Message);
    }
}
