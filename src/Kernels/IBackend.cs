namespace GpuNet.Kernels;

/// <summary>
/// The primitive ops every device implements, on strided views. This is the whole contract
/// between the tensor layer and a device: shapes are already checked and broadcast (broadcast
/// operands arrive with zero strides), dtypes already agree, and outputs are allocated by the
/// caller. Ops are asynchronous on devices that can be; <see cref="Synchronize"/> and the
/// downloads wait for them.
/// </summary>
/// <remarks>
/// Dtype rules the caller guarantees: elementwise operands share one dtype (the output too,
/// comparisons included: a mask is 1/0 in the operands' dtype); <see cref="Copy"/> converts;
/// index operands are Int32; ArgMax/ArgMin write Int32. Ops marked "floating only" in
/// <see cref="UnaryOp"/>/<see cref="BinaryOp"/>, <see cref="Softmax"/>, <see cref="MatMul"/> and
/// <see cref="FillRandom"/> are never sent Int32.
/// </remarks>
public interface IBackend : IDisposable
{
    /// <summary>The device this backend computes on.</summary>
    Device Device { get; }

    /// <summary>The device's caching allocator.</summary>
    MemoryPool Pool { get; }

    /// <summary>Rents a buffer of <paramref name="length"/> elements; contents are undefined.</summary>
    DeviceBuffer Allocate(DType dtype, long length);

    /// <summary>Copies host data into <paramref name="dst"/> starting at element <paramref name="dstOffset"/>.</summary>
    void Upload<T>(ReadOnlySpan<T> src, DeviceBuffer dst, long dstOffset = 0) where T : unmanaged;

    /// <summary>Copies <c>dst.Length</c> elements from <paramref name="src"/> (from element <paramref name="srcOffset"/>) to the host; waits for pending work.</summary>
    void Download<T>(DeviceBuffer src, Span<T> dst, long srcOffset = 0) where T : unmanaged;

    /// <summary>Waits until every launched op has finished.</summary>
    void Synchronize();

    /// <summary>y = value everywhere in the view.</summary>
    void Fill(StridedView y, double value);

    /// <summary>y[i] = start + i·step over the view's elements in row-major order (Arange, Linspace).</summary>
    void FillAffine(StridedView y, double start, double step);

    /// <summary>
    /// Counter-based random numbers (Philox-4x32-10 keyed by <paramref name="seed"/>): the k-th
    /// element in row-major order is a pure function of (seed, counterOffset + k), identical on every backend.
    /// </summary>
    void FillRandom(StridedView y, RandomDistribution distribution, ulong seed, ulong counterOffset, double alpha, double beta);

    /// <summary>y = x elementwise, converting dtype when they differ (float→int truncates toward zero).</summary>
    void Copy(StridedView x, StridedView y);

    /// <summary>y = op(x) elementwise; x and y have one shape and one dtype.</summary>
    void Unary(UnaryOp op, StridedView x, StridedView y, double alpha = 0, double beta = 0);

    /// <summary>y = op(a, b) elementwise; a, b and y have one shape and one dtype.</summary>
    void Binary(BinaryOp op, StridedView a, StridedView b, StridedView y);

    /// <summary>y = condition ≠ 0 ? a : b; condition may have a different dtype from a, b, y.</summary>
    void Where(StridedView condition, StridedView a, StridedView b, StridedView y);

    /// <summary>
    /// Reduces the middle axis of a rank-3 view x = [outer, n, inner] into y = [outer, inner].
    /// n may be 0 only for Sum (giving 0). ArgMax/ArgMin write Int32 and return the first extreme index.
    /// </summary>
    void Reduce(ReduceOp op, StridedView x, StridedView y);

    /// <summary>
    /// Softmax (or log-softmax) over the middle axis of x = [outer, n, inner] into y of the same
    /// shape, numerically stable (the row maximum is subtracted first).
    /// </summary>
    void Softmax(StridedView x, StridedView y, bool log);

    /// <summary>
    /// Batched matrix product c[b] = a[b] · b[b] with a = [batch, m, k], b = [batch, k, n],
    /// c = [batch, m, n]. Any strides (transposes, broadcast batches) are allowed on a and b;
    /// c does not alias them.
    /// </summary>
    void MatMul(StridedView a, StridedView b, StridedView c);

    /// <summary>y[o, j, i] = x[o, index[o, j, i], i] with x = [outer, n, inner], index and y = [outer, m, inner]. Indices are in range.</summary>
    void Gather(StridedView x, StridedView index, StridedView y);

    /// <summary>
    /// y[o, index[o, j, i], i] += src[o, j, i] with src and index = [outer, m, inner], y = [outer, n, inner];
    /// accumulates into y, deterministically (no atomics: the order of additions is fixed).
    /// </summary>
    void ScatterAdd(StridedView src, StridedView index, StridedView y);

    // ---- fused ops: one pass where an MLP spends its time. The default bodies compose the
    // primitives above (same results, more launches); backends override them with fused kernels.

    /// <summary>
    /// y ← y + alpha·x in place (axpy), x broadcast to y's shape through zero strides: gradient
    /// accumulation and the optimizers' updates.
    /// </summary>
    void AddScaled(StridedView y, StridedView x, double alpha) => ComposedOps.AddScaled(this, y, x, alpha);

    /// <summary>
    /// y = unary(op(a, b)) with the unary's <paramref name="alpha"/> and <paramref name="beta"/>: <see cref="Binary"/>
    /// followed by <see cref="Unary"/> in one pass (a*b+1 with <see cref="UnaryOp.Affine"/>, relu(a+b), √(a·b)), with
    /// the rounding of the two launches apart: op's result is rounded to the dtype before the unary step. For the
    /// exactly rounded binary ops only (Add, Sub, Mul, Div, Maximum, Minimum and the comparisons); a and b
    /// broadcast to y's shape.
    /// </summary>
    void BinaryUnary(BinaryOp op, StridedView a, StridedView b, StridedView y, UnaryOp unary, double alpha, double beta) =>
        ComposedOps.BinaryUnary(this, op, a, b, y, unary, alpha, beta);

    /// <summary>
    /// One SGD-with-momentum update in place, PyTorch's formula (see <see cref="SgdParameters"/>) on
    /// param, grad and the momentum buffer, which have one shape and dtype. A subnormal buffer value
    /// is stored as zero (see <see cref="ComposedOps.FlushSubnormals"/>).
    /// </summary>
    void SgdMomentumStep(StridedView param, StridedView grad, StridedView buffer, SgdParameters hp) =>
        ComposedOps.SgdMomentumStep(this, param, grad, buffer, hp);

    /// <summary>
    /// One RMSProp update in place (see <see cref="RmsPropParameters"/>) on param, its squared-gradient
    /// average, and, when used, its gradient average (<see cref="RmsPropParameters.Centered"/>) and
    /// momentum buffer (<see cref="RmsPropParameters.Momentum"/> &gt; 0); all views have one shape and
    /// dtype. Subnormal state is stored as zero (see <see cref="ComposedOps.FlushSubnormals"/>).
    /// </summary>
    void RmsPropStep(StridedView param, StridedView grad, StridedView square, StridedView? gradAvg, StridedView? buffer, RmsPropParameters hp) =>
        ComposedOps.RmsPropStep(this, param, grad, square, gradAvg, buffer, hp);

    /// <summary>
    /// c = activation(a·b + bias): <see cref="MatMul"/> with its epilogue. <paramref name="bias"/>, when
    /// given, is already broadcast to c's shape [batch, m, n] (typically strides [0, 0, 1]).
    /// </summary>
    void MatMulEpilogue(StridedView a, StridedView b, StridedView c, StridedView? bias, Activation activation) =>
        ComposedOps.MatMulEpilogue(this, a, b, c, bias, activation);

    /// <summary>
    /// The backward of an activation applied in a GEMM epilogue, with the bias gradient in the same
    /// pass: dz = grad ⊙ activation′, the derivative written in terms of the activation's output y
    /// (ReLU: y &gt; 0; sigmoid: y(1 − y); tanh: 1 − y²; LeakyReLU: y &gt; 0 ? 1 : 0.01; ELU: y &gt; 0 ? 1 : y + 1;
    /// Softplus: y &gt; 20 ? 1 : −expm1(−y); none: 1) or, for the activations whose derivative is not a
    /// function of y (<see cref="ActivationOps.SlopeFromInput"/>: GELU, its tanh form, SiLU), of its input z,
    /// which <paramref name="output"/> then holds; and, when <paramref name="biasGrad"/>
    /// is given, biasGrad[j] = Σᵣ dz[r, j]. grad, output and dz are [rows, features], biasGrad is [features].
    /// dz may be grad itself (the backward of a layer writes it into a gradient nobody reads again).
    /// </summary>
    void ActivationBackward(StridedView grad, StridedView output, Activation activation, StridedView dz, StridedView? biasGrad) =>
        ComposedOps.ActivationBackward(this, grad, output, activation, dz, biasGrad);

    /// <summary>
    /// Softmax cross-entropy per row, from logits [rows, classes] and Int32 labels [rows] (in range):
    /// losses[r] = log Σⱼ exp(logits[r, j]) − logits[r, labels[r]], and, when <paramref name="gradient"/>
    /// is given, gradient[r] = softmax(logits[r]) − onehot(labels[r]) (∂loss[r]/∂logits[r], unscaled),
    /// with subnormal probabilities stored as zero (see <see cref="ComposedOps.FlushSubnormals"/>). A row whose
    /// label equals <paramref name="ignoreIndex"/> (when given) is ignored: its loss and gradient row are 0.
    /// </summary>
    void SoftmaxCrossEntropy(StridedView logits, StridedView labels, StridedView losses, StridedView? gradient, int? ignoreIndex = null) =>
        ComposedOps.SoftmaxCrossEntropy(this, logits, labels, losses, gradient, ignoreIndex);

    /// <summary>
    /// Normalization statistics and output over the last axis of x = [rows, n] (LayerNorm's rows; BatchNorm's
    /// columns arrive as a transposed view): mean[r], rstd[r] = 1/√(var[r] + epsilon) with the biased
    /// variance, accumulated in double, and y[r, j] = (x[r, j] − mean[r])·rstd[r]. mean and rstd are [rows];
    /// y has x's shape and dtype; n ≥ 1.
    /// </summary>
    void Normalize(StridedView x, StridedView y, StridedView mean, StridedView rstd, double epsilon) =>
        ComposedOps.Normalize(this, x, y, mean, rstd, epsilon);

    /// <summary>
    /// The backward of <see cref="Normalize"/> with respect to x, given grad = ∂L/∂y and the normalized
    /// values y it produced: dx[r] = rstd[r]·(grad[r] − mean(grad[r]) − y[r]·mean(grad[r] ⊙ y[r])), the row
    /// means over the last axis accumulated in double. grad, normalized and dx are [rows, n], rstd is [rows].
    /// </summary>
    void NormalizeBackward(StridedView grad, StridedView normalized, StridedView rstd, StridedView dx) =>
        ComposedOps.NormalizeBackward(this, grad, normalized, rstd, dx);

    /// <summary>
    /// One Adam (or AdamW) update in place, exactly PyTorch's formulas: g' = g + wd·p (Adam) or
    /// p ← p·(1 − lr·wd) (AdamW); m ← β₁m + (1−β₁)g'; v ← β₂v + (1−β₂)g'²;
    /// p ← p − lr · (m / (1−β₁ᵗ)) / (√(v / (1−β₂ᵗ)) + ε). All four views have one shape and dtype.
    /// Subnormal m and v are stored as zero (see <see cref="ComposedOps.FlushSubnormals"/>).
    /// </summary>
    void AdamStep(StridedView param, StridedView grad, StridedView m, StridedView v, AdamParameters hp) =>
        ComposedOps.AdamStep(this, param, grad, m, v, hp);
}
