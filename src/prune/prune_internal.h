/* Pieces shared by the pruning methods: workspace, deterministic ordering,
 * per-row scales and the final write-back. */
#ifndef SPARSIFY_PRUNE_INTERNAL_H
#define SPARSIFY_PRUNE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "sparsify/prune.h"

/* Scratch for one SparseGPT sweep, sized for `rows` x `block` columns. */
struct sp_prune_ws {
    bool *blk_mask;
    double *score;
    double *err;
    size_t *order;
};

enum sp_status sp_prune_ws_init(struct sp_prune_ws *ws, int64_t rows, int64_t block, struct sp_error *err);
void sp_prune_ws_free(struct sp_prune_ws *ws);

/* Sorts idx[0..n) by (key[idx], idx) ascending: a total order, so masks do not
 * depend on the sort algorithm. */
void sp_prune_sort_indices(size_t *idx, size_t n, const double *key);

/* scales[r] = max_c |w[r, c]| / qmax as float; 1 for an all-zero row. */
void sp_prune_row_scales(const double *w, int64_t rows, int64_t cols, int qmax, float *scales);

/* Writes the double weights back to float (and int8 codes), counts zeros. */
enum sp_status sp_prune_finish(const double *w, int64_t rows, int64_t cols, const float *scales, int8_t *q, int qmax,
                               float *wf, struct sp_prune_result *res, struct sp_error *err);

enum sp_status sp_sparsegpt_layer(float *w, int64_t rows, int64_t cols, const double *hessian,
                                  const struct sp_prune_options *opt, float *scales, int8_t *q,
                                  struct sp_prune_result *res, struct sp_error *err);
enum sp_status sp_magnitude_layer(float *w, int64_t rows, int64_t cols, const struct sp_prune_options *opt,
                                  float *scales, int8_t *q, struct sp_prune_result *res, struct sp_error *err);

#endif
