/*
 * The data-movement operators (src/engine/ops/shape.c, tensor.c, resize.c),
 * driven one node at a time through the op contract: a hand-built NodeProto,
 * init, prepare, run. Expected values come from the ONNX spec's examples or
 * from naive index loops written here, so a wrong stride, clamp or rounding
 * rule shows up as a wrong number. Refusals (non-constant shapes, unknown
 * attributes, training-mode Dropout, out-of-range Gather indices) are checked
 * to fail with an error instead of producing output.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "engine/op.h"
#include "testutil.h"

/* ---- a one-node harness ---------------------------------------------------- */

#define H_MAX 8

struct harness {
    Onnx__NodeProto proto;
    Onnx__AttributeProto attrs[H_MAX], *attr_ptrs[H_MAX];
    Onnx__TensorProto tensor_attr;
    char *in_names[H_MAX], *out_names[H_MAX];
    struct sp_value vin[H_MAX], vout[H_MAX], *pin[H_MAX], *pout[H_MAX];
    struct sp_node node;
    struct sp_error err;
    bool inited;
};

static char empty_name[] = "";
static char out_name[] = "y";

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
        h->out_names[i] = out_name;
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

static void h_attr_int(struct harness *h, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = h_attr(h, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = true;
    a->i = v;
}

static void h_attr_float(struct harness *h, const char *name, float v)
{
    Onnx__AttributeProto *a = h_attr(h, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = true;
    a->f = v;
}

static void h_attr_ints(struct harness *h, const char *name, int n, const int64_t *v)
{
    Onnx__AttributeProto *a = h_attr(h, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->n_ints = (size_t)n;
    a->ints = (int64_t *)v;
}

static void h_attr_string(struct harness *h, const char *name, const char *s)
{
    Onnx__AttributeProto *a = h_attr(h, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = true;
    a->s.data = (uint8_t *)s;
    a->s.len = strlen(s);
}

/* Adds input i (data borrowed); data NULL with ndim < 0 means "omitted". */
static void h_input(struct harness *h, enum sp_dtype dt, int ndim, const int64_t *dims, const void *data,
                    bool is_const)
{
    int i = h->node.n_inputs++;
    h->proto.n_input = (size_t)h->node.n_inputs;
    h->in_names[i] = empty_name;
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
    v->is_const = is_const;
    h->pin[i] = v;
}

static enum sp_status h_init(struct harness *h)
{
    if (!h->node.op) {
        h->err.status = SP_ERR_UNSUPPORTED;
        return SP_ERR_UNSUPPORTED;
    }
    enum sp_status st = h->node.op->init ? h->node.op->init(&h->node, &h->err) : SP_OK;
    h->inited = st == SP_OK;
    return st;
}

/* init + prepare + output allocation + run; returns the first failure. */
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
        if ((st = sp_tensor_alloc(t, shape.dtype, shape.ndim, shape.dims, &h->err)))
            return st;
    }
    void *scratch = h->node.scratch_bytes ? malloc(h->node.scratch_bytes) : NULL;
    st = h->node.op->run(&h->node, scratch, &h->err);
    free(scratch);
    return st;
}

static void h_end(struct harness *h)
{
    if (h->inited && h->node.op->free)
        h->node.op->free(&h->node);
    for (int i = 0; i < H_MAX; i++)
        sp_tensor_free(&h->vout[i].t);
}

static const struct sp_tensor *h_out(struct harness *h, int i)
{
    return &h->vout[i].t;
}

static bool dims_are(const struct sp_tensor *t, int ndim, const int64_t *dims)
{
    if (t->ndim != ndim)
        return false;
    for (int i = 0; i < ndim; i++)
        if (t->dims[i] != dims[i])
            return false;
    return true;
}

static bool floats_are(const struct sp_tensor *t, const float *want, int64_t n, float tol)
{
    if (t->dtype != SP_DTYPE_FLOAT || sp_tensor_numel(t) != n)
        return false;
    for (int64_t i = 0; i < n; i++)
        if (!(fabsf(((const float *)t->data)[i] - want[i]) <= tol))
            return false;
    return true;
}

static bool int64s_are(const struct sp_tensor *t, const int64_t *want, int64_t n)
{
    return t->dtype == SP_DTYPE_INT64 && sp_tensor_numel(t) == n && memcmp(t->data, want, (size_t)n * 8) == 0;
}

static void iota_f(float *p, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (float)i;
}

/* ---- shape.c ------------------------------------------------------------------ */

static void test_reshape_zero_minus_one_and_allowzero(void)
{
    float x[24];
    iota_f(x, 24);
    struct harness h;
    h_begin(&h, "Reshape", 14, 1);
    int64_t xd[] = {2, 3, 4}, shape[] = {0, -1}, sd[] = {2};
    h_input(&h, SP_DTYPE_FLOAT, 3, xd, x, false);
    h_input(&h, SP_DTYPE_INT64, 1, sd, shape, true);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(dims_are(h_out(&h, 0), 2, (int64_t[]){2, 12}));
    CU_ASSERT(floats_are(h_out(&h, 0), x, 24, 0));
    h_end(&h);

    /* allowzero=1: a 0 in shape is a real zero-sized dim. */
    h_begin(&h, "Reshape", 14, 1);
    h_attr_int(&h, "allowzero", 1);
    int64_t ed[] = {0, 3}, eshape[] = {3, 0};
    h_input(&h, SP_DTYPE_FLOAT, 2, ed, x, false);
    h_input(&h, SP_DTYPE_INT64, 1, sd, eshape, true);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(dims_are(h_out(&h, 0), 2, (int64_t[]){3, 0}));
    h_end(&h);

    /* Element count mismatch and two -1 are errors at prepare. */
    h_begin(&h, "Reshape", 14, 1);
    int64_t bad[] = {5, -1};
    h_input(&h, SP_DTYPE_FLOAT, 3, xd, x, false);
    h_input(&h, SP_DTYPE_INT64, 1, sd, bad, true);
    CU_ASSERT_NOT_EQUAL(h_run(&h), SP_OK);
    h_end(&h);
}

static void test_reshape_refuses_data_dependent_shape(void)
{
    float x[6] = {0};
    int64_t xd[] = {2, 3}, shape[] = {3, 2}, sd[] = {2};
    struct harness h;
    h_begin(&h, "Reshape", 13, 1);
    h_input(&h, SP_DTYPE_FLOAT, 2, xd, x, false);
    h_input(&h, SP_DTYPE_INT64, 1, sd, shape, false); /* not const */
    CU_ASSERT_EQUAL(h_run(&h), SP_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(h.err.msg, "plan time"));
    CU_ASSERT_PTR_NOT_NULL(strstr(h.err.msg, "Reshape"));
    h_end(&h);
}

static void test_unknown_attribute_refused(void)
{
    struct harness h;
    h_begin(&h, "Transpose", 13, 1);
    h_attr_int(&h, "frobnicate", 1);
    CU_ASSERT_EQUAL(h_init(&h), SP_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(h.err.msg, "frobnicate"));
    h_end(&h);
    /* allowzero did not exist before opset 14. */
    h_begin(&h, "Reshape", 13, 1);
    h_attr_int(&h, "allowzero", 1);
    CU_ASSERT_EQUAL(h_init(&h), SP_ERR_UNSUPPORTED);
    h_end(&h);
}

static void test_shape_start_end_and_size(void)
{
    float x[1] = {0};
    int64_t xd[] = {2, 3, 4, 5};
    struct harness h;
    h_begin(&h, "Shape", 15, 1);
    h_attr_int(&h, "start", 1);
    h_attr_int(&h, "end", -1);
    h_input(&h, SP_DTYPE_FLOAT, 4, xd, x, false);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(int64s_are(h_out(&h, 0), (int64_t[]){3, 4}, 2));
    h_end(&h);
    h_begin(&h, "Size", 13, 1);
    h_input(&h, SP_DTYPE_FLOAT, 4, xd, x, false);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT_EQUAL(h_out(&h, 0)->ndim, 0);
    CU_ASSERT_EQUAL(*(int64_t *)h_out(&h, 0)->data, 120);
    h_end(&h);
}

static void test_flatten_negative_axis(void)
{
    float x[24];
    iota_f(x, 24);
    int64_t xd[] = {2, 3, 4};
    struct harness h;
    h_begin(&h, "Flatten", 13, 1);
    h_attr_int(&h, "axis", -1);
    h_input(&h, SP_DTYPE_FLOAT, 3, xd, x, false);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(dims_are(h_out(&h, 0), 2, (int64_t[]){6, 4}));
    h_end(&h);
}

static void test_squeeze_unsqueeze_attribute_and_input_forms(void)
{
    float x[6];
    iota_f(x, 6);
    int64_t xd[] = {1, 2, 1, 3};
    struct harness h;
    /* Opset 11: axes attribute, negative allowed. */
    h_begin(&h, "Squeeze", 11, 1);
    h_attr_ints(&h, "axes", 1, (int64_t[]){-2});
    h_input(&h, SP_DTYPE_FLOAT, 4, xd, x, false);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(dims_are(h_out(&h, 0), 3, (int64_t[]){1, 2, 3}));
    h_end(&h);
    /* Opset 13 without axes: every unit dim goes. */
    h_begin(&h, "Squeeze", 13, 1);
    h_input(&h, SP_DTYPE_FLOAT, 4, xd, x, false);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(dims_are(h_out(&h, 0), 2, (int64_t[]){2, 3}));
    CU_ASSERT(floats_are(h_out(&h, 0), x, 6, 0));
    h_end(&h);
    /* Squeezing a non-unit axis is an error. */
    h_begin(&h, "Squeeze", 13, 1);
    int64_t ax1[] = {1}, one[] = {1};
    h_input(&h, SP_DTYPE_FLOAT, 4, xd, x, false);
    h_input(&h, SP_DTYPE_INT64, 1, one, ax1, true);
    CU_ASSERT_NOT_EQUAL(h_run(&h), SP_OK);
    h_end(&h);
    /* Unsqueeze opset 13: axes input, unsorted and negative (relative to the output rank). */
    h_begin(&h, "Unsqueeze", 13, 1);
    int64_t uax[] = {-1, 0}, two[] = {2}, ud[] = {2, 3};
    h_input(&h, SP_DTYPE_FLOAT, 2, ud, x, false);
    h_input(&h, SP_DTYPE_INT64, 1, two, uax, true);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(dims_are(h_out(&h, 0), 4, (int64_t[]){1, 2, 3, 1}));
    h_end(&h);
    /* Unsqueeze opset 11: attribute. */
    h_begin(&h, "Unsqueeze", 11, 1);
    h_attr_ints(&h, "axes", 1, (int64_t[]){1});
    h_input(&h, SP_DTYPE_FLOAT, 2, ud, x, false);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(dims_are(h_out(&h, 0), 3, (int64_t[]){2, 1, 3}));
    h_end(&h);
}

/* Naive transpose for reference: out[k] = in[perm-mapped k]. */
static void naive_transpose(const float *in, float *out, int r, const int64_t *dims, const int64_t *perm)
{
    int64_t od[8], is[8], k[8] = {0}, n = 1;
    int64_t s = 1;
    for (int i = r - 1; i >= 0; i--) {
        is[i] = s;
        s *= dims[i];
    }
    for (int i = 0; i < r; i++) {
        od[i] = dims[perm[i]];
        n *= od[i];
    }
    for (int64_t j = 0; j < n; j++) {
        int64_t off = 0;
        for (int i = 0; i < r; i++)
            off += k[i] * is[perm[i]];
        out[j] = in[off];
        for (int i = r - 1; i >= 0; i--) {
            if (++k[i] < od[i])
                break;
            k[i] = 0;
        }
    }
}

static void check_transpose(int r, const int64_t *dims, const int64_t *perm, bool give_perm)
{
    int64_t n = 1;
    for (int i = 0; i < r; i++)
        n *= dims[i];
    float *x = malloc(sizeof(float) * (size_t)n), *want = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)((i * 7919) % 1000) - 500.0f;
    naive_transpose(x, want, r, dims, perm);
    struct harness h;
    h_begin(&h, "Transpose", 13, 1);
    if (give_perm)
        h_attr_ints(&h, "perm", r, perm);
    h_input(&h, SP_DTYPE_FLOAT, r, dims, x, false);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(floats_are(h_out(&h, 0), want, n, 0));
    h_end(&h);
    free(x);
    free(want);
}

static void test_transpose_fast_paths_match_naive(void)
{
    check_transpose(2, (int64_t[]){37, 53}, (int64_t[]){1, 0}, true);            /* blocked 2-D */
    check_transpose(4, (int64_t[]){2, 7, 5, 9}, (int64_t[]){0, 2, 1, 3}, true);  /* BERT heads */
    check_transpose(4, (int64_t[]){2, 6, 5, 33}, (int64_t[]){0, 2, 3, 1}, true); /* NCHW -> NHWC */
    check_transpose(4, (int64_t[]){2, 5, 33, 6}, (int64_t[]){0, 3, 1, 2}, true); /* NHWC -> NCHW */
    check_transpose(3, (int64_t[]){3, 4, 5}, (int64_t[]){2, 1, 0}, false);       /* default: reversed */
    check_transpose(5, (int64_t[]){2, 3, 1, 4, 5}, (int64_t[]){4, 2, 0, 3, 1}, true);
    /* Byte-sized elements take the generic path. */
    int8_t x[6] = {1, 2, 3, 4, 5, 6};
    struct harness h;
    h_begin(&h, "Transpose", 13, 1);
    h_input(&h, SP_DTYPE_INT8, 2, (int64_t[]){2, 3}, x, false);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(memcmp(h_out(&h, 0)->data, (int8_t[]){1, 4, 2, 5, 3, 6}, 6) == 0);
    h_end(&h);
}

static void test_expand_bidirectional(void)
{
    float x[3] = {1, 2, 3};
    int64_t shape[] = {2, 1, 4};
    struct harness h;
    h_begin(&h, "Expand", 13, 1);
    h_input(&h, SP_DTYPE_FLOAT, 2, (int64_t[]){3, 1}, x, false);
    h_input(&h, SP_DTYPE_INT64, 1, (int64_t[]){3}, shape, true);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(dims_are(h_out(&h, 0), 3, (int64_t[]){2, 3, 4}));
    const float *y = h_out(&h, 0)->data;
    CU_ASSERT(y[0] == 1 && y[3] == 1 && y[4] == 2 && y[11] == 3 && y[12] == 1 && y[23] == 3);
    h_end(&h);
    /* Incompatible dims. */
    h_begin(&h, "Expand", 13, 1);
    int64_t badshape[] = {2, 4};
    h_input(&h, SP_DTYPE_FLOAT, 2, (int64_t[]){3, 1}, x, false);
    h_input(&h, SP_DTYPE_INT64, 1, (int64_t[]){2}, badshape, true);
    CU_ASSERT_EQUAL(h_run(&h), SP_ERR_MISMATCH);
    h_end(&h);
}

static void test_tile(void)
{
    int32_t x[4] = {1, 2, 3, 4};
    int64_t rep[] = {2, 3};
    struct harness h;
    h_begin(&h, "Tile", 13, 1);
    h_input(&h, SP_DTYPE_INT32, 2, (int64_t[]){2, 2}, x, false);
    h_input(&h, SP_DTYPE_INT64, 1, (int64_t[]){2}, rep, true);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(dims_are(h_out(&h, 0), 2, (int64_t[]){4, 6}));
    const int32_t want[] = {1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4, 1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4};
    CU_ASSERT(memcmp(h_out(&h, 0)->data, want, sizeof want) == 0);
    h_end(&h);
}

static void test_constant_of_shape_and_range(void)
{
    int64_t shape[] = {2, 3};
    struct harness h;
    h_begin(&h, "ConstantOfShape", 9, 1);
    h_input(&h, SP_DTYPE_INT64, 1, (int64_t[]){2}, shape, true);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT_EQUAL(h_out(&h, 0)->dtype, SP_DTYPE_FLOAT);
    CU_ASSERT(floats_are(h_out(&h, 0), (float[6]){0}, 6, 0));
    h_end(&h);

    int32_t start = 10, limit = 4, delta = -3;
    h_begin(&h, "Range", 11, 1);
    h_input(&h, SP_DTYPE_INT32, 0, NULL, &start, true);
    h_input(&h, SP_DTYPE_INT32, 0, NULL, &limit, true);
    h_input(&h, SP_DTYPE_INT32, 0, NULL, &delta, true);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(dims_are(h_out(&h, 0), 1, (int64_t[]){2}));
    CU_ASSERT(((int32_t *)h_out(&h, 0)->data)[0] == 10 && ((int32_t *)h_out(&h, 0)->data)[1] == 7);
    h_end(&h);

    float fs = 1, fl = 2.1f, fd = 0.5f;
    h_begin(&h, "Range", 11, 1);
    h_input(&h, SP_DTYPE_FLOAT, 0, NULL, &fs, true);
    h_input(&h, SP_DTYPE_FLOAT, 0, NULL, &fl, true);
    h_input(&h, SP_DTYPE_FLOAT, 0, NULL, &fd, true);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(floats_are(h_out(&h, 0), (float[]){1, 1.5f, 2}, 3, 0));
    h_end(&h);
}

/* ---- tensor.c ---------------------------------------------------------------- */

static void test_constant_attribute_forms(void)
{
    struct harness h;
    h_begin(&h, "Constant", 13, 1);
    h_attr_ints(&h, "value_ints", 3, (int64_t[]){4, -5, 6});
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(int64s_are(h_out(&h, 0), (int64_t[]){4, -5, 6}, 3));
    h_end(&h);
    h_begin(&h, "Constant", 13, 1);
    h_attr_float(&h, "value_float", 2.5f);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT_EQUAL(h_out(&h, 0)->ndim, 0);
    CU_ASSERT(floats_are(h_out(&h, 0), (float[]){2.5f}, 1, 0));
    h_end(&h);
    h_begin(&h, "Constant", 13, 1);
    h_attr_string(&h, "value_string", "hello");
    CU_ASSERT_EQUAL(h_init(&h), SP_ERR_UNSUPPORTED);
    h_end(&h);
}

static void test_identity_and_dropout_inference(void)
{
    float x[4] = {1, -2, 3, -4};
    int64_t d[] = {2, 2};
    struct harness h;
    h_begin(&h, "Dropout", 13, 2);
    h_input(&h, SP_DTYPE_FLOAT, 2, d, x, false);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(floats_are(h_out(&h, 0), x, 4, 0));
    CU_ASSERT_NOT_EQUAL(h_out(&h, 0)->data, (void *)x);
    CU_ASSERT_EQUAL(h_out(&h, 1)->dtype, SP_DTYPE_BOOL);
    CU_ASSERT(memcmp(h_out(&h, 1)->data, (uint8_t[]){1, 1, 1, 1}, 4) == 0);
    h_end(&h);
    /* training_mode = true is refused. */
    float ratio = 0.5f;
    uint8_t training = 1;
    h_begin(&h, "Dropout", 13, 1);
    h_input(&h, SP_DTYPE_FLOAT, 2, d, x, false);
    h_input(&h, SP_DTYPE_FLOAT, 0, NULL, &ratio, true);
    h_input(&h, SP_DTYPE_BOOL, 0, NULL, &training, true);
    CU_ASSERT_EQUAL(h_run(&h), SP_ERR_UNSUPPORTED);
    h_end(&h);
    h_begin(&h, "Identity", 13, 1);
    h_input(&h, SP_DTYPE_FLOAT, 2, d, x, false);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(floats_are(h_out(&h, 0), x, 4, 0));
    h_end(&h);
}

static void test_cast_truncates_and_converts_half(void)
{
    float x[6] = {-1.7f, 2.9f, 0.0f, 65504.0f, 1.0f, -0.5f};
    int64_t d[] = {6};
    struct harness h;
    h_begin(&h, "Cast", 13, 1);
    h_attr_int(&h, "to", SP_DTYPE_INT32);
    h_input(&h, SP_DTYPE_FLOAT, 1, d, x, false);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(memcmp(h_out(&h, 0)->data, (int32_t[]){-1, 2, 0, 65504, 1, 0}, 24) == 0);
    h_end(&h);

    h_begin(&h, "Cast", 13, 1);
    h_attr_int(&h, "to", SP_DTYPE_FLOAT16);
    h_input(&h, SP_DTYPE_FLOAT, 1, d, x, false);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    const uint16_t *hf = h_out(&h, 0)->data;
    CU_ASSERT_EQUAL(hf[3], 0x7bff); /* 65504, the largest half */
    CU_ASSERT_EQUAL(hf[4], 0x3c00); /* 1.0 */
    CU_ASSERT_EQUAL(hf[5], 0xb800); /* -0.5 */
    uint16_t half[6];
    memcpy(half, hf, sizeof half);
    h_end(&h);

    /* Back to float: exact for values representable in half; plus a subnormal. */
    uint16_t sub[2] = {0x0001, 0xfc00}; /* 2^-24, -inf */
    h_begin(&h, "Cast", 13, 1);
    h_attr_int(&h, "to", SP_DTYPE_FLOAT);
    h_input(&h, SP_DTYPE_FLOAT16, 1, (int64_t[]){2}, sub, false);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    const float *f = h_out(&h, 0)->data;
    CU_ASSERT_EQUAL(f[0], ldexpf(1.0f, -24));
    CU_ASSERT(isinf(f[1]) && f[1] < 0);
    h_end(&h);

    /* Bool: any non-zero is true. */
    h_begin(&h, "Cast", 13, 1);
    h_attr_int(&h, "to", SP_DTYPE_BOOL);
    h_input(&h, SP_DTYPE_FLOAT, 1, d, x, false);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(memcmp(h_out(&h, 0)->data, (uint8_t[]){1, 1, 0, 1, 1, 1}, 6) == 0);
    h_end(&h);

    h_begin(&h, "Cast", 13, 1);
    h_attr_int(&h, "to", SP_DTYPE_STRING);
    CU_ASSERT_EQUAL(h_init(&h), SP_ERR_UNSUPPORTED);
    h_end(&h);
}

static void test_concat_negative_axis(void)
{
    float a[4] = {1, 2, 3, 4}, b[2] = {5, 6};
    struct harness h;
    h_begin(&h, "Concat", 13, 1);
    h_attr_int(&h, "axis", -1);
    h_input(&h, SP_DTYPE_FLOAT, 2, (int64_t[]){2, 2}, a, false);
    h_input(&h, SP_DTYPE_FLOAT, 2, (int64_t[]){2, 1}, b, false);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(dims_are(h_out(&h, 0), 2, (int64_t[]){2, 3}));
    CU_ASSERT(floats_are(h_out(&h, 0), (float[]){1, 2, 5, 3, 4, 6}, 6, 0));
    h_end(&h);
}

static void test_split_forms(void)
{
    float x[7];
    iota_f(x, 7);
    struct harness h;
    /* Opset 18 num_outputs: 7 into 3 gives 3, 3, 1. */
    h_begin(&h, "Split", 18, 3);
    h_attr_int(&h, "num_outputs", 3);
    h_input(&h, SP_DTYPE_FLOAT, 1, (int64_t[]){7}, x, false);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(floats_are(h_out(&h, 0), (float[]){0, 1, 2}, 3, 0));
    CU_ASSERT(floats_are(h_out(&h, 1), (float[]){3, 4, 5}, 3, 0));
    CU_ASSERT(floats_are(h_out(&h, 2), (float[]){6}, 1, 0));
    h_end(&h);
    /* Opset 11 split attribute, uneven. */
    h_begin(&h, "Split", 11, 2);
    h_attr_ints(&h, "split", 2, (int64_t[]){5, 2});
    h_input(&h, SP_DTYPE_FLOAT, 1, (int64_t[]){7}, x, false);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(floats_are(h_out(&h, 1), (float[]){5, 6}, 2, 0));
    h_end(&h);
    /* Opset 13 split input on axis 1 of [2, 3]. */
    int64_t sp[] = {1, 2};
    h_begin(&h, "Split", 13, 2);
    h_attr_int(&h, "axis", 1);
    h_input(&h, SP_DTYPE_FLOAT, 2, (int64_t[]){2, 3}, x, false);
    h_input(&h, SP_DTYPE_INT64, 1, (int64_t[]){2}, sp, true);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(floats_are(h_out(&h, 0), (float[]){0, 3}, 2, 0));
    CU_ASSERT(floats_are(h_out(&h, 1), (float[]){1, 2, 4, 5}, 4, 0));
    h_end(&h);
    /* Before opset 18, an uneven default split is an error. */
    h_begin(&h, "Split", 13, 3);
    h_input(&h, SP_DTYPE_FLOAT, 1, (int64_t[]){7}, x, false);
    CU_ASSERT_NOT_EQUAL(h_run(&h), SP_OK);
    h_end(&h);
}

static void test_slice_steps_and_clamping(void)
{
    float x[20];
    iota_f(x, 20);
    int64_t xd[] = {4, 5};
    struct harness h;
    /* Rows reversed from the end with step -2, columns from 1 to "infinity". */
    int64_t starts[] = {-1, 1}, ends[] = {INT64_MIN, INT64_MAX}, axes[] = {0, 1}, steps[] = {-2, 1}, two[] = {2};
    h_begin(&h, "Slice", 13, 1);
    h_input(&h, SP_DTYPE_FLOAT, 2, xd, x, false);
    h_input(&h, SP_DTYPE_INT64, 1, two, starts, true);
    h_input(&h, SP_DTYPE_INT64, 1, two, ends, true);
    h_input(&h, SP_DTYPE_INT64, 1, two, axes, true);
    h_input(&h, SP_DTYPE_INT64, 1, two, steps, true);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(dims_are(h_out(&h, 0), 2, (int64_t[]){2, 4}));
    CU_ASSERT(floats_are(h_out(&h, 0), (float[]){16, 17, 18, 19, 6, 7, 8, 9}, 8, 0));
    h_end(&h);
    /* Opset 9 attributes, negative axis, out-of-range start clamps to an empty slice. */
    h_begin(&h, "Slice", 9, 1);
    h_attr_ints(&h, "starts", 1, (int64_t[]){10});
    h_attr_ints(&h, "ends", 1, (int64_t[]){20});
    h_attr_ints(&h, "axes", 1, (int64_t[]){-1});
    h_input(&h, SP_DTYPE_FLOAT, 2, xd, x, false);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(dims_are(h_out(&h, 0), 2, (int64_t[]){4, 0}));
    h_end(&h);
    /* A zero step is an error. */
    int64_t zsteps[] = {0, 1};
    h_begin(&h, "Slice", 13, 1);
    h_input(&h, SP_DTYPE_FLOAT, 2, xd, x, false);
    h_input(&h, SP_DTYPE_INT64, 1, two, starts, true);
    h_input(&h, SP_DTYPE_INT64, 1, two, ends, true);
    h_input(&h, SP_DTYPE_INT64, 1, two, axes, true);
    h_input(&h, SP_DTYPE_INT64, 1, two, zsteps, true);
    CU_ASSERT_NOT_EQUAL(h_run(&h), SP_OK);
    h_end(&h);
}

static void test_gather_negative_and_out_of_range(void)
{
    float x[6] = {1, 2, 3, 4, 5, 6};
    int64_t idx[] = {-1, 0};
    struct harness h;
    h_begin(&h, "Gather", 13, 1);
    h_attr_int(&h, "axis", 1);
    h_input(&h, SP_DTYPE_FLOAT, 2, (int64_t[]){2, 3}, x, false);
    h_input(&h, SP_DTYPE_INT64, 1, (int64_t[]){2}, idx, false);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(dims_are(h_out(&h, 0), 2, (int64_t[]){2, 2}));
    CU_ASSERT(floats_are(h_out(&h, 0), (float[]){3, 1, 6, 4}, 4, 0));
    h_end(&h);
    /* An embedding lookup with int32 ids, one of them out of range: an error at run. */
    int32_t ids[] = {0, 2, 3};
    h_begin(&h, "Gather", 13, 1);
    h_input(&h, SP_DTYPE_FLOAT, 2, (int64_t[]){3, 2}, x, false);
    h_input(&h, SP_DTYPE_INT32, 2, (int64_t[]){1, 3}, ids, false);
    CU_ASSERT_EQUAL(h_run(&h), SP_ERR_MISMATCH);
    CU_ASSERT_PTR_NOT_NULL(strstr(h.err.msg, "out of range"));
    h_end(&h);

    /* GatherElements along axis 1 with a negative index. */
    int64_t gi[] = {0, -1, 1, 0};
    h_begin(&h, "GatherElements", 13, 1);
    h_attr_int(&h, "axis", 1);
    h_input(&h, SP_DTYPE_FLOAT, 2, (int64_t[]){2, 3}, x, false);
    h_input(&h, SP_DTYPE_INT64, 2, (int64_t[]){2, 2}, gi, false);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(floats_are(h_out(&h, 0), (float[]){1, 3, 5, 4}, 4, 0));
    h_end(&h);
}

static void test_pad_modes_and_crop(void)
{
    float x[6] = {1, 2, 3, 4, 5, 6}; /* [[1,2,3],[4,5,6]] */
    int64_t xd[] = {2, 3}, four[] = {4};
    struct harness h;
    /* reflect on the last axis by 2 left, 1 right. */
    int64_t pads[] = {0, 2, 0, 1};
    h_begin(&h, "Pad", 13, 1);
    h_attr_string(&h, "mode", "reflect");
    h_input(&h, SP_DTYPE_FLOAT, 2, xd, x, false);
    h_input(&h, SP_DTYPE_INT64, 1, four, pads, true);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(floats_are(h_out(&h, 0), (float[]){3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5}, 12, 0));
    h_end(&h);
    /* edge, both axes. */
    int64_t pe[] = {1, 0, 0, 1};
    h_begin(&h, "Pad", 13, 1);
    h_attr_string(&h, "mode", "edge");
    h_input(&h, SP_DTYPE_FLOAT, 2, xd, x, false);
    h_input(&h, SP_DTYPE_INT64, 1, four, pe, true);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(floats_are(h_out(&h, 0), (float[]){1, 2, 3, 3, 1, 2, 3, 3, 4, 5, 6, 6}, 12, 0));
    h_end(&h);
    /* constant with constant_value, and a negative pad that crops. */
    int64_t pc[] = {0, -1, 1, 1};
    float cv = 9;
    h_begin(&h, "Pad", 13, 1);
    h_input(&h, SP_DTYPE_FLOAT, 2, xd, x, false);
    h_input(&h, SP_DTYPE_INT64, 1, four, pc, true);
    h_input(&h, SP_DTYPE_FLOAT, 0, NULL, &cv, false);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(dims_are(h_out(&h, 0), 2, (int64_t[]){3, 3}));
    CU_ASSERT(floats_are(h_out(&h, 0), (float[]){2, 3, 9, 5, 6, 9, 9, 9, 9}, 9, 0));
    h_end(&h);
    /* Opset 2 attribute form with value. */
    h_begin(&h, "Pad", 2, 1);
    h_attr_ints(&h, "pads", 4, (int64_t[]){0, 1, 0, 0});
    h_attr_float(&h, "value", -1);
    h_input(&h, SP_DTYPE_FLOAT, 2, xd, x, false);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(floats_are(h_out(&h, 0), (float[]){-1, 1, 2, 3, -1, 4, 5, 6}, 8, 0));
    h_end(&h);
    /* Opset 18 axes input: pad only axis -1. */
    int64_t pa[] = {1, 0}, axes[] = {-1}, two[] = {2}, one[] = {1};
    h_begin(&h, "Pad", 18, 1);
    h_input(&h, SP_DTYPE_FLOAT, 2, xd, x, false);
    h_input(&h, SP_DTYPE_INT64, 1, two, pa, true);
    h_input(&h, SP_DTYPE_FLOAT, -1, NULL, NULL, false);
    h_input(&h, SP_DTYPE_INT64, 1, one, axes, true);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(floats_are(h_out(&h, 0), (float[]){0, 1, 2, 3, 0, 4, 5, 6}, 8, 0));
    h_end(&h);
}

static void test_depth_to_space_modes(void)
{
    /* N=1, C=8, H=1, W=2, blocksize 2: C' = 2. */
    float x[16];
    iota_f(x, 16);
    int64_t xd[] = {1, 8, 1, 2};
    for (int crd = 0; crd < 2; crd++) {
        struct harness h;
        h_begin(&h, "DepthToSpace", 13, 1);
        h_attr_int(&h, "blocksize", 2);
        h_attr_string(&h, "mode", crd ? "CRD" : "DCR");
        h_input(&h, SP_DTYPE_FLOAT, 4, xd, x, false);
        CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
        CU_ASSERT(dims_are(h_out(&h, 0), 4, (int64_t[]){1, 2, 2, 4}));
        /* y[0, c, h*2+i, w*2+j] from channel (DCR) (i*2+j)*2+c or (CRD) c*4+i*2+j. */
        float want[16];
        for (int c = 0; c < 2; c++)
            for (int i = 0; i < 2; i++)
                for (int w = 0; w < 2; w++)
                    for (int j = 0; j < 2; j++) {
                        int ch = crd ? c * 4 + i * 2 + j : (i * 2 + j) * 2 + c;
                        want[c * 8 + i * 4 + w * 2 + j] = x[ch * 2 + w];
                    }
        CU_ASSERT(floats_are(h_out(&h, 0), want, 16, 0));
        /* SpaceToDepth undoes DCR. */
        if (!crd) {
            struct harness g;
            h_begin(&g, "SpaceToDepth", 13, 1);
            h_attr_int(&g, "blocksize", 2);
            h_input(&g, SP_DTYPE_FLOAT, 4, h_out(&h, 0)->dims, h_out(&h, 0)->data, false);
            CU_ASSERT_EQUAL_FATAL(h_run(&g), SP_OK);
            CU_ASSERT(dims_are(h_out(&g, 0), 4, xd));
            CU_ASSERT(floats_are(h_out(&g, 0), x, 16, 0));
            h_end(&g);
        }
        h_end(&h);
    }
}

/* ---- resize.c ---------------------------------------------------------------- */

static void test_resize_linear_and_nearest(void)
{
    float x[4] = {1, 2, 3, 4};
    int64_t xd[] = {1, 1, 2, 2}, four[] = {4};
    float scales[] = {1, 1, 2, 2};
    struct harness h;
    /* The spec's upsample_scales_linear example (half_pixel). */
    h_begin(&h, "Resize", 13, 1);
    h_attr_string(&h, "mode", "linear");
    h_input(&h, SP_DTYPE_FLOAT, 4, xd, x, false);
    h_input(&h, SP_DTYPE_FLOAT, -1, NULL, NULL, false); /* roi omitted */
    h_input(&h, SP_DTYPE_FLOAT, 1, four, scales, true);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    const float want[] = {1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f, 2.5f, 2.75f, 3.25f, 3.5f, 3, 3.25f, 3.75f, 4};
    CU_ASSERT(dims_are(h_out(&h, 0), 4, (int64_t[]){1, 1, 4, 4}));
    CU_ASSERT(floats_are(h_out(&h, 0), want, 16, 1e-6f));
    h_end(&h);

    /* Nearest, asymmetric + floor, with sizes, on int64 data (dtype-generic). */
    int64_t xi[4] = {1, 2, 3, 4}, sizes[] = {1, 1, 3, 4};
    h_begin(&h, "Resize", 13, 1);
    h_attr_string(&h, "coordinate_transformation_mode", "asymmetric");
    h_attr_string(&h, "nearest_mode", "floor");
    h_input(&h, SP_DTYPE_INT64, 4, xd, xi, false);
    h_input(&h, SP_DTYPE_FLOAT, -1, NULL, NULL, false);
    h_input(&h, SP_DTYPE_FLOAT, -1, NULL, NULL, false);
    h_input(&h, SP_DTYPE_INT64, 1, four, sizes, true);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(int64s_are(h_out(&h, 0), (int64_t[]){1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4}, 12));
    h_end(&h);

    /* Upsample-9 nearest doubles pixels. */
    h_begin(&h, "Upsample", 9, 1);
    h_input(&h, SP_DTYPE_FLOAT, 4, xd, x, false);
    h_input(&h, SP_DTYPE_FLOAT, 1, four, scales, true);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(floats_are(h_out(&h, 0), (float[]){1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}, 16, 0));
    h_end(&h);

    /* antialias is refused at init. */
    h_begin(&h, "Resize", 18, 1);
    h_attr_int(&h, "antialias", 1);
    CU_ASSERT_EQUAL(h_init(&h), SP_ERR_UNSUPPORTED);
    h_end(&h);
}

static void test_resize_cubic_downsample_keeps_constant(void)
{
    /* Cubic weights sum to one: a constant image stays constant at any scale. */
    float x[64];
    for (int i = 0; i < 64; i++)
        x[i] = 3.5f;
    int64_t xd[] = {1, 1, 8, 8}, four[] = {4};
    float scales[] = {1, 1, 0.375f, 1.5f};
    struct harness h;
    h_begin(&h, "Resize", 13, 1);
    h_attr_string(&h, "mode", "cubic");
    h_input(&h, SP_DTYPE_FLOAT, 4, xd, x, false);
    h_input(&h, SP_DTYPE_FLOAT, -1, NULL, NULL, false);
    h_input(&h, SP_DTYPE_FLOAT, 1, four, scales, true);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(dims_are(h_out(&h, 0), 4, (int64_t[]){1, 1, 3, 12}));
    float want[36];
    for (int i = 0; i < 36; i++)
        want[i] = 3.5f;
    CU_ASSERT(floats_are(h_out(&h, 0), want, 36, 1e-5f));
    h_end(&h);
}

static void test_resize_coordinate_rounding(void)
{
    float x[10];
    iota_f(x, 10);
    int64_t xd[] = {1, 10}, two[] = {2};
    float scales[] = {1, 0.6f};
    struct harness h;
    /* 3 / 0.6f is exactly 5 in float32 (ONNX Runtime's arithmetic), 4.9999998 in double. */
    h_begin(&h, "Resize", 13, 1);
    h_attr_string(&h, "coordinate_transformation_mode", "asymmetric");
    h_attr_string(&h, "nearest_mode", "floor");
    h_input(&h, SP_DTYPE_FLOAT, 2, xd, x, false);
    h_input(&h, SP_DTYPE_FLOAT, -1, NULL, NULL, false);
    h_input(&h, SP_DTYPE_FLOAT, 1, two, scales, true);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(floats_are(h_out(&h, 0), (float[]){0, 1, 3, 5, 6, 8}, 6, 0));
    h_end(&h);
    /* align_corners with scales uses in * scale = 2.4 unfloored as the resized length
     * (the spec's intent, onnx/onnx#2462): sample 1 reads x = 3 / 1.4. */
    float y[4] = {1, 2, 3, 4};
    h_begin(&h, "Resize", 13, 1);
    h_attr_string(&h, "mode", "linear");
    h_attr_string(&h, "coordinate_transformation_mode", "align_corners");
    h_input(&h, SP_DTYPE_FLOAT, 2, (int64_t[]){1, 4}, y, false);
    h_input(&h, SP_DTYPE_FLOAT, -1, NULL, NULL, false);
    h_input(&h, SP_DTYPE_FLOAT, 1, two, scales, true);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(floats_are(h_out(&h, 0), (float[]){1, 1 + 3 / 1.4f}, 2, 1e-5f));
    h_end(&h);
    /* Resize-10 nearest: floor when enlarging, ceil when shrinking (ONNX Runtime). */
    float s10[] = {1, 0.6f};
    h_begin(&h, "Resize", 10, 1);
    h_input(&h, SP_DTYPE_FLOAT, 2, xd, x, false);
    h_input(&h, SP_DTYPE_FLOAT, 1, two, s10, true);
    CU_ASSERT_EQUAL_FATAL(h_run(&h), SP_OK);
    CU_ASSERT(floats_are(h_out(&h, 0), (float[]){0, 2, 4, 5, 7, 9}, 6, 0));
    h_end(&h);
}

int main(void)
{
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("ops_shape", NULL, NULL);
    CU_add_test(s, "Reshape: 0, -1 and allowzero", test_reshape_zero_minus_one_and_allowzero);
    CU_add_test(s, "Reshape: non-constant shape refused at prepare", test_reshape_refuses_data_dependent_shape);
    CU_add_test(s, "unknown attributes refused at init", test_unknown_attribute_refused);
    CU_add_test(s, "Shape start/end and Size", test_shape_start_end_and_size);
    CU_add_test(s, "Flatten with a negative axis", test_flatten_negative_axis);
    CU_add_test(s, "Squeeze/Unsqueeze: attribute and input forms", test_squeeze_unsqueeze_attribute_and_input_forms);
    CU_add_test(s, "Transpose fast paths agree with a naive loop", test_transpose_fast_paths_match_naive);
    CU_add_test(s, "Expand broadcasts both ways", test_expand_bidirectional);
    CU_add_test(s, "Tile", test_tile);
    CU_add_test(s, "ConstantOfShape and Range", test_constant_of_shape_and_range);
    CU_add_test(s, "Constant attribute forms", test_constant_attribute_forms);
    CU_add_test(s, "Identity and inference Dropout", test_identity_and_dropout_inference);
    CU_add_test(s, "Cast truncates, converts half, refuses strings", test_cast_truncates_and_converts_half);
    CU_add_test(s, "Concat with a negative axis", test_concat_negative_axis);
    CU_add_test(s, "Split: num_outputs, attribute and input", test_split_forms);
    CU_add_test(s, "Slice: negative steps and clamping", test_slice_steps_and_clamping);
    CU_add_test(s, "Gather: negative and out-of-range indices", test_gather_negative_and_out_of_range);
    CU_add_test(s, "Pad: reflect, edge, constant, crop, axes", test_pad_modes_and_crop);
    CU_add_test(s, "DepthToSpace DCR/CRD and SpaceToDepth", test_depth_to_space_modes);
    CU_add_test(s, "Resize linear/nearest and Upsample", test_resize_linear_and_nearest);
    CU_add_test(s, "Resize cubic keeps a constant image", test_resize_cubic_downsample_keeps_constant);
    CU_add_test(s, "Resize coordinates: float32 rounding, align_corners length", test_resize_coordinate_rounding);
    return sp_test_main();
}
