using System.Buffers.Binary;
using System.IO.Compression;

namespace GpuNet.Nn;

/// <summary>Element types of the IDX format (the third magic byte).</summary>
public enum IdxType : byte
{
    /// <summary>unsigned byte (0x08)</summary>
    UInt8 = 0x08,
    /// <summary>signed byte (0x09)</summary>
    Int8 = 0x09,
    /// <summary>big-endian 16-bit integer (0x0B)</summary>
    Int16 = 0x0B,
    /// <summary>big-endian 32-bit integer (0x0C)</summary>
    Int32 = 0x0C,
    /// <summary>big-endian 32-bit float (0x0D)</summary>
    Float32 = 0x0D,
    /// <summary>big-endian 64-bit float (0x0E)</summary>
    Float64 = 0x0E,
}

/// <summary>The contents of an IDX file: its element type, dims and raw (big-endian) element bytes.</summary>
/// <param name="Path">The file read.</param>
/// <param name="Type">Element type.</param>
/// <param name="Shape">Dims, outermost first.</param>
/// <param name="Data">The element bytes as stored (big-endian for multi-byte types).</param>
public sealed record IdxData(string Path, IdxType Type, int[] Shape, byte[] Data)
{
    /// <summary>Number of elements.</summary>
    public long Count => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>The elements as doubles.</summary>
    public double Get(long i) => Type switch
    {
        IdxType.UInt8 => Data[i],
        IdxType.Int8 => (sbyte)Data[i],
        IdxType.Int16 => BinaryPrimitives.ReadInt16BigEndian(Data.AsSpan((int)(i * 2))),
        IdxType.Int32 => BinaryPrimitives.ReadInt32BigEndian(Data.AsSpan((int)(i * 4))),
        IdxType.Float32 => BinaryPrimitives.ReadSingleBigEndian(Data.AsSpan((int)(i * 4))),
        _ => BinaryPrimitives.ReadDoubleBigEndian(Data.AsSpan((int)(i * 8))),
    };

    /// <summary>The elements converted to float and multiplied by <paramref name="scale"/> (1/255 maps bytes to [0, 1]).</summary>
    public float[] ToFloatArray(double scale = 1)
    {
        var result = new float[Count];
        if (Type == IdxType.UInt8)
        {
            Span<float> table = stackalloc float[256];
            for (int b = 0; b < 256; b++) table[b] = (float)(b * scale);
            for (int i = 0; i < result.Length; i++) result[i] = table[Data[i]];
        }
        else
            for (int i = 0; i < result.Length; i++) result[i] = (float)(Get(i) * scale);
        return result;
    }

    /// <summary>The elements as Int32 (integer types only).</summary>
    public int[] ToInt32Array()
    {
        if (Type is IdxType.Float32 or IdxType.Float64)
            throw new InvalidOperationException($"{Path}: holds {Type} values, which are not integers.");
        var result = new int[Count];
        for (int i = 0; i < result.Length; i++) result[i] = (int)Get(i);
        return result;
    }
}

/// <summary>
/// Reads IDX files, the format of MNIST and Fashion-MNIST (magic 0x00 0x00 type ndims, then ndims
/// big-endian u32 dims, then the elements), gzipped or raw.
/// </summary>
public static class Idx
{
    /// <summary>Largest number of dims accepted.</summary>
    public const int MaxDims = 16;

    /// <summary>
    /// Reads and validates <paramref name="path"/>: gzip is detected by its magic (1f 8b); the IDX magic, dims and exact
    /// length are checked, and a corrupt or truncated file is an <see cref="InvalidDataException"/> naming the file and the
    /// problem. Memory grows only with data actually read, never with what a header claims. A directory, named pipe or
    /// other file that is not a regular file is an <see cref="InvalidDataException"/> too (a pipe would block forever).
    /// </summary>
    public static IdxData Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var file = RegularFile.OpenRead(path, "IDX file");
        var magic2 = new byte[2];
        int got = file.ReadAtLeast(magic2, 2, throwOnEndOfStream: false);
        file.Position = 0;
        bool gzip = got == 2 && magic2[0] == 0x1f && magic2[1] == 0x8b;
        Stream stream = gzip ? new GZipStream(file, CompressionMode.Decompress) : file;
        try
        {
            return Read(stream, path, gzip ? null : file.Length);
        }
        catch (InvalidDataException e) when (gzip && !e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: the gzip stream is corrupt ({e.Message}).", e);
        }
        finally
        {
            if (gzip) stream.Dispose();
        }
    }

    private static IdxData Read(Stream stream, string path, long? rawLength)
    {
        Span<byte> header = stackalloc byte[4];
        if (stream.ReadAtLeast(header, 4, throwOnEndOfStream: false) < 4)
            throw Bad(path, "the file is shorter than the 4-byte IDX magic");
        if (header[0] != 0 || header[1] != 0)
            throw Bad(path, $"wrong magic {header[0]:x2} {header[1]:x2} {header[2]:x2} {header[3]:x2}: an IDX file starts with 00 00 <type> <ndims>");
        var type = (IdxType)header[2];
        if (!Enum.IsDefined(type))
            throw Bad(path, $"unknown element type 0x{header[2]:x2} (expected 08, 09, 0b, 0c, 0d or 0e)");
        int ndims = header[3];
        if (ndims == 0 || ndims > MaxDims)
            throw Bad(path, $"{ndims} dims declared (expected 1 to {MaxDims})");
        var dimBytes = new byte[4 * ndims];
        if (stream.ReadAtLeast(dimBytes, dimBytes.Length, throwOnEndOfStream: false) < dimBytes.Length)
            throw Bad(path, $"truncated in the header: {ndims} dims declared but the file ends before them");
        var shape = new int[ndims];
        long count = 1;
        for (int i = 0; i < ndims; i++)
        {
            uint d = BinaryPrimitives.ReadUInt32BigEndian(dimBytes.AsSpan(4 * i));
            if (d > int.MaxValue) throw Bad(path, $"dim {i} is {d}, too large");
            shape[i] = (int)d;
            count *= d; // ≤ 2³¹ · 2³¹: no overflow, since count stays ≤ Array.MaxLength
            if (count > Array.MaxLength)
                throw Bad(path, $"dims [{string.Join(",", shape.Take(i + 1))}…] declare more than {Array.MaxLength:N0} elements");
        }
        int itemSize = type switch { IdxType.UInt8 or IdxType.Int8 => 1, IdxType.Int16 => 2, IdxType.Float64 => 8, _ => 4 };
        long expected = count * itemSize;
        if (expected > Array.MaxLength)
            throw Bad(path, $"dims [{string.Join(",", shape)}] declare {expected:N0} bytes of data, more than can be held");
        long headerLength = 4 + 4L * ndims;
        if (rawLength is { } len && len != headerLength + expected)
            throw Bad(path, len < headerLength + expected
                ? $"truncated: dims [{string.Join(",", shape)}] of {type} need {headerLength + expected:N0} bytes but the file has {len:N0}"
                : $"{len - headerLength - expected:N0} unexpected trailing bytes after the {count:N0} elements of dims [{string.Join(",", shape)}]");
        // Grow the buffer as data arrives, so a lying header in a small gzip file costs nothing.
        byte[] data;
        if (rawLength is not null)
        {
            data = new byte[expected];
            if (stream.ReadAtLeast(data, data.Length, throwOnEndOfStream: false) < data.Length)
                throw Bad(path, "truncated while reading the data");
        }
        else
        {
            using var ms = new MemoryStream();
            var chunk = new byte[1 << 16];
            while (ms.Length < expected)
            {
                int n = stream.Read(chunk, 0, (int)Math.Min(chunk.Length, expected - ms.Length));
                if (n == 0)
                    throw Bad(path, $"truncated: dims [{string.Join(",", shape)}] of {type} need {expected:N0} data bytes but the (decompressed) file holds only {ms.Length:N0}");
                ms.Write(chunk, 0, n);
            }
            if (stream.Read(chunk, 0, 1) != 0)
                throw Bad(path, $"unexpected trailing bytes after the {count:N0} elements of dims [{string.Join(",", shape)}]");
            data = ms.Length == expected && ms.TryGetBuffer(out var seg) && seg.Count == seg.Array!.Length ? seg.Array : ms.ToArray();
        }
        return new IdxData(path, type, shape, data);
    }

    private static InvalidDataException Bad(string path, string what) => new($"{path}: not a valid IDX file: {what}.");
}
