using System.Runtime.InteropServices;

namespace GpuNet.Nn;

/// <summary>
/// Opens data files for reading, refusing what is not a regular file: opening a named pipe blocks until some
/// other process writes to it (a data loader would hang forever), and a directory or a terminal is never data.
/// </summary>
internal static partial class RegularFile
{
    /// <summary>
    /// Opens <paramref name="path"/> for reading. A missing file is a <see cref="FileNotFoundException"/>; a directory, named
    /// pipe, socket or terminal is an <see cref="InvalidDataException"/> naming the file and saying what it is, as <paramref name="what"/>
    /// ("IDX file", "safetensors file") describes.
    /// </summary>
    public static FileStream OpenRead(string path, string what)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path)) throw new InvalidDataException($"{path}: is a directory, not a {what}.");
        if (!File.Exists(path)) throw new FileNotFoundException($"{what} not found: {path}", path);
        if (!IsSeekable(path))
            throw new InvalidDataException($"{path}: not a regular file (a named pipe, socket or terminal), so it cannot be a {what}; GpuNet reads data only from regular files.");
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
    }

    // Opened without blocking (O_NONBLOCK: a FIFO with no writer opens at once), then asked for its end: pipes,
    // sockets and terminals cannot seek. Where the check is unavailable the answer is yes, and FileStream decides.
    private static bool IsSeekable(string path)
    {
        int flags;
        if (OperatingSystem.IsLinux()) flags = 0x800 | 0x80000;           // O_RDONLY | O_NONBLOCK | O_CLOEXEC
        else if (OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD()) flags = 0x4 | 0x1000000;
        else return true;
        int fd;
        try
        {
            fd = Open(path, flags);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return true;
        }
        if (fd < 0) return true; // permissions and the like: FileStream reports them properly
        try
        {
            return LSeek(fd, 0, 2 /* SEEK_END */) >= 0;
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "lseek")]
    private static partial long LSeek(int fd, long offset, int whence);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
