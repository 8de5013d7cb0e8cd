namespace GpuNet;

/// <summary>Element type of a tensor.</summary>
public enum DType
{
    /// <summary>32-bit IEEE float, the default.</summary>
    Float32,
    /// <summary>64-bit IEEE float, used by gradient checks.</summary>
    Float64,
    /// <summary>32-bit signed integer: labels, indices, masks of integer tensors.</summary>
    Int32,
}

/// <summary>Facts about <see cref="DType"/> values.</summary>
public static class DTypeInfo
{
    /// <summary>Bytes per element.</summary>
    public static int SizeOf(this DType dtype) => dtype == DType.Float64 ? 8 : 4;

    /// <summary>True for Float32 and Float64.</summary>
    public static bool IsFloating(this DType dtype) => dtype != DType.Int32;

    /// <summary>The .NET element type that holds one value of <paramref name="dtype"/>.</summary>
    public static Type ClrType(this DType dtype) => dtype switch
    {
        DType.Float32 => typeof(float),
        DType.Float64 => typeof(double),
        _ => typeof(int),
    };

    /// <summary>The dtype whose elements are the .NET type <typeparamref name="T"/>.</summary>
    public static DType Of<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? DType.Float32
        : typeof(T) == typeof(double) ? DType.Float64
        : typeof(T) == typeof(int) ? DType.Int32
        : throw new NotSupportedException($"GpuNet has no dtype for {typeof(T).Name}; use float, double or int.");

    /// <summary>PyTorch-style lower-case name (float32, float64, int32).</summary>
    public static string Name(this DType dtype) => dtype switch
    {
        DType.Float32 => "float32",
        DType.Float64 => "float64",
        _ => "int32",
    };
}
