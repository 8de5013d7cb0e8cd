using System.Diagnostics;
using System.Globalization;

namespace GpuNet.Nn;

/// <summary>
/// Writes files the crash-safe way: into a temporary file next to the target, flushed to disk, then renamed over
/// it. The temporary file's name carries the writer's process id, so leftovers of writers that were killed can be
/// told from files another live process is still writing, and removed.
/// </summary>
internal static class AtomicFile
{
    /// <summary>
    /// Writes <paramref name="path"/> with <paramref name="write"/>, atomically: readers see the old file or the new
    /// one, never a part. Leftover temporary files of this target from processes that no longer run are deleted
    /// first. Errors are <see cref="IOException"/>s naming <paramref name="path"/> (not the temporary file).
    /// </summary>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(write);
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        var name = Path.GetFileName(full);
        if (name.Length == 0 || Directory.Exists(full))
            throw new IOException($"{path}: is a directory; expected a file name.");
        string? temp = null;
        try
        {
            Directory.CreateDirectory(dir);
            RemoveStaleTemporaries(dir, name);
            temp = Path.Combine(dir, $".{name}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(file);
                file.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw new IOException($"{path}: cannot write the file ({Describe(e, temp, full)}).", e);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>
    /// Checks, without leaving anything behind, that <see cref="Write"/> could create <paramref name="path"/>: its
    /// directory exists or can be made, a file can be created in it, and the path is not a directory. Throws an
    /// <see cref="IOException"/> naming <paramref name="path"/> otherwise. Made for checking outputs before a long run.
    /// </summary>
    public static void CheckWritable(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string full;
        try
        {
            full = Path.GetFullPath(path);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new IOException($"{path}: not a valid file path ({e.Message}).", e);
        }
        var name = Path.GetFileName(full);
        if (name.Length == 0 || Directory.Exists(full))
            throw new IOException($"{path}: is a directory; expected a file name.");
        var dir = Path.GetDirectoryName(full)!;
        string? probe = null;
        try
        {
            Directory.CreateDirectory(dir);
            probe = Path.Combine(dir, $".{name}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(probe);
            throw new IOException($"{path}: cannot write the file ({Describe(e, probe, full)}).", e);
        }
    }

    // A message about the target: the temporary file's name means nothing to whoever chose the path.
    private static string Describe(Exception e, string? temp, string full)
    {
        var dir = Path.GetDirectoryName(full);
        string Stripped() => (temp is null ? e.Message : e.Message.Replace($" '{temp}'", "", StringComparison.Ordinal).Replace(temp, full, StringComparison.Ordinal)).TrimEnd('.', ' ');
        return e switch
        {
            UnauthorizedAccessException => $"permission denied in {dir}",
            // ENOENT on creating a file in a directory that exists: a file system that takes no new files (/proc, /sys).
            FileNotFoundException or DirectoryNotFoundException when Directory.Exists(dir) => $"{dir} does not accept new files",
            _ => Stripped(),
        };
    }

    private static void TryDelete(string? file)
    {
        if (file is null) return;
        try { File.Delete(file); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>Deletes <c>.NAME.PID.GUID.tmp</c> files in <paramref name="dir"/> whose process is gone.</summary>
    private static void RemoveStaleTemporaries(string dir, string name)
    {
        string prefix = "." + name + ".";
        IEnumerable<string> candidates;
        try
        {
            candidates = Directory.EnumerateFiles(dir, prefix + "*.tmp").ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return; // cleaning up is a courtesy: the write itself reports real problems
        }
        foreach (var file in candidates)
        {
            var rest = Path.GetFileName(file)[prefix.Length..^".tmp".Length].Split('.');
            if (rest.Length != 2 || rest[1].Length != 32 || !int.TryParse(rest[0], NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) continue;
            if (pid == Environment.ProcessId || IsRunning(pid)) continue;
            TryDelete(file);
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
