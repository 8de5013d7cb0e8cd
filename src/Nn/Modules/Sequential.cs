namespace GpuNet.Nn;

/// <summary>Applies its children in order, each to the previous one's output (PyTorch's <c>nn.Sequential</c>). Children are named "0", "1", ….</summary>
public sealed class Sequential : Module
{
    private readonly List<Module> _layers = [];

    /// <summary>Creates the chain from <paramref name="layers"/>.</summary>
    public Sequential(params IEnumerable<Module> layers)
    {
        foreach (var layer in layers) Append(layer);
    }

    /// <summary>Adds a layer at the end (named by its index); returns this.</summary>
    public Sequential Append(Module layer)
    {
        _layers.Add(RegisterModule(_layers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), layer));
        return this;
    }

    /// <summary>Number of layers.</summary>
    public int Count => _layers.Count;

    /// <summary>Layer <paramref name="index"/>.</summary>
    public Module this[int index] => _layers[index];

    /// <inheritdoc />
    /// <remarks>Intermediate activations are disposed as soon as the next layer has consumed them (the graph keeps what backward needs).</remarks>
    public override Tensor Forward(Tensor input)
    {
        var x = input;
        for (int i = 0; i < _layers.Count; i++)
        {
            var layer = _layers[i];
            // A Linear followed by an activation with a fused form (Activations.Fusable) runs as one fused op (the activation in the GEMM's epilogue).
            var fused = layer is Linear && i + 1 < _layers.Count ? Activations.Fusable(_layers[i + 1]) : Kernels.Activation.None;
            if (fused != Kernels.Activation.None) i++;
            var y = fused != Kernels.Activation.None ? ((Linear)layer).Forward(x, fused) : layer.Forward(x);
            if (!ReferenceEquals(x, input)) x.Dispose();
            x = y;
        }
        return x;
    }
}
