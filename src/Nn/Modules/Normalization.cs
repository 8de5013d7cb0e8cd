using System.Globalization;

namespace GpuNet.Nn;

/// <summary>
/// Layer normalization (PyTorch's <c>nn.LayerNorm</c>): each sample is normalized over its last dims
/// (<see cref="NormalizedShape"/>) to zero mean and unit (biased) variance, then scaled by <see cref="Weight"/>
/// and shifted by <see cref="Bias"/> (ones and zeros initially). The same in training and evaluation.
/// </summary>
public sealed class LayerNorm : Module
{
    /// <summary>Creates the layer.</summary>
    /// <param name="normalizedShape">The trailing dims normalized over (e.g. <c>[features]</c>).</param>
    /// <param name="eps">Added to the variance.</param>
    /// <param name="elementwiseAffine">Whether to learn a weight and a bias of <paramref name="normalizedShape"/>.</param>
    /// <param name="dtype">Parameter dtype.</param>
    /// <param name="device">Where the parameters live (<see cref="Device.Default"/> when null).</param>
    public LayerNorm(int[] normalizedShape, double eps = 1e-5, bool elementwiseAffine = true, DType dtype = DType.Float32, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(normalizedShape);
        if (normalizedShape.Length == 0 || normalizedShape.Any(d => d <= 0))
            throw new ArgumentException($"LayerNorm: normalizedShape must be non-empty with positive dims; got {Parameter.Format(normalizedShape)}.", nameof(normalizedShape));
        if (!(eps > 0)) throw new ArgumentOutOfRangeException(nameof(eps), $"LayerNorm: eps must be positive; got {eps}.");
        NormalizedShape = [.. normalizedShape];
        Eps = eps;
        if (!elementwiseAffine) return;
        using (TensorScope.Suspend())
        {
            Weight = RegisterParameter("weight", new Parameter(Tensor.Ones(NormalizedShape, dtype, device)));
            Bias = RegisterParameter("bias", new Parameter(Tensor.Zeros(NormalizedShape, dtype, device)));
        }
    }

    /// <summary>Creates the layer over the last dim, of size <paramref name="normalizedShape"/>.</summary>
    /// <param name="normalizedShape">Size of the last dim.</param>
    /// <param name="eps">Added to the variance.</param>
    /// <param name="elementwiseAffine">Whether to learn a weight and a bias.</param>
    /// <param name="dtype">Parameter dtype.</param>
    /// <param name="device">Where the parameters live.</param>
    public LayerNorm(int normalizedShape, double eps = 1e-5, bool elementwiseAffine = true, DType dtype = DType.Float32, Device? device = null)
        : this([normalizedShape], eps, elementwiseAffine, dtype, device) { }

    /// <summary>The trailing dims normalized over.</summary>
    public int[] NormalizedShape { get; }

    /// <summary>Added to the variance.</summary>
    public double Eps { get; }

    /// <summary>The scale (ones initially), or null without elementwise affine.</summary>
    public Parameter? Weight { get; }

    /// <summary>The shift (zeros initially), or null without elementwise affine.</summary>
    public Parameter? Bias { get; }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => Functional.LayerNorm(input, NormalizedShape, Weight?.Data, Bias?.Data, Eps);

    /// <inheritdoc />
    protected override string ExtraRepr() =>
        string.Create(CultureInfo.InvariantCulture, $"({string.Join(", ", NormalizedShape)},), eps={Eps}, elementwise_affine={Weight is not null}");
}

/// <summary>
/// Batch normalization over [N, C] or [N, C, L] input (PyTorch's <c>nn.BatchNorm1d</c>): in training mode each
/// channel is normalized by the batch's mean and biased variance, and the running estimates (buffers
/// <c>running_mean</c>, <c>running_var</c> with the unbiased variance, and <c>num_batches_tracked</c>) are updated;
/// in evaluation mode (<see cref="Module.Eval"/>) the running estimates are used. The buffers are saved and
/// loaded with the weights under PyTorch's names and are never trained.
/// </summary>
public sealed class BatchNorm1d : Module
{
    /// <summary>Creates the layer.</summary>
    /// <param name="numFeatures">Channels C.</param>
    /// <param name="eps">Added to the variance.</param>
    /// <param name="momentum">Weight of each batch in the running estimates; null for their cumulative average (1/num_batches_tracked), as PyTorch.</param>
    /// <param name="affine">Whether to learn a [C] weight (ones) and bias (zeros).</param>
    /// <param name="trackRunningStats">Whether to keep running estimates; without them batch statistics are used in evaluation too.</param>
    /// <param name="dtype">Parameter and statistics dtype.</param>
    /// <param name="device">Where they live (<see cref="Device.Default"/> when null).</param>
    public BatchNorm1d(int numFeatures, double eps = 1e-5, double? momentum = 0.1, bool affine = true, bool trackRunningStats = true,
        DType dtype = DType.Float32, Device? device = null)
    {
        if (numFeatures <= 0) throw new ArgumentOutOfRangeException(nameof(numFeatures), $"BatchNorm1d: numFeatures must be positive; got {numFeatures}.");
        if (!(eps > 0)) throw new ArgumentOutOfRangeException(nameof(eps), $"BatchNorm1d: eps must be positive; got {eps}.");
        if (momentum is { } m && !(m >= 0 && m <= 1)) throw new ArgumentOutOfRangeException(nameof(momentum), $"BatchNorm1d: momentum must be in [0, 1]; got {m}.");
        NumFeatures = numFeatures;
        Eps = eps;
        Momentum = momentum;
        TrackRunningStats = trackRunningStats;
        using (TensorScope.Suspend())
        {
            if (affine)
            {
                Weight = RegisterParameter("weight", new Parameter(Tensor.Ones([numFeatures], dtype, device)));
                Bias = RegisterParameter("bias", new Parameter(Tensor.Zeros([numFeatures], dtype, device)));
            }
            if (!trackRunningStats) return;
            RegisterBuffer("running_mean", Tensor.Zeros([numFeatures], dtype, device));
            RegisterBuffer("running_var", Tensor.Ones([numFeatures], dtype, device));
            RegisterBuffer("num_batches_tracked", Tensor.Zeros([], DType.Int32, device));
        }
    }

    /// <summary>Channels C.</summary>
    public int NumFeatures { get; }

    /// <summary>Added to the variance.</summary>
    public double Eps { get; }

    /// <summary>Weight of each batch in the running estimates (null: cumulative average).</summary>
    public double? Momentum { get; }

    /// <summary>Whether running estimates are kept.</summary>
    public bool TrackRunningStats { get; }

    /// <summary>The [C] scale, or null without affine.</summary>
    public Parameter? Weight { get; }

    /// <summary>The [C] shift, or null without affine.</summary>
    public Parameter? Bias { get; }

    /// <summary>The [C] running mean (buffer <c>running_mean</c>), or null without running statistics.</summary>
    public Tensor? RunningMean => TrackRunningStats ? GetBuffer("running_mean") : null;

    /// <summary>The [C] running unbiased variance (buffer <c>running_var</c>), or null without running statistics.</summary>
    public Tensor? RunningVar => TrackRunningStats ? GetBuffer("running_var") : null;

    /// <summary>Training-mode batches seen (Int32 scalar buffer <c>num_batches_tracked</c>), or null without running statistics.</summary>
    public Tensor? NumBatchesTracked => TrackRunningStats ? GetBuffer("num_batches_tracked") : null;

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank is not (2 or 3) || input.Shape[1] != NumFeatures)
            throw new ArgumentException($"BatchNorm1d({NumFeatures}): input must be [batch, {NumFeatures}] or [batch, {NumFeatures}, length]; got {Parameter.Format(input.ShapeArray)}.");
        double momentum = Momentum ?? 0;
        if (IsTraining && NumBatchesTracked is { } count)
        {
            using (Autograd.NoGrad()) count.AffineInPlace(1, 1);
            // The cumulative average reads the count back (a host round trip only with momentum: null).
            if (Momentum is null) momentum = 1.0 / count.Item<int>();
        }
        return Functional.BatchNorm(input, RunningMean, RunningVar, Weight?.Data, Bias?.Data, training: IsTraining || !TrackRunningStats, momentum, Eps);
    }

    /// <inheritdoc />
    protected override string ExtraRepr() =>
        string.Create(CultureInfo.InvariantCulture, $"{NumFeatures}, eps={Eps}, momentum={(Momentum is { } m ? m.ToString(CultureInfo.InvariantCulture) : "None")}, affine={Weight is not null}, track_running_stats={TrackRunningStats}");
}
