using GpuNet.Kernels;

namespace GpuNet;

/// <summary>
/// Fused tensor ops (PyTorch's <c>torch.nn.functional</c> where the names match): each is one
/// backend launch forward and one graph node, with a VJP that does in a few launches what the
/// composed ops would do in many. Results equal the composed ops' up to rounding.
/// </summary>
public static partial class Functional
{
    /// <summary>
    /// y = activation(x·Wᵀ + b) for x = [..., in], W = [out, in], b = [out] (PyTorch's <c>F.linear</c> followed
    /// by the activation), computed by one GEMM whose epilogue adds the bias and applies the activation
    /// while each tile is in cache. Backward: dZ = g ⊙ activation′ (from the saved output), dX = dZ·W,
    /// dW = dZᵀ·X (written dense in W's layout), db = Σ dZ over rows. GELU and SiLU, whose derivative
    /// needs the pre-activation Z (<see cref="ActivationOps.SlopeFromInput"/>), keep Z instead when the op is
    /// recorded: the GEMM writes Z and one elementwise launch the output. The fused activations take
    /// PyTorch's default parameters (<see cref="ActivationOps.Parameters"/>).
    /// </summary>
    public static Tensor Linear(Tensor input, Tensor weight, Tensor? bias = null, Activation activation = Activation.None)
    {
        const string op = "Linear";
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        input.ThrowIfDisposed(op);
        weight.ThrowIfDisposed(op);
        Tensor.CheckSameDevice(op, input, weight);
        if (weight.Rank != 2)
            throw new ArgumentException($"{op}: weight must be [out, in]; got {ShapeUtil.Format(weight.ShapeArray)}.");
        int outFeatures = weight.Shape[0], inFeatures = weight.Shape[1];
        if (input.Rank == 0 || input.Shape[^1] != inFeatures)
            throw new ArgumentException($"{op}: input {ShapeUtil.Format(input.ShapeArray)} x weight {ShapeUtil.Format(weight.ShapeArray)}: the input's last dim must be {inFeatures}.");
        if (!input.DType.IsFloating() || input.DType != weight.DType)
            throw new ArgumentException($"{op}: input ({input.DType.Name()}) and weight ({weight.DType.Name()}) must share one floating dtype.");
        if (bias is not null)
        {
            bias.ThrowIfDisposed(op);
            Tensor.CheckSameDevice(op, input, bias);
            if (bias.Rank != 1 || bias.Shape[0] != outFeatures || bias.DType != weight.DType)
                throw new ArgumentException($"{op}: bias must be [{outFeatures}] {weight.DType.Name()}; got {ShapeUtil.Format(bias.ShapeArray)} {bias.DType.Name()}.");
        }

        int rows = (int)(input.NumElements / Math.Max(inFeatures, 1));
        int[] outShape = [.. input.Shape[..^1], outFeatures];
        var y = Tensor.Empty(outShape, input.DType, input.Device, op);
        Tensor[] inputs = bias is null ? [input, weight] : [input, weight, bias];
        // Z for the backward of an activation whose derivative is not a function of its output.
        var z = activation.SlopeFromInput() && Tensor.WillRecord(inputs) ? Tensor.Empty(outShape, input.DType, input.Device, op) : null;
        var (alpha, beta) = activation.Parameters();
        if (y.NumElements > 0)
        {
            var x2 = RowsView(input, rows, inFeatures, out var copy);
            using (copy)
            {
                var wt = new StridedView(weight.Buffer, [1, inFeatures, outFeatures], [0, weight.Strides[1], weight.Strides[0]], weight.Offset);
                var c = StridedView.Contiguous(y.Buffer, [1, rows, outFeatures]);
                var zc = z is null ? c : StridedView.Contiguous(z.Buffer, [1, rows, outFeatures]);
                StridedView? b = bias is null ? null : new StridedView(bias.Buffer, [1, rows, outFeatures], [0, 0, bias.Strides[0]], bias.Offset);
                if (inFeatures == 0)
                {
                    input.Backend.Fill(zc, 0);
                    if (b is { } bv) input.Backend.Binary(BinaryOp.Add, zc, bv, zc);
                    if (activation.ToUnaryOp() is { } act) input.Backend.Unary(act, zc, c, alpha, beta);
                }
                else if (z is null) input.Backend.MatMulEpilogue(x2, wt, c, b, activation);
                else
                {
                    input.Backend.MatMulEpilogue(x2, wt, zc, b, Activation.None);
                    input.Backend.Unary(activation.ToUnaryOp()!.Value, zc, c, alpha, beta);
                }
            }
        }

        // The slope's argument: the output, or Z (see ActivationOps.SlopeFromInput); Z is a temporary the node owns.
        // Z stands nowhere in the graph, so a createGraph backward recomputes it from the saved operands (the bias
        // is saved too) to differentiate the slope; the output y is this node's own and needs no such care.
        Tensor[] save = activation == Activation.None ? [input, weight]
            : z is null ? [input, weight, y]
            : bias is null ? [input, weight, z] : [input, weight, z, bias];
        var inputShape = input.ShapeArray;
        var result = Tensor.Record(y, $"Linear({activation})", inputs, save, (g, s) =>
        {
            Tensor? dx = null, dw = null, db = null;
            bool wantBias = bias is not null && bias.RequiresGrad;
            bool createGraph = Tape.GradMode.IsEnabled;
            var zGraph = createGraph && activation.SlopeFromInput() ? Linear(s[0], s[1], bias is null ? null : s[3]) : null;
            var dz2 = !createGraph && activation != Activation.None
                ? FusedActivationBackward(g, s[2], activation, rows, outFeatures, wantBias, out db)
                : ComposedActivationBackward(g, activation == Activation.None ? null : zGraph ?? s[2], activation, rows, outFeatures);
            if (s[0].RequiresGrad)
            {
                dx = dz2.MatMul(s[1]).Reshape(inputShape);
            }
            if (s[1].RequiresGrad)
            {
                dw = dz2.T.MatMul(s[0].Reshape([rows, inFeatures]));
            }
            if (wantBias && db is null) db = dz2.Sum(0);
            return bias is null ? [dx, dw] : [dx, dw, db];
        });
        z?.Dispose(); // the node keeps its saved alias
        return result;
    }

    // The helpers below run inside the VJP, whose scope frees their temporaries.

    /// <summary>dZ as [rows, out] from the differentiable ops (so a createGraph backward can be differentiated again).</summary>
    private static Tensor ComposedActivationBackward(Tensor g, Tensor? y, Activation activation, int rows, int outFeatures) =>
        ActivationBackward(g, y, activation).Reshape([rows, outFeatures]);

    /// <summary>dZ as [rows, out] and the bias gradient from the backend's one-pass <see cref="IBackend.ActivationBackward"/>.</summary>
    private static Tensor FusedActivationBackward(Tensor g, Tensor y, Activation activation, int rows, int outFeatures, bool wantBias, out Tensor? db)
    {
        // A spare incoming gradient (one the engine frees right after) takes dz in place: the backward of a
        // wide layer then holds one [rows, out] gradient less at its peak (IBackend.ActivationBackward allows it).
        bool inPlace = g.IsSpareGradient;
        var g2 = g.Reshape([rows, outFeatures]);
        var y2 = y.Reshape([rows, outFeatures]);
        var dz = inPlace ? g2.Alias() : Tensor.Empty([rows, outFeatures], g.DType, g.Device, "Linear");
        db = wantBias ? Tensor.Empty([outFeatures], g.DType, g.Device, "Linear") : null;
        if (dz.NumElements > 0) g.Backend.ActivationBackward(g2.AsView(), y2.AsView(), activation, dz.AsView(), db?.AsView());
        else db?.Backend.Fill(db.AsView(), 0);
        return dz;
    }

    /// <summary>g ⊙ activation′, with the derivative written in terms of the activation's output y (or its input, see <see cref="ActivationOps.SlopeFromInput"/>).</summary>
    private static Tensor ActivationBackward(Tensor g, Tensor? y, Activation activation)
    {
        return activation switch
        {
            Activation.Gelu => g * Tensor.GeluSlope(y!),
            Activation.GeluTanh => g * Tensor.GeluTanhSlope(y!),
            Activation.Silu => g * Tensor.SiluSlope(y!),
            Activation.LeakyRelu => Tensor.Where(y!.Gt(0), g, g * activation.Parameters().Alpha),
            Activation.Elu => Tensor.Where(y!.Gt(0), g, g * (y! + activation.Parameters().Alpha)),                  // y > 0 ? 1 : y + α
            Activation.Softplus => Tensor.Where(y!.Gt(activation.Parameters().Beta), g, (g * y!.Neg().Expm1()).Neg()), // σ(x) = −expm1(−y); 1 where the threshold made y = x
            Activation.Relu => g * y!.Gt(0),
            Activation.Sigmoid => g * (y! * (1.0 - y!)),
            Activation.Tanh => g * (1.0 - y! * y!),
            _ => g,
        };
    }

    /// <summary>The input as a [1, rows, in] view; leading dims that do not collapse into one stride are copied.</summary>
    private static StridedView RowsView(Tensor input, int rows, int inFeatures, out Tensor? copy)
    {
        copy = null;
        var src = input;
        if (!ShapeUtil.TryCollapse(src.ShapeArray, src.StrideArray, 0, src.Rank - 1, out _, out int rowStride))
        {
            using (Autograd.NoGrad()) copy = src = input.Contiguous(forceCopy: true);
            rowStride = inFeatures;
        }
        return new StridedView(src.Buffer, [1, rows, inFeatures], [0, rowStride, src.Strides[^1]], src.Offset);
    }

    /// <summary>
    /// Per-row cross-entropy −log softmax(logits)[label] of logits [N, C] against Int32 labels [N], as a
    /// [N] tensor, computed in one pass that also produces softmax − onehot for the backward (so the
    /// backward is one multiply). Reduce it with <see cref="Tensor.Mean()"/> or <see cref="Tensor.Sum()"/>.
    /// Under <c>createGraph</c> the backward is rebuilt from differentiable ops, so double backward works.
    /// A row whose label is <paramref name="ignoreIndex"/> (when given) has loss 0 and no gradient, in the same pass.
    /// </summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor labels, int? ignoreIndex = null)
    {
        const string op = "CrossEntropy";
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(labels);
        logits.ThrowIfDisposed(op);
        labels.ThrowIfDisposed(op);
        Tensor.CheckSameDevice(op, logits, labels);
        if (logits.Rank != 2 || !logits.DType.IsFloating())
            throw new ArgumentException($"{op}: logits must be a floating [batch, classes] tensor; got {logits.DType.Name()} {ShapeUtil.Format(logits.ShapeArray)}.");
        if (labels.Rank != 1 || labels.Shape[0] != logits.Shape[0] || labels.DType != DType.Int32)
            throw new ArgumentException($"{op}: labels must be Int32 [{logits.Shape[0]}]; got {labels.DType.Name()} {ShapeUtil.Format(labels.ShapeArray)}.");
        int rows = logits.Shape[0], classes = logits.Shape[1];
        if (classes == 0 && rows > 0) throw new ArgumentException($"{op}: logits {ShapeUtil.Format(logits.ShapeArray)} have no classes.");

        var losses = Tensor.Empty([rows], logits.DType, logits.Device, op);
        bool record = Tensor.WillRecord(logits);
        Tensor? gradient = record ? Tensor.Empty(logits.ShapeArray, logits.DType, logits.Device, op).DetachFromScope() : null;
        if (rows > 0)
            logits.Backend.SoftmaxCrossEntropy(logits.AsView(), labels.AsView(), losses.AsView(), gradient?.AsView(), ignoreIndex);
        if (!record) return losses;

        var savedLogits = logits.Saved();
        var savedLabels = labels.Saved();
        return Tensor.Record(losses, "CrossEntropy", [logits], g =>
        {
            var column = g.Unsqueeze(1);
            if (!Tape.GradMode.IsEnabled) return [gradient! * column];
            // createGraph: softmax − onehot from recorded ops, so the gradient can be differentiated again.
            var p = savedLogits.Softmax(1);
            if (ignoreIndex is not { } ignore) return [(p - Tensor.OneHot(savedLabels, classes, p.DType)) * column];
            // Ignored rows get no gradient: their (arbitrary) label is replaced by 0 for the one-hot, then masked out.
            var keepInt = savedLabels.Ne(ignore);
            var keepColumn = keepInt.To(p.DType).Unsqueeze(1);
            return [(p - Tensor.OneHot(savedLabels * keepInt, classes, p.DType)) * keepColumn * column];
        }, gradient!, savedLogits, savedLabels);
    }

    /// <summary>
    /// One Adam/AdamW update in place on <paramref name="param"/> and its moments <paramref name="m"/>,
    /// <paramref name="v"/> (PyTorch's formulas, see <see cref="AdamParameters"/>), in one pass over the
    /// four tensors. Not recorded: it is an optimizer step.
    /// </summary>
    public static void AdamStep(Tensor param, Tensor grad, Tensor m, Tensor v, AdamParameters hyperparameters)
    {
        const string op = "AdamStep";
        if (!CheckStepOperands(op, param, [grad, m, v], [m, v])) return;
        param.Backend.AdamStep(param.AsView(), grad.AsView(), m.AsView(), v.AsView(), hyperparameters);
    }

    /// <summary>
    /// One RMSProp update in place on <paramref name="param"/> and its state (PyTorch's formulas, see
    /// <see cref="RmsPropParameters"/>): <paramref name="gradAvg"/> is needed when centered and
    /// <paramref name="buffer"/> with momentum. One pass over memory on the backends that fuse it. Not recorded.
    /// </summary>
    public static void RmsPropStep(Tensor param, Tensor grad, Tensor square, Tensor? gradAvg, Tensor? buffer, RmsPropParameters hyperparameters)
    {
        const string op = "RmsPropStep";
        if (hyperparameters.Centered && gradAvg is null) throw new ArgumentException($"{op}: a centered step needs the gradient average.");
        if (hyperparameters.Momentum > 0 && buffer is null) throw new ArgumentException($"{op}: a step with momentum {hyperparameters.Momentum} needs the momentum buffer.");
        var tensors = new List<Tensor> { grad, square };
        if (hyperparameters.Centered) tensors.Add(gradAvg!);
        if (hyperparameters.Momentum > 0) tensors.Add(buffer!);
        if (!CheckStepOperands(op, param, tensors, tensors.Skip(1))) return;
        param.Backend.RmsPropStep(param.AsView(), grad.AsView(), square.AsView(),
            hyperparameters.Centered ? gradAvg!.AsView() : null, hyperparameters.Momentum > 0 ? buffer!.AsView() : null, hyperparameters);
    }

    /// <summary>
    /// One SGD-with-momentum update in place, without weight decay or Nesterov momentum:
    /// buffer ← grad on the first step, else buffer ← momentum·buffer + (1 − dampening)·grad; then
    /// param ← param − lr·buffer. Not recorded.
    /// </summary>
    public static void SgdMomentumStep(Tensor param, Tensor grad, Tensor buffer, double learningRate, double momentum, double dampening, bool firstStep) =>
        SgdMomentumStep(param, grad, buffer, new SgdParameters(learningRate, momentum, dampening, firstStep));

    /// <summary>
    /// One SGD-with-momentum update in place on <paramref name="param"/> and its momentum
    /// <paramref name="buffer"/>, PyTorch's formula with weight decay and Nesterov momentum (see
    /// <see cref="SgdParameters"/>), in one pass over memory on the backends that fuse it. Not recorded.
    /// </summary>
    public static void SgdMomentumStep(Tensor param, Tensor grad, Tensor buffer, SgdParameters hyperparameters)
    {
        const string op = "SgdMomentumStep";
        if (!CheckStepOperands(op, param, [grad, buffer], [buffer])) return;
        param.Backend.SgdMomentumStep(param.AsView(), grad.AsView(), buffer.AsView(), hyperparameters);
    }

    /// <summary>
    /// Checks an optimizer step's operands against <paramref name="param"/> (present, live, same device,
    /// shape and dtype, floating) and marks <paramref name="param"/> and the <paramref name="state"/> it
    /// updates as written in place; false when there is nothing to update.
    /// </summary>
    private static bool CheckStepOperands(string op, Tensor param, IReadOnlyList<Tensor> others, IEnumerable<Tensor> state)
    {
        ArgumentNullException.ThrowIfNull(param);
        param.ThrowIfDisposed(op);
        foreach (var t in others)
        {
            ArgumentNullException.ThrowIfNull(t);
            t.ThrowIfDisposed(op);
            Tensor.CheckSameDevice(op, param, t);
            if (!ShapeUtil.SameShape(t.ShapeArray, param.ShapeArray) || t.DType != param.DType)
                throw new ArgumentException($"{op}: param {ShapeUtil.Format(param.ShapeArray)} {param.DType.Name()} and a state or gradient tensor {ShapeUtil.Format(t.ShapeArray)} {t.DType.Name()} must match in shape and dtype.");
        }
        if (!param.DType.IsFloating()) throw new ArgumentException($"{op}: parameters must be floating; got {param.DType.Name()}.");
        param.MarkWritten(op);
        foreach (var t in state) t.MarkWritten(op);
        return param.NumElements > 0;
    }
}
