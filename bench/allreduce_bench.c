/*
 * allreduce_bench: how long merging the Hessians takes, for the performance
 * model in docs/hpc.md. Calibration sums every rank's Hessians once per
 * checkpoint interval; the sum is exact (128-bit fixed point with a
 * user-defined MPI_Op, see include/sparsify/exact.h), so this times both a
 * plain MPI_SUM over doubles and a user-defined 128-bit sum over the same
 * number of bytes, split into calls below 2^31 elements as sparsify does.
 *
 * Plain MPI, no libsparsify, so it builds anywhere:
 *   mpicc -O2 -o allreduce_bench bench/allreduce_bench.c
 *   mpirun -np 2 ./allreduce_bench 3.5 1000      # sizes in MB (10^6 bytes)
 * Prints one line per size and kind: ranks, bytes, kind, best-of-N seconds,
 * and the bus bandwidth 2(p-1)/p * bytes / time (what a ring allreduce moves).
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Elements per MPI call: counts are int in MPI 3.1. */
#define CHUNK ((size_t)1 << 26)

/* Two's-complement 128-bit addition on (lo, hi) pairs of 64-bit words. */
static void sum128(void *in, void *inout, int *len, MPI_Datatype *type)
{
    (void)type;
    const uint64_t *a = in;
    uint64_t *b = inout;
    for (int i = 0; i < *len; i++) {
        uint64_t lo = a[2 * i] + b[2 * i];
        b[2 * i + 1] += a[2 * i + 1] + (lo < b[2 * i]);
        b[2 * i] = lo;
    }
}

static double run(void *buf, size_t count, MPI_Datatype type, MPI_Op op, size_t elem)
{
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    for (size_t off = 0; off < count; off += CHUNK) {
        size_t n = count - off < CHUNK ? count - off : CHUNK;
        MPI_Allreduce(MPI_IN_PLACE, (char *)buf + off * elem, (int)n, type, op, MPI_COMM_WORLD);
    }
    double t = MPI_Wtime() - t0;
    double worst;
    /* The collective is done when the slowest rank is. */
    MPI_Allreduce(&t, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return worst;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int reps = 3;
    const char *env = getenv("BENCH_REPS");
    if (env && atoi(env) > 0)
        reps = atoi(env);

    MPI_Datatype t128;
    MPI_Type_contiguous(2, MPI_UINT64_T, &t128);
    MPI_Type_commit(&t128);
    MPI_Op op128;
    MPI_Op_create(sum128, 1, &op128);

    if (rank == 0)
        printf("# ranks bytes kind seconds busbw_GBps\n");
    for (int a = 1; a < argc; a++) {
        double mb = atof(argv[a]);
        if (mb <= 0 || mb > 1e5) {
            if (rank == 0)
                fprintf(stderr, "allreduce_bench: size %s: expected megabytes in (0, 100000]\n", argv[a]);
            continue;
        }
        size_t bytes = (size_t)(mb * 1e6) / 16 * 16;
        char *buf = malloc(bytes);
        if (!buf) {
            fprintf(stderr, "allreduce_bench: rank %d: cannot allocate %zu bytes\n", rank, bytes);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        for (int kind = 0; kind < 2; kind++) {
            double best = 1e30;
            for (int r = 0; r < reps; r++) {
                /* Fresh values each time so no rank reduces denormals or NaNs. */
                if (kind == 0) {
                    double *d = (double *)buf;
                    for (size_t i = 0; i < bytes / 8; i++)
                        d[i] = (double)(i % 1000) * 0.001 + rank;
                } else {
                    memset(buf, rank + 1, bytes);
                }
                double t = kind == 0 ? run(buf, bytes / 8, MPI_DOUBLE, MPI_SUM, 8) : run(buf, bytes / 16, t128, op128, 16);
                if (t < best)
                    best = t;
            }
            double bus = size > 1 ? 2.0 * (size - 1) / size * (double)bytes / best / 1e9 : 0.0;
            if (rank == 0)
                printf("%d %zu %s %.6f %.2f\n", size, bytes, kind == 0 ? "double-sum" : "exact128-sum", best, bus);
            fflush(stdout);
        }
        free(buf);
    }
    MPI_Op_free(&op128);
    MPI_Type_free(&t128);
    MPI_Finalize();
    return 0;
}
