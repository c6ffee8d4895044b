/*
 * SparseGPT for one layer (Frantar & Alistarh 2023, Algorithm 1), with the
 * joint INT8 quantization of GPTQ folded into the same column sweep.
 *
 * Everything runs in double: the inverse-Hessian factor of a 4608-column conv
 * loses too much in float. The dense algebra (Cholesky, inverse, the lazy block
 * update) goes to LAPACK/BLAS; the per-column updates inside a block are a
 * rank-1 update per column over at most `block` columns.
 *
 * When quantizing, scales must come from the pruned weights (ENVIRONMENT.md:
 * dense scales cost 2.5 points at 69% sparsity and 17 at 80%), but the sweep
 * needs them before the first column. So the pass runs twice: once pruning
 * only, to learn the mask and the final weights' per-row range; then again from
 * the original weights with that mask fixed and the quantizer on, so that the
 * compensation also absorbs the rounding error.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "prune/prune_internal.h"

/* LAPACK from OpenBLAS (Fortran interface). */
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
extern void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info);

#define SP_DAMP_RETRIES 6

/*
 * Computes the upper Cholesky factor U of H^-1 (H^-1 = U^T U) into `u`
 * (row-major, u[i*n+j] for j >= i; zero below). `h` is the dampened Hessian,
 * overwritten. Returns the LAPACK info (0 on success).
 */
static int inverse_cholesky_upper(double *h, int n, double *u)
{
    int info = 0;
    /* The buffer is symmetric, so row- and column-major views coincide. LAPACK
     * is column-major: 'L' there is the lower triangle in column-major order. */
    dpotrf_("L", &n, h, &n, &info);
    if (info)
        return info;
    dpotri_("L", &n, h, &n, &info); /* lower triangle of H^-1 */
    if (info)
        return info;
    for (int j = 0; j < n; j++)      /* mirror lower -> upper (column-major) */
        for (int i = j + 1; i < n; i++)
            h[(size_t)i * n + j] = h[(size_t)j * n + i];
    dpotrf_("U", &n, h, &n, &info);  /* H^-1 = U^T U, U upper in column-major */
    if (info)
        return info;
    /* U(i,j) sits at h[i + j*n] (column-major); store it row-major. */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            u[(size_t)i * n + j] = j >= i ? h[i + (size_t)j * n] : 0.0;
    return 0;
}

/*
 * Dampened inverse-Hessian factor with the retry policy of the paper's code:
 * dead inputs (zero diagonal) get a unit diagonal and their weights are zeroed
 * by the caller; damping starts at `damp` x mean(diag) and grows x10 per failure.
 */
static enum sp_status prepare_hinv(const double *hessian, int64_t cols, double damp, double *hinv, bool *dead,
                                   double *damp_used, int64_t *n_dead, struct sp_error *err)
{
    size_t n = (size_t)cols;
    double *h = malloc(n * n * sizeof *h);
    if (!h)
        return sp_error_set(err, SP_ERR_NOMEM, "SparseGPT: cannot allocate a %lld x %lld Hessian", (long long)cols,
                            (long long)cols);
    double mean_diag = 0;
    *n_dead = 0;
    for (size_t i = 0; i < n; i++) {
        double d = hessian[i * n + i];
        if (!isfinite(d)) {
            free(h);
            return sp_error_set(err, SP_ERR_NUMERIC, "SparseGPT: the layer-input Hessian holds NaN or Inf");
        }
        dead[i] = d <= 0.0;
        *n_dead += dead[i];
        mean_diag += dead[i] ? 1.0 : d;
    }
    mean_diag /= (double)n;
    enum sp_status st = SP_ERR_NUMERIC;
    double frac = damp;
    for (int attempt = 0; attempt <= SP_DAMP_RETRIES; attempt++, frac *= 10.0) {
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < n; j++) {
                /* A dead input has no signal: decouple it entirely. */
                double v = (dead[i] || dead[j]) ? 0.0 : hessian[i * n + j];
                if (!isfinite(v)) {
                    free(h);
                    return sp_error_set(err, SP_ERR_NUMERIC, "SparseGPT: the layer-input Hessian holds NaN or Inf");
                }
                h[i * n + j] = v;
            }
            h[i * n + i] = dead[i] ? 1.0 : h[i * n + i] + frac * mean_diag;
        }
        if (inverse_cholesky_upper(h, (int)n, hinv) == 0) {
            st = SP_OK;
            *damp_used = frac;
            break;
        }
    }
    free(h);
    if (st)
        return sp_error_set(err, SP_ERR_NUMERIC,
                            "SparseGPT: Cholesky of the dampened Hessian failed even at dampening %g", frac / 10.0);
    return SP_OK;
}

/* Selects exactly `k` smallest entries of score[0..len) into mask (ties broken
 * by index, so the choice is deterministic). */
static void mask_k_smallest(const double *score, size_t len, size_t k, bool *mask, size_t *order)
{
    for (size_t i = 0; i < len; i++) {
        mask[i] = false;
        order[i] = i;
    }
    if (k == 0)
        return;
    sp_prune_sort_indices(order, len, score);
    for (size_t i = 0; i < k && i < len; i++)
        mask[order[i]] = true;
}

/*
 * One column sweep of Algorithm 1. `w` (rows x cols, double) is updated in place.
 * With `fixed_mask` the mask is taken from it, else chosen per block (or N:M)
 * and stored into `mask_out`. With scales != NULL each kept weight is rounded to
 * its row's grid. Returns the loss.
 */
static double sweep(double *w, int64_t rows, int64_t cols, const double *hinv, const struct sp_prune_options *opt,
                    const bool *fixed_mask, bool *mask_out, const float *scales, int qmax, struct sp_prune_ws *ws)
{
    const int64_t bs = opt->block > 0 ? opt->block : 128;
    double loss = 0;
    for (int64_t i1 = 0; i1 < cols; i1 += bs) {
        int64_t i2 = i1 + bs < cols ? i1 + bs : cols, count = i2 - i1;
        bool *blk_mask = ws->blk_mask; /* rows x count */
        /* Block mask (unstructured): the k smallest w^2 / [H^-1]_cc^2 of the block. */
        if (fixed_mask) {
            for (int64_t r = 0; r < rows; r++)
                for (int64_t c = 0; c < count; c++)
                    blk_mask[r * count + c] = fixed_mask[r * cols + i1 + c];
        } else if (opt->nm_m == 0) {
            size_t len = (size_t)(rows * count);
            for (int64_t r = 0; r < rows; r++)
                for (int64_t c = 0; c < count; c++) {
                    double d = hinv[(i1 + c) * cols + i1 + c];
                    double v = w[r * cols + i1 + c];
                    ws->score[r * count + c] = v * v / (d * d);
                }
            size_t k = (size_t)floor((double)len * opt->sparsity);
            mask_k_smallest(ws->score, len, k, blk_mask, ws->order);
        } else {
            memset(blk_mask, 0, (size_t)(rows * count) * sizeof *blk_mask);
        }
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < count; c++)
                ws->err[r * count + c] = 0.0;

        for (int64_t c = 0; c < count; c++) {
            int64_t col = i1 + c;
            double d = hinv[col * cols + col];
            /* N:M: choose the group's mask when the sweep reaches its first column,
             * from the weights as updated so far. */
            if (!fixed_mask && opt->nm_m > 0 && (col % opt->nm_m) == 0) {
                int m = opt->nm_m;
                for (int64_t r = 0; r < rows; r++) {
                    double sc[64];
                    size_t ord[64];
                    bool mk[64];
                    int len = 0;
                    for (int j = 0; j < m && col + j < cols; j++) {
                        double dj = hinv[(col + j) * cols + col + j];
                        double v = w[r * cols + col + j];
                        sc[len++] = v * v / (dj * dj);
                    }
                    mask_k_smallest(sc, (size_t)len, (size_t)(opt->nm_n < len ? opt->nm_n : len), mk, ord);
                    for (int j = 0; j < len; j++)
                        blk_mask[r * count + c + j] = mk[j];
                }
            }
            for (int64_t r = 0; r < rows; r++) {
                double wv = w[r * cols + col];
                double qv = blk_mask[r * count + c] ? 0.0 : wv;
                if (scales && qv != 0.0) {
                    double s = scales[r];
                    double qi = nearbyint(qv / s);
                    if (qi > qmax) qi = qmax;
                    if (qi < -qmax) qi = -qmax;
                    qv = qi * s;
                }
                double e = (wv - qv) / d;
                loss += (wv - qv) * (wv - qv) / (d * d) / 2.0;
                w[r * cols + col] = qv;
                ws->err[r * count + c] = e;
                /* Compensate inside the block right away (Algorithm 1, line 10). */
                const double *hrow = hinv + col * cols;
                double *wr = w + r * cols;
                for (int64_t j = col + 1; j < i2; j++)
                    wr[j] -= e * hrow[j];
            }
            if (mask_out)
                for (int64_t r = 0; r < rows; r++)
                    mask_out[r * cols + col] = blk_mask[r * count + c];
        }
        /* Lazy batch update of the columns right of the block (line 13):
         * W[:, i2:] -= Err (rows x count) * Hinv[i1:i2, i2:]. */
        if (i2 < cols)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)(cols - i2), (int)count, -1.0,
                        ws->err, (int)count, hinv + i1 * cols + i2, (int)cols, 1.0, w + i2, (int)cols);
    }
    return loss;
}

enum sp_status sp_sparsegpt_layer(float *wf, int64_t rows, int64_t cols, const double *hessian,
                                  const struct sp_prune_options *opt, float *scales, int8_t *q,
                                  struct sp_prune_result *res, struct sp_error *err)
{
    if (!hessian)
        return sp_error_set(err, SP_ERR_USAGE, "SparseGPT needs the layer-input Hessian");
    if (cols > 65536)
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "SparseGPT: %lld input columns exceed the supported 65536",
                            (long long)cols);
    enum sp_status st = SP_OK;
    size_t n = (size_t)cols, wn = (size_t)(rows * cols);
    /* N:M groups must not straddle blocks: round the block up to a multiple of M. */
    struct sp_prune_options o = *opt;
    if (o.block <= 0)
        o.block = 128;
    if (o.nm_m > 0)
        o.block = (o.block + o.nm_m - 1) / o.nm_m * o.nm_m;
    opt = &o;
    int64_t bs = o.block;
    int qmax = opt->quant_bits > 0 ? (1 << (opt->quant_bits - 1)) - 1 : 0;
    double *hinv = malloc(n * n * sizeof *hinv);
    double *w = malloc(wn * sizeof *w);
    bool *dead = calloc(n, sizeof *dead);
    bool *mask = calloc(wn, sizeof *mask);
    struct sp_prune_ws ws = {0};
    st = sp_prune_ws_init(&ws, rows, bs, err);
    if (!st && (!hinv || !w || !dead || !mask))
        st = sp_error_set(err, SP_ERR_NOMEM, "SparseGPT: out of memory for a %lld x %lld layer", (long long)rows,
                          (long long)cols);
    if (st)
        goto out;
    st = prepare_hinv(hessian, cols, opt->damp, hinv, dead, &res->damp_used, &res->dead_inputs, err);
    if (st)
        goto out;

    for (size_t i = 0; i < wn; i++)
        w[i] = dead[i % n] ? 0.0 : wf[i];
    res->loss = sweep(w, rows, cols, hinv, opt, NULL, mask, NULL, 0, &ws);

    if (qmax > 0) {
        /* Second sweep: scales from the pruned weights, same mask, quantizer on. */
        sp_prune_row_scales(w, rows, cols, qmax, scales);
        for (size_t i = 0; i < wn; i++)
            w[i] = dead[i % n] ? 0.0 : wf[i];
        res->loss = sweep(w, rows, cols, hinv, opt, mask, NULL, scales, qmax, &ws);
    }
    for (size_t i = 0; i < wn; i++)
        if (mask[i] || dead[i % n])
            w[i] = 0.0;
    st = sp_prune_finish(w, rows, cols, scales, q, qmax, wf, res, err);
out:
    sp_prune_ws_free(&ws);
    free(hinv);
    free(w);
    free(dead);
    free(mask);
    return st;
}
