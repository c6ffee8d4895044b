/*
 * Pruning of one layer's weight matrix, optionally quantized in the same pass.
 *
 * The weight matrix is `rows x cols`, row-major, one row per output channel and
 * one column per input feature in the order of the layer-input Hessian (for a
 * convolution: the im2col order C_in/group x kh x kw of one group).
 *
 * Two methods:
 *   SparseGPT (Frantar & Alistarh, "SparseGPT: Massive Language Models Can Be
 *   Accurately Pruned in One-Shot", 2023, Algorithm 1): mask chosen per block of
 *   columns by w^2 / [H^-1]_cc^2, the remaining weights of the row updated to
 *   compensate each pruned (and quantized) column through the Cholesky factor of
 *   the inverse Hessian, with lazy batched updates between blocks.
 *   Magnitude: the smallest |w| of the layer set to zero, the rest rounded.
 * Both keep pruned weights exact zeros after quantization.
 */
#ifndef SPARSIFY_PRUNE_H
#define SPARSIFY_PRUNE_H

#include <stdint.h>

#include "sparsify/status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum sp_prune_method { SP_PRUNE_SPARSEGPT = 0, SP_PRUNE_MAGNITUDE = 1 };

struct sp_prune_options {
    enum sp_prune_method method;
    double sparsity;    /* fraction of weights to zero, [0, 1); ignored when nm_m > 0 */
    int nm_n, nm_m;     /* N:M masks: nm_n zeros in every nm_m consecutive columns; 0,0 = unstructured */
    double damp;        /* dampening as a fraction of the mean Hessian diagonal (default 0.01) */
    int block;          /* SparseGPT column block (default 128) */
    int quant_bits;     /* 0: no quantization; else symmetric per-row, |q| <= 2^(bits-1)-1 */
};

/* Defaults: SparseGPT, damp 0.01, block 128, no quantization, unstructured. */
void sp_prune_options_init(struct sp_prune_options *o);

struct sp_prune_result {
    int64_t zeros;        /* weights that are exactly zero after the pass */
    double sparsity;      /* zeros / (rows * cols) */
    double damp_used;     /* dampening fraction finally used (raised x10 per failed Cholesky) */
    int64_t dead_inputs;  /* columns whose Hessian diagonal was zero (weights zeroed) */
    double loss;          /* SparseGPT's sum of (w - q)^2 / [H^-1]_cc^2 / 2; 0 for magnitude */
};

/* Parses "sparsegpt" / "magnitude"; returns -1 if unknown. */
int sp_prune_method_parse(const char *s);
const char *sp_prune_method_str(enum sp_prune_method m);

/*
 * Prunes (and with quant_bits > 0 quantizes) `w` in place.
 *   w        rows x cols float32, row-major; on return the pruned weights, and
 *            when quantizing exactly q * scales[row] as float.
 *   hessian  cols x cols symmetric matrix X X^T of the layer input (any positive
 *            multiple; only needed for SparseGPT, may be NULL for magnitude).
 *            Not modified.
 *   scales   rows floats, written when quant_bits > 0 (may be NULL otherwise):
 *            max |w_row| of the pruned weights / qmax, so no range is spent on
 *            pruned weights; 1 for an all-zero row.
 *   q        rows x cols int8 codes, written when quant_bits > 0 and q != NULL.
 * Errors: bad options (SP_ERR_USAGE), NaN/Inf in w or hessian, Cholesky failing
 * even after raising the dampening 6 times (SP_ERR_NUMERIC), no memory.
 */
enum sp_status sp_prune_layer(float *w, int64_t rows, int64_t cols, const double *hessian,
                              const struct sp_prune_options *opt, float *scales, int8_t *q,
                              struct sp_prune_result *result, struct sp_error *err);

#ifdef __cplusplus
}
#endif
#endif
