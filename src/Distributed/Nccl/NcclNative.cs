using System.Runtime.InteropServices;

namespace GpuNet.Distributed.Nccl;

/// <summary>NCCL's 128-byte <c>ncclUniqueId</c>, passed by value to <c>ncclCommInitRank</c>.</summary>
[StructLayout(LayoutKind.Sequential, Size = 128)]
internal unsafe struct NcclUniqueId
{
    public fixed byte Bytes[128];
}

/// <summary>
/// The NCCL calls GpuNet uses, bound at run time to <c>libnccl.so.2</c> (NCCL 2.x keeps its C ABI stable across minor
/// versions). Function pointers rather than <c>DllImport</c>, as for cuBLAS: a machine without NCCL must load GpuNet
/// all the same.
/// </summary>
internal sealed unsafe class NcclNative
{
    /// <summary>The library's file name.</summary>
    public const string LibraryName = "libnccl.so.2";

    // ncclDataType_t and ncclRedOp_t values from nccl.h.
    public const int Int32 = 2, Int64 = 4, Float32 = 7, Float64 = 8;
    public const int OpSum = 0, OpMax = 2, OpMin = 3;

    private static readonly Lock s_lock = new();
    private static NcclNative? s_instance;
    private static string? s_error;

    private NcclNative(IntPtr library)
    {
        IntPtr F(string name) => NativeLibrary.TryGetExport(library, name, out var f) ? f : throw new EntryPointNotFoundException($"NCCL: {LibraryName} has no {name}.");
        GetVersion = (delegate* unmanaged<int*, int>)F("ncclGetVersion");
        GetUniqueId = (delegate* unmanaged<NcclUniqueId*, int>)F("ncclGetUniqueId");
        CommInitRank = (delegate* unmanaged<IntPtr*, int, NcclUniqueId, int, int>)F("ncclCommInitRank");
        CommDestroy = (delegate* unmanaged<IntPtr, int>)F("ncclCommDestroy");
        CommAbort = (delegate* unmanaged<IntPtr, int>)F("ncclCommAbort");
        AllReduce = (delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, IntPtr, IntPtr, int>)F("ncclAllReduce");
        Broadcast = (delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, IntPtr, IntPtr, int>)F("ncclBroadcast");
        ErrorString = (delegate* unmanaged<int, IntPtr>)F("ncclGetErrorString");
        int v = 0;
        Version = GetVersion(&v) == 0 ? v : 0;
    }

    /// <summary>NCCL's version code (major·10000 + minor·100 + patch from 2.9 on).</summary>
    public int Version { get; }

#pragma warning disable CS1591 // nccl.h documents these
    public delegate* unmanaged<int*, int> GetVersion { get; }
    public delegate* unmanaged<NcclUniqueId*, int> GetUniqueId { get; }
    public delegate* unmanaged<IntPtr*, int, NcclUniqueId, int, int> CommInitRank { get; }
    public delegate* unmanaged<IntPtr, int> CommDestroy { get; }
    public delegate* unmanaged<IntPtr, int> CommAbort { get; }
    public delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, IntPtr, IntPtr, int> AllReduce { get; }
    public delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, IntPtr, IntPtr, int> Broadcast { get; }
    public delegate* unmanaged<int, IntPtr> ErrorString { get; }
#pragma warning restore CS1591

    /// <summary>The version as text ("2.21.5").</summary>
    public string VersionText => Version >= 20900 ? $"{Version / 10000}.{Version / 100 % 100}.{Version % 100}" : $"{Version / 1000}.{Version / 100 % 10}.{Version % 100}";

    /// <summary>The process's binding, or null with the reason in <paramref name="error"/> when libnccl.so.2 cannot be loaded. Never throws.</summary>
    public static NcclNative? TryLoad(out string? error)
    {
        lock (s_lock)
        {
            if (s_instance is null && s_error is null)
            {
                if (!NativeLibrary.TryLoad(LibraryName, typeof(NcclNative).Assembly, null, out var handle))
                    s_error = $"{LibraryName} not found";
                else
                {
                    try
                    {
                        s_instance = new NcclNative(handle);
                    }
                    catch (EntryPointNotFoundException e)
                    {
                        s_error = e.Message;
                    }
                }
            }
            error = s_error;
            return s_instance;
        }
    }

    /// <summary>Throws for a non-zero ncclResult_t of <paramref name="call"/>.</summary>
    public void Check(int result, string call)
    {
        if (result != 0)
            throw new InvalidOperationException($"NCCL: {call} failed: {Marshal.PtrToStringUTF8(ErrorString(result)) ?? "unknown error"} (ncclResult {result}).");
    }
}
