/*
 * Softmax, LogSoftmax and Hardmax (1 at the first maximum of each row, 0
 * elsewhere; it shares the axis rules).
 *
 * The two opset generations disagree on what "axis" means. Before opset 13 the
 * input is flattened to 2-D at `axis` (default 1) and each row of the flattened
 * matrix is normalised, i.e. over every axis from `axis` to the end; from opset
 * 13 on only the single axis `axis` (default -1) is normalised. Both reduce to
 * "outer x len x inner" with inner = 1 for the old form.
 *
 * Numerically stable: the row maximum is subtracted before exponentiating, and
 * LogSoftmax is computed as x - max - log(sum(exp(x - max))).
 */
#include <math.h>
#include <stdlib.h>

#include "engine/attr.h"
#include "engine/op.h"
#include "engine/ops/vmath.h"

struct softmax_state {
    bool is_log;
    bool is_hard;
    int64_t axis_attr;
    int64_t outer, len, inner; /* set by prepare */
};

static enum sp_status sm_init(struct sp_node *n, bool log_variant, struct sp_error *err)
{
    static const char *const known[] = {"axis", NULL};
    enum sp_status st = sp_attr_check_known(n, known, err);
    if (st)
        return st;
    if (n->n_inputs != 1 || !n->inputs[0])
        return sp_node_error(n, err, SP_ERR_FORMAT, "expects 1 input, got %d", n->n_inputs);
    if (n->n_outputs < 1 || !n->outputs[0])
        return sp_node_error(n, err, SP_ERR_FORMAT, "output 0 is required");
    struct softmax_state *s = calloc(1, sizeof *s);
    if (!s)
        return sp_node_error(n, err, SP_ERR_NOMEM, "out of memory");
    n->state = s;
    s->is_log = log_variant;
    return sp_attr_int(n, "axis", n->opset < 13 ? 1 : -1, &s->axis_attr, err);
}

static enum sp_status sm_prepare(struct sp_node *n, struct sp_error *err)
{
    struct softmax_state *s = n->state;
    const struct sp_tensor *x = sp_node_in(n, 0);
    if (x->dtype != SP_DTYPE_FLOAT && x->dtype != SP_DTYPE_DOUBLE)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "input has dtype %s; float32 and float64 are supported",
                             sp_dtype_name(x->dtype));
    int axis = 0;
    if (x->ndim > 0) {
        enum sp_status st = sp_axis_normalize(n, s->axis_attr, x->ndim, &axis, err);
        if (st)
            return st;
    }
    s->outer = 1;
    s->len = 1;
    s->inner = 1;
    for (int d = 0; d < x->ndim; d++) {
        if (d < axis)
            s->outer *= x->dims[d];
        else if (d == axis || n->opset < 13)
            s->len *= x->dims[d];
        else
            s->inner *= x->dims[d];
    }
    n->scratch_bytes = s->inner > 1 && !s->is_hard ? 2 * (size_t)s->inner * sizeof(double) : 0;
    sp_node_set_out(n, 0, x->dtype, x->ndim, x->dims);
    return SP_OK;
}

/* One contiguous row (inner == 1): the common case (attention scores, logits). */
#define ROW(T, EXP, LOG)                                                                                      \
    static void row_##T(T *o, const T *x, int64_t len, bool is_log)                                              \
    {                                                                                                         \
        T m = x[0];                                                                                           \
        for (int64_t i = 1; i < len; i++)                                                                     \
            m = x[i] > m ? x[i] : m;                                                                          \
        T sum = 0;                                                                                            \
        if (is_log) {                                                                                            \
            for (int64_t i = 0; i < len; i++)                                                                 \
                sum += EXP(x[i] - m);                                                                         \
            T lse = m + LOG(sum);                                                                             \
            for (int64_t i = 0; i < len; i++)                                                                 \
                o[i] = x[i] - lse;                                                                            \
        } else {                                                                                              \
            for (int64_t i = 0; i < len; i++) {                                                               \
                o[i] = EXP(x[i] - m);                                                                         \
                sum += o[i];                                                                                  \
            }                                                                                                 \
            T inv = 1 / sum;                                                                                  \
            for (int64_t i = 0; i < len; i++)                                                                 \
                o[i] *= inv;                                                                                  \
        }                                                                                                     \
    }                                                                                                         \
    /* Strided axis (inner > 1): walk the axis row by row, vectorised over inner. */                          \
    static void strided_##T(T *o, const T *x, int64_t len, int64_t inner, bool is_log, T *mx, T *sum)            \
    {                                                                                                         \
        for (int64_t j = 0; j < inner; j++) {                                                                 \
            mx[j] = x[j];                                                                                     \
            sum[j] = 0;                                                                                       \
        }                                                                                                     \
        for (int64_t i = 1; i < len; i++)                                                                     \
            for (int64_t j = 0; j < inner; j++)                                                               \
                mx[j] = x[i * inner + j] > mx[j] ? x[i * inner + j] : mx[j];                                  \
        for (int64_t i = 0; i < len; i++)                                                                     \
            for (int64_t j = 0; j < inner; j++) {                                                             \
                T e = EXP(x[i * inner + j] - mx[j]);                                                          \
                sum[j] += e;                                                                                  \
                if (!is_log)                                                                                     \
                    o[i * inner + j] = e;                                                                     \
            }                                                                                                 \
        for (int64_t j = 0; j < inner; j++)                                                                   \
            sum[j] = is_log ? mx[j] + LOG(sum[j]) : 1 / sum[j];                                                  \
        for (int64_t i = 0; i < len; i++)                                                                     \
            for (int64_t j = 0; j < inner; j++) {                                                             \
                if (is_log)                                                                                      \
                    o[i * inner + j] = x[i * inner + j] - sum[j];                                             \
                else                                                                                          \
                    o[i * inner + j] *= sum[j];                                                               \
            }                                                                                                 \
    }
ROW(float, sp_vexpf, logf)
ROW(double, exp, log)

/* float rows of 16 or more (attention scores): max and sum kept in 16 lanes,
 * so that with sp_vexpf every loop vectorizes; gcc will not reorder a single
 * float accumulator on its own (that needs -ffast-math). */
#define SM_LANES 16
static void row_float_lanes(float *o, const float *x, int64_t len, bool is_log)
{
    float mv[SM_LANES], sv[SM_LANES] = {0};
    int64_t body = len - len % SM_LANES;
    for (int l = 0; l < SM_LANES; l++)
        mv[l] = x[l];
    for (int64_t i = SM_LANES; i < body; i += SM_LANES)
        for (int l = 0; l < SM_LANES; l++)
            mv[l] = x[i + l] > mv[l] ? x[i + l] : mv[l];
    float m = mv[0];
    for (int l = 1; l < SM_LANES; l++)
        m = mv[l] > m ? mv[l] : m;
    for (int64_t i = body; i < len; i++)
        m = x[i] > m ? x[i] : m;
    for (int64_t i = 0; i < body; i += SM_LANES)
        for (int l = 0; l < SM_LANES; l++) {
            float e = sp_vexpf(x[i + l] - m);
            if (!is_log)
                o[i + l] = e;
            sv[l] += e;
        }
    float sum = 0;
    for (int l = 0; l < SM_LANES; l++)
        sum += sv[l];
    for (int64_t i = body; i < len; i++) {
        float e = sp_vexpf(x[i] - m);
        if (!is_log)
            o[i] = e;
        sum += e;
    }
    if (is_log) {
        float lse = m + logf(sum);
        for (int64_t i = 0; i < len; i++)
            o[i] = x[i] - lse;
    } else {
        float inv = 1 / sum;
        for (int64_t i = 0; i < len; i++)
            o[i] *= inv;
    }
}

/* Hardmax over one block: ties go to the lowest index, like numpy's argmax;
 * a NaN never compares greater, so it never wins. */
#define HARD(T)                                                                                               \
    static void hard_##T(T *o, const T *x, int64_t len, int64_t inner)                                        \
    {                                                                                                         \
        for (int64_t j = 0; j < inner; j++) {                                                                 \
            int64_t best = 0;                                                                                 \
            for (int64_t i = 1; i < len; i++)                                                                 \
                if (x[i * inner + j] > x[best * inner + j])                                                   \
                    best = i;                                                                                 \
            for (int64_t i = 0; i < len; i++)                                                                 \
                o[i * inner + j] = i == best ? 1 : 0;                                                         \
        }                                                                                                     \
    }
HARD(float)
HARD(double)

static enum sp_status sm_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    struct softmax_state *s = n->state;
    const struct sp_tensor *x = sp_node_in(n, 0);
    struct sp_tensor *y = sp_node_out(n, 0);
    int64_t block = s->len * s->inner;
    if (block == 0)
        return SP_OK;
    if (s->is_hard) {
        for (int64_t b = 0; b < s->outer; b++) {
            if (x->dtype == SP_DTYPE_FLOAT)
                hard_float((float *)y->data + b * block, (const float *)x->data + b * block, s->len, s->inner);
            else
                hard_double((double *)y->data + b * block, (const double *)x->data + b * block, s->len, s->inner);
        }
        return SP_OK;
    }
    for (int64_t b = 0; b < s->outer; b++) {
        if (x->dtype == SP_DTYPE_FLOAT) {
            const float *xi = (const float *)x->data + b * block;
            float *yo = (float *)y->data + b * block;
            if (s->inner == 1 && s->len >= SM_LANES)
                row_float_lanes(yo, xi, s->len, s->is_log);
            else if (s->inner == 1)
                row_float(yo, xi, s->len, s->is_log);
            else
                strided_float(yo, xi, s->len, s->inner, s->is_log, scratch, (float *)scratch + s->inner);
        } else {
            const double *xi = (const double *)x->data + b * block;
            double *yo = (double *)y->data + b * block;
            if (s->inner == 1)
                row_double(yo, xi, s->len, s->is_log);
            else
                strided_double(yo, xi, s->len, s->inner, s->is_log, scratch, (double *)scratch + s->inner);
        }
    }
    return SP_OK;
}

static void sm_free(struct sp_node *n)
{
    free(n->state);
    n->state = NULL;
}

static enum sp_status init_softmax(struct sp_node *n, struct sp_error *err)
{
    enum sp_status st = sm_init(n, false, err);
    if (st) /* the engine frees state only after a successful init */
        sm_free(n);
    return st;
}
static enum sp_status init_logsoftmax(struct sp_node *n, struct sp_error *err)
{
    enum sp_status st = sm_init(n, true, err);
    if (st) /* the engine frees state only after a successful init */
        sm_free(n);
    return st;
}

const struct sp_op sp_op_Softmax = {"Softmax", "", 1, 18, init_softmax, sm_prepare, sm_run, sm_free};
const struct sp_op sp_op_LogSoftmax = {"LogSoftmax", "", 1, 18, init_logsoftmax, sm_prepare, sm_run, sm_free};
static enum sp_status init_hardmax(struct sp_node *n, struct sp_error *err)
{
    enum sp_status st = sm_init(n, false, err);
    if (st)
        sm_free(n);
    else
        ((struct softmax_state *)n->state)->is_hard = true;
    return st;
}
const struct sp_op sp_op_Hardmax = {"Hardmax", "", 1, 18, init_hardmax, sm_prepare, sm_run, sm_free};
