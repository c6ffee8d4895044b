/*
 * Specification tests for the math operator families (elementwise.c,
 * activation.c, softmax.c, reduce.c, quantize.c and the broadcast helper),
 * driven through the op contract alone: a hand-built NodeProto, init, prepare,
 * run. Expected values are either worked out by hand from the ONNX spec (the
 * edge cases: half-to-even rounding, integer division by zero, Python-style
 * Mod, opset-dependent Softmax axes, empty reductions, saturation) or computed
 * by naive reference loops written here (broadcast index arithmetic, strided
 * reductions), so a fast path that is wrong in any layout is caught.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "engine/op.h"
#include "engine/ops/broadcast.h"
#include "testutil.h"

#define OPS(X)                                                                                                \
    X(Add) X(Sub) X(Mul) X(Div) X(Pow) X(Mod) X(Max) X(Mean) X(Sum) X(Where) X(Equal) X(Less) X(Xor) X(Not)   \
    X(IsInf) X(IsNaN) X(Round) X(Sign) X(Neg) X(Abs) X(Relu) X(Clip) X(PRelu) X(HardSwish) X(HardSigmoid)   \
    X(Erf) X(Gelu) X(Sigmoid) X(Softplus) X(LeakyRelu) X(Softmax) X(LogSoftmax) X(ReduceSum) X(ReduceMean)  \
    X(ReduceMax) X(ReduceLogSumExp) X(ReduceL2) X(ReduceProd) X(ArgMax) X(ArgMin) X(QuantizeLinear)        \
    X(DequantizeLinear)
#define DECL(T) extern const struct sp_op sp_op_##T;
OPS(DECL)

/* ------------------------------------------------------------------ harness */

#define MAXA 6
#define MAXIO 4

struct tn {
    Onnx__NodeProto proto;
    Onnx__AttributeProto attr[MAXA];
    Onnx__AttributeProto *attr_ptr[MAXA];
    int64_t ints[MAXA][8];
    char *out_name[1];
    struct sp_value vin[MAXIO], vout;
    struct sp_value *in[MAXIO], *out[1];
    struct sp_node node;
    struct sp_error err;
    void *scratch;
};

static void tn_new(struct tn *t, const struct sp_op *op, int64_t opset, int n_in)
{
    memset(t, 0, sizeof *t);
    Onnx__NodeProto p = ONNX__NODE_PROTO__INIT;
    t->proto = p;
    t->proto.op_type = (char *)op->type;
    t->proto.name = (char *)"t";
    t->proto.attribute = t->attr_ptr;
    t->node.proto = &t->proto;
    t->node.op = op;
    t->node.opset = opset;
    t->node.n_inputs = n_in;
    t->node.inputs = t->in;
    t->node.n_outputs = 1;
    t->node.outputs = t->out;
    t->out[0] = &t->vout;
    t->vout.name = "y";
}

static Onnx__AttributeProto *tn_attr(struct tn *t, const char *name, Onnx__AttributeProto__AttributeType ty)
{
    size_t k = t->proto.n_attribute++;
    Onnx__AttributeProto a = ONNX__ATTRIBUTE_PROTO__INIT;
    t->attr[k] = a;
    t->attr[k].name = (char *)name;
    t->attr[k].has_type = 1;
    t->attr[k].type = ty;
    t->attr_ptr[k] = &t->attr[k];
    return &t->attr[k];
}
static void tn_int(struct tn *t, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = tn_attr(t, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}
static void tn_float(struct tn *t, const char *name, float v)
{
    Onnx__AttributeProto *a = tn_attr(t, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = v;
}
static void tn_ints(struct tn *t, const char *name, int n, const int64_t *v)
{
    size_t k = t->proto.n_attribute;
    Onnx__AttributeProto *a = tn_attr(t, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    memcpy(t->ints[k], v, sizeof(int64_t) * (size_t)n);
    a->n_ints = (size_t)n;
    a->ints = t->ints[k];
}
static void tn_str(struct tn *t, const char *name, const char *v)
{
    Onnx__AttributeProto *a = tn_attr(t, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = 1;
    a->s.data = (uint8_t *)v;
    a->s.len = strlen(v);
}
/* Input i (data borrowed); `data` NULL with ndim < 0 leaves the input omitted. */
static void tn_in(struct tn *t, int i, enum sp_dtype dt, int ndim, const int64_t *dims, const void *data)
{
    if (ndim < 0) {
        t->in[i] = NULL;
        return;
    }
    struct sp_value *v = &t->vin[i];
    v->name = "x";
    v->is_const = true;
    v->t.dtype = dt;
    v->t.ndim = ndim;
    for (int d = 0; d < ndim; d++)
        v->t.dims[d] = dims[d];
    v->t.data = (void *)data;
    t->in[i] = v;
}
/* init + prepare; SP_OK or the failing status. */
static enum sp_status tn_prepare(struct tn *t)
{
    enum sp_status st = t->node.op->init ? t->node.op->init(&t->node, &t->err) : SP_OK;
    if (!st)
        st = t->node.op->prepare(&t->node, &t->err);
    return st;
}
/* prepare + allocate + run. */
static enum sp_status tn_run(struct tn *t)
{
    enum sp_status st = tn_prepare(t);
    if (st)
        return st;
    size_t nb = sp_tensor_nbytes(&t->vout.t);
    t->vout.t.data = calloc(1, nb ? nb : 1);
    t->scratch = malloc(t->node.scratch_bytes ? t->node.scratch_bytes : 1);
    return t->node.op->run(&t->node, t->scratch, &t->err);
}
static void tn_free(struct tn *t)
{
    if (t->node.op->free)
        t->node.op->free(&t->node);
    free(t->vout.t.data);
    free(t->scratch);
    t->vout.t.data = NULL;
    t->scratch = NULL;
}

static const float *outf(struct tn *t) { return t->vout.t.data; }

#define D(...) ((const int64_t[]){__VA_ARGS__})
#define CHECK_OK(t)                                                                                           \
    do {                                                                                                      \
        enum sp_status st_ = tn_run(t);                                                                       \
        if (st_)                                                                                              \
            fprintf(stderr, "\n  unexpected failure: %s\n", (t)->err.msg);                                    \
        CU_ASSERT_EQUAL_FATAL(st_, SP_OK);                                                                    \
    } while (0)

static void check_f32(const float *got, const float *want, int n, float tol)
{
    for (int i = 0; i < n; i++) {
        bool ok = (isnan(want[i]) && isnan(got[i])) || (isinf(want[i]) && got[i] == want[i]) ||
                  fabsf(got[i] - want[i]) <= tol * (1 + fabsf(want[i]));
        if (!ok)
            fprintf(stderr, "\n  element %d: got %.9g, want %.9g\n", i, got[i], want[i]);
        CU_ASSERT(ok);
    }
}

static uint32_t rng = 12345;
static float frand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}

/* --------------------------------------------------------------- broadcast */

/* Offset of output index `flat` in an input of shape in_dims under broadcasting. */
static int64_t bc_offset(int64_t flat, int ond, const int64_t *od, int ind, const int64_t *id)
{
    int64_t off = 0, stride = 1;
    for (int d = ond - 1; d >= 0; d--) {
        int64_t i = flat % od[d];
        flat /= od[d];
        int di = d - (ond - ind);
        if (di >= 0) {
            if (id[di] != 1)
                off += i * stride;
            stride *= id[di];
        }
    }
    return off;
}

static void test_broadcast_shapes_and_plan(void)
{
    int nd;
    int64_t od[SP_MAX_DIMS];
    const int nds[2] = {4, 3};
    const int64_t *dd[2] = {D(2, 3, 4, 5), D(3, 1, 1)};
    CU_ASSERT_TRUE(sp_broadcast_shape(2, nds, dd, &nd, od));
    CU_ASSERT_EQUAL(nd, 4);
    CU_ASSERT_EQUAL(od[1], 3);
    CU_ASSERT_EQUAL(od[3], 5);
    /* [N,C,H,W] + [C,1,1] collapses to N x C x (H*W) with the bias repeated innermost. */
    struct sp_bcast p;
    sp_bcast_plan(&p, 2, nds, dd, nd, od);
    CU_ASSERT_EQUAL(p.ndim, 3);
    CU_ASSERT_EQUAL(p.dims[2], 20);
    CU_ASSERT_EQUAL(p.strides[1][2], 0);
    CU_ASSERT_EQUAL(p.strides[1][1], 1);
    /* Same shape collapses to one contiguous run. */
    const int64_t *same[2] = {D(2, 3, 4), D(2, 3, 4)};
    sp_bcast_plan(&p, 2, (const int[]){3, 3}, same, 3, D(2, 3, 4));
    CU_ASSERT_EQUAL(p.ndim, 1);
    CU_ASSERT_EQUAL(p.dims[0], 24);
    /* Incompatible. */
    const int64_t *bad[2] = {D(2, 3), D(4)};
    CU_ASSERT_FALSE(sp_broadcast_shape(2, (const int[]){2, 1}, bad, &nd, od));
}

/* Add over many broadcast layouts, against index arithmetic. */
static void test_add_broadcast_matches_reference(void)
{
    static const struct {
        int na, nb;
        int64_t a[4], b[4];
    } cases[] = {
        {4, 3, {2, 3, 4, 5}, {3, 1, 1}},  {3, 1, {2, 3, 4}, {4}},        {2, 0, {3, 4}, {0}},
        {2, 2, {3, 1}, {1, 4}},           {4, 4, {2, 1, 4, 1}, {1, 3, 1, 5}}, {1, 4, {5}, {2, 3, 1, 5}},
        {3, 3, {2, 3, 4}, {2, 3, 4}},     {3, 3, {1, 3, 1}, {2, 3, 4}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        float a[120], b[120];
        int64_t na = 1, nb = 1;
        for (int d = 0; d < cases[c].na; d++)
            na *= cases[c].a[d];
        for (int d = 0; d < cases[c].nb; d++)
            nb *= cases[c].b[d];
        for (int i = 0; i < na; i++)
            a[i] = frand();
        for (int i = 0; i < nb; i++)
            b[i] = frand();
        struct tn t;
        tn_new(&t, &sp_op_Add, 13, 2);
        tn_in(&t, 0, SP_DTYPE_FLOAT, cases[c].na, cases[c].a, a);
        tn_in(&t, 1, SP_DTYPE_FLOAT, cases[c].nb, cases[c].b, b);
        CHECK_OK(&t);
        struct sp_tensor *y = &t.vout.t;
        int64_t ny = sp_tensor_numel(y);
        for (int64_t i = 0; i < ny; i++) {
            float want = a[bc_offset(i, y->ndim, y->dims, cases[c].na, cases[c].a)] +
                         b[bc_offset(i, y->ndim, y->dims, cases[c].nb, cases[c].b)];
            if (outf(&t)[i] != want)
                fprintf(stderr, "\n  case %zu element %lld wrong\n", c, (long long)i);
            CU_ASSERT_EQUAL(outf(&t)[i], want);
        }
        tn_free(&t);
    }
}

static void test_broadcast_mismatch_rejected(void)
{
    float a[6] = {0}, b[4] = {0};
    struct tn t;
    tn_new(&t, &sp_op_Mul, 13, 2);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 2, D(2, 3), a);
    tn_in(&t, 1, SP_DTYPE_FLOAT, 1, D(4), b);
    CU_ASSERT_EQUAL(tn_prepare(&t), SP_ERR_MISMATCH);
    CU_ASSERT_PTR_NOT_NULL(strstr(t.err.msg, "broadcast"));
    tn_free(&t);
    /* dtype mismatch and float16 are refused with a message. */
    tn_new(&t, &sp_op_Add, 13, 2);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 1, D(2), a);
    tn_in(&t, 1, SP_DTYPE_DOUBLE, 1, D(2), b);
    CU_ASSERT_NOT_EQUAL(tn_prepare(&t), SP_OK);
    tn_free(&t);
    tn_new(&t, &sp_op_Add, 13, 2);
    tn_in(&t, 0, SP_DTYPE_FLOAT16, 1, D(2), a);
    tn_in(&t, 1, SP_DTYPE_FLOAT16, 1, D(2), b);
    CU_ASSERT_EQUAL(tn_prepare(&t), SP_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(t.err.msg, "float16"));
    tn_free(&t);
    /* Unknown attribute (the pre-opset-7 `broadcast`) refused at init. */
    tn_new(&t, &sp_op_Add, 13, 2);
    tn_int(&t, "broadcast", 1);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 1, D(2), a);
    tn_in(&t, 1, SP_DTYPE_FLOAT, 1, D(2), b);
    CU_ASSERT_EQUAL(tn_prepare(&t), SP_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(t.err.msg, "broadcast"));
    tn_free(&t);
}

/* ----------------------------------------------------------- integer math */

static void test_int_div_mod_defined(void)
{
    int32_t a[5] = {7, -7, INT32_MIN, 5, -4}, b[5] = {2, 2, -1, 0, 3};
    struct tn t;
    tn_new(&t, &sp_op_Div, 14, 2);
    tn_in(&t, 0, SP_DTYPE_INT32, 1, D(5), a);
    tn_in(&t, 1, SP_DTYPE_INT32, 1, D(5), b);
    CHECK_OK(&t);
    const int32_t *y = t.vout.t.data;
    CU_ASSERT_EQUAL(y[0], 3);
    CU_ASSERT_EQUAL(y[1], -3); /* truncation */
    CU_ASSERT_EQUAL(y[2], INT32_MIN); /* wraps, no trap */
    CU_ASSERT_EQUAL(y[3], 0); /* division by zero is defined as 0 */
    tn_free(&t);

    int64_t ma[4] = {-4, 4, -4, 5}, mb[4] = {3, -3, -3, 0};
    tn_new(&t, &sp_op_Mod, 13, 2);
    tn_in(&t, 0, SP_DTYPE_INT64, 1, D(4), ma);
    tn_in(&t, 1, SP_DTYPE_INT64, 1, D(4), mb);
    CHECK_OK(&t);
    const int64_t *m = t.vout.t.data;
    CU_ASSERT_EQUAL(m[0], 2); /* sign of the divisor, like Python */
    CU_ASSERT_EQUAL(m[1], -2);
    CU_ASSERT_EQUAL(m[2], -1);
    CU_ASSERT_EQUAL(m[3], 0);
    tn_free(&t);

    float fa[2] = {-4.5f, 5.5f}, fb[2] = {2, -2};
    tn_new(&t, &sp_op_Mod, 13, 2);
    tn_int(&t, "fmod", 1);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 1, D(2), fa);
    tn_in(&t, 1, SP_DTYPE_FLOAT, 1, D(2), fb);
    CHECK_OK(&t);
    CU_ASSERT_EQUAL(outf(&t)[0], -0.5f); /* C fmod: sign of the dividend */
    CU_ASSERT_EQUAL(outf(&t)[1], 1.5f);
    tn_free(&t);
}

static void test_pow_types(void)
{
    int64_t a[4] = {2, 3, -2, 10}, b[4] = {10, 3, 3, 15};
    struct tn t;
    tn_new(&t, &sp_op_Pow, 15, 2);
    tn_in(&t, 0, SP_DTYPE_INT64, 1, D(4), a);
    tn_in(&t, 1, SP_DTYPE_INT64, 1, D(4), b);
    CHECK_OK(&t);
    const int64_t *y = t.vout.t.data;
    CU_ASSERT_EQUAL(y[0], 1024);
    CU_ASSERT_EQUAL(y[1], 27);
    CU_ASSERT_EQUAL(y[2], -8);
    CU_ASSERT_EQUAL(y[3], 1000000000000000LL); /* exact, beyond float precision */
    tn_free(&t);

    float x[3] = {1.5f, -2.0f, 4.0f};
    int32_t e[1] = {2};
    tn_new(&t, &sp_op_Pow, 15, 2);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 1, D(3), x);
    tn_in(&t, 1, SP_DTYPE_INT32, 0, NULL, e);
    CHECK_OK(&t);
    CU_ASSERT_EQUAL(t.vout.t.dtype, SP_DTYPE_FLOAT);
    check_f32(outf(&t), (const float[]){2.25f, 4.0f, 16.0f}, 3, 0);
    tn_free(&t);

    float h[1] = {0.5f};
    tn_new(&t, &sp_op_Pow, 13, 2);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 1, D(3), x);
    tn_in(&t, 1, SP_DTYPE_FLOAT, 1, D(1), h);
    CHECK_OK(&t);
    CU_ASSERT_EQUAL(outf(&t)[0], sqrtf(1.5f));
    CU_ASSERT_TRUE(isnan(outf(&t)[1]));
    CU_ASSERT_EQUAL(outf(&t)[2], 2.0f);
    tn_free(&t);
}

/* ---------------------------------------------- variadic, where, logic, unary */

static void test_variadic_and_where(void)
{
    float a[6] = {1, 5, 3, 4, 2, 6}, b[3] = {2, 2, 2}, c[1] = {4.5f};
    struct tn t;
    tn_new(&t, &sp_op_Max, 13, 3);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 2, D(2, 3), a);
    tn_in(&t, 1, SP_DTYPE_FLOAT, 1, D(3), b);
    tn_in(&t, 2, SP_DTYPE_FLOAT, 0, NULL, c);
    CHECK_OK(&t);
    check_f32(outf(&t), (const float[]){4.5f, 5, 4.5f, 4.5f, 4.5f, 6}, 6, 0);
    tn_free(&t);

    tn_new(&t, &sp_op_Mean, 13, 3);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 2, D(2, 3), a);
    tn_in(&t, 1, SP_DTYPE_FLOAT, 1, D(3), b);
    tn_in(&t, 2, SP_DTYPE_FLOAT, 0, NULL, c);
    CHECK_OK(&t);
    check_f32(outf(&t), (const float[]){7.5f / 3, 11.5f / 3, 9.5f / 3, 10.5f / 3, 8.5f / 3, 12.5f / 3}, 6, 1e-6f);
    tn_free(&t);

    tn_new(&t, &sp_op_Sum, 13, 1);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 2, D(2, 3), a);
    CHECK_OK(&t);
    check_f32(outf(&t), a, 6, 0);
    tn_free(&t);

    /* Where: condition [2,1], X [1,3], Y scalar -> [2,3]. */
    uint8_t cond[2] = {1, 0};
    int64_t xv[3] = {1, 2, 3}, yv[1] = {-1};
    tn_new(&t, &sp_op_Where, 16, 3);
    tn_in(&t, 0, SP_DTYPE_BOOL, 2, D(2, 1), cond);
    tn_in(&t, 1, SP_DTYPE_INT64, 2, D(1, 3), xv);
    tn_in(&t, 2, SP_DTYPE_INT64, 0, NULL, yv);
    CHECK_OK(&t);
    const int64_t *w = t.vout.t.data;
    CU_ASSERT_EQUAL(t.vout.t.ndim, 2);
    CU_ASSERT_EQUAL(w[0], 1);
    CU_ASSERT_EQUAL(w[2], 3);
    CU_ASSERT_EQUAL(w[3], -1);
    CU_ASSERT_EQUAL(w[5], -1);
    tn_free(&t);
}

static void test_compare_logic(void)
{
    int32_t a[4] = {1, 2, 3, 4}, b[1] = {3};
    struct tn t;
    tn_new(&t, &sp_op_Less, 13, 2);
    tn_in(&t, 0, SP_DTYPE_INT32, 1, D(4), a);
    tn_in(&t, 1, SP_DTYPE_INT32, 0, NULL, b);
    CHECK_OK(&t);
    CU_ASSERT_EQUAL(t.vout.t.dtype, SP_DTYPE_BOOL);
    CU_ASSERT_EQUAL(memcmp(t.vout.t.data, (const uint8_t[]){1, 1, 0, 0}, 4), 0);
    tn_free(&t);

    tn_new(&t, &sp_op_Equal, 13, 2);
    tn_in(&t, 0, SP_DTYPE_INT32, 1, D(4), a);
    tn_in(&t, 1, SP_DTYPE_INT32, 0, NULL, b);
    CHECK_OK(&t);
    CU_ASSERT_EQUAL(memcmp(t.vout.t.data, (const uint8_t[]){0, 0, 1, 0}, 4), 0);
    tn_free(&t);

    uint8_t p[4] = {0, 0, 1, 1}, q[4] = {0, 1, 0, 1};
    tn_new(&t, &sp_op_Xor, 7, 2);
    tn_in(&t, 0, SP_DTYPE_BOOL, 1, D(4), p);
    tn_in(&t, 1, SP_DTYPE_BOOL, 1, D(4), q);
    CHECK_OK(&t);
    CU_ASSERT_EQUAL(memcmp(t.vout.t.data, (const uint8_t[]){0, 1, 1, 0}, 4), 0);
    tn_free(&t);

    tn_new(&t, &sp_op_Not, 1, 1);
    tn_in(&t, 0, SP_DTYPE_BOOL, 1, D(4), p);
    CHECK_OK(&t);
    CU_ASSERT_EQUAL(memcmp(t.vout.t.data, (const uint8_t[]){1, 1, 0, 0}, 4), 0);
    tn_free(&t);

    /* Logic on a non-bool tensor is refused. */
    tn_new(&t, &sp_op_Xor, 7, 2);
    tn_in(&t, 0, SP_DTYPE_INT32, 1, D(4), a);
    tn_in(&t, 1, SP_DTYPE_INT32, 1, D(4), a);
    CU_ASSERT_EQUAL(tn_prepare(&t), SP_ERR_UNSUPPORTED);
    tn_free(&t);
}

static void test_unary_edge_cases(void)
{
    float r[8] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 2.4f, -2.6f, 3.5f};
    struct tn t;
    tn_new(&t, &sp_op_Round, 11, 1);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 1, D(8), r);
    CHECK_OK(&t);
    check_f32(outf(&t), (const float[]){0, 2, 2, -0.0f, -2, 2, -3, 4}, 8, 0); /* half to even */
    tn_free(&t);

    float v[4] = {INFINITY, -INFINITY, NAN, 1};
    tn_new(&t, &sp_op_IsInf, 10, 1);
    tn_int(&t, "detect_negative", 0);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 1, D(4), v);
    CHECK_OK(&t);
    CU_ASSERT_EQUAL(memcmp(t.vout.t.data, (const uint8_t[]){1, 0, 0, 0}, 4), 0);
    tn_free(&t);

    tn_new(&t, &sp_op_IsNaN, 13, 1);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 1, D(4), v);
    CHECK_OK(&t);
    CU_ASSERT_EQUAL(memcmp(t.vout.t.data, (const uint8_t[]){0, 0, 1, 0}, 4), 0);
    tn_free(&t);

    int8_t s[3] = {-128, 0, 7};
    tn_new(&t, &sp_op_Abs, 13, 1);
    tn_in(&t, 0, SP_DTYPE_INT8, 1, D(3), s);
    CHECK_OK(&t);
    CU_ASSERT_EQUAL(((int8_t *)t.vout.t.data)[0], -128); /* wraps like two's complement */
    CU_ASSERT_EQUAL(((int8_t *)t.vout.t.data)[2], 7);
    tn_free(&t);

    tn_new(&t, &sp_op_Sign, 13, 1);
    tn_in(&t, 0, SP_DTYPE_INT8, 1, D(3), s);
    CHECK_OK(&t);
    CU_ASSERT_EQUAL(memcmp(t.vout.t.data, (const int8_t[]){-1, 0, 1}, 3), 0);
    tn_free(&t);
}

/* -------------------------------------------------------------- activations */

static void test_clip_opsets(void)
{
    float x[5] = {-3, -1, 0, 1, 3};
    struct tn t;
    tn_new(&t, &sp_op_Clip, 6, 1);
    tn_float(&t, "min", -1.5f);
    tn_float(&t, "max", 2);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 1, D(5), x);
    CHECK_OK(&t);
    check_f32(outf(&t), (const float[]){-1.5f, -1, 0, 1, 2}, 5, 0);
    tn_free(&t);

    /* Opset 11+: min omitted (empty name), max given. */
    float mx[1] = {0.5f};
    tn_new(&t, &sp_op_Clip, 13, 3);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 1, D(5), x);
    tn_in(&t, 1, SP_DTYPE_FLOAT, -1, NULL, NULL);
    tn_in(&t, 2, SP_DTYPE_FLOAT, 0, NULL, mx);
    CHECK_OK(&t);
    check_f32(outf(&t), (const float[]){-3, -1, 0, 0.5f, 0.5f}, 5, 0);
    tn_free(&t);

    /* Opset 11+ has no min/max attributes. */
    tn_new(&t, &sp_op_Clip, 13, 1);
    tn_float(&t, "min", 0);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 1, D(5), x);
    CU_ASSERT_EQUAL(tn_prepare(&t), SP_ERR_UNSUPPORTED);
    tn_free(&t);

    /* Integer Clip (opset 12+). */
    int64_t xi[3] = {-5, 2, 9}, lo[1] = {0}, hi[1] = {6};
    tn_new(&t, &sp_op_Clip, 13, 3);
    tn_in(&t, 0, SP_DTYPE_INT64, 1, D(3), xi);
    tn_in(&t, 1, SP_DTYPE_INT64, 0, NULL, lo);
    tn_in(&t, 2, SP_DTYPE_INT64, 0, NULL, hi);
    CHECK_OK(&t);
    CU_ASSERT_EQUAL(memcmp(t.vout.t.data, (const int64_t[]){0, 2, 6}, 24), 0);
    tn_free(&t);
}

static void test_activation_values(void)
{
    float x[5] = {-4, -1, 0, 0.5f, 3};
    struct tn t;
    tn_new(&t, &sp_op_HardSwish, 14, 1);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 1, D(5), x);
    CHECK_OK(&t);
    check_f32(outf(&t), (const float[]){0, -1.0f / 3, 0, 0.5f * 3.5f / 6, 3}, 5, 1e-6f);
    tn_free(&t);

    tn_new(&t, &sp_op_HardSigmoid, 6, 1);
    tn_float(&t, "alpha", 0.5f);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 1, D(5), x);
    CHECK_OK(&t);
    check_f32(outf(&t), (const float[]){0, 0, 0.5f, 0.75f, 1}, 5, 1e-6f);
    tn_free(&t);

    tn_new(&t, &sp_op_Erf, 13, 1);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 1, D(5), x);
    CHECK_OK(&t);
    for (int i = 0; i < 5; i++)
        CU_ASSERT_DOUBLE_EQUAL(outf(&t)[i], erf(x[i]), 1e-7);
    tn_free(&t);

    tn_new(&t, &sp_op_Gelu, 20, 1);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 1, D(5), x);
    CHECK_OK(&t);
    for (int i = 0; i < 5; i++)
        CU_ASSERT_DOUBLE_EQUAL(outf(&t)[i], 0.5 * x[i] * (1 + erf(x[i] / sqrt(2.0))), 1e-6);
    tn_free(&t);

    tn_new(&t, &sp_op_Gelu, 20, 1);
    tn_str(&t, "approximate", "fast");
    tn_in(&t, 0, SP_DTYPE_FLOAT, 1, D(5), x);
    CU_ASSERT_EQUAL(tn_prepare(&t), SP_ERR_UNSUPPORTED);
    tn_free(&t);

    /* Sigmoid and Softplus stay finite at the extremes. */
    float big[3] = {-100, 100, -1000};
    tn_new(&t, &sp_op_Sigmoid, 13, 1);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 1, D(3), big);
    CHECK_OK(&t);
    check_f32(outf(&t), (const float[]){expf(-100), 1, 0}, 3, 1e-6f);
    tn_free(&t);
    tn_new(&t, &sp_op_Softplus, 13, 1);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 1, D(3), big);
    CHECK_OK(&t);
    check_f32(outf(&t), (const float[]){expf(-100), 100, 0}, 3, 1e-6f);
    tn_free(&t);
}

static void test_prelu_channel_slope(void)
{
    float x[2 * 3 * 2], slope[3] = {0.1f, 0.2f, 0.3f}, want[12];
    for (int i = 0; i < 12; i++) {
        x[i] = (float)(i - 6);
        want[i] = x[i] < 0 ? slope[(i / 2) % 3] * x[i] : x[i];
    }
    struct tn t;
    tn_new(&t, &sp_op_PRelu, 9, 2);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 3, D(2, 3, 2), x);
    tn_in(&t, 1, SP_DTYPE_FLOAT, 2, D(3, 1), slope);
    CHECK_OK(&t);
    check_f32(outf(&t), want, 12, 1e-7f);
    tn_free(&t);
    /* The slope may not grow X. */
    tn_new(&t, &sp_op_PRelu, 9, 2);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 1, D(3), x);
    tn_in(&t, 1, SP_DTYPE_FLOAT, 2, D(2, 3), x);
    CU_ASSERT_EQUAL(tn_prepare(&t), SP_ERR_MISMATCH);
    tn_free(&t);
}

/* ------------------------------------------------------------------ softmax */

static void test_softmax_axis_semantics(void)
{
    float x[2 * 3 * 2];
    for (int i = 0; i < 12; i++)
        x[i] = (float)i * 0.25f + 1000; /* large: needs max subtraction */
    /* Opset 11, axis 1: each batch row of 6 elements sums to 1. */
    struct tn t;
    tn_new(&t, &sp_op_Softmax, 11, 1);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 3, D(2, 3, 2), x);
    CHECK_OK(&t);
    for (int b = 0; b < 2; b++) {
        double sum = 0, z = 0;
        for (int i = 0; i < 6; i++)
            z += exp((x[b * 6 + i] - x[b * 6 + 5]));
        for (int i = 0; i < 6; i++) {
            sum += outf(&t)[b * 6 + i];
            CU_ASSERT_DOUBLE_EQUAL(outf(&t)[b * 6 + i], exp(x[b * 6 + i] - x[b * 6 + 5]) / z, 1e-6);
        }
        CU_ASSERT_DOUBLE_EQUAL(sum, 1, 1e-5);
    }
    tn_free(&t);
    /* Opset 13, axis 1: only the 3 elements along axis 1 (stride 2) are normalised. */
    tn_new(&t, &sp_op_Softmax, 13, 1);
    tn_int(&t, "axis", 1);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 3, D(2, 3, 2), x);
    CHECK_OK(&t);
    for (int b = 0; b < 2; b++)
        for (int j = 0; j < 2; j++) {
            double z = 0;
            for (int c = 0; c < 3; c++)
                z += exp(x[b * 6 + c * 2 + j] - x[b * 6 + 4 + j]);
            for (int c = 0; c < 3; c++)
                CU_ASSERT_DOUBLE_EQUAL(outf(&t)[b * 6 + c * 2 + j], exp(x[b * 6 + c * 2 + j] - x[b * 6 + 4 + j]) / z,
                                       1e-6);
        }
    tn_free(&t);
    /* Opset 13 default axis -1, LogSoftmax. */
    tn_new(&t, &sp_op_LogSoftmax, 13, 1);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 3, D(2, 3, 2), x);
    CHECK_OK(&t);
    for (int r = 0; r < 6; r++) {
        double lse = x[r * 2 + 1] + log(1 + exp(x[r * 2] - x[r * 2 + 1]));
        CU_ASSERT_DOUBLE_EQUAL(outf(&t)[r * 2], x[r * 2] - lse, 1e-4);
    }
    tn_free(&t);
}

/* ------------------------------------------------------------------- reduce */

/* ReduceMean/Max of a [3,4,5] tensor over every axis subset, against loops. */
static void test_reduce_all_axis_subsets(void)
{
    float x[60];
    for (int i = 0; i < 60; i++)
        x[i] = frand();
    for (int mask = 0; mask < 8; mask++) {
        for (int kind = 0; kind < 2; kind++) {
            int64_t axes[3];
            int na = 0;
            for (int d = 0; d < 3; d++)
                if (mask & (1 << d))
                    axes[na++] = d - (d == 2 ? 3 : 0); /* negative axis for the last one */
            struct tn t;
            tn_new(&t, kind ? &sp_op_ReduceMax : &sp_op_ReduceMean, 13, 1);
            if (na)
                tn_ints(&t, "axes", na, axes);
            tn_int(&t, "keepdims", mask & 1);
            tn_in(&t, 0, SP_DTYPE_FLOAT, 3, D(3, 4, 5), x);
            CHECK_OK(&t);
            int eff = mask ? mask : 7;
            int64_t od[3] = {eff & 1 ? 1 : 3, eff & 2 ? 1 : 4, eff & 4 ? 1 : 5};
            for (int i = 0; i < od[0]; i++)
                for (int j = 0; j < od[1]; j++)
                    for (int k = 0; k < od[2]; k++) {
                        double acc = kind ? -INFINITY : 0;
                        int cnt = 0;
                        for (int a = 0; a < 3; a++)
                            for (int b = 0; b < 4; b++)
                                for (int c = 0; c < 5; c++) {
                                    if ((!(eff & 1) && a != i) || (!(eff & 2) && b != j) || (!(eff & 4) && c != k))
                                        continue;
                                    float v = x[a * 20 + b * 5 + c];
                                    acc = kind ? fmax(acc, v) : acc + v;
                                    cnt++;
                                }
                        if (!kind)
                            acc /= cnt;
                        CU_ASSERT_DOUBLE_EQUAL(outf(&t)[(i * od[1] + j) * od[2] + k], acc, 1e-6);
                    }
            /* keepdims=0 drops the reduced axes. */
            int want_rank = (mask & 1) ? 3 : 3 - __builtin_popcount((unsigned)eff);
            CU_ASSERT_EQUAL(t.vout.t.ndim, want_rank);
            tn_free(&t);
        }
    }
}

static void test_reduce_axes_input_and_noop(void)
{
    float x[6] = {1, 2, 3, 4, 5, 6};
    int64_t ax[1] = {1};
    struct tn t;
    tn_new(&t, &sp_op_ReduceSum, 13, 2);
    tn_int(&t, "keepdims", 0);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 2, D(2, 3), x);
    tn_in(&t, 1, SP_DTYPE_INT64, 1, D(1), ax);
    CHECK_OK(&t);
    CU_ASSERT_EQUAL(t.vout.t.ndim, 1);
    check_f32(outf(&t), (const float[]){6, 15}, 2, 0);
    tn_free(&t);

    /* No axes + noop_with_empty_axes: identity. */
    tn_new(&t, &sp_op_ReduceSum, 13, 1);
    tn_int(&t, "noop_with_empty_axes", 1);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 2, D(2, 3), x);
    CHECK_OK(&t);
    CU_ASSERT_EQUAL(t.vout.t.ndim, 2);
    check_f32(outf(&t), x, 6, 0);
    tn_free(&t);

    /* ReduceSum 13 refuses the axes attribute; ReduceMean 13 takes it. */
    tn_new(&t, &sp_op_ReduceSum, 13, 1);
    tn_ints(&t, "axes", 1, ax);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 2, D(2, 3), x);
    CU_ASSERT_EQUAL(tn_prepare(&t), SP_ERR_UNSUPPORTED);
    tn_free(&t);
    /* ReduceMean 18 takes axes as input. */
    tn_new(&t, &sp_op_ReduceMean, 18, 2);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 2, D(2, 3), x);
    tn_in(&t, 1, SP_DTYPE_INT64, 1, D(1), (int64_t[]){-2});
    CHECK_OK(&t);
    check_f32(outf(&t), (const float[]){2.5f, 3.5f, 4.5f}, 3, 0);
    tn_free(&t);
    /* Non-constant axes cannot decide the output shape. */
    tn_new(&t, &sp_op_ReduceMean, 18, 2);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 2, D(2, 3), x);
    tn_in(&t, 1, SP_DTYPE_INT64, 1, D(1), ax);
    t.vin[1].is_const = false;
    CU_ASSERT_EQUAL(tn_prepare(&t), SP_ERR_UNSUPPORTED);
    tn_free(&t);
}

static void test_reduce_special(void)
{
    float x[4] = {1000, 1001, -3, 4};
    struct tn t;
    tn_new(&t, &sp_op_ReduceLogSumExp, 13, 1);
    tn_ints(&t, "axes", 1, (int64_t[]){1});
    tn_in(&t, 0, SP_DTYPE_FLOAT, 2, D(2, 2), x);
    CHECK_OK(&t);
    check_f32(outf(&t), (const float[]){(float)(1001 + log1p(exp(-1.0))), (float)(4 + log1p(exp(-7.0)))}, 2, 1e-6f);
    tn_free(&t);

    tn_new(&t, &sp_op_ReduceL2, 13, 1);
    tn_int(&t, "keepdims", 0);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 1, D(2), (float[]){3, 4});
    CHECK_OK(&t);
    CU_ASSERT_EQUAL(t.vout.t.ndim, 0);
    CU_ASSERT_DOUBLE_EQUAL(outf(&t)[0], 5, 1e-6);
    tn_free(&t);

    /* Empty set: sum 0, prod 1, max -inf. */
    const struct sp_op *ops[3] = {&sp_op_ReduceSum, &sp_op_ReduceProd, &sp_op_ReduceMax};
    float want[3] = {0, 1, -INFINITY};
    int64_t one[1] = {1};
    for (int k = 0; k < 3; k++) {
        tn_new(&t, ops[k], 13, k == 0 ? 2 : 1);
        if (k == 0)
            tn_in(&t, 1, SP_DTYPE_INT64, 1, D(1), one);
        else
            tn_ints(&t, "axes", 1, one);
        tn_in(&t, 0, SP_DTYPE_FLOAT, 2, D(2, 0), x);
        CHECK_OK(&t);
        CU_ASSERT_EQUAL(t.vout.t.dims[0], 2);
        CU_ASSERT_EQUAL(t.vout.t.dims[1], 1);
        CU_ASSERT_EQUAL(outf(&t)[0], want[k]);
        CU_ASSERT_EQUAL(outf(&t)[1], want[k]);
        tn_free(&t);
    }

    int32_t xi[6] = {3, 7, 7, 1, 1, 0};
    for (int last = 0; last < 2; last++) {
        tn_new(&t, &sp_op_ArgMax, 13, 1);
        tn_int(&t, "axis", -1);
        tn_int(&t, "select_last_index", last);
        tn_in(&t, 0, SP_DTYPE_INT32, 2, D(2, 3), xi);
        CHECK_OK(&t);
        CU_ASSERT_EQUAL(t.vout.t.dtype, SP_DTYPE_INT64);
        CU_ASSERT_EQUAL(t.vout.t.dims[1], 1);
        CU_ASSERT_EQUAL(((int64_t *)t.vout.t.data)[0], last ? 2 : 1);
        CU_ASSERT_EQUAL(((int64_t *)t.vout.t.data)[1], last ? 1 : 0);
        tn_free(&t);
    }
    tn_new(&t, &sp_op_ArgMin, 13, 1);
    tn_int(&t, "keepdims", 0);
    tn_in(&t, 0, SP_DTYPE_INT32, 2, D(2, 3), xi);
    CHECK_OK(&t);
    CU_ASSERT_EQUAL(t.vout.t.ndim, 1);
    CU_ASSERT_EQUAL(memcmp(t.vout.t.data, (const int64_t[]){1, 1, 1}, 24), 0);
    tn_free(&t);
}

/* ----------------------------------------------------------------- quantize */

static void test_quantize_rounding_saturation(void)
{
    float x[6] = {0.25f, 0.75f, -0.25f, 1000, -1000, 0.5f}, sc[1] = {0.5f};
    struct tn t;
    /* No zero point: uint8, zero 0. 0.5 -> 0 and 1.5 -> 2 (half to even). */
    tn_new(&t, &sp_op_QuantizeLinear, 13, 2);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 1, D(6), x);
    tn_in(&t, 1, SP_DTYPE_FLOAT, 0, NULL, sc);
    CHECK_OK(&t);
    CU_ASSERT_EQUAL(t.vout.t.dtype, SP_DTYPE_UINT8);
    CU_ASSERT_EQUAL(memcmp(t.vout.t.data, (const uint8_t[]){0, 2, 0, 255, 0, 1}, 6), 0);
    tn_free(&t);

    int8_t zp[1] = {-10};
    tn_new(&t, &sp_op_QuantizeLinear, 10, 3);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 1, D(6), x);
    tn_in(&t, 1, SP_DTYPE_FLOAT, 0, NULL, sc);
    tn_in(&t, 2, SP_DTYPE_INT8, 0, NULL, zp);
    CHECK_OK(&t);
    CU_ASSERT_EQUAL(memcmp(t.vout.t.data, (const int8_t[]){-10, -8, -10, 127, -128, -9}, 6), 0);
    tn_free(&t);

    /* Per-axis (axis 0) int8 weights, then back. */
    float w[6] = {1, -2, 3, 0.1f, 0.2f, -0.3f}, ws[2] = {3.0f / 127, 0.3f / 127};
    int8_t wz[2] = {0, 0};
    tn_new(&t, &sp_op_QuantizeLinear, 13, 3);
    tn_int(&t, "axis", 0);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 2, D(2, 3), w);
    tn_in(&t, 1, SP_DTYPE_FLOAT, 1, D(2), ws);
    tn_in(&t, 2, SP_DTYPE_INT8, 1, D(2), wz);
    CHECK_OK(&t);
    int8_t q[6];
    memcpy(q, t.vout.t.data, 6);
    CU_ASSERT_EQUAL(memcmp(q, (const int8_t[]){42, -85, 127, 42, 85, -127}, 6), 0);
    tn_free(&t);
    tn_new(&t, &sp_op_DequantizeLinear, 13, 3);
    tn_int(&t, "axis", 0);
    tn_in(&t, 0, SP_DTYPE_INT8, 2, D(2, 3), q);
    tn_in(&t, 1, SP_DTYPE_FLOAT, 1, D(2), ws);
    tn_in(&t, 2, SP_DTYPE_INT8, 1, D(2), wz);
    CHECK_OK(&t);
    for (int i = 0; i < 6; i++)
        CU_ASSERT_DOUBLE_EQUAL(outf(&t)[i], w[i], ws[i / 3] / 2 + 1e-7);
    tn_free(&t);

    /* int32 bias dequantization, no zero point. */
    int32_t b[2] = {-100000, 7};
    tn_new(&t, &sp_op_DequantizeLinear, 13, 2);
    tn_in(&t, 0, SP_DTYPE_INT32, 1, D(2), b);
    tn_in(&t, 1, SP_DTYPE_FLOAT, 0, NULL, (float[]){0.01f});
    CHECK_OK(&t);
    check_f32(outf(&t), (const float[]){-1000, 0.07f}, 2, 1e-6f);
    tn_free(&t);

    /* Per-axis before opset 13 is refused; mismatched scale length too. */
    tn_new(&t, &sp_op_QuantizeLinear, 10, 2);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 2, D(2, 3), w);
    tn_in(&t, 1, SP_DTYPE_FLOAT, 1, D(2), ws);
    CU_ASSERT_NOT_EQUAL(tn_prepare(&t), SP_OK);
    tn_free(&t);
    tn_new(&t, &sp_op_QuantizeLinear, 13, 2);
    tn_in(&t, 0, SP_DTYPE_FLOAT, 2, D(2, 3), w);
    tn_in(&t, 1, SP_DTYPE_FLOAT, 1, D(2), ws); /* axis 1 has size 3 */
    CU_ASSERT_EQUAL(tn_prepare(&t), SP_ERR_MISMATCH);
    tn_free(&t);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("ops_math", NULL, NULL);
    CU_add_test(s, "broadcast shapes and collapsed plans", test_broadcast_shapes_and_plan);
    CU_add_test(s, "Add matches index arithmetic in every broadcast layout", test_add_broadcast_matches_reference);
    CU_add_test(s, "broadcast, dtype and attribute errors are refused", test_broadcast_mismatch_rejected);
    CU_add_test(s, "integer Div/Mod: truncation, sign of divisor, division by zero", test_int_div_mod_defined);
    CU_add_test(s, "Pow with integer, mixed and constant exponents", test_pow_types);
    CU_add_test(s, "variadic Max/Mean/Sum and three-way Where broadcast", test_variadic_and_where);
    CU_add_test(s, "comparisons and logic give bool", test_compare_logic);
    CU_add_test(s, "Round half to even, IsInf/IsNaN, integer Abs/Sign", test_unary_edge_cases);
    CU_add_test(s, "Clip: attributes before opset 11, optional inputs after", test_clip_opsets);
    CU_add_test(s, "HardSwish, HardSigmoid, Erf, Gelu, stable Sigmoid/Softplus", test_activation_values);
    CU_add_test(s, "PRelu slope broadcast per channel", test_prelu_channel_slope);
    CU_add_test(s, "Softmax axis: 2-D coercion before opset 13, single axis after", test_softmax_axis_semantics);
    CU_add_test(s, "ReduceMean/Max over every axis subset and keepdims", test_reduce_all_axis_subsets);
    CU_add_test(s, "reduce axes as input, noop_with_empty_axes", test_reduce_axes_input_and_noop);
    CU_add_test(s, "LogSumExp, L2, empty-set reductions, ArgMax/ArgMin", test_reduce_special);
    CU_add_test(s, "Quantize/Dequantize: half-even rounding, saturation, per-axis", test_quantize_rounding_saturation);
    return sp_test_main();
}
