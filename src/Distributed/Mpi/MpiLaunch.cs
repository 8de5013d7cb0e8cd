using System.Globalization;

namespace GpuNet.Distributed.Mpi;

/// <summary>
/// What the launcher told this process: Open MPI's <c>mpirun</c> sets <c>OMPI_COMM_WORLD_SIZE</c>, <c>_RANK</c> and
/// <c>_LOCAL_RANK</c> in every process it starts, which can be read before MPI is initialised (to pick a GPU, say).
/// </summary>
public static class MpiLaunch
{
    /// <summary>True when this process was started by Open MPI's <c>mpirun</c> (or <c>mpiexec</c>).</summary>
    public static bool IsLaunched => Read("OMPI_COMM_WORLD_SIZE") is not null;

    /// <summary>The job's process count the launcher announced (1 when not launched).</summary>
    public static int WorldSize => Read("OMPI_COMM_WORLD_SIZE") ?? 1;

    /// <summary>This process's rank the launcher announced (0 when not launched).</summary>
    public static int WorldRank => Read("OMPI_COMM_WORLD_RANK") ?? 0;

    /// <summary>This process's index among the job's processes on this machine (0 when not launched): which GPU it takes.</summary>
    public static int LocalRank => Read("OMPI_COMM_WORLD_LOCAL_RANK") ?? 0;

    /// <summary>
    /// The variable that shows another MPI's launcher started this process (MPICH/Hydra's <c>PMI_RANK</c>, Intel MPI's,
    /// MVAPICH's), or null. GpuNet's binding speaks Open MPI's ABI only, so such a launch is refused rather than run as N
    /// unrelated copies of the same training.
    /// </summary>
    public static string? ForeignLauncher
    {
        get
        {
            if (IsLaunched) return null;
            foreach (var name in new[] { "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MV2_COMM_WORLD_RANK" })
                if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable(name))) return name;
            return null;
        }
    }

    private static int? Read(string name) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.None, CultureInfo.InvariantCulture, out int v) ? v : null;
}
