/*
 * Activation functions: pointwise nonlinearities with scalar parameters, plus
 * PRelu (a slope broadcast onto the input; per channel at opset 6) and Clip (bounds that are attributes
 * before opset 11 and optional scalar inputs from opset 11 on).
 *
 * Kernels are instantiated for float32 and float64 from one macro each and
 * computed in the input's own precision (float math for float32, like ONNX
 * Runtime). Relu and Clip also take integer tensors, as ONNX allows since
 * opsets 14 and 12.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/attr.h"
#include "engine/op.h"
#include "engine/ops/broadcast.h"
#include "engine/ops/ew_types.h"
#include "engine/ops/vmath.h"

enum act_kind {
    ACT_RELU, ACT_LEAKY, ACT_PRELU, ACT_SIGMOID, ACT_TANH, ACT_HARDSIGMOID, ACT_HARDSWISH, ACT_CLIP, ACT_ERF,
    ACT_GELU, ACT_ELU, ACT_SELU, ACT_SOFTPLUS, ACT_SOFTSIGN, ACT_MISH, ACT_CELU, ACT_THRESHOLDED, ACT_SHRINK,
};

/* Parameters as the kernel sees them; Clip fills lo/hi per run from its inputs. */
struct act_params {
    double alpha, beta, gamma;
    int tanh_approx;       /* Gelu approximate="tanh" */
    double lo, hi;         /* Clip bounds, floating types */
    int64_t ilo, ihi;      /* Clip bounds, integer types */
};

typedef void (*act_fn)(void *o, const void *x, int64_t n, const struct act_params *p);

struct act_state {
    enum act_kind kind;
    struct act_params p;
    bool clip_attrs;       /* Clip before opset 11: bounds came from attributes */
    act_fn fn;
    void (*prelu)(void *o, const void *x, const void *slope, int64_t n, int sx, int ss);
    struct sp_bcast plan;  /* PRelu: x and slope onto x's shape */
};

#define LOOP(T, EXPR)                                                                                         \
    {                                                                                                         \
        T *o = o_;                                                                                            \
        const T *xs = x_;                                                                                     \
        (void)p;                                                                                              \
        for (int64_t i = 0; i < n; i++) {                                                                     \
            T x = xs[i];                                                                                      \
            o[i] = (T)(EXPR);                                                                                 \
        }                                                                                                     \
    }
#define KERNEL(name, T, EXPR) \
    static void name(void *o_, const void *x_, int64_t n, const struct act_params *p) LOOP(T, EXPR)

/* Softplus without overflow: log(1 + e^x) = max(x, 0) + log1p(e^-|x|). */
#define FLT_ACTS(T, S, EXP, LOG1P, TANH, ERF, FABS, SQRT)                                                     \
    static inline T clamp01_##S(T v) { return v < 0 ? 0 : v > 1 ? 1 : v; }                                   \
    KERNEL(relu_##S, T, x > 0 ? x : 0)                                                                        \
    KERNEL(leaky_##S, T, x < 0 ? (T)p->alpha * x : x)                                                         \
    KERNEL(sigmoid_##S, T, x >= 0 ? 1 / (1 + EXP(-x)) : EXP(x) / (1 + EXP(x)))                                \
    KERNEL(tanh_##S, T, TANH(x))                                                                              \
    KERNEL(hardsigmoid_##S, T, clamp01_##S((T)p->alpha * x + (T)p->beta))                                \
    KERNEL(hardswish_##S, T, x * clamp01_##S(x * (T)(1.0 / 6.0) + (T)0.5))                                \
    KERNEL(clip_##S, T, x < (T)p->lo ? (T)p->lo : (x > (T)p->hi ? (T)p->hi : x))                              \
    KERNEL(erf_##S, T, ERF(x))                                                                                \
    KERNEL(gelu_##S, T,                                                                                       \
           p->tanh_approx                                                                                     \
               ? (T)0.5 * x * (1 + TANH((T)0.7978845608028654 * (x + (T)0.044715 * x * x * x)))               \
               : (T)0.5 * x * (1 + ERF(x * (T)0.70710678118654752440)))                                       \
    KERNEL(elu_##S, T, x > 0 ? x : (T)p->alpha * (EXP(x) - 1))                                                \
    KERNEL(selu_##S, T, (T)p->gamma * (x > 0 ? x : (T)p->alpha * (EXP(x) - 1)))                               \
    KERNEL(softplus_##S, T, (x > 0 ? x : 0) + LOG1P(EXP(-FABS(x))))                                           \
    KERNEL(softsign_##S, T, x / (1 + FABS(x)))                                                                \
    KERNEL(mish_##S, T, x * TANH((x > 0 ? x : 0) + LOG1P(EXP(-FABS(x)))))                                     \
    KERNEL(celu_##S, T, (x > 0 ? x : 0) + (x < 0 ? (T)p->alpha * (EXP(x / (T)p->alpha) - 1) : 0))            \
    KERNEL(thresholded_##S, T, x > (T)p->alpha ? x : 0)                                                       \
    KERNEL(shrink_##S, T, x < -(T)p->alpha ? x + (T)p->beta : x > (T)p->alpha ? x - (T)p->beta : 0)          \
    static void prelu_##S(void *o_, const void *x_, const void *s_, int64_t n, int sx, int ss)                \
    {                                                                                                         \
        T *o = o_;                                                                                            \
        const T *x = x_, *sl = s_;                                                                            \
        for (int64_t i = 0; i < n; i++) {                                                                     \
            T v = x[i * sx];                                                                                  \
            o[i] = v < 0 ? sl[i * ss] * v : v;                                                                \
        }                                                                                                     \
    }
/* float: exp and erf from vmath.h, so these loops vectorize. */
FLT_ACTS(float, f32, sp_vexpf, log1pf, tanhf, sp_verff, fabsf, sqrtf)
FLT_ACTS(double, f64, exp, log1p, tanh, erf, fabs, sqrt)

#define INT_ACTS(T, S, UT)                                                                                    \
    KERNEL(relu_##S, T, x > 0 ? x : 0)                                                                        \
    KERNEL(clip_##S, T, (int64_t)x < p->ilo ? (T)p->ilo : ((int64_t)x > p->ihi ? (T)p->ihi : x))
SP_SINT_TYPES(INT_ACTS)
/* uint8 (Clip allows it): every value fits in int64, the bounds' type. */
KERNEL(clip_u8, uint8_t, (int64_t)x < p->ilo ? (uint8_t)p->ilo : ((int64_t)x > p->ihi ? (uint8_t)p->ihi : x))

static act_fn pick(enum act_kind k, enum sp_dtype dt)
{
#define BOTH(name) return dt == SP_DTYPE_FLOAT ? name##_f32 : dt == SP_DTYPE_DOUBLE ? name##_f64 : NULL
    switch (k) {
    case ACT_RELU:
        switch (dt) {
        case SP_DTYPE_INT8: return relu_i8;
        case SP_DTYPE_INT16: return relu_i16;
        case SP_DTYPE_INT32: return relu_i32;
        case SP_DTYPE_INT64: return relu_i64;
        default: BOTH(relu);
        }
    case ACT_CLIP:
        switch (dt) {
        case SP_DTYPE_INT8: return clip_i8;
        case SP_DTYPE_UINT8: return clip_u8;
        case SP_DTYPE_INT16: return clip_i16;
        case SP_DTYPE_INT32: return clip_i32;
        case SP_DTYPE_INT64: return clip_i64;
        default: BOTH(clip);
        }
    case ACT_LEAKY: BOTH(leaky);
    case ACT_SIGMOID: BOTH(sigmoid);
    case ACT_TANH: BOTH(tanh);
    case ACT_HARDSIGMOID: BOTH(hardsigmoid);
    case ACT_HARDSWISH: BOTH(hardswish);
    case ACT_ERF: BOTH(erf);
    case ACT_GELU: BOTH(gelu);
    case ACT_ELU: BOTH(elu);
    case ACT_SELU: BOTH(selu);
    case ACT_SOFTPLUS: BOTH(softplus);
    case ACT_SOFTSIGN: BOTH(softsign);
    case ACT_MISH: BOTH(mish);
    case ACT_CELU: BOTH(celu);
    case ACT_THRESHOLDED: BOTH(thresholded);
    case ACT_SHRINK: BOTH(shrink);
    default: return NULL;
    }
#undef BOTH
}

static enum sp_status act_init(struct sp_node *n, enum act_kind k, struct sp_error *err)
{
    static const char *const none[] = {NULL};
    static const char *const alpha[] = {"alpha", NULL};
    static const char *const alpha_beta[] = {"alpha", "beta", NULL};
    static const char *const selu[] = {"alpha", "gamma", NULL};
    static const char *const clip_old[] = {"min", "max", NULL};
    static const char *const gelu[] = {"approximate", NULL};
    static const char *const shrink[] = {"lambd", "bias", NULL};
    const char *const *known = none;
    switch (k) {
    case ACT_LEAKY: case ACT_ELU: case ACT_CELU: case ACT_THRESHOLDED: known = alpha; break;
    case ACT_SHRINK: known = shrink; break;
    case ACT_HARDSIGMOID: known = alpha_beta; break;
    case ACT_SELU: known = selu; break;
    case ACT_CLIP: known = n->opset < 11 ? clip_old : none; break;
    case ACT_GELU: known = gelu; break;
    default: break;
    }
    enum sp_status st = sp_attr_check_known(n, known, err);
    if (st)
        return st;
    int max_in = k == ACT_PRELU ? 2 : (k == ACT_CLIP && n->opset >= 11) ? 3 : 1;
    int min_in = k == ACT_PRELU ? 2 : 1;
    if (n->n_inputs < min_in || n->n_inputs > max_in)
        return sp_node_error(n, err, SP_ERR_FORMAT, "expects %d to %d inputs, got %d", min_in, max_in, n->n_inputs);
    for (int i = 0; i < min_in; i++)
        if (!n->inputs[i])
            return sp_node_error(n, err, SP_ERR_FORMAT, "input %d is required but omitted", i);
    if (n->n_outputs < 1 || !n->outputs[0])
        return sp_node_error(n, err, SP_ERR_FORMAT, "output 0 is required");

    struct act_state *s = calloc(1, sizeof *s);
    if (!s)
        return sp_node_error(n, err, SP_ERR_NOMEM, "out of memory");
    n->state = s;
    s->kind = k;
    float a = 0, b = 0, g = 0;
    switch (k) {
    case ACT_LEAKY: st = sp_attr_float(n, "alpha", 0.01f, &a, err); break;
    case ACT_ELU: case ACT_THRESHOLDED: st = sp_attr_float(n, "alpha", 1.0f, &a, err); break;
    case ACT_CELU:
        st = sp_attr_float(n, "alpha", 1.0f, &a, err);
        if (!st && a == 0)
            st = sp_node_error(n, err, SP_ERR_FORMAT, "attribute 'alpha' must not be 0 (it divides x)");
        break;
    case ACT_SHRINK:
        /* alpha holds lambd and beta the bias. */
        st = sp_attr_float(n, "lambd", 0.5f, &a, err);
        if (!st)
            st = sp_attr_float(n, "bias", 0.0f, &b, err);
        break;
    case ACT_HARDSIGMOID:
        st = sp_attr_float(n, "alpha", 0.2f, &a, err);
        if (!st)
            st = sp_attr_float(n, "beta", 0.5f, &b, err);
        break;
    case ACT_SELU:
        st = sp_attr_float(n, "alpha", 1.67326319217681884765625f, &a, err);
        if (!st)
            st = sp_attr_float(n, "gamma", 1.05070102214813232421875f, &g, err);
        break;
    case ACT_CLIP:
        if (n->opset < 11) {
            float lo = -FLT_MAX, hi = FLT_MAX;
            s->clip_attrs = true;
            st = sp_attr_float(n, "min", -FLT_MAX, &lo, err);
            if (!st)
                st = sp_attr_float(n, "max", FLT_MAX, &hi, err);
            s->p.lo = lo;
            s->p.hi = hi;
        }
        break;
    case ACT_GELU: {
        char buf[16] = ""; /* stays a string when the attribute is refused */
        st = sp_attr_string(n, "approximate", "none", buf, sizeof buf, err);
        if (!st && strcmp(buf, "none") != 0 && strcmp(buf, "tanh") != 0)
            st = sp_node_error(n, err, SP_ERR_UNSUPPORTED, "attribute 'approximate' must be \"none\" or \"tanh\", got \"%s\"",
                               buf);
        s->p.tanh_approx = strcmp(buf, "tanh") == 0;
        break;
    }
    default: break;
    }
    s->p.alpha = a;
    s->p.beta = b;
    s->p.gamma = g;
    return st;
}

static void act_free(struct sp_node *n)
{
    free(n->state);
    n->state = NULL;
}

static enum sp_status act_prepare(struct sp_node *n, struct sp_error *err)
{
    struct act_state *s = n->state;
    const struct sp_tensor *x = sp_node_in(n, 0);
    enum sp_dtype dt = x->dtype;
    n->scratch_bytes = 0;
    if (s->kind == ACT_PRELU) {
        const struct sp_tensor *sl = sp_node_in(n, 1);
        if (sl->dtype != dt)
            return sp_node_error(n, err, SP_ERR_FORMAT, "slope is %s but X is %s: they must match",
                                 sp_dtype_name(sl->dtype), sp_dtype_name(dt));
        if (dt != SP_DTYPE_FLOAT && dt != SP_DTYPE_DOUBLE)
            return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "X has dtype %s; float32 and float64 are supported",
                                 sp_dtype_name(dt));
        int s_ndim = sl->ndim;
        int64_t s_dims[SP_MAX_DIMS];
        for (int d = 0; d < sl->ndim; d++)
            s_dims[d] = sl->dims[d];
        if (n->opset < 7 && sl->ndim == 1 && x->ndim >= 2 && sl->dims[0] == x->dims[1] && sl->dims[0] != 1) {
            /* Opset 6 predates numpy broadcasting: a 1-D slope of C values is
             * per channel (axis 1), as PyTorch's old PReLU exports assume. */
            s_ndim = x->ndim - 1;
            for (int d = 0; d < s_ndim; d++)
                s_dims[d] = d == 0 ? sl->dims[0] : 1;
        }
        if (!sp_broadcast_to(s_ndim, s_dims, x->ndim, x->dims)) {
            char a[96], b[96];
            return sp_node_error(n, err, SP_ERR_MISMATCH, "slope shape %s does not broadcast to X shape %s",
                                 sp_shape_str(sl->ndim, sl->dims, a, sizeof a), sp_shape_str(x->ndim, x->dims, b, sizeof b));
        }
        sp_bcast_plan(&s->plan, 2, (const int[]){x->ndim, s_ndim}, (const int64_t *const[]){x->dims, s_dims},
                      x->ndim, x->dims);
        s->prelu = dt == SP_DTYPE_FLOAT ? prelu_f32 : prelu_f64;
        sp_node_set_out(n, 0, dt, x->ndim, x->dims);
        return SP_OK;
    }
    s->fn = pick(s->kind, dt);
    if (!s->fn)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "X has dtype %s, not supported by this operator%s",
                             sp_dtype_name(dt), dt == SP_DTYPE_FLOAT16 ? " (float16 is not supported)" : "");
    if (s->kind == ACT_CLIP && !s->clip_attrs) {
        for (int i = 1; i < 3; i++) {
            const struct sp_tensor *b = sp_node_in(n, i);
            if (!b)
                continue;
            if (b->dtype != dt)
                return sp_node_error(n, err, SP_ERR_FORMAT, "%s is %s but X is %s: they must match",
                                     i == 1 ? "min" : "max", sp_dtype_name(b->dtype), sp_dtype_name(dt));
            if (sp_tensor_numel(b) != 1)
                return sp_node_error(n, err, SP_ERR_FORMAT, "%s must be a scalar, got %lld values",
                                     i == 1 ? "min" : "max", (long long)sp_tensor_numel(b));
        }
    } else if (s->kind == ACT_CLIP && dt != SP_DTYPE_FLOAT && dt != SP_DTYPE_DOUBLE) {
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "X has dtype %s; before opset 11 Clip is float only",
                             sp_dtype_name(dt));
    }
    sp_node_set_out(n, 0, dt, x->ndim, x->dims);
    return SP_OK;
}

struct prelu_ctx {
    const struct act_state *s;
    char *o;
    const char *x, *sl;
    size_t es;
};

static void prelu_row(void *c_, int64_t out_off, const int64_t *in_off, const int *in_step, int64_t len)
{
    struct prelu_ctx *c = c_;
    int64_t es = (int64_t)c->es;
    c->s->prelu(c->o + out_off * es, c->x + in_off[0] * es, c->sl + in_off[1] * es, len, in_step[0], in_step[1]);
}

static enum sp_status act_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    struct act_state *s = n->state;
    const struct sp_tensor *x = sp_node_in(n, 0);
    struct sp_tensor *y = sp_node_out(n, 0);
    if (s->kind == ACT_PRELU) {
        struct prelu_ctx c = {s, y->data, x->data, sp_node_in(n, 1)->data, sp_dtype_size(x->dtype)};
        sp_bcast_for_each(&s->plan, prelu_row, &c);
        return SP_OK;
    }
    struct act_params p = s->p;
    if (s->kind == ACT_CLIP && !s->clip_attrs) {
        /* Omitted bounds are the type's extremes. */
        const struct sp_tensor *lo = sp_node_in(n, 1), *hi = sp_node_in(n, 2);
        p.lo = lo ? sp_load_f64(x->dtype, lo->data, 0) : -INFINITY;
        p.hi = hi ? sp_load_f64(x->dtype, hi->data, 0) : INFINITY;
        p.ilo = lo ? sp_load_i64(x->dtype, lo->data, 0) : INT64_MIN;
        p.ihi = hi ? sp_load_i64(x->dtype, hi->data, 0) : INT64_MAX;
        /* min > max: every value becomes max (ONNX). */
        if (p.lo > p.hi)
            p.lo = p.hi;
        if (p.ilo > p.ihi)
            p.ilo = p.ihi;
    }
    s->fn(y->data, x->data, sp_tensor_numel(y), &p);
    return SP_OK;
}

#define ACT_OP(Type, kind, omin, omax)                                                                        \
    static enum sp_status init_##Type(struct sp_node *n, struct sp_error *err) {                              \
        enum sp_status st = act_init(n, kind, err);                                                           \
        if (st) /* the engine frees state only after a successful init */                                     \
            act_free(n);                                                                                      \
        return st;                                                                                            \
    }                                                                                                         \
    const struct sp_op sp_op_##Type = {#Type, "", omin, omax, init_##Type, act_prepare, act_run, act_free};

ACT_OP(Relu, ACT_RELU, 6, 18)
ACT_OP(LeakyRelu, ACT_LEAKY, 6, 18)
ACT_OP(PRelu, ACT_PRELU, 6, 18)
ACT_OP(Sigmoid, ACT_SIGMOID, 6, 18)
ACT_OP(Tanh, ACT_TANH, 6, 18)
ACT_OP(HardSigmoid, ACT_HARDSIGMOID, 6, 18)
ACT_OP(HardSwish, ACT_HARDSWISH, 14, 18)
ACT_OP(Clip, ACT_CLIP, 6, 18)
ACT_OP(Erf, ACT_ERF, 9, 18)
/* Gelu entered the default domain in opset 20; older models spell it out with Erf. */
ACT_OP(Gelu, ACT_GELU, 20, 20)
ACT_OP(Elu, ACT_ELU, 6, 18)
ACT_OP(Selu, ACT_SELU, 6, 18)
ACT_OP(Softplus, ACT_SOFTPLUS, 1, 18)
ACT_OP(Softsign, ACT_SOFTSIGN, 1, 18)
ACT_OP(Mish, ACT_MISH, 18, 18)
ACT_OP(Celu, ACT_CELU, 12, 18)
ACT_OP(ThresholdedRelu, ACT_THRESHOLDED, 10, 18)
ACT_OP(Shrink, ACT_SHRINK, 9, 18)
