namespace GpuNet.Nn;

/// <summary>Evaluation metrics for classifiers (computed without recording a graph).</summary>
public static class Metrics
{
    /// <summary>Number of rows of <paramref name="logits"/> [N, C] whose arg-max equals the Int32 label.</summary>
    public static long CorrectCount(Tensor logits, Tensor labels)
    {
        using var count = CorrectCountTensor(logits, labels);
        return count.Item<int>();
    }

    /// <summary>
    /// <see cref="CorrectCount"/> left on the device: an int32 scalar tensor, so a training loop can add
    /// it up without waiting for the device. The caller disposes it.
    /// </summary>
    public static Tensor CorrectCountTensor(Tensor logits, Tensor labels)
    {
        Loss.CheckClassification("Metrics", logits, labels);
        using var noGrad = Autograd.NoGrad();
        using var predicted = logits.ArgMax(1);
        using var hits = predicted.Eq(labels);
        return hits.Sum();
    }

    /// <summary>Fraction of rows whose arg-max equals the label, in [0, 1] (0 for an empty batch).</summary>
    public static double Accuracy(Tensor logits, Tensor labels)
    {
        long n = logits.Rank > 0 ? logits.Shape[0] : 0;
        long correct = CorrectCount(logits, labels);
        return n == 0 ? 0 : (double)correct / n;
    }

    /// <summary>The empirical 0-1 loss of the notes: the fraction of rows misclassified, 1 − accuracy.</summary>
    public static double ZeroOneLoss(Tensor logits, Tensor labels)
    {
        long n = logits.Rank > 0 ? logits.Shape[0] : 0;
        return n == 0 ? 0 : 1 - Accuracy(logits, labels);
    }
}
