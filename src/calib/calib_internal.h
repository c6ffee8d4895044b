/*
 * What the calibration files share: the run state (src/calib/calib.c drives
 * the passes, src/calib/layers.c finds layers and accumulates Hessians,
 * src/calib/stats.c builds, digests and frees the public result).
 */
#ifndef SPARSIFY_CALIB_INTERNAL_H
#define SPARSIFY_CALIB_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/engine_internal.h"
#include "sparsify/calib.h"
#include "sparsify/exact.h"

enum slot_kind {
    SLOT_CONV = 0,   /* im2col rows: one per output position per sample and group */
    SLOT_ROWS = 1,   /* X is [..., K]: one row per leading index (MatMul, Gemm) */
    SLOT_COLS = 2,   /* Gemm with transA = 1: X is [K, M], one row per column */
};

/* One Hessian accumulator, shared by every layer with the same key. */
struct calib_slot {
    char *key, *input;
    int tensor;               /* index of the input in the tensor table */
    enum slot_kind kind;
    int node;                 /* engine node whose geometry builds the rows */
    int64_t groups, cols, tri;
    sp_exact_t *acc;          /* groups * tri, upper triangles (pass 2, Hessians on) */
    int frac_bits;
    int64_t rows1, rows2;     /* rows per group: counted in pass 1, accumulated in pass 2 */
    int64_t last_run;         /* engine run that last fed it (shared inputs feed once) */
};

struct calib_layer {
    int node;
    char *name, *op, *weight, *input;
    int64_t groups, rpg, cols;
    bool kn;
    int slot;
};

struct calib_tstat {
    double min, max;          /* finite extremes; +inf / -inf while none seen */
    int64_t count, nan, inf;
};

struct calib {
    const struct sp_calib_options *opt;
    struct sp_comm *comm;
    const struct sp_logger *log;
    int rank, size;
    const struct sp_model *model;
    const struct sp_dataset *ds;
    struct sp_engine *eng;

    int n_tensors;
    char **tnames;            /* borrowed from the model */
    struct calib_tstat *ts;   /* rank 0: merged + own partial; others: partial */
    int64_t *hist;            /* n_tensors * bins (pass 2) */
    double *hlo, *hscale;     /* histogram edges from the merged pass-1 range */
    int n_slots;
    struct calib_slot *slots;
    int n_layers;
    struct calib_layer *layers;
    int *node_layers;         /* per engine node: first layer index, or -1 */
    int *node_layer_next;     /* per layer: next layer at the same node, or -1 */
    int **node_out;           /* per engine node, per output: tensor index or -1 */
    int *input_tensor;        /* per model input: tensor index or -1 */

    size_t *samples;          /* global indices of statistics samples */
    int64_t n_samples, n_groups;
    int pass;
    int64_t run_id;
    bool resumed;

    /* scratch for Hessians, grown on demand, reused across groups */
    float *col, *fs;
    double *ds_acc;
    size_t col_cap, fs_cap, ds_cap;

    struct sp_calib_timers t;
};

/* layers.c */
enum sp_status calib_discover(struct calib *c, const struct sp_tensor *inputs, struct sp_error *err);
enum sp_status calib_hessian_feed(struct calib *c, struct calib_slot *s, const struct sp_node_view *v,
                                  struct sp_error *err);
int64_t calib_slot_rows(const struct calib *c, const struct calib_slot *s, const struct sp_node_view *v);
void calib_free_layout(struct calib *c);

/* stats.c */
enum sp_status calib_build_stats(struct calib *c, struct sp_calib_stats **out, struct sp_error *err);

#endif
