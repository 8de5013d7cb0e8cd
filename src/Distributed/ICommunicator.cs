namespace GpuNet.Distributed;

/// <summary>How <see cref="ICommunicator.AllReduce(Tensor, ReduceOp)"/> combines the ranks' values.</summary>
public enum ReduceOp
{
    /// <summary>Element-wise sum over the ranks.</summary>
    Sum,

    /// <summary>Element-wise sum divided by the number of ranks (floating-point tensors only).</summary>
    Average,

    /// <summary>Element-wise maximum.</summary>
    Max,

    /// <summary>Element-wise minimum.</summary>
    Min,
}

/// <summary>
/// A group of processes (ranks) that exchange tensors: what data-parallel training needs of MPI or NCCL
/// (PyTorch's <c>torch.distributed</c> process group). Every rank must make the same calls in the same order with
/// tensors of the same shape and dtype; a call returns once this rank's part is done.
/// </summary>
public interface ICommunicator : IDisposable
{
    /// <summary>This process's index, 0 … <see cref="Size"/> − 1.</summary>
    int Rank { get; }

    /// <summary>The number of processes.</summary>
    int Size { get; }

    /// <summary>What carries the data, for logs ("MPI (Open MPI v4.1.4)", "NCCL 2.21.5").</summary>
    string Name { get; }

    /// <summary>Replaces <paramref name="tensor"/>'s values on every rank with those of rank <paramref name="root"/>, in place.</summary>
    void Broadcast(Tensor tensor, int root = 0);

    /// <summary>Replaces <paramref name="tensor"/>'s values on every rank with their reduction over all ranks, in place.</summary>
    void AllReduce(Tensor tensor, ReduceOp op = ReduceOp.Sum);

    /// <summary>Replaces host <paramref name="values"/> on every rank with rank <paramref name="root"/>'s (float, double, int, long or byte).</summary>
    void Broadcast<T>(Span<T> values, int root = 0) where T : unmanaged;

    /// <summary>Reduces host <paramref name="values"/> over all ranks, in place (float, double, int or long).</summary>
    void AllReduce<T>(Span<T> values, ReduceOp op = ReduceOp.Sum) where T : unmanaged;

    /// <summary>Returns once every rank has called it.</summary>
    void Barrier();

    /// <summary>
    /// Ends every process of the group at once with <paramref name="exitCode"/> (MPI_Abort): the way out of an error on
    /// one rank, which would otherwise leave the others waiting in their next collective call.
    /// </summary>
    void Abort(int exitCode);
}
