using System.Runtime.InteropServices;
using System.Text;

namespace GpuNet.Distributed.Mpi;

/// <summary>
/// The handful of MPI calls GpuNet uses, bound at run time to Open MPI's <c>libmpi.so.40</c> (Open MPI 3, 4 and 5).
/// </summary>
/// <remarks>
/// <para>Why not a .NET binding: MPI.NET 1.4.0, the one on NuGet, is compiled against MS-MPI's ABI (it imports
/// <c>msmpi.dll</c> and hard-codes MS-MPI's integer handles such as <c>MPI_COMM_WORLD = 0x44000000</c>), so it cannot
/// talk to Open MPI on Linux at all.</para>
/// <para>This binding is Open MPI-specific: in Open MPI's ABI a communicator, datatype or operation handle is the
/// address of a global object exported by the library (<c>MPI_COMM_WORLD</c> is <c>&amp;ompi_mpi_comm_world</c>,
/// <c>MPI_FLOAT</c> is <c>&amp;ompi_mpi_float</c>, <c>MPI_SUM</c> is <c>&amp;ompi_mpi_op_sum</c>), read here with
/// <c>dlsym</c>. MPICH and its derivatives use integer handles; a library without those symbols is refused by name.</para>
/// <para>The library is opened with <c>dlopen(RTLD_NOW | RTLD_GLOBAL)</c> rather than <see cref="NativeLibrary.Load(string)"/>
/// (which uses <c>RTLD_LOCAL</c>): Open MPI loads its components (<c>mca_*.so</c>) with <c>dlopen</c> as well, and they
/// resolve <c>libmpi</c>'s and <c>libopen-pal</c>'s symbols through the global namespace.</para>
/// </remarks>
internal sealed unsafe class MpiNative
{
    /// <summary>Environment variable naming the <c>libmpi</c> to load instead of the default search.</summary>
    public const string LibraryVariable = "GPUNET_MPI_LIBRARY";

    /// <summary>Open MPI's <c>MPI_IN_PLACE</c>: the address 1.</summary>
    public static readonly IntPtr InPlace = 1;

    /// <summary>Open MPI's <c>MPI_THREAD_SERIALIZED</c>: any thread may call, never two at once.</summary>
    public const int ThreadSerialized = 2;

    private static readonly string[] s_candidates = ["libmpi.so.40", "libmpi.so"];
    private static readonly Lock s_lock = new();
    private static MpiNative? s_instance;
    private static string? s_loadError;

    private readonly IntPtr _library;

    private MpiNative(IntPtr library, string path)
    {
        _library = library;
        LibraryPath = path;
        CommWorld = Symbol("ompi_mpi_comm_world");
        Float = Symbol("ompi_mpi_float");
        Double = Symbol("ompi_mpi_double");
        Int = Symbol("ompi_mpi_int");
        Long = Symbol("ompi_mpi_long_long_int");
        Byte = Symbol("ompi_mpi_byte");
        Sum = Symbol("ompi_mpi_op_sum");
        Max = Symbol("ompi_mpi_op_max");
        Min = Symbol("ompi_mpi_op_min");
        ErrorsReturn = Symbol("ompi_mpi_errors_return");
        Initialized = (delegate* unmanaged<int*, int>)Function("MPI_Initialized");
        Finalized = (delegate* unmanaged<int*, int>)Function("MPI_Finalized");
        InitThread = (delegate* unmanaged<int*, IntPtr, int, int*, int>)Function("MPI_Init_thread");
        Finalize = (delegate* unmanaged<int>)Function("MPI_Finalize");
        CommRank = (delegate* unmanaged<IntPtr, int*, int>)Function("MPI_Comm_rank");
        CommSize = (delegate* unmanaged<IntPtr, int*, int>)Function("MPI_Comm_size");
        CommSetErrhandler = (delegate* unmanaged<IntPtr, IntPtr, int>)Function("MPI_Comm_set_errhandler");
        Bcast = (delegate* unmanaged<IntPtr, int, IntPtr, int, IntPtr, int>)Function("MPI_Bcast");
        Allreduce = (delegate* unmanaged<IntPtr, IntPtr, int, IntPtr, IntPtr, IntPtr, int>)Function("MPI_Allreduce");
        Iallreduce = (delegate* unmanaged<IntPtr, IntPtr, int, IntPtr, IntPtr, IntPtr, IntPtr*, int>)Function("MPI_Iallreduce");
        Wait = (delegate* unmanaged<IntPtr*, IntPtr, int>)Function("MPI_Wait");
        Barrier = (delegate* unmanaged<IntPtr, int>)Function("MPI_Barrier");
        Abort = (delegate* unmanaged<IntPtr, int, int>)Function("MPI_Abort");
        ErrorString = (delegate* unmanaged<int, byte*, int*, int>)Function("MPI_Error_string");
        GetLibraryVersion = (delegate* unmanaged<byte*, int*, int>)Function("MPI_Get_library_version");
        Version = ReadLibraryVersion();
    }

    /// <summary>The file loaded.</summary>
    public string LibraryPath { get; }

    /// <summary>The first line of <c>MPI_Get_library_version</c> ("Open MPI v4.1.4, ...").</summary>
    public string Version { get; }

#pragma warning disable CS1591 // the MPI standard documents these
    public IntPtr CommWorld { get; }
    public IntPtr Float { get; }
    public IntPtr Double { get; }
    public IntPtr Int { get; }
    public IntPtr Long { get; }
    public IntPtr Byte { get; }
    public IntPtr Sum { get; }
    public IntPtr Max { get; }
    public IntPtr Min { get; }
    public IntPtr ErrorsReturn { get; }
    public delegate* unmanaged<int*, int> Initialized { get; }
    public delegate* unmanaged<int*, int> Finalized { get; }
    public delegate* unmanaged<int*, IntPtr, int, int*, int> InitThread { get; }
    public delegate* unmanaged<int> Finalize { get; }
    public delegate* unmanaged<IntPtr, int*, int> CommRank { get; }
    public delegate* unmanaged<IntPtr, int*, int> CommSize { get; }
    public delegate* unmanaged<IntPtr, IntPtr, int> CommSetErrhandler { get; }
    public delegate* unmanaged<IntPtr, int, IntPtr, int, IntPtr, int> Bcast { get; }
    public delegate* unmanaged<IntPtr, IntPtr, int, IntPtr, IntPtr, IntPtr, int> Allreduce { get; }
    public delegate* unmanaged<IntPtr, IntPtr, int, IntPtr, IntPtr, IntPtr, IntPtr*, int> Iallreduce { get; }
    public delegate* unmanaged<IntPtr*, IntPtr, int> Wait { get; }
    public delegate* unmanaged<IntPtr, int> Barrier { get; }
    public delegate* unmanaged<IntPtr, int, int> Abort { get; }
    public delegate* unmanaged<int, byte*, int*, int> ErrorString { get; }
    public delegate* unmanaged<byte*, int*, int> GetLibraryVersion { get; }
#pragma warning restore CS1591

    /// <summary>
    /// The process's binding, loading the library on first use; null (with the reason in <paramref name="error"/>)
    /// when no Open MPI library can be loaded. Never throws.
    /// </summary>
    public static MpiNative? TryLoad(out string? error)
    {
        lock (s_lock)
        {
            if (s_instance is null && s_loadError is null)
            {
                try
                {
                    s_instance = Load();
                }
                catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
                {
                    s_loadError = e.Message;
                }
            }
            error = s_loadError;
            return s_instance;
        }
    }

    /// <summary>The binding, or an exception whose message says why there is none.</summary>
    public static MpiNative Get() => TryLoad(out var error) ?? throw new DllNotFoundException(error);

    private static MpiNative Load()
    {
        var explicitPath = Environment.GetEnvironmentVariable(LibraryVariable);
        return LoadFrom(string.IsNullOrEmpty(explicitPath) ? s_candidates : [explicitPath]);
    }

    /// <summary>Loads the first of <paramref name="names"/> that opens (uncached; tests call it with other libraries).</summary>
    internal static MpiNative LoadFrom(IReadOnlyList<string> names)
    {
        var failures = new List<string>();
        foreach (var name in names)
        {
            var handle = Dlopen(name, out var why);
            if (handle == IntPtr.Zero)
            {
                failures.Add(why);
                continue;
            }
            if (!NativeLibrary.TryGetExport(handle, "ompi_mpi_comm_world", out _))
                throw new EntryPointNotFoundException($"MPI: {name} is not Open MPI (it exports no ompi_mpi_comm_world); GpuNet's MPI binding is Open MPI-specific (it reads Open MPI's handle objects), so install Open MPI (apt-get install openmpi-bin libopenmpi-dev) or point ${LibraryVariable} at its libmpi.so.40.");
            return new MpiNative(handle, name);
        }
        throw new DllNotFoundException($"MPI: Open MPI's library could not be loaded ({string.Join("; ", failures)}); install it with apt-get install openmpi-bin libopenmpi-dev, or set ${LibraryVariable} to the path of libmpi.so.40.");
    }

    private const int RtldNow = 0x2, RtldGlobal = 0x100;

    [DllImport("libc", EntryPoint = "dlopen")]
    private static extern IntPtr DlopenNative([MarshalAs(UnmanagedType.LPUTF8Str)] string file, int mode);

    [DllImport("libc", EntryPoint = "dlerror")]
    private static extern IntPtr DlerrorNative();

    private static IntPtr Dlopen(string name, out string error)
    {
        error = "";
        if (!OperatingSystem.IsLinux())
        {
            error = "the Open MPI binding is for Linux";
            return IntPtr.Zero;
        }
        var handle = DlopenNative(name, RtldNow | RtldGlobal);
        if (handle == IntPtr.Zero) error = Marshal.PtrToStringUTF8(DlerrorNative()) ?? $"{name}: dlopen failed";
        return handle;
    }

    private IntPtr Symbol(string name) => NativeLibrary.TryGetExport(_library, name, out var address)
        ? address
        : throw new EntryPointNotFoundException($"MPI: {LibraryPath} has no {name}; GpuNet's MPI binding needs Open MPI 3 or later.");

    private void* Function(string name) => (void*)Symbol(name);

    private string ReadLibraryVersion()
    {
        // Open MPI's MPI_MAX_LIBRARY_VERSION_STRING is 256; the call is allowed before MPI_Init.
        var buffer = stackalloc byte[512];
        int length = 0;
        if (GetLibraryVersion(buffer, &length) != 0) return "unknown";
        var text = Encoding.UTF8.GetString(buffer, Math.Clamp(length, 0, 511));
        return text.Split('\n')[0].Split(',')[0].Trim();
    }

    /// <summary>MPI's text for an error code.</summary>
    public string Describe(int code)
    {
        var buffer = stackalloc byte[512]; // MPI_MAX_ERROR_STRING is 256 in Open MPI
        int length = 0;
        return ErrorString(code, buffer, &length) == 0 ? Encoding.UTF8.GetString(buffer, Math.Clamp(length, 0, 511)) : $"MPI error {code}";
    }

    /// <summary>Throws <see cref="MpiException"/> for a non-zero return code of <paramref name="call"/>.</summary>
    public void Check(int code, string call)
    {
        if (code != 0) throw new MpiException($"MPI: {call} failed: {Describe(code)} (error {code}).", code);
    }
}

/// <summary>An MPI call returned an error.</summary>
public sealed class MpiException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public MpiException(string message, int code) : base(message) => Code = code;

    /// <summary>The MPI error code.</summary>
    public int Code { get; }
}
