/*
 * Sliding-window geometry shared by Conv, ConvTranspose and the pooling ops,
 * and the im2col / col2im kernels that turn a convolution into one GEMM.
 *
 * Every windowed op reads the same attributes (kernel_shape, strides, pads,
 * dilations, auto_pad, ceil_mode) and resolves them into the same output-size
 * rules, so both live here once. 1-D and 2-D windows are stored as 3-D ones
 * with leading unit dimensions (kernel 1, stride 1, no padding): one kernel
 * then serves every spatial rank and the innermost loop, where the time goes,
 * is the same for all of them.
 */
#ifndef SPARSIFY_ENGINE_OPS_IM2COL_H
#define SPARSIFY_ENGINE_OPS_IM2COL_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/op.h"

/* Largest spatial rank of a window (3-D convolution and pooling). */
#define SP_WIN_MAX_DIMS 3

enum sp_auto_pad { SP_AUTO_PAD_NOTSET, SP_AUTO_PAD_SAME_UPPER, SP_AUTO_PAD_SAME_LOWER, SP_AUTO_PAD_VALID };

/* Attributes as written in the node; counts are 0 for absent attributes. */
struct sp_win_attrs {
    int n_kernel, n_strides, n_pads, n_dilations;
    int64_t kernel[SP_WIN_MAX_DIMS];
    int64_t strides[SP_WIN_MAX_DIMS];
    int64_t pads[2 * SP_WIN_MAX_DIMS]; /* begin values of every axis, then end values */
    int64_t dilations[SP_WIN_MAX_DIMS];
    enum sp_auto_pad auto_pad;
    bool ceil_mode;
};

/*
 * A resolved window over `nd` spatial axes, stored right-aligned in 3 slots:
 * slot 3 - nd + i holds spatial axis i; leading slots are unit axes.
 */
struct sp_win {
    int nd;
    int64_t in[SP_WIN_MAX_DIMS], out[SP_WIN_MAX_DIMS], kernel[SP_WIN_MAX_DIMS];
    int64_t stride[SP_WIN_MAX_DIMS], dilation[SP_WIN_MAX_DIMS];
    int64_t pad_begin[SP_WIN_MAX_DIMS], pad_end[SP_WIN_MAX_DIMS];
};

/*
 * Reads the window attributes of node n. `with_dilations` / `with_ceil` say
 * whether the op has those attributes (they are left at their defaults
 * otherwise; sp_attr_check_known refuses them). Values are validated for sign
 * (strides, dilations and kernel >= 1, pads >= 0) and auto_pad spelling.
 */
enum sp_status sp_win_attrs_read(const struct sp_node *n, bool with_dilations, bool with_ceil,
                                 struct sp_win_attrs *a, struct sp_error *err);

/*
 * Resolves the attributes against `nd` spatial input sizes `in` and a kernel
 * (`kernel`, used when the attribute is absent; NULL makes kernel_shape
 * required) into a window with output sizes, following the ONNX Conv/Pool
 * output-size rules (floor, or ceil_mode where a window must start inside the
 * input or its begin padding). Fails, naming the node, when the list lengths
 * disagree with nd, when nd exceeds SP_WIN_MAX_DIMS or when an output size
 * would be < 1.
 */
enum sp_status sp_win_resolve(const struct sp_node *n, const struct sp_win_attrs *a, int nd, const int64_t *in,
                              const int64_t *kernel, struct sp_win *w, struct sp_error *err);

/* Number of output positions (product of w->out) and of kernel taps. */
int64_t sp_win_out_size(const struct sp_win *w);
int64_t sp_win_kernel_size(const struct sp_win *w);
int64_t sp_win_in_size(const struct sp_win *w);

/* True when the window is the identity mapping (1x1 kernel, stride 1, no pads):
 * the im2col matrix is then the input itself. */
bool sp_win_is_pointwise(const struct sp_win *w);

/*
 * im2col: for `channels` input planes of w->in at `x`, writes the
 * (channels * kernel taps) x (output positions) matrix, row-major, to `col`.
 * Taps falling into padding read as 0.
 */
void sp_im2col(const struct sp_win *w, int64_t channels, const float *x, float *col);
/* The same with rows `ld` floats apart (ld >= output positions), so the
 * columns of several images can sit side by side in one matrix. */
void sp_im2col_ld(const struct sp_win *w, int64_t channels, const float *x, float *col, int64_t ld);

/*
 * col2im: the adjoint of sp_im2col. Accumulates (+=) every entry of the
 * (channels * kernel taps) x (window positions) matrix `col` into the planes at
 * `y` (sized w->in), dropping taps that fall into padding. Used by
 * ConvTranspose, where w->in is the transposed convolution's output.
 */
void sp_col2im(const struct sp_win *w, int64_t channels, const float *col, float *y);

/*
 * Direct single-channel window convolution: accumulates (+=) into the output
 * plane `y` (sized w->out) the correlation of the input plane `x` (sized w->in)
 * with the taps `k` (sized w->kernel). Depthwise convolutions use it: as a GEMM
 * they would be M = 1 products that spend their time in call overhead.
 */
void sp_win_conv_plane(const struct sp_win *w, const float *x, const float *k, float *y);

/*
 * Shared by the compute-heavy ops: fails unless input i is present and float32,
 * naming the input by `what`.
 */
enum sp_status sp_op_need_float(const struct sp_node *n, int i, const char *what, struct sp_error *err);

/* Fails unless the product of dims stays below 2^40 elements (any real model is
 * far below), so later size arithmetic cannot overflow. */
enum sp_status sp_op_check_elems(const struct sp_node *n, const char *what, int ndim, const int64_t *dims,
                                 struct sp_error *err);

#endif
