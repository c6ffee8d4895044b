/*
 * Multidirectional (numpy-style) broadcasting for elementwise operators.
 *
 * Most elementwise work in CNN and BERT graphs is one of three shapes: two
 * tensors of the same shape, a tensor and a scalar, or a tensor and a bias that
 * repeats along some axes ([N,C,H,W] + [C,1,1], [B,S,768] + [768]). Rather than
 * write a fast path per case, a plan drops size-1 output axes and merges
 * neighbouring axes along which every input is either contiguous or repeated.
 * What is left is a short loop nest whose innermost axis has, for each input,
 * stride 1 (contiguous) or 0 (repeated), so a row kernel specialised on those
 * two strides covers all three cases at full speed.
 */
#ifndef SPARSIFY_ENGINE_OPS_BROADCAST_H
#define SPARSIFY_ENGINE_OPS_BROADCAST_H

#include <stdbool.h>
#include <stdint.h>

#include "sparsify/tensor.h"

#define SP_BCAST_MAX_IN 3

struct sp_bcast {
    int n_in;
    int ndim;                                     /* collapsed rank, >= 1 */
    int64_t dims[SP_MAX_DIMS];                    /* collapsed output dims */
    int64_t strides[SP_BCAST_MAX_IN][SP_MAX_DIMS]; /* element strides, 0 where repeated */
    int64_t numel;                                /* output elements */
};

/*
 * Output shape of broadcasting `n` shapes together (ONNX multidirectional
 * broadcasting). Returns false if some axis has two sizes that differ and are
 * both not 1. Result rank is the largest input rank.
 */
bool sp_broadcast_shape(int n, const int *ndims, const int64_t *const *dims, int *ndim_out, int64_t *dims_out);

/* Same for tensors; NULL entries are not allowed. */
bool sp_broadcast_tensors(int n, const struct sp_tensor *const *ts, int *ndim_out, int64_t *dims_out);

/*
 * True if a tensor of shape `dims` can be broadcast to `out_dims` without
 * changing `out_dims` (ONNX unidirectional broadcasting, e.g. PRelu's slope).
 */
bool sp_broadcast_to(int ndim, const int64_t *dims, int out_ndim, const int64_t *out_dims);

/*
 * Builds the iteration plan for `n` (1..SP_BCAST_MAX_IN) inputs of the given
 * shapes, each broadcastable to `out_dims` (checked by the caller with one of
 * the functions above). Never fails.
 */
void sp_bcast_plan(struct sp_bcast *p, int n, const int *ndims, const int64_t *const *dims, int out_ndim,
                   const int64_t *out_dims);

/* Plan from tensors (dims only are read). */
void sp_bcast_plan_tensors(struct sp_bcast *p, int n, const struct sp_tensor *const *ts, int out_ndim,
                           const int64_t *out_dims);

/*
 * One innermost row: `len` output elements starting at element `out_off`; input
 * k starts at element in_off[k] and advances by in_step[k] (0 or 1) per element.
 */
typedef void (*sp_bcast_row_fn)(void *ctx, int64_t out_off, const int64_t *in_off, const int *in_step,
                                int64_t len);

/* Calls `row` for every innermost row of the plan, in output order. No allocation. */
void sp_bcast_for_each(const struct sp_bcast *p, sp_bcast_row_fn row, void *ctx);

#endif
