using GpuNet.Tape;

namespace GpuNet;

/// <summary>
/// Gradient tools over tensors: grad-mode scopes, gradients of outputs with respect to chosen inputs,
/// finite-difference checks, full Jacobians and Hessians.
/// </summary>
public static partial class Autograd
{
    /// <summary>Until disposed, ops on this thread record no graph (nested scopes are fine).</summary>
    public static IDisposable NoGrad() => GradMode.Disable();

    /// <summary>Re-enables recording inside a <see cref="NoGrad"/> scope until disposed.</summary>
    public static IDisposable EnableGrad() => GradMode.Enable();

    /// <summary>True when ops on this thread record a graph.</summary>
    public static bool IsGradEnabled => GradMode.IsEnabled;

    /// <summary>
    /// ∂(Σ outputsᵢ·gradOutputsᵢ)/∂inputⱼ for each input, without touching any <see cref="Tensor.Grad"/>.
    /// With <paramref name="createGraph"/> the results are differentiable (gradients of gradients).
    /// </summary>
    /// <param name="outputs">Tensors to differentiate; each must be one-element unless its gradOutput is given.</param>
    /// <param name="inputs">Tensors (leaves or intermediates) to differentiate with respect to.</param>
    /// <param name="gradOutputs">∂L/∂output per output; null for ones.</param>
    /// <param name="retainGraph">Keep the graph (defaults to <paramref name="createGraph"/>).</param>
    /// <param name="createGraph">Record the backward pass.</param>
    /// <param name="allowUnused">Return null (instead of throwing) for an input the outputs do not depend on.</param>
    public static Tensor?[] Grad(IReadOnlyList<Tensor> outputs, IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor>? gradOutputs = null,
        bool? retainGraph = null, bool createGraph = false, bool allowUnused = false)
    {
        if (gradOutputs is not null && gradOutputs.Count != outputs.Count)
            throw new ArgumentException($"Grad: {outputs.Count} outputs but {gradOutputs.Count} gradOutputs.");
        var roots = new List<Node<Tensor>>();
        var seeds = new List<Tensor>();
        for (int i = 0; i < outputs.Count; i++)
        {
            var o = outputs[i];
            o.ThrowIfDisposed("Grad");
            o.ThrowIfModifiedSinceRecorded("Grad");
            if (o.GradNode is not { } node)
                throw new InvalidOperationException($"Grad: output {i} ({ShapeUtil.Format(o.ShapeArray)}) does not require grad and has no graph.");
            if (gradOutputs?[i] is { } given && !ShapeUtil.SameShape(given.ShapeArray, o.ShapeArray))
                throw new ArgumentException($"Grad: gradOutput {i} has shape {ShapeUtil.Format(given.ShapeArray)} but output {i} has shape {ShapeUtil.Format(o.ShapeArray)}.");
            if (gradOutputs?[i] is null && o.NumElements != 1)
                throw new InvalidOperationException($"Grad: output {i} has shape {ShapeUtil.Format(o.ShapeArray)}; a gradOutput is required for outputs with more than one element.");
            roots.Add(node);
        }
        var targets = new List<Node<Tensor>>();
        for (int j = 0; j < inputs.Count; j++)
        {
            if (inputs[j].GradNode is not { } node)
                throw new InvalidOperationException($"Grad: input {j} ({ShapeUtil.Format(inputs[j].ShapeArray)}) does not require grad.");
            targets.Add(node);
        }
        // The engine takes the seeds: aliases of the given gradOutputs, or ones.
        using (TensorScope.Suspend())
            for (int i = 0; i < outputs.Count; i++) seeds.Add(gradOutputs?[i]?.Alias() ?? Tensor.OnesLike(outputs[i]));
        Tensor?[] result;
        using (var mode = createGraph ? GradMode.Enable() : GradMode.Disable())
            result = Engine.Backward(roots, seeds, TensorGradientArithmetic.Instance, retainGraph ?? createGraph, createGraph, targets);
        for (int j = 0; j < result.Length; j++)
        {
            if (result[j] is not { } r)
            {
                if (!allowUnused)
                    throw new InvalidOperationException($"Grad: input {j} ({ShapeUtil.Format(inputs[j].ShapeArray)}) was not used to compute the outputs; pass allowUnused: true to get null for it.");
                continue;
            }
            // Each caller gets memory of its own: a result that shares storage with another result or with a
            // given gradOutput (an output that is also an input, a gradient passed through) is copied.
            bool shared = gradOutputs?.Any(go => go is not null && ReferenceEquals(go.Storage, r.Storage)) == true
                || result.Where((other, k) => k != j && other is not null && ReferenceEquals(other.Storage, r.Storage)).Any();
            if (shared)
            {
                result[j] = createGraph ? r.Clone() : r.Contiguous(forceCopy: true);
                if (!createGraph) r.Dispose();
            }
            else if (TensorScope.Current is { } scope && r.Scope is null) scope.Register(r);
            if (!ShapeUtil.SameShape(result[j]!.ShapeArray, inputs[j].ShapeArray))
            {
                var shaped = result[j]!;
                result[j] = shaped.Reshape(inputs[j].ShapeArray);
                if (!createGraph) shaped.Dispose();
            }
        }
        return result;
    }

    /// <summary>∂output/∂input for a one-element output.</summary>
    public static Tensor Grad(Tensor output, Tensor input, bool createGraph = false) =>
        Grad([output], [input], createGraph: createGraph)[0]!;
}
