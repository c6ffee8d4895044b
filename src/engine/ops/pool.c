/*
 * MaxPool (opsets 1..18; float32, int8, uint8), AveragePool (1..18),
 * GlobalAveragePool and GlobalMaxPool (1..18) (float32), 1-D to 3-D windows.
 *
 * Pools share the Conv window rules (im2col.h). For each output position the
 * window is clipped to the input once per axis, so the inner loops carry no
 * bounds tests. Padding never contributes to a maximum; for an average it
 * counts in the divisor only with count_include_pad, and then only up to the
 * end padding (a ceil_mode window that overhangs it is not charged for the
 * overhang), as ONNX Runtime does. MaxPool's optional Indices output holds
 * offsets into the whole input tensor, row-major (storage_order 0) or with
 * the spatial axes column-major (storage_order 1).
 */
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/attr.h"
#include "engine/ops/im2col.h"

enum pool_kind { POOL_MAX, POOL_AVG, POOL_GLOBAL_MAX, POOL_GLOBAL_AVG };

struct pool_state {
    enum pool_kind kind;
    struct sp_win_attrs a;
    bool count_include_pad;
    bool column_major;  /* MaxPool storage_order = 1: Indices count the first spatial axis fastest */
    enum sp_dtype dtype;
    struct sp_win win;  /* resolved by prepare */
    int64_t planes;     /* N x C */
    int64_t plane_in;   /* spatial size of the input */
};

static void pool_free(struct sp_node *n)
{
    free(n->state);
    n->state = NULL;
}

static enum sp_status pool_init_common(struct sp_node *n, enum pool_kind kind, struct sp_error *err)
{
    static const char *const max_attrs[] = {"auto_pad", "ceil_mode",   "dilations", "kernel_shape",
                                            "pads",     "storage_order", "strides", NULL};
    static const char *const avg_attrs[] = {"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape",
                                            "pads",     "strides",   NULL};
    static const char *const no_attrs[] = {NULL};
    const char *const *known = kind == POOL_MAX ? max_attrs : kind == POOL_AVG ? avg_attrs : no_attrs;
    enum sp_status st = sp_attr_check_known(n, known, err);
    if (st)
        return st;
    if (n->n_inputs != 1 || !n->inputs[0])
        return sp_node_error(n, err, SP_ERR_FORMAT, "expects one input X, got %d inputs", n->n_inputs);
    int max_out = kind == POOL_MAX ? 2 : 1;
    if (n->n_outputs < 1 || n->n_outputs > max_out || !n->outputs[0])
        return sp_node_error(n, err, SP_ERR_FORMAT, "expects %s, got %d outputs",
                             max_out == 2 ? "output Y and an optional Indices" : "one output Y", n->n_outputs);
    struct pool_state *s = calloc(1, sizeof *s);
    if (!s)
        return sp_node_error(n, err, SP_ERR_NOMEM, "out of memory");
    n->state = s;
    s->kind = kind;
    if (kind == POOL_GLOBAL_MAX || kind == POOL_GLOBAL_AVG)
        return SP_OK;
    if ((st = sp_win_attrs_read(n, kind == POOL_MAX, true, &s->a, err)))
        return st;
    if (!s->a.n_kernel)
        return sp_node_error(n, err, SP_ERR_FORMAT, "attribute 'kernel_shape' is required");
    if (kind == POOL_MAX) {
        int64_t order;
        if ((st = sp_attr_int(n, "storage_order", 0, &order, err)))
            return st;
        if (order != 0 && order != 1)
            return sp_node_error(n, err, SP_ERR_FORMAT, "attribute 'storage_order' must be 0 or 1, got %lld",
                                 (long long)order);
        s->column_major = order == 1;
    } else {
        int64_t cip;
        if ((st = sp_attr_int(n, "count_include_pad", 0, &cip, err)))
            return st;
        if (cip != 0 && cip != 1)
            return sp_node_error(n, err, SP_ERR_FORMAT, "attribute 'count_include_pad' must be 0 or 1");
        s->count_include_pad = cip == 1;
    }
    return SP_OK;
}

#define POOL_INIT(name, kind)                                                                                    \
    static enum sp_status name(struct sp_node *n, struct sp_error *err)                                          \
    {                                                                                                            \
        enum sp_status st = pool_init_common(n, kind, err);                                                      \
        if (st)                                                                                                  \
            pool_free(n);                                                                                        \
        return st;                                                                                               \
    }
POOL_INIT(maxpool_init, POOL_MAX)
POOL_INIT(avgpool_init, POOL_AVG)
POOL_INIT(gmaxpool_init, POOL_GLOBAL_MAX)
POOL_INIT(gavgpool_init, POOL_GLOBAL_AVG)

static enum sp_status pool_prepare(struct sp_node *n, struct sp_error *err)
{
    struct pool_state *s = n->state;
    enum sp_status st;
    const struct sp_tensor *x = sp_node_in(n, 0);
    /* MaxPool also takes 8-bit integers (opset 12), which quantized models feed it. */
    if (s->kind == POOL_MAX && x && (x->dtype == SP_DTYPE_INT8 || x->dtype == SP_DTYPE_UINT8))
        st = SP_OK;
    else
        st = sp_op_need_float(n, 0, "X", err);
    if (st)
        return st;
    s->dtype = x->dtype;
    bool global = s->kind == POOL_GLOBAL_MAX || s->kind == POOL_GLOBAL_AVG;
    if (x->ndim < (global ? 2 : 3) || (!global && x->ndim > 2 + SP_WIN_MAX_DIMS))
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "input X has rank %d, %s supported", x->ndim,
                             global ? "at least 2" : "3 to 5");
    int nd = x->ndim - 2;
    int64_t out[SP_MAX_DIMS];
    out[0] = x->dims[0];
    out[1] = x->dims[1];
    s->planes = x->dims[0] * x->dims[1];
    s->plane_in = 1;
    for (int i = 0; i < nd; i++) {
        if (x->dims[2 + i] < 1)
            return sp_node_error(n, err, SP_ERR_MISMATCH, "spatial axis %d of X is empty", 2 + i);
        s->plane_in *= x->dims[2 + i];
    }
    if (global) {
        for (int i = 0; i < nd; i++)
            out[2 + i] = 1;
    } else {
        if ((st = sp_win_resolve(n, &s->a, nd, x->dims + 2, NULL, &s->win, err)))
            return st;
        for (int i = 0; i < nd; i++)
            out[2 + i] = s->win.out[SP_WIN_MAX_DIMS - nd + i];
    }
    if ((st = sp_op_check_elems(n, "the output", x->ndim, out, err)))
        return st;
    n->scratch_bytes = 0;
    sp_node_set_out(n, 0, x->dtype, x->ndim, out);
    if (sp_node_out(n, 1))
        sp_node_set_out(n, 1, SP_DTYPE_INT64, x->ndim, out);
    return SP_OK;
}

/* Taps [lo, hi) of one axis whose input index start + t * dil lies in [0, in). */
static void tap_range(int64_t start, int64_t k, int64_t dil, int64_t in, int64_t *lo, int64_t *hi)
{
    int64_t l = start < 0 ? (-start + dil - 1) / dil : 0;
    int64_t h = in - start <= 0 ? 0 : (in - start + dil - 1) / dil;
    if (h > k)
        h = k;
    *lo = l;
    *hi = h < l ? l : h;
}

/*
 * Max over each window of one plane, for element type T with `lowest` as the
 * value of a window that sees only padding (ONNX Runtime's choice). Indices,
 * when wanted, are base + the offset of the maximum inside the plane, row-major
 * or (column_major, storage_order 1) with the first spatial axis fastest.
 */
#define SP_MAXPOOL_PLANE(name, T, lowest)                                                                       \
    static void name(const struct sp_win *w, const T *x, T *y, int64_t *ind, int64_t base, bool column_major)   \
    {                                                                                                          \
        const int64_t ID = w->in[0], IH = w->in[1], IW = w->in[2];                                             \
        for (int64_t od = 0; od < w->out[0]; od++) {                                                           \
            int64_t d0 = od * w->stride[0] - w->pad_begin[0], dlo, dhi;                                        \
            tap_range(d0, w->kernel[0], w->dilation[0], ID, &dlo, &dhi);                                       \
            for (int64_t oh = 0; oh < w->out[1]; oh++) {                                                       \
                int64_t h0 = oh * w->stride[1] - w->pad_begin[1], hlo, hhi;                                    \
                tap_range(h0, w->kernel[1], w->dilation[1], IH, &hlo, &hhi);                                   \
                for (int64_t ow = 0; ow < w->out[2]; ow++) {                                                   \
                    int64_t w0 = ow * w->stride[2] - w->pad_begin[2], wlo, whi;                                \
                    tap_range(w0, w->kernel[2], w->dilation[2], IW, &wlo, &whi);                               \
                    T best = lowest;                                                                           \
                    int64_t at = -1;                                                                           \
                    for (int64_t td = dlo; td < dhi; td++) {                                                   \
                        int64_t id = d0 + td * w->dilation[0];                                                 \
                        for (int64_t th = hlo; th < hhi; th++) {                                               \
                            int64_t off = (id * IH + h0 + th * w->dilation[1]) * IW + w0;                      \
                            for (int64_t tw = wlo; tw < whi; tw++) {                                           \
                                T v = x[off + tw * w->dilation[2]];                                            \
                                if (v > best || at < 0) {                                                      \
                                    best = v;                                                                  \
                                    at = off + tw * w->dilation[2];                                            \
                                }                                                                              \
                            }                                                                                  \
                        }                                                                                      \
                    }                                                                                          \
                    *y++ = best;                                                                               \
                    if (ind) {                                                                                 \
                        if (at < 0)                                                                            \
                            at = 0;                                                                            \
                        if (column_major) {                                                                    \
                            int64_t iw = at % IW, ih = (at / IW) % IH, id = at / (IW * IH);                    \
                            at = w->nd == 1 ? iw : w->nd == 2 ? ih + iw * IH : id + ih * ID + iw * ID * IH;    \
                        }                                                                                      \
                        *ind++ = base + at;                                                                    \
                    }                                                                                          \
                }                                                                                              \
            }                                                                                                  \
        }                                                                                                      \
    }
SP_MAXPOOL_PLANE(maxpool_plane_f32, float, -FLT_MAX)
SP_MAXPOOL_PLANE(maxpool_plane_i8, int8_t, INT8_MIN)
SP_MAXPOOL_PLANE(maxpool_plane_u8, uint8_t, 0)

/* Floor and ceiling division by a positive divisor, for negative numerators too. */
static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
static int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

/*
 * Float max pool without Indices, the case every CNN stem runs. Instead of
 * clipping each window (integer divisions per output), it walks the taps: for
 * each tap the range of output columns that read inside the input is computed
 * once per output row, and the row is folded in with a branch-free max, which
 * the compiler vectorizes. Windows that see only padding keep -FLT_MAX.
 */
static void maxpool_plane_rows_f32(const struct sp_win *w, const float *x, float *y)
{
    const int64_t ID = w->in[0], IH = w->in[1], IW = w->in[2], OW = w->out[2], sw = w->stride[2];
    for (int64_t od = 0; od < w->out[0]; od++) {
        int64_t d0 = od * w->stride[0] - w->pad_begin[0], dlo, dhi;
        tap_range(d0, w->kernel[0], w->dilation[0], ID, &dlo, &dhi);
        for (int64_t oh = 0; oh < w->out[1]; oh++, y += OW) {
            int64_t h0 = oh * w->stride[1] - w->pad_begin[1], hlo, hhi;
            tap_range(h0, w->kernel[1], w->dilation[1], IH, &hlo, &hhi);
            for (int64_t ow = 0; ow < OW; ow++)
                y[ow] = -FLT_MAX;
            for (int64_t td = dlo; td < dhi; td++)
                for (int64_t th = hlo; th < hhi; th++) {
                    const float *row = x + ((d0 + td * w->dilation[0]) * IH + h0 + th * w->dilation[1]) * IW;
                    for (int64_t tw = 0; tw < w->kernel[2]; tw++) {
                        int64_t off = tw * w->dilation[2] - w->pad_begin[2];
                        /* output columns with 0 <= ow * sw + off < IW */
                        int64_t lo = ceil_div(-off, sw), hi = floor_div(IW - 1 - off, sw) + 1;
                        lo = lo < 0 ? 0 : lo;
                        hi = hi > OW ? OW : hi;
                        const float *src = row + off;
                        if (sw == 1) {
                            for (int64_t ow = lo; ow < hi; ow++)
                                y[ow] = src[ow] > y[ow] ? src[ow] : y[ow];
                        } else {
                            for (int64_t ow = lo; ow < hi; ow++)
                                y[ow] = src[ow * sw] > y[ow] ? src[ow * sw] : y[ow];
                        }
                    }
                }
        }
    }
}

static void avgpool_plane(const struct sp_win *w, bool include_pad, const float *x, float *y)
{
    const int64_t IH = w->in[1], IW = w->in[2];
    for (int64_t od = 0; od < w->out[0]; od++) {
        int64_t d0 = od * w->stride[0] - w->pad_begin[0];
        int64_t d1 = d0 + w->kernel[0] < w->in[0] + w->pad_end[0] ? d0 + w->kernel[0] : w->in[0] + w->pad_end[0];
        int64_t dlo = d0 < 0 ? 0 : d0, dhi = d1 < w->in[0] ? d1 : w->in[0];
        for (int64_t oh = 0; oh < w->out[1]; oh++) {
            int64_t h0 = oh * w->stride[1] - w->pad_begin[1];
            int64_t h1 = h0 + w->kernel[1] < IH + w->pad_end[1] ? h0 + w->kernel[1] : IH + w->pad_end[1];
            int64_t hlo = h0 < 0 ? 0 : h0, hhi = h1 < IH ? h1 : IH;
            for (int64_t ow = 0; ow < w->out[2]; ow++) {
                int64_t w0 = ow * w->stride[2] - w->pad_begin[2];
                int64_t w1 = w0 + w->kernel[2] < IW + w->pad_end[2] ? w0 + w->kernel[2] : IW + w->pad_end[2];
                int64_t wlo = w0 < 0 ? 0 : w0, whi = w1 < IW ? w1 : IW;
                float sum = 0.0f;
                for (int64_t id = dlo; id < dhi; id++)
                    for (int64_t ih = hlo; ih < hhi; ih++) {
                        const float *row = x + (id * IH + ih) * IW;
                        for (int64_t iw = wlo; iw < whi; iw++)
                            sum += row[iw];
                    }
                int64_t count = include_pad ? (d1 - d0) * (h1 - h0) * (w1 - w0)
                                            : (dhi - dlo) * (hhi - hlo) * (whi - wlo);
                *y++ = count > 0 ? sum / (float)count : 0.0f;
            }
        }
    }
}

static enum sp_status pool_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    const struct pool_state *s = n->state;
    const float *x = sp_node_in(n, 0)->data;
    float *y = sp_node_out(n, 0)->data;
    const int64_t in_plane = s->plane_in;
    switch (s->kind) {
    case POOL_GLOBAL_AVG:
        for (int64_t p = 0; p < s->planes; p++) {
            const float *xp = x + p * in_plane;
            double sum = 0.0;
            for (int64_t i = 0; i < in_plane; i++)
                sum += xp[i];
            y[p] = (float)(sum / (double)in_plane);
        }
        break;
    case POOL_GLOBAL_MAX:
        for (int64_t p = 0; p < s->planes; p++) {
            const float *xp = x + p * in_plane;
            float best = xp[0];
            for (int64_t i = 1; i < in_plane; i++)
                if (xp[i] > best)
                    best = xp[i];
            y[p] = best;
        }
        break;
    case POOL_MAX: {
        struct sp_tensor *it = sp_node_out(n, 1);
        int64_t *ind = it ? it->data : NULL;
        int64_t out_plane = sp_win_out_size(&s->win);
        const void *xv = sp_node_in(n, 0)->data;
        void *yv = sp_node_out(n, 0)->data;
        for (int64_t p = 0; p < s->planes; p++) {
            int64_t *ip = ind ? ind + p * out_plane : NULL;
            if (s->dtype == SP_DTYPE_INT8)
                maxpool_plane_i8(&s->win, (const int8_t *)xv + p * in_plane, (int8_t *)yv + p * out_plane, ip,
                                 p * in_plane, s->column_major);
            else if (s->dtype == SP_DTYPE_UINT8)
                maxpool_plane_u8(&s->win, (const uint8_t *)xv + p * in_plane, (uint8_t *)yv + p * out_plane, ip,
                                 p * in_plane, s->column_major);
            else if (!ip)
                maxpool_plane_rows_f32(&s->win, x + p * in_plane, y + p * out_plane);
            else
                maxpool_plane_f32(&s->win, x + p * in_plane, y + p * out_plane, ip, p * in_plane,
                                  s->column_major);
        }
        break;
    }
    case POOL_AVG: {
        int64_t out_plane = sp_win_out_size(&s->win);
        for (int64_t p = 0; p < s->planes; p++)
            avgpool_plane(&s->win, s->count_include_pad, x + p * in_plane, y + p * out_plane);
        break;
    }
    }
    return SP_OK;
}

#define POOL_OP(name, initfn)                                                                                    \
    const struct sp_op sp_op_##name = {                                                                          \
        .type = #name,                                                                                           \
        .domain = "",                                                                                            \
        .opset_min = 1,                                                                                          \
        .opset_max = 18,                                                                                         \
        .init = initfn,                                                                                          \
        .prepare = pool_prepare,                                                                                 \
        .run = pool_run,                                                                                         \
        .free = pool_free,                                                                                       \
    };
POOL_OP(MaxPool, maxpool_init)
POOL_OP(AveragePool, avgpool_init)
POOL_OP(GlobalMaxPool, gmaxpool_init)
POOL_OP(GlobalAveragePool, gavgpool_init)
