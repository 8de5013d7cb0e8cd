using GpuNet.Nn;

namespace GpuNet.Cli;

/// <summary>
/// Where <c>--plot</c> puts a command's pictures, one rule for every command: a path ending in <c>.png</c> names the
/// picture (a command that draws several writes the others next to it, as <c>NAME-suffix.png</c>); any other path is a
/// folder, created if needed, that gets each picture under its own name. Checked before any work, written atomically.
/// </summary>
internal sealed class PlotTarget
{
    private readonly string[] _pictures;

    /// <param name="given">The value of --plot.</param>
    /// <param name="pictures">The file names of the pictures the command draws, the main one first.</param>
    public PlotTarget(string given, IReadOnlyList<string> pictures)
    {
        if (pictures.Count == 0) throw new ArgumentException("PlotTarget: a command that draws nothing needs no target.");
        Given = given;
        _pictures = [.. pictures];
        IsFile = given.EndsWith(".png", StringComparison.OrdinalIgnoreCase) && !Directory.Exists(given)
            && !given.EndsWith(Path.DirectorySeparatorChar) && !given.EndsWith(Path.AltDirectorySeparatorChar);
    }

    /// <summary>The path the user gave.</summary>
    public string Given { get; }

    /// <summary>True when <see cref="Given"/> names a picture rather than a folder.</summary>
    public bool IsFile { get; }

    /// <summary>How --help describes the rule.</summary>
    public const string Help = "a .png file for the picture, or a folder to write the picture(s) into (created if needed)";

    /// <summary>Where the picture the command calls <paramref name="picture"/> goes.</summary>
    public string PathOf(string picture)
    {
        int index = Array.IndexOf(_pictures, picture);
        if (index < 0) throw new ArgumentException($"PlotTarget: '{picture}' is not one of this command's pictures ({string.Join(", ", _pictures)}).");
        if (!IsFile) return Path.Combine(Given, picture);
        if (index == 0) return Given;
        // gradient-descent.png + gradient-descent-lr.png with --plot gd.png: gd.png and gd-lr.png.
        string main = Path.GetFileNameWithoutExtension(_pictures[0]), own = Path.GetFileNameWithoutExtension(picture);
        string suffix = own.StartsWith(main, StringComparison.Ordinal) && own.Length > main.Length ? own[main.Length..] : "-" + own;
        var dir = Path.GetDirectoryName(Given);
        var name = Path.GetFileNameWithoutExtension(Given) + suffix + Path.GetExtension(Given);
        return string.IsNullOrEmpty(dir) ? name : Path.Combine(dir, name);
    }

    /// <summary>Every path the command will write.</summary>
    public IEnumerable<string> Paths => _pictures.Select(PathOf);

    /// <summary>Throws an <see cref="IOException"/> naming the path unless every picture can be written (nothing is left behind).</summary>
    public void Check()
    {
        foreach (var path in Paths) AtomicFile.CheckWritable(path);
    }

    /// <summary>Writes <paramref name="png"/> as the picture <paramref name="picture"/>, atomically; returns its path.</summary>
    public string Write(string picture, byte[] png)
    {
        var path = PathOf(picture);
        AtomicFile.Write(path, s => s.Write(png));
        return path;
    }
}
