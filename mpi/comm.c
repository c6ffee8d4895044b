/*
 * sparsify's communicator: a thin layer over MPI that turns its failures into
 * statuses, splits large transfers, and gives the library the agreement step
 * (sp_comm_agree) that keeps one failing rank from hanging the others.
 *
 * This file and its siblings in mpi/ are the only code that includes <mpi.h>.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm_internal.h"

/* Whether sp_comm_init started MPI (and so sp_comm_finalize must stop it). */
static bool started_mpi;

enum sp_status sp_mpi_check(int rc, const char *what, struct sp_error *err)
{
    if (rc == MPI_SUCCESS)
        return SP_OK;
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS)
        strcpy(msg, "unknown MPI error");
    return sp_error_set(err, SP_ERR_MPI, "%s failed: %s", what, msg);
}

static enum sp_status comm_wrap(MPI_Comm base, struct sp_comm **out, struct sp_error *err)
{
    *out = NULL;
    struct sp_comm *c = calloc(1, sizeof *c);
    if (!c)
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory creating a communicator");
    enum sp_status st = sp_mpi_check(MPI_Comm_dup(base, &c->comm), "MPI_Comm_dup", err);
    if (st) {
        free(c);
        return st;
    }
    MPI_Comm_set_errhandler(c->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(c->comm, &c->rank);
    MPI_Comm_size(c->comm, &c->size);
    *out = c;
    return SP_OK;
}

enum sp_status sp_comm_create_world(struct sp_comm **out, struct sp_error *err)
{
    return comm_wrap(MPI_COMM_WORLD, out, err);
}

enum sp_status sp_comm_create_self(struct sp_comm **out, struct sp_error *err)
{
    return comm_wrap(MPI_COMM_SELF, out, err);
}

void sp_comm_free(struct sp_comm *comm)
{
    if (!comm)
        return;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized)
        MPI_Comm_free(&comm->comm);
    free(comm);
}

struct sp_comm *sp_comm_init(int *argc, char ***argv, struct sp_error *err)
{
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
        int provided = 0;
        /* Only the main thread calls MPI; OpenBLAS threads never do. */
        if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
            sp_error_set(err, SP_ERR_MPI, "MPI_Init_thread failed: cannot start MPI");
            return NULL;
        }
        started_mpi = true;
    }
    struct sp_comm *world = NULL;
    if (sp_comm_create_world(&world, err)) {
        if (started_mpi) {
            MPI_Finalize();
            started_mpi = false;
        }
        return NULL;
    }
    return world;
}

int sp_comm_finalize(struct sp_comm *world, int code)
{
    sp_comm_free(world);
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (started_mpi && !finalized)
        MPI_Finalize();
    started_mpi = false;
    return code;
}

int sp_comm_rank(const struct sp_comm *comm) { return comm->rank; }
int sp_comm_size(const struct sp_comm *comm) { return comm->size; }
double sp_comm_wtime(void) { return MPI_Wtime(); }

void sp_comm_abort(struct sp_comm *comm, int code)
{
    MPI_Abort(comm ? comm->comm : MPI_COMM_WORLD, code);
}

enum sp_status sp_comm_barrier(struct sp_comm *comm, struct sp_error *err)
{
    return sp_mpi_check(MPI_Barrier(comm->comm), "MPI_Barrier", err);
}

enum sp_status sp_comm_bcast(struct sp_comm *comm, void *buf, size_t len, int root, struct sp_error *err)
{
    char *p = buf;
    for (size_t off = 0; off < len; off += SP_MPI_CHUNK) {
        size_t n = len - off < SP_MPI_CHUNK ? len - off : SP_MPI_CHUNK;
        enum sp_status st = sp_mpi_check(MPI_Bcast(p + off, (int)n, MPI_BYTE, root, comm->comm), "MPI_Bcast", err);
        if (st)
            return st;
    }
    return SP_OK;
}

enum sp_status sp_comm_bcast_alloc(struct sp_comm *comm, void **buf, size_t *len, int root,
                                   struct sp_error *err)
{
    uint64_t n = comm->rank == root ? (uint64_t)*len : 0;
    enum sp_status st = sp_mpi_check(MPI_Bcast(&n, 1, MPI_UINT64_T, root, comm->comm), "MPI_Bcast", err);
    if (st)
        return st;
    /* Every receiver allocates first and the ranks agree on it before the data
     * moves: a rank that cannot allocate must not leave root waiting. */
    int ok = 1;
    if (comm->rank != root) {
        *buf = NULL;
        *len = 0;
        if (n > SIZE_MAX || (n && !(*buf = malloc((size_t)n))))
            ok = 0;
    }
    st = sp_mpi_check(MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, comm->comm), "MPI_Allreduce", err);
    if (!st && !ok)
        st = sp_error_set(err, SP_ERR_NOMEM, "out of memory receiving a %llu-byte broadcast on some rank",
                          (unsigned long long)n);
    if (!st)
        st = sp_comm_bcast(comm, *buf, (size_t)n, root, err);
    if (comm->rank != root) {
        if (st) {
            free(*buf);
            *buf = NULL;
        } else {
            *len = (size_t)n;
        }
    }
    return st;
}

enum sp_status sp_comm_agree(struct sp_comm *comm, enum sp_status local, struct sp_error *err)
{
    /* MAXLOC on (status, rank) gives the worst status and the lowest rank with it. */
    struct {
        int status;
        int rank;
    } mine = {(int)local, comm->rank}, worst;
    int rc = MPI_Allreduce(&mine, &worst, 1, MPI_2INT, MPI_MAXLOC, comm->comm);
    if (rc != MPI_SUCCESS)
        return sp_mpi_check(rc, "MPI_Allreduce (status agreement)", err);
    if (worst.status == SP_OK)
        return SP_OK;

    char msg[SP_ERROR_MSG_MAX];
    if (comm->rank == worst.rank) {
        if (err && err->msg[0])
            snprintf(msg, sizeof msg, "%s", err->msg);
        else
            snprintf(msg, sizeof msg, "%s", sp_status_str((enum sp_status)worst.status));
    }
    rc = MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, worst.rank, comm->comm);
    if (rc != MPI_SUCCESS)
        return sp_mpi_check(rc, "MPI_Bcast (status agreement)", err);
    msg[sizeof msg - 1] = '\0';
    if (comm->rank != worst.rank && err) {
        /* This rank's own error, if any, is less severe than the agreed one:
         * the agreed failure replaces it so that every rank reports the same. */
        sp_error_clear(err);
        if (comm->size > 1)
            sp_error_set(err, (enum sp_status)worst.status, "rank %d: %s", worst.rank, msg);
        else
            sp_error_set(err, (enum sp_status)worst.status, "%s", msg);
    } else if (err && err->status == SP_OK) {
        sp_error_set(err, (enum sp_status)worst.status, "%s", msg);
    }
    return (enum sp_status)worst.status;
}

static MPI_Op reduce_op(enum sp_reduce_op op)
{
    switch (op) {
    case SP_REDUCE_MAX: return MPI_MAX;
    case SP_REDUCE_MIN: return MPI_MIN;
    default: return MPI_SUM;
    }
}

static enum sp_status allreduce_chunked(struct sp_comm *comm, void *buf, size_t n, size_t elem, MPI_Datatype type,
                                        enum sp_reduce_op op, struct sp_error *err)
{
    char *p = buf;
    for (size_t off = 0; off < n; off += SP_MPI_CHUNK) {
        size_t k = n - off < SP_MPI_CHUNK ? n - off : SP_MPI_CHUNK;
        enum sp_status st = sp_mpi_check(
            MPI_Allreduce(MPI_IN_PLACE, p + off * elem, (int)k, type, reduce_op(op), comm->comm), "MPI_Allreduce",
            err);
        if (st)
            return st;
    }
    return SP_OK;
}

enum sp_status sp_comm_allreduce_i64(struct sp_comm *comm, int64_t *buf, size_t n, enum sp_reduce_op op,
                                     struct sp_error *err)
{
    return allreduce_chunked(comm, buf, n, sizeof *buf, MPI_INT64_T, op, err);
}

enum sp_status sp_comm_allreduce_f64(struct sp_comm *comm, double *buf, size_t n, enum sp_reduce_op op,
                                     struct sp_error *err)
{
    return allreduce_chunked(comm, buf, n, sizeof *buf, MPI_DOUBLE, op, err);
}

/* One block of `bytes` bytes as a single element, so counts stay at 1 and the
 * receive buffer may exceed 2^31 bytes in total. */
static enum sp_status block_type(size_t bytes, MPI_Datatype *type, struct sp_error *err)
{
    if (bytes == 0 || bytes > (size_t)INT_MAX)
        return sp_error_set(err, SP_ERR_USAGE, "gather of %zu bytes per rank: expected 1 to %d", bytes, INT_MAX);
    enum sp_status st = sp_mpi_check(MPI_Type_contiguous((int)bytes, MPI_BYTE, type), "MPI_Type_contiguous", err);
    if (!st)
        st = sp_mpi_check(MPI_Type_commit(type), "MPI_Type_commit", err);
    return st;
}

enum sp_status sp_comm_gather(struct sp_comm *comm, const void *send, size_t bytes, void *recv, int root,
                              struct sp_error *err)
{
    MPI_Datatype t;
    enum sp_status st = block_type(bytes, &t, err);
    if (st)
        return st;
    st = sp_mpi_check(MPI_Gather(send, 1, t, recv, 1, t, root, comm->comm), "MPI_Gather", err);
    MPI_Type_free(&t);
    return st;
}

enum sp_status sp_comm_allgather(struct sp_comm *comm, const void *send, size_t bytes, void *recv,
                                 struct sp_error *err)
{
    MPI_Datatype t;
    enum sp_status st = block_type(bytes, &t, err);
    if (st)
        return st;
    st = sp_mpi_check(MPI_Allgather(send, 1, t, recv, 1, t, comm->comm), "MPI_Allgather", err);
    MPI_Type_free(&t);
    return st;
}
