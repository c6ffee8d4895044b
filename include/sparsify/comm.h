/*
 * The communicator every distributed stage of sparsify runs on.
 *
 * struct sp_comm wraps an MPI communicator so that only mpi/ includes <mpi.h>:
 * the rest of the library, the CLI and the tests see these functions. The
 * wrapper duplicates the communicator it is made from (so sparsify's messages
 * never match a caller's), sets MPI_ERRORS_RETURN on it (so a failing call
 * becomes SP_ERR_MPI with a message instead of an abort), and splits every
 * transfer whose count would exceed an int (Open MPI counts are int).
 *
 * "Collective:" marks calls that every rank of the communicator must make, in
 * the same order, with matching arguments; the others are local.
 */
#ifndef SPARSIFY_COMM_H
#define SPARSIFY_COMM_H

#include <stddef.h>
#include <stdint.h>

#include "sparsify/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sp_comm;

/*
 * Starts MPI (MPI_Init_thread with MPI_THREAD_FUNNELED) unless it already runs,
 * and returns a communicator over all processes (MPI_COMM_WORLD, duplicated).
 * argc/argv may be NULL. Returns NULL if MPI cannot start; the reason is in
 * `err` (may be NULL). A process started without mpirun is a one-rank world.
 * Collective over MPI_COMM_WORLD.
 */
struct sp_comm *sp_comm_init(int *argc, char ***argv, struct sp_error *err);

/*
 * Frees `world` (may be NULL) and finalizes MPI if sp_comm_init started it.
 * Returns `code` unchanged, so that main() can end with
 * `return sp_comm_finalize(world, code);`.
 * Collective.
 */
int sp_comm_finalize(struct sp_comm *world, int code);

/* A duplicate of MPI_COMM_WORLD / MPI_COMM_SELF. MPI must be running.
 * Collective over the underlying communicator (SELF: local). */
enum sp_status sp_comm_create_world(struct sp_comm **out, struct sp_error *err);
enum sp_status sp_comm_create_self(struct sp_comm **out, struct sp_error *err);

/* Releases the duplicate. NULL-safe. Collective. */
void sp_comm_free(struct sp_comm *comm);

/* This process's rank and the number of ranks. Local. */
int sp_comm_rank(const struct sp_comm *comm);
int sp_comm_size(const struct sp_comm *comm);

/* Seconds on a monotonic clock (MPI_Wtime). Local. */
double sp_comm_wtime(void);

/*
 * Aborts every rank (MPI_Abort) with `code`. Only the CLI may call this, and
 * only when agreement itself failed; library code returns a status instead.
 */
void sp_comm_abort(struct sp_comm *comm, int code);

/* Collective. */
enum sp_status sp_comm_barrier(struct sp_comm *comm, struct sp_error *err);

/*
 * Broadcasts `len` bytes from `root` into `buf` on every rank (len must agree).
 * Any length: split into pieces below 2^31 bytes.
 * Collective.
 */
enum sp_status sp_comm_bcast(struct sp_comm *comm, void *buf, size_t len, int root, struct sp_error *err);

/*
 * Broadcasts a buffer whose length only `root` knows. On root, *buf / *len are
 * the input (unchanged); on the other ranks *buf receives a malloc'ed copy (the
 * caller frees it; NULL when len is 0) and *len its length.
 * Collective.
 */
enum sp_status sp_comm_bcast_alloc(struct sp_comm *comm, void **buf, size_t *len, int root,
                                   struct sp_error *err);

/*
 * Agreement on the outcome of a phase: every rank passes its local status
 * (with its message in `err`), and every rank returns the worst status (the
 * highest enum value) of all ranks. The message comes from the lowest rank
 * holding that status: that rank keeps its own message; the others get a copy
 * prefixed "rank R: " (no prefix on a one-rank communicator), so rank 0 can
 * print the failure of any rank exactly once. An MPI failure during the
 * agreement itself returns SP_ERR_MPI.
 * Collective: call it before leaving every phase in which a rank may fail, so
 * that one failing rank stops every rank instead of leaving them waiting.
 */
enum sp_status sp_comm_agree(struct sp_comm *comm, enum sp_status local, struct sp_error *err);

enum sp_reduce_op { SP_REDUCE_SUM, SP_REDUCE_MAX, SP_REDUCE_MIN };

/*
 * In-place allreduce of `n` elements (any n; split into pieces below 2^31
 * elements). Double sums use MPI_SUM and are therefore NOT reproducible across
 * rank counts: calibration statistics use the exact reductions instead.
 * Collective.
 */
enum sp_status sp_comm_allreduce_i64(struct sp_comm *comm, int64_t *buf, size_t n, enum sp_reduce_op op,
                                     struct sp_error *err);
enum sp_status sp_comm_allreduce_f64(struct sp_comm *comm, double *buf, size_t n, enum sp_reduce_op op,
                                     struct sp_error *err);

/*
 * Gathers `bytes` bytes from every rank into `recv` on `root`, rank r's block at
 * recv + r * bytes (recv needs size * bytes bytes on root; ignored elsewhere).
 * `bytes` must be the same on every rank and below 2^31.
 * Collective.
 */
enum sp_status sp_comm_gather(struct sp_comm *comm, const void *send, size_t bytes, void *recv, int root,
                              struct sp_error *err);

/* Same, delivering the blocks to every rank. Collective. */
enum sp_status sp_comm_allgather(struct sp_comm *comm, const void *send, size_t bytes, void *recv,
                                 struct sp_error *err);

#ifdef __cplusplus
}
#endif
#endif
