using GpuNet.Tape;

namespace GpuNet;

public static partial class Autograd
{
    /// <summary>
    /// A differentiable op with a forward and a backward of your own (PyTorch's <c>torch.autograd.Function</c>).
    /// Derive from it, implement <see cref="Forward"/> (which runs without recording, like PyTorch's) and
    /// <see cref="Backward"/> (the VJP: ∂L/∂output to one gradient per input), and call <see cref="Apply"/>:
    /// the result is one graph node named after the class. Tensors the backward needs are kept with
    /// <see cref="FunctionContext.SaveForBackward"/>, exactly as the built-in ops keep theirs: changing one in
    /// place after it was saved makes the backward throw. Written in tensor ops, the backward is itself
    /// recorded under <c>createGraph</c>, so gradients of gradients work. Per-call settings (a scale, an
    /// exponent) belong in the function object's fields: create one per call.
    /// </summary>
    /// <example>
    /// <code>
    /// sealed class Cube : Autograd.Function
    /// {
    ///     protected override Tensor Forward(Autograd.FunctionContext ctx, Tensor[] inputs)
    ///     {
    ///         ctx.SaveForBackward(inputs[0]);
    ///         return inputs[0].Pow(3);
    ///     }
    ///     protected override Tensor?[] Backward(Autograd.FunctionContext ctx, Tensor gradOutput)
    ///     {
    ///         var x = ctx.SavedTensors[0];
    ///         return [gradOutput * 3 * x * x];
    ///     }
    /// }
    /// var y = new Cube().Apply(x);
    /// </code>
    /// </example>
    public abstract class Function
    {
        /// <summary>The op's name in the graph (error messages, <see cref="Tensor.GradFn"/>): the class name by default.</summary>
        protected virtual string Name => GetType().Name;

        /// <summary>
        /// Computes the output from <paramref name="inputs"/>, with recording off. Temporaries it creates are
        /// freed when it returns (except the output and what it saved). It may return a new tensor or a view.
        /// </summary>
        /// <param name="ctx">Where to save tensors (and read <see cref="FunctionContext.NeedsInputGrad"/>).</param>
        /// <param name="inputs">The tensors given to <see cref="Apply"/>.</param>
        protected abstract Tensor Forward(FunctionContext ctx, Tensor[] inputs);

        /// <summary>
        /// The VJP: from ∂L/∂output, one gradient per input, each of that input's shape (one in a shape the input
        /// broadcasts to is summed down to it), or null where none is needed (see <see cref="FunctionContext.NeedsInputGrad"/>).
        /// Temporaries are freed when it returns.
        /// </summary>
        /// <param name="ctx">The context <see cref="Forward"/> filled.</param>
        /// <param name="gradOutput">∂L/∂output, of the output's shape.</param>
        protected abstract Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput);

        /// <summary>Runs <see cref="Forward"/> and, when grad mode is on and an input requires grad, records the op with <see cref="Backward"/> as its VJP.</summary>
        /// <param name="inputs">The op's tensor inputs, all on one device.</param>
        /// <returns>The output, owned by the caller.</returns>
        public Tensor Apply(params Tensor[] inputs)
        {
            ArgumentNullException.ThrowIfNull(inputs);
            string name = Name;
            for (int i = 0; i < inputs.Length; i++)
            {
                if (inputs[i] is null) throw new ArgumentNullException(nameof(inputs), $"{name}: input {i} is null.");
                inputs[i].ThrowIfDisposed(name);
                if (i > 0) Tensor.CheckSameDevice(name, inputs[0], inputs[i]);
            }
            bool record = Tensor.WillRecord(inputs);
            var ctx = new FunctionContext(name, [.. inputs.Select(t => record && t.RequiresGrad)]);
            var outer = TensorScope.Current;
            Tensor output;
            using (var scope = TensorScope.Begin())
            {
                using (GradMode.Disable())
                {
                    output = Forward(ctx, inputs) ?? throw new InvalidOperationException($"{name}: Forward returned null.");
                    output.ThrowIfDisposed(name);
                    // The graph attaches to a tensor object of the op's own: never an input itself (or an alias
                    // standing at an input's place in the graph), nor a tensor Forward does not own.
                    if (output.Scope != scope || inputs.Any(t => ReferenceEquals(t, output)) || output.GradNode is not null)
                        output = output.Detach();
                }
                scope.Unregister(output);
                foreach (var s in ctx.Saved)
                {
                    scope.Unregister(s);
                    outer?.Register(s);
                }
            }
            outer?.Register(output);
            var shapes = inputs.Select(t => t.ShapeArray).ToArray();
            var dtypes = inputs.Select(t => t.DType).ToArray();
            return Tensor.Record(output, name, inputs, g => RunBackward(ctx, g, shapes, dtypes), [.. ctx.Saved]);
        }

        private Tensor?[] RunBackward(FunctionContext ctx, Tensor gradOutput, int[][] shapes, DType[] dtypes)
        {
            var grads = Backward(ctx, gradOutput) ?? throw new InvalidOperationException($"{ctx.Name}: Backward returned null; return one gradient (or null) per input.");
            if (grads.Length != shapes.Length)
                throw new InvalidOperationException($"{ctx.Name}: Backward returned {grads.Length} gradients for {shapes.Length} inputs; return one (or null) per input.");
            var result = new Tensor?[grads.Length];
            for (int i = 0; i < grads.Length; i++)
            {
                if (grads[i] is not { } g || !ctx.NeedsInputGrad[i]) continue;
                g.ThrowIfDisposed(ctx.Name);
                if (!ShapeUtil.SameShape(g.ShapeArray, shapes[i]) && BroadcastsTo(shapes[i], g.ShapeArray))
                {
                    // A gradient in the broadcast shape is summed down to the input's, as PyTorch does.
                    result[i] = g.SumToShape(shapes[i]);
                    continue;
                }
                if (!ShapeUtil.SameShape(g.ShapeArray, shapes[i]) || g.DType != dtypes[i])
                    throw new InvalidOperationException(
                        $"{ctx.Name}: Backward returned a {ShapeUtil.Format(g.ShapeArray)} {g.DType.Name()} gradient for input {i}, which is {ShapeUtil.Format(shapes[i])} {dtypes[i].Name()}; a gradient has its input's shape (or one it broadcasts to) and dtype.");
                // The engine owns what it gets: a saved tensor handed back is given as an alias.
                result[i] = ctx.Saved.Any(s => ReferenceEquals(s, g)) ? g.Alias() : g;
            }
            return result;
        }

        private static bool BroadcastsTo(int[] shape, int[] target)
        {
            if (shape.Length > target.Length) return false;
            int lead = target.Length - shape.Length;
            for (int i = 0; i < shape.Length; i++)
                if (shape[i] != target[lead + i] && shape[i] != 1) return false;
            return true;
        }
    }

    /// <summary>What a <see cref="Function"/>'s forward hands its backward (PyTorch's <c>ctx</c>).</summary>
    public sealed class FunctionContext
    {
        private readonly List<Tensor> _saved = [];

        internal FunctionContext(string name, bool[] needsInputGrad)
        {
            Name = name;
            NeedsInputGrad = needsInputGrad;
        }

        internal string Name { get; }

        internal IReadOnlyList<Tensor> Saved => _saved;

        /// <summary>Per input: whether a gradient will be asked for (the op is recorded and the input requires grad).</summary>
        public IReadOnlyList<bool> NeedsInputGrad { get; }

        /// <summary>
        /// Keeps tensors (inputs, the output, or intermediates) for <see cref="Function.Backward"/>, as the
        /// built-in ops keep theirs: their values are checked at backward time, and a tensor changed in place
        /// after it was saved makes the backward throw. Call it from the forward.
        /// </summary>
        /// <param name="tensors">The tensors to keep, read back in this order from <see cref="SavedTensors"/>.</param>
        public void SaveForBackward(params Tensor[] tensors)
        {
            ArgumentNullException.ThrowIfNull(tensors);
            foreach (var t in tensors)
            {
                ArgumentNullException.ThrowIfNull(t, nameof(tensors));
                _saved.Add(t.Saved());
            }
        }

        /// <summary>The saved tensors, in the order they were saved; owned by the graph (do not dispose them).</summary>
        public IReadOnlyList<Tensor> SavedTensors => _saved;
    }
}
