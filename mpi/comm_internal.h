/*
 * What mpi/ files share about a communicator. Only files under mpi/ include
 * this header (it pulls in <mpi.h>); everything else uses sparsify/comm.h.
 * A new collective (e.g. the exact reductions of mpi/reduce.c) reaches the MPI
 * communicator through struct sp_comm and reports failures with sp_mpi_check.
 */
#ifndef SPARSIFY_MPI_COMM_INTERNAL_H
#define SPARSIFY_MPI_COMM_INTERNAL_H

#include <stdbool.h>

#include <mpi.h>

#include "sparsify/comm.h"

struct sp_comm {
    MPI_Comm comm; /* owned duplicate, errors return instead of aborting */
    int rank;
    int size;
};

/* Largest element count one MPI call is given; larger transfers are split.
 * Kept well below INT_MAX so that count * small type sizes stay in range too. */
#define SP_MPI_CHUNK ((size_t)1 << 30)

/*
 * Turns an MPI return code into a status: SP_OK for MPI_SUCCESS, otherwise
 * SP_ERR_MPI with "<what>: <MPI error string>" in `err`.
 */
enum sp_status sp_mpi_check(int rc, const char *what, struct sp_error *err);

#endif
