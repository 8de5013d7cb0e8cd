namespace GpuNet.Tape;

/// <summary>What the engine needs to know about gradient values: how to add two, and how to free one.</summary>
public interface IGradientArithmetic<T> where T : class
{
    /// <summary>a + b as a new value (a and b stay valid).</summary>
    T Add(T a, T b);

    /// <summary>Frees a value the engine created and no longer needs (a no-op for plain numbers).</summary>
    void Free(T value);
}
