/*
 * Calibration checkpoints in HDF5: the merged statistics and the progress of a
 * calibration run, written by rank 0 so that a killed or interrupted job can
 * continue (with any number of ranks) and end bit-identical. The layout is in
 * docs/calibration.md and is readable with h5dump.
 *
 * This layer only moves a struct sp_ckpt to and from a file; deciding whether a
 * checkpoint belongs to the current run is the caller's (src/calib) job.
 */
#ifndef SPARSIFY_CKPT_H
#define SPARSIFY_CKPT_H

#include <stdint.h>

#include "sparsify/exact.h"
#include "sparsify/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SP_CKPT_FORMAT_VERSION 2
/* Names and keys longer than this are refused when read (hostile files). */
#define SP_CKPT_NAME_MAX 4096

struct sp_ckpt_tensor {
    char *name;
    double min, max;
    int64_t count, nan_count, inf_count;
};

struct sp_ckpt_hessian {
    char *key;
    int64_t groups, cols;
    int frac_bits;
    int64_t rows_pass1;          /* rows per group counted in pass 1 */
    int64_t rows;                /* rows accumulated in pass 2 so far */
    sp_exact_t *acc;             /* groups * cols*(cols+1)/2 upper-triangle values, or NULL */
};

/*
 * A checkpoint's content. sp_ckpt_write borrows every pointer; sp_ckpt_read
 * returns a struct whose pointers it owns (free with sp_ckpt_free).
 */
struct sp_ckpt {
    int version;
    char model_sha256[65];
    char data_sha256[65];
    int hessians;                /* 1 when Hessians are accumulated (pruning) */
    int batch_size;
    double holdout;
    int bins;
    int pass;                    /* 1 or 2 in progress, 3 = both passes done */
    int64_t groups_done;         /* groups merged in the current pass */
    int64_t groups;              /* groups per pass */
    int n_tensors;
    struct sp_ckpt_tensor *tensors;
    int64_t *hist;               /* n_tensors * bins, or NULL before pass 2 */
    int n_hessians;
    struct sp_ckpt_hessian *hess;
};

/* Upper-triangle entries of one group of a cols x cols matrix. */
static inline int64_t sp_ckpt_tri(int64_t cols) { return cols * (cols + 1) / 2; }

/*
 * Writes `c` to `path` atomically: a temporary name in the same folder,
 * flushed, fsync'ed, renamed, folder synced. Local (rank 0 calls it).
 */
enum sp_status sp_ckpt_write(const char *path, const struct sp_ckpt *c, struct sp_error *err);

/*
 * Reads a checkpoint. Every size is checked against the others before any
 * allocation, so a corrupt or truncated file is SP_ERR_CHECKPOINT naming the
 * file and the part that is wrong, never a crash. HDF5's own error printing
 * is silenced. Local.
 */
enum sp_status sp_ckpt_read(const char *path, struct sp_ckpt **out, struct sp_error *err);

/* Frees what sp_ckpt_read returned. NULL-safe. */
void sp_ckpt_free(struct sp_ckpt *c);

#ifdef __cplusplus
}
#endif
#endif
