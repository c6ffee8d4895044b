/*
 * Exact reductions of 128-bit fixed-point values over MPI.
 *
 * MPI's predefined MPI_SUM applies only to predefined types, so the sum of
 * 16-byte integers needs a user-defined, commutative MPI_Op over a contiguous
 * 16-byte datatype. Because integer addition is associative, the result does
 * not depend on the reduction tree Open MPI picks for a given rank count.
 */
#include <string.h>

#include "comm_internal.h"
#include "sparsify/exact.h"

static void sum_exact(void *in, void *inout, int *len, MPI_Datatype *dt)
{
    (void)dt;
    const sp_exact_t *a = in;
    sp_exact_t *b = inout;
    for (int i = 0; i < *len; i++) {
        sp_exact_t x, y;
        /* memcpy: MPI buffers need not be 16-byte aligned. */
        memcpy(&x, a + i, sizeof x);
        memcpy(&y, b + i, sizeof y);
        /* Wrap-around add: modular arithmetic stays exact and associative;
         * frac bits are chosen so that true totals never wrap. */
        y = (sp_exact_t)((unsigned __int128)x + (unsigned __int128)y);
        memcpy(b + i, &y, sizeof y);
    }
}

static enum sp_status exact_type(MPI_Datatype *type, MPI_Op *op, struct sp_error *err)
{
    enum sp_status st = sp_mpi_check(MPI_Type_contiguous(16, MPI_BYTE, type), "MPI_Type_contiguous", err);
    if (!st)
        st = sp_mpi_check(MPI_Type_commit(type), "MPI_Type_commit", err);
    if (!st)
        st = sp_mpi_check(MPI_Op_create(sum_exact, 1, op), "MPI_Op_create", err);
    return st;
}

static enum sp_status reduce_exact(struct sp_comm *comm, sp_exact_t *buf, size_t n, int root, int all,
                                   struct sp_error *err)
{
    if (comm->size == 1 || n == 0)
        return SP_OK;
    MPI_Datatype type = MPI_DATATYPE_NULL;
    MPI_Op op = MPI_OP_NULL;
    enum sp_status st = exact_type(&type, &op, err);
    for (size_t off = 0; !st && off < n; off += SP_MPI_CHUNK / 16) {
        size_t cnt = n - off < SP_MPI_CHUNK / 16 ? n - off : SP_MPI_CHUNK / 16;
        void *sendbuf = (all || comm->rank == root) ? MPI_IN_PLACE : buf + off;
        int rc = all ? MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)cnt, type, op, comm->comm)
                     : MPI_Reduce(sendbuf, comm->rank == root ? buf + off : NULL, (int)cnt, type, op, root,
                                  comm->comm);
        st = sp_mpi_check(rc, all ? "MPI_Allreduce (exact sum)" : "MPI_Reduce (exact sum)", err);
    }
    if (op != MPI_OP_NULL)
        MPI_Op_free(&op);
    if (type != MPI_DATATYPE_NULL)
        MPI_Type_free(&type);
    return st;
}

enum sp_status sp_comm_reduce_exact(struct sp_comm *comm, sp_exact_t *buf, size_t n, int root, struct sp_error *err)
{
    return reduce_exact(comm, buf, n, root, 0, err);
}

enum sp_status sp_comm_allreduce_exact(struct sp_comm *comm, sp_exact_t *buf, size_t n, struct sp_error *err)
{
    return reduce_exact(comm, buf, n, -1, 1, err);
}
