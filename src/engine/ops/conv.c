/*
 * Conv and ConvTranspose (ONNX opsets 1..18), float32, 1-D to 3-D.
 *
 * Both are GEMMs on OpenBLAS with the data kept in NCHW:
 *   Conv           Y_g (M/G x P) = W_g (M/G x K) * col_g (K x P), K = C/G x taps,
 *                  P = output positions; col_g is im2col of the group's input,
 *                  or the input itself for a 1x1, stride-1, unpadded kernel.
 *   ConvTranspose  col_g (M/G x taps, P_in) = W_g^T * X_g, then col2im adds
 *                  the columns into the output: the adjoint of Conv.
 * Depthwise convolutions (one input and one output channel per group) skip the
 * GEMM and run a direct per-plane kernel. The bias is written into the output
 * first and the GEMM accumulates onto it (beta = 1), so it costs no extra pass.
 */
#include <cblas.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "engine/attr.h"
#include "engine/ops/im2col.h"

struct conv_state {
    struct sp_win_attrs a;
    int64_t group;
    bool transpose;
    int n_output_padding, n_output_shape;
    int64_t output_padding[SP_WIN_MAX_DIMS];
    int64_t output_shape[SP_WIN_MAX_DIMS + 2];
    /* Resolved by prepare. For ConvTranspose, win.in is the output's spatial
     * size and win.out the input's (the window of the adjoint convolution). */
    struct sp_win win;
    int64_t batch, c_in, c_out;
    bool pointwise, depthwise;
    bool batched; /* small planes, several images: one GEMM over the whole batch */
};

/*
 * Below this many output positions per image a per-image GEMM is too narrow
 * (N = 49 at ResNet's last stage) for OpenBLAS to reach its rate; the images'
 * columns are then placed side by side and multiplied at once, at the cost of
 * copying the product back into NCHW. Measured on ResNet-50 at batch 8: +10-50%
 * on the 7x7 layers, a loss at 14x14 (196 positions), hence the bound.
 */
#define CONV_BATCH_PLANE_MAX 128

static const char *const conv_attrs[] = {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides", NULL};
static const char *const convt_attrs[] = {"auto_pad",       "dilations",    "group",   "kernel_shape", "pads",
                                          "output_padding", "output_shape", "strides", NULL};

static enum sp_status conv_init_common(struct sp_node *n, bool transpose, struct sp_error *err)
{
    enum sp_status st = sp_attr_check_known(n, transpose ? convt_attrs : conv_attrs, err);
    if (st)
        return st;
    if (n->n_inputs < 2 || n->n_inputs > 3 || !n->inputs[0] || !n->inputs[1])
        return sp_node_error(n, err, SP_ERR_FORMAT, "expects inputs X, W and an optional B, got %d inputs",
                             n->n_inputs);
    if (n->n_outputs != 1 || !n->outputs[0])
        return sp_node_error(n, err, SP_ERR_FORMAT, "expects exactly one output, got %d", n->n_outputs);
    struct conv_state *s = calloc(1, sizeof *s);
    if (!s)
        return sp_node_error(n, err, SP_ERR_NOMEM, "out of memory");
    n->state = s;
    s->transpose = transpose;
    if ((st = sp_win_attrs_read(n, true, false, &s->a, err)) || (st = sp_attr_int(n, "group", 1, &s->group, err)))
        return st;
    if (s->group < 1)
        return sp_node_error(n, err, SP_ERR_FORMAT, "attribute 'group' must be >= 1, got %lld",
                             (long long)s->group);
    if (transpose) {
        bool present;
        if ((st = sp_attr_ints(n, "output_padding", s->output_padding, SP_WIN_MAX_DIMS, &s->n_output_padding,
                               &present, err)) ||
            (st = sp_attr_ints(n, "output_shape", s->output_shape, SP_WIN_MAX_DIMS + 2, &s->n_output_shape,
                               &present, err)))
            return st;
        for (int i = 0; i < s->n_output_padding; i++)
            if (s->output_padding[i] < 0)
                return sp_node_error(n, err, SP_ERR_FORMAT, "output_padding[%d] = %lld must be >= 0", i,
                                     (long long)s->output_padding[i]);
    }
    return SP_OK;
}

static void conv_free(struct sp_node *n)
{
    free(n->state);
    n->state = NULL;
}

/* A failed init leaves no state behind, whether or not the engine calls free. */
static enum sp_status conv_init(struct sp_node *n, struct sp_error *err)
{
    enum sp_status st = conv_init_common(n, false, err);
    if (st)
        conv_free(n);
    return st;
}

static enum sp_status convt_init(struct sp_node *n, struct sp_error *err)
{
    enum sp_status st = conv_init_common(n, true, err);
    if (st)
        conv_free(n);
    return st;
}

/* Checks X, W and B types and ranks; returns the number of spatial axes. */
static enum sp_status conv_check_inputs(struct sp_node *n, int *nd, struct sp_error *err)
{
    enum sp_status st;
    if ((st = sp_op_need_float(n, 0, "X", err)) || (st = sp_op_need_float(n, 1, "W", err)))
        return st;
    if (sp_node_in(n, 2) && (st = sp_op_need_float(n, 2, "B", err)))
        return st;
    const struct sp_tensor *x = sp_node_in(n, 0), *w = sp_node_in(n, 1);
    if (x->ndim < 3 || x->ndim > 2 + SP_WIN_MAX_DIMS)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "input X has rank %d, 3 to %d supported", x->ndim,
                             2 + SP_WIN_MAX_DIMS);
    if (w->ndim != x->ndim)
        return sp_node_error(n, err, SP_ERR_MISMATCH, "weight W has rank %d, input X has rank %d", w->ndim,
                             x->ndim);
    *nd = x->ndim - 2;
    struct conv_state *s = n->state;
    if (s->a.n_kernel) {
        if (s->a.n_kernel != *nd)
            return sp_node_error(n, err, SP_ERR_MISMATCH, "kernel_shape has %d values for %d spatial dimensions",
                                 s->a.n_kernel, *nd);
        for (int i = 0; i < *nd; i++)
            if (s->a.kernel[i] != w->dims[2 + i])
                return sp_node_error(n, err, SP_ERR_MISMATCH,
                                     "kernel_shape[%d] = %lld disagrees with weight dimension %lld", i,
                                     (long long)s->a.kernel[i], (long long)w->dims[2 + i]);
    }
    for (int i = 0; i < x->ndim; i++)
        if (x->dims[i] < 1 || w->dims[i] < 1)
            return sp_node_error(n, err, SP_ERR_MISMATCH, "X and W must have no empty dimension");
    return SP_OK;
}

static enum sp_status conv_check_bias(struct sp_node *n, int64_t c_out, struct sp_error *err)
{
    const struct sp_tensor *b = sp_node_in(n, 2);
    if (b && (b->ndim != 1 || b->dims[0] != c_out))
        return sp_node_error(n, err, SP_ERR_MISMATCH, "bias B must have shape [%lld]", (long long)c_out);
    return SP_OK;
}

static enum sp_status conv_prepare(struct sp_node *n, struct sp_error *err)
{
    struct conv_state *s = n->state;
    int nd;
    enum sp_status st = conv_check_inputs(n, &nd, err);
    if (st)
        return st;
    const struct sp_tensor *x = sp_node_in(n, 0), *w = sp_node_in(n, 1);
    s->batch = x->dims[0];
    s->c_in = x->dims[1];
    s->c_out = w->dims[0];
    if (s->c_in % s->group)
        return sp_node_error(n, err, SP_ERR_MISMATCH, "group %lld does not divide the %lld input channels",
                             (long long)s->group, (long long)s->c_in);
    if (s->c_out % s->group)
        return sp_node_error(n, err, SP_ERR_MISMATCH, "group %lld does not divide the %lld output channels",
                             (long long)s->group, (long long)s->c_out);
    if (w->dims[1] * s->group != s->c_in)
        return sp_node_error(n, err, SP_ERR_MISMATCH,
                             "weight W has %lld input channels per group, X has %lld channels in %lld groups",
                             (long long)w->dims[1], (long long)s->c_in, (long long)s->group);
    if ((st = conv_check_bias(n, s->c_out, err)))
        return st;
    if ((st = sp_win_resolve(n, &s->a, nd, x->dims + 2, w->dims + 2, &s->win, err)))
        return st;
    int64_t out_dims[2 + SP_WIN_MAX_DIMS];
    out_dims[0] = s->batch;
    out_dims[1] = s->c_out;
    for (int i = 0; i < nd; i++)
        out_dims[2 + i] = s->win.out[SP_WIN_MAX_DIMS - nd + i];
    if ((st = sp_op_check_elems(n, "the output", 2 + nd, out_dims, err)))
        return st;
    s->pointwise = sp_win_is_pointwise(&s->win);
    s->depthwise = w->dims[1] == 1 && s->c_out == s->group;
    int64_t k = w->dims[1] * sp_win_kernel_size(&s->win);
    int64_t col_dims[2] = {k, sp_win_out_size(&s->win)};
    if ((st = sp_op_check_elems(n, "the im2col buffer", 2, col_dims, err)))
        return st;
    if (col_dims[0] > INT_MAX || col_dims[1] > INT_MAX || s->c_out > INT_MAX)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "GEMM dimensions exceed the BLAS int range");
    s->batched = s->batch > 1 && s->group == 1 && !s->depthwise && col_dims[1] <= CONV_BATCH_PLANE_MAX;
    if (s->batched) {
        /* columns (K x B*P) then the product (M x B*P) */
        int64_t wide[2] = {k + s->c_out, s->batch * col_dims[1]};
        if ((st = sp_op_check_elems(n, "the batched im2col buffer", 2, wide, err)))
            return st;
        if (wide[1] > INT_MAX)
            return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "GEMM dimensions exceed the BLAS int range");
        n->scratch_bytes = (size_t)(wide[0] * wide[1]) * sizeof(float);
    } else {
        n->scratch_bytes =
            (s->pointwise || s->depthwise) ? 0 : (size_t)(col_dims[0] * col_dims[1]) * sizeof(float);
    }
    sp_node_set_out(n, 0, SP_DTYPE_FLOAT, 2 + nd, out_dims);
    return SP_OK;
}

/* Writes bias[c] (or 0) over every plane of `channels` output planes of `plane` floats. */
static void fill_bias(float *y, const float *bias, int64_t channels, int64_t plane)
{
    for (int64_t c = 0; c < channels; c++, y += plane) {
        float v = bias ? bias[c] : 0.0f;
        if (v == 0.0f) {
            memset(y, 0, (size_t)plane * sizeof(float));
        } else {
            for (int64_t i = 0; i < plane; i++)
                y[i] = v;
        }
    }
}

static enum sp_status conv_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    const struct conv_state *s = n->state;
    const struct sp_tensor *xt = sp_node_in(n, 0), *wt = sp_node_in(n, 1), *bt = sp_node_in(n, 2);
    const float *x = xt->data, *wts = wt->data, *bias = bt ? bt->data : NULL;
    float *y = sp_node_out(n, 0)->data;
    const int64_t G = s->group, cg = s->c_in / G, mg = s->c_out / G;
    const int64_t in_plane = sp_win_in_size(&s->win), out_plane = sp_win_out_size(&s->win);
    const int64_t taps = sp_win_kernel_size(&s->win), k = cg * taps;
    float *col = scratch;
    if (s->batched) {
        const int64_t wide = s->batch * out_plane;
        float *prod = col + k * wide;
        for (int64_t b = 0; b < s->batch; b++) {
            const float *xb = x + b * s->c_in * in_plane;
            if (s->pointwise) {
                for (int64_t c = 0; c < s->c_in; c++)
                    memcpy(col + c * wide + b * out_plane, xb + c * in_plane, (size_t)out_plane * sizeof(float));
            } else {
                sp_im2col_ld(&s->win, s->c_in, xb, col + b * out_plane, wide);
            }
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)s->c_out, (int)wide, (int)k, 1.0f, wts, (int)k,
                    col, (int)wide, 0.0f, prod, (int)wide);
        for (int64_t b = 0; b < s->batch; b++)
            for (int64_t m = 0; m < s->c_out; m++) {
                const float *src = prod + m * wide + b * out_plane;
                float *dst = y + (b * s->c_out + m) * out_plane;
                float v = bias ? bias[m] : 0.0f;
                for (int64_t i = 0; i < out_plane; i++)
                    dst[i] = src[i] + v;
            }
        return SP_OK;
    }
    for (int64_t b = 0; b < s->batch; b++) {
        const float *xb = x + b * s->c_in * in_plane;
        float *yb = y + b * s->c_out * out_plane;
        /* Without a bias the GEMM overwrites (beta = 0) and no fill pass is needed. */
        float beta = 0.0f;
        if (bias || s->depthwise) {
            fill_bias(yb, bias, s->c_out, out_plane);
            beta = 1.0f;
        }
        if (s->depthwise) {
            for (int64_t c = 0; c < s->c_out; c++)
                sp_win_conv_plane(&s->win, xb + c * in_plane, wts + c * taps, yb + c * out_plane);
            continue;
        }
        for (int64_t g = 0; g < G; g++) {
            const float *xg = xb + g * cg * in_plane;
            const float *cols = xg;
            if (!s->pointwise) {
                sp_im2col(&s->win, cg, xg, col);
                cols = col;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)mg, (int)out_plane, (int)k, 1.0f,
                        wts + g * mg * k, (int)k, cols, (int)out_plane, beta, yb + g * mg * out_plane,
                        (int)out_plane);
        }
    }
    return SP_OK;
}

static enum sp_status convt_prepare(struct sp_node *n, struct sp_error *err)
{
    struct conv_state *s = n->state;
    int nd;
    enum sp_status st = conv_check_inputs(n, &nd, err);
    if (st)
        return st;
    const struct sp_tensor *x = sp_node_in(n, 0), *w = sp_node_in(n, 1);
    s->batch = x->dims[0];
    s->c_in = x->dims[1];
    if (w->dims[0] != s->c_in)
        return sp_node_error(n, err, SP_ERR_MISMATCH, "weight W has %lld input channels, X has %lld",
                             (long long)w->dims[0], (long long)s->c_in);
    if (s->c_in % s->group)
        return sp_node_error(n, err, SP_ERR_MISMATCH, "group %lld does not divide the %lld input channels",
                             (long long)s->group, (long long)s->c_in);
    s->c_out = w->dims[1] * s->group;
    if ((st = conv_check_bias(n, s->c_out, err)))
        return st;
    const struct sp_win_attrs *a = &s->a;
    if (a->n_strides && a->n_strides != nd)
        return sp_node_error(n, err, SP_ERR_MISMATCH, "strides has %d values for %d spatial dimensions",
                             a->n_strides, nd);
    if (a->n_dilations && a->n_dilations != nd)
        return sp_node_error(n, err, SP_ERR_MISMATCH, "dilations has %d values for %d spatial dimensions",
                             a->n_dilations, nd);
    if (a->n_pads && a->n_pads != 2 * nd)
        return sp_node_error(n, err, SP_ERR_MISMATCH, "pads has %d values for %d spatial dimensions", a->n_pads,
                             nd);
    if (s->n_output_padding && s->n_output_padding != nd)
        return sp_node_error(n, err, SP_ERR_MISMATCH, "output_padding has %d values for %d spatial dimensions",
                             s->n_output_padding, nd);
    if (s->n_output_shape && s->n_output_shape != nd && s->n_output_shape != nd + 2)
        return sp_node_error(n, err, SP_ERR_MISMATCH, "output_shape has %d values for %d spatial dimensions",
                             s->n_output_shape, nd);
    struct sp_win *win = &s->win;
    memset(win, 0, sizeof *win);
    win->nd = nd;
    for (int t = 0; t < SP_WIN_MAX_DIMS; t++)
        win->in[t] = win->out[t] = win->kernel[t] = win->stride[t] = win->dilation[t] = 1;
    int64_t out_dims[2 + SP_WIN_MAX_DIMS] = {s->batch, s->c_out};
    for (int i = 0; i < nd; i++) {
        int t = SP_WIN_MAX_DIMS - nd + i;
        int64_t in = x->dims[2 + i], k = w->dims[2 + i];
        int64_t stride = a->n_strides ? a->strides[i] : 1, dil = a->n_dilations ? a->dilations[i] : 1;
        int64_t opad = s->n_output_padding ? s->output_padding[i] : 0;
        int64_t full = stride * (in - 1) + opad + (k - 1) * dil + 1; /* output size with no padding */
        int64_t pb, pe, out;
        if (s->n_output_shape || a->auto_pad == SP_AUTO_PAD_SAME_UPPER || a->auto_pad == SP_AUTO_PAD_SAME_LOWER) {
            out = s->n_output_shape ? s->output_shape[s->n_output_shape - nd + i] : in * stride;
            /* A requested size beyond the kernel's reach gives a negative total:
             * the extra positions receive only the bias, as in ONNX's reference.
             * Halves are floored (Python's //), which decides the odd case. */
            int64_t total = full - out;
            int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
            if (a->auto_pad == SP_AUTO_PAD_SAME_UPPER) {
                pb = half;
                pe = total - pb;
            } else {
                pe = half;
                pb = total - pe;
            }
        } else {
            pb = a->auto_pad == SP_AUTO_PAD_VALID || !a->n_pads ? 0 : a->pads[i];
            pe = a->auto_pad == SP_AUTO_PAD_VALID || !a->n_pads ? 0 : a->pads[nd + i];
            out = full - pb - pe;
        }
        if (out < 1)
            return sp_node_error(n, err, SP_ERR_MISMATCH, "output size %lld on spatial axis %d must be >= 1",
                                 (long long)out, i);
        win->in[t] = out;
        win->out[t] = in;
        win->kernel[t] = k;
        win->stride[t] = stride;
        win->dilation[t] = dil;
        win->pad_begin[t] = pb;
        win->pad_end[t] = pe;
        out_dims[2 + i] = out;
    }
    if ((st = sp_op_check_elems(n, "the output", 2 + nd, out_dims, err)))
        return st;
    int64_t col_dims[2] = {w->dims[1] * sp_win_kernel_size(win), sp_win_out_size(win)};
    if ((st = sp_op_check_elems(n, "the col2im buffer", 2, col_dims, err)))
        return st;
    if (col_dims[0] > INT_MAX || col_dims[1] > INT_MAX || s->c_in > INT_MAX)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "GEMM dimensions exceed the BLAS int range");
    n->scratch_bytes = (size_t)(col_dims[0] * col_dims[1]) * sizeof(float);
    sp_node_set_out(n, 0, SP_DTYPE_FLOAT, 2 + nd, out_dims);
    return SP_OK;
}

static enum sp_status convt_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    const struct conv_state *s = n->state;
    const struct sp_tensor *xt = sp_node_in(n, 0), *wt = sp_node_in(n, 1), *bt = sp_node_in(n, 2);
    const float *x = xt->data, *wts = wt->data, *bias = bt ? bt->data : NULL;
    float *y = sp_node_out(n, 0)->data;
    const int64_t G = s->group, cg = s->c_in / G, mg = s->c_out / G;
    /* win.out is this op's input grid, win.in its output grid. */
    const int64_t in_plane = sp_win_out_size(&s->win), out_plane = sp_win_in_size(&s->win);
    const int64_t kc = mg * sp_win_kernel_size(&s->win);
    float *col = scratch;
    for (int64_t b = 0; b < s->batch; b++) {
        const float *xb = x + b * s->c_in * in_plane;
        float *yb = y + b * s->c_out * out_plane;
        fill_bias(yb, bias, s->c_out, out_plane);
        for (int64_t g = 0; g < G; g++) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kc, (int)in_plane, (int)cg, 1.0f,
                        wts + g * cg * kc, (int)kc, xb + g * cg * in_plane, (int)in_plane, 0.0f, col,
                        (int)in_plane);
            sp_col2im(&s->win, mg, col, yb + g * mg * out_plane);
        }
    }
    return SP_OK;
}

const struct sp_op sp_op_Conv = {
    .type = "Conv",
    .domain = "",
    .opset_min = 1,
    .opset_max = 18,
    .init = conv_init,
    .prepare = conv_prepare,
    .run = conv_run,
    .free = conv_free,
};

const struct sp_op sp_op_ConvTranspose = {
    .type = "ConvTranspose",
    .domain = "",
    .opset_min = 1,
    .opset_max = 18,
    .init = convt_init,
    .prepare = convt_prepare,
    .run = convt_run,
    .free = conv_free,
};
