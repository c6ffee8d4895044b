/*
 * BatchNormalization (inference, opsets 6..15, incl. opset 6-8 'spatial' and
 * opset 6 'is_test'),
 * LayerNormalization (opset 17) and InstanceNormalization (opsets 6..18),
 * float32.
 *
 * Batch normalization in inference is an affine map per channel, so it is
 * folded into y = x * a + b with a and b computed once per run (the statistics
 * may be graph inputs, not only initializers). Layer and instance
 * normalization compute their statistics in two passes with double
 * accumulators: one-pass E[x^2] - E[x]^2 loses every digit on activations with
 * a large mean, which transformers do produce.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/attr.h"
#include "engine/ops/im2col.h"

static void norm_free(struct sp_node *n)
{
    free(n->state);
    n->state = NULL;
}

static int count_outputs(const struct sp_node *n)
{
    int c = 0;
    for (int i = 0; i < n->n_outputs; i++)
        c += n->outputs[i] != NULL;
    return c;
}

/* Mean and 1/sqrt(var + eps) of `len` floats, two passes in double. */
static void moments(const float *x, int64_t len, float eps, double *mean_out, double *inv_out)
{
    double sum = 0.0;
    for (int64_t i = 0; i < len; i++)
        sum += x[i];
    double mean = sum / (double)len, sq = 0.0;
    for (int64_t i = 0; i < len; i++) {
        double d = x[i] - mean;
        sq += d * d;
    }
    *mean_out = mean;
    *inv_out = 1.0 / sqrt(sq / (double)len + (double)eps);
}

/* ------------------------------------------------- BatchNormalization */

struct bn_state {
    float epsilon;
    bool spatial;
    int64_t batch, channels, plane; /* plane: product of the spatial dims */
};

static enum sp_status bn_init_common(struct sp_node *n, struct sp_error *err)
{
    static const char *const known_6[] = {"epsilon", "is_test", "momentum", "spatial", NULL};
    static const char *const known_7[] = {"epsilon", "momentum", "spatial", NULL};
    static const char *const known_9[] = {"epsilon", "momentum", NULL};
    static const char *const known_14[] = {"epsilon", "momentum", "training_mode", NULL};
    const char *const *known = n->opset >= 14 ? known_14 : n->opset >= 9 ? known_9 : n->opset >= 7 ? known_7 : known_6;
    enum sp_status st = sp_attr_check_known(n, known, err);
    if (st)
        return st;
    if (n->n_inputs != 5)
        return sp_node_error(n, err, SP_ERR_FORMAT, "expects inputs X, scale, B, mean and var, got %d inputs",
                             n->n_inputs);
    for (int i = 0; i < 5; i++)
        if (!n->inputs[i])
            return sp_node_error(n, err, SP_ERR_FORMAT, "input %d is required", i);
    struct bn_state *s = calloc(1, sizeof *s);
    if (!s)
        return sp_node_error(n, err, SP_ERR_NOMEM, "out of memory");
    n->state = s;
    int64_t training = 0, spatial = 1;
    if ((st = sp_attr_float(n, "epsilon", 1e-5f, &s->epsilon, err)) ||
        (st = sp_attr_int(n, "training_mode", 0, &training, err)) ||
        (st = sp_attr_int(n, "spatial", 1, &spatial, err)))
        return st;
    if (training != 0)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "training_mode=%lld is not supported (inference only)",
                             (long long)training);
    if (n->opset < 7) {
        /* Opset 6 defaults to training (is_test = 0), which uses batch statistics. */
        int64_t is_test;
        if ((st = sp_attr_int(n, "is_test", 0, &is_test, err)))
            return st;
        if (is_test != 1)
            return sp_node_error(n, err, SP_ERR_UNSUPPORTED,
                                 "is_test=%lld (training) is not supported: inference needs is_test=1",
                                 (long long)is_test);
    }
    s->spatial = spatial != 0;
    if (n->n_outputs < 1 || !n->outputs[0] || count_outputs(n) != 1)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED,
                             "only the output Y is supported: running or saved statistics are training outputs");
    return SP_OK;
}

static enum sp_status bn_init(struct sp_node *n, struct sp_error *err)
{
    enum sp_status st = bn_init_common(n, err);
    if (st)
        norm_free(n);
    return st;
}

static enum sp_status bn_prepare(struct sp_node *n, struct sp_error *err)
{
    static const char *const names[] = {"X", "scale", "B", "mean", "var"};
    struct bn_state *s = n->state;
    enum sp_status st;
    for (int i = 0; i < 5; i++)
        if ((st = sp_op_need_float(n, i, names[i], err)))
            return st;
    const struct sp_tensor *x = sp_node_in(n, 0);
    if (x->ndim < 2)
        return sp_node_error(n, err, SP_ERR_MISMATCH, "input X must have rank >= 2 (N, C, ...), got %d", x->ndim);
    s->batch = x->dims[0];
    s->channels = x->dims[1];
    s->plane = 1;
    for (int i = 2; i < x->ndim; i++)
        s->plane *= x->dims[i];
    /* spatial = 0 (opsets 7-8) keeps one statistic per activation: C x spatial values. */
    int64_t want = s->spatial ? s->channels : s->channels * s->plane;
    for (int i = 1; i < 5; i++) {
        const struct sp_tensor *p = sp_node_in(n, i);
        if (sp_tensor_numel(p) != want || (s->spatial && p->ndim != 1))
            return sp_node_error(n, err, SP_ERR_MISMATCH, "input %s must hold %lld values (%s), got rank %d", names[i],
                                 (long long)want, s->spatial ? "one per channel" : "one per channel and position",
                                 p->ndim);
    }
    n->scratch_bytes = 0;
    sp_node_set_out(n, 0, SP_DTYPE_FLOAT, x->ndim, x->dims);
    return SP_OK;
}

static enum sp_status bn_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    const struct bn_state *s = n->state;
    const float *x = sp_node_in(n, 0)->data, *scale = sp_node_in(n, 1)->data, *bias = sp_node_in(n, 2)->data;
    const float *mean = sp_node_in(n, 3)->data, *var = sp_node_in(n, 4)->data;
    float *y = sp_node_out(n, 0)->data;
    for (int64_t b = 0; b < s->batch; b++) {
        for (int64_t c = 0; c < s->channels; c++) {
            const float *xp = x + (b * s->channels + c) * s->plane;
            float *yp = y + (b * s->channels + c) * s->plane;
            if (s->spatial) {
                float a = scale[c] / sqrtf(var[c] + s->epsilon);
                float sh = bias[c] - mean[c] * a;
                for (int64_t i = 0; i < s->plane; i++)
                    yp[i] = xp[i] * a + sh;
            } else {
                int64_t o = c * s->plane;
                for (int64_t i = 0; i < s->plane; i++) {
                    float a = scale[o + i] / sqrtf(var[o + i] + s->epsilon);
                    yp[i] = (xp[i] - mean[o + i]) * a + bias[o + i];
                }
            }
        }
    }
    return SP_OK;
}

const struct sp_op sp_op_BatchNormalization = {
    .type = "BatchNormalization",
    .domain = "",
    .opset_min = 6,
    .opset_max = 18,
    .init = bn_init,
    .prepare = bn_prepare,
    .run = bn_run,
    .free = norm_free,
};

/* ------------------------------------------------- LayerNormalization */

struct ln_state {
    int64_t axis_attr;
    float epsilon;
    int axis;
    int64_t outer, inner;
    /* Scale / B are expanded into scratch when they broadcast over the
     * normalized axes instead of matching them exactly. */
    bool expand_scale, expand_bias;
    int n_norm;                       /* rank - axis */
    int64_t norm_dims[SP_MAX_DIMS];
    int64_t scale_step[SP_MAX_DIMS], bias_step[SP_MAX_DIMS];
};

static enum sp_status ln_init_common(struct sp_node *n, struct sp_error *err)
{
    static const char *const known[] = {"axis", "epsilon", "stash_type", NULL};
    enum sp_status st = sp_attr_check_known(n, known, err);
    if (st)
        return st;
    if (n->n_inputs < 2 || n->n_inputs > 3 || !n->inputs[0] || !n->inputs[1])
        return sp_node_error(n, err, SP_ERR_FORMAT, "expects inputs X, Scale and an optional B, got %d inputs",
                             n->n_inputs);
    if (n->n_outputs < 1 || n->n_outputs > 3 || !n->outputs[0])
        return sp_node_error(n, err, SP_ERR_FORMAT, "expects output Y and optional Mean, InvStdDev, got %d outputs",
                             n->n_outputs);
    struct ln_state *s = calloc(1, sizeof *s);
    if (!s)
        return sp_node_error(n, err, SP_ERR_NOMEM, "out of memory");
    n->state = s;
    int64_t stash;
    if ((st = sp_attr_int(n, "axis", -1, &s->axis_attr, err)) ||
        (st = sp_attr_float(n, "epsilon", 1e-5f, &s->epsilon, err)) ||
        (st = sp_attr_int(n, "stash_type", 1, &stash, err)))
        return st;
    if (stash != SP_DTYPE_FLOAT)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "stash_type %lld is not supported (only 1, float)",
                             (long long)stash);
    return SP_OK;
}

static enum sp_status ln_init(struct sp_node *n, struct sp_error *err)
{
    enum sp_status st = ln_init_common(n, err);
    if (st)
        norm_free(n);
    return st;
}

/* Steps of a parameter broadcast (numpy, right-aligned) over the normalized
 * dims; false if it does not broadcast. *exact is true if no expansion is needed. */
static bool ln_param_steps(const struct ln_state *s, const struct sp_tensor *p, int64_t *step, bool *exact)
{
    if (p->ndim > s->n_norm)
        return false;
    int64_t stride = 1;
    *exact = true;
    for (int i = s->n_norm - 1; i >= 0; i--) {
        int ip = i - (s->n_norm - p->ndim);
        int64_t d = ip >= 0 ? p->dims[ip] : 1;
        if (d != s->norm_dims[i] && d != 1)
            return false;
        if (d != s->norm_dims[i])
            *exact = false;
        step[i] = d == 1 ? 0 : stride;
        stride *= d;
    }
    return true;
}

static enum sp_status ln_prepare(struct sp_node *n, struct sp_error *err)
{
    struct ln_state *s = n->state;
    enum sp_status st;
    if ((st = sp_op_need_float(n, 0, "X", err)) || (st = sp_op_need_float(n, 1, "Scale", err)))
        return st;
    const struct sp_tensor *x = sp_node_in(n, 0), *scale = sp_node_in(n, 1), *bias = sp_node_in(n, 2);
    if (bias && (st = sp_op_need_float(n, 2, "B", err)))
        return st;
    if (x->ndim < 1)
        return sp_node_error(n, err, SP_ERR_MISMATCH, "input X must have rank >= 1");
    if ((st = sp_axis_normalize(n, s->axis_attr, x->ndim, &s->axis, err)))
        return st;
    s->outer = s->inner = 1;
    for (int i = 0; i < s->axis; i++)
        s->outer *= x->dims[i];
    s->n_norm = x->ndim - s->axis;
    for (int i = s->axis; i < x->ndim; i++) {
        s->inner *= x->dims[i];
        s->norm_dims[i - s->axis] = x->dims[i];
    }
    bool exact;
    if (!ln_param_steps(s, scale, s->scale_step, &exact))
        return sp_node_error(n, err, SP_ERR_MISMATCH, "Scale does not broadcast to the normalized axes %d..%d",
                             s->axis, x->ndim - 1);
    s->expand_scale = !exact;
    s->expand_bias = false;
    if (bias) {
        if (!ln_param_steps(s, bias, s->bias_step, &exact))
            return sp_node_error(n, err, SP_ERR_MISMATCH, "B does not broadcast to the normalized axes %d..%d",
                                 s->axis, x->ndim - 1);
        s->expand_bias = !exact;
    }
    n->scratch_bytes = (size_t)((s->expand_scale + s->expand_bias) * s->inner) * sizeof(float);
    sp_node_set_out(n, 0, SP_DTYPE_FLOAT, x->ndim, x->dims);
    int64_t stat_dims[SP_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++)
        stat_dims[i] = i < s->axis ? x->dims[i] : 1;
    sp_node_set_out(n, 1, SP_DTYPE_FLOAT, x->ndim, stat_dims);
    sp_node_set_out(n, 2, SP_DTYPE_FLOAT, x->ndim, stat_dims);
    return SP_OK;
}

static void ln_expand(const struct ln_state *s, const float *src, const int64_t *step, float *dst)
{
    int64_t idx[SP_MAX_DIMS] = {0}, off = 0;
    for (int64_t t = 0; t < s->inner; t++) {
        dst[t] = src[off];
        for (int i = s->n_norm - 1; i >= 0; i--) {
            idx[i]++;
            off += step[i];
            if (idx[i] < s->norm_dims[i])
                break;
            off -= step[i] * idx[i];
            idx[i] = 0;
        }
    }
}

static enum sp_status ln_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    const struct ln_state *s = n->state;
    const float *x = sp_node_in(n, 0)->data, *scale = sp_node_in(n, 1)->data;
    const struct sp_tensor *bt = sp_node_in(n, 2);
    const float *bias = bt ? bt->data : NULL;
    float *y = sp_node_out(n, 0)->data;
    struct sp_tensor *mt = sp_node_out(n, 1), *it = sp_node_out(n, 2);
    float *buf = scratch;
    if (s->expand_scale) {
        ln_expand(s, scale, s->scale_step, buf);
        scale = buf;
        buf += s->inner;
    }
    if (s->expand_bias) {
        ln_expand(s, bias, s->bias_step, buf);
        bias = buf;
    }
    for (int64_t r = 0; r < s->outer; r++) {
        const float *xr = x + r * s->inner;
        float *yr = y + r * s->inner;
        double mean, inv;
        moments(xr, s->inner, s->epsilon, &mean, &inv);
        float m = (float)mean, is = (float)inv;
        if (bias) {
            for (int64_t i = 0; i < s->inner; i++)
                yr[i] = (xr[i] - m) * is * scale[i] + bias[i];
        } else {
            for (int64_t i = 0; i < s->inner; i++)
                yr[i] = (xr[i] - m) * is * scale[i];
        }
        if (mt)
            ((float *)mt->data)[r] = m;
        if (it)
            ((float *)it->data)[r] = is;
    }
    return SP_OK;
}

const struct sp_op sp_op_LayerNormalization = {
    .type = "LayerNormalization",
    .domain = "",
    .opset_min = 17,
    .opset_max = 18,
    .init = ln_init,
    .prepare = ln_prepare,
    .run = ln_run,
    .free = norm_free,
};

/* ---------------------------------------------- InstanceNormalization */

struct in_state {
    float epsilon;
    int64_t batch, channels, plane;
};

static enum sp_status in_init_common(struct sp_node *n, struct sp_error *err)
{
    static const char *const known[] = {"epsilon", NULL};
    enum sp_status st = sp_attr_check_known(n, known, err);
    if (st)
        return st;
    if (n->n_inputs != 3 || !n->inputs[0] || !n->inputs[1] || !n->inputs[2])
        return sp_node_error(n, err, SP_ERR_FORMAT, "expects inputs X, scale and B, got %d inputs", n->n_inputs);
    if (n->n_outputs != 1 || !n->outputs[0])
        return sp_node_error(n, err, SP_ERR_FORMAT, "expects exactly one output, got %d", n->n_outputs);
    struct in_state *s = calloc(1, sizeof *s);
    if (!s)
        return sp_node_error(n, err, SP_ERR_NOMEM, "out of memory");
    n->state = s;
    return sp_attr_float(n, "epsilon", 1e-5f, &s->epsilon, err);
}

static enum sp_status in_init(struct sp_node *n, struct sp_error *err)
{
    enum sp_status st = in_init_common(n, err);
    if (st)
        norm_free(n);
    return st;
}

static enum sp_status in_prepare(struct sp_node *n, struct sp_error *err)
{
    struct in_state *s = n->state;
    enum sp_status st;
    if ((st = sp_op_need_float(n, 0, "X", err)) || (st = sp_op_need_float(n, 1, "scale", err)) ||
        (st = sp_op_need_float(n, 2, "B", err)))
        return st;
    const struct sp_tensor *x = sp_node_in(n, 0);
    if (x->ndim < 3)
        return sp_node_error(n, err, SP_ERR_MISMATCH, "input X must have rank >= 3 (N, C, D1, ...), got %d",
                             x->ndim);
    s->batch = x->dims[0];
    s->channels = x->dims[1];
    s->plane = 1;
    for (int i = 2; i < x->ndim; i++)
        s->plane *= x->dims[i];
    for (int i = 1; i < 3; i++) {
        const struct sp_tensor *p = sp_node_in(n, i);
        if (p->ndim != 1 || p->dims[0] != s->channels)
            return sp_node_error(n, err, SP_ERR_MISMATCH, "input %s must have shape [%lld]", i == 1 ? "scale" : "B",
                                 (long long)s->channels);
    }
    if (s->plane < 1)
        return sp_node_error(n, err, SP_ERR_MISMATCH, "input X has an empty spatial axis");
    n->scratch_bytes = 0;
    sp_node_set_out(n, 0, SP_DTYPE_FLOAT, x->ndim, x->dims);
    return SP_OK;
}

static enum sp_status in_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    const struct in_state *s = n->state;
    const float *x = sp_node_in(n, 0)->data, *scale = sp_node_in(n, 1)->data, *bias = sp_node_in(n, 2)->data;
    float *y = sp_node_out(n, 0)->data;
    for (int64_t b = 0; b < s->batch; b++)
        for (int64_t c = 0; c < s->channels; c++) {
            const float *xp = x + (b * s->channels + c) * s->plane;
            float *yp = y + (b * s->channels + c) * s->plane;
            double mean, inv;
            moments(xp, s->plane, s->epsilon, &mean, &inv);
            float a = (float)(inv * scale[c]), sh = (float)(bias[c] - mean * inv * scale[c]);
            for (int64_t i = 0; i < s->plane; i++)
                yp[i] = xp[i] * a + sh;
        }
    return SP_OK;
}

const struct sp_op sp_op_InstanceNormalization = {
    .type = "InstanceNormalization",
    .domain = "",
    .opset_min = 6,
    .opset_max = 18,
    .init = in_init,
    .prepare = in_prepare,
    .run = in_run,
    .free = norm_free,
};

/* ---- LpNormalization, MeanVarianceNormalization, LRN ---------------------------
 * Older normalizations that classic CNN exports still carry: LRN in
 * AlexNet/GoogLeNet/SqueezeNet-era models, MVN and LpNormalization in Caffe
 * conversions. All three are float32, accumulate in double and need no
 * scratch beyond MVN's per-group statistics. */

/* Common init: one required input, one output, only `known` attributes. */
static enum sp_status norm_io_init(struct sp_node *n, const char *const *known, size_t state_size,
                                   struct sp_error *err)
{
    enum sp_status st = sp_attr_check_known(n, known, err);
    if (st)
        return st;
    if (n->n_inputs != 1 || !n->inputs[0])
        return sp_node_error(n, err, SP_ERR_FORMAT, "expects 1 input, got %d", n->n_inputs);
    if (n->n_outputs < 1 || !n->outputs[0])
        return sp_node_error(n, err, SP_ERR_FORMAT, "output 0 is required");
    n->state = calloc(1, state_size);
    if (!n->state)
        return sp_node_error(n, err, SP_ERR_NOMEM, "out of memory");
    return SP_OK;
}

/* The engine calls free only after a successful init: release the state here
 * when init fails after allocating it. */
#define GUARDED(f)                                                                                            \
    static enum sp_status f(struct sp_node *n, struct sp_error *err)                                          \
    {                                                                                                         \
        enum sp_status st = f##_inner(n, err);                                                                \
        if (st)                                                                                               \
            norm_free(n);                                                                                     \
        return st;                                                                                            \
    }

struct lp_state {
    int64_t axis_attr, p;
    int64_t outer, len, inner;
};

static enum sp_status lp_init_inner(struct sp_node *n, struct sp_error *err)
{
    static const char *const known[] = {"axis", "p", NULL};
    enum sp_status st = norm_io_init(n, known, sizeof(struct lp_state), err);
    if (st)
        return st;
    struct lp_state *s = n->state;
    if ((st = sp_attr_int(n, "axis", -1, &s->axis_attr, err)) || (st = sp_attr_int(n, "p", 2, &s->p, err)))
        return st;
    if (s->p != 1 && s->p != 2)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "attribute 'p' must be 1 or 2, got %lld", (long long)s->p);
    return SP_OK;
}

/* Splits x's shape into outer x len x inner around one axis. */
static enum sp_status split_axis(const struct sp_node *n, const struct sp_tensor *x, int64_t axis_attr,
                                 int64_t *outer, int64_t *len, int64_t *inner, struct sp_error *err)
{
    int axis;
    enum sp_status st = sp_axis_normalize(n, axis_attr, x->ndim, &axis, err);
    if (st)
        return st;
    *outer = *len = *inner = 1;
    for (int d = 0; d < x->ndim; d++)
        *(d < axis ? outer : d == axis ? len : inner) *= x->dims[d];
    return SP_OK;
}

static enum sp_status lp_prepare(struct sp_node *n, struct sp_error *err)
{
    struct lp_state *s = n->state;
    const struct sp_tensor *x = sp_node_in(n, 0);
    enum sp_status st = sp_op_need_float(n, 0, "input", err);
    if (st)
        return st;
    if (x->ndim < 1)
        return sp_node_error(n, err, SP_ERR_FORMAT, "input must have rank >= 1");
    if ((st = split_axis(n, x, s->axis_attr, &s->outer, &s->len, &s->inner, err)))
        return st;
    n->scratch_bytes = 0;
    sp_node_set_out(n, 0, SP_DTYPE_FLOAT, x->ndim, x->dims);
    return SP_OK;
}

static enum sp_status lp_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    (void)scratch, (void)err;
    const struct lp_state *s = n->state;
    const float *x = sp_node_in(n, 0)->data;
    float *y = sp_node_out(n, 0)->data;
    for (int64_t o = 0; o < s->outer; o++)
        for (int64_t j = 0; j < s->inner; j++) {
            const float *xr = x + o * s->len * s->inner + j;
            float *yr = y + o * s->len * s->inner + j;
            double acc = 0;
            for (int64_t i = 0; i < s->len; i++) {
                double v = xr[i * s->inner];
                acc += s->p == 1 ? fabs(v) : v * v;
            }
            double norm = s->p == 1 ? acc : sqrt(acc);
            /* A zero norm means an all-zero row: it stays zero (no 0/0 NaN). */
            double inv = norm > 0 ? 1.0 / norm : 0.0;
            for (int64_t i = 0; i < s->len; i++)
                yr[i * s->inner] = (float)(xr[i * s->inner] * inv);
        }
    return SP_OK;
}

GUARDED(lp_init)
const struct sp_op sp_op_LpNormalization = {"LpNormalization", "", 1, 18, lp_init, lp_prepare, lp_run, norm_free};

/* MVN: y = (x - mean) / (sqrt(var) + 1e-9) over `axes` (default 0, 2, 3),
 * the epsilon and population variance of ONNX's function definition. */
struct mvn_state {
    int n_axes;
    int64_t axes_attr[SP_MAX_DIMS];
    bool reduce[SP_MAX_DIMS];
    int64_t groups;
};

static enum sp_status mvn_init_inner(struct sp_node *n, struct sp_error *err)
{
    static const char *const known[] = {"axes", NULL};
    enum sp_status st = norm_io_init(n, known, sizeof(struct mvn_state), err);
    if (st)
        return st;
    struct mvn_state *s = n->state;
    bool present;
    if ((st = sp_attr_ints(n, "axes", s->axes_attr, SP_MAX_DIMS, &s->n_axes, &present, err)))
        return st;
    if (!present) {
        s->n_axes = 3;
        s->axes_attr[0] = 0, s->axes_attr[1] = 2, s->axes_attr[2] = 3;
    }
    return SP_OK;
}

static enum sp_status mvn_prepare(struct sp_node *n, struct sp_error *err)
{
    struct mvn_state *s = n->state;
    const struct sp_tensor *x = sp_node_in(n, 0);
    enum sp_status st = sp_op_need_float(n, 0, "X", err);
    if (st)
        return st;
    memset(s->reduce, 0, sizeof s->reduce);
    for (int k = 0; k < s->n_axes; k++) {
        int a;
        if ((st = sp_axis_normalize(n, s->axes_attr[k], x->ndim, &a, err)))
            return st;
        if (s->reduce[a])
            return sp_node_error(n, err, SP_ERR_FORMAT, "axis %d is listed twice in 'axes'", a);
        s->reduce[a] = true;
    }
    s->groups = 1;
    for (int d = 0; d < x->ndim; d++)
        if (!s->reduce[d])
            s->groups *= x->dims[d];
    n->scratch_bytes = 3 * (size_t)s->groups * sizeof(double);
    sp_node_set_out(n, 0, SP_DTYPE_FLOAT, x->ndim, x->dims);
    return SP_OK;
}

/* Calls body(i, g) for every element i with g its group (index over the kept
 * axes, row-major), walking an odometer: no division per element. */
#define MVN_WALK(body)                                                                                        \
    do {                                                                                                      \
        int64_t idx[SP_MAX_DIMS] = {0}, g = 0;                                                                \
        for (int64_t i = 0; i < numel; i++) {                                                                 \
            body;                                                                                             \
            for (int d = x->ndim - 1; d >= 0; d--) {                                                          \
                if (++idx[d] < x->dims[d]) {                                                                  \
                    if (!s->reduce[d])                                                                        \
                        g += gstride[d];                                                                      \
                    break;                                                                                    \
                }                                                                                             \
                if (!s->reduce[d])                                                                            \
                    g -= gstride[d] * (x->dims[d] - 1);                                                       \
                idx[d] = 0;                                                                                   \
            }                                                                                                 \
        }                                                                                                     \
    } while (0)

static enum sp_status mvn_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    (void)err;
    const struct mvn_state *s = n->state;
    const struct sp_tensor *x = sp_node_in(n, 0);
    const float *xs = x->data;
    float *y = sp_node_out(n, 0)->data;
    int64_t numel = sp_tensor_numel(x);
    if (numel == 0)
        return SP_OK;
    double *mean = scratch, *var = mean + s->groups, *cnt = var + s->groups;
    int64_t gstride[SP_MAX_DIMS], st = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        gstride[d] = s->reduce[d] ? 0 : st;
        if (!s->reduce[d])
            st *= x->dims[d];
    }
    for (int64_t g = 0; g < s->groups; g++)
        mean[g] = var[g] = cnt[g] = 0;
    MVN_WALK((mean[g] += xs[i], cnt[g] += 1));
    for (int64_t g = 0; g < s->groups; g++)
        mean[g] /= cnt[g];
    MVN_WALK(var[g] += (xs[i] - mean[g]) * (xs[i] - mean[g]));
    for (int64_t g = 0; g < s->groups; g++)
        var[g] = 1.0 / (sqrt(var[g] / cnt[g]) + 1e-9);
    MVN_WALK(y[i] = (float)((xs[i] - mean[g]) * var[g]));
    return SP_OK;
}

GUARDED(mvn_init)
const struct sp_op sp_op_MeanVarianceNormalization = {"MeanVarianceNormalization", "", 9, 18, mvn_init,
                                                      mvn_prepare, mvn_run, norm_free};

/* LRN across channels (axis 1): y = x / (bias + alpha / size * sum x^2)^beta,
 * the sum over channels c - floor((size-1)/2) .. c + ceil((size-1)/2). */
struct lrn_state {
    int64_t size;
    float alpha, beta, bias;
    int64_t n, c, plane;
};

static enum sp_status lrn_init_inner(struct sp_node *n, struct sp_error *err)
{
    static const char *const known[] = {"size", "alpha", "beta", "bias", NULL};
    enum sp_status st = norm_io_init(n, known, sizeof(struct lrn_state), err);
    if (st)
        return st;
    struct lrn_state *s = n->state;
    if (!sp_attr_find(n, "size"))
        return sp_node_error(n, err, SP_ERR_FORMAT, "attribute 'size' is required");
    if ((st = sp_attr_int(n, "size", 1, &s->size, err)) || (st = sp_attr_float(n, "alpha", 1e-4f, &s->alpha, err)) ||
        (st = sp_attr_float(n, "beta", 0.75f, &s->beta, err)) || (st = sp_attr_float(n, "bias", 1.0f, &s->bias, err)))
        return st;
    if (s->size < 1)
        return sp_node_error(n, err, SP_ERR_FORMAT, "attribute 'size' must be >= 1, got %lld", (long long)s->size);
    return SP_OK;
}

static enum sp_status lrn_prepare(struct sp_node *n, struct sp_error *err)
{
    struct lrn_state *s = n->state;
    const struct sp_tensor *x = sp_node_in(n, 0);
    enum sp_status st = sp_op_need_float(n, 0, "X", err);
    if (st)
        return st;
    if (x->ndim < 2)
        return sp_node_error(n, err, SP_ERR_FORMAT, "X must be [N, C, ...], got rank %d", x->ndim);
    s->n = x->dims[0];
    s->c = x->dims[1];
    s->plane = 1;
    for (int d = 2; d < x->ndim; d++)
        s->plane *= x->dims[d];
    n->scratch_bytes = 0;
    sp_node_set_out(n, 0, SP_DTYPE_FLOAT, x->ndim, x->dims);
    return SP_OK;
}

static enum sp_status lrn_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    (void)scratch, (void)err;
    const struct lrn_state *s = n->state;
    const float *x = sp_node_in(n, 0)->data;
    float *y = sp_node_out(n, 0)->data;
    int64_t lo_off = (s->size - 1) / 2, hi_off = s->size / 2; /* floor and ceil of (size-1)/2 */
    double scale = (double)s->alpha / (double)s->size;
    for (int64_t b = 0; b < s->n; b++)
        for (int64_t c = 0; c < s->c; c++) {
            int64_t c0 = c - lo_off < 0 ? 0 : c - lo_off, c1 = c + hi_off >= s->c ? s->c - 1 : c + hi_off;
            const float *xb = x + b * s->c * s->plane;
            float *yc = y + (b * s->c + c) * s->plane;
            for (int64_t p = 0; p < s->plane; p++) {
                double sq = 0;
                for (int64_t k = c0; k <= c1; k++) {
                    double v = xb[k * s->plane + p];
                    sq += v * v;
                }
                yc[p] = (float)(xb[c * s->plane + p] / pow((double)s->bias + scale * sq, (double)s->beta));
            }
        }
    return SP_OK;
}

GUARDED(lrn_init)
const struct sp_op sp_op_LRN = {"LRN", "", 1, 18, lrn_init, lrn_prepare, lrn_run, norm_free};
