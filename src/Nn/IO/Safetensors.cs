using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace GpuNet.Nn;

/// <summary>
/// Reads and writes the safetensors format (https://github.com/huggingface/safetensors): an 8-byte
/// little-endian header length N, N bytes of UTF-8 JSON mapping each tensor name to
/// <c>{"dtype", "shape", "data_offsets": [begin, end]}</c> (offsets into the byte buffer that
/// follows the header) plus an optional <c>"__metadata__"</c> string map, then the tensors' bytes,
/// contiguous and little-endian. Supported dtypes: F32, F64, I32.
/// </summary>
public static class Safetensors
{
    /// <summary>Largest header accepted on load (100 MB, as the reference implementation).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private const string MetadataKey = "__metadata__";

    /// <summary>
    /// Writes <paramref name="tensors"/> (in name order) and <paramref name="metadata"/> to <paramref name="path"/>.
    /// The file is written to a temporary file in the same directory and then moved over the target, so a crash
    /// mid-write never leaves a corrupt file; temporary files that crashed processes left for the same target are
    /// removed first. The header is padded with spaces to a multiple of 8 bytes. A failure is an
    /// <see cref="IOException"/> naming <paramref name="path"/>.
    /// </summary>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tensors);
        var names = tensors.Keys.OrderBy(k => k, StringComparer.Ordinal).ToList();
        foreach (var name in names)
        {
            if (name == MetadataKey) throw new ArgumentException($"Safetensors.Save: '{MetadataKey}' is reserved and cannot name a tensor.");
            if (tensors[name] is null || tensors[name].IsDisposed) throw new ArgumentException($"Safetensors.Save: tensor '{name}' is null or disposed.");
        }

        var header = new MemoryStream();
        long offset = 0;
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(MetadataKey);
                foreach (var (k, v) in metadata) json.WriteString(k, v);
                json.WriteEndObject();
            }
            foreach (var name in names)
            {
                var t = tensors[name];
                long bytes = t.NumElements * t.DType.SizeOf();
                json.WriteStartObject(name);
                json.WriteString("dtype", DTypeCode(t.DType));
                json.WriteStartArray("shape");
                foreach (var d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        long headerLength = header.Length;
        long padded = (headerLength + 7) / 8 * 8;
        while (header.Length < padded) header.WriteByte((byte)' ');

        AtomicFile.Write(path, file =>
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
            file.Write(len);
            header.Position = 0;
            header.CopyTo(file);
            foreach (var name in names) WriteData(file, tensors[name]);
        });
    }

    private static void WriteData(Stream file, Tensor t)
    {
        if (t.NumElements == 0) return;
        switch (t.DType)
        {
            case DType.Float32: Write(t.ToArray<float>()); break;
            case DType.Float64: Write(t.ToArray<double>()); break;
            default: Write(t.ToArray<int>()); break;
        }

        void Write<T>(T[] values) where T : unmanaged
        {
            if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("Safetensors: big-endian hosts are not supported.");
            file.Write(MemoryMarshal.AsBytes(values.AsSpan()));
        }
    }

    /// <summary>
    /// Loads every tensor of <paramref name="path"/> onto <paramref name="device"/> (the default device when null), in header order.
    /// The file is validated first; anything malformed is an <see cref="InvalidDataException"/> naming the file and the problem.
    /// </summary>
    public static Dictionary<string, Tensor> Load(string path, Device? device = null)
    {
        var (entries, _, dataStart) = ReadHeader(path);
        device ??= Device.Default;
        var result = new Dictionary<string, Tensor>();
        using var file = RegularFile.OpenRead(path, "safetensors file");
        try
        {
            foreach (var e in entries)
            {
                file.Position = dataStart + e.Begin;
                result[e.Name] = e.DType switch
                {
                    DType.Float32 => Read<float>(file, e, device),
                    DType.Float64 => Read<double>(file, e, device),
                    _ => Read<int>(file, e, device),
                };
            }
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
        return result;
    }

    private static Tensor Read<T>(FileStream file, Entry e, Device device) where T : unmanaged
    {
        var values = new T[(e.End - e.Begin) / Marshal.SizeOf<T>()];
        var bytes = MemoryMarshal.AsBytes(values.AsSpan());
        if (file.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false) < bytes.Length)
            throw new InvalidDataException($"{file.Name}: truncated while reading tensor '{e.Name}'.");
        return Tensor.FromArray(values, e.Shape, device);
    }

    /// <summary>The <c>__metadata__</c> map of <paramref name="path"/> (empty when absent), after validating the header.</summary>
    public static IReadOnlyDictionary<string, string> ReadMetadata(string path) => ReadHeader(path).Metadata;

    /// <summary>Names, dtypes and shapes of the tensors in <paramref name="path"/>, in header order, without reading their data.</summary>
    public static IReadOnlyList<(string Name, DType DType, int[] Shape)> Describe(string path) =>
        ReadHeader(path).Entries.Select(e => (e.Name, e.DType, e.Shape)).ToList();

    private sealed record Entry(string Name, DType DType, int[] Shape, long Begin, long End);

    private static (List<Entry> Entries, Dictionary<string, string> Metadata, long DataStart) ReadHeader(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var file = RegularFile.OpenRead(path, "safetensors file");
        long fileLength = file.Length;
        Span<byte> lenBytes = stackalloc byte[8];
        if (file.ReadAtLeast(lenBytes, 8, throwOnEndOfStream: false) < 8)
            throw Bad(path, $"the file is {fileLength} bytes, shorter than the 8-byte header length");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(lenBytes);
        if (n > MaxHeaderBytes) throw Bad(path, $"header length {n:N0} exceeds the {MaxHeaderBytes:N0}-byte limit");
        if ((long)n > fileLength - 8) throw Bad(path, $"header length {n:N0} runs past the end of the {fileLength:N0}-byte file");
        var headerBytes = new byte[n];
        file.ReadExactly(headerBytes);
        long bufferLength = fileLength - 8 - (long)n;

        // Checked first: System.Text.Json would report bad UTF-8 inside a string only when the string is read, as an
        // InvalidOperationException that names nothing.
        if (FirstInvalidUtf8(headerBytes) is { } bad)
            throw Bad(path, $"the header is not valid UTF-8 JSON: byte {bad} (0x{headerBytes[bad]:x2}) of the header does not start or continue a UTF-8 character");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(headerBytes);
        }
        catch (JsonException e)
        {
            throw Bad(path, $"the header is not valid JSON ({e.Message})");
        }
        var where = new ParsePosition();
        try
        {
            return ParseHeader(path, doc, bufferLength, n, where);
        }
        catch (InvalidOperationException e)
        {
            // A string escape that is not a character (a lone surrogate such as \ud800) fails only when read.
            string at = where.Current is { } k ? $"entry '{k}'" : where.Previous is { } p ? $"the key after '{p}'" : "the first key";
            throw Bad(path, $"{at} holds a string that is not valid Unicode text ({e.Message}); expected UTF-8 text throughout");
        }
        finally
        {
            doc.Dispose();
        }
    }

    // Which key the parser is at, for errors raised while reading a string.
    private sealed class ParsePosition
    {
        public string? Current;
        public string? Previous;
    }

    private static (List<Entry> Entries, Dictionary<string, string> Metadata, long DataStart) ParseHeader(string path, JsonDocument doc, long bufferLength, ulong n, ParsePosition where)
    {
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Bad(path, "the header must be a JSON object");
            var entries = new List<Entry>();
            var metadata = new Dictionary<string, string>();
            var seen = new HashSet<string>();
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                where.Previous = where.Current ?? where.Previous;
                where.Current = null; // reading the name itself may fail
                where.Current = prop.Name;
                if (!seen.Add(prop.Name)) throw Bad(path, $"duplicate key '{prop.Name}' in the header");
                if (prop.Name == MetadataKey)
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object) throw Bad(path, $"'{MetadataKey}' must be an object of strings");
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String) throw Bad(path, $"metadata value '{m.Name}' is a JSON {m.Value.ValueKind}; expected a string");
                        if (!metadata.TryAdd(m.Name, m.Value.GetString()!)) throw Bad(path, $"duplicate metadata key '{m.Name}'");
                    }
                    continue;
                }
                entries.Add(ParseEntry(path, prop, bufferLength));
            }
            // Offsets must tile the buffer: sorted, each starting where the previous ended, the last ending at its end.
            long expect = 0;
            foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
            {
                if (e.Begin != expect)
                    throw Bad(path, e.Begin < expect
                        ? $"tensor '{e.Name}' data_offsets [{e.Begin}, {e.End}] overlap the previous tensor (which ends at {expect})"
                        : $"the data buffer has a gap: bytes [{expect}, {e.Begin}) before tensor '{e.Name}' belong to no tensor");
                expect = e.End;
            }
            if (expect != bufferLength)
                throw Bad(path, $"the tensors cover {expect:N0} bytes but the data buffer after the header is {bufferLength:N0} bytes");
            return (entries, metadata, 8 + (long)n);
        }
    }

    private static Entry ParseEntry(string path, JsonProperty prop, long bufferLength)
    {
        string name = prop.Name;
        var v = prop.Value;
        if (v.ValueKind != JsonValueKind.Object) throw Bad(path, $"entry '{name}' is a JSON {v.ValueKind}; expected an object with 'dtype', 'shape' and 'data_offsets'");
        if (!v.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String) throw Bad(path, $"tensor '{name}' has no string 'dtype' (expected F32, F64 or I32)");
        var dtype = dt.GetString() switch
        {
            "F32" => DType.Float32,
            "F64" => DType.Float64,
            "I32" => DType.Int32,
            var other => throw Bad(path, $"tensor '{name}' has dtype '{other}', which GpuNet does not support (F32, F64, I32)"),
        };
        if (!v.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array) throw Bad(path, $"tensor '{name}' has no 'shape' array (expected a list of non-negative integers)");
        var shape = new int[sh.GetArrayLength()];
        long count = 1;
        int i = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out int dim) || dim < 0)
                throw Bad(path, $"tensor '{name}' has an invalid dim {d.GetRawText()} in its shape (expected a non-negative 32-bit integer)");
            shape[i++] = dim;
            count *= dim;
            if (count > bufferLength) count = bufferLength + 1; // saturate: it will not match the offsets
        }
        if (!v.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw Bad(path, $"tensor '{name}' has no 'data_offsets' pair (expected [begin, end])");
        if (off[0].ValueKind != JsonValueKind.Number || off[1].ValueKind != JsonValueKind.Number
            || !off[0].TryGetInt64(out long begin) || !off[1].TryGetInt64(out long end))
            throw Bad(path, $"tensor '{name}' has data_offsets {off.GetRawText()}; expected two integers [begin, end]");
        if (begin < 0 || end < begin || end > bufferLength)
            throw Bad(path, $"tensor '{name}' data_offsets [{begin}, {end}] are out of range for the {bufferLength:N0}-byte data buffer");
        long expected = count > bufferLength ? -1 : count * dtype.SizeOf();
        if (expected != end - begin)
            throw Bad(path, $"tensor '{name}' of shape [{string.Join(",", shape)}] {dt.GetString()} needs {(expected < 0 ? "more than the whole buffer" : expected.ToString("N0") + " bytes")} but its data_offsets span {end - begin:N0}");
        return new Entry(name, dtype, shape, begin, end);
    }

    // The index of the first byte that is not part of well-formed UTF-8, or null when all are.
    private static int? FirstInvalidUtf8(byte[] bytes)
    {
        if (System.Text.Unicode.Utf8.IsValid(bytes)) return null;
        System.Text.Unicode.Utf8.ToUtf16(bytes, new char[bytes.Length], out int read, out _, replaceInvalidSequences: false);
        return read;
    }

    private static string DTypeCode(DType dtype) => dtype switch
    {
        DType.Float32 => "F32",
        DType.Float64 => "F64",
        _ => "I32",
    };

    private static InvalidDataException Bad(string path, string what) => new($"{path}: not a valid safetensors file: {what}.");
}
