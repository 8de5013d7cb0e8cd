namespace GpuNet.Nn;

/// <summary>Gradient clipping (PyTorch's <c>clip_grad_norm_</c> and <c>clip_grad_value_</c>).</summary>
public static class GradClip
{
    /// <summary>
    /// Scales all gradients in place so that their joint L2 norm is at most <paramref name="maxNorm"/>
    /// (by maxNorm / (norm + 1e-6), as PyTorch does) and returns the norm before clipping.
    /// Parameters without a gradient are skipped.
    /// </summary>
    public static double ClipGradNorm(IEnumerable<Parameter> parameters, double maxNorm)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(maxNorm >= 0)) throw new ArgumentOutOfRangeException(nameof(maxNorm), $"ClipGradNorm: maxNorm must be non-negative; got {maxNorm}.");
        var grads = parameters.Select(p => p.Grad).OfType<Tensor>().ToList();
        if (grads.Count == 0) return 0;
        double total;
        using (Tensor.NewScope())
        using (Autograd.NoGrad())
        {
            Tensor? sum = null;
            foreach (var g in grads)
            {
                var g64 = g.To(DType.Float64); // the scope frees it
                using var sq = g64 * g64;
                var s = sq.Sum();
                sum = sum is null ? s : sum + s;
            }
            total = Math.Sqrt(sum!.Item<double>());
        }
        double coef = maxNorm / (total + 1e-6);
        if (coef < 1)
            foreach (var g in grads) g.AffineInPlace(coef);
        return total;
    }

    /// <summary>
    /// Clamps every gradient element to [−<paramref name="clipValue"/>, <paramref name="clipValue"/>] in place
    /// (PyTorch's <c>clip_grad_value_</c>). Parameters without a gradient are skipped.
    /// </summary>
    public static void ClipGradValue(IEnumerable<Parameter> parameters, double clipValue)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(clipValue >= 0) || double.IsInfinity(clipValue))
            throw new ArgumentOutOfRangeException(nameof(clipValue), $"ClipGradValue: clipValue must be a finite non-negative number; got {clipValue}.");
        using var scope = Tensor.NewScope();
        using var noGrad = Autograd.NoGrad();
        foreach (var g in parameters.Select(p => p.Grad).OfType<Tensor>())
        {
            using var clamped = g.Clamp(-clipValue, clipValue);
            g.CopyFrom(clamped);
        }
    }
}
