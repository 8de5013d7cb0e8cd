namespace GpuNet.Nn;

/// <summary>
/// What a training loop needs from data-parallel replicas (one process per replica, each holding a full copy of the
/// model): the <see cref="Trainer"/> and <see cref="ClassifierTraining"/> call it when set, and train exactly as
/// before when not. <c>GpuNet.Distributed</c> implements it over MPI or NCCL.
/// </summary>
public interface IDataParallel
{
    /// <summary>This replica's index, 0 … <see cref="Size"/> − 1; replica 0 writes checkpoints and logs.</summary>
    int Rank { get; }

    /// <summary>The number of replicas.</summary>
    int Size { get; }

    /// <summary>Replaces each tensor's values with replica 0's, in place (the same tensors, in the same order, on every replica).</summary>
    void Broadcast(IReadOnlyList<Tensor> tensors);

    /// <summary>
    /// Called before the backward pass whose gradients <see cref="SynchronizeGradients"/> will combine (with the same
    /// arguments): an implementation may start combining each gradient as soon as backward has produced it, so that
    /// communication overlaps the rest of backward. One backward pass per call. The default does nothing.
    /// </summary>
    void BeginBackward(IReadOnlyList<Parameter> parameters, double weight) { }

    /// <summary>
    /// Replaces every gradient of <paramref name="parameters"/> that require one by Σ over replicas of
    /// <paramref name="weight"/> · gradient, in place, so that every replica steps identically. With a mean loss,
    /// <paramref name="weight"/> is this replica's share of the global batch (local samples / global samples), which
    /// makes the result the gradient of the global batch's mean loss even when the shares differ. A parameter without a
    /// gradient on this replica (its share was empty) contributes zeros and receives the sum.
    /// </summary>
    void SynchronizeGradients(IReadOnlyList<Parameter> parameters, double weight);

    /// <summary>Sums host values over the replicas, in place (epoch totals: loss, hits, samples).</summary>
    void Sum(Span<double> values);

    /// <summary>Replaces <paramref name="data"/> with replica 0's bytes (a checkpoint's state, for resume); returns the new contents.</summary>
    byte[] BroadcastBytes(byte[]? data);
}
