/*
 * Distributed calibration: the statistics pruning and quantization need,
 * gathered by running the engine over the calibration samples on every rank
 * and merged exactly, so that the result is bit-identical for any number of
 * ranks, any checkpoint interval and any resume point.
 *
 * Two passes over the samples (docs/calibration.md has the full data flow):
 *   pass 1  per-tensor min/max (plus NaN/Inf counts) of every float tensor the
 *           graph computes and of the float graph inputs; and the number of
 *           Hessian rows each layer input will produce;
 *   pass 2  per-tensor histograms on [min, max] agreed after pass 1, and, when
 *           pruning, the layer-input Hessians H = sum over rows of x x^T.
 * Samples are taken in global sorted order minus the held-out ones, cut into
 * groups of batch_size samples (one group = one engine run, computed the same
 * way on any rank), dealt round-robin to ranks within each checkpoint
 * interval; each group's partial Hessian is converted to 128-bit fixed point
 * (sparsify/exact.h) before any cross-group addition.
 */
#ifndef SPARSIFY_CALIB_H
#define SPARSIFY_CALIB_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sparsify/comm.h"
#include "sparsify/data.h"
#include "sparsify/log.h"
#include "sparsify/model.h"
#include "sparsify/quant.h"
#include "sparsify/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SP_CALIB_DEFAULT_BINS 2048
#define SP_CALIB_DEFAULT_BATCH 8

/* Progress of a pass, reported on rank 0 only. `done` and `total` count the
 * statistics samples of the pass across all ranks; `elapsed_s` is the time
 * since sp_calibrate started. */
typedef void (*sp_calib_progress_fn)(void *user, int pass, long long done, long long total, double elapsed_s);

struct sp_calib_options {
    int batch_size;              /* samples per group (= per engine run), >= 1 */
    double holdout;              /* fraction held out for fidelity checks, [0, 0.5] */
    bool hessians;               /* accumulate layer-input Hessians (pruning) */
    int bins;                    /* histogram bins, >= 16 */
    int checkpoint_every;        /* groups per checkpoint interval; 0 = one interval per pass */
    const char *checkpoint_path; /* rank 0 writes checkpoints here; NULL = never. Borrowed. */
    const char *resume_path;     /* checkpoint to continue from, or NULL. Borrowed. */
    int threads;                 /* BLAS threads for the engine; 0 = leave as is */
    sp_calib_progress_fn progress; /* may be NULL */
    void *progress_user;
};

/* Defaults: batch 8, holdout 0, no Hessians, 2048 bins, no checkpoints. */
void sp_calib_options_init(struct sp_calib_options *o);

/* Statistics of one float tensor. */
struct sp_calib_tensor {
    char *name;                  /* owned */
    double min, max;             /* finite extremes (0, 0 if no finite value) */
    int64_t count;               /* values seen (pass 1) */
    int64_t nan_count, inf_count;
    double lo, hi;               /* histogram edges: lo + i * (hi - lo) / bins */
    int bins;
    int64_t *hist;               /* owned, `bins` counts of finite values */
};

/* One layer-input Hessian, possibly shared by several layers. Stored upper
 * and lower: [groups][cols][cols] row-major, symmetric. Unscaled sum of x x^T. */
struct sp_calib_hessian {
    char *key;                   /* owned: input tensor and im2col geometry */
    char *input;                 /* owned: the input tensor's name */
    int64_t groups, cols;
    int64_t rows;                /* rows accumulated per group */
    int frac_bits;               /* fixed-point fraction bits used */
    double *h;                   /* owned; NULL when Hessians were not asked for */
};

/* A prunable layer: Conv (any group count), Gemm, or MatMul with a constant
 * weight (initializer or Constant node output). */
struct sp_calib_layer {
    char *node;                  /* owned: node name, or its first output's */
    char *op_type;               /* owned */
    char *weight;                /* owned: the weight tensor's name */
    char *input;                 /* owned: the data input tensor's name */
    int64_t groups;              /* Conv groups, else 1 */
    int64_t rows_per_group;      /* output channels / features per group */
    int64_t cols;                /* Hessian columns: (C_in/g)*kh*kw or K */
    bool weight_kn;              /* weight stored [K, N] (MatMul; Gemm transB=0):
                                    transpose it to rows x cols */
    int hessian;                 /* index into stats->hessians */
    const double *h;             /* borrowed = stats->hessians[hessian].h */
    int64_t rows_seen;           /* rows per group accumulated */
};

/* Where the time went, on this rank (seconds), and work done. */
struct sp_calib_timers {
    double total, load, forward, hessian, histogram, reduce, checkpoint;
    double hessian_flops;        /* syrk flops counted as cols^2 * rows per group */
    int64_t groups_run;          /* groups this rank computed */
};

struct sp_calib_stats {
    int n_tensors;
    struct sp_calib_tensor *tensors;
    int n_hessians;
    struct sp_calib_hessian *hessians;
    int n_layers;
    struct sp_calib_layer *layers;
    int64_t samples;             /* statistics samples (data set minus held out) */
    int64_t holdout_samples;
    int64_t groups;              /* groups per pass */
    bool resumed;                /* continued from a checkpoint */
    struct sp_calib_timers time;
};

/*
 * Calibrates `model` over `ds` (every rank holds the same model and listing).
 * On success, on rank 0, *out is the merged statistics (caller frees with
 * sp_calib_stats_free); other ranks get *out = NULL. With checkpoint_path set,
 * rank 0 writes a checkpoint at the end of every interval of checkpoint_every
 * groups and at the end of each pass; with resume_path set, the run continues
 * from that checkpoint (same or other number of ranks), after checking it was
 * made for the same model bytes, data list and settings (SP_ERR_CHECKPOINT
 * naming what differs, or saying how the file is corrupt).
 * When sp_calib_request_stop() was called on any rank, every rank stops at the
 * next group boundary, the merged state is checkpointed, and SP_ERR_INTERRUPTED
 * is returned. Every rank returns the same status.
 * Collective.
 */
enum sp_status sp_calibrate(const struct sp_model *model, const struct sp_dataset *ds,
                            const struct sp_calib_options *opt, struct sp_comm *comm, const struct sp_logger *log,
                            struct sp_calib_stats **out, struct sp_error *err);

/* Frees stats (NULL-safe). */
void sp_calib_stats_free(struct sp_calib_stats *s);

/* SHA-256 (64 hex digits + NUL into hex) over every merged value (names,
 * ranges, histograms, row counts, Hessian bits): equal digests mean
 * bit-identical statistics. Timers are not included. Local. */
void sp_calib_stats_digest(const struct sp_calib_stats *s, char hex[65]);

/* Lookups by name; NULL if absent. Local. */
const struct sp_calib_tensor *sp_calib_find_tensor(const struct sp_calib_stats *s, const char *name);
const struct sp_calib_layer *sp_calib_find_layer(const struct sp_calib_stats *s, const char *node);

/* A view of a tensor's histogram for sp_quant_choose_range (borrows t). */
void sp_calib_tensor_histogram(const struct sp_calib_tensor *t, struct sp_histogram *out);

/*
 * Held-out samples: with k = round(1 / holdout), sample i (global sorted
 * index) is held out iff i % k == k - 1; holdout 0 holds out nothing.
 * Deterministic, independent of ranks. Local.
 */
bool sp_calib_is_holdout(size_t index, double holdout);
/* Writes the held-out indices among `count` samples into `out` (may be NULL
 * to count only) and returns their number. Local. */
size_t sp_calib_holdout_list(size_t count, double holdout, size_t *out);

/* Asks a running calibration to stop at the next group boundary after saving
 * a checkpoint. Async-signal-safe: only sets a volatile sig_atomic_t. */
void sp_calib_request_stop(void);
/* Clears the request (before a new run). Local. */
void sp_calib_clear_stop(void);
bool sp_calib_stop_requested(void);

#ifdef __cplusplus
}
#endif
#endif
