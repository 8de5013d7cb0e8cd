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
        var madeSeeds = new List<Tensor>();
        for (int i = 0; i < outputs.Count; i++)
        {
            var o = outputs[i];
            o.ThrowIfDisposed("Grad");
            o.ThrowIfModifiedSinceRecorded("Grad");
            if (o.GradNode is not { } node)
                throw new InvalidOperationException($"Grad: output {i} ({ShapeUtil.Format(o.Shape)}) does not require grad and has no graph.");
            Tensor seed;
            if (gradOutputs?[i] is { } given)
            {
                if (!ShapeUtil.SameShape(given.Shape, o.Shape))
                    throw new ArgumentException($"Grad: gradOutput {i} has shape {ShapeUtil.Format(given.Shape)} but output {i} has shape {ShapeUtil.Format(o.Shape)}.");
                seed = given;
            }
            else
            {
                if (o.NumElements != 1)
                    throw new InvalidOperationException($"Grad: output {i} has shape {ShapeUtil.Format(o.Shape)}; a gradOutput is required for outputs with more than one element.");
                using (TensorScope.Suspend()) seed = Tensor.OnesLike(o);
                madeSeeds.Add(seed);
            }
            roots.Add(node);
            seeds.Add(seed);
        }
        var targets = new List<Node<Tensor>>();
        for (int j = 0; j < inputs.Count; j++)
        {
            if (inputs[j].GradNode is not { } node)
                throw new InvalidOperationException($"Grad: input {j} ({ShapeUtil.Format(inputs[j].Shape)}) does not require grad.");
            targets.Add(node);
        }
        Tensor?[] result;
        try
        {
            using (var mode = createGraph ? GradMode.Enable() : GradMode.Disable())
                result = Engine.Backward(roots, seeds, TensorGradientArithmetic.Instance, retainGraph ?? createGraph, createGraph, targets);
            // An output may also be an input: its gradient is then the seed itself, which is copied below
            // before the seeds made here are freed (hence the finally after the loop).
            CopyShared(result);
        }
        finally
        {
            foreach (var s in madeSeeds) s.Dispose();
        }
        return result;

        void CopyShared(Tensor?[] result)
        {
            for (int j = 0; j < result.Length; j++)
            {
                if (result[j] is null)
                {
                    if (!allowUnused)
                        throw new InvalidOperationException($"Grad: input {j} ({ShapeUtil.Format(inputs[j].Shape)}) was not used to compute the outputs; pass allowUnused: true to get null for it.");
                    continue;
                }
                // The engine may hand out a seed or a gradient shared between two inputs: give each caller its own tensor.
                var r = result[j]!;
                bool shared = seeds.Contains(r) || Array.IndexOf(result, r) != j;
                if (shared) result[j] = createGraph ? r.Clone() : r.Contiguous(forceCopy: true);
                else if (TensorScope.Current is { } scope && r.Scope is null) scope.Register(r);
                if (!ShapeUtil.SameShape(result[j]!.Shape, inputs[j].Shape))
                    result[j] = result[j]!.Reshape(inputs[j].Shape);
            }
        }
    }

    /// <summary>∂output/∂input for a one-element output.</summary>
    public static Tensor Grad(Tensor output, Tensor input, bool createGraph = false) =>
        Grad([output], [input], createGraph: createGraph)[0]!;
}
