using GpuNet.Kernels;

namespace GpuNet;

public static partial class Functional
{
    /// <summary>
    /// Layer normalization (PyTorch's <c>F.layer_norm</c>): over the trailing dims given by
    /// <paramref name="normalizedShape"/>, y = (x − mean)/√(var + ε)·weight + bias with the biased variance.
    /// The statistics and the normalized values come from one fused backend op (a pass for the statistics,
    /// one for the output) and its backward from another; weight and bias are applied by tensor ops.
    /// </summary>
    /// <param name="input">Floating tensor whose last dims are <paramref name="normalizedShape"/>.</param>
    /// <param name="normalizedShape">The trailing dims normalized over together.</param>
    /// <param name="weight">Optional scale of shape <paramref name="normalizedShape"/>.</param>
    /// <param name="bias">Optional shift of shape <paramref name="normalizedShape"/>.</param>
    /// <param name="eps">Added to the variance.</param>
    public static Tensor LayerNorm(Tensor input, int[] normalizedShape, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        const string op = "LayerNorm";
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(normalizedShape);
        input.ThrowIfDisposed(op);
        int k = normalizedShape.Length;
        if (k == 0 || k > input.Rank || !ShapeUtil.SameShape(input.ShapeArray[^k..], normalizedShape))
            throw new ArgumentException($"{op}: input {ShapeUtil.Format(input.ShapeArray)} must end in the normalized shape {ShapeUtil.Format(normalizedShape)}.");
        if (!input.DType.IsFloating()) throw new ArgumentException($"{op}: input must be floating; got {input.DType.Name()}.");
        CheckAffine(op, input, weight, "weight", normalizedShape);
        CheckAffine(op, input, bias, "bias", normalizedShape);
        int n = 1;
        foreach (var d in normalizedShape) n *= d;
        int rows = 1;
        for (int i = 0; i < input.Rank - k; i++) rows *= input.Shape[i];
        using var x2 = input.Reshape([rows, n]);
        using var normalized2 = NormalizeRows(op, x2, eps, columns: false, out var mean, out var rstd);
        mean.Dispose();
        rstd.Dispose();
        using var normalized = normalized2.Reshape(input.ShapeArray);
        return ApplyAffine(normalized, weight, bias);
    }

    /// <summary>
    /// Batch normalization (PyTorch's <c>F.batch_norm</c>) of [N, C] or [N, C, L] input per channel C. With
    /// <paramref name="training"/> (or without running statistics) it normalizes by the batch's mean and biased
    /// variance over N (and L), from one fused backend op, and updates the running statistics in place:
    /// running ← (1 − momentum)·running + momentum·batch, with the unbiased variance for the running estimate.
    /// Otherwise it normalizes by the running statistics. Weight and bias ([C]) are applied by tensor ops.
    /// </summary>
    /// <param name="input">Floating [N, C] or [N, C, L] tensor.</param>
    /// <param name="runningMean">[C] running mean, updated in place when training; null to always use batch statistics.</param>
    /// <param name="runningVar">[C] running variance, updated in place when training; null with <paramref name="runningMean"/>.</param>
    /// <param name="weight">Optional [C] scale.</param>
    /// <param name="bias">Optional [C] shift.</param>
    /// <param name="training">Use (and fold into the running statistics) the batch's statistics.</param>
    /// <param name="momentum">Weight of the batch in the running update.</param>
    /// <param name="eps">Added to the variance.</param>
    public static Tensor BatchNorm(Tensor input, Tensor? runningMean, Tensor? runningVar, Tensor? weight = null, Tensor? bias = null,
        bool training = false, double momentum = 0.1, double eps = 1e-5)
    {
        const string op = "BatchNorm";
        ArgumentNullException.ThrowIfNull(input);
        input.ThrowIfDisposed(op);
        if (input.Rank is not (2 or 3))
            throw new ArgumentException($"{op}: input must be [batch, channels] or [batch, channels, length]; got {ShapeUtil.Format(input.ShapeArray)}.");
        if (!input.DType.IsFloating()) throw new ArgumentException($"{op}: input must be floating; got {input.DType.Name()}.");
        int channels = input.Shape[1];
        if ((runningMean is null) != (runningVar is null))
            throw new ArgumentException($"{op}: give both running statistics or neither.");
        foreach (var (t, name) in new[] { (runningMean, "runningMean"), (runningVar, "runningVar") })
        {
            if (t is null) continue;
            t.ThrowIfDisposed(op);
            Tensor.CheckSameDevice(op, input, t);
            if (t.Rank != 1 || t.Shape[0] != channels || !t.DType.IsFloating())
                throw new ArgumentException($"{op}: {name} must be a floating [{channels}] tensor for input {ShapeUtil.Format(input.ShapeArray)}; got {t.DType.Name()} {ShapeUtil.Format(t.ShapeArray)}.");
        }
        CheckAffine(op, input, weight, "weight", [channels]);
        CheckAffine(op, input, bias, "bias", [channels]);
        bool useBatch = training || runningMean is null;

        // [N, C, L] → [N·L, C] rows, so every channel is one column.
        int length = input.Rank == 3 ? input.Shape[2] : 1;
        using var x2 = input.Rank == 2 ? input.Alias() : Rows3(input);
        int samples = x2.Shape[0];
        Tensor normalized2;
        if (useBatch)
        {
            if (samples <= 1 && channels > 0)
                throw new ArgumentException($"{op}: training needs more than one value per channel; got input {ShapeUtil.Format(input.ShapeArray)}.");
            normalized2 = NormalizeRows(op, x2, eps, columns: true, out var mean, out var rstd);
            using (mean)
            using (rstd)
                if (training && runningMean is not null) UpdateRunning(runningMean, runningVar!, mean, rstd, samples, momentum, eps);
        }
        else
        {
            // (x − running_mean)·(running_var + ε)^(−½), by tensor ops so the gradient reaches x.
            using var rm = runningMean!.To(input.DType);
            using var rv = runningVar!.To(input.DType);
            using var ve = rv + eps;
            using var scale = ve.Pow(-0.5);
            using var centred = x2 - rm;
            normalized2 = centred * scale;
        }
        using (normalized2)
        {
            if (input.Rank == 2) return ApplyAffine(normalized2, weight, bias);
            using var nlc = normalized2.Reshape([input.Shape[0], length, channels]);
            using var normalized = nlc.Transpose(1, 2);
            using var w = weight?.Reshape([channels, 1]);
            using var b = bias?.Reshape([channels, 1]);
            return ApplyAffine(normalized, w, b);
        }
    }

    private static Tensor Rows3(Tensor input)
    {
        using var nlc = input.Transpose(1, 2);
        return nlc.Reshape([input.Shape[0] * input.Shape[2], input.Shape[1]]);
    }

    /// <summary>running ← (1 − m)·running + m·batch, the variance unbiased (× n/(n − 1)) and recovered from rstd as rstd⁻² − ε. Not recorded.</summary>
    private static void UpdateRunning(Tensor runningMean, Tensor runningVar, Tensor mean, Tensor rstd, int samples, double momentum, double eps)
    {
        using var noGrad = Autograd.NoGrad();
        using var inverse = rstd.Pow(-2);
        using var biased = inverse - eps;
        using var unbiased = biased * ((double)samples / (samples - 1));
        using var m = mean.To(runningMean.DType);
        using var v = unbiased.To(runningVar.DType);
        runningMean.AffineInPlace(1 - momentum).AddInPlace(m, momentum);
        runningVar.AffineInPlace(1 - momentum).AddInPlace(v, momentum);
    }

    private static void CheckAffine(string op, Tensor input, Tensor? t, string name, int[] shape)
    {
        if (t is null) return;
        t.ThrowIfDisposed(op);
        Tensor.CheckSameDevice(op, input, t);
        if (!ShapeUtil.SameShape(t.ShapeArray, shape) || t.DType != input.DType)
            throw new ArgumentException($"{op}: {name} must be {ShapeUtil.Format(shape)} {input.DType.Name()}; got {ShapeUtil.Format(t.ShapeArray)} {t.DType.Name()}.");
    }

    /// <summary>normalized·weight + bias (either may be null), broadcast; a new tensor the caller owns.</summary>
    private static Tensor ApplyAffine(Tensor normalized, Tensor? weight, Tensor? bias)
    {
        if (weight is null) return bias is null ? normalized.Alias() : normalized + bias;
        if (bias is null) return normalized * weight;
        using var scaled = normalized * weight;
        return scaled + bias;
    }

    /// <summary>
    /// (x − mean)·rstd per row of x = [a, b] (per column when <paramref name="columns"/>: BatchNorm's channels),
    /// one fused backend launch, recorded as one node whose backward is the fused closed form (or, under
    /// createGraph, the same formula in recorded ops from the saved input, so it can be differentiated again).
    /// <paramref name="mean"/> and <paramref name="rstd"/> are the statistics (not recorded), owned by the caller.
    /// </summary>
    private static Tensor NormalizeRows(string op, Tensor x, double eps, bool columns, out Tensor mean, out Tensor rstd)
    {
        int rows = columns ? x.Shape[1] : x.Shape[0], n = columns ? x.Shape[0] : x.Shape[1];
        var y = Tensor.Empty(x.ShapeArray, x.DType, x.Device, op);
        mean = Tensor.Empty([rows], x.DType, x.Device, op);
        rstd = Tensor.Empty([rows], x.DType, x.Device, op);
        if (rows > 0 && n > 0) x.Backend.Normalize(RowsView(x, columns), RowsView(y, columns), mean.AsView(), rstd.AsView(), eps);
        else if (rows > 0)
        {
            // No elements to normalize over: the statistics are undefined.
            x.Backend.Fill(mean.AsView(), double.NaN);
            x.Backend.Fill(rstd.AsView(), double.NaN);
        }
        if (!Tensor.WillRecord(x)) return y;
        return Tensor.Record(y, op, [x], [x, y, rstd], (g, s) =>
        {
            if (!Tape.GradMode.IsEnabled)
            {
                var dx = Tensor.Empty(g.ShapeArray, g.DType, g.Device, op);
                if (rows > 0 && n > 0) g.Backend.NormalizeBackward(RowsView(g, columns), RowsView(s[1], columns), s[2].AsView(), RowsView(dx, columns));
                return [dx];
            }
            return [NormalizeBackwardComposed(g, s[0], eps, columns ? 0 : 1)];
        });
    }

    /// <summary>rstd·(g − mean(g) − x̂·mean(g·x̂)) with x̂ and rstd recomputed from x in recorded ops.</summary>
    private static Tensor NormalizeBackwardComposed(Tensor g, Tensor x, double eps, int dim)
    {
        using var mu = x.Mean(dim, keepDim: true);
        using var centred = x - mu;
        using var square = centred * centred;
        using var variance = square.Mean(dim, keepDim: true);
        using var shifted = variance + eps;
        using var rs = shifted.Pow(-0.5);
        using var xhat = centred * rs;
        using var meanG = g.Mean(dim, keepDim: true);
        using var gx = g * xhat;
        using var meanGx = gx.Mean(dim, keepDim: true);
        using var a = g - meanG;
        using var b = xhat * meanGx;
        using var c = a - b;
        return c * rs;
    }

    /// <summary>A rank-2 tensor as the [rows, n] view the backend normalizes: itself, or its transpose for columns.</summary>
    private static StridedView RowsView(Tensor t, bool columns) =>
        columns ? new StridedView(t.Buffer, [t.Shape[1], t.Shape[0]], [t.Strides[1], t.Strides[0]], t.Offset) : t.AsView();
}
