/*
 * Entry point of layer pruning: option checks, dispatch to SparseGPT or
 * magnitude, and the helpers both share.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "prune/prune_internal.h"

void sp_prune_options_init(struct sp_prune_options *o)
{
    memset(o, 0, sizeof *o);
    o->method = SP_PRUNE_SPARSEGPT;
    o->damp = 0.01;
    o->block = 128;
}

int sp_prune_method_parse(const char *s)
{
    if (!s)
        return -1;
    if (strcasecmp(s, "sparsegpt") == 0)
        return SP_PRUNE_SPARSEGPT;
    if (strcasecmp(s, "magnitude") == 0)
        return SP_PRUNE_MAGNITUDE;
    return -1;
}

const char *sp_prune_method_str(enum sp_prune_method m)
{
    return m == SP_PRUNE_MAGNITUDE ? "magnitude" : "sparsegpt";
}

enum sp_status sp_prune_ws_init(struct sp_prune_ws *ws, int64_t rows, int64_t block, struct sp_error *err)
{
    size_t n = (size_t)(rows * block);
    memset(ws, 0, sizeof *ws);
    ws->blk_mask = malloc(n * sizeof *ws->blk_mask);
    ws->score = malloc(n * sizeof *ws->score);
    ws->err = malloc(n * sizeof *ws->err);
    ws->order = malloc(n * sizeof *ws->order);
    if (!ws->blk_mask || !ws->score || !ws->err || !ws->order) {
        sp_prune_ws_free(ws);
        return sp_error_set(err, SP_ERR_NOMEM, "pruning: out of memory for a %lld-row workspace", (long long)rows);
    }
    return SP_OK;
}

void sp_prune_ws_free(struct sp_prune_ws *ws)
{
    free(ws->blk_mask);
    free(ws->score);
    free(ws->err);
    free(ws->order);
    memset(ws, 0, sizeof *ws);
}

static const double *sort_key;

static int cmp_index(const void *a, const void *b)
{
    size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
    double ka = sort_key[ia], kb = sort_key[ib];
    if (ka < kb) return -1;
    if (ka > kb) return 1;
    return ia < ib ? -1 : ia > ib;
}

void sp_prune_sort_indices(size_t *idx, size_t n, const double *key)
{
    /* qsort has no context argument in C11; pruning runs on one thread per
     * process, so a file-scope key is safe here. */
    sort_key = key;
    qsort(idx, n, sizeof *idx, cmp_index);
    sort_key = NULL;
}

void sp_prune_row_scales(const double *w, int64_t rows, int64_t cols, int qmax, float *scales)
{
    for (int64_t r = 0; r < rows; r++) {
        double m = 0;
        for (int64_t c = 0; c < cols; c++)
            m = fmax(m, fabs(w[r * cols + c]));
        float s = (float)(m / qmax);
        scales[r] = (m > 0 && s > 0 && isfinite(s)) ? s : 1.0f;
    }
}

enum sp_status sp_prune_finish(const double *w, int64_t rows, int64_t cols, const float *scales, int8_t *q, int qmax,
                               float *wf, struct sp_prune_result *res, struct sp_error *err)
{
    int64_t zeros = 0;
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < cols; c++) {
            double v = w[r * cols + c];
            if (!isfinite(v))
                return sp_error_set(err, SP_ERR_NUMERIC, "pruning produced a non-finite weight (row %lld, column %lld)",
                                    (long long)r, (long long)c);
            if (qmax > 0) {
                double qi = nearbyint(v / scales[r]);
                if (qi > qmax) qi = qmax;
                if (qi < -qmax) qi = -qmax;
                if (q)
                    q[r * cols + c] = (int8_t)qi;
                wf[r * cols + c] = (float)qi * scales[r];
            } else {
                wf[r * cols + c] = (float)v;
            }
            zeros += wf[r * cols + c] == 0.0f;
        }
    }
    res->zeros = zeros;
    res->sparsity = (rows * cols) != 0 ? (double)zeros / (double)(rows * cols) : 0.0;
    return SP_OK;
}

enum sp_status sp_prune_layer(float *w, int64_t rows, int64_t cols, const double *hessian,
                              const struct sp_prune_options *opt, float *scales, int8_t *q,
                              struct sp_prune_result *result, struct sp_error *err)
{
    memset(result, 0, sizeof *result);
    if (!w || rows <= 0 || cols <= 0)
        return sp_error_set(err, SP_ERR_USAGE, "pruning: empty weight matrix (%lld x %lld)", (long long)rows,
                            (long long)cols);
    if (!(opt->sparsity >= 0.0 && opt->sparsity < 1.0))
        return sp_error_set(err, SP_ERR_USAGE, "pruning: sparsity %g is outside [0, 1)", opt->sparsity);
    if (opt->nm_m < 0 || opt->nm_m > 64 || opt->nm_n < 0 || (opt->nm_m > 0 && opt->nm_n >= opt->nm_m) ||
        (opt->nm_m == 0 && opt->nm_n != 0))
        return sp_error_set(err, SP_ERR_USAGE, "pruning: N:M pattern %d:%d is invalid (need 0 <= N < M <= 64)",
                            opt->nm_n, opt->nm_m);
    if (opt->quant_bits < 0 || opt->quant_bits > 8 || opt->quant_bits == 1)
        return sp_error_set(err, SP_ERR_USAGE, "pruning: %d quantization bits (expected 0 or 2..8)", opt->quant_bits);
    if (opt->quant_bits > 0 && !scales)
        return sp_error_set(err, SP_ERR_USAGE, "pruning: quantizing needs a scales array");
    if (!(opt->damp > 0.0) || !isfinite(opt->damp))
        return sp_error_set(err, SP_ERR_USAGE, "pruning: dampening %g must be positive", opt->damp);
    for (int64_t i = 0; i < rows * cols; i++)
        if (!isfinite(w[i]))
            return sp_error_set(err, SP_ERR_NUMERIC, "pruning: the weights hold NaN or Inf (element %lld)",
                                (long long)i);
    if (opt->method == SP_PRUNE_MAGNITUDE)
        return sp_magnitude_layer(w, rows, cols, opt, scales, q, result, err);
    return sp_sparsegpt_layer(w, rows, cols, hessian, opt, scales, q, result, err);
}
