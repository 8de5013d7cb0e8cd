using System.Text;
using GpuNet.Distributed;
using GpuNet.Distributed.Mpi;

namespace GpuNet.Cli;

/// <summary>
/// <c>gpunet train</c> under Open MPI's <c>mpirun</c>: every process runs the same command, MPI is initialised around
/// it, and the command trains as one replica of a data-parallel group. Rank 0 alone prints and writes files; every
/// rank's error lines on stderr carry its rank; a rank that fails (or is interrupted) aborts the whole job with MPI_Abort,
/// so no other rank is left waiting in a collective. Without <c>mpirun</c> the command runs exactly as before.
/// </summary>
internal static class DistributedLaunch
{
    private static MpiCommunicator? s_world;
    private static ICommunicator? s_communicator;

    /// <summary>The job's world communicator while a launched command runs; null otherwise.</summary>
    public static MpiCommunicator? World => s_world;

    /// <summary>False on ranks other than 0, which must not print results or write files.</summary>
    public static bool IsRankZero => s_world is null || s_world.Rank == 0;

    /// <summary>Runs <paramref name="command"/>, inside MPI when this process was started by <c>mpirun</c>.</summary>
    public static int Run(Func<int> command, bool verbose)
    {
        if (MpiLaunch.ForeignLauncher is { } variable)
            return Fail($"this process was started by an MPI launcher other than Open MPI's ({variable} is set); GpuNet's MPI support speaks Open MPI's ABI only, so start it with Open MPI's mpirun.");
        if (!MpiLaunch.IsLaunched) return command();
        try
        {
            s_world = MpiCommunicator.InitializeWorld();
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or MpiException)
        {
            return Fail($"started by mpirun (OMPI_COMM_WORLD_SIZE={MpiLaunch.WorldSize}) but MPI could not be initialised: {e.Message}");
        }
        var world = s_world;
        var stdout = Console.Out;
        Console.SetError(new RankPrefixWriter(Console.Error, $"rank {world.Rank}/{world.Size}: "));
        if (world.Rank != 0) Console.SetOut(TextWriter.Null);
        int code;
        try
        {
            code = command();
        }
        catch (Exception e)
        {
            code = CommandLineHost.Report(e, verbose);
        }
        finally
        {
            s_communicator?.Dispose();
            s_communicator = null;
        }
        if (code != 0) world.Abort(code); // does not return: mpirun ends every rank
        world.Dispose();
        s_world = null;
        Console.SetOut(stdout);
        return 0;
    }

    /// <summary>
    /// Under <c>mpirun</c>, without an explicit GPU index (no --device, no $GPUNET_DEVICE, or plain <c>cuda</c>), the
    /// processes on one machine take one CUDA device each by local rank; otherwise <paramref name="spec"/> is kept.
    /// </summary>
    public static string? DeviceSpec(string? spec)
    {
        if (s_world is null) return spec;
        if (spec is not (null or "cuda") || (spec is null && !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(Device.EnvironmentVariable)))) return spec;
        int gpus = Device.All.Count(d => d.Kind == DeviceKind.Cuda);
        return gpus == 0 ? spec : $"cuda:{MpiLaunch.LocalRank % gpus}";
    }

    /// <summary>The data-parallel group for training on <paramref name="device"/> (NCCL on CUDA when present, else MPI); null when not launched.</summary>
    public static DataParallel? ForDevice(Device device)
    {
        if (s_world is null) return null;
        s_communicator = Communicators.ForDevice(s_world, device, out _);
        return new DataParallel(s_communicator);
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"error: {message}");
        return CommandLineHost.Failure;
    }

    /// <summary>Starts each line written through it with a fixed prefix (the rank, so interleaved stderr stays readable).</summary>
    private sealed class RankPrefixWriter(TextWriter inner, string prefix) : TextWriter
    {
        private bool _lineStart = true;

        public override Encoding Encoding => inner.Encoding;

        public override void Write(char value)
        {
            if (_lineStart) inner.Write(prefix);
            inner.Write(value);
            _lineStart = value == '\n';
        }

        public override void Write(string? value)
        {
            if (string.IsNullOrEmpty(value)) return;
            foreach (var c in value) Write(c);
        }

        public override void Flush() => inner.Flush();
    }
}
