/*
 * Magnitude pruning: the baseline SparseGPT is measured against. The smallest
 * |w| of the whole layer (or of each N:M group) become zero; the survivors are
 * rounded to a per-row grid whose scale comes from the pruned weights.
 */
#include <math.h>
#include <stdlib.h>

#include "prune/prune_internal.h"

enum sp_status sp_magnitude_layer(float *wf, int64_t rows, int64_t cols, const struct sp_prune_options *opt,
                                  float *scales, int8_t *q, struct sp_prune_result *res, struct sp_error *err)
{
    size_t n = (size_t)(rows * cols);
    double *w = malloc(n * sizeof *w);
    double *key = malloc(n * sizeof *key);
    size_t *order = malloc(n * sizeof *order);
    enum sp_status st = SP_OK;
    if (!w || !key || !order) {
        st = sp_error_set(err, SP_ERR_NOMEM, "magnitude pruning: out of memory for a %lld x %lld layer",
                          (long long)rows, (long long)cols);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        w[i] = wf[i];
        key[i] = fabs(w[i]);
    }
    if (opt->nm_m > 0) {
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c0 = 0; c0 < cols; c0 += opt->nm_m) {
                size_t len = (size_t)(c0 + opt->nm_m <= cols ? opt->nm_m : cols - c0);
                size_t idx[64];
                for (size_t j = 0; j < len; j++)
                    idx[j] = (size_t)(r * cols + c0) + j;
                sp_prune_sort_indices(idx, len, key);
                for (size_t j = 0; j < (size_t)opt->nm_n && j < len; j++)
                    w[idx[j]] = 0.0;
            }
    } else {
        size_t k = (size_t)floor((double)n * opt->sparsity);
        for (size_t i = 0; i < n; i++)
            order[i] = i;
        sp_prune_sort_indices(order, n, key);
        for (size_t i = 0; i < k; i++)
            w[order[i]] = 0.0;
    }
    int qmax = opt->quant_bits > 0 ? (1 << (opt->quant_bits - 1)) - 1 : 0;
    if (qmax > 0)
        sp_prune_row_scales(w, rows, cols, qmax, scales);
    res->damp_used = 0;
    res->loss = 0;
    st = sp_prune_finish(w, rows, cols, scales, q, qmax, wf, res, err);
out:
    free(w);
    free(key);
    free(order);
    return st;
}
