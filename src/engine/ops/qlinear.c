/*
 * Integer and quantized-linear operators, so that models quantized by other
 * tools (ONNX Runtime's quantizer, TFLite converters) run too: MatMulInteger,
 * ConvInteger (int32 results) and QLinearMatMul, QLinearConv (requantized to
 * uint8/int8).
 *
 * The products must be exact integer sums: (x - x_zp) and (w - w_zp) are at
 * most 255 in magnitude, so each product is below 2^16 and any realistic sum
 * of them is far below 2^53. Converting the shifted operands to double and
 * multiplying with OpenBLAS's dgemm therefore gives exactly the int32
 * accumulation the spec asks for, at BLAS speed, with no integer kernel to
 * write per ISA (and without the 16-bit pair saturation of AVX2 u8*s8
 * instructions). Convolutions reuse im2col: the input is shifted by its zero
 * point first, so padding, which im2col fills with 0, reads as the zero point
 * as ONNX requires.
 *
 * Requantization follows ONNX Runtime: multiplier = a_scale * b_scale / y_scale
 * in float32, y = saturate(round_half_even(acc * multiplier) + y_zero_point).
 * Zero points and scales are per tensor or, where the spec allows, per row of
 * A / per column of B (matmul) or per output channel (conv weights).
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/attr.h"
#include "engine/op.h"
#include "engine/ops/ew_types.h"
#include "engine/ops/im2col.h"

enum ql_kind { QL_MATMUL_INT, QL_QMATMUL, QL_CONV_INT, QL_QCONV };

/* Input positions, -1 where the op has no such input. */
struct ql_inputs {
    int a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp, bias;
};

static const struct ql_inputs QL_IN[] = {
    [QL_MATMUL_INT] = {0, -1, 2, 1, -1, 3, -1, -1, -1},
    [QL_QMATMUL] = {0, 1, 2, 3, 4, 5, 6, 7, -1},
    [QL_CONV_INT] = {0, -1, 2, 1, -1, 3, -1, -1, -1},
    [QL_QCONV] = {0, 1, 2, 3, 4, 5, 6, 7, 8},
};

struct ql_state {
    enum ql_kind kind;
    struct ql_inputs in;
    enum sp_dtype out_dt;
    /* matmul */
    int64_t m, k, nn, batches;
    int bnd;                                  /* batch rank of the output */
    int64_t bdims[SP_MAX_DIMS], astr[SP_MAX_DIMS], bstr[SP_MAX_DIMS];
    /* conv */
    struct sp_win_attrs wa;
    struct sp_win win;
    int64_t group, c_in, c_out, batch;
    /* per-row (a) and per-column/channel (b) lengths of zero points and scales: 1 or the dim */
    int64_t a_zp_n, b_zp_n, a_sc_n, b_sc_n;
};

static void ql_free(struct sp_node *n)
{
    free(n->state);
    n->state = NULL;
}

static bool is_q8(enum sp_dtype dt) { return dt == SP_DTYPE_UINT8 || dt == SP_DTYPE_INT8; }

static enum sp_status ql_init_body(struct sp_node *n, enum ql_kind kind, struct sp_error *err)
{
    static const char *const none[] = {NULL};
    static const char *const conv[] = {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides", NULL};
    bool is_conv = kind == QL_CONV_INT || kind == QL_QCONV;
    enum sp_status st = sp_attr_check_known(n, is_conv ? conv : none, err);
    if (st)
        return st;
    int min_in = kind == QL_QMATMUL ? 8 : kind == QL_QCONV ? 8 : 2;
    int max_in = kind == QL_QMATMUL ? 8 : kind == QL_QCONV ? 9 : 4;
    if (n->n_inputs < min_in || n->n_inputs > max_in)
        return sp_node_error(n, err, SP_ERR_FORMAT, "expects %d to %d inputs, got %d", min_in, max_in, n->n_inputs);
    const struct ql_inputs *q = &QL_IN[kind];
    /* Required: the operands and, for QLinear ops, every scale and zero point
     * except that ONNX lets y/x zero points of QLinear ops be given always. */
    int req[] = {q->a, q->b, q->a_scale, q->b_scale, q->y_scale, q->a_zp, q->b_zp, q->y_zp};
    int n_req = kind == QL_QMATMUL || kind == QL_QCONV ? 8 : 2;
    for (int i = 0; i < n_req; i++)
        if (req[i] < 0 || req[i] >= n->n_inputs || !n->inputs[req[i]])
            return sp_node_error(n, err, SP_ERR_FORMAT, "input %d is required but omitted", req[i]);
    if (n->n_outputs < 1 || !n->outputs[0])
        return sp_node_error(n, err, SP_ERR_FORMAT, "output 0 is required");
    struct ql_state *s = calloc(1, sizeof *s);
    if (!s)
        return sp_node_error(n, err, SP_ERR_NOMEM, "out of memory");
    n->state = s;
    s->kind = kind;
    s->in = *q;
    if (is_conv) {
        if ((st = sp_win_attrs_read(n, true, false, &s->wa, err)) || (st = sp_attr_int(n, "group", 1, &s->group, err)))
            return st;
        if (s->group < 1)
            return sp_node_error(n, err, SP_ERR_FORMAT, "attribute 'group' must be >= 1, got %lld", (long long)s->group);
    }
    return SP_OK;
}

#define QL_INIT(name, kind)                                                                                   \
    static enum sp_status name(struct sp_node *n, struct sp_error *err)                                       \
    {                                                                                                         \
        enum sp_status st = ql_init_body(n, kind, err);                                                       \
        if (st)                                                                                               \
            ql_free(n);                                                                                       \
        return st;                                                                                            \
    }
QL_INIT(init_matmul_int, QL_MATMUL_INT)
QL_INIT(init_qmatmul, QL_QMATMUL)
QL_INIT(init_conv_int, QL_CONV_INT)
QL_INIT(init_qconv, QL_QCONV)

/* Checks an optional per-tensor or per-`dim` parameter (zero point or scale) of
 * dtype `dt`, sets *count to 1 or dim. */
static enum sp_status check_param(const struct sp_node *n, int idx, const char *what, enum sp_dtype dt, int64_t dim,
                                  int64_t *count, struct sp_error *err)
{
    *count = 1;
    const struct sp_tensor *t = idx >= 0 ? sp_node_in(n, idx) : NULL;
    if (!t)
        return SP_OK;
    if (t->dtype != dt)
        return sp_node_error(n, err, SP_ERR_FORMAT, "%s must be %s, got %s", what, sp_dtype_name(dt),
                             sp_dtype_name(t->dtype));
    int64_t c = sp_tensor_numel(t);
    if (c == 1)
        return SP_OK;
    if (c != dim || dim < 1)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "%s has %lld values; 1 or %lld are supported", what,
                             (long long)c, (long long)dim);
    *count = c;
    return SP_OK;
}

/* Shared dtype checks: operands are 8-bit, zero points match them, scales are
 * float scalars or vectors, the output dtype is int32 or y_zero_point's. */
static enum sp_status check_types(struct sp_node *n, struct ql_state *s, int64_t rows, int64_t cols,
                                  struct sp_error *err)
{
    const struct sp_tensor *a = sp_node_in(n, s->in.a), *b = sp_node_in(n, s->in.b);
    if (!is_q8(a->dtype) || !is_q8(b->dtype))
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "inputs are %s and %s; uint8 and int8 are supported",
                             sp_dtype_name(a->dtype), sp_dtype_name(b->dtype));
    bool conv = s->kind == QL_CONV_INT || s->kind == QL_QCONV;
    enum sp_status st;
    /* Conv's input zero point is per tensor only (rows = 1). */
    if ((st = check_param(n, s->in.a_zp, conv ? "x_zero_point" : "a_zero_point", a->dtype, conv ? 1 : rows, &s->a_zp_n,
                          err)) ||
        (st = check_param(n, s->in.b_zp, conv ? "w_zero_point" : "b_zero_point", b->dtype, cols, &s->b_zp_n, err)) ||
        (st = check_param(n, s->in.a_scale, conv ? "x_scale" : "a_scale", SP_DTYPE_FLOAT, conv ? 1 : rows, &s->a_sc_n,
                          err)) ||
        (st = check_param(n, s->in.b_scale, conv ? "w_scale" : "b_scale", SP_DTYPE_FLOAT, cols, &s->b_sc_n, err)))
        return st;
    s->out_dt = SP_DTYPE_INT32;
    if (s->kind == QL_QMATMUL || s->kind == QL_QCONV) {
        const struct sp_tensor *ys = sp_node_in(n, s->in.y_scale), *yz = sp_node_in(n, s->in.y_zp);
        if (ys->dtype != SP_DTYPE_FLOAT || sp_tensor_numel(ys) != 1)
            return sp_node_error(n, err, SP_ERR_FORMAT, "y_scale must be one float32 value");
        if (!is_q8(yz->dtype) || sp_tensor_numel(yz) != 1)
            return sp_node_error(n, err, SP_ERR_FORMAT, "y_zero_point must be one uint8 or int8 value");
        s->out_dt = yz->dtype;
    }
    return SP_OK;
}

/* ---- matmul ------------------------------------------------------------------------- */

static enum sp_status mm_prepare(struct sp_node *n, struct sp_error *err)
{
    struct ql_state *s = n->state;
    const struct sp_tensor *a = sp_node_in(n, s->in.a), *b = sp_node_in(n, s->in.b);
    char sa[96], sb[96];
    if (a->ndim < 1 || b->ndim < 1)
        return sp_node_error(n, err, SP_ERR_FORMAT, "inputs must have rank >= 1");
    /* 1-D operands are promoted as numpy.matmul does, and the axis dropped again. */
    int64_t ad[SP_MAX_DIMS + 1], bd[SP_MAX_DIMS + 1];
    int an = a->ndim, bn = b->ndim;
    if (an == 1)
        ad[0] = 1, ad[1] = a->dims[0], an = 2;
    else
        memcpy(ad, a->dims, sizeof(int64_t) * (size_t)an);
    if (bn == 1)
        bd[0] = b->dims[0], bd[1] = 1, bn = 2;
    else
        memcpy(bd, b->dims, sizeof(int64_t) * (size_t)bn);
    s->m = ad[an - 2];
    s->k = ad[an - 1];
    s->nn = bd[bn - 1];
    if (bd[bn - 2] != s->k)
        return sp_node_error(n, err, SP_ERR_MISMATCH, "shapes %s and %s do not multiply",
                             sp_shape_str(a->ndim, a->dims, sa, sizeof sa), sp_shape_str(b->ndim, b->dims, sb, sizeof sb));
    int nb = (an > bn ? an : bn) - 2;
    s->bnd = nb;
    s->batches = 1;
    int64_t as = s->m * s->k, bs = s->k * s->nn;
    for (int d = nb - 1; d >= 0; d--) {
        int ia = d - (nb - (an - 2)), ib = d - (nb - (bn - 2));
        int64_t da = ia >= 0 ? ad[ia] : 1, db = ib >= 0 ? bd[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return sp_node_error(n, err, SP_ERR_MISMATCH, "batch dimensions of %s and %s do not broadcast",
                                 sp_shape_str(a->ndim, a->dims, sa, sizeof sa),
                                 sp_shape_str(b->ndim, b->dims, sb, sizeof sb));
        s->bdims[d] = da > db ? da : db;
        s->astr[d] = da == 1 ? 0 : as;
        s->bstr[d] = db == 1 ? 0 : bs;
        as *= da;
        bs *= db;
        s->batches *= s->bdims[d];
    }
    enum sp_status st = check_types(n, s, s->m, s->nn, err);
    if (st)
        return st;
    int64_t od[SP_MAX_DIMS + 2];
    int on = 0;
    for (int d = 0; d < nb; d++)
        od[on++] = s->bdims[d];
    if (a->ndim > 1)
        od[on++] = s->m;
    if (b->ndim > 1)
        od[on++] = s->nn;
    if (on > SP_MAX_DIMS)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "output rank exceeds %d", SP_MAX_DIMS);
    if ((st = sp_op_check_elems(n, "output", on, od, err)))
        return st;
    sp_node_set_out(n, 0, s->out_dt, on, od);
    n->scratch_bytes = (size_t)(s->m * s->k + s->k * s->nn + s->m * s->nn) * sizeof(double);
    return SP_OK;
}

/* Value c of a per-tensor (count 1) or per-c parameter, as int64 / float. */
static int64_t zp_at(const struct sp_tensor *t, int64_t count, int64_t c)
{
    return t ? sp_load_i64(t->dtype, t->data, count == 1 ? 0 : c) : 0;
}
static float sc_at(const struct sp_tensor *t, int64_t count, int64_t c)
{
    return ((const float *)t->data)[count == 1 ? 0 : c];
}

/* dst (rows x cols) = src block at element `off` minus its zero point, which
 * is per tensor, per row or (per_col) per column. The dtype switch stays out
 * of the inner loop. */
static void shift_block(double *dst, const void *src, int64_t off, enum sp_dtype dt, int64_t rows, int64_t cols,
                        const struct sp_tensor *zp, int64_t zp_n, bool per_col)
{
    const uint8_t *u = (const uint8_t *)src + off;
    const int8_t *v = (const int8_t *)src + off;
    bool is_u = dt == SP_DTYPE_UINT8;
    int64_t z0 = zp_at(zp, 1, 0);
    for (int64_t r = 0; r < rows; r++) {
        int64_t zr = !per_col && zp_n > 1 ? zp_at(zp, zp_n, r) : z0;
        double *d = dst + r * cols;
        if (per_col && zp_n > 1) {
            for (int64_t c = 0; c < cols; c++)
                d[c] = (double)((is_u ? u[r * cols + c] : v[r * cols + c]) - zp_at(zp, zp_n, c));
        } else if (is_u) {
            for (int64_t c = 0; c < cols; c++)
                d[c] = (double)(u[r * cols + c] - zr);
        } else {
            for (int64_t c = 0; c < cols; c++)
                d[c] = (double)(v[r * cols + c] - zr);
        }
    }
}

/* Writes one exact accumulator: int32 (saturated, never UB) or requantized. */
static inline void store_acc(enum sp_dtype dt, void *out, int64_t i, double acc, float mult, int64_t yzp)
{
    if (dt == SP_DTYPE_INT32) {
        ((int32_t *)out)[i] = acc >= 2147483647.0 ? INT32_MAX : acc <= -2147483648.0 ? INT32_MIN : (int32_t)acc;
        return;
    }
    float v = nearbyintf((float)acc * mult) + (float)yzp;
    float lo = dt == SP_DTYPE_UINT8 ? 0.0f : -128.0f, hi = dt == SP_DTYPE_UINT8 ? 255.0f : 127.0f;
    v = v != v ? lo : v < lo ? lo : v > hi ? hi : v;
    if (dt == SP_DTYPE_UINT8)
        ((uint8_t *)out)[i] = (uint8_t)v;
    else
        ((int8_t *)out)[i] = (int8_t)v;
}

static enum sp_status mm_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    (void)err;
    const struct ql_state *s = n->state;
    const struct sp_tensor *a = sp_node_in(n, s->in.a), *b = sp_node_in(n, s->in.b);
    const struct sp_tensor *azp = sp_node_in(n, s->in.a_zp), *bzp = sp_node_in(n, s->in.b_zp);
    struct sp_tensor *y = sp_node_out(n, 0);
    int64_t M = s->m, K = s->k, N = s->nn;
    double *ad = scratch, *bd = ad + M * K, *cd = bd + K * N;
    float ys = 1;
    int64_t yzp = 0;
    if (s->kind == QL_QMATMUL) {
        ys = *(const float *)sp_node_in(n, s->in.y_scale)->data;
        yzp = zp_at(sp_node_in(n, s->in.y_zp), 1, 0);
    }
    int64_t idx[SP_MAX_DIMS] = {0}, aoff = 0, boff = 0;
    for (int64_t bt = 0; bt < s->batches; bt++) {
        shift_block(ad, a->data, aoff, a->dtype, M, K, azp, s->a_zp_n, false);
        shift_block(bd, b->data, boff, b->dtype, K, N, bzp, s->b_zp_n, true);
        if (M > 0 && N > 0 && K > 0)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1.0, ad, (int)K, bd, (int)N,
                        0.0, cd, (int)N);
        else
            memset(cd, 0, sizeof(double) * (size_t)(M * N));
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                float mult = 1;
                if (s->kind == QL_QMATMUL)
                    mult = sc_at(sp_node_in(n, s->in.a_scale), s->a_sc_n, i) *
                           sc_at(sp_node_in(n, s->in.b_scale), s->b_sc_n, j) / ys;
                store_acc(s->out_dt, y->data, bt * M * N + i * N + j, cd[i * N + j], mult, yzp);
            }
        /* Next batch: odometer over the output batch dims. */
        for (int d = s->bnd - 1; d >= 0; d--) {
            aoff += s->astr[d];
            boff += s->bstr[d];
            if (++idx[d] < s->bdims[d])
                break;
            aoff -= s->astr[d] * s->bdims[d];
            boff -= s->bstr[d] * s->bdims[d];
            idx[d] = 0;
        }
    }
    return SP_OK;
}

const struct sp_op sp_op_MatMulInteger = {"MatMulInteger", "", 10, 18, init_matmul_int, mm_prepare, mm_run, ql_free};
const struct sp_op sp_op_QLinearMatMul = {"QLinearMatMul", "", 10, 18, init_qmatmul, mm_prepare, mm_run, ql_free};

/* ---- convolution ------------------------------------------------------------------------ */

static enum sp_status cv_prepare(struct sp_node *n, struct sp_error *err)
{
    struct ql_state *s = n->state;
    const struct sp_tensor *x = sp_node_in(n, s->in.a), *w = sp_node_in(n, s->in.b);
    if (x->ndim < 3 || x->ndim > 2 + SP_WIN_MAX_DIMS || w->ndim != x->ndim)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "X rank %d and W rank %d: 1-D to 3-D convolutions are supported",
                             x->ndim, w->ndim);
    s->batch = x->dims[0];
    s->c_in = x->dims[1];
    s->c_out = w->dims[0];
    if (s->c_in % s->group || s->c_out % s->group || w->dims[1] * s->group != s->c_in)
        return sp_node_error(n, err, SP_ERR_MISMATCH, "group %lld does not fit %lld input and %lld output channels (W has %lld per group)",
                             (long long)s->group, (long long)s->c_in, (long long)s->c_out, (long long)w->dims[1]);
    int nd = x->ndim - 2;
    enum sp_status st = sp_win_resolve(n, &s->wa, nd, x->dims + 2, w->dims + 2, &s->win, err);
    if (st)
        return st;
    if ((st = check_types(n, s, 1, s->c_out, err)))
        return st;
    if (s->in.bias >= 0 && sp_node_in(n, s->in.bias)) {
        const struct sp_tensor *bias = sp_node_in(n, s->in.bias);
        if (bias->dtype != SP_DTYPE_INT32 || sp_tensor_numel(bias) != s->c_out)
            return sp_node_error(n, err, SP_ERR_FORMAT, "B must be int32 with %lld values", (long long)s->c_out);
    }
    int64_t od[2 + SP_WIN_MAX_DIMS] = {s->batch, s->c_out};
    for (int d = 0; d < nd; d++)
        od[2 + d] = s->win.out[SP_WIN_MAX_DIMS - nd + d];
    if ((st = sp_op_check_elems(n, "Y", x->ndim, od, err)))
        return st;
    sp_node_set_out(n, 0, s->out_dt, x->ndim, od);
    int64_t taps = sp_win_kernel_size(&s->win), P = sp_win_out_size(&s->win), in = sp_win_in_size(&s->win);
    int64_t cg = s->c_in / s->group, mg = s->c_out / s->group;
    /* im2col (double), weights (double), product (double), shifted input (float), im2col (float) */
    n->scratch_bytes = (size_t)(s->c_in * in + cg * taps * P) * sizeof(float) +
                       (size_t)(cg * taps * P + s->c_out * cg * taps + mg * P) * sizeof(double);
    return SP_OK;
}

static enum sp_status cv_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    (void)err;
    const struct ql_state *s = n->state;
    const struct sp_tensor *x = sp_node_in(n, s->in.a), *w = sp_node_in(n, s->in.b);
    const struct sp_tensor *xzp = sp_node_in(n, s->in.a_zp), *wzp = sp_node_in(n, s->in.b_zp);
    const struct sp_tensor *bias = s->in.bias >= 0 ? sp_node_in(n, s->in.bias) : NULL;
    struct sp_tensor *y = sp_node_out(n, 0);
    int64_t taps = sp_win_kernel_size(&s->win), P = sp_win_out_size(&s->win), in = sp_win_in_size(&s->win);
    int64_t G = s->group, cg = s->c_in / G, mg = s->c_out / G, K = cg * taps;
    /* doubles first, so that every buffer is aligned for its type */
    double *cold = scratch, *wd = cold + K * P, *acc = wd + s->c_out * K;
    float *xf = (float *)(acc + mg * P), *col = xf + s->c_in * in;
    /* Weights shifted by their zero point, once per run. */
    shift_block(wd, w->data, 0, w->dtype, s->c_out, K, wzp, s->b_zp_n, false);
    int64_t x0 = zp_at(xzp, 1, 0);
    float ys = 1, xs = 1;
    int64_t yzp = 0;
    if (s->kind == QL_QCONV) {
        ys = *(const float *)sp_node_in(n, s->in.y_scale)->data;
        xs = *(const float *)sp_node_in(n, s->in.a_scale)->data;
        yzp = zp_at(sp_node_in(n, s->in.y_zp), 1, 0);
    }
    for (int64_t b = 0; b < s->batch; b++) {
        const uint8_t *xu = (const uint8_t *)x->data + b * s->c_in * in;
        const int8_t *xi = (const int8_t *)x->data + b * s->c_in * in;
        if (x->dtype == SP_DTYPE_UINT8)
            for (int64_t i = 0; i < s->c_in * in; i++)
                xf[i] = (float)(xu[i] - x0);
        else
            for (int64_t i = 0; i < s->c_in * in; i++)
                xf[i] = (float)(xi[i] - x0);
        for (int64_t g = 0; g < G; g++) {
            sp_im2col(&s->win, cg, xf + g * cg * in, col);
            for (int64_t i = 0; i < K * P; i++)
                cold[i] = col[i];
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)mg, (int)P, (int)K, 1.0, wd + g * mg * K, (int)K,
                        cold, (int)P, 0.0, acc, (int)P);
            for (int64_t m = 0; m < mg; m++) {
                int64_t oc = g * mg + m;
                double bv = bias ? ((const int32_t *)bias->data)[oc] : 0;
                float mult = 1;
                if (s->kind == QL_QCONV)
                    mult = xs * sc_at(sp_node_in(n, s->in.b_scale), s->b_sc_n, oc) / ys;
                for (int64_t p = 0; p < P; p++)
                    store_acc(s->out_dt, y->data, (b * s->c_out + oc) * P + p, acc[m * P + p] + bv, mult, yzp);
            }
        }
    }
    return SP_OK;
}

const struct sp_op sp_op_ConvInteger = {"ConvInteger", "", 10, 18, init_conv_int, cv_prepare, cv_run, ql_free};
const struct sp_op sp_op_QLinearConv = {"QLinearConv", "", 10, 18, init_qconv, cv_prepare, cv_run, ql_free};
