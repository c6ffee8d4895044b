/*
 * Specification tests for the wider operator set (issue 3, "models we have not
 * seen"): trigonometric/hyperbolic math, Celu/ThresholdedRelu/Shrink/Hardmax,
 * PRelu at opset 6, ReduceLogSum, LpNormalization/MVN/LRN, the index ops of
 * index.c, Einsum and the integer/quantized-linear ops.
 *
 * Each op is driven through the op contract alone (init, prepare, run on one
 * hand-built node). Expected values come from the ONNX spec worked by hand
 * (tie order, half-to-even rounding, saturation, exclusive/reverse sums) or
 * from naive loops written here (Einsum against its definition, integer
 * convolution with padding against a direct sum), so a fast path that is wrong
 * in one layout is caught. Bad indices must be run-time errors, not crashes.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "engine/op.h"
#include "testutil.h"

/* ---- a one-node harness ---------------------------------------------------- */

#define H_MAX 10

struct harness {
    Onnx__NodeProto proto;
    Onnx__AttributeProto attrs[H_MAX], *attr_ptrs[H_MAX];
    char *in_names[H_MAX], *out_names[H_MAX];
    struct sp_value vin[H_MAX], vout[H_MAX], *pin[H_MAX], *pout[H_MAX];
    struct sp_node node;
    struct sp_error err;
    bool inited;
};

static char name_in[] = "x";
static char name_out[] = "y";

static void h_begin(struct harness *h, const char *op_type, int64_t opset, int n_out)
{
    memset(h, 0, sizeof *h);
    onnx__node_proto__init(&h->proto);
    h->proto.op_type = (char *)op_type;
    h->proto.name = (char *)op_type;
    h->proto.attribute = h->attr_ptrs;
    h->proto.input = h->in_names;
    h->proto.output = h->out_names;
    h->proto.n_output = (size_t)n_out;
    for (int i = 0; i < n_out; i++) {
        h->out_names[i] = name_out;
        h->pout[i] = &h->vout[i];
    }
    h->node.proto = &h->proto;
    h->node.op = sp_op_find(op_type, "");
    h->node.opset = opset;
    h->node.inputs = h->pin;
    h->node.outputs = h->pout;
    h->node.n_outputs = n_out;
}

static Onnx__AttributeProto *h_attr(struct harness *h, const char *name, Onnx__AttributeProto__AttributeType t)
{
    Onnx__AttributeProto *a = &h->attrs[h->proto.n_attribute];
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = true;
    a->type = t;
    h->attr_ptrs[h->proto.n_attribute++] = a;
    return a;
}
static void h_int(struct harness *h, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = h_attr(h, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = true;
    a->i = v;
}
static void h_float(struct harness *h, const char *name, float v)
{
    Onnx__AttributeProto *a = h_attr(h, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = true;
    a->f = v;
}
static void h_ints(struct harness *h, const char *name, int n, const int64_t *v)
{
    Onnx__AttributeProto *a = h_attr(h, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->n_ints = (size_t)n;
    a->ints = (int64_t *)v;
}
static void h_str(struct harness *h, const char *name, const char *s)
{
    Onnx__AttributeProto *a = h_attr(h, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = true;
    a->s.data = (uint8_t *)s;
    a->s.len = strlen(s);
}

/* Adds an input (data borrowed, constant); ndim < 0 omits it. */
static void h_in(struct harness *h, enum sp_dtype dt, int ndim, const int64_t *dims, const void *data)
{
    int i = h->node.n_inputs++;
    h->proto.n_input = (size_t)h->node.n_inputs;
    h->in_names[i] = name_in;
    if (ndim < 0) {
        h->pin[i] = NULL;
        return;
    }
    struct sp_value *v = &h->vin[i];
    v->t.dtype = dt;
    v->t.ndim = ndim;
    for (int d = 0; d < ndim; d++)
        v->t.dims[d] = dims[d];
    v->t.data = (void *)data;
    v->is_const = true;
    h->pin[i] = v;
}
#define IN_F(h, nd, dims, ...) h_in(h, SP_DTYPE_FLOAT, nd, (int64_t[])dims, (float[])__VA_ARGS__)
#define IN_I64(h, nd, dims, ...) h_in(h, SP_DTYPE_INT64, nd, (int64_t[])dims, (int64_t[])__VA_ARGS__)
#define D(...) {__VA_ARGS__}

static enum sp_status h_init(struct harness *h)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(h->node.op);
    enum sp_status st = h->node.op->init ? h->node.op->init(&h->node, &h->err) : SP_OK;
    h->inited = st == SP_OK;
    return st;
}

static enum sp_status h_run(struct harness *h)
{
    enum sp_status st = h->inited ? SP_OK : h_init(h);
    if (st || (st = h->node.op->prepare(&h->node, &h->err)))
        return st;
    for (int i = 0; i < h->node.n_outputs; i++) {
        struct sp_tensor *t = &h->vout[i].t;
        if (!h->pout[i])
            continue;
        struct sp_tensor shape = *t;
        sp_tensor_free(t);
        if ((st = sp_tensor_alloc(t, shape.dtype, shape.ndim, shape.dims, &h->err)))
            return st;
    }
    void *scratch = h->node.scratch_bytes ? malloc(h->node.scratch_bytes) : NULL;
    st = h->node.op->run(&h->node, scratch, &h->err);
    free(scratch);
    if (st)
        fprintf(stderr, "\n  %s: %s\n", h->proto.op_type, h->err.msg);
    return st;
}

static void h_end(struct harness *h)
{
    if (h->inited && h->node.op->free)
        h->node.op->free(&h->node);
    for (int i = 0; i < H_MAX; i++)
        sp_tensor_free(&h->vout[i].t);
}

static const struct sp_tensor *h_out(struct harness *h, int i) { return &h->vout[i].t; }

static bool dims_are(const struct sp_tensor *t, int ndim, const int64_t *dims)
{
    if (t->ndim != ndim)
        return false;
    for (int i = 0; i < ndim; i++)
        if (t->dims[i] != dims[i])
            return false;
    return true;
}

static bool f32_near(const struct sp_tensor *t, const float *want, int64_t n, double tol)
{
    if (t->dtype != SP_DTYPE_FLOAT || sp_tensor_numel(t) != n)
        return false;
    const float *g = t->data;
    for (int64_t i = 0; i < n; i++)
        if (!(fabs((double)g[i] - (double)want[i]) <= tol * (1 + fabs((double)want[i])))) {
            fprintf(stderr, "\n  element %lld: got %.9g, want %.9g\n", (long long)i, g[i], want[i]);
            return false;
        }
    return true;
}

static bool i64_are(const struct sp_tensor *t, const int64_t *want, int64_t n)
{
    if (t->dtype != SP_DTYPE_INT64 || sp_tensor_numel(t) != n)
        return false;
    return memcmp(t->data, want, sizeof(int64_t) * (size_t)n) == 0;
}

static bool bytes_are(const struct sp_tensor *t, enum sp_dtype dt, const void *want, int64_t n)
{
    return t->dtype == dt && sp_tensor_numel(t) == n && memcmp(t->data, want, (size_t)n * sp_dtype_size(dt)) == 0;
}

/* Deterministic pseudo-random floats in [-1, 1). */
static uint32_t rng = 12345;
static float frand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}

/* ---- unary math and activations --------------------------------------------- */

static void test_trig_and_hyperbolic(void)
{
    static const struct {
        const char *op;
        double (*ref)(double);
        float x[3];
    } cases[] = {
        {"Tan", tan, {-1.2f, 0.1f, 0.7f}},    {"Asin", asin, {-0.9f, 0.0f, 0.5f}}, {"Acos", acos, {-0.9f, 0.0f, 0.5f}},
        {"Atan", atan, {-3.0f, 0.2f, 10.0f}}, {"Sinh", sinh, {-2.0f, 0.1f, 3.0f}}, {"Cosh", cosh, {-2.0f, 0.1f, 3.0f}},
        {"Asinh", asinh, {-2.0f, 0.1f, 3.0f}}, {"Acosh", acosh, {1.0f, 1.5f, 10.0f}},
        {"Atanh", atanh, {-0.9f, 0.0f, 0.5f}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct harness h;
        h_begin(&h, cases[c].op, 9, 1);
        h_in(&h, SP_DTYPE_FLOAT, 1, (int64_t[]){3}, cases[c].x);
        CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
        float want[3];
        for (int i = 0; i < 3; i++)
            want[i] = (float)cases[c].ref(cases[c].x[i]);
        CU_ASSERT(f32_near(h_out(&h, 0), want, 3, 1e-6));
        h_end(&h);
    }
    /* Integer input is refused at prepare, not computed wrongly. */
    struct harness h;
    h_begin(&h, "Sinh", 9, 1);
    IN_I64(&h, 1, D(1), D(1));
    CU_ASSERT_EQUAL(h_run(&h), SP_ERR_UNSUPPORTED);
    h_end(&h);
}

static void test_celu_thresholded_shrink(void)
{
    struct harness h;
    h_begin(&h, "Celu", 12, 1);
    h_float(&h, "alpha", 2.0f);
    IN_F(&h, 1, D(3), D(-1.0f, 0.0f, 3.0f));
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(f32_near(h_out(&h, 0), (float[]){(float)(2.0 * (exp(-0.5) - 1)), 0.0f, 3.0f}, 3, 1e-6));
    h_end(&h);

    h_begin(&h, "ThresholdedRelu", 10, 1);
    h_float(&h, "alpha", 1.5f);
    IN_F(&h, 1, D(4), D(1.5f, 1.6f, -3.0f, 0.0f));
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(f32_near(h_out(&h, 0), (float[]){0, 1.6f, 0, 0}, 4, 0));
    h_end(&h);

    h_begin(&h, "Shrink", 9, 1);
    h_float(&h, "lambd", 1.0f);
    h_float(&h, "bias", 0.25f);
    IN_F(&h, 1, D(5), D(-2.0f, -1.0f, 0.5f, 1.0f, 3.0f));
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(f32_near(h_out(&h, 0), (float[]){-1.75f, 0, 0, 0, 2.75f}, 5, 0));
    h_end(&h);

    /* Celu alpha 0 divides by zero: refused at init (and init frees its state). */
    h_begin(&h, "Celu", 12, 1);
    h_float(&h, "alpha", 0.0f);
    IN_F(&h, 1, D(1), D(1.0f));
    CU_ASSERT_EQUAL(h_init(&h), SP_ERR_FORMAT);
    h_end(&h);
}

static void test_hardmax_ties_and_axis_rules(void)
{
    struct harness h;
    /* opset 13: one axis (default -1); ties go to the first maximum. */
    h_begin(&h, "Hardmax", 13, 1);
    IN_F(&h, 2, D(2, 4), D(1, 3, 3, 2, -1, -5, -1, -2));
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(f32_near(h_out(&h, 0), (float[]){0, 1, 0, 0, 1, 0, 0, 0}, 8, 0));
    h_end(&h);
    /* opset 11, axis 0: the whole tensor is one row after flattening. */
    h_begin(&h, "Hardmax", 11, 1);
    h_int(&h, "axis", 0);
    IN_F(&h, 2, D(2, 2), D(1, 2, 9, 3));
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(f32_near(h_out(&h, 0), (float[]){0, 0, 1, 0}, 4, 0));
    h_end(&h);
    /* opset 13, axis 0: per column. */
    h_begin(&h, "Hardmax", 13, 1);
    h_int(&h, "axis", 0);
    IN_F(&h, 2, D(2, 2), D(1, 5, 9, 3));
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(f32_near(h_out(&h, 0), (float[]){0, 1, 1, 0}, 4, 0));
    h_end(&h);
}

static void test_prelu_opset6_per_channel(void)
{
    struct harness h;
    h_begin(&h, "PRelu", 6, 1);
    IN_F(&h, 3, D(1, 2, 3), D(-1, 2, -3, -1, 2, -3));
    IN_F(&h, 1, D(2), D(0.5f, 2.0f));
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(f32_near(h_out(&h, 0), (float[]){-0.5f, 2, -1.5f, -2, 2, -6}, 6, 0));
    h_end(&h);
    /* From opset 7 the same slope aligns to the last axis (3 != 2): refused. */
    h_begin(&h, "PRelu", 7, 1);
    IN_F(&h, 3, D(1, 2, 3), D(-1, 2, -3, -1, 2, -3));
    IN_F(&h, 1, D(2), D(0.5f, 2.0f));
    CU_ASSERT_EQUAL(h_run(&h), SP_ERR_MISMATCH);
    h_end(&h);
}

static void test_reduce_log_sum(void)
{
    struct harness h;
    h_begin(&h, "ReduceLogSum", 13, 1);
    h_ints(&h, "axes", 1, (int64_t[]){1});
    h_int(&h, "keepdims", 0);
    IN_F(&h, 2, D(2, 3), D(1, 2, 3, 0.5f, 0.25f, 0.25f));
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(dims_are(h_out(&h, 0), 1, (int64_t[]){2}));
    CU_ASSERT(f32_near(h_out(&h, 0), (float[]){(float)log(6.0), 0.0f}, 2, 1e-6));
    h_end(&h);
}

/* ---- normalizations ---------------------------------------------------------- */

static void test_lp_normalization(void)
{
    struct harness h;
    h_begin(&h, "LpNormalization", 1, 1);
    h_int(&h, "axis", 0);
    h_int(&h, "p", 2);
    IN_F(&h, 2, D(2, 2), D(3, 0, 4, 0));
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(f32_near(h_out(&h, 0), (float[]){0.6f, 0, 0.8f, 0}, 4, 1e-7)); /* zero column stays zero */
    h_end(&h);
    h_begin(&h, "LpNormalization", 1, 1);
    h_int(&h, "p", 1);
    IN_F(&h, 2, D(1, 4), D(1, -1, 2, 0));
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(f32_near(h_out(&h, 0), (float[]){0.25f, -0.25f, 0.5f, 0}, 4, 1e-7));
    h_end(&h);
    h_begin(&h, "LpNormalization", 1, 1);
    h_int(&h, "p", 3);
    IN_F(&h, 1, D(1), D(1));
    CU_ASSERT_EQUAL(h_init(&h), SP_ERR_UNSUPPORTED);
    h_end(&h);
}

static void test_mvn_matches_naive(void)
{
    float x[2 * 3 * 2 * 2];
    for (int i = 0; i < 24; i++)
        x[i] = frand() * 3 + (float)(i % 3);
    struct harness h;
    h_begin(&h, "MeanVarianceNormalization", 13, 1);
    h_in(&h, SP_DTYPE_FLOAT, 4, (int64_t[]){2, 3, 2, 2}, x);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    /* default axes {0, 2, 3}: statistics per channel over N, H, W */
    float want[24];
    for (int c = 0; c < 3; c++) {
        double s = 0, q = 0;
        for (int b = 0; b < 2; b++)
            for (int p = 0; p < 4; p++)
                s += x[(b * 3 + c) * 4 + p];
        double mean = s / 8;
        for (int b = 0; b < 2; b++)
            for (int p = 0; p < 4; p++)
                q += (x[(b * 3 + c) * 4 + p] - mean) * (x[(b * 3 + c) * 4 + p] - mean);
        double sd = sqrt(q / 8);
        for (int b = 0; b < 2; b++)
            for (int p = 0; p < 4; p++)
                want[(b * 3 + c) * 4 + p] = (float)((x[(b * 3 + c) * 4 + p] - mean) / (sd + 1e-9));
    }
    CU_ASSERT(f32_near(h_out(&h, 0), want, 24, 1e-5));
    h_end(&h);
}

static void test_lrn_window(void)
{
    /* 1 x 4 channels x 1 pixel, size 3: channel c sums c-1..c+1. */
    float x[4] = {1, 2, 3, 4};
    struct harness h;
    h_begin(&h, "LRN", 13, 1);
    h_int(&h, "size", 3);
    h_float(&h, "alpha", 0.3f);
    h_float(&h, "beta", 0.5f);
    h_float(&h, "bias", 2.0f);
    h_in(&h, SP_DTYPE_FLOAT, 4, (int64_t[]){1, 4, 1, 1}, x);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    double sq[4] = {1 + 4, 1 + 4 + 9, 4 + 9 + 16, 9 + 16};
    float want[4];
    for (int c = 0; c < 4; c++)
        want[c] = (float)(x[c] / pow(2.0 + 0.3 / 3 * sq[c], 0.5));
    CU_ASSERT(f32_near(h_out(&h, 0), want, 4, 1e-6));
    h_end(&h);
    /* size is required */
    h_begin(&h, "LRN", 13, 1);
    h_in(&h, SP_DTYPE_FLOAT, 4, (int64_t[]){1, 4, 1, 1}, x);
    CU_ASSERT_EQUAL(h_init(&h), SP_ERR_FORMAT);
    h_end(&h);
}

/* ---- index ops ---------------------------------------------------------------- */

static void test_gathernd_batch_dims_and_bounds(void)
{
    struct harness h;
    /* data [2,2,2], batch_dims 1, indices [2,1,1]: picks data[b, idx] rows. */
    h_begin(&h, "GatherND", 13, 1);
    h_int(&h, "batch_dims", 1);
    IN_F(&h, 3, D(2, 2, 2), D(0, 1, 2, 3, 4, 5, 6, 7));
    IN_I64(&h, 3, D(2, 1, 1), D(1, -2));
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(dims_are(h_out(&h, 0), 3, (int64_t[]){2, 1, 2}));
    CU_ASSERT(f32_near(h_out(&h, 0), (float[]){2, 3, 4, 5}, 4, 0));
    h_end(&h);
    /* An index past the end is a run-time error naming the node. */
    h_begin(&h, "GatherND", 13, 1);
    IN_F(&h, 2, D(2, 2), D(0, 1, 2, 3));
    IN_I64(&h, 2, D(1, 2), D(0, 2));
    CU_ASSERT_EQUAL(h_run(&h), SP_ERR_MISMATCH);
    CU_ASSERT_PTR_NOT_NULL(strstr(h.err.msg, "GatherND"));
    h_end(&h);
}

static void test_scatternd_reductions(void)
{
    struct harness h;
    /* Duplicate index 1 with add: both updates land. */
    h_begin(&h, "ScatterND", 16, 1);
    h_str(&h, "reduction", "add");
    IN_F(&h, 1, D(4), D(1, 1, 1, 1));
    IN_I64(&h, 2, D(3, 1), D(1, 3, 1));
    IN_F(&h, 1, D(3), D(10, 20, 30));
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(f32_near(h_out(&h, 0), (float[]){1, 41, 1, 21}, 4, 0));
    h_end(&h);
    /* Slices: data [2,2], index row 1 replaced. */
    h_begin(&h, "ScatterND", 13, 1);
    IN_F(&h, 2, D(2, 2), D(1, 2, 3, 4));
    IN_I64(&h, 2, D(1, 1), D(-1));
    IN_F(&h, 2, D(1, 2), D(7, 8));
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(f32_near(h_out(&h, 0), (float[]){1, 2, 7, 8}, 4, 0));
    h_end(&h);
    /* max arrives in opset 18: at 16 it is refused at init. */
    h_begin(&h, "ScatterND", 16, 1);
    h_str(&h, "reduction", "max");
    IN_F(&h, 1, D(1), D(1));
    IN_I64(&h, 2, D(1, 1), D(0));
    IN_F(&h, 1, D(1), D(1));
    CU_ASSERT_EQUAL(h_init(&h), SP_ERR_UNSUPPORTED);
    h_end(&h);
}

static void test_scatter_elements(void)
{
    struct harness h;
    h_begin(&h, "ScatterElements", 16, 1);
    h_int(&h, "axis", 1);
    h_str(&h, "reduction", "mul");
    IN_F(&h, 2, D(2, 3), D(1, 2, 3, 4, 5, 6));
    IN_I64(&h, 2, D(2, 2), D(0, -1, 2, 2));
    IN_F(&h, 2, D(2, 2), D(10, 100, 2, 3));
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(f32_near(h_out(&h, 0), (float[]){10, 2, 300, 4, 5, 36}, 6, 0));
    h_end(&h);
    h_begin(&h, "ScatterElements", 13, 1);
    IN_F(&h, 1, D(3), D(1, 2, 3));
    IN_I64(&h, 1, D(1), D(-4));
    IN_F(&h, 1, D(1), D(9));
    CU_ASSERT_EQUAL(h_run(&h), SP_ERR_MISMATCH);
    h_end(&h);
}

static void test_onehot_axis_and_out_of_range(void)
{
    struct harness h;
    h_begin(&h, "OneHot", 11, 1);
    h_int(&h, "axis", 0);
    IN_I64(&h, 1, D(4), D(0, -1, 5, 1));
    h_in(&h, SP_DTYPE_FLOAT, 0, NULL, (float[]){3});
    IN_F(&h, 1, D(2), D(-1, 7));
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(dims_are(h_out(&h, 0), 2, (int64_t[]){3, 4}));
    /* columns: index 0 -> row 0, -1 -> row 2, 5 -> none, 1 -> row 1 */
    CU_ASSERT(f32_near(h_out(&h, 0), (float[]){7, -1, -1, -1, -1, -1, -1, 7, -1, 7, -1, -1}, 12, 0));
    h_end(&h);
}

static void test_trilu(void)
{
    float x[12];
    for (int i = 0; i < 12; i++)
        x[i] = (float)(i + 1);
    struct harness h;
    h_begin(&h, "Trilu", 14, 1);
    h_in(&h, SP_DTYPE_FLOAT, 2, (int64_t[]){3, 4}, x);
    IN_I64(&h, 0, D(0), D(1));
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(f32_near(h_out(&h, 0), (float[]){0, 2, 3, 4, 0, 0, 7, 8, 0, 0, 0, 12}, 12, 0));
    h_end(&h);
    h_begin(&h, "Trilu", 14, 1);
    h_int(&h, "upper", 0);
    h_in(&h, SP_DTYPE_FLOAT, 2, (int64_t[]){3, 4}, x);
    IN_I64(&h, 0, D(0), D(-1));
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(f32_near(h_out(&h, 0), (float[]){0, 0, 0, 0, 5, 0, 0, 0, 9, 10, 0, 0}, 12, 0));
    h_end(&h);
    /* A huge k neither overflows nor crashes: upper keeps nothing. */
    h_begin(&h, "Trilu", 14, 1);
    h_in(&h, SP_DTYPE_FLOAT, 2, (int64_t[]){3, 4}, x);
    IN_I64(&h, 0, D(0), D(INT64_MAX));
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(f32_near(h_out(&h, 0), (float[12]){0}, 12, 0));
    h_end(&h);
    /* ... and a hugely negative k keeps everything. */
    h_begin(&h, "Trilu", 14, 1);
    h_in(&h, SP_DTYPE_FLOAT, 2, (int64_t[]){3, 4}, x);
    IN_I64(&h, 0, D(0), D(INT64_MIN));
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(f32_near(h_out(&h, 0), x, 12, 0));
    h_end(&h);
}

static void test_cumsum_exclusive_reverse(void)
{
    struct harness h;
    h_begin(&h, "CumSum", 14, 1);
    h_int(&h, "exclusive", 1);
    h_int(&h, "reverse", 1);
    IN_F(&h, 2, D(2, 3), D(1, 2, 3, 4, 5, 6));
    IN_I64(&h, 0, D(0), D(-1));
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(f32_near(h_out(&h, 0), (float[]){5, 3, 0, 11, 6, 0}, 6, 0));
    h_end(&h);
    h_begin(&h, "CumSum", 14, 1);
    IN_I64(&h, 2, D(2, 2), D(1, 2, 3, 4));
    h_in(&h, SP_DTYPE_INT32, 0, NULL, (int32_t[]){0});
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(i64_are(h_out(&h, 0), (int64_t[]){1, 2, 4, 6}, 4));
    h_end(&h);
}

static void test_topk_ties_and_axis(void)
{
    struct harness h;
    h_begin(&h, "TopK", 11, 2);
    IN_F(&h, 2, D(2, 5), D(3, 1, 3, 5, 1, 2, 2, 2, 9, 0));
    IN_I64(&h, 1, D(1), D(3));
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(f32_near(h_out(&h, 0), (float[]){5, 3, 3, 9, 2, 2}, 6, 0));
    CU_ASSERT(i64_are(h_out(&h, 1), (int64_t[]){3, 0, 2, 3, 0, 1}, 6));
    h_end(&h);
    /* smallest along axis 0, ties lowest index first */
    h_begin(&h, "TopK", 11, 2);
    h_int(&h, "axis", 0);
    h_int(&h, "largest", 0);
    IN_F(&h, 2, D(3, 2), D(4, 1, 2, 1, 2, 0));
    IN_I64(&h, 1, D(1), D(2));
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(f32_near(h_out(&h, 0), (float[]){2, 0, 2, 1}, 4, 0));
    CU_ASSERT(i64_are(h_out(&h, 1), (int64_t[]){1, 2, 2, 0}, 4));
    h_end(&h);
    /* K larger than the axis is refused at prepare. */
    h_begin(&h, "TopK", 11, 2);
    IN_F(&h, 1, D(2), D(1, 2));
    IN_I64(&h, 1, D(1), D(3));
    CU_ASSERT_EQUAL(h_run(&h), SP_ERR_FORMAT);
    h_end(&h);
    /* opset 1: k is an attribute */
    h_begin(&h, "TopK", 1, 2);
    h_int(&h, "k", 1);
    IN_F(&h, 1, D(3), D(1, 7, 2));
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(i64_are(h_out(&h, 1), (int64_t[]){1}, 1));
    h_end(&h);
}

static void test_eyelike(void)
{
    struct harness h;
    h_begin(&h, "EyeLike", 9, 1);
    h_int(&h, "k", 1);
    h_int(&h, "dtype", SP_DTYPE_INT32);
    IN_F(&h, 2, D(3, 3), D(0, 0, 0, 0, 0, 0, 0, 0, 0));
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(bytes_are(h_out(&h, 0), SP_DTYPE_INT32, (int32_t[]){0, 1, 0, 0, 0, 1, 0, 0, 0}, 9));
    h_end(&h);
}

/* ---- Einsum --------------------------------------------------------------------- */

/* Runs Einsum on float32 (sgemm path where it applies) and float64 (reference
 * loop) and checks both against `want`. */
static void einsum_check(const char *eq, int n_in, const int *ndims, const int64_t (*dims)[4], float *const *data,
                         int out_nd, const int64_t *out_dims, const float *want)
{
    for (int pass = 0; pass < 2; pass++) {
        struct harness h;
        double *dbl[3] = {NULL, NULL, NULL};
        h_begin(&h, "Einsum", 12, 1);
        h_str(&h, "equation", eq);
        for (int i = 0; i < n_in; i++) {
            int64_t numel = 1;
            for (int d = 0; d < ndims[i]; d++)
                numel *= dims[i][d];
            if (pass == 0) {
                h_in(&h, SP_DTYPE_FLOAT, ndims[i], dims[i], data[i]);
            } else {
                dbl[i] = malloc(sizeof(double) * (size_t)(numel ? numel : 1));
                for (int64_t k = 0; k < numel; k++)
                    dbl[i][k] = data[i][k];
                h_in(&h, SP_DTYPE_DOUBLE, ndims[i], dims[i], dbl[i]);
            }
        }
        CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
        const struct sp_tensor *y = h_out(&h, 0);
        CU_ASSERT(dims_are(y, out_nd, out_dims));
        int64_t n = sp_tensor_numel(y);
        bool ok = true;
        for (int64_t k = 0; k < n; k++) {
            double g = pass == 0 ? ((const float *)y->data)[k] : ((const double *)y->data)[k];
            if (fabs(g - want[k]) > 1e-4 * (1 + fabs(want[k]))) {
                fprintf(stderr, "\n  %s (%s) element %lld: got %g want %g\n", eq, pass ? "f64" : "f32", (long long)k, g,
                        want[k]);
                ok = false;
                break;
            }
        }
        CU_ASSERT(ok);
        h_end(&h);
        for (int i = 0; i < 3; i++)
            free(dbl[i]);
    }
}

static void test_einsum_attention_forms(void)
{
    /* bhid,bhjd->bhij with b=2, h=2, i=3, j=4, d=5 against the definition */
    enum { B = 2, H = 2, I = 3, J = 4, DD = 5 };
    static float q[B * H * I * DD], k[B * H * J * DD], want[B * H * I * J];
    for (int t = 0; t < B * H * I * DD; t++)
        q[t] = frand();
    for (int t = 0; t < B * H * J * DD; t++)
        k[t] = frand();
    for (int b = 0; b < B * H; b++)
        for (int i = 0; i < I; i++)
            for (int j = 0; j < J; j++) {
                double s = 0;
                for (int d = 0; d < DD; d++)
                    s += (double)q[(b * I + i) * DD + d] * k[(b * J + j) * DD + d];
                want[(b * I + i) * J + j] = (float)s;
            }
    einsum_check("bhid,bhjd->bhij", 2, (int[]){4, 4}, (const int64_t[][4]){{B, H, I, DD}, {B, H, J, DD}},
                 (float *const[]){q, k}, 4, (int64_t[]){B, H, I, J}, want);

    /* bij,bjk->bik with an output permutation: ->bki */
    static float a[2 * 3 * 4], c[2 * 4 * 5], w2[2 * 5 * 3];
    for (int t = 0; t < 24; t++)
        a[t] = frand();
    for (int t = 0; t < 40; t++)
        c[t] = frand();
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < 3; i++)
            for (int kk = 0; kk < 5; kk++) {
                double s = 0;
                for (int j = 0; j < 4; j++)
                    s += (double)a[(b * 3 + i) * 4 + j] * c[(b * 4 + j) * 5 + kk];
                w2[(b * 5 + kk) * 3 + i] = (float)s;
            }
    einsum_check("bij,bjk->bki", 2, (int[]){3, 3}, (const int64_t[][4]){{2, 3, 4}, {2, 4, 5}}, (float *const[]){a, c},
                 3, (int64_t[]){2, 5, 3}, w2);
}

static void test_einsum_transpose_trace_diag_ellipsis(void)
{
    float m[6] = {1, 2, 3, 4, 5, 6};
    einsum_check("ij->ji", 1, (int[]){2}, (const int64_t[][4]){{2, 3}}, (float *const[]){m}, 2, (int64_t[]){3, 2},
                 (float[]){1, 4, 2, 5, 3, 6});
    float sq[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    einsum_check("ii", 1, (int[]){2}, (const int64_t[][4]){{3, 3}}, (float *const[]){sq}, 0, NULL, (float[]){15});
    einsum_check("ii->i", 1, (int[]){2}, (const int64_t[][4]){{3, 3}}, (float *const[]){sq}, 1, (int64_t[]){3},
                 (float[]){1, 5, 9});
    einsum_check("ij->", 1, (int[]){2}, (const int64_t[][4]){{2, 3}}, (float *const[]){m}, 0, NULL, (float[]){21});
    /* implicit output: "ij,jk" is a matmul, output labels sorted: ik */
    float e[6] = {1, 0, 0, 1, 1, 1};
    einsum_check("ij,jk", 2, (int[]){2, 2}, (const int64_t[][4]){{2, 3}, {3, 2}}, (float *const[]){m, e}, 2,
                 (int64_t[]){2, 2}, (float[]){1 + 3, 2 + 3, 4 + 6, 5 + 6});
    /* ellipsis broadcast: [1,2,3] x [2,3,2] -> [2,2,2] */
    float f[12] = {1, 0, 0, 1, 1, 1, 2, 0, 0, 2, 0, 0};
    einsum_check("...ij,...jk->...ik", 2, (int[]){3, 3}, (const int64_t[][4]){{1, 2, 3}, {2, 3, 2}},
                 (float *const[]){m, f}, 3, (int64_t[]){2, 2, 2}, (float[]){4, 5, 10, 11, 2, 4, 8, 10});
    /* malformed equations are refused at load */
    struct harness h;
    h_begin(&h, "Einsum", 12, 1);
    h_str(&h, "equation", "ij,jk->i$");
    IN_F(&h, 2, D(1, 1), D(1));
    IN_F(&h, 2, D(1, 1), D(1));
    CU_ASSERT_EQUAL(h_init(&h), SP_ERR_FORMAT);
    h_end(&h);
    /* An implicit output of 10 axes exceeds the rank limit: refused, no overflow. */
    float one = 1;
    h_begin(&h, "Einsum", 12, 1);
    h_str(&h, "equation", "abcde,fghij");
    h_in(&h, SP_DTYPE_FLOAT, 5, (int64_t[]){1, 1, 1, 1, 1}, &one);
    h_in(&h, SP_DTYPE_FLOAT, 5, (int64_t[]){1, 1, 1, 1, 1}, &one);
    CU_ASSERT_EQUAL(h_run(&h), SP_ERR_UNSUPPORTED);
    h_end(&h);
    h_begin(&h, "Einsum", 12, 1);
    h_str(&h, "equation", "ij->ij");
    IN_F(&h, 2, D(1, 1), D(1));
    IN_F(&h, 2, D(1, 1), D(1));
    CU_ASSERT_EQUAL(h_init(&h), SP_ERR_FORMAT);
    h_end(&h);
}

/* ---- integer and quantized ops -------------------------------------------------- */

static void test_dynamic_quantize_linear(void)
{
    struct harness h;
    h_begin(&h, "DynamicQuantizeLinear", 11, 3);
    IN_F(&h, 1, D(6), D(0, 2, -3, -2.5f, 1.34f, 0.5f));
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    float scale = 5.0f / 255.0f;
    CU_ASSERT(f32_near(h_out(&h, 1), &scale, 1, 0));
    CU_ASSERT(bytes_are(h_out(&h, 2), SP_DTYPE_UINT8, (uint8_t[]){153}, 1));
    CU_ASSERT(bytes_are(h_out(&h, 0), SP_DTYPE_UINT8, (uint8_t[]){153, 255, 0, 26, 221, 179}, 6));
    h_end(&h);
    /* all zeros: scale 0, no division by zero */
    h_begin(&h, "DynamicQuantizeLinear", 11, 3);
    IN_F(&h, 1, D(2), D(0, 0));
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(bytes_are(h_out(&h, 0), SP_DTYPE_UINT8, (uint8_t[]){0, 0}, 2));
    h_end(&h);
}

static void test_matmul_integer_per_column(void)
{
    /* A uint8 [2,3] zp 10; B int8 [3,2] zp per column {1, -2} */
    uint8_t a[6] = {10, 255, 0, 12, 11, 200};
    int8_t b[6] = {1, -128, 127, 0, -5, 3};
    struct harness h;
    h_begin(&h, "MatMulInteger", 10, 1);
    h_in(&h, SP_DTYPE_UINT8, 2, (int64_t[]){2, 3}, a);
    h_in(&h, SP_DTYPE_INT8, 2, (int64_t[]){3, 2}, b);
    h_in(&h, SP_DTYPE_UINT8, 0, NULL, (uint8_t[]){10});
    h_in(&h, SP_DTYPE_INT8, 1, (int64_t[]){2}, (int8_t[]){1, -2});
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    int32_t want[4];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            int32_t s = 0;
            for (int k = 0; k < 3; k++)
                s += (a[i * 3 + k] - 10) * (b[k * 2 + j] - (j ? -2 : 1));
            want[i * 2 + j] = s;
        }
    CU_ASSERT(bytes_are(h_out(&h, 0), SP_DTYPE_INT32, want, 4));
    h_end(&h);
}

static void test_qlinear_matmul_rounding_and_saturation(void)
{
    /* acc = a*b exactly; multiplier 0.5: 1.5 -> 2 and 2.5 -> 2 (half to even), 127.5 -> 128. */
    uint8_t a[3] = {3, 5, 255}, b[1] = {1};
    struct harness h;
    h_begin(&h, "QLinearMatMul", 10, 1);
    h_in(&h, SP_DTYPE_UINT8, 2, (int64_t[]){3, 1}, a);
    h_in(&h, SP_DTYPE_FLOAT, 0, NULL, (float[]){1.0f});
    h_in(&h, SP_DTYPE_UINT8, 0, NULL, (uint8_t[]){0});
    h_in(&h, SP_DTYPE_UINT8, 2, (int64_t[]){1, 1}, b);
    h_in(&h, SP_DTYPE_FLOAT, 0, NULL, (float[]){1.0f});
    h_in(&h, SP_DTYPE_UINT8, 0, NULL, (uint8_t[]){0});
    h_in(&h, SP_DTYPE_FLOAT, 0, NULL, (float[]){2.0f});
    h_in(&h, SP_DTYPE_UINT8, 0, NULL, (uint8_t[]){0});
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(bytes_are(h_out(&h, 0), SP_DTYPE_UINT8, (uint8_t[]){2, 2, 128}, 3));
    h_end(&h);
    /* int8 output saturates at -128 */
    int8_t a8[2] = {-128, 100}, b8[1] = {127};
    h_begin(&h, "QLinearMatMul", 10, 1);
    h_in(&h, SP_DTYPE_INT8, 2, (int64_t[]){2, 1}, a8);
    h_in(&h, SP_DTYPE_FLOAT, 0, NULL, (float[]){1.0f});
    h_in(&h, SP_DTYPE_INT8, 0, NULL, (int8_t[]){0});
    h_in(&h, SP_DTYPE_INT8, 2, (int64_t[]){1, 1}, b8);
    h_in(&h, SP_DTYPE_FLOAT, 0, NULL, (float[]){1.0f});
    h_in(&h, SP_DTYPE_INT8, 0, NULL, (int8_t[]){0});
    h_in(&h, SP_DTYPE_FLOAT, 0, NULL, (float[]){1.0f});
    h_in(&h, SP_DTYPE_INT8, 0, NULL, (int8_t[]){5});
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(bytes_are(h_out(&h, 0), SP_DTYPE_INT8, (int8_t[]){-128, 127}, 2));
    h_end(&h);
}

/* Direct integer convolution (1 image, stride 1, symmetric padding) for checks. */
static void naive_conv_int(const uint8_t *x, int C, int H, int W, int xzp, const int8_t *w, int M, int KH, int KW,
                           const int8_t *wzp, int pad, int32_t *y)
{
    int OH = H + 2 * pad - KH + 1, OW = W + 2 * pad - KW + 1;
    for (int m = 0; m < M; m++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                int32_t s = 0;
                for (int c = 0; c < C; c++)
                    for (int i = 0; i < KH; i++)
                        for (int j = 0; j < KW; j++) {
                            int ih = oh + i - pad, iw = ow + j - pad;
                            int xv = ih < 0 || iw < 0 || ih >= H || iw >= W ? xzp : x[(c * H + ih) * W + iw];
                            s += (xv - xzp) * (w[((m * C + c) * KH + i) * KW + j] - wzp[m]);
                        }
                y[(m * OH + oh) * OW + ow] = s;
            }
}

static void test_conv_integer_and_qlinear_conv(void)
{
    enum { C = 2, H = 4, W = 3, M = 3, K = 3 };
    uint8_t x[C * H * W];
    int8_t w[M * C * K * K];
    for (int i = 0; i < C * H * W; i++)
        x[i] = (uint8_t)(i * 37 % 256);
    for (int i = 0; i < M * C * K * K; i++)
        w[i] = (int8_t)(i * 53 % 256 - 128);
    int8_t wzp[M] = {3, -7, 0};
    int32_t want[M * H * W];
    naive_conv_int(x, C, H, W, 7, w, M, K, K, wzp, 1, want);

    struct harness h;
    h_begin(&h, "ConvInteger", 10, 1);
    h_ints(&h, "pads", 4, (int64_t[]){1, 1, 1, 1});
    h_in(&h, SP_DTYPE_UINT8, 4, (int64_t[]){1, C, H, W}, x);
    h_in(&h, SP_DTYPE_INT8, 4, (int64_t[]){M, C, K, K}, w);
    h_in(&h, SP_DTYPE_UINT8, 0, NULL, (uint8_t[]){7});
    h_in(&h, SP_DTYPE_INT8, 1, (int64_t[]){M}, wzp);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(dims_are(h_out(&h, 0), 4, (int64_t[]){1, M, H, W}));
    CU_ASSERT(bytes_are(h_out(&h, 0), SP_DTYPE_INT32, want, M * H * W));
    h_end(&h);

    /* QLinearConv: per-channel w_scale and an int32 bias, requantized to uint8. */
    float wsc[M] = {0.01f, 0.02f, 0.005f};
    int32_t bias[M] = {100, -2000, 0};
    float xs = 0.05f, ys = 0.7f;
    uint8_t qwant[M * H * W];
    for (int m = 0; m < M; m++)
        for (int p = 0; p < H * W; p++) {
            float mult = xs * wsc[m] / ys;
            float v = nearbyintf((float)(want[m * H * W + p] + bias[m]) * mult) + 128.0f;
            qwant[m * H * W + p] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    h_begin(&h, "QLinearConv", 10, 1);
    h_ints(&h, "pads", 4, (int64_t[]){1, 1, 1, 1});
    h_in(&h, SP_DTYPE_UINT8, 4, (int64_t[]){1, C, H, W}, x);
    h_in(&h, SP_DTYPE_FLOAT, 0, NULL, &xs);
    h_in(&h, SP_DTYPE_UINT8, 0, NULL, (uint8_t[]){7});
    h_in(&h, SP_DTYPE_INT8, 4, (int64_t[]){M, C, K, K}, w);
    h_in(&h, SP_DTYPE_FLOAT, 1, (int64_t[]){M}, wsc);
    h_in(&h, SP_DTYPE_INT8, 1, (int64_t[]){M}, wzp);
    h_in(&h, SP_DTYPE_FLOAT, 0, NULL, &ys);
    h_in(&h, SP_DTYPE_UINT8, 0, NULL, (uint8_t[]){128});
    h_in(&h, SP_DTYPE_INT32, 1, (int64_t[]){M}, bias);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(bytes_are(h_out(&h, 0), SP_DTYPE_UINT8, qwant, M * H * W));
    h_end(&h);

    /* A w_zero_point of the wrong length is refused, not misread. */
    h_begin(&h, "ConvInteger", 10, 1);
    h_in(&h, SP_DTYPE_UINT8, 4, (int64_t[]){1, C, H, W}, x);
    h_in(&h, SP_DTYPE_INT8, 4, (int64_t[]){M, C, K, K}, w);
    h_in(&h, SP_DTYPE_UINT8, 0, NULL, (uint8_t[]){7});
    h_in(&h, SP_DTYPE_INT8, 1, (int64_t[]){2}, wzp);
    CU_ASSERT_EQUAL(h_run(&h), SP_ERR_UNSUPPORTED);
    h_end(&h);
}

static void test_unknown_attributes_refused(void)
{
    static const char *const ops[] = {"Trilu", "GatherND", "TopK", "LRN", "Celu", "QLinearMatMul", "Einsum", "OneHot"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        struct harness h;
        h_begin(&h, ops[i], 13, 1);
        h_int(&h, "not_an_attribute", 1);
        for (int k = 0; k < 8; k++)
            IN_F(&h, 1, D(1), D(1));
        CU_ASSERT_NOT_EQUAL(h_init(&h), SP_OK);
        CU_ASSERT_PTR_NOT_NULL(strstr(h.err.msg, "not_an_attribute"));
        h_end(&h);
    }
}

int main(void)
{
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("ops_more", NULL, NULL);
    CU_add_test(s, "trigonometric and hyperbolic functions", test_trig_and_hyperbolic);
    CU_add_test(s, "Celu, ThresholdedRelu, Shrink", test_celu_thresholded_shrink);
    CU_add_test(s, "Hardmax: first maximum wins, opset axis rules", test_hardmax_ties_and_axis_rules);
    CU_add_test(s, "PRelu opset 6: 1-D slope is per channel", test_prelu_opset6_per_channel);
    CU_add_test(s, "ReduceLogSum", test_reduce_log_sum);
    CU_add_test(s, "LpNormalization p=1, p=2, zero norm", test_lp_normalization);
    CU_add_test(s, "MeanVarianceNormalization matches a naive loop", test_mvn_matches_naive);
    CU_add_test(s, "LRN channel window", test_lrn_window);
    CU_add_test(s, "GatherND batch_dims and out-of-range index", test_gathernd_batch_dims_and_bounds);
    CU_add_test(s, "ScatterND add with duplicates, slices, opset gating", test_scatternd_reductions);
    CU_add_test(s, "ScatterElements mul, negative and bad indices", test_scatter_elements);
    CU_add_test(s, "OneHot axis 0, negative and out-of-range indices", test_onehot_axis_and_out_of_range);
    CU_add_test(s, "Trilu upper/lower with k, huge k", test_trilu);
    CU_add_test(s, "CumSum exclusive+reverse, int64", test_cumsum_exclusive_reverse);
    CU_add_test(s, "TopK: ties lowest index first, smallest, axis, opset 1", test_topk_ties_and_axis);
    CU_add_test(s, "EyeLike with k and dtype", test_eyelike);
    CU_add_test(s, "Einsum attention and batched matmul forms", test_einsum_attention_forms);
    CU_add_test(s, "Einsum transpose, trace, diagonal, implicit, ellipsis", test_einsum_transpose_trace_diag_ellipsis);
    CU_add_test(s, "DynamicQuantizeLinear", test_dynamic_quantize_linear);
    CU_add_test(s, "MatMulInteger per-column zero point", test_matmul_integer_per_column);
    CU_add_test(s, "QLinearMatMul half-to-even rounding and saturation", test_qlinear_matmul_rounding_and_saturation);
    CU_add_test(s, "ConvInteger and QLinearConv against a direct sum", test_conv_integer_and_qlinear_conv);
    CU_add_test(s, "unknown attributes refused at init", test_unknown_attributes_refused);
    return sp_test_main();
}
