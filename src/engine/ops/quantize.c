/*
 * QuantizeLinear and DequantizeLinear: the Q/DQ pairs of a compressed model.
 *
 *   Quantize:   y = saturate(round_half_even(x / scale) + zero_point)
 *   Dequantize: y = (x - zero_point) * scale
 *
 * Scale and zero point are per tensor (one value) or, from opset 13, per axis
 * (a 1-D tensor along `axis`, default 1). The zero point is optional; without
 * it Quantize produces uint8 and Dequantize subtracts nothing. Dequantize also
 * takes int32 input, which is how quantized biases are stored. Scale and zero
 * point are read at run time, so they need not be constant.
 */
#include <math.h>
#include <stdlib.h>

#include "engine/attr.h"
#include "engine/op.h"

struct q_state {
    bool dequant;
    int64_t axis_attr;
    bool per_axis;
    int64_t outer, channels, inner; /* per-axis layout; channels = 1 per tensor */
};

static enum sp_status q_init(struct sp_node *n, bool dequant, struct sp_error *err)
{
    static const char *const none[] = {NULL};
    static const char *const with_axis[] = {"axis", NULL};
    enum sp_status st = sp_attr_check_known(n, n->opset >= 13 ? with_axis : none, err);
    if (st)
        return st;
    if (n->n_inputs < 2 || n->n_inputs > 3 || !n->inputs[0] || !n->inputs[1])
        return sp_node_error(n, err, SP_ERR_FORMAT, "expects 2 or 3 inputs (x, scale, [zero_point])");
    if (n->n_outputs < 1 || !n->outputs[0])
        return sp_node_error(n, err, SP_ERR_FORMAT, "output 0 is required");
    struct q_state *s = calloc(1, sizeof *s);
    if (!s)
        return sp_node_error(n, err, SP_ERR_NOMEM, "out of memory");
    n->state = s;
    s->dequant = dequant;
    return sp_attr_int(n, "axis", 1, &s->axis_attr, err);
}

static void q_free(struct sp_node *n)
{
    free(n->state);
    n->state = NULL;
}

static enum sp_status q_prepare(struct sp_node *n, struct sp_error *err)
{
    struct q_state *s = n->state;
    const struct sp_tensor *x = sp_node_in(n, 0), *sc = sp_node_in(n, 1), *zp = sp_node_in(n, 2);
    char b1[96], b2[96];
    if (s->dequant) {
        if (x->dtype != SP_DTYPE_UINT8 && x->dtype != SP_DTYPE_INT8 && x->dtype != SP_DTYPE_INT32)
            return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "x has dtype %s; uint8, int8 and int32 are supported",
                                 sp_dtype_name(x->dtype));
        if (zp && zp->dtype != x->dtype)
            return sp_node_error(n, err, SP_ERR_FORMAT, "zero point is %s but x is %s: they must match",
                                 sp_dtype_name(zp->dtype), sp_dtype_name(x->dtype));
    } else {
        if (x->dtype != SP_DTYPE_FLOAT && x->dtype != SP_DTYPE_INT32)
            return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "x has dtype %s; float32 and int32 are supported",
                                 sp_dtype_name(x->dtype));
        if (zp && zp->dtype != SP_DTYPE_UINT8 && zp->dtype != SP_DTYPE_INT8)
            return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "zero point has dtype %s; uint8 and int8 are supported",
                                 sp_dtype_name(zp->dtype));
    }
    if (sc->dtype != SP_DTYPE_FLOAT)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "scale has dtype %s; float32 is supported",
                             sp_dtype_name(sc->dtype));
    int64_t ns = sp_tensor_numel(sc);
    if (zp && (zp->ndim != sc->ndim || sp_tensor_numel(zp) != ns))
        return sp_node_error(n, err, SP_ERR_MISMATCH, "zero point shape %s differs from scale shape %s",
                             sp_shape_str(zp->ndim, zp->dims, b1, sizeof b1), sp_shape_str(sc->ndim, sc->dims, b2, sizeof b2));
    s->per_axis = !(sc->ndim == 0 || (sc->ndim == 1 && ns == 1));
    s->outer = 1;
    s->channels = 1;
    s->inner = sp_tensor_numel(x);
    if (s->per_axis) {
        if (n->opset < 13)
            return sp_node_error(n, err, SP_ERR_FORMAT, "scale must be a scalar before opset 13, got shape %s",
                                 sp_shape_str(sc->ndim, sc->dims, b1, sizeof b1));
        int axis;
        enum sp_status st = sp_axis_normalize(n, s->axis_attr, x->ndim, &axis, err);
        if (st)
            return st;
        if (sc->ndim != 1 || ns != x->dims[axis])
            return sp_node_error(n, err, SP_ERR_MISMATCH, "per-axis scale shape %s does not match x axis %d of size %lld",
                                 sp_shape_str(sc->ndim, sc->dims, b1, sizeof b1), axis, (long long)x->dims[axis]);
        s->inner = 1;
        for (int d = 0; d < x->ndim; d++) {
            if (d < axis)
                s->outer *= x->dims[d];
            else if (d > axis)
                s->inner *= x->dims[d];
        }
        s->channels = ns;
    }
    enum sp_dtype out = s->dequant ? SP_DTYPE_FLOAT : zp ? zp->dtype : SP_DTYPE_UINT8;
    sp_node_set_out(n, 0, out, x->ndim, x->dims);
    n->scratch_bytes = 0;
    return SP_OK;
}

static int64_t zp_at(const struct sp_tensor *zp, int64_t c)
{
    if (!zp)
        return 0;
    switch (zp->dtype) {
    case SP_DTYPE_UINT8: return ((const uint8_t *)zp->data)[c];
    case SP_DTYPE_INT8: return ((const int8_t *)zp->data)[c];
    default: return ((const int32_t *)zp->data)[c];
    }
}

static enum sp_status q_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    struct q_state *s = n->state;
    const struct sp_tensor *x = sp_node_in(n, 0), *sc = sp_node_in(n, 1), *zp = sp_node_in(n, 2);
    struct sp_tensor *y = sp_node_out(n, 0);
    const float *scale = sc->data;
    int64_t block = s->channels * s->inner;
    for (int64_t o = 0; o < s->outer; o++) {
        for (int64_t c = 0; c < s->channels; c++) {
            int64_t base = o * block + c * s->inner, len = s->inner;
            float f = scale[c];
            int64_t z = zp_at(zp, c);
            if (s->dequant) {
                float *out = (float *)y->data + base;
                if (x->dtype == SP_DTYPE_UINT8) {
                    const uint8_t *in = (const uint8_t *)x->data + base;
                    for (int64_t i = 0; i < len; i++)
                        out[i] = (float)((int32_t)in[i] - (int32_t)z) * f;
                } else if (x->dtype == SP_DTYPE_INT8) {
                    const int8_t *in = (const int8_t *)x->data + base;
                    for (int64_t i = 0; i < len; i++)
                        out[i] = (float)((int32_t)in[i] - (int32_t)z) * f;
                } else {
                    const int32_t *in = (const int32_t *)x->data + base;
                    for (int64_t i = 0; i < len; i++)
                        out[i] = (float)((int64_t)in[i] - z) * f;
                }
                continue;
            }
            bool is_u8 = y->dtype == SP_DTYPE_UINT8;
            float lo = is_u8 ? 0.0f : -128.0f, hi = is_u8 ? 255.0f : 127.0f;
            for (int64_t i = 0; i < len; i++) {
                float v = x->dtype == SP_DTYPE_FLOAT ? ((const float *)x->data)[base + i]
                                                     : (float)((const int32_t *)x->data)[base + i];
                /* rintf rounds half to even; the clamp also maps NaN to lo. */
                float q = rintf(v / f) + (float)z;
                q = q > lo ? (q < hi ? q : hi) : lo;
                if (is_u8)
                    ((uint8_t *)y->data)[base + i] = (uint8_t)q;
                else
                    ((int8_t *)y->data)[base + i] = (int8_t)q;
            }
        }
    }
    return SP_OK;
}

static enum sp_status init_q(struct sp_node *n, struct sp_error *err)
{
    enum sp_status st = q_init(n, false, err);
    if (st) /* the engine frees state only after a successful init */
        q_free(n);
    return st;
}
static enum sp_status init_dq(struct sp_node *n, struct sp_error *err)
{
    enum sp_status st = q_init(n, true, err);
    if (st) /* the engine frees state only after a successful init */
        q_free(n);
    return st;
}

const struct sp_op sp_op_QuantizeLinear = {"QuantizeLinear", "", 10, 18, init_q, q_prepare, q_run, q_free};
const struct sp_op sp_op_DequantizeLinear = {"DequantizeLinear", "", 10, 18, init_dq, q_prepare, q_run, q_free};

/*
 * DynamicQuantizeLinear (opset 11): uint8 quantization whose range comes from
 * the data itself, widened to include 0 so that 0 is exact:
 *   scale = (max(0, max x) - min(0, min x)) / 255
 *   zero_point = saturate(round_half_even(-min(0, min x) / scale))
 *   y = saturate(round_half_even(x / scale) + zero_point)
 * all in float32 like ONNX's function body. An all-zero (or empty) input has
 * scale 0: it quantizes to zero point 0 and all-zero y instead of dividing by 0.
 */
static enum sp_status dql_init(struct sp_node *n, struct sp_error *err)
{
    static const char *const none[] = {NULL};
    enum sp_status st = sp_attr_check_known(n, none, err);
    if (st)
        return st;
    if (n->n_inputs != 1 || !n->inputs[0])
        return sp_node_error(n, err, SP_ERR_FORMAT, "expects 1 input, got %d", n->n_inputs);
    if (n->n_outputs != 3 || !n->outputs[0] || !n->outputs[1] || !n->outputs[2])
        return sp_node_error(n, err, SP_ERR_FORMAT, "expects 3 outputs (y, y_scale, y_zero_point)");
    return SP_OK;
}

static enum sp_status dql_prepare(struct sp_node *n, struct sp_error *err)
{
    const struct sp_tensor *x = sp_node_in(n, 0);
    if (x->dtype != SP_DTYPE_FLOAT)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "x has dtype %s; float32 is supported",
                             sp_dtype_name(x->dtype));
    sp_node_set_out(n, 0, SP_DTYPE_UINT8, x->ndim, x->dims);
    sp_node_set_out(n, 1, SP_DTYPE_FLOAT, 0, NULL);
    sp_node_set_out(n, 2, SP_DTYPE_UINT8, 0, NULL);
    n->scratch_bytes = 0;
    return SP_OK;
}

static uint8_t sat_u8(float v)
{
    return v != v ? 0 : v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)v;
}

static enum sp_status dql_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    (void)scratch, (void)err;
    const struct sp_tensor *x = sp_node_in(n, 0);
    const float *xs = x->data;
    uint8_t *y = sp_node_out(n, 0)->data;
    int64_t numel = sp_tensor_numel(x);
    float lo = 0, hi = 0;
    for (int64_t i = 0; i < numel; i++) {
        lo = xs[i] < lo ? xs[i] : lo;
        hi = xs[i] > hi ? xs[i] : hi;
    }
    float scale = (hi - lo) / 255.0f;
    uint8_t zp = scale > 0 ? sat_u8(nearbyintf(0.0f - lo / scale)) : 0;
    *(float *)sp_node_out(n, 1)->data = scale;
    *(uint8_t *)sp_node_out(n, 2)->data = zp;
    for (int64_t i = 0; i < numel; i++)
        y[i] = scale > 0 ? sat_u8(nearbyintf(xs[i] / scale) + (float)zp) : 0;
    return SP_OK;
}

const struct sp_op sp_op_DynamicQuantizeLinear = {"DynamicQuantizeLinear", "", 11, 18, dql_init, dql_prepare,
                                                  dql_run, NULL};
