namespace GpuNet.Kernels;

/// <summary>
/// Fused ops written in the primitive ops: the default bodies of <see cref="IBackend"/>'s fused
/// members (same results as a fused kernel, more launches), and the fallback a backend's fused
/// kernel takes for layouts it does not specialise.
/// </summary>
internal static class ComposedOps
{
    /// <summary><see cref="IBackend.BinaryUnary"/> as its two launches: the binary op into y, then the unary step in place.</summary>
    public static void BinaryUnary(IBackend backend, BinaryOp op, StridedView a, StridedView b, StridedView y, UnaryOp unary, double alpha, double beta)
    {
        if (op == BinaryOp.Pow) throw new ArgumentException("BinaryUnary: Pow is not exactly rounded, so it does not fuse; launch Binary and Unary apart.", nameof(op));
        backend.Binary(op, a, b, y);
        backend.Unary(unary, y, y, alpha, beta);
    }

    /// <summary>y ← y + alpha·x through a scaled copy of x (two launches, one temporary).</summary>
    public static void AddScaled(IBackend backend, StridedView y, StridedView x, double alpha)
    {
        if (alpha == 1)
        {
            backend.Binary(BinaryOp.Add, y, x, y);
            return;
        }
        using var scaledBuffer = backend.Allocate(y.DType, y.Count);
        var scaled = StridedView.Contiguous(scaledBuffer, y.Shape);
        backend.Unary(UnaryOp.Affine, x, scaled, alpha, 0);
        backend.Binary(BinaryOp.Add, y, scaled, y);
    }

    /// <summary>
    /// SGD with momentum in in-place passes: the decayed gradient into a temporary (with weight decay),
    /// copy or scale and axpy into the buffer, the flush, the Nesterov look-ahead into a temporary,
    /// axpy into the parameter.
    /// </summary>
    public static void SgdMomentumStep(IBackend backend, StridedView param, StridedView grad, StridedView buffer, SgdParameters hp)
    {
        using var decayed = DecayedGradient(backend, param, grad, hp.WeightDecay, out var d);
        if (hp.FirstStep) backend.Copy(d, buffer);
        else
        {
            backend.Unary(UnaryOp.Affine, buffer, buffer, hp.Momentum, 0);
            backend.AddScaled(buffer, d, 1 - hp.Dampening);
        }
        FlushSubnormals(backend, buffer);
        if (!hp.Nesterov)
        {
            backend.AddScaled(param, buffer, -hp.LearningRate);
            return;
        }
        using var ahead = backend.Allocate(param.DType, param.Count);
        var step = StridedView.Contiguous(ahead, param.Shape);
        backend.Unary(UnaryOp.Affine, buffer, step, hp.Momentum, 0);
        backend.Binary(BinaryOp.Add, d, step, step);
        backend.AddScaled(param, step, -hp.LearningRate);
    }

    /// <summary>RMSProp in elementwise launches through two temporaries, flushing each state it updates.</summary>
    public static void RmsPropStep(IBackend backend, StridedView param, StridedView grad, StridedView square, StridedView? gradAvg, StridedView? buffer, RmsPropParameters hp)
    {
        using var scratchBuffer = backend.Allocate(param.DType, param.Count);
        var scratch = StridedView.Contiguous(scratchBuffer, param.Shape);
        using var decayed = DecayedGradient(backend, param, grad, hp.WeightDecay, out var d);
        // s ← α·s + (1 − α)·d²
        backend.Binary(BinaryOp.Mul, d, d, scratch);
        backend.Unary(UnaryOp.Affine, square, square, hp.Alpha, 0);
        backend.AddScaled(square, scratch, 1 - hp.Alpha);
        FlushSubnormals(backend, square);
        if (hp.Centered && gradAvg is { } a)
        {
            backend.Unary(UnaryOp.Affine, a, a, hp.Alpha, 0);
            backend.AddScaled(a, d, 1 - hp.Alpha);
            FlushSubnormals(backend, a);
            backend.Binary(BinaryOp.Mul, a, a, scratch);
            backend.Binary(BinaryOp.Sub, square, scratch, scratch);
            backend.Unary(UnaryOp.Sqrt, scratch, scratch);
        }
        else backend.Unary(UnaryOp.Sqrt, square, scratch);
        backend.Unary(UnaryOp.Affine, scratch, scratch, 1, hp.Epsilon);
        backend.Binary(BinaryOp.Div, d, scratch, scratch);
        if (hp.Momentum > 0 && buffer is { } b)
        {
            backend.Unary(UnaryOp.Affine, b, b, hp.Momentum, 0);
            backend.Binary(BinaryOp.Add, b, scratch, b);
            FlushSubnormals(backend, b);
            backend.AddScaled(param, b, -hp.LearningRate);
        }
        else backend.AddScaled(param, scratch, -hp.LearningRate);
    }

    /// <summary>
    /// The gradient with L2 weight decay, <paramref name="d"/> = wd·p + g, in a new temporary that the
    /// caller disposes (the return value); without decay <paramref name="d"/> is g itself and nothing is allocated.
    /// </summary>
    private static DeviceBuffer? DecayedGradient(IBackend backend, StridedView param, StridedView grad, double weightDecay, out StridedView d)
    {
        d = grad;
        if (weightDecay == 0) return null;
        var decayed = backend.Allocate(param.DType, param.Count);
        d = StridedView.Contiguous(decayed, param.Shape);
        backend.Unary(UnaryOp.Affine, param, d, weightDecay, 0);
        backend.Binary(BinaryOp.Add, d, grad, d);
        return decayed;
    }

    /// <summary>
    /// x ← 0 wherever |x| is below the dtype's smallest normal number, as x · (|x| ≥ min normal), so NaN
    /// and ±∞ stay. The fused optimizer steps store their moments this way (see <see cref="Subnormals"/>).
    /// </summary>
    public static void FlushSubnormals(IBackend backend, StridedView x)
    {
        if (x.Count == 0) return;
        using var maskBuffer = backend.Allocate(x.DType, x.Count);
        var mask = StridedView.Contiguous(maskBuffer, x.Shape);
        backend.Unary(UnaryOp.Abs, x, mask);
        using var tinyBuffer = backend.Allocate(x.DType, 1);
        backend.Fill(StridedView.Contiguous(tinyBuffer, [1]), Subnormals.MinNormal(x.DType));
        backend.Binary(BinaryOp.Ge, mask, new StridedView(tinyBuffer, x.Shape, new int[x.Rank], 0), mask);
        backend.Binary(BinaryOp.Mul, x, mask, x);
    }

    /// <summary>Default body of <see cref="IBackend.MatMulEpilogue"/>: the product, then the bias and the activation in place.</summary>
    public static void MatMulEpilogue(IBackend backend, StridedView a, StridedView b, StridedView c, StridedView? bias, Activation activation)
    {
        backend.MatMul(a, b, c);
        if (bias is { } bv) backend.Binary(BinaryOp.Add, c, bv, c);
        if (activation.ToUnaryOp() is { } op)
        {
            var (alpha, beta) = activation.Parameters();
            backend.Unary(op, c, c, alpha, beta);
        }
    }

    /// <summary>Default body of <see cref="IBackend.ActivationBackward"/>: the slope from y in one or two launches and the product (a copy without an activation), then a row sum for the bias.</summary>
    public static void ActivationBackward(IBackend backend, StridedView grad, StridedView output, Activation activation, StridedView dz, StridedView? biasGrad)
    {
        // The slope is built in dz before it multiplies grad: when dz is grad, in a temporary instead.
        using var temporary = activation.ToUnaryOp() is not null && dz.Buffer == grad.Buffer ? backend.Allocate(dz.DType, dz.Count) : null;
        var slope = temporary is null ? dz : StridedView.Contiguous(temporary, dz.Shape);
        switch (activation)
        {
            case Activation.Relu:
                {
                    using var zeroBuffer = backend.Allocate(output.DType, 1);
                    backend.Fill(StridedView.Contiguous(zeroBuffer, [1]), 0);
                    backend.Binary(BinaryOp.Gt, output, new StridedView(zeroBuffer, output.Shape, new int[output.Rank], 0), slope);
                    break;
                }
            case Activation.Sigmoid:
                backend.Unary(UnaryOp.Affine, output, slope, -1, 1);
                backend.Binary(BinaryOp.Mul, slope, output, slope);
                break;
            case Activation.Tanh:
                backend.Binary(BinaryOp.Mul, output, output, slope);
                backend.Unary(UnaryOp.Affine, slope, slope, -1, 1);
                break;
            default:
                if (activation.ToUnaryOp() is not null) ComposedSlope(backend, output, activation, slope);
                break;
        }
        if (activation.ToUnaryOp() is null) backend.Copy(grad, dz);
        else backend.Binary(BinaryOp.Mul, grad, slope, dz);
        if (biasGrad is not { } db) return;
        int rows = dz.Shape[0], features = dz.Shape[1];
        backend.Reduce(ReduceOp.Sum, new StridedView(dz.Buffer, [1, rows, features], [0, dz.Strides[0], dz.Strides[1]], dz.Offset),
            new StridedView(db.Buffer, [1, features], [0, db.Strides[0]], db.Offset));
    }

    /// <summary>
    /// dz = activation′ for the activations after tanh, from their output y (LeakyReLU, ELU, Softplus) or
    /// their input z (GELU, its tanh form, SiLU), in elementwise launches through up to three temporaries.
    /// </summary>
    private static void ComposedSlope(IBackend backend, StridedView v, Activation activation, StridedView dz)
    {
        var dtype = v.DType;
        using var oneBuffer = backend.Allocate(dtype, 1);
        backend.Fill(StridedView.Contiguous(oneBuffer, [1]), 1);
        var one = new StridedView(oneBuffer, v.Shape, new int[v.Rank], 0);
        using var b1 = backend.Allocate(dtype, v.Count);
        using var b2 = backend.Allocate(dtype, v.Count);
        var t1 = StridedView.Contiguous(b1, v.Shape);
        var t2 = StridedView.Contiguous(b2, v.Shape);
        const double SqrtTwoOverPi = 0.7978845608028654, GeluC = 0.044715;
        switch (activation)
        {
            case Activation.LeakyRelu:
                // y > 0 ? 1 : slope, through a where (an affine map of the mask would round 0.99 + 0.01).
                backend.Fill(t2, activation.Parameters().Alpha);
                Positive(backend, v, t1);
                backend.Where(t1, one, t2, dz);
                break;
            case Activation.Elu:
                // y > 0 ? 1 : y + α
                backend.Unary(UnaryOp.Affine, v, t2, 1, activation.Parameters().Alpha);
                Positive(backend, v, t1);
                backend.Where(t1, one, t2, dz);
                break;
            case Activation.Softplus:
                // σ(x) = 1 − e^(−y) = −expm1(−y); 1 where the threshold made y = x.
                backend.Unary(UnaryOp.Affine, v, t2, -1, 0);
                backend.Unary(UnaryOp.Expm1, t2, t2);
                backend.Unary(UnaryOp.Affine, t2, t2, -1, 0);
                backend.Fill(t1, activation.Parameters().Beta);
                backend.Binary(BinaryOp.Gt, v, t1, t1);
                backend.Where(t1, one, t2, dz);
                break;
            case Activation.Gelu:
                // Φ(z) + z·φ(z)
                backend.Unary(UnaryOp.Affine, v, t1, 0.7071067811865476, 0);
                backend.Unary(UnaryOp.Erf, t1, t1);
                backend.Unary(UnaryOp.Affine, t1, t1, 0.5, 0.5);
                backend.Binary(BinaryOp.Mul, v, v, t2);
                backend.Unary(UnaryOp.Affine, t2, t2, -0.5, 0);
                backend.Unary(UnaryOp.Exp, t2, t2);
                backend.Unary(UnaryOp.Affine, t2, t2, 0.3989422804014327, 0);
                backend.Binary(BinaryOp.Mul, t2, v, t2);
                backend.Binary(BinaryOp.Add, t1, t2, dz);
                break;
            case Activation.GeluTanh:
                // s = σ(2√(2/π)(z + c z³)); slope = s·(1 + 2z(1 − s)·√(2/π)(1 + 3c z²))
                backend.Binary(BinaryOp.Mul, v, v, t1);
                backend.Unary(UnaryOp.Affine, t1, t2, GeluC, 1);
                backend.Binary(BinaryOp.Mul, t2, v, t2);
                backend.Unary(UnaryOp.Affine, t2, t2, 2 * SqrtTwoOverPi, 0);
                backend.Unary(UnaryOp.Sigmoid, t2, t2);
                backend.Unary(UnaryOp.Affine, t1, t1, 3 * GeluC * SqrtTwoOverPi, SqrtTwoOverPi);
                backend.Binary(BinaryOp.Mul, t1, v, t1);
                backend.Unary(UnaryOp.Affine, t1, t1, 2, 0);
                backend.Unary(UnaryOp.Affine, t2, dz, -1, 1);
                backend.Binary(BinaryOp.Mul, t1, dz, t1);
                backend.Unary(UnaryOp.Affine, t1, t1, 1, 1);
                backend.Binary(BinaryOp.Mul, t1, t2, dz);
                break;
            case Activation.Silu:
                // σ(z)(1 + z(1 − σ(z)))
                backend.Unary(UnaryOp.Sigmoid, v, t1);
                backend.Unary(UnaryOp.Affine, t1, t2, -1, 1);
                backend.Binary(BinaryOp.Mul, t2, v, t2);
                backend.Unary(UnaryOp.Affine, t2, t2, 1, 1);
                backend.Binary(BinaryOp.Mul, t2, t1, dz);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(activation), activation, "ActivationBackward: unknown activation.");
        }
    }

    /// <summary>mask = (v &gt; 0) as 1/0.</summary>
    private static void Positive(IBackend backend, StridedView v, StridedView mask)
    {
        using var zeroBuffer = backend.Allocate(v.DType, 1);
        backend.Fill(StridedView.Contiguous(zeroBuffer, [1]), 0);
        backend.Binary(BinaryOp.Gt, v, new StridedView(zeroBuffer, v.Shape, new int[v.Rank], 0), mask);
    }

    /// <summary>
    /// Default body of <see cref="IBackend.SoftmaxCrossEntropy"/>: log-softmax into a temporary, gather at the labels, negate; exp and a
    /// scatter of −1 for the gradient. With <paramref name="ignoreIndex"/>, ignored labels are replaced by 0 first and their rows
    /// multiplied by 0 afterwards.
    /// </summary>
    public static void SoftmaxCrossEntropy(IBackend backend, StridedView logits, StridedView labels, StridedView losses, StridedView? gradient, int? ignoreIndex = null)
    {
        int rows = logits.Shape[0], classes = logits.Shape[1];
        if (ignoreIndex is { } ignore && rows > 0)
        {
            // keep = (label ≠ ignore) as 1/0; the labels used are label·keep, in range for the ignored rows too.
            using var keepBuffer = backend.Allocate(DType.Int32, 2L * rows + 1);
            var keep = StridedView.Contiguous(keepBuffer, [rows]);
            var safe = new StridedView(keepBuffer, [rows], [1], rows);
            backend.Fill(new StridedView(keepBuffer, [1], [1], 2L * rows), ignore);
            backend.Binary(BinaryOp.Ne, labels, new StridedView(keepBuffer, [rows], [0], 2L * rows), keep);
            backend.Binary(BinaryOp.Mul, labels, keep, safe);
            SoftmaxCrossEntropy(backend, logits, safe, losses, gradient);
            using var scaleBuffer = backend.Allocate(logits.DType, rows);
            var scale = StridedView.Contiguous(scaleBuffer, [rows]);
            backend.Copy(keep, scale);
            backend.Binary(BinaryOp.Mul, losses, scale, losses);
            if (gradient is { } gk) backend.Binary(BinaryOp.Mul, gk, new StridedView(scaleBuffer, [rows, classes], [1, 0], 0), gk);
            return;
        }
        using var logp = backend.Allocate(logits.DType, (long)rows * classes);
        var logp3 = StridedView.Contiguous(logp, [rows, classes, 1]);
        backend.Softmax(new StridedView(logits.Buffer, [rows, classes, 1], [logits.Strides[0], logits.Strides[1], 0], logits.Offset), logp3, log: true);
        var index3 = new StridedView(labels.Buffer, [rows, 1, 1], [labels.Strides[0], 0, 0], labels.Offset);
        var losses3 = new StridedView(losses.Buffer, [rows, 1, 1], [losses.Strides[0], 0, 0], losses.Offset);
        backend.Gather(logp3, index3, losses3);
        backend.Unary(UnaryOp.Neg, losses, losses);
        if (gradient is not { } g) return;
        var g3 = new StridedView(g.Buffer, [rows, classes, 1], [g.Strides[0], g.Strides[1], 0], g.Offset);
        backend.Unary(UnaryOp.Exp, logp3, g3);
        FlushSubnormals(backend, g3);
        using var minusOne = backend.Allocate(logits.DType, 1);
        var m1 = new StridedView(minusOne, [rows, 1, 1], [0, 0, 0], 0);
        backend.Fill(StridedView.Contiguous(minusOne, [1]), -1);
        backend.ScatterAdd(m1, index3, g3);
    }

    /// <summary>
    /// Default body of <see cref="IBackend.Normalize"/>: the row mean by a sum reduction, the centred values
    /// into y, the biased variance from their squares, rstd by square root and reciprocal, then y scaled in
    /// place (accumulating in the dtype, as the reductions do).
    /// </summary>
    public static void Normalize(IBackend backend, StridedView x, StridedView y, StridedView mean, StridedView rstd, double epsilon)
    {
        int rows = x.Shape[0], n = x.Shape[1];
        var mean2 = Column(mean, rows);
        var rstd2 = Column(rstd, rows);
        backend.Reduce(ReduceOp.Sum, new StridedView(x.Buffer, [rows, n, 1], [x.Strides[0], x.Strides[1], 0], x.Offset), mean2);
        backend.Unary(UnaryOp.Affine, mean2, mean2, 1.0 / n, 0);
        backend.Binary(BinaryOp.Sub, x, Broadcast(mean, rows, n), y);
        using var squareBuffer = backend.Allocate(x.DType, (long)rows * n);
        var square = StridedView.Contiguous(squareBuffer, [rows, n]);
        backend.Binary(BinaryOp.Mul, y, y, square);
        backend.Reduce(ReduceOp.Sum, StridedView.Contiguous(squareBuffer, [rows, n, 1]), rstd2);
        backend.Unary(UnaryOp.Affine, rstd2, rstd2, 1.0 / n, epsilon);
        backend.Unary(UnaryOp.Sqrt, rstd2, rstd2);
        backend.Unary(UnaryOp.Reciprocal, rstd2, rstd2);
        backend.Binary(BinaryOp.Mul, y, Broadcast(rstd, rows, n), y);
    }

    /// <summary>
    /// Default body of <see cref="IBackend.NormalizeBackward"/>: the two row means by sum reductions, then
    /// dx = (grad − mean(grad) − y·mean(grad ⊙ y))·rstd in four elementwise launches.
    /// </summary>
    public static void NormalizeBackward(IBackend backend, StridedView grad, StridedView normalized, StridedView rstd, StridedView dx)
    {
        int rows = grad.Shape[0], n = grad.Shape[1];
        using var meansBuffer = backend.Allocate(grad.DType, 2L * rows);
        var meanGrad = StridedView.Contiguous(meansBuffer, [rows]);
        var meanGradY = new StridedView(meansBuffer, [rows], [1], rows);
        backend.Reduce(ReduceOp.Sum, new StridedView(grad.Buffer, [rows, n, 1], [grad.Strides[0], grad.Strides[1], 0], grad.Offset), Column(meanGrad, rows));
        using var productBuffer = backend.Allocate(grad.DType, (long)rows * n);
        var product = StridedView.Contiguous(productBuffer, [rows, n]);
        backend.Binary(BinaryOp.Mul, grad, normalized, product);
        backend.Reduce(ReduceOp.Sum, StridedView.Contiguous(productBuffer, [rows, n, 1]), Column(meanGradY, rows));
        backend.Unary(UnaryOp.Affine, StridedView.Contiguous(meansBuffer, [2 * rows]), StridedView.Contiguous(meansBuffer, [2 * rows]), 1.0 / n, 0);
        backend.Binary(BinaryOp.Mul, normalized, Broadcast(meanGradY, rows, n), product);
        backend.Binary(BinaryOp.Sub, grad, product, product);
        backend.Binary(BinaryOp.Sub, product, Broadcast(meanGrad, rows, n), product);
        backend.Binary(BinaryOp.Mul, product, Broadcast(rstd, rows, n), dx);
    }

    /// <summary>A [rows] view as the [rows, 1] output of a reduction over the middle axis of [rows, n, 1].</summary>
    private static StridedView Column(StridedView v, int rows) => new(v.Buffer, [rows, 1], [v.Strides[0], 0], v.Offset);

    /// <summary>A [rows] view broadcast along a new last axis of extent n.</summary>
    private static StridedView Broadcast(StridedView v, int rows, int n) => new(v.Buffer, [rows, n], [v.Strides[0], 0], v.Offset);

    /// <summary>Default body of <see cref="IBackend.AdamStep"/>: the update in thirteen elementwise launches through one or two temporaries, and the moments' subnormal flush.</summary>
    public static void AdamStep(IBackend backend, StridedView param, StridedView grad, StridedView m, StridedView v, AdamParameters hp)
    {
        using var decayed = DecayedGradient(backend, param, grad, hp.Decoupled ? 0 : hp.WeightDecay, out var g);
        if (hp.WeightDecay != 0 && hp.Decoupled) backend.Unary(UnaryOp.Affine, param, param, 1 - hp.LearningRate * hp.WeightDecay, 0);
        // m ← β₁m + (1−β₁)g, as m·β₁ then += (1−β₁)g through the scratch buffer.
        using var scratchBuffer = backend.Allocate(param.DType, param.Count);
        var scratch = StridedView.Contiguous(scratchBuffer, param.Shape);
        backend.Unary(UnaryOp.Affine, g, scratch, 1 - hp.Beta1, 0);
        backend.Unary(UnaryOp.Affine, m, m, hp.Beta1, 0);
        backend.Binary(BinaryOp.Add, m, scratch, m);
        backend.Binary(BinaryOp.Mul, g, g, scratch);
        backend.Unary(UnaryOp.Affine, scratch, scratch, 1 - hp.Beta2, 0);
        backend.Unary(UnaryOp.Affine, v, v, hp.Beta2, 0);
        backend.Binary(BinaryOp.Add, v, scratch, v);
        FlushSubnormals(backend, m);
        FlushSubnormals(backend, v);
        double bc1 = 1 - Math.Pow(hp.Beta1, hp.Step), bc2 = 1 - Math.Pow(hp.Beta2, hp.Step);
        // denominator = √v / √bc2 + ε; update = (lr / bc1) · m / denominator
        backend.Unary(UnaryOp.Sqrt, v, scratch);
        backend.Unary(UnaryOp.Affine, scratch, scratch, 1 / Math.Sqrt(bc2), hp.Epsilon);
        backend.Binary(BinaryOp.Div, m, scratch, scratch);
        backend.Unary(UnaryOp.Affine, scratch, scratch, -hp.LearningRate / bc1, 0);
        backend.Binary(BinaryOp.Add, param, scratch, param);
    }
}
