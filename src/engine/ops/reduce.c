/*
 * Reductions (ReduceMean/Sum/Max/Min/Prod/L1/L2/SumSquare/LogSumExp) and
 * ArgMax/ArgMin.
 *
 * Where the axes come from changed across opsets: an attribute until ReduceSum
 * 13 and the others 18, then an optional second input (which sparsify needs to
 * be constant, since it decides the output shape). With no axes the whole
 * tensor is reduced, unless noop_with_empty_axes asks for the identity.
 *
 * prepare collapses the input into alternating runs of kept and reduced axes
 * (dropping size-1 axes), so the walk in run is a short odometer whose
 * innermost run is either reduced (a dot-product-like row loop, e.g. LayerNorm's
 * mean over the last axis) or kept (an axpy-like loop over a contiguous output
 * row). Accumulation is in double for floating types and int64 for integers.
 * Reducing over an empty set gives the ONNX values: 0 for sums, 1 for Prod,
 * -inf/+inf (type min/max for integers) for Max/Min, NaN for Mean, -inf for
 * LogSumExp.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/attr.h"
#include "engine/op.h"
#include "engine/ops/ew_types.h"

enum red_kind { RED_MEAN, RED_SUM, RED_MAX, RED_MIN, RED_PROD, RED_L1, RED_L2, RED_SUMSQ, RED_LSE, RED_ARGMAX, RED_ARGMIN, RED_LOGSUM };

struct red_state {
    enum red_kind kind;
    int64_t keepdims, noop, select_last, axis;
    bool axes_input;              /* axes come from input 1 (ReduceSum >= 13, others >= 18) */
    int n_axes_attr;
    int64_t axes_attr[SP_MAX_DIMS];
    /* set by prepare */
    bool identity;                /* noop_with_empty_axes with no axes */
    int ng;                       /* collapsed runs */
    int64_t gsize[SP_MAX_DIMS];
    bool greduced[SP_MAX_DIMS];
    int64_t out_numel, count;     /* output elements, elements reduced into each */
    int64_t outer, len, inner;    /* ArgMax/ArgMin */
};

static bool is_arg(enum red_kind k) { return k == RED_ARGMAX || k == RED_ARGMIN; }

static enum sp_status red_init(struct sp_node *n, enum red_kind k, struct sp_error *err)
{
    static const char *const arg_attrs[] = {"axis", "keepdims", "select_last_index", NULL};
    static const char *const red_attrs[] = {"axes", "keepdims", "noop_with_empty_axes", NULL};
    static const char *const red_attrs_in[] = {"keepdims", "noop_with_empty_axes", NULL};
    bool axes_input = !is_arg(k) && n->opset >= (k == RED_SUM ? 13 : 18);
    enum sp_status st = sp_attr_check_known(n, is_arg(k) ? arg_attrs : axes_input ? red_attrs_in : red_attrs, err);
    if (st)
        return st;
    int max_in = axes_input ? 2 : 1;
    if (n->n_inputs < 1 || n->n_inputs > max_in || !n->inputs[0])
        return sp_node_error(n, err, SP_ERR_FORMAT, "expects 1%s input(s), got %d", max_in > 1 ? " or 2" : "",
                             n->n_inputs);
    if (n->n_outputs < 1 || !n->outputs[0])
        return sp_node_error(n, err, SP_ERR_FORMAT, "output 0 is required");
    struct red_state *s = calloc(1, sizeof *s);
    if (!s)
        return sp_node_error(n, err, SP_ERR_NOMEM, "out of memory");
    n->state = s;
    s->kind = k;
    s->axes_input = axes_input;
    st = sp_attr_int(n, "keepdims", 1, &s->keepdims, err);
    if (!st && is_arg(k)) {
        st = sp_attr_int(n, "axis", 0, &s->axis, err);
        if (!st)
            st = sp_attr_int(n, "select_last_index", 0, &s->select_last, err);
    } else if (!st) {
        st = sp_attr_int(n, "noop_with_empty_axes", 0, &s->noop, err);
        if (!st && !axes_input)
            st = sp_attr_ints(n, "axes", s->axes_attr, SP_MAX_DIMS, &s->n_axes_attr, NULL, err);
    }
    return st;
}

static void red_free(struct sp_node *n)
{
    free(n->state);
    n->state = NULL;
}

static bool dtype_ok(enum red_kind k, enum sp_dtype dt)
{
    if (dt == SP_DTYPE_FLOAT || dt == SP_DTYPE_DOUBLE)
        return true;
    if (k == RED_LSE || k == RED_L2 || k == RED_LOGSUM)
        return false;
    return dt == SP_DTYPE_INT32 || dt == SP_DTYPE_INT64 || dt == SP_DTYPE_INT8 || dt == SP_DTYPE_UINT8;
}

static enum sp_status arg_prepare(struct sp_node *n, struct red_state *s, const struct sp_tensor *x,
                                  struct sp_error *err)
{
    int axis;
    enum sp_status st = sp_axis_normalize(n, s->axis, x->ndim, &axis, err);
    if (st)
        return st;
    int64_t dims[SP_MAX_DIMS];
    int r = 0;
    s->outer = s->inner = 1;
    for (int d = 0; d < x->ndim; d++) {
        if (d < axis)
            s->outer *= x->dims[d];
        else if (d > axis)
            s->inner *= x->dims[d];
        if (d != axis || s->keepdims)
            dims[r++] = d == axis ? 1 : x->dims[d];
    }
    s->len = x->ndim ? x->dims[axis] : 1;
    if (s->len == 0 && s->outer * s->inner != 0)
        return sp_node_error(n, err, SP_ERR_MISMATCH, "cannot take the arg%s of an empty axis %d",
                             s->kind == RED_ARGMAX ? "max" : "min", axis);
    sp_node_set_out(n, 0, SP_DTYPE_INT64, r, dims);
    n->scratch_bytes = 0;
    return SP_OK;
}

static enum sp_status red_prepare(struct sp_node *n, struct sp_error *err)
{
    struct red_state *s = n->state;
    const struct sp_tensor *x = sp_node_in(n, 0);
    if (!dtype_ok(s->kind, x->dtype))
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "input has dtype %s, not supported by this operator",
                             sp_dtype_name(x->dtype));
    if (is_arg(s->kind))
        return arg_prepare(n, s, x, err);

    int64_t axes[SP_MAX_DIMS];
    int n_axes = 0;
    if (s->axes_input) {
        const struct sp_tensor *a = sp_node_in(n, 1);
        if (a) {
            if (!sp_node_in_is_const(n, 1) || !a->data)
                return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "input 'axes' must be a constant");
            enum sp_status st = sp_tensor_read_ints(n, a, "axes", axes, SP_MAX_DIMS, &n_axes, err);
            if (st)
                return st;
        }
    } else {
        n_axes = s->n_axes_attr;
        memcpy(axes, s->axes_attr, sizeof(int64_t) * (size_t)n_axes);
    }
    bool red[SP_MAX_DIMS] = {false};
    for (int i = 0; i < n_axes; i++) {
        int a;
        enum sp_status st = sp_axis_normalize(n, axes[i], x->ndim, &a, err);
        if (st)
            return st;
        if (red[a])
            return sp_node_error(n, err, SP_ERR_FORMAT, "axis %lld is listed twice", (long long)axes[i]);
        red[a] = true;
    }
    s->identity = n_axes == 0 && s->noop;
    if (n_axes == 0 && !s->noop)
        for (int d = 0; d < x->ndim; d++)
            red[d] = true;

    int64_t dims[SP_MAX_DIMS];
    int r = 0;
    s->ng = 0;
    s->out_numel = 1;
    s->count = 1;
    for (int d = 0; d < x->ndim; d++) {
        bool rd = red[d] && !s->identity;
        if (rd)
            s->count *= x->dims[d];
        else
            s->out_numel *= x->dims[d];
        if (!rd || s->keepdims)
            dims[r++] = rd ? 1 : x->dims[d];
        if (x->dims[d] == 1)
            continue;
        if (s->ng > 0 && s->greduced[s->ng - 1] == rd) {
            s->gsize[s->ng - 1] *= x->dims[d];
        } else {
            s->gsize[s->ng] = x->dims[d];
            s->greduced[s->ng] = rd;
            s->ng++;
        }
    }
    if (s->ng == 0) {
        s->gsize[0] = 1;
        s->greduced[0] = false;
        s->ng = 1;
    }
    n->scratch_bytes = s->identity ? 0 : 2 * (size_t)s->out_numel * sizeof(double);
    sp_node_set_out(n, 0, x->dtype, r, dims);
    return SP_OK;
}

/*
 * The walk, for input type T and accumulator type ACC. acc2 holds the running
 * maximum for LogSumExp (a first pass) and is otherwise unused.
 */
#define RED_IMPL(T, S, ACC, TMIN, TMAX)                                                                       \
    static void row_##S(enum red_kind k, pass_t pass, ACC *a, const ACC *m, const T *x, int64_t len,         \
                        bool reduced)                                                                         \
    {                                                                                                         \
        if (reduced) {                                                                                        \
            ACC v = *a;                                                                                       \
            switch (k) {                                                                                      \
            case RED_MEAN: case RED_SUM: case RED_LOGSUM: for (int64_t i = 0; i < len; i++) v += (ACC)x[i]; break;             \
            case RED_PROD: for (int64_t i = 0; i < len; i++) v *= (ACC)x[i]; break;                           \
            case RED_MAX: for (int64_t i = 0; i < len; i++) v = (ACC)x[i] > v ? (ACC)x[i] : v; break;         \
            case RED_MIN: for (int64_t i = 0; i < len; i++) v = (ACC)x[i] < v ? (ACC)x[i] : v; break;         \
            case RED_L1: for (int64_t i = 0; i < len; i++) v += x[i] < 0 ? -(ACC)x[i] : (ACC)x[i]; break;     \
            case RED_L2: case RED_SUMSQ: for (int64_t i = 0; i < len; i++) v += (ACC)x[i] * (ACC)x[i]; break; \
            case RED_LSE:                                                                                     \
                if (pass == 0)                                                                                \
                    for (int64_t i = 0; i < len; i++) v = (ACC)x[i] > v ? (ACC)x[i] : v;                      \
                else                                                                                          \
                    for (int64_t i = 0; i < len; i++) v += (ACC)exp((double)x[i] - (double)*m);               \
                break;                                                                                        \
            default: break;                                                                                   \
            }                                                                                                 \
            *a = v;                                                                                           \
            return;                                                                                           \
        }                                                                                                     \
        switch (k) {                                                                                          \
        case RED_MEAN: case RED_SUM: case RED_LOGSUM: for (int64_t i = 0; i < len; i++) a[i] += (ACC)x[i]; break;              \
        case RED_PROD: for (int64_t i = 0; i < len; i++) a[i] *= (ACC)x[i]; break;                            \
        case RED_MAX: for (int64_t i = 0; i < len; i++) a[i] = (ACC)x[i] > a[i] ? (ACC)x[i] : a[i]; break;    \
        case RED_MIN: for (int64_t i = 0; i < len; i++) a[i] = (ACC)x[i] < a[i] ? (ACC)x[i] : a[i]; break;    \
        case RED_L1: for (int64_t i = 0; i < len; i++) a[i] += x[i] < 0 ? -(ACC)x[i] : (ACC)x[i]; break;      \
        case RED_L2: case RED_SUMSQ: for (int64_t i = 0; i < len; i++) a[i] += (ACC)x[i] * (ACC)x[i]; break;  \
        case RED_LSE:                                                                                         \
            if (pass == 0)                                                                                    \
                for (int64_t i = 0; i < len; i++) a[i] = (ACC)x[i] > a[i] ? (ACC)x[i] : a[i];                 \
            else                                                                                              \
                for (int64_t i = 0; i < len; i++) a[i] += (ACC)exp((double)x[i] - (double)m[i]);             \
            break;                                                                                            \
        default: break;                                                                                       \
        }                                                                                                     \
    }                                                                                                         \
    static void walk_##S(const struct red_state *s, pass_t pass, ACC *acc, const ACC *m, const T *x)          \
    {                                                                                                         \
        int last = s->ng - 1;                                                                                 \
        int64_t len = s->gsize[last];                                                                         \
        bool inner_red = s->greduced[last];                                                                   \
        int64_t total = 1, ostride[SP_MAX_DIMS], idx[SP_MAX_DIMS] = {0};                                      \
        int64_t os = inner_red ? 1 : len;                                                                     \
        for (int g = last - 1; g >= 0; g--) {                                                                 \
            ostride[g] = s->greduced[g] ? 0 : os;                                                             \
            if (!s->greduced[g])                                                                              \
                os *= s->gsize[g];                                                                            \
        }                                                                                                     \
        for (int g = 0; g < last; g++)                                                                        \
            total *= s->gsize[g];                                                                             \
        int64_t off = 0;                                                                                      \
        for (int64_t r = 0; r < total; r++) {                                                                 \
            row_##S(s->kind, pass, acc + off, m + off, x + r * len, len, inner_red);                          \
            for (int g = last - 1; g >= 0; g--) {                                                             \
                if (++idx[g] < s->gsize[g]) {                                                                 \
                    off += ostride[g];                                                                        \
                    break;                                                                                    \
                }                                                                                             \
                idx[g] = 0;                                                                                   \
                off -= ostride[g] * (s->gsize[g] - 1);                                                        \
            }                                                                                                 \
        }                                                                                                     \
    }                                                                                                         \
    static void reduce_##S(const struct red_state *s, const T *x, T *y, ACC *acc, ACC *m, int64_t numel_in)   \
    {                                                                                                         \
        int64_t no = s->out_numel;                                                                            \
        ACC init = 0;                                                                                         \
        if (s->kind == RED_PROD)                                                                              \
            init = 1;                                                                                         \
        else if (s->kind == RED_MAX || s->kind == RED_LSE)                                                    \
            init = (ACC)(TMIN);                                                                               \
        else if (s->kind == RED_MIN)                                                                          \
            init = (ACC)(TMAX);                                                                               \
        for (int64_t i = 0; i < no; i++)                                                                      \
            acc[i] = init;                                                                                    \
        if (numel_in > 0)                                                                                     \
            walk_##S(s, 0, acc, acc, x);                                                                      \
        if (s->kind == RED_LSE) {                                                                             \
            for (int64_t i = 0; i < no; i++) {                                                                \
                /* An all -inf row would give -inf - -inf = NaN: shift by 0 instead. */                       \
                m[i] = isinf((double)acc[i]) ? 0 : acc[i];                                                    \
                acc[i] = 0;                                                                                   \
            }                                                                                                 \
            if (numel_in > 0)                                                                                 \
                walk_##S(s, 1, acc, m, x);                                                                    \
        }                                                                                                     \
        for (int64_t i = 0; i < no; i++) {                                                                    \
            ACC v = acc[i];                                                                                   \
            switch (s->kind) {                                                                                \
            case RED_MEAN:                                                                                    \
                v = s->count ? (ACC)(v / (ACC)s->count) : (ACC)((ACC)0.5 != 0 ? NAN : 0.0);                      \
                break;                                                                                        \
            case RED_L2: v = (ACC)sqrt((double)v); break;                                                     \
            case RED_LSE: v = (ACC)((double)m[i] + log((double)v)); break;                                    \
            case RED_LOGSUM: v = (ACC)log((double)v); break;                                                  \
            default: break;                                                                                   \
            }                                                                                                 \
            y[i] = (T)v;                                                                                      \
        }                                                                                                     \
    }

typedef int pass_t;
RED_IMPL(float, f32, double, -INFINITY, INFINITY)
RED_IMPL(double, f64, double, -INFINITY, INFINITY)
RED_IMPL(int8_t, i8, int64_t, INT8_MIN, INT8_MAX)
RED_IMPL(uint8_t, u8, int64_t, 0, UINT8_MAX)
RED_IMPL(int32_t, i32, int64_t, INT32_MIN, INT32_MAX)
RED_IMPL(int64_t, i64, int64_t, INT64_MIN, INT64_MAX)

#define ARG_IMPL(T, S)                                                                                        \
    static void arg_##S(const struct red_state *s, const T *x, int64_t *y)                                    \
    {                                                                                                         \
        bool mx = s->kind == RED_ARGMAX, last = s->select_last != 0;                                          \
        for (int64_t o = 0; o < s->outer; o++)                                                                \
            for (int64_t j = 0; j < s->inner; j++) {                                                          \
                const T *p = x + o * s->len * s->inner + j;                                                   \
                T best = p[0];                                                                                \
                int64_t bi = 0;                                                                               \
                for (int64_t i = 1; i < s->len; i++) {                                                        \
                    T v = p[i * s->inner];                                                                    \
                    bool better = mx ? (last ? v >= best : v > best) : (last ? v <= best : v < best);         \
                    if (better) {                                                                             \
                        best = v;                                                                             \
                        bi = i;                                                                               \
                    }                                                                                         \
                }                                                                                             \
                y[o * s->inner + j] = bi;                                                                     \
            }                                                                                                 \
    }
ARG_IMPL(float, f32)
ARG_IMPL(double, f64)
ARG_IMPL(int8_t, i8)
ARG_IMPL(uint8_t, u8)
ARG_IMPL(int32_t, i32)
ARG_IMPL(int64_t, i64)

static enum sp_status red_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    struct red_state *s = n->state;
    const struct sp_tensor *x = sp_node_in(n, 0);
    struct sp_tensor *y = sp_node_out(n, 0);
    if (is_arg(s->kind)) {
        if (s->len == 0)
            return SP_OK;
        switch (x->dtype) {
        case SP_DTYPE_FLOAT: arg_f32(s, x->data, y->data); break;
        case SP_DTYPE_DOUBLE: arg_f64(s, x->data, y->data); break;
        case SP_DTYPE_INT8: arg_i8(s, x->data, y->data); break;
        case SP_DTYPE_UINT8: arg_u8(s, x->data, y->data); break;
        case SP_DTYPE_INT32: arg_i32(s, x->data, y->data); break;
        default: arg_i64(s, x->data, y->data); break;
        }
        return SP_OK;
    }
    if (s->identity) {
        if (sp_tensor_nbytes(x))
            memcpy(y->data, x->data, sp_tensor_nbytes(x));
        return SP_OK;
    }
    /* An empty output has nothing to compute, and no scratch to point into. */
    if (s->out_numel == 0)
        return SP_OK;
    int64_t ni = sp_tensor_numel(x);
    /* Scratch: two accumulator arrays of out_numel 8-byte values. */
    void *acc = scratch, *m = (char *)scratch + (size_t)s->out_numel * 8;
    switch (x->dtype) {
    case SP_DTYPE_FLOAT: reduce_f32(s, x->data, y->data, acc, m, ni); break;
    case SP_DTYPE_DOUBLE: reduce_f64(s, x->data, y->data, acc, m, ni); break;
    case SP_DTYPE_INT8: reduce_i8(s, x->data, y->data, acc, m, ni); break;
    case SP_DTYPE_UINT8: reduce_u8(s, x->data, y->data, acc, m, ni); break;
    case SP_DTYPE_INT32: reduce_i32(s, x->data, y->data, acc, m, ni); break;
    default: reduce_i64(s, x->data, y->data, acc, m, ni); break;
    }
    return SP_OK;
}

#define RED_OP(Type, kind)                                                                                    \
    static enum sp_status init_##Type(struct sp_node *n, struct sp_error *err) {                              \
        enum sp_status st = red_init(n, kind, err);                                                           \
        if (st) /* the engine frees state only after a successful init */                                     \
            red_free(n);                                                                                      \
        return st;                                                                                            \
    }                                                                                                         \
    const struct sp_op sp_op_##Type = {#Type, "", 1, 18, init_##Type, red_prepare, red_run, red_free};

RED_OP(ReduceMean, RED_MEAN)
RED_OP(ReduceSum, RED_SUM)
RED_OP(ReduceMax, RED_MAX)
RED_OP(ReduceMin, RED_MIN)
RED_OP(ReduceProd, RED_PROD)
RED_OP(ReduceL1, RED_L1)
RED_OP(ReduceL2, RED_L2)
RED_OP(ReduceSumSquare, RED_SUMSQ)
RED_OP(ReduceLogSumExp, RED_LSE)
RED_OP(ArgMax, RED_ARGMAX)
RED_OP(ArgMin, RED_ARGMIN)
RED_OP(ReduceLogSum, RED_LOGSUM)
