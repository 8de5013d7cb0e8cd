using System.Globalization;
using System.Text;
using GpuNet.Nn;
using SkiaSharp;

namespace GpuNet.Cli;

/// <summary>
/// Reads the 28×28 grey-scale images <c>gpunet predict</c> classifies, as 784 values in [0, 1] (0 black, 1 white, as
/// Fashion-MNIST stores them): IDX image files (raw or gzipped; one image [28,28] or many [N,28,28], bytes), binary
/// or text PGM (P5/P2, read here) and PNG (decoded by SkiaSharp, which ScottPlot already brings; colour is converted
/// to luminance and transparency composited onto black).
/// </summary>
internal static class ImageFiles
{
    public const int Side = 28;

    private const long MaxFileBytes = 64L << 20;

    /// <summary>The images in <paramref name="path"/>, each with a label to print (the path, with [i] for the i-th of several).</summary>
    public static List<(string Label, float[] Pixels)> Read(string path)
    {
        if (Directory.Exists(path)) throw new InvalidDataException($"{path}: is a directory; expected an image file.");
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file.", path);
        var info = new FileInfo(path);
        if (info.Length > MaxFileBytes) throw new InvalidDataException($"{path}: {info.Length:N0} bytes is too large for 28×28 images (at most {MaxFileBytes:N0}).");
        byte[] head = new byte[8];
        int got;
        using (var f = File.OpenRead(path)) got = f.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        if (got >= 2 && ((head[0] == 0x1f && head[1] == 0x8b) || (head[0] == 0 && head[1] == 0))) return ReadIdx(path);
        if (got >= 2 && head[0] == (byte)'P' && (head[1] == (byte)'5' || head[1] == (byte)'2')) return [(path, ReadPgm(path, File.ReadAllBytes(path)))];
        if (got >= 8 && head.AsSpan().SequenceEqual((ReadOnlySpan<byte>)[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])) return [(path, ReadPng(path, File.ReadAllBytes(path)))];
        throw new InvalidDataException($"{path}: is not an IDX, PGM (P5/P2) or PNG image file.");
    }

    private static List<(string, float[])> ReadIdx(string path)
    {
        var idx = Idx.Read(path);
        bool one = idx.Shape.SequenceEqual([Side, Side]), many = idx.Shape.Length == 3 && idx.Shape[1] == Side && idx.Shape[2] == Side;
        if (idx.Type != IdxType.UInt8 || !(one || many))
            throw new InvalidDataException($"{path}: holds {idx.Type} [{string.Join(",", idx.Shape)}]; expected {IdxType.UInt8} images [N,28,28] or one [28,28].");
        var all = idx.ToFloatArray(1.0 / 255);
        int n = one ? 1 : idx.Shape[0];
        if (n == 0) throw new InvalidDataException($"{path}: holds no images (dims [0,28,28]).");
        var result = new List<(string, float[])>(n);
        for (int i = 0; i < n; i++) result.Add((one ? path : $"{path}[{i}]", all.AsSpan(i * Side * Side, Side * Side).ToArray()));
        return result;
    }

    /// <summary>Netpbm grey map: "P5" or "P2", width, height and maxval separated by whitespace (with # comments), then the samples.</summary>
    internal static float[] ReadPgm(string path, byte[] bytes)
    {
        int pos = 2;
        bool binary = bytes[1] == (byte)'5';
        int Number(string what)
        {
            while (true)
            {
                while (pos < bytes.Length && IsSpace(bytes[pos])) pos++;
                if (pos < bytes.Length && bytes[pos] == (byte)'#')
                {
                    while (pos < bytes.Length && bytes[pos] != (byte)'\n' && bytes[pos] != (byte)'\r') pos++;
                    continue;
                }
                break;
            }
            int start = pos;
            while (pos < bytes.Length && bytes[pos] >= (byte)'0' && bytes[pos] <= (byte)'9') pos++;
            if (pos == start || pos - start > 9)
                throw new InvalidDataException($"{path}: PGM {what} is missing or not a number at byte {start}.");
            return int.Parse(Encoding.ASCII.GetString(bytes, start, pos - start), CultureInfo.InvariantCulture);
        }
        int width = Number("width"), height = Number("height"), maxval = Number("maxval");
        if (maxval is < 1 or > 65535) throw new InvalidDataException($"{path}: PGM maxval {maxval} is out of range (1 to 65535).");
        if (width != Side || height != Side) throw new InvalidDataException($"{path}: the image is {width}×{height}; expected 28×28 grey-scale.");
        var pixels = new float[Side * Side];
        if (binary)
        {
            // Exactly one whitespace byte separates maxval from the samples.
            if (pos >= bytes.Length || !IsSpace(bytes[pos])) throw new InvalidDataException($"{path}: PGM header does not end in whitespace.");
            pos++;
            int size = maxval < 256 ? 1 : 2;
            if (bytes.Length - pos < pixels.Length * size)
                throw new InvalidDataException($"{path}: PGM data is truncated ({bytes.Length - pos} bytes for {pixels.Length * size}).");
            for (int i = 0; i < pixels.Length; i++)
            {
                int v = size == 1 ? bytes[pos + i] : bytes[pos + 2 * i] << 8 | bytes[pos + 2 * i + 1];
                pixels[i] = Sample(path, v, maxval);
            }
        }
        else
            for (int i = 0; i < pixels.Length; i++) pixels[i] = Sample(path, Number($"sample {i}"), maxval);
        return pixels;
    }

    private static float Sample(string path, int v, int maxval) =>
        v <= maxval ? (float)v / maxval : throw new InvalidDataException($"{path}: PGM sample {v} exceeds maxval {maxval}.");

    private static bool IsSpace(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or (byte)'\v' or (byte)'\f';

    private static float[] ReadPng(string path, byte[] bytes)
    {
        using var bitmap = SKBitmap.Decode(bytes) ?? throw new InvalidDataException($"{path}: is not a PNG image that can be decoded (corrupt or truncated).");
        if (bitmap.Width != Side || bitmap.Height != Side)
            throw new InvalidDataException($"{path}: the image is {bitmap.Width}×{bitmap.Height}; expected 28×28.");
        var pixels = new float[Side * Side];
        for (int y = 0; y < Side; y++)
            for (int x = 0; x < Side; x++)
            {
                var c = bitmap.GetPixel(x, y);
                double luminance = (0.299 * c.Red + 0.587 * c.Green + 0.114 * c.Blue) / 255;
                pixels[y * Side + x] = (float)(luminance * c.Alpha / 255);
            }
        return pixels;
    }
}
