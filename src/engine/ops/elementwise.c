/*
 * Elementwise operators: binary arithmetic, comparison and logic with numpy
 * broadcasting, the variadic Min/Max/Sum/Mean, Where, and unary math.
 *
 * Every op shares one state and one prepare/run pair, keyed by an op code. The
 * kernel (a function specialised on op and dtype) is chosen in prepare, so run
 * is a broadcast walk calling it once per innermost row (see broadcast.h for
 * why that alone gives the same-shape, scalar and bias fast paths).
 *
 * Integer arithmetic wraps like ONNX Runtime rather than invoking C's undefined
 * behaviour on overflow; integer division or modulo by zero yields 0, and
 * INT_MIN / -1 wraps to INT_MIN, so hostile data cannot crash the process.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/attr.h"
#include "engine/op.h"
#include "engine/ops/broadcast.h"
#include "engine/ops/ew_types.h"

enum ew_op {
    /* binary, broadcast */
    EW_ADD, EW_SUB, EW_MUL, EW_DIV, EW_POW, EW_MOD, EW_EQ, EW_LT, EW_LE, EW_GT, EW_GE, EW_AND, EW_OR, EW_XOR,
    /* variadic, broadcast */
    EW_MIN, EW_MAX, EW_SUM, EW_MEAN,
    /* ternary */
    EW_WHERE,
    /* unary */
    EW_SQRT, EW_EXP, EW_LOG, EW_NEG, EW_ABS, EW_RECIP, EW_FLOOR, EW_CEIL, EW_ROUND, EW_SIGN, EW_SIN, EW_COS,
    EW_NOT, EW_ISNAN, EW_ISINF,
    /* trigonometric and hyperbolic (unary, float) */
    EW_TAN, EW_ASIN, EW_ACOS, EW_ATAN, EW_SINH, EW_COSH, EW_ASINH, EW_ACOSH, EW_ATANH,
};

struct ew_state;
typedef void (*bin_fn)(void *o, const void *a, const void *b, int64_t n, int sa, int sb, const struct ew_state *s);
typedef void (*un_fn)(void *o, const void *a, int64_t n, const struct ew_state *s);

struct ew_state {
    enum ew_op op;
    int64_t fmod;                  /* Mod */
    int64_t detect_pos, detect_neg; /* IsInf */
    bool legacy;                   /* opset 6 Add/Sub/Mul/Div/Pow: `broadcast`/`axis` attributes */
    int64_t legacy_bcast, legacy_axis;
    bool legacy_axis_set;
    enum sp_dtype a_dt, b_dt, out_dt;
    bin_fn bin;                    /* binary/variadic kernel */
    un_fn un;                      /* unary kernel */
    int n_plans;
    struct sp_bcast plans[];       /* one per binary step (n_inputs - 1), or one for Where */
};

/* ---- binary kernels ------------------------------------------------------- */

#define BIN_BODY(TO, T, U, EXPR)                                                                              \
    TO *o = o_;                                                                                               \
    const T *a = a_;                                                                                          \
    const U *b = b_;                                                                                          \
    (void)s;                                                                                                  \
    if (sa && sb) {                                                                                           \
        for (int64_t i = 0; i < n; i++) {                                                                     \
            T x = a[i];                                                                                       \
            U y = b[i];                                                                                       \
            (void)x, (void)y;                                                                                 \
            o[i] = (TO)(EXPR);                                                                                \
        }                                                                                                     \
    } else if (sa) {                                                                                          \
        U y = b[0];                                                                                           \
        for (int64_t i = 0; i < n; i++) {                                                                     \
            T x = a[i];                                                                                       \
            (void)x, (void)y;                                                                                 \
            o[i] = (TO)(EXPR);                                                                                \
        }                                                                                                     \
    } else if (sb) {                                                                                          \
        T x = a[0];                                                                                           \
        for (int64_t i = 0; i < n; i++) {                                                                     \
            U y = b[i];                                                                                       \
            (void)x, (void)y;                                                                                 \
            o[i] = (TO)(EXPR);                                                                                \
        }                                                                                                     \
    } else {                                                                                                  \
        T x = a[0];                                                                                           \
        U y = b[0];                                                                                           \
        (void)x, (void)y;                                                                                     \
        TO v = (TO)(EXPR);                                                                                    \
        for (int64_t i = 0; i < n; i++)                                                                       \
            o[i] = v;                                                                                         \
    }

#define BIN_KERNEL(name, TO, T, U, EXPR)                                                                      \
    static void name(void *o_, const void *a_, const void *b_, int64_t n, int sa, int sb,                     \
                     const struct ew_state *s)                                                                \
    {                                                                                                         \
        BIN_BODY(TO, T, U, EXPR)                                                                              \
    }

/* Integer helpers: defined results for division by zero and INT_MIN / -1. */
#define SINT_HELPERS(T, S, UT)                                                                                \
    static inline T idiv_##S(T x, T y)                                                                        \
    {                                                                                                         \
        if (y == 0)                                                                                           \
            return 0;                                                                                         \
        if (y == -1)                                                                                          \
            return (T)(0 - (UT)x);                                                                            \
        return (T)(x / y);                                                                                    \
    }                                                                                                         \
    static inline T ifmod_##S(T x, T y)                                                                       \
    {                                                                                                         \
        if (y == 0 || y == -1)                                                                                \
            return 0;                                                                                         \
        return (T)(x % y);                                                                                    \
    }                                                                                                         \
    static inline T imod_##S(T x, T y)                                                                        \
    {                                                                                                         \
        T r = ifmod_##S(x, y);                                                                                \
        if (r != 0 && ((r < 0) != (y < 0)))                                                                   \
            r = (T)(r + y);                                                                                   \
        return r;                                                                                             \
    }
#define UINT_HELPERS(T, S, UT)                                                                                \
    static inline T idiv_##S(T x, T y) { return y ? (T)(x / y) : 0; }                                         \
    static inline T ifmod_##S(T x, T y) { return y ? (T)(x % y) : 0; }                                        \
    static inline T imod_##S(T x, T y) { return y ? (T)(x % y) : 0; }
SP_SINT_TYPES(SINT_HELPERS)
SP_UINT_TYPES(UINT_HELPERS)

#define INT_KERNELS(T, S, UT)                                                                                 \
    BIN_KERNEL(add_##S, T, T, T, (UT)x + (UT)y)                                                               \
    BIN_KERNEL(sub_##S, T, T, T, (UT)x - (UT)y)                                                               \
    BIN_KERNEL(mul_##S, T, T, T, (UT)x * (UT)y)                                                               \
    BIN_KERNEL(div_##S, T, T, T, idiv_##S(x, y))                                                              \
    BIN_KERNEL(mod_##S, T, T, T, imod_##S(x, y))                                                              \
    BIN_KERNEL(fmod_##S, T, T, T, ifmod_##S(x, y))                                                            \
    BIN_KERNEL(min_##S, T, T, T, x < y ? x : y)                                                               \
    BIN_KERNEL(max_##S, T, T, T, x > y ? x : y)                                                               \
    BIN_KERNEL(eq_##S, uint8_t, T, T, x == y)                                                                 \
    BIN_KERNEL(lt_##S, uint8_t, T, T, x < y)                                                                  \
    BIN_KERNEL(le_##S, uint8_t, T, T, x <= y)                                                                 \
    BIN_KERNEL(gt_##S, uint8_t, T, T, x > y)                                                                  \
    BIN_KERNEL(ge_##S, uint8_t, T, T, x >= y)
SP_INT_TYPES(INT_KERNELS)

/* Python-style modulo for floats (sign of the divisor), used when fmod=0. */
static inline double flt_pymod(double x, double y)
{
    double r = fmod(x, y);
    if (r != 0 && ((r < 0) != (y < 0)))
        r += y;
    return r;
}

/* Min/Max propagate NaN like numpy's minimum/maximum. */
#define FLT_KERNELS(T, S)                                                                                     \
    BIN_KERNEL(add_##S, T, T, T, x + y)                                                                       \
    BIN_KERNEL(sub_##S, T, T, T, x - y)                                                                       \
    BIN_KERNEL(mul_##S, T, T, T, x * y)                                                                       \
    BIN_KERNEL(div_##S, T, T, T, x / y)                                                                       \
    BIN_KERNEL(mod_##S, T, T, T, flt_pymod(x, y))                                                             \
    BIN_KERNEL(fmod_##S, T, T, T, fmod(x, y))                                                                 \
    BIN_KERNEL(min_##S, T, T, T, (x < y || x != x) ? x : y)                                                   \
    BIN_KERNEL(max_##S, T, T, T, (x > y || x != x) ? x : y)                                                   \
    BIN_KERNEL(eq_##S, uint8_t, T, T, x == y)                                                                 \
    BIN_KERNEL(lt_##S, uint8_t, T, T, x < y)                                                                  \
    BIN_KERNEL(le_##S, uint8_t, T, T, x <= y)                                                                 \
    BIN_KERNEL(gt_##S, uint8_t, T, T, x > y)                                                                  \
    BIN_KERNEL(ge_##S, uint8_t, T, T, x >= y)
SP_FLT_TYPES(FLT_KERNELS)

BIN_KERNEL(pow_f32, float, float, float, powf(x, y))
BIN_KERNEL(pow_f64, double, double, double, pow(x, y))
BIN_KERNEL(pow_f32_sq, float, float, float, x * x)
BIN_KERNEL(pow_f32_cube, float, float, float, x * x * x)
BIN_KERNEL(pow_f32_sqrt, float, float, float, sqrtf(x))
BIN_KERNEL(pow_f32_one, float, float, float, x)

BIN_KERNEL(eq_b, uint8_t, uint8_t, uint8_t, (x != 0) == (y != 0))
BIN_KERNEL(and_b, uint8_t, uint8_t, uint8_t, (x != 0) & (y != 0))
BIN_KERNEL(or_b, uint8_t, uint8_t, uint8_t, (x != 0) | (y != 0))
BIN_KERNEL(xor_b, uint8_t, uint8_t, uint8_t, (x != 0) ^ (y != 0))

/* Integer power by squaring, wrapping like the integer type would. */
static int64_t ipow(int64_t x, int64_t e)
{
    if (e < 0)
        return x == 1 ? 1 : x == -1 ? ((e & 1) ? -1 : 1) : 0;
    uint64_t r = 1, b = (uint64_t)x;
    while (e) {
        if (e & 1)
            r *= b;
        b *= b;
        e >>= 1;
    }
    return (int64_t)r;
}

/* Pow with any supported base/exponent pair (opset 12 allows mixed types). The
 * result has the base's type; integer ** integer is exact. */
static void pow_generic(void *o, const void *a, const void *b, int64_t n, int sa, int sb, const struct ew_state *s)
{
    bool int_base = sp_dtype_is_int(s->a_dt), int_exp = sp_dtype_is_int(s->b_dt);
    for (int64_t i = 0; i < n; i++) {
        int64_t ia = sa ? i : 0, ib = sb ? i : 0;
        if (int_base && int_exp)
            sp_store_i64(s->out_dt, o, i, ipow(sp_load_i64(s->a_dt, a, ia), sp_load_i64(s->b_dt, b, ib)));
        else
            sp_store_f64(s->out_dt, o, i, pow(sp_load_f64(s->a_dt, a, ia), sp_load_f64(s->b_dt, b, ib)));
    }
}

#define PASTE_(a, b) a##_##b
#define PASTE(a, b) PASTE_(a, b)
#define ENTRY(T, S, ...) [DT_##S] = PASTE(NAME, S),
#define TABLE(tname)                                                                                          \
    static const bin_fn tname[SP_DT_TABLE_SIZE] = {SP_INT_TYPES(ENTRY) SP_FLT_TYPES(ENTRY)};
#define NAME add
TABLE(k_add)
#undef NAME
#define NAME sub
TABLE(k_sub)
#undef NAME
#define NAME mul
TABLE(k_mul)
#undef NAME
#define NAME div
TABLE(k_div)
#undef NAME
#define NAME mod
TABLE(k_mod)
#undef NAME
#define NAME fmod
TABLE(k_fmod)
#undef NAME
#define NAME min
TABLE(k_min)
#undef NAME
#define NAME max
TABLE(k_max)
#undef NAME
#define NAME lt
TABLE(k_lt)
#undef NAME
#define NAME le
TABLE(k_le)
#undef NAME
#define NAME gt
TABLE(k_gt)
#undef NAME
#define NAME ge
TABLE(k_ge)
#undef NAME
#define NAME eq
static const bin_fn k_eq[SP_DT_TABLE_SIZE] = {SP_INT_TYPES(ENTRY) SP_FLT_TYPES(ENTRY)[SP_DTYPE_BOOL] = eq_b};
#undef NAME

/* ---- unary kernels ------------------------------------------------------------ */

#define UN_KERNEL(name, TO, T, EXPR)                                                                          \
    static void name(void *o_, const void *a_, int64_t n, const struct ew_state *s)                          \
    {                                                                                                         \
        TO *o = o_;                                                                                           \
        const T *a = a_;                                                                                      \
        (void)s;                                                                                              \
        for (int64_t i = 0; i < n; i++) {                                                                     \
            T x = a[i];                                                                                       \
            o[i] = (TO)(EXPR);                                                                                \
        }                                                                                                     \
    }

UN_KERNEL(sqrt_f32, float, float, sqrtf(x))
UN_KERNEL(sqrt_f64, double, double, sqrt(x))
UN_KERNEL(exp_f32, float, float, expf(x))
UN_KERNEL(exp_f64, double, double, exp(x))
UN_KERNEL(log_f32, float, float, logf(x))
UN_KERNEL(log_f64, double, double, log(x))
UN_KERNEL(recip_f32, float, float, 1.0f / x)
UN_KERNEL(recip_f64, double, double, 1.0 / x)
UN_KERNEL(floor_f32, float, float, floorf(x))
UN_KERNEL(floor_f64, double, double, floor(x))
UN_KERNEL(ceil_f32, float, float, ceilf(x))
UN_KERNEL(ceil_f64, double, double, ceil(x))
/* nearbyint rounds half to even under the default rounding mode, as ONNX wants. */
UN_KERNEL(round_f32, float, float, nearbyintf(x))
UN_KERNEL(round_f64, double, double, nearbyint(x))
UN_KERNEL(sin_f32, float, float, sinf(x))
UN_KERNEL(sin_f64, double, double, sin(x))
UN_KERNEL(cos_f32, float, float, cosf(x))
UN_KERNEL(cos_f64, double, double, cos(x))
UN_KERNEL(isnan_f32, uint8_t, float, isnan(x) != 0)
UN_KERNEL(isnan_f64, uint8_t, double, isnan(x) != 0)
UN_KERNEL(isinf_f32, uint8_t, float, isinf(x) && ((x > 0) ? s->detect_pos : s->detect_neg))
UN_KERNEL(isinf_f64, uint8_t, double, isinf(x) && ((x > 0) ? s->detect_pos : s->detect_neg))
UN_KERNEL(not_b, uint8_t, uint8_t, x == 0)
UN_KERNEL(tan_f32, float, float, tanf(x))
UN_KERNEL(tan_f64, double, double, tan(x))
UN_KERNEL(asin_f32, float, float, asinf(x))
UN_KERNEL(asin_f64, double, double, asin(x))
UN_KERNEL(acos_f32, float, float, acosf(x))
UN_KERNEL(acos_f64, double, double, acos(x))
UN_KERNEL(atan_f32, float, float, atanf(x))
UN_KERNEL(atan_f64, double, double, atan(x))
UN_KERNEL(sinh_f32, float, float, sinhf(x))
UN_KERNEL(sinh_f64, double, double, sinh(x))
UN_KERNEL(cosh_f32, float, float, coshf(x))
UN_KERNEL(cosh_f64, double, double, cosh(x))
UN_KERNEL(asinh_f32, float, float, asinhf(x))
UN_KERNEL(asinh_f64, double, double, asinh(x))
UN_KERNEL(acosh_f32, float, float, acoshf(x))
UN_KERNEL(acosh_f64, double, double, acosh(x))
UN_KERNEL(atanh_f32, float, float, atanhf(x))
UN_KERNEL(atanh_f64, double, double, atanh(x))

#define FLT_UN(T, S)                                                                                          \
    UN_KERNEL(neg_##S, T, T, -x)                                                                              \
    UN_KERNEL(abs_##S, T, T, fabs(x))                                                                         \
    UN_KERNEL(sign_##S, T, T, x > 0 ? 1 : x < 0 ? -1 : x)
SP_FLT_TYPES(FLT_UN)
#define SINT_UN(T, S, UT)                                                                                     \
    UN_KERNEL(neg_##S, T, T, 0 - (UT)x)                                                                       \
    UN_KERNEL(abs_##S, T, T, x < 0 ? 0 - (UT)x : (UT)x)                                                       \
    UN_KERNEL(sign_##S, T, T, x > 0 ? 1 : x < 0 ? -1 : 0)
SP_SINT_TYPES(SINT_UN)
#define UINT_UN(T, S, UT)                                                                                     \
    UN_KERNEL(neg_##S, T, T, 0 - (UT)x)                                                                       \
    UN_KERNEL(abs_##S, T, T, x)                                                                               \
    UN_KERNEL(sign_##S, T, T, x > 0)
SP_UINT_TYPES(UINT_UN)

#define UENTRY(T, S, ...) [DT_##S] = PASTE(NAME, S),
#define NAME neg
static const un_fn k_neg[SP_DT_TABLE_SIZE] = {SP_INT_TYPES(UENTRY) SP_FLT_TYPES(UENTRY)};
#undef NAME
#define NAME abs
static const un_fn k_abs[SP_DT_TABLE_SIZE] = {SP_INT_TYPES(UENTRY) SP_FLT_TYPES(UENTRY)};
#undef NAME
#define NAME sign
static const un_fn k_sign[SP_DT_TABLE_SIZE] = {SP_INT_TYPES(UENTRY) SP_FLT_TYPES(UENTRY)};
#undef NAME
#define FLT_TABLE(op) static const un_fn k_##op[SP_DT_TABLE_SIZE] = {[SP_DTYPE_FLOAT] = op##_f32, [SP_DTYPE_DOUBLE] = op##_f64};
FLT_TABLE(sqrt)
FLT_TABLE(exp)
FLT_TABLE(log)
FLT_TABLE(recip)
FLT_TABLE(floor)
FLT_TABLE(ceil)
FLT_TABLE(round)
FLT_TABLE(sin)
FLT_TABLE(cos)
FLT_TABLE(isnan)
FLT_TABLE(isinf)
FLT_TABLE(tan)
FLT_TABLE(asin)
FLT_TABLE(acos)
FLT_TABLE(atan)
FLT_TABLE(sinh)
FLT_TABLE(cosh)
FLT_TABLE(asinh)
FLT_TABLE(acosh)
FLT_TABLE(atanh)

/* ---- op descriptions ---------------------------------------------------------- */

static bool is_binary(enum ew_op op) { return op <= EW_XOR; }
static bool is_variadic(enum ew_op op) { return op >= EW_MIN && op <= EW_MEAN; }
static bool is_unary(enum ew_op op) { return op >= EW_SQRT; }

static const bin_fn *bin_table(enum ew_op op, int64_t fmod)
{
    switch (op) {
    case EW_ADD: case EW_SUM: case EW_MEAN: return k_add;
    case EW_SUB: return k_sub;
    case EW_MUL: return k_mul;
    case EW_DIV: return k_div;
    case EW_MOD: return fmod ? k_fmod : k_mod;
    case EW_MIN: return k_min;
    case EW_MAX: return k_max;
    case EW_EQ: return k_eq;
    case EW_LT: return k_lt;
    case EW_LE: return k_le;
    case EW_GT: return k_gt;
    case EW_GE: return k_ge;
    default: return NULL;
    }
}

static const un_fn *un_table(enum ew_op op)
{
    switch (op) {
    case EW_SQRT: return k_sqrt;
    case EW_EXP: return k_exp;
    case EW_LOG: return k_log;
    case EW_NEG: return k_neg;
    case EW_ABS: return k_abs;
    case EW_RECIP: return k_recip;
    case EW_FLOOR: return k_floor;
    case EW_CEIL: return k_ceil;
    case EW_ROUND: return k_round;
    case EW_SIGN: return k_sign;
    case EW_SIN: return k_sin;
    case EW_COS: return k_cos;
    case EW_ISNAN: return k_isnan;
    case EW_ISINF: return k_isinf;
    case EW_TAN: return k_tan;
    case EW_ASIN: return k_asin;
    case EW_ACOS: return k_acos;
    case EW_ATAN: return k_atan;
    case EW_SINH: return k_sinh;
    case EW_COSH: return k_cosh;
    case EW_ASINH: return k_asinh;
    case EW_ACOSH: return k_acosh;
    case EW_ATANH: return k_atanh;
    default: return NULL;
    }
}

static enum sp_status bad_dtype(const struct sp_node *n, int input, enum sp_dtype dt, struct sp_error *err)
{
    if (dt == SP_DTYPE_FLOAT16 || dt == SP_DTYPE_BFLOAT16)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "input %d is %s, which sparsify does not support", input,
                             sp_dtype_name(dt));
    return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "input %d has dtype %s, not supported by this operator", input,
                         sp_dtype_name(dt));
}

static enum sp_status ew_init(struct sp_node *n, enum ew_op op, struct sp_error *err)
{
    static const char *const none[] = {NULL};
    static const char *const mod_attrs[] = {"fmod", NULL};
    static const char *const isinf_attrs[] = {"detect_negative", "detect_positive", NULL};
    static const char *const legacy_attrs[] = {"broadcast", "axis", NULL};
    bool legacy = op <= EW_POW && n->opset < 7;
    enum sp_status st = sp_attr_check_known(
        n, legacy ? legacy_attrs : op == EW_MOD ? mod_attrs : op == EW_ISINF ? isinf_attrs : none, err);
    if (st)
        return st;
    int want_min = 1, want_max = 1;
    if (is_binary(op))
        want_min = want_max = 2;
    else if (op == EW_WHERE)
        want_min = want_max = 3;
    else if (is_variadic(op))
        want_min = 1, want_max = 1 << 20;
    if (n->n_inputs < want_min || n->n_inputs > want_max)
        return sp_node_error(n, err, SP_ERR_FORMAT, "expects %d%s input(s), got %d", want_min,
                             want_max > want_min ? " or more" : "", n->n_inputs);
    for (int i = 0; i < n->n_inputs; i++)
        if (!n->inputs[i])
            return sp_node_error(n, err, SP_ERR_FORMAT, "input %d is required but omitted", i);
    if (n->n_outputs < 1 || !n->outputs[0])
        return sp_node_error(n, err, SP_ERR_FORMAT, "output 0 is required");
    int n_plans = op == EW_WHERE || is_binary(op) ? 1 : is_variadic(op) ? (n->n_inputs > 1 ? n->n_inputs - 1 : 0) : 0;
    struct ew_state *s = calloc(1, sizeof *s + (size_t)n_plans * sizeof(struct sp_bcast));
    if (!s)
        return sp_node_error(n, err, SP_ERR_NOMEM, "out of memory");
    s->op = op;
    s->n_plans = n_plans;
    n->state = s;
    s->legacy = legacy;
    if (legacy) {
        s->legacy_axis_set = sp_attr_find(n, "axis") != NULL;
        st = sp_attr_int(n, "broadcast", 0, &s->legacy_bcast, err);
        if (!st)
            st = sp_attr_int(n, "axis", 0, &s->legacy_axis, err);
        if (st)
            return st;
    }
    if (op == EW_MOD) {
        st = sp_attr_int(n, "fmod", 0, &s->fmod, err);
        if (!st && s->fmod != 0 && s->fmod != 1)
            st = sp_node_error(n, err, SP_ERR_FORMAT, "attribute 'fmod' must be 0 or 1, got %lld",
                               (long long)s->fmod);
    }
    if (op == EW_ISINF) {
        st = sp_attr_int(n, "detect_positive", 1, &s->detect_pos, err);
        if (!st)
            st = sp_attr_int(n, "detect_negative", 1, &s->detect_neg, err);
    }
    return st;
}

static void ew_free(struct sp_node *n)
{
    free(n->state);
    n->state = NULL;
}

/* Picks a Pow kernel; a constant scalar exponent of 1, 2, 3 or 0.5 on float32
 * (LayerNorm decompositions use Pow(x, 2)) gets a multiply instead of powf. */
static bin_fn pick_pow(const struct sp_node *n, struct ew_state *s)
{
    enum sp_dtype a = s->a_dt, b = s->b_dt;
    bool num_a = sp_dtype_is_float(a) || sp_dtype_is_int(a), num_b = sp_dtype_is_float(b) || sp_dtype_is_int(b);
    if (!num_a || !num_b)
        return NULL;
    const struct sp_tensor *e = sp_node_in(n, 1);
    if (a == SP_DTYPE_FLOAT && sp_node_in_is_const(n, 1) && e->data && sp_tensor_numel(e) == 1) {
        double v = sp_load_f64(b, e->data, 0);
        if (v == 2)
            return pow_f32_sq;
        if (v == 3)
            return pow_f32_cube;
        if (v == 1)
            return pow_f32_one;
        if (v == 0.5)
            return pow_f32_sqrt;
    }
    if (a == SP_DTYPE_FLOAT && b == SP_DTYPE_FLOAT)
        return pow_f32;
    if (a == SP_DTYPE_DOUBLE && b == SP_DTYPE_DOUBLE)
        return pow_f64;
    return pow_generic;
}

static enum sp_status ew_prepare(struct sp_node *n, struct sp_error *err)
{
    struct ew_state *s = n->state;
    enum ew_op op = s->op;
    const struct sp_tensor *in[3] = {sp_node_in(n, 0), n->n_inputs > 1 ? sp_node_in(n, 1) : NULL,
                                     n->n_inputs > 2 ? sp_node_in(n, 2) : NULL};
    s->a_dt = in[0]->dtype;
    s->bin = NULL;
    s->un = NULL;
    char sb[2][96];

    if (is_unary(op)) {
        enum sp_dtype dt = in[0]->dtype;
        if (op == EW_NOT) {
            if (dt != SP_DTYPE_BOOL)
                return bad_dtype(n, 0, dt, err);
            s->un = not_b;
        } else {
            const un_fn *t = un_table(op);
            s->un = (unsigned)dt < SP_DT_TABLE_SIZE ? t[dt] : NULL;
            if (!s->un)
                return bad_dtype(n, 0, dt, err);
        }
        s->out_dt = (op == EW_ISNAN || op == EW_ISINF) ? SP_DTYPE_BOOL : dt;
        sp_node_set_out(n, 0, s->out_dt, in[0]->ndim, in[0]->dims);
        n->scratch_bytes = 0;
        return SP_OK;
    }

    int out_ndim;
    int64_t out_dims[SP_MAX_DIMS];
    if (op == EW_WHERE) {
        if (in[0]->dtype != SP_DTYPE_BOOL)
            return sp_node_error(n, err, SP_ERR_FORMAT, "condition must be bool, got %s", sp_dtype_name(in[0]->dtype));
        if (in[1]->dtype != in[2]->dtype)
            return sp_node_error(n, err, SP_ERR_FORMAT, "X is %s but Y is %s: they must match",
                                 sp_dtype_name(in[1]->dtype), sp_dtype_name(in[2]->dtype));
        size_t es = sp_dtype_size(in[1]->dtype);
        if (in[1]->dtype == SP_DTYPE_STRING || (es != 1 && es != 2 && es != 4 && es != 8))
            return bad_dtype(n, 1, in[1]->dtype, err);
        if (!sp_broadcast_tensors(3, in, &out_ndim, out_dims))
            return sp_node_error(n, err, SP_ERR_MISMATCH, "shapes %s, %s and %s do not broadcast",
                                 sp_shape_str(in[0]->ndim, in[0]->dims, sb[0], sizeof sb[0]),
                                 sp_shape_str(in[1]->ndim, in[1]->dims, sb[1], sizeof sb[1]),
                                 sp_shape_str(in[2]->ndim, in[2]->dims, (char[96]){0}, 96));
        sp_bcast_plan_tensors(&s->plans[0], 3, in, out_ndim, out_dims);
        s->out_dt = in[1]->dtype;
        sp_node_set_out(n, 0, s->out_dt, out_ndim, out_dims);
        n->scratch_bytes = 0;
        return SP_OK;
    }

    /* Binary and variadic: every input the same dtype, except Pow's exponent. */
    for (int i = 1; i < n->n_inputs; i++) {
        const struct sp_tensor *t = sp_node_in(n, i);
        if (op != EW_POW && t->dtype != in[0]->dtype)
            return sp_node_error(n, err, SP_ERR_FORMAT, "input %d is %s but input 0 is %s: they must match", i,
                                 sp_dtype_name(t->dtype), sp_dtype_name(in[0]->dtype));
    }
    enum sp_dtype dt = in[0]->dtype;
    s->b_dt = n->n_inputs > 1 ? in[1]->dtype : dt;
    if (op == EW_POW) {
        s->bin = pick_pow(n, s);
        if (!s->bin)
            return bad_dtype(n, sp_dtype_is_float(dt) || sp_dtype_is_int(dt) ? 1 : 0,
                             sp_dtype_is_float(dt) || sp_dtype_is_int(dt) ? s->b_dt : dt, err);
    } else if (op == EW_AND || op == EW_OR || op == EW_XOR) {
        if (dt != SP_DTYPE_BOOL)
            return bad_dtype(n, 0, dt, err);
        s->bin = op == EW_AND ? and_b : op == EW_OR ? or_b : xor_b;
    } else {
        const bin_fn *t = bin_table(op, s->fmod);
        s->bin = (unsigned)dt < SP_DT_TABLE_SIZE ? t[dt] : NULL;
        if (!s->bin)
            return bad_dtype(n, 0, dt, err);
    }
    s->out_dt = (op >= EW_EQ && op <= EW_XOR) ? SP_DTYPE_BOOL : dt;

    /* Output shape: all inputs broadcast together. */
    int nin = n->n_inputs;
    out_ndim = in[0]->ndim;
    memcpy(out_dims, in[0]->dims, sizeof(int64_t) * (size_t)out_ndim);
    for (int i = 1; i < nin; i++) {
        const struct sp_tensor *t = sp_node_in(n, i);
        int nd[2] = {out_ndim, t->ndim};
        const int64_t *dd[2] = {out_dims, t->dims};
        int64_t next[SP_MAX_DIMS];
        int r;
        if (!sp_broadcast_shape(2, nd, dd, &r, next))
            return sp_node_error(n, err, SP_ERR_MISMATCH, "input %d shape %s does not broadcast with %s", i,
                                 sp_shape_str(t->ndim, t->dims, sb[0], sizeof sb[0]),
                                 sp_shape_str(out_ndim, out_dims, sb[1], sizeof sb[1]));
        out_ndim = r;
        memcpy(out_dims, next, sizeof next);
    }
    if (s->legacy) {
        /* Opset 6: B is broadcast onto A only when broadcast=1, its axes placed
         * at `axis` (default: aligned to the end); otherwise shapes must agree. */
        const struct sp_tensor *A = in[0], *B = in[1];
        int64_t bd[SP_MAX_DIMS];
        int start = s->legacy_axis_set ? (int)s->legacy_axis : A->ndim - B->ndim;
        if (s->legacy_axis_set && start < 0)
            start += A->ndim;
        bool ok = start >= 0 && start + B->ndim <= A->ndim;
        for (int d = 0; ok && d < A->ndim; d++) {
            bd[d] = (d >= start && d < start + B->ndim) ? B->dims[d - start] : 1;
            ok = bd[d] == A->dims[d] || (s->legacy_bcast && bd[d] == 1);
        }
        if (!s->legacy_bcast)
            ok = ok && A->ndim == B->ndim;
        if (!ok)
            return sp_node_error(n, err, SP_ERR_MISMATCH, "B shape %s does not fit A shape %s (broadcast=%lld)",
                                 sp_shape_str(B->ndim, B->dims, sb[0], sizeof sb[0]),
                                 sp_shape_str(A->ndim, A->dims, sb[1], sizeof sb[1]), (long long)s->legacy_bcast);
        sp_bcast_plan(&s->plans[0], 2, (const int[]){A->ndim, A->ndim}, (const int64_t *const[]){A->dims, bd},
                      A->ndim, A->dims);
        sp_node_set_out(n, 0, s->out_dt, A->ndim, A->dims);
        n->scratch_bytes = 0;
        return SP_OK;
    }
    /* Step k combines (input 0 for k = 0, else the output so far) with input k+1. */
    for (int k = 0; k < s->n_plans; k++) {
        const struct sp_tensor *b = sp_node_in(n, k + 1);
        int nd[2] = {k == 0 ? in[0]->ndim : out_ndim, b->ndim};
        const int64_t *dd[2] = {k == 0 ? in[0]->dims : out_dims, b->dims};
        sp_bcast_plan(&s->plans[k], 2, nd, dd, out_ndim, out_dims);
    }
    sp_node_set_out(n, 0, s->out_dt, out_ndim, out_dims);
    n->scratch_bytes = 0;
    return SP_OK;
}

struct bin_ctx {
    bin_fn k;
    const struct ew_state *s;
    char *o;
    const char *a, *b;
    size_t eo, ea, eb;
};

static void bin_row(void *c_, int64_t out_off, const int64_t *in_off, const int *in_step, int64_t len)
{
    struct bin_ctx *c = c_;
    c->k(c->o + out_off * (int64_t)c->eo, c->a + in_off[0] * (int64_t)c->ea, c->b + in_off[1] * (int64_t)c->eb, len,
         in_step[0], in_step[1], c->s);
}

struct where_ctx {
    const uint8_t *c;
    const char *x, *y;
    char *o;
    size_t es;
};

#define WHERE_LOOP(T)                                                                                         \
    do {                                                                                                      \
        T *o = (T *)(w->o) + out_off;                                                                         \
        const T *x = (const T *)w->x + in_off[1], *y = (const T *)w->y + in_off[2];                           \
        const uint8_t *c = w->c + in_off[0];                                                                  \
        int sc = in_step[0], sx = in_step[1], sy = in_step[2];                                                \
        for (int64_t i = 0; i < len; i++)                                                                     \
            o[i] = c[i * sc] ? x[i * sx] : y[i * sy];                                                         \
    } while (0)

static void where_row(void *c_, int64_t out_off, const int64_t *in_off, const int *in_step, int64_t len)
{
    struct where_ctx *w = c_;
    switch (w->es) {
    case 1: WHERE_LOOP(uint8_t); break;
    case 2: WHERE_LOOP(uint16_t); break;
    case 4: WHERE_LOOP(uint32_t); break;
    default: WHERE_LOOP(uint64_t); break;
    }
}

/* Mean: divide the accumulated sum by the number of inputs. */
static void mean_finish(struct sp_tensor *out, int count)
{
    int64_t numel = sp_tensor_numel(out);
    if (out->dtype == SP_DTYPE_FLOAT) {
        float *p = out->data, inv = 1.0f / (float)count;
        for (int64_t i = 0; i < numel; i++)
            p[i] *= inv;
    } else if (out->dtype == SP_DTYPE_DOUBLE) {
        double *p = out->data;
        for (int64_t i = 0; i < numel; i++)
            p[i] /= count;
    } else {
        for (int64_t i = 0; i < numel; i++)
            sp_store_i64(out->dtype, out->data, i, sp_load_i64(out->dtype, out->data, i) / count);
    }
}

static enum sp_status ew_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    struct ew_state *s = n->state;
    struct sp_tensor *out = sp_node_out(n, 0);
    const struct sp_tensor *a = sp_node_in(n, 0);
    if (is_unary(s->op)) {
        s->un(out->data, a->data, sp_tensor_numel(out), s);
        return SP_OK;
    }
    if (s->op == EW_WHERE) {
        struct where_ctx w = {a->data, sp_node_in(n, 1)->data, sp_node_in(n, 2)->data, out->data,
                              sp_dtype_size(out->dtype)};
        sp_bcast_for_each(&s->plans[0], where_row, &w);
        return SP_OK;
    }
    if (s->n_plans == 0) {
        /* A variadic op with one input is a copy. */
        memcpy(out->data, a->data, sp_tensor_nbytes(out));
        return SP_OK;
    }
    for (int k = 0; k < s->n_plans; k++) {
        const struct sp_tensor *b = sp_node_in(n, k + 1);
        struct bin_ctx c = {s->bin, s, out->data, k == 0 ? a->data : out->data, b->data, sp_dtype_size(out->dtype),
                            sp_dtype_size(k == 0 ? a->dtype : out->dtype), sp_dtype_size(b->dtype)};
        sp_bcast_for_each(&s->plans[k], bin_row, &c);
    }
    if (s->op == EW_MEAN)
        mean_finish(out, n->n_inputs);
    return SP_OK;
}

#define EW_OP(Type, code, omin)                                                                               \
    static enum sp_status init_##Type(struct sp_node *n, struct sp_error *err) {                              \
        enum sp_status st = ew_init(n, code, err);                                                            \
        if (st) /* the engine frees state only after a successful init */                                     \
            ew_free(n);                                                                                       \
        return st;                                                                                            \
    }                                                                                                         \
    const struct sp_op sp_op_##Type = {#Type, "", omin, 18, init_##Type, ew_prepare, ew_run, ew_free};

/* opset_min: numpy broadcasting came in opset 7/8; Add/Sub/Mul/Div/Pow also
 * accept opset 6 and its `broadcast`/`axis` attributes (PyTorch's old exports). */
EW_OP(Add, EW_ADD, 6)
EW_OP(Sub, EW_SUB, 6)
EW_OP(Mul, EW_MUL, 6)
EW_OP(Div, EW_DIV, 6)
EW_OP(Pow, EW_POW, 6)
EW_OP(Mod, EW_MOD, 10)
EW_OP(Equal, EW_EQ, 7)
EW_OP(Less, EW_LT, 7)
EW_OP(LessOrEqual, EW_LE, 12)
EW_OP(Greater, EW_GT, 7)
EW_OP(GreaterOrEqual, EW_GE, 12)
EW_OP(And, EW_AND, 7)
EW_OP(Or, EW_OR, 7)
EW_OP(Xor, EW_XOR, 7)
EW_OP(Min, EW_MIN, 6)
EW_OP(Max, EW_MAX, 6)
EW_OP(Sum, EW_SUM, 6)
EW_OP(Mean, EW_MEAN, 6)
EW_OP(Where, EW_WHERE, 9)
EW_OP(Sqrt, EW_SQRT, 6)
EW_OP(Exp, EW_EXP, 6)
EW_OP(Log, EW_LOG, 6)
EW_OP(Neg, EW_NEG, 6)
EW_OP(Abs, EW_ABS, 6)
EW_OP(Reciprocal, EW_RECIP, 6)
EW_OP(Floor, EW_FLOOR, 6)
EW_OP(Ceil, EW_CEIL, 6)
EW_OP(Round, EW_ROUND, 11)
EW_OP(Sign, EW_SIGN, 9)
EW_OP(Sin, EW_SIN, 7)
EW_OP(Cos, EW_COS, 7)
EW_OP(Not, EW_NOT, 1)
EW_OP(IsNaN, EW_ISNAN, 9)
EW_OP(IsInf, EW_ISINF, 10)
EW_OP(Tan, EW_TAN, 7)
EW_OP(Asin, EW_ASIN, 7)
EW_OP(Acos, EW_ACOS, 7)
EW_OP(Atan, EW_ATAN, 7)
EW_OP(Sinh, EW_SINH, 9)
EW_OP(Cosh, EW_COSH, 9)
EW_OP(Asinh, EW_ASINH, 9)
EW_OP(Acosh, EW_ACOSH, 9)
EW_OP(Atanh, EW_ATANH, 9)
