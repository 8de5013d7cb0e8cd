/* Open MPI's own all-reduce figures, for comparison with GpuNet's binding (GpuNet.MpiWorker bandwidth):
 * the same sizes (1-64 MB of float32), the same in-place MPI_Allreduce(MPI_SUM), the same timing (median of 20 after
 * 3 warm-ups, a barrier before each). Build: mpicc -O2 -o allreduce_bw allreduce_bw.c */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    enum { Warm = 3, Reps = 20 };
    for (long mb = 1; mb <= 64; mb *= 2) {
        long n = mb * 1024 * 1024 / 4;
        float *x = malloc(n * sizeof(float));
        for (long i = 0; i < n; i++) x[i] = 1.0f;
        double t[Reps];
        for (int r = 0; r < Warm + Reps; r++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            MPI_Allreduce(MPI_IN_PLACE, x, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            if (r >= Warm) t[r - Warm] = MPI_Wtime() - t0;
        }
        qsort(t, Reps, sizeof(double), cmp);
        double median = t[Reps / 2];
        if (rank == 0) printf("C MPI_Allreduce %2ld MB  %8.3f ms  %7.0f MB/s\n", mb, median * 1e3, mb / median);
        free(x);
    }
    MPI_Finalize();
    return 0;
}
