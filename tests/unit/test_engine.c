/*
 * Specification of the engine core: load-time graph checks, topological
 * order, constant folding of shape chains, the memory plan, the observer.
 * Models are built in C (graph_builder.h) from ops other engineers own
 * (elementwise, shape, tensor, gemm): a test whose op has not landed yet fails
 * with "operator X is not supported" in its message.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "engine/op.h"
#include "graph_builder.h"
#include "sparsify/engine.h"
#include "testutil.h"

/* Creates an engine, printing the message on failure so a failing test says why. */
static struct sp_engine *engine_for(const struct sp_model *m)
{
    struct sp_error err;
    sp_error_clear(&err);
    struct sp_engine *e = NULL;
    struct sp_engine_options opt = {.threads = 1};
    enum sp_status st = sp_engine_create(m, &opt, &e, &err);
    if (st)
        fprintf(stderr, "\n  sp_engine_create: %s: %s\n", sp_status_str(st), err.msg);
    CU_ASSERT_EQUAL(st, SP_OK);
    return e;
}

/* Expects sp_engine_create to fail with `want` and a message containing every
 * string of the NULL-terminated list. */
static void expect_load_error(struct sp_model *m, enum sp_status want, const char *const *needles)
{
    struct sp_error err;
    sp_error_clear(&err);
    struct sp_engine *e = NULL;
    enum sp_status st = sp_engine_create(m, NULL, &e, &err);
    CU_ASSERT_EQUAL(st, want);
    CU_ASSERT_PTR_NULL(e);
    for (const char *const *n = needles; *n; n++) {
        if (!strstr(err.msg, *n))
            fprintf(stderr, "\n  message '%s' lacks '%s'\n", err.msg, *n);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, *n));
    }
    sp_engine_free(e);
    gb_model_free(m);
}

static struct sp_tensor f32_tensor(int ndim, const int64_t *dims, float *data)
{
    struct sp_tensor t = {.dtype = SP_DTYPE_FLOAT, .ndim = ndim, .data = data};
    memcpy(t.dims, dims, sizeof(int64_t) * (size_t)ndim);
    return t;
}

static enum sp_status run1(struct sp_engine *e, struct sp_tensor *in, struct sp_tensor *out, int n_out)
{
    struct sp_error err;
    sp_error_clear(&err);
    enum sp_status st = sp_engine_run(e, in, out, &err);
    if (st)
        fprintf(stderr, "\n  sp_engine_run: %s: %s\n", sp_status_str(st), err.msg);
    (void)n_out;
    return st;
}

/* ---- load-time graph checks ------------------------------------------------ */

/* y = (-x + c) * (-x) - x, written with the nodes in reverse and shuffled order. */
static struct sp_model *arith_model(unsigned shuffle)
{
    struct gb_graph *g = gb_new(13);
    gb_input(g, "x", SP_DTYPE_FLOAT, 2, (int64_t[]){2, 3});
    gb_init_f32(g, "c", 1, (int64_t[]){3}, (float[]){1, 2, 3});
    gb_node(g, "Neg", "x", "a");
    gb_node(g, "Add", "a,c", "b");
    gb_node(g, "Mul", "b,a", "d");
    gb_node(g, "Sub", "d,x", "y");
    gb_output(g, "y", SP_DTYPE_FLOAT);
    gb_shuffle_nodes(g, shuffle);
    return gb_finish(g);
}

static void test_topological_sort_of_shuffled_nodes(void)
{
    for (unsigned seed = 0; seed < 4; seed++) {
        struct sp_model *m = arith_model(seed);
        struct sp_engine *e = engine_for(m);
        if (e) {
            float x[6] = {1, -2, 3, 0.5f, 4, -1};
            struct sp_tensor in = f32_tensor(2, (int64_t[]){2, 3}, x), out = {0};
            CU_ASSERT_EQUAL_FATAL(run1(e, &in, &out, 1), SP_OK);
            CU_ASSERT_EQUAL(out.ndim, 2);
            CU_ASSERT_EQUAL(out.dims[0], 2);
            CU_ASSERT_EQUAL(out.dims[1], 3);
            const float c[3] = {1, 2, 3};
            for (int i = 0; i < 6; i++) {
                float a = -x[i], want = (a + c[i % 3]) * a - x[i];
                CU_ASSERT_DOUBLE_EQUAL(((float *)out.data)[i], want, 1e-6);
            }
            sp_tensor_free(&out);
        }
        sp_engine_free(e);
        gb_model_free(m);
    }
}

static void test_cycle_is_refused_at_load(void)
{
    struct gb_graph *g = gb_new(13);
    gb_input(g, "x", SP_DTYPE_FLOAT, 1, (int64_t[]){4});
    gb_node(g, "Add", "x,b", "a");
    gb_node(g, "Neg", "a", "b");
    gb_node(g, "Neg", "b", "y");
    gb_output(g, "y", SP_DTYPE_FLOAT);
    expect_load_error(gb_finish(g), SP_ERR_FORMAT, (const char *[]){"cycle", NULL});
}

static void test_dangling_input_is_named(void)
{
    struct gb_graph *g = gb_new(13);
    gb_input(g, "x", SP_DTYPE_FLOAT, 1, (int64_t[]){4});
    gb_node(g, "Add", "x,ghost", "y");
    gb_output(g, "y", SP_DTYPE_FLOAT);
    expect_load_error(gb_finish(g), SP_ERR_FORMAT, (const char *[]){"'ghost'", "n_y", "produced by no node", NULL});
}

static void test_duplicate_producer_is_refused(void)
{
    struct gb_graph *g = gb_new(13);
    gb_input(g, "x", SP_DTYPE_FLOAT, 1, (int64_t[]){4});
    gb_node(g, "Neg", "x", "y");
    gb_node(g, "Abs", "x", "y");
    gb_output(g, "y", SP_DTYPE_FLOAT);
    expect_load_error(gb_finish(g), SP_ERR_FORMAT, (const char *[]){"'y'", "defined twice", NULL});

    g = gb_new(13);
    gb_input(g, "x", SP_DTYPE_FLOAT, 1, (int64_t[]){4});
    gb_node(g, "Neg", "x", "x");
    gb_output(g, "x", SP_DTYPE_FLOAT);
    expect_load_error(gb_finish(g), SP_ERR_FORMAT, (const char *[]){"'x'", "graph input", NULL});
}

static void test_unknown_op_names_node_type_and_opset(void)
{
    struct gb_graph *g = gb_new(13);
    gb_input(g, "x", SP_DTYPE_FLOAT, 1, (int64_t[]){4});
    gb_node(g, "Neg", "x", "a");
    gb_node(g, "FancyOp", "a", "y");
    gb_output(g, "y", SP_DTYPE_FLOAT);
    expect_load_error(gb_finish(g), SP_ERR_UNSUPPORTED,
                      (const char *[]){"node 'n_y'", "FancyOp", "opset 13", "not supported", NULL});

    /* A known op type in a domain sparsify does not implement. */
    g = gb_new(13);
    gb_import(g, "com.example", 1);
    gb_input(g, "x", SP_DTYPE_FLOAT, 1, (int64_t[]){4});
    gb_node_domain(gb_node(g, "Neg", "x", "y"), "com.example");
    gb_output(g, "y", SP_DTYPE_FLOAT);
    expect_load_error(gb_finish(g), SP_ERR_UNSUPPORTED, (const char *[]){"n_y", "com.example", NULL});

    /* A domain the model does not import. */
    g = gb_new(13);
    gb_input(g, "x", SP_DTYPE_FLOAT, 1, (int64_t[]){4});
    gb_node_domain(gb_node(g, "Neg", "x", "y"), "com.other");
    gb_output(g, "y", SP_DTYPE_FLOAT);
    expect_load_error(gb_finish(g), SP_ERR_UNSUPPORTED, (const char *[]){"n_y", "com.other", NULL});

    /* Expand appeared in opset 8: a model declaring opset 7 cannot use it. */
    g = gb_new(7);
    gb_input(g, "x", SP_DTYPE_FLOAT, 1, (int64_t[]){4});
    gb_init_i64(g, "s", 1, (int64_t[]){2}, (int64_t[]){2, 4});
    gb_node(g, "Expand", "x,s", "y");
    gb_output(g, "y", SP_DTYPE_FLOAT);
    expect_load_error(gb_finish(g), SP_ERR_UNSUPPORTED, (const char *[]){"n_y", "Expand", "opset 7", NULL});
}

static void test_supported_ops_are_findable(void)
{
    const char *const *names = sp_engine_supported_ops();
    CU_ASSERT_PTR_NOT_NULL_FATAL(names);
    int n = 0;
    for (; names[n]; n++) {
        const struct sp_op *op = sp_op_find(names[n], "");
        CU_ASSERT_PTR_NOT_NULL(op);
        if (op) {
            CU_ASSERT_STRING_EQUAL(op->type, names[n]);
            CU_ASSERT(op->opset_min <= op->opset_max);
            CU_ASSERT_PTR_NOT_NULL(op->prepare);
            CU_ASSERT_PTR_NOT_NULL(op->run);
        }
        for (int k = 0; k < n; k++)
            CU_ASSERT(strcmp(names[k], names[n]) != 0);
    }
    CU_ASSERT_PTR_NULL(sp_op_find("FancyOp", ""));
    /* Each implementation says the type ops.def files it under. */
    for (size_t i = 0; i < sp_op_registry_size(); i++) {
        const struct sp_op *op = sp_op_registry_at(i);
        if (op && strcmp(op->type, sp_op_registry_type(i)) != 0) {
            fprintf(stderr, "\n  ops.def entry %s is implemented by an op named %s\n", sp_op_registry_type(i),
                    op->type);
            CU_FAIL("op type disagrees with ops.def");
        }
    }
    CU_ASSERT(n <= (int)sp_op_registry_size());
}

/* ---- memory plan ---------------------------------------------------------------- */

static struct sp_model *neg_chain(int len, int64_t width)
{
    struct gb_graph *g = gb_new(13);
    gb_input(g, "v0", SP_DTYPE_FLOAT, 2, (int64_t[]){1, width});
    char in[32], out[32];
    for (int i = 0; i < len; i++) {
        snprintf(in, sizeof in, "v%d", i);
        snprintf(out, sizeof out, "v%d", i + 1);
        gb_node(g, "Neg", in, out);
    }
    gb_output(g, out, SP_DTYPE_FLOAT);
    return gb_finish(g);
}

static void test_arena_reuses_buffers_of_a_long_chain(void)
{
    enum { W = 1024 };
    static float x[W];
    for (int i = 0; i < W; i++)
        x[i] = (float)i - 100.0f;
    const int lens[] = {3, 16, 41};
    for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
        struct sp_model *m = neg_chain(lens[l], W);
        struct sp_engine *e = engine_for(m);
        if (e) {
            struct sp_tensor in = f32_tensor(2, (int64_t[]){1, W}, x), out = {0};
            struct sp_error err;
            sp_error_clear(&err);
            CU_ASSERT_EQUAL(sp_engine_prepare(e, &in, &err), SP_OK); /* plans without running */
            CU_ASSERT_EQUAL(sp_engine_arena_bytes(e), 2 * W * sizeof(float));
            CU_ASSERT_EQUAL_FATAL(run1(e, &in, &out, 1), SP_OK);
            /* Each value dies when the next Neg has read it: two live buffers at
             * any time, whatever the length of the chain. */
            CU_ASSERT_EQUAL(sp_engine_arena_bytes(e), 2 * W * sizeof(float));
            float sign = lens[l] % 2 ? -1.0f : 1.0f;
            int bad = 0;
            for (int i = 0; i < W; i++)
                bad += ((float *)out.data)[i] != sign * x[i];
            CU_ASSERT_EQUAL(bad, 0);
            sp_tensor_free(&out);
        }
        sp_engine_free(e);
        gb_model_free(m);
    }
}

/* A diamond: a value read late must not share memory with values computed in
 * between. y = (-x) + |(-x) * 2| with many intermediate steps on one branch. */
static void test_arena_keeps_values_alive_until_last_use(void)
{
    struct gb_graph *g = gb_new(13);
    gb_input(g, "x", SP_DTYPE_FLOAT, 1, (int64_t[]){256});
    gb_init_f32(g, "two", 0, NULL, (float[]){2});
    gb_node(g, "Neg", "x", "a");
    gb_node(g, "Mul", "a,two", "b0");
    gb_node(g, "Neg", "b0", "b1");
    gb_node(g, "Neg", "b1", "b2");
    gb_node(g, "Abs", "b2", "b3");
    gb_node(g, "Add", "a,b3", "y");
    gb_output(g, "y", SP_DTYPE_FLOAT);
    gb_output(g, "b1", SP_DTYPE_FLOAT);
    struct sp_model *m = gb_finish(g);
    struct sp_engine *e = engine_for(m);
    if (e) {
        float x[256];
        for (int i = 0; i < 256; i++)
            x[i] = (float)(i % 17) - 8.0f;
        struct sp_tensor in = f32_tensor(1, (int64_t[]){256}, x), out[2] = {{0}};
        CU_ASSERT_EQUAL_FATAL(run1(e, &in, out, 2), SP_OK);
        int bad = 0;
        for (int i = 0; i < 256; i++) {
            bad += ((float *)out[0].data)[i] != -x[i] + fabsf(-x[i] * 2);
            bad += ((float *)out[1].data)[i] != x[i] * 2;
        }
        CU_ASSERT_EQUAL(bad, 0);
        /* a, b1 (a graph output) and one more buffer at the peak. */
        CU_ASSERT(sp_engine_arena_bytes(e) <= 4 * 256 * sizeof(float));
        sp_tensor_free(&out[0]);
        sp_tensor_free(&out[1]);
    }
    sp_engine_free(e);
    gb_model_free(m);
}

/* ---- observer ----------------------------------------------------------------------- */

struct seen {
    int calls;
    char ops[8][32];
    int index[8];
    float first_in[8];
    bool in_const[8][2];
    float out0[8];
    int stop_at; /* call number returning an error, or -1 */
};

static enum sp_status record(void *user, const struct sp_node_view *v, struct sp_error *err)
{
    struct seen *s = user;
    int c = s->calls++;
    if (c >= 8)
        return SP_OK;
    snprintf(s->ops[c], sizeof s->ops[c], "%s", v->op_type);
    s->index[c] = v->index;
    s->first_in[c] = v->n_inputs > 0 && v->inputs[0] ? ((const float *)v->inputs[0]->data)[1] : NAN;
    for (int k = 0; k < v->n_inputs && k < 2; k++)
        s->in_const[c][k] = v->input_is_const[k];
    s->out0[c] = v->n_outputs > 0 && v->outputs[0] ? ((const float *)v->outputs[0]->data)[1] : NAN;
    CU_ASSERT_STRING_EQUAL(v->input_names[0], c == 0 ? "x" : c == 1 ? "a" : "b");
    if (c == s->stop_at)
        return sp_error_set(err, SP_ERR_INTERRUPTED, "observer: stop at call %d", c);
    return SP_OK;
}

static void test_observer_sees_every_node_inputs(void)
{
    struct gb_graph *g = gb_new(13);
    gb_input(g, "x", SP_DTYPE_FLOAT, 1, (int64_t[]){4});
    gb_init_f32(g, "c", 1, (int64_t[]){4}, (float[]){10, 20, 30, 40});
    gb_node(g, "Add", "x,c", "a");
    gb_node(g, "Neg", "a", "b");
    gb_node(g, "Mul", "b,x", "y");
    gb_output(g, "y", SP_DTYPE_FLOAT);
    struct sp_model *m = gb_finish(g);
    struct sp_engine *e = engine_for(m);
    if (e) {
        float x[4] = {1, 2, 3, 4};
        struct seen s = {.stop_at = -1};
        sp_engine_set_observer(e, record, &s);
        struct sp_tensor in = f32_tensor(1, (int64_t[]){4}, x), out = {0};
        CU_ASSERT_EQUAL_FATAL(run1(e, &in, &out, 1), SP_OK);
        CU_ASSERT_EQUAL(s.calls, 3);
        CU_ASSERT_STRING_EQUAL(s.ops[0], "Add");
        CU_ASSERT_STRING_EQUAL(s.ops[1], "Neg");
        CU_ASSERT_STRING_EQUAL(s.ops[2], "Mul");
        CU_ASSERT(s.index[0] < s.index[1] && s.index[1] < s.index[2]);
        CU_ASSERT_EQUAL(s.first_in[0], 2.0f);   /* x[1] */
        CU_ASSERT_EQUAL(s.first_in[1], 22.0f);  /* a[1] */
        CU_ASSERT_EQUAL(s.first_in[2], -22.0f); /* b[1] */
        CU_ASSERT_EQUAL(s.out0[2], -44.0f);
        CU_ASSERT(!s.in_const[0][0] && s.in_const[0][1]);
        CU_ASSERT(!s.in_const[2][0] && !s.in_const[2][1]);
        CU_ASSERT_EQUAL(((float *)out.data)[3], -(4 + 40) * 4.0f);
        sp_tensor_free(&out);

        /* An observer error stops the run and is returned as is. */
        struct seen stop = {.stop_at = 1};
        sp_engine_set_observer(e, record, &stop);
        struct sp_error err;
        sp_error_clear(&err);
        CU_ASSERT_EQUAL(sp_engine_run(e, &in, &out, &err), SP_ERR_INTERRUPTED);
        CU_ASSERT_EQUAL(stop.calls, 2);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "stop at call 1"));
        CU_ASSERT_PTR_NULL(out.data);

        /* Outputs may be skipped when only the observer matters. */
        struct seen quiet = {.stop_at = -1};
        sp_engine_set_observer(e, record, &quiet);
        CU_ASSERT_EQUAL(run1(e, &in, NULL, 0), SP_OK);
        CU_ASSERT_EQUAL(quiet.calls, 3);
        CU_ASSERT_EQUAL(quiet.out0[2], -44.0f);

        /* Removed: no more calls. */
        sp_engine_set_observer(e, NULL, NULL);
        CU_ASSERT_EQUAL(run1(e, &in, &out, 1), SP_OK);
        CU_ASSERT_EQUAL(stop.calls, 2);
        sp_tensor_free(&out);
    }
    sp_engine_free(e);
    gb_model_free(m);
}

/* ---- planning: shapes, folding, inputs -------------------------------------------- */

static bool reshape_in_is_const;

static enum sp_status watch_reshape(void *user, const struct sp_node_view *v, struct sp_error *err)
{
    if (strcmp(v->op_type, "Reshape") == 0)
        reshape_in_is_const = v->input_is_const[1];
    int *calls = user;
    ++*calls;
    return SP_OK;
}

/* x [N, 2, 3] -> Reshape(x, Concat(Gather(Shape(x), [0]), [6])) -> [N, 6]: the
 * shape chain folds at plan time for each batch size. */
static void test_shape_chain_folds_for_each_batch_size(void)
{
    struct gb_graph *g = gb_new(13);
    gb_input(g, "x", SP_DTYPE_FLOAT, 3, (int64_t[]){-1, 2, 3});
    gb_init_i64(g, "zero", 1, (int64_t[]){1}, (int64_t[]){0});
    gb_init_i64(g, "six", 1, (int64_t[]){1}, (int64_t[]){6});
    gb_node(g, "Shape", "x", "s");
    gb_attr_int(gb_node(g, "Gather", "s,zero", "n"), "axis", 0);
    gb_attr_int(gb_node(g, "Concat", "n,six", "shape"), "axis", 0);
    gb_node(g, "Reshape", "x,shape", "r");
    gb_node(g, "Neg", "r", "y");
    gb_output(g, "y", SP_DTYPE_FLOAT);
    struct sp_model *m = gb_finish(g);
    struct sp_engine *e = engine_for(m);
    if (e) {
        int calls = 0;
        sp_engine_set_observer(e, watch_reshape, &calls);
        const int64_t batches[] = {2, 5, 2};
        for (int b = 0; b < 3; b++) {
            int64_t n = batches[b];
            float x[5 * 6];
            for (int i = 0; i < n * 6; i++)
                x[i] = (float)(i * 3 + b);
            struct sp_tensor in = f32_tensor(3, (int64_t[]){n, 2, 3}, x), out = {0};
            calls = 0;
            reshape_in_is_const = false;
            CU_ASSERT_EQUAL_FATAL(run1(e, &in, &out, 1), SP_OK);
            CU_ASSERT_EQUAL(out.ndim, 2);
            CU_ASSERT_EQUAL(out.dims[0], n);
            CU_ASSERT_EQUAL(out.dims[1], 6);
            int bad = 0;
            for (int i = 0; i < n * 6; i++)
                bad += ((float *)out.data)[i] != -x[i];
            CU_ASSERT_EQUAL(bad, 0);
            CU_ASSERT_EQUAL(calls, 2); /* Reshape and Neg run; the shape chain was folded */
            CU_ASSERT(reshape_in_is_const);
            sp_tensor_free(&out);
        }
    }
    sp_engine_free(e);
    gb_model_free(m);
}

/* y = x W + b, with W and b as initializers or as Constant nodes. */
static struct sp_model *affine_model(bool constant_nodes)
{
    static const float w[6] = {1, -2, 0.5f, 3, 4, -1}, bias[2] = {0.25f, -0.5f};
    struct gb_graph *g = gb_new(13);
    gb_input(g, "x", SP_DTYPE_FLOAT, 2, (int64_t[]){-1, 3});
    if (constant_nodes) {
        gb_attr_tensor_f32(gb_node(g, "Constant", "", "W"), "value", 2, (int64_t[]){3, 2}, w);
        gb_attr_tensor_f32(gb_node(g, "Constant", "", "B"), "value", 1, (int64_t[]){2}, bias);
    } else {
        gb_init_f32(g, "W", 2, (int64_t[]){3, 2}, w);
        gb_init_f32(g, "B", 1, (int64_t[]){2}, bias);
    }
    gb_node(g, "MatMul", "x,W", "xw");
    gb_node(g, "Add", "xw,B", "y");
    gb_output(g, "y", SP_DTYPE_FLOAT);
    return gb_finish(g);
}

static void test_constant_node_weights_work_like_initializers(void)
{
    float x[6] = {1, 2, 3, -1, 0.5f, 2};
    const float want[4] = {1 * 1 + 2 * 0.5f + 3 * 4 + 0.25f, 1 * -2 + 2 * 3 + 3 * -1 - 0.5f,
                           -1 * 1 + 0.5f * 0.5f + 2 * 4 + 0.25f, -1 * -2 + 0.5f * 3 + 2 * -1 - 0.5f};
    for (int variant = 0; variant < 2; variant++) {
        struct sp_model *m = affine_model(variant == 1);
        struct sp_engine *e = engine_for(m);
        if (e) {
            struct sp_tensor in = f32_tensor(2, (int64_t[]){2, 3}, x), out = {0};
            CU_ASSERT_EQUAL_FATAL(run1(e, &in, &out, 1), SP_OK);
            CU_ASSERT_EQUAL(out.dims[0], 2);
            CU_ASSERT_EQUAL(out.dims[1], 2);
            for (int i = 0; i < 4; i++)
                CU_ASSERT_DOUBLE_EQUAL(((float *)out.data)[i], want[i], 1e-5);
            sp_tensor_free(&out);
        }
        sp_engine_free(e);
        gb_model_free(m);
    }
}

static void test_inputs_are_checked_against_the_model(void)
{
    struct gb_graph *g = gb_new(13);
    gb_input(g, "x", SP_DTYPE_FLOAT, 2, (int64_t[]){-1, 3});
    gb_input(g, "z", SP_DTYPE_FLOAT, 2, (int64_t[]){-1, 3});
    gb_node(g, "Add", "x,z", "y");
    gb_output(g, "y", SP_DTYPE_FLOAT);
    struct sp_model *m = gb_finish(g);
    struct sp_engine *e = engine_for(m);
    if (e) {
        float buf[12] = {0};
        int64_t ibuf[12] = {0};
        struct sp_error err;
        struct sp_tensor out = {0};
        struct {
            enum sp_dtype dt;
            int ndim;
            int64_t x0, x1, z0;
            const char *needle;
        } cases[] = {
            {SP_DTYPE_INT64, 2, 2, 3, 2, "expects float32, got int64"},
            {SP_DTYPE_FLOAT, 2, 2, 4, 2, "dim 1 must be 3"},
            {SP_DTYPE_FLOAT, 1, 6, 0, 2, "rank 2"},
            {SP_DTYPE_FLOAT, 2, 2, 3, 3, "'N'"}, /* both inputs name their first dim N */
        };
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            sp_error_clear(&err);
            struct sp_tensor in[2] = {
                {.dtype = cases[c].dt, .ndim = cases[c].ndim, .dims = {cases[c].x0, cases[c].x1},
                 .data = cases[c].dt == SP_DTYPE_INT64 ? (void *)ibuf : (void *)buf},
                {.dtype = SP_DTYPE_FLOAT, .ndim = 2, .dims = {cases[c].z0, 3}, .data = buf},
            };
            CU_ASSERT_EQUAL(sp_engine_run(e, in, &out, &err), SP_ERR_MISMATCH);
            if (!strstr(err.msg, cases[c].needle))
                fprintf(stderr, "\n  case %zu: '%s' lacks '%s'\n", c, err.msg, cases[c].needle);
            CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "'x'") ? err.msg : strstr(err.msg, "'z'"));
            CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, cases[c].needle));
        }
        /* After failures the engine still works. */
        for (int i = 0; i < 12; i++)
            buf[i] = (float)i;
        struct sp_tensor ok[2] = {f32_tensor(2, (int64_t[]){4, 3}, buf), f32_tensor(2, (int64_t[]){4, 3}, buf)};
        CU_ASSERT_EQUAL_FATAL(run1(e, ok, &out, 1), SP_OK);
        CU_ASSERT_EQUAL(((float *)out.data)[11], 22.0f);
        sp_tensor_free(&out);
    }
    sp_engine_free(e);
    gb_model_free(m);
}

/* A shape passed as a graph input is planned by value: a new value re-plans. */
static void test_shape_given_as_input_is_planned_by_value(void)
{
    struct gb_graph *g = gb_new(13);
    gb_input(g, "x", SP_DTYPE_FLOAT, 2, (int64_t[]){2, 3});
    gb_input(g, "shape", SP_DTYPE_INT64, 1, (int64_t[]){2});
    gb_node(g, "Reshape", "x,shape", "r");
    gb_node(g, "Neg", "r", "y");
    gb_output(g, "y", SP_DTYPE_FLOAT);
    struct sp_model *m = gb_finish(g);
    struct sp_engine *e = engine_for(m);
    if (e) {
        float x[6] = {1, 2, 3, 4, 5, 6};
        const int64_t shapes[3][2] = {{3, 2}, {6, 1}, {3, 2}};
        for (int k = 0; k < 3; k++) {
            int64_t shape[2] = {shapes[k][0], shapes[k][1]};
            struct sp_tensor in[2] = {f32_tensor(2, (int64_t[]){2, 3}, x),
                                      {.dtype = SP_DTYPE_INT64, .ndim = 1, .dims = {2}, .data = shape}};
            struct sp_tensor out = {0};
            CU_ASSERT_EQUAL_FATAL(run1(e, in, &out, 1), SP_OK);
            CU_ASSERT_EQUAL(out.ndim, 2);
            CU_ASSERT_EQUAL(out.dims[0], shape[0]);
            CU_ASSERT_EQUAL(out.dims[1], shape[1]);
            CU_ASSERT_EQUAL(((float *)out.data)[5], -6.0f);
            sp_tensor_free(&out);
        }
    }
    sp_engine_free(e);
    gb_model_free(m);
}

/* A data-dependent failure in an op's run stops the run with its message. */
static void test_run_errors_propagate(void)
{
    struct gb_graph *g = gb_new(13);
    gb_input(g, "x", SP_DTYPE_FLOAT, 1, (int64_t[]){3});
    gb_input(g, "i", SP_DTYPE_INT64, 1, (int64_t[]){-1});
    gb_node(g, "Gather", "x,i", "y");
    gb_output(g, "y", SP_DTYPE_FLOAT);
    struct sp_model *m = gb_finish(g);
    struct sp_engine *e = engine_for(m);
    if (e) {
        float x[3] = {1, 2, 3};
        int64_t idx[2] = {2, 0};
        struct sp_tensor in[2] = {f32_tensor(1, (int64_t[]){3}, x),
                                  {.dtype = SP_DTYPE_INT64, .ndim = 1, .dims = {2}, .data = idx}};
        struct sp_tensor out = {0};
        CU_ASSERT_EQUAL_FATAL(run1(e, in, &out, 1), SP_OK);
        CU_ASSERT_EQUAL(((float *)out.data)[0], 3.0f);
        CU_ASSERT_EQUAL(((float *)out.data)[1], 1.0f);
        sp_tensor_free(&out);
        idx[1] = 7;
        struct sp_error err;
        sp_error_clear(&err);
        CU_ASSERT_NOT_EQUAL(sp_engine_run(e, in, &out, &err), SP_OK);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "n_y"));
        CU_ASSERT_PTR_NULL(out.data);
    }
    sp_engine_free(e);
    gb_model_free(m);
}

/* Graph outputs may be a graph input or an initializer, not only node outputs. */
static void test_outputs_may_be_inputs_or_constants(void)
{
    struct gb_graph *g = gb_new(13);
    gb_input(g, "x", SP_DTYPE_FLOAT, 1, (int64_t[]){3});
    gb_init_f32(g, "c", 1, (int64_t[]){2}, (float[]){7, 8});
    gb_node(g, "Neg", "x", "y");
    gb_output(g, "x", SP_DTYPE_FLOAT);
    gb_output(g, "c", SP_DTYPE_FLOAT);
    gb_output(g, "y", SP_DTYPE_FLOAT);
    struct sp_model *m = gb_finish(g);
    struct sp_engine *e = engine_for(m);
    if (e) {
        float x[3] = {1, 2, 3};
        struct sp_tensor in = f32_tensor(1, (int64_t[]){3}, x), out[3] = {{0}};
        CU_ASSERT_EQUAL_FATAL(run1(e, &in, out, 3), SP_OK);
        for (int i = 0; i < 3; i++)
            CU_ASSERT(out[i].owns_data);
        CU_ASSERT_PTR_NOT_EQUAL(out[0].data, x); /* a copy the caller owns */
        CU_ASSERT_EQUAL(((float *)out[0].data)[2], 3.0f);
        CU_ASSERT_EQUAL(out[1].dims[0], 2);
        CU_ASSERT_EQUAL(((float *)out[1].data)[1], 8.0f);
        CU_ASSERT_EQUAL(((float *)out[2].data)[0], -1.0f);
        for (int i = 0; i < 3; i++)
            sp_tensor_free(&out[i]);
    }
    sp_engine_free(e);
    gb_model_free(m);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite load = CU_add_suite("engine_load", NULL, NULL);
    CU_add_test(load, "topological sort of shuffled nodes", test_topological_sort_of_shuffled_nodes);
    CU_add_test(load, "cycle is refused at load", test_cycle_is_refused_at_load);
    CU_add_test(load, "dangling input is named", test_dangling_input_is_named);
    CU_add_test(load, "duplicate producer is refused", test_duplicate_producer_is_refused);
    CU_add_test(load, "unknown op names node, type and opset", test_unknown_op_names_node_type_and_opset);
    CU_add_test(load, "supported ops are findable", test_supported_ops_are_findable);
    CU_pSuite mem = CU_add_suite("engine_memory_plan", NULL, NULL);
    CU_add_test(mem, "arena reuses buffers of a long chain", test_arena_reuses_buffers_of_a_long_chain);
    CU_add_test(mem, "arena keeps values alive until last use", test_arena_keeps_values_alive_until_last_use);
    CU_pSuite run = CU_add_suite("engine_run", NULL, NULL);
    CU_add_test(run, "observer sees every node's inputs", test_observer_sees_every_node_inputs);
    CU_add_test(run, "shape chain folds for each batch size", test_shape_chain_folds_for_each_batch_size);
    CU_add_test(run, "Constant-node weights work like initializers", test_constant_node_weights_work_like_initializers);
    CU_add_test(run, "inputs are checked against the model", test_inputs_are_checked_against_the_model);
    CU_add_test(run, "outputs may be inputs or constants", test_outputs_may_be_inputs_or_constants);
    CU_add_test(run, "shape given as input is planned by value", test_shape_given_as_input_is_planned_by_value);
    CU_add_test(run, "run errors propagate", test_run_errors_propagate);
    return sp_test_main();
}
