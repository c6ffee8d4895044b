/*
 * Window geometry and im2col/col2im for the convolution and pooling ops.
 *
 * Convolution is run as a GEMM on OpenBLAS; im2col lays each receptive field
 * out as one column so the weights can be the left operand (M = output
 * channels, K = input channels x taps, N = output positions) and the product
 * lands directly in NCHW order. The innermost loop walks a contiguous output
 * row: for each tap it computes the range of output columns whose input
 * column is in bounds once, zero-fills outside it and copies (stride 1) or
 * gathers (stride > 1) inside it, so no per-element bounds test remains.
 */
#include <string.h>

#include "engine/attr.h"
#include "engine/ops/im2col.h"

/* Guards every size product against int64 overflow; far above any real model. */
#define SP_WIN_DIM_LIMIT ((int64_t)1 << 31)

enum sp_status sp_win_attrs_read(const struct sp_node *n, bool with_dilations, bool with_ceil,
                                 struct sp_win_attrs *a, struct sp_error *err)
{
    enum sp_status st;
    memset(a, 0, sizeof *a);
    if ((st = sp_attr_ints(n, "kernel_shape", a->kernel, SP_WIN_MAX_DIMS, &a->n_kernel, NULL, err)) ||
        (st = sp_attr_ints(n, "strides", a->strides, SP_WIN_MAX_DIMS, &a->n_strides, NULL, err)) ||
        (st = sp_attr_ints(n, "pads", a->pads, 2 * SP_WIN_MAX_DIMS, &a->n_pads, NULL, err)))
        return st;
    if (with_dilations &&
        (st = sp_attr_ints(n, "dilations", a->dilations, SP_WIN_MAX_DIMS, &a->n_dilations, NULL, err)))
        return st;
    if (with_ceil) {
        int64_t c;
        if ((st = sp_attr_int(n, "ceil_mode", 0, &c, err)))
            return st;
        if (c != 0 && c != 1)
            return sp_node_error(n, err, SP_ERR_FORMAT, "attribute 'ceil_mode' must be 0 or 1, got %lld",
                                 (long long)c);
        a->ceil_mode = c == 1;
    }
    char pad[32];
    if ((st = sp_attr_string(n, "auto_pad", "NOTSET", pad, sizeof pad, err)))
        return st;
    if (strcmp(pad, "NOTSET") == 0 || pad[0] == '\0')
        a->auto_pad = SP_AUTO_PAD_NOTSET;
    else if (strcmp(pad, "SAME_UPPER") == 0)
        a->auto_pad = SP_AUTO_PAD_SAME_UPPER;
    else if (strcmp(pad, "SAME_LOWER") == 0)
        a->auto_pad = SP_AUTO_PAD_SAME_LOWER;
    else if (strcmp(pad, "VALID") == 0)
        a->auto_pad = SP_AUTO_PAD_VALID;
    else
        return sp_node_error(n, err, SP_ERR_FORMAT,
                             "attribute 'auto_pad' is '%s', expected NOTSET, SAME_UPPER, SAME_LOWER or VALID", pad);
    for (int i = 0; i < a->n_kernel; i++)
        if (a->kernel[i] < 1 || a->kernel[i] > SP_WIN_DIM_LIMIT)
            return sp_node_error(n, err, SP_ERR_FORMAT, "kernel_shape[%d] = %lld must be >= 1", i,
                                 (long long)a->kernel[i]);
    for (int i = 0; i < a->n_strides; i++)
        if (a->strides[i] < 1 || a->strides[i] > SP_WIN_DIM_LIMIT)
            return sp_node_error(n, err, SP_ERR_FORMAT, "strides[%d] = %lld must be >= 1", i,
                                 (long long)a->strides[i]);
    for (int i = 0; i < a->n_dilations; i++)
        if (a->dilations[i] < 1 || a->dilations[i] > SP_WIN_DIM_LIMIT)
            return sp_node_error(n, err, SP_ERR_FORMAT, "dilations[%d] = %lld must be >= 1", i,
                                 (long long)a->dilations[i]);
    for (int i = 0; i < a->n_pads; i++)
        if (a->pads[i] < 0 || a->pads[i] > SP_WIN_DIM_LIMIT)
            return sp_node_error(n, err, SP_ERR_FORMAT, "pads[%d] = %lld must be >= 0", i, (long long)a->pads[i]);
    if (a->n_pads % 2)
        return sp_node_error(n, err, SP_ERR_FORMAT, "attribute 'pads' has %d values, expected an even count",
                             a->n_pads);
    return SP_OK;
}

static int64_t div_floor(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t div_ceil(int64_t a, int64_t b) { return -div_floor(-a, b); }

enum sp_status sp_win_resolve(const struct sp_node *n, const struct sp_win_attrs *a, int nd, const int64_t *in,
                              const int64_t *kernel, struct sp_win *w, struct sp_error *err)
{
    if (nd < 1 || nd > SP_WIN_MAX_DIMS)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "%d spatial dimensions, 1 to %d supported", nd,
                             SP_WIN_MAX_DIMS);
    if (a->n_kernel && a->n_kernel != nd)
        return sp_node_error(n, err, SP_ERR_MISMATCH, "kernel_shape has %d values for %d spatial dimensions",
                             a->n_kernel, nd);
    if (!a->n_kernel && !kernel)
        return sp_node_error(n, err, SP_ERR_FORMAT, "attribute 'kernel_shape' is required");
    if (a->n_strides && a->n_strides != nd)
        return sp_node_error(n, err, SP_ERR_MISMATCH, "strides has %d values for %d spatial dimensions",
                             a->n_strides, nd);
    if (a->n_dilations && a->n_dilations != nd)
        return sp_node_error(n, err, SP_ERR_MISMATCH, "dilations has %d values for %d spatial dimensions",
                             a->n_dilations, nd);
    if (a->n_pads && a->n_pads != 2 * nd)
        return sp_node_error(n, err, SP_ERR_MISMATCH, "pads has %d values for %d spatial dimensions", a->n_pads,
                             nd);
    memset(w, 0, sizeof *w);
    w->nd = nd;
    for (int s = 0; s < SP_WIN_MAX_DIMS; s++) {
        w->in[s] = w->out[s] = w->kernel[s] = w->stride[s] = w->dilation[s] = 1;
    }
    int off = SP_WIN_MAX_DIMS - nd;
    for (int i = 0; i < nd; i++) {
        int s = off + i;
        int64_t k = a->n_kernel ? a->kernel[i] : kernel[i];
        if (in[i] < 1 || in[i] > SP_WIN_DIM_LIMIT)
            return sp_node_error(n, err, SP_ERR_MISMATCH, "spatial input size %lld on axis %d must be >= 1",
                                 (long long)in[i], i + 2);
        if (k < 1)
            return sp_node_error(n, err, SP_ERR_MISMATCH, "kernel size %lld on spatial axis %d must be >= 1",
                                 (long long)k, i);
        w->in[s] = in[i];
        w->kernel[s] = k;
        w->stride[s] = a->n_strides ? a->strides[i] : 1;
        w->dilation[s] = a->n_dilations ? a->dilations[i] : 1;
        int64_t span = (k - 1) * w->dilation[s] + 1; /* extent of one dilated window */
        int64_t out;
        switch (a->auto_pad) {
        case SP_AUTO_PAD_SAME_UPPER:
        case SP_AUTO_PAD_SAME_LOWER: {
            out = div_ceil(in[i], w->stride[s]);
            int64_t total = (out - 1) * w->stride[s] + span - in[i];
            if (total < 0)
                total = 0;
            w->pad_begin[s] = a->auto_pad == SP_AUTO_PAD_SAME_UPPER ? total / 2 : total - total / 2;
            w->pad_end[s] = total - w->pad_begin[s];
            break;
        }
        case SP_AUTO_PAD_VALID:
            out = in[i] >= span ? (in[i] - span) / w->stride[s] + 1 : 0;
            break;
        default: {
            w->pad_begin[s] = a->n_pads ? a->pads[i] : 0;
            w->pad_end[s] = a->n_pads ? a->pads[nd + i] : 0;
            int64_t room = in[i] + w->pad_begin[s] + w->pad_end[s] - span;
            if (room < 0) {
                out = 0;
            } else if (a->ceil_mode) {
                out = div_ceil(room, w->stride[s]) + 1;
                /* The last window must start inside the input or its begin padding. */
                if ((out - 1) * w->stride[s] >= in[i] + w->pad_begin[s])
                    out--;
            } else {
                out = room / w->stride[s] + 1;
            }
            break;
        }
        }
        if (out < 1)
            return sp_node_error(n, err, SP_ERR_MISMATCH,
                                 "window of %lld (kernel %lld, dilation %lld) does not fit spatial axis %d of size "
                                 "%lld with pads %lld+%lld",
                                 (long long)span, (long long)k, (long long)w->dilation[s], i + 2, (long long)in[i],
                                 (long long)w->pad_begin[s], (long long)w->pad_end[s]);
        w->out[s] = out;
    }
    return SP_OK;
}

int64_t sp_win_out_size(const struct sp_win *w) { return w->out[0] * w->out[1] * w->out[2]; }
int64_t sp_win_kernel_size(const struct sp_win *w) { return w->kernel[0] * w->kernel[1] * w->kernel[2]; }
int64_t sp_win_in_size(const struct sp_win *w) { return w->in[0] * w->in[1] * w->in[2]; }

bool sp_win_is_pointwise(const struct sp_win *w)
{
    for (int s = 0; s < SP_WIN_MAX_DIMS; s++)
        if (w->kernel[s] != 1 || w->stride[s] != 1 || w->pad_begin[s] || w->pad_end[s])
            return false;
    return true;
}

/*
 * Range [lo, hi) of output positions along one axis whose input index
 * o * stride - pad + tap_offset lies in [0, in).
 */
static void valid_range(int64_t out, int64_t in, int64_t stride, int64_t pad, int64_t tap_offset, int64_t *lo,
                        int64_t *hi)
{
    int64_t a = div_ceil(pad - tap_offset, stride);
    int64_t b = div_floor(in - 1 + pad - tap_offset, stride) + 1;
    *lo = a < 0 ? 0 : (a > out ? out : a);
    *hi = b < *lo ? *lo : (b > out ? out : b);
}

void sp_im2col(const struct sp_win *w, int64_t channels, const float *x, float *col)
{
    sp_im2col_ld(w, channels, x, col, sp_win_out_size(w));
}

void sp_im2col_ld(const struct sp_win *w, int64_t channels, const float *x, float *col, int64_t ld)
{
    const int64_t ID = w->in[0], IH = w->in[1], IW = w->in[2];
    const int64_t OD = w->out[0], OH = w->out[1], OW = w->out[2];
    const int64_t sd = w->stride[0], sh = w->stride[1], sw = w->stride[2];
    const int64_t in_plane = ID * IH * IW;
    float *next_row = col;
    for (int64_t c = 0; c < channels; c++) {
        const float *xc = x + c * in_plane;
        for (int64_t kd = 0; kd < w->kernel[0]; kd++) {
            int64_t od_lo, od_hi;
            valid_range(OD, ID, sd, w->pad_begin[0], kd * w->dilation[0], &od_lo, &od_hi);
            for (int64_t kh = 0; kh < w->kernel[1]; kh++) {
                int64_t oh_lo, oh_hi;
                valid_range(OH, IH, sh, w->pad_begin[1], kh * w->dilation[1], &oh_lo, &oh_hi);
                for (int64_t kw = 0; kw < w->kernel[2]; kw++) {
                    float *dst = next_row;
                    next_row += ld;
                    int64_t ow_lo, ow_hi;
                    int64_t woff = kw * w->dilation[2] - w->pad_begin[2];
                    valid_range(OW, IW, sw, w->pad_begin[2], kw * w->dilation[2], &ow_lo, &ow_hi);
                    for (int64_t od = 0; od < OD; od++) {
                        if (od < od_lo || od >= od_hi) {
                            memset(dst, 0, (size_t)(OH * OW) * sizeof(float));
                            dst += OH * OW;
                            continue;
                        }
                        int64_t id = od * sd - w->pad_begin[0] + kd * w->dilation[0];
                        for (int64_t oh = 0; oh < OH; oh++, dst += OW) {
                            if (oh < oh_lo || oh >= oh_hi) {
                                memset(dst, 0, (size_t)OW * sizeof(float));
                                continue;
                            }
                            int64_t ih = oh * sh - w->pad_begin[1] + kh * w->dilation[1];
                            const float *row = xc + (id * IH + ih) * IW + woff;
                            for (int64_t ow = 0; ow < ow_lo; ow++)
                                dst[ow] = 0.0f;
                            if (sw == 1) {
                                memcpy(dst + ow_lo, row + ow_lo, (size_t)(ow_hi - ow_lo) * sizeof(float));
                            } else {
                                for (int64_t ow = ow_lo; ow < ow_hi; ow++)
                                    dst[ow] = row[ow * sw];
                            }
                            for (int64_t ow = ow_hi; ow < OW; ow++)
                                dst[ow] = 0.0f;
                        }
                    }
                }
            }
        }
    }
}

void sp_col2im(const struct sp_win *w, int64_t channels, const float *col, float *y)
{
    const int64_t ID = w->in[0], IH = w->in[1], IW = w->in[2];
    const int64_t OD = w->out[0], OH = w->out[1], OW = w->out[2];
    const int64_t sd = w->stride[0], sh = w->stride[1], sw = w->stride[2];
    const int64_t in_plane = ID * IH * IW;
    const float *src = col;
    for (int64_t c = 0; c < channels; c++) {
        float *yc = y + c * in_plane;
        for (int64_t kd = 0; kd < w->kernel[0]; kd++) {
            int64_t od_lo, od_hi;
            valid_range(OD, ID, sd, w->pad_begin[0], kd * w->dilation[0], &od_lo, &od_hi);
            for (int64_t kh = 0; kh < w->kernel[1]; kh++) {
                int64_t oh_lo, oh_hi;
                valid_range(OH, IH, sh, w->pad_begin[1], kh * w->dilation[1], &oh_lo, &oh_hi);
                for (int64_t kw = 0; kw < w->kernel[2]; kw++) {
                    int64_t ow_lo, ow_hi;
                    int64_t woff = kw * w->dilation[2] - w->pad_begin[2];
                    valid_range(OW, IW, sw, w->pad_begin[2], kw * w->dilation[2], &ow_lo, &ow_hi);
                    for (int64_t od = 0; od < OD; od++) {
                        if (od < od_lo || od >= od_hi) {
                            src += OH * OW;
                            continue;
                        }
                        int64_t id = od * sd - w->pad_begin[0] + kd * w->dilation[0];
                        for (int64_t oh = 0; oh < OH; oh++, src += OW) {
                            if (oh < oh_lo || oh >= oh_hi)
                                continue;
                            int64_t ih = oh * sh - w->pad_begin[1] + kh * w->dilation[1];
                            float *row = yc + (id * IH + ih) * IW + woff;
                            if (sw == 1) {
                                for (int64_t ow = ow_lo; ow < ow_hi; ow++)
                                    row[ow] += src[ow];
                            } else {
                                for (int64_t ow = ow_lo; ow < ow_hi; ow++)
                                    row[ow * sw] += src[ow];
                            }
                        }
                    }
                }
            }
        }
    }
}

enum sp_status sp_op_need_float(const struct sp_node *n, int i, const char *what, struct sp_error *err)
{
    const struct sp_tensor *t = sp_node_in(n, i);
    if (!t)
        return sp_node_error(n, err, SP_ERR_FORMAT, "input %d (%s) is required", i, what);
    if (t->dtype != SP_DTYPE_FLOAT)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "input %d (%s) is %s, only float32 is supported", i, what,
                             sp_dtype_name(t->dtype));
    return SP_OK;
}

enum sp_status sp_op_check_elems(const struct sp_node *n, const char *what, int ndim, const int64_t *dims,
                                 struct sp_error *err)
{
    const int64_t limit = (int64_t)1 << 40;
    int64_t p = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0 || (dims[i] > 0 && p > limit / dims[i]))
            return sp_node_error(n, err, SP_ERR_NOMEM, "%s would need more than 2^40 elements", what);
        p *= dims[i];
    }
    return SP_OK;
}

void sp_win_conv_plane(const struct sp_win *w, const float *x, const float *k, float *y)
{
    const int64_t ID = w->in[0], IH = w->in[1], IW = w->in[2];
    const int64_t OD = w->out[0], OH = w->out[1], OW = w->out[2];
    const int64_t sd = w->stride[0], sh = w->stride[1], sw = w->stride[2];
    for (int64_t kd = 0; kd < w->kernel[0]; kd++) {
        int64_t od_lo, od_hi;
        valid_range(OD, ID, sd, w->pad_begin[0], kd * w->dilation[0], &od_lo, &od_hi);
        for (int64_t kh = 0; kh < w->kernel[1]; kh++) {
            int64_t oh_lo, oh_hi;
            valid_range(OH, IH, sh, w->pad_begin[1], kh * w->dilation[1], &oh_lo, &oh_hi);
            for (int64_t kw = 0; kw < w->kernel[2]; kw++) {
                const float wt = *k++;
                int64_t ow_lo, ow_hi;
                int64_t woff = kw * w->dilation[2] - w->pad_begin[2];
                valid_range(OW, IW, sw, w->pad_begin[2], kw * w->dilation[2], &ow_lo, &ow_hi);
                for (int64_t od = od_lo; od < od_hi; od++) {
                    int64_t id = od * sd - w->pad_begin[0] + kd * w->dilation[0];
                    for (int64_t oh = oh_lo; oh < oh_hi; oh++) {
                        int64_t ih = oh * sh - w->pad_begin[1] + kh * w->dilation[1];
                        const float *row = x + (id * IH + ih) * IW + woff;
                        float *dst = y + (od * OH + oh) * OW;
                        if (sw == 1) {
                            for (int64_t ow = ow_lo; ow < ow_hi; ow++)
                                dst[ow] += wt * row[ow];
                        } else {
                            for (int64_t ow = ow_lo; ow < ow_hi; ow++)
                                dst[ow] += wt * row[ow * sw];
                        }
                    }
                }
            }
        }
    }
}
