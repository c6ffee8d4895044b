/*
 * Specification tests for the compute-heavy operators (conv.c, gemm.c,
 * pool.c, normalization.c), driven directly through the op contract: a
 * hand-built NodeProto, init, prepare, run. Every op is compared with a naive
 * reference written here (direct 7-loop convolution, scatter-style transposed
 * convolution, triple-loop matrix product...) in double precision, over
 * randomized shapes and attributes, so the im2col/GEMM fast paths and the
 * window arithmetic are checked against the definition, not against
 * themselves. The engine and the ONNX loader are not needed.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <CUnit/CUnit.h>

#include "engine/op.h"
#include "testutil.h"

extern const struct sp_op sp_op_Conv, sp_op_ConvTranspose, sp_op_Gemm, sp_op_MatMul, sp_op_MaxPool,
    sp_op_AveragePool, sp_op_GlobalAveragePool, sp_op_GlobalMaxPool, sp_op_BatchNormalization,
    sp_op_LayerNormalization, sp_op_InstanceNormalization;

/* ------------------------------------------------------ node harness */

#define T_MAX_ATTRS 12
#define T_MAX_IO 6

struct tnode {
    Onnx__NodeProto proto;
    Onnx__AttributeProto attr[T_MAX_ATTRS];
    Onnx__AttributeProto *attr_ptr[T_MAX_ATTRS];
    int64_t ints[T_MAX_ATTRS][8];
    char strs[T_MAX_ATTRS][32];
    struct sp_value val_in[T_MAX_IO], val_out[T_MAX_IO];
    struct sp_value *in[T_MAX_IO], *out[T_MAX_IO];
    char *out_names[1];
    struct sp_node node;
    void *scratch;
    bool inited;
};

static void tn_init(struct tnode *t, const struct sp_op *op, const char *type, int64_t opset, int n_in, int n_out)
{
    memset(t, 0, sizeof *t);
    Onnx__NodeProto p = ONNX__NODE_PROTO__INIT;
    t->proto = p;
    t->proto.op_type = (char *)type;
    t->proto.name = (char *)"test_node";
    t->proto.attribute = t->attr_ptr;
    t->node.proto = &t->proto;
    t->node.op = op;
    t->node.opset = opset;
    t->node.n_inputs = n_in;
    t->node.inputs = t->in;
    t->node.n_outputs = n_out;
    t->node.outputs = t->out;
    for (int i = 0; i < n_out; i++) {
        t->out[i] = &t->val_out[i];
        t->val_out[i].name = "out";
    }
}

static Onnx__AttributeProto *tn_attr(struct tnode *t, const char *name, Onnx__AttributeProto__AttributeType type)
{
    size_t k = t->proto.n_attribute++;
    Onnx__AttributeProto a = ONNX__ATTRIBUTE_PROTO__INIT;
    t->attr[k] = a;
    t->attr[k].name = (char *)name;
    t->attr[k].has_type = 1;
    t->attr[k].type = type;
    t->attr_ptr[k] = &t->attr[k];
    return &t->attr[k];
}

static void tn_int(struct tnode *t, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = tn_attr(t, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

static void tn_float(struct tnode *t, const char *name, float v)
{
    Onnx__AttributeProto *a = tn_attr(t, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = v;
}

static void tn_ints(struct tnode *t, const char *name, int n, const int64_t *v)
{
    size_t k = t->proto.n_attribute;
    Onnx__AttributeProto *a = tn_attr(t, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    memcpy(t->ints[k], v, (size_t)n * sizeof(int64_t));
    a->n_ints = (size_t)n;
    a->ints = t->ints[k];
}

static void tn_str(struct tnode *t, const char *name, const char *v)
{
    size_t k = t->proto.n_attribute;
    Onnx__AttributeProto *a = tn_attr(t, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    snprintf(t->strs[k], sizeof t->strs[k], "%s", v);
    a->has_s = 1;
    a->s.data = (uint8_t *)t->strs[k];
    a->s.len = strlen(v);
}

/* Input i borrows `data` (float32 unless dtype says otherwise). */
static void tn_input_dt(struct tnode *t, int i, enum sp_dtype dt, int ndim, const int64_t *dims, void *data)
{
    struct sp_value *v = &t->val_in[i];
    v->name = "in";
    v->t.dtype = dt;
    v->t.ndim = ndim;
    for (int d = 0; d < ndim; d++)
        v->t.dims[d] = dims[d];
    v->t.data = data;
    v->is_const = true;
    t->in[i] = v;
}

static void tn_input(struct tnode *t, int i, int ndim, const int64_t *dims, float *data)
{
    tn_input_dt(t, i, SP_DTYPE_FLOAT, ndim, dims, data);
}

static void tn_free(struct tnode *t)
{
    if (t->inited && t->node.op->free)
        t->node.op->free(&t->node);
    for (int i = 0; i < t->node.n_outputs; i++)
        if (t->out[i]) {
            free(t->out[i]->t.data);
            t->out[i]->t.data = NULL;
        }
    free(t->scratch);
    t->scratch = NULL;
    t->inited = false;
}

/* init + prepare; outputs get buffers full of NaN so unwritten elements show. */
static enum sp_status tn_prepare(struct tnode *t, struct sp_error *err)
{
    sp_error_clear(err);
    enum sp_status st = SP_OK;
    if (t->node.op->init)
        st = t->node.op->init(&t->node, err);
    if (st)
        return st;
    t->inited = true;
    if ((st = t->node.op->prepare(&t->node, err)))
        return st;
    for (int i = 0; i < t->node.n_outputs; i++) {
        struct sp_tensor *o = t->out[i] ? &t->out[i]->t : NULL;
        if (!o)
            continue;
        size_t bytes = sp_tensor_nbytes(o);
        o->data = malloc(bytes ? bytes : 1);
        memset(o->data, 0xff, bytes);
    }
    t->scratch = malloc(t->node.scratch_bytes ? t->node.scratch_bytes : 1);
    memset(t->scratch, 0xff, t->node.scratch_bytes);
    return SP_OK;
}

static enum sp_status tn_run(struct tnode *t, struct sp_error *err)
{
    enum sp_status st = tn_prepare(t, err);
    if (st)
        return st;
    return t->node.op->run(&t->node, t->scratch, err);
}

static float *tn_out(struct tnode *t, int i) { return t->out[i]->t.data; }

/* ------------------------------------------------------------ helpers */

static unsigned rng_state = 12345;
static unsigned rnd(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 8) & 0xffffff;
}
static int rnd_int(int lo, int hi) { return lo + (int)(rnd() % (unsigned)(hi - lo + 1)); }
static float rnd_float(void) { return (float)rnd() / (float)0xffffff * 2.0f - 1.0f; }

static float *rand_buf(int64_t n)
{
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        p[i] = rnd_float();
    return p;
}

static int64_t prod(int n, const int64_t *d)
{
    int64_t p = 1;
    for (int i = 0; i < n; i++)
        p *= d[i];
    return p;
}

/* Max of |got - want| / (atol + rtol |want|); <= 1 passes. */
static double close_ratio(const float *got, const double *want, int64_t n, double atol, double rtol)
{
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double r = fabs((double)got[i] - want[i]) / (atol + rtol * fabs(want[i]));
        if (!(r <= worst))
            worst = isnan(r) ? INFINITY : r;
    }
    return worst;
}

/* Window arithmetic of the references, written from the ONNX text, not shared with the ops. */
struct ref_win {
    int nd;
    int64_t in[3], out[3], k[3], s[3], d[3], pb[3], pe[3];
};

/* Returns false if some output size is < 1. */
static bool ref_win_make(struct ref_win *w, int nd, const int64_t *in, const int64_t *k, const int64_t *s,
                         const int64_t *d, const int64_t *pads, const char *auto_pad, bool ceil_mode)
{
    w->nd = nd;
    for (int i = 0; i < nd; i++) {
        w->in[i] = in[i];
        w->k[i] = k[i];
        w->s[i] = s[i];
        w->d[i] = d[i];
        int64_t span = (k[i] - 1) * d[i] + 1;
        if (!strcmp(auto_pad, "SAME_UPPER") || !strcmp(auto_pad, "SAME_LOWER")) {
            w->out[i] = (in[i] + s[i] - 1) / s[i];
            int64_t total = (w->out[i] - 1) * s[i] + span - in[i];
            if (total < 0)
                total = 0;
            w->pb[i] = !strcmp(auto_pad, "SAME_UPPER") ? total / 2 : (total + 1) / 2;
            w->pe[i] = total - w->pb[i];
        } else if (!strcmp(auto_pad, "VALID")) {
            w->pb[i] = w->pe[i] = 0;
            w->out[i] = in[i] >= span ? (in[i] - span) / s[i] + 1 : 0;
        } else {
            w->pb[i] = pads[i];
            w->pe[i] = pads[nd + i];
            double room = (double)(in[i] + w->pb[i] + w->pe[i] - span);
            if (room < 0) {
                w->out[i] = 0;
            } else if (ceil_mode) {
                w->out[i] = (int64_t)ceil(room / (double)s[i]) + 1;
                if ((w->out[i] - 1) * s[i] >= in[i] + w->pb[i])
                    w->out[i]--;
            } else {
                w->out[i] = (int64_t)floor(room / (double)s[i]) + 1;
            }
        }
        if (w->out[i] < 1)
            return false;
    }
    return true;
}

/* Calls f(position index, flat output index) style loops over up to 3 axes. */
static void unflatten(int nd, const int64_t *dims, int64_t flat, int64_t *idx)
{
    for (int i = nd - 1; i >= 0; i--) {
        idx[i] = flat % dims[i];
        flat /= dims[i];
    }
}

/* -------------------------------------------------------------- Conv */

static void conv_ref(const struct ref_win *w, int64_t N, int64_t C, int64_t M, int64_t G, const float *x,
                     const float *wt, const float *b, double *y)
{
    int nd = w->nd;
    int64_t pin = prod(nd, w->in), pout = prod(nd, w->out), taps = prod(nd, w->k);
    int64_t cg = C / G, mg = M / G;
    for (int64_t n = 0; n < N; n++)
        for (int64_t m = 0; m < M; m++) {
            int64_t g = m / mg;
            for (int64_t o = 0; o < pout; o++) {
                int64_t oi[3];
                unflatten(nd, w->out, o, oi);
                double acc = b ? b[m] : 0.0;
                for (int64_t c = 0; c < cg; c++)
                    for (int64_t t = 0; t < taps; t++) {
                        int64_t ki[3], off = 0;
                        unflatten(nd, w->k, t, ki);
                        bool inside = true;
                        for (int i = 0; i < nd; i++) {
                            int64_t p = oi[i] * w->s[i] - w->pb[i] + ki[i] * w->d[i];
                            inside = inside && p >= 0 && p < w->in[i];
                            off = off * w->in[i] + p;
                        }
                        if (inside)
                            acc += (double)x[(n * C + g * cg + c) * pin + off] * wt[(m * cg + c) * taps + t];
                    }
                y[(n * M + m) * pout + o] = acc;
            }
        }
}

static const char *const pad_modes[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};

/* One randomized Conv case; returns false if the reference rejected it. */
static bool conv_case(int nd, bool verbose)
{
    int64_t N = rnd_int(1, 2), G = rnd_int(1, 3), cg = rnd_int(1, 3), mg = rnd_int(1, 3);
    if (rnd() % 4 == 0) { /* depthwise */
        G = rnd_int(2, 5);
        cg = 1;
        mg = 1;
    }
    int64_t C = G * cg, M = G * mg;
    int64_t in[3], k[3], s[3], d[3], pads[6];
    for (int i = 0; i < nd; i++) {
        in[i] = rnd_int(1, nd == 3 ? 6 : 9);
        k[i] = rnd_int(1, 3);
        s[i] = rnd_int(1, 3);
        d[i] = rnd_int(1, 2);
        pads[i] = rnd_int(0, 2);
        pads[nd + i] = rnd_int(0, 2);
    }
    if (rnd() % 5 == 0) /* the 1x1 GEMM path */
        for (int i = 0; i < nd; i++) {
            k[i] = s[i] = d[i] = 1;
            pads[i] = pads[nd + i] = 0;
        }
    const char *ap = pad_modes[rnd() % 4];
    bool use_pads_attr = rnd() % 2, use_bias = rnd() % 2, use_kernel_attr = rnd() % 2;
    struct ref_win rw;
    bool valid = ref_win_make(&rw, nd, in, k, s, d, pads, ap, false);

    int64_t xd[5] = {N, C}, wd[5] = {M, cg};
    for (int i = 0; i < nd; i++) {
        xd[2 + i] = in[i];
        wd[2 + i] = k[i];
    }
    float *x = rand_buf(prod(nd + 2, xd)), *w = rand_buf(prod(nd + 2, wd)), *b = rand_buf(M);
    struct tnode t;
    tn_init(&t, &sp_op_Conv, "Conv", 11, use_bias ? 3 : 2, 1);
    tn_input(&t, 0, nd + 2, xd, x);
    tn_input(&t, 1, nd + 2, wd, w);
    if (use_bias)
        tn_input(&t, 2, 1, &M, b);
    tn_ints(&t, "strides", nd, s);
    tn_ints(&t, "dilations", nd, d);
    if (G != 1 || rnd() % 2)
        tn_int(&t, "group", G);
    if (use_kernel_attr)
        tn_ints(&t, "kernel_shape", nd, k);
    if (strcmp(ap, "NOTSET") || rnd() % 2)
        tn_str(&t, "auto_pad", ap);
    if (!strcmp(ap, "NOTSET") && use_pads_attr)
        tn_ints(&t, "pads", 2 * nd, pads);
    else if (!strcmp(ap, "NOTSET"))
        for (int i = 0; i < 2 * nd; i++)
            pads[i] = 0;
    if (!strcmp(ap, "NOTSET"))
        valid = ref_win_make(&rw, nd, in, k, s, d, pads, ap, false);
    struct sp_error err;
    enum sp_status st = tn_run(&t, &err);
    if (!valid) {
        CU_ASSERT_EQUAL(st, SP_ERR_MISMATCH);
    } else {
        CU_ASSERT_EQUAL_FATAL(st, SP_OK);
        if (st)
            fprintf(stderr, "%s\n", err.msg);
        const struct sp_tensor *o = &t.out[0]->t;
        CU_ASSERT_EQUAL(o->ndim, nd + 2);
        CU_ASSERT_EQUAL(o->dims[1], M);
        for (int i = 0; i < nd; i++)
            CU_ASSERT_EQUAL(o->dims[2 + i], rw.out[i]);
        int64_t ny = N * M * prod(nd, rw.out);
        double *ref = malloc((size_t)ny * sizeof(double));
        conv_ref(&rw, N, C, M, G, x, w, use_bias ? b : NULL, ref);
        double r = close_ratio(tn_out(&t, 0), ref, ny, 1e-5, 1e-4);
        if (r > 1.0 || verbose)
            fprintf(stderr, "conv nd=%d N=%lld C=%lld M=%lld G=%lld auto_pad=%s ratio=%g\n", nd, (long long)N,
                    (long long)C, (long long)M, (long long)G, ap, r);
        CU_ASSERT(r <= 1.0);
        free(ref);
    }
    tn_free(&t);
    free(x);
    free(w);
    free(b);
    return valid;
}

static void test_conv_random_1d_2d_3d(void)
{
    int ran = 0;
    for (int it = 0; it < 400; it++)
        ran += conv_case(1 + it % 3, false);
    CU_ASSERT(ran > 250); /* most random cases are valid and actually compared */
}

/* ONNX's own example (test_conv_with_strides_and_asymmetric_padding): 7x5 input 0..34, 3x3 ones. */
static void test_conv_onnx_example(void)
{
    float x[35], w[9];
    for (int i = 0; i < 35; i++)
        x[i] = (float)i;
    for (int i = 0; i < 9; i++)
        w[i] = 1.0f;
    int64_t xd[4] = {1, 1, 7, 5}, wd[4] = {1, 1, 3, 3}, pads[4] = {1, 0, 1, 0}, str[2] = {2, 2}, ks[2] = {3, 3};
    struct tnode t;
    tn_init(&t, &sp_op_Conv, "Conv", 11, 2, 1);
    tn_input(&t, 0, 4, xd, x);
    tn_input(&t, 1, 4, wd, w);
    tn_ints(&t, "kernel_shape", 2, ks);
    tn_ints(&t, "pads", 4, pads);
    tn_ints(&t, "strides", 2, str);
    struct sp_error err;
    CU_ASSERT_EQUAL_FATAL(tn_run(&t, &err), SP_OK);
    const float want[8] = {21, 33, 99, 117, 189, 207, 171, 183};
    CU_ASSERT_EQUAL(t.out[0]->t.dims[2], 4);
    CU_ASSERT_EQUAL(t.out[0]->t.dims[3], 2);
    for (int i = 0; i < 8; i++)
        CU_ASSERT_DOUBLE_EQUAL(tn_out(&t, 0)[i], want[i], 1e-4);
    tn_free(&t);
}

static void expect_refused(struct tnode *t, enum sp_status want, const char *needle)
{
    struct sp_error err;
    enum sp_status st = tn_prepare(t, &err);
    CU_ASSERT_EQUAL(st, want);
    if (needle && !strstr(err.msg, needle)) {
        fprintf(stderr, "message '%s' lacks '%s'\n", err.msg, needle);
        CU_FAIL("error message");
    }
    CU_ASSERT(strstr(err.msg, "test_node") != NULL); /* names the node */
    tn_free(t);
}

static void test_conv_refusals(void)
{
    float buf[4096] = {0};
    int64_t xd[4] = {1, 6, 5, 5}, wd[4] = {4, 3, 3, 3}, wbad[4] = {4, 2, 3, 3}, bd = 5;
    struct tnode t;
    /* group must divide the channels */
    tn_init(&t, &sp_op_Conv, "Conv", 11, 2, 1);
    tn_input(&t, 0, 4, xd, buf);
    tn_input(&t, 1, 4, wd, buf);
    tn_int(&t, "group", 4);
    expect_refused(&t, SP_ERR_MISMATCH, "group");
    /* weight channels disagree with X / group */
    tn_init(&t, &sp_op_Conv, "Conv", 11, 2, 1);
    tn_input(&t, 0, 4, xd, buf);
    tn_input(&t, 1, 4, wbad, buf);
    expect_refused(&t, SP_ERR_MISMATCH, "channels");
    /* bias of the wrong length */
    tn_init(&t, &sp_op_Conv, "Conv", 11, 3, 1);
    tn_input(&t, 0, 4, xd, buf);
    tn_input(&t, 1, 4, wd, buf);
    tn_input(&t, 2, 1, &bd, buf);
    tn_int(&t, "group", 2);
    expect_refused(&t, SP_ERR_MISMATCH, "bias");
    /* unknown attribute */
    tn_init(&t, &sp_op_Conv, "Conv", 11, 2, 1);
    tn_input(&t, 0, 4, xd, buf);
    tn_input(&t, 1, 4, wd, buf);
    tn_int(&t, "frobnicate", 1);
    expect_refused(&t, SP_ERR_UNSUPPORTED, "frobnicate");
    /* negative pads */
    int64_t neg[4] = {0, -1, 0, 0};
    tn_init(&t, &sp_op_Conv, "Conv", 11, 2, 1);
    tn_input(&t, 0, 4, xd, buf);
    tn_input(&t, 1, 4, wd, buf);
    tn_int(&t, "group", 2);
    tn_ints(&t, "pads", 4, neg);
    expect_refused(&t, SP_ERR_FORMAT, "pads");
    /* kernel larger than the padded input: output size < 1 */
    int64_t big[4] = {4, 3, 7, 7};
    tn_init(&t, &sp_op_Conv, "Conv", 11, 2, 1);
    tn_input(&t, 0, 4, xd, buf);
    tn_input(&t, 1, 4, big, buf);
    tn_int(&t, "group", 2);
    expect_refused(&t, SP_ERR_MISMATCH, "does not fit");
    /* kernel_shape disagreeing with W */
    int64_t ks[2] = {2, 2};
    tn_init(&t, &sp_op_Conv, "Conv", 11, 2, 1);
    tn_input(&t, 0, 4, xd, buf);
    tn_input(&t, 1, 4, wd, buf);
    tn_int(&t, "group", 2);
    tn_ints(&t, "kernel_shape", 2, ks);
    expect_refused(&t, SP_ERR_MISMATCH, "kernel_shape");
    /* non-float input */
    tn_init(&t, &sp_op_Conv, "Conv", 11, 2, 1);
    tn_input_dt(&t, 0, SP_DTYPE_DOUBLE, 4, xd, buf);
    tn_input(&t, 1, 4, wd, buf);
    tn_int(&t, "group", 2);
    expect_refused(&t, SP_ERR_UNSUPPORTED, "float32");
    /* bad auto_pad spelling */
    tn_init(&t, &sp_op_Conv, "Conv", 11, 2, 1);
    tn_input(&t, 0, 4, xd, buf);
    tn_input(&t, 1, 4, wd, buf);
    tn_int(&t, "group", 2);
    tn_str(&t, "auto_pad", "SAME");
    expect_refused(&t, SP_ERR_FORMAT, "auto_pad");
}

/* ----------------------------------------------------- ConvTranspose */

static void convt_ref(int nd, int64_t N, int64_t C, int64_t M, int64_t G, const int64_t *in, const int64_t *out,
                      const int64_t *k, const int64_t *s, const int64_t *d, const int64_t *pb, const float *x,
                      const float *wt, const float *b, double *y)
{
    int64_t pin = prod(nd, in), pout = prod(nd, out), taps = prod(nd, k), cg = C / G, mg = M / G;
    for (int64_t n = 0; n < N; n++)
        for (int64_t m = 0; m < M; m++)
            for (int64_t o = 0; o < pout; o++)
                y[(n * M + m) * pout + o] = b ? b[m] : 0.0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++) {
            int64_t g = c / cg;
            for (int64_t p = 0; p < pin; p++) {
                int64_t ii[3];
                unflatten(nd, in, p, ii);
                for (int64_t mm = 0; mm < mg; mm++)
                    for (int64_t t = 0; t < taps; t++) {
                        int64_t ki[3], off = 0;
                        unflatten(nd, k, t, ki);
                        bool inside = true;
                        for (int i = 0; i < nd; i++) {
                            int64_t q = ii[i] * s[i] - pb[i] + ki[i] * d[i];
                            inside = inside && q >= 0 && q < out[i];
                            off = off * out[i] + q;
                        }
                        if (inside)
                            y[(n * M + g * mg + mm) * pout + off] +=
                                (double)x[(n * C + c) * pin + p] * wt[(c * mg + mm) * taps + t];
                    }
            }
        }
}

static void test_convtranspose_random(void)
{
    int compared = 0;
    for (int it = 0; it < 240; it++) {
        int nd = 1 + it % 3;
        int64_t N = rnd_int(1, 2), G = rnd_int(1, 2), cg = rnd_int(1, 3), mg = rnd_int(1, 3);
        int64_t C = G * cg, M = G * mg;
        int64_t in[3], k[3], s[3], d[3], pads[6], opad[3], out[3], pb[3], full[3];
        int mode = rnd_int(0, 3); /* 0 pads, 1 output_shape, 2 SAME_UPPER, 3 SAME_LOWER */
        for (int i = 0; i < nd; i++) {
            in[i] = rnd_int(1, nd == 3 ? 4 : 6);
            k[i] = rnd_int(1, 3);
            s[i] = rnd_int(1, 3);
            d[i] = rnd_int(1, 2);
            opad[i] = rnd_int(0, (int)(s[i] > d[i] ? s[i] : d[i]) - 1);
            pads[i] = rnd_int(0, 1);
            pads[nd + i] = rnd_int(0, 1);
            full[i] = s[i] * (in[i] - 1) + opad[i] + (k[i] - 1) * d[i] + 1;
        }
        bool valid = true;
        for (int i = 0; i < nd; i++) {
            int64_t total;
            if (mode == 0) {
                pb[i] = pads[i];
                out[i] = full[i] - pads[i] - pads[nd + i];
            } else {
                /* output_shape may exceed the kernel's reach: negative total padding */
                out[i] = mode == 1 ? full[i] - rnd_int(-2, 2) : in[i] * s[i];
                total = full[i] - out[i];
                int64_t half = (int64_t)floor((double)total / 2.0);
                pb[i] = mode == 2 ? half : total - half;
            }
            if (out[i] < 1)
                valid = false;
        }
        if (!valid)
            continue;
        int64_t xd[5] = {N, C}, wd[5] = {C, mg}, yd[3];
        for (int i = 0; i < nd; i++) {
            xd[2 + i] = in[i];
            wd[2 + i] = k[i];
            yd[i] = out[i];
        }
        float *x = rand_buf(prod(nd + 2, xd)), *w = rand_buf(prod(nd + 2, wd)), *b = rand_buf(M);
        bool use_bias = rnd() % 2;
        struct tnode t;
        tn_init(&t, &sp_op_ConvTranspose, "ConvTranspose", 11, use_bias ? 3 : 2, 1);
        tn_input(&t, 0, nd + 2, xd, x);
        tn_input(&t, 1, nd + 2, wd, w);
        if (use_bias)
            tn_input(&t, 2, 1, &M, b);
        tn_ints(&t, "strides", nd, s);
        tn_ints(&t, "dilations", nd, d);
        tn_ints(&t, "output_padding", nd, opad);
        tn_int(&t, "group", G);
        if (mode == 0)
            tn_ints(&t, "pads", 2 * nd, pads);
        if (mode == 1)
            tn_ints(&t, "output_shape", nd, yd);
        if (mode >= 2)
            tn_str(&t, "auto_pad", mode == 2 ? "SAME_UPPER" : "SAME_LOWER");
        struct sp_error err;
        enum sp_status st = tn_run(&t, &err);
        if (st)
            fprintf(stderr, "%s\n", err.msg);
        CU_ASSERT_EQUAL_FATAL(st, SP_OK);
        for (int i = 0; i < nd; i++)
            CU_ASSERT_EQUAL(t.out[0]->t.dims[2 + i], out[i]);
        int64_t ny = N * M * prod(nd, out);
        double *ref = malloc((size_t)ny * sizeof(double));
        convt_ref(nd, N, C, M, G, in, out, k, s, d, pb, x, w, use_bias ? b : NULL, ref);
        double r = close_ratio(tn_out(&t, 0), ref, ny, 1e-5, 1e-4);
        if (r > 1.0)
            fprintf(stderr, "convtranspose nd=%d mode=%d ratio=%g\n", nd, mode, r);
        CU_ASSERT(r <= 1.0);
        compared++;
        free(ref);
        tn_free(&t);
        free(x);
        free(w);
        free(b);
    }
    CU_ASSERT(compared > 150);
}

/* ------------------------------------------------------ Gemm, MatMul */

static void test_gemm_random(void)
{
    for (int it = 0; it < 120; it++) {
        int64_t M = rnd_int(1, 17), N = rnd_int(1, 17), K = rnd_int(1, 17);
        int ta = rnd() % 2, tb = rnd() % 2, cmode = rnd_int(0, 5);
        float alpha = rnd() % 2 ? 1.0f : rnd_float() * 3, beta = rnd() % 2 ? 1.0f : rnd_float() * 3;
        int64_t ad[2] = {ta ? K : M, ta ? M : K}, bd[2] = {tb ? N : K, tb ? K : N};
        /* C shapes: none, scalar, [N], [1, N], [M, 1], [M, N] */
        int64_t cdims[6][2] = {{0, 0}, {0, 0}, {N, 0}, {1, N}, {M, 1}, {M, N}};
        int crank[6] = {0, 0, 1, 2, 2, 2};
        float *a = rand_buf(M * K), *b = rand_buf(K * N), *c = rand_buf(M * N);
        struct tnode t;
        tn_init(&t, &sp_op_Gemm, "Gemm", 13, cmode ? 3 : 2, 1);
        tn_input(&t, 0, 2, ad, a);
        tn_input(&t, 1, 2, bd, b);
        if (cmode)
            tn_input(&t, 2, crank[cmode], cdims[cmode], c);
        tn_int(&t, "transA", ta);
        tn_int(&t, "transB", tb);
        tn_float(&t, "alpha", alpha);
        tn_float(&t, "beta", beta);
        struct sp_error err;
        CU_ASSERT_EQUAL_FATAL(tn_run(&t, &err), SP_OK);
        double *ref = malloc((size_t)(M * N) * sizeof(double));
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double acc = 0;
                for (int64_t q = 0; q < K; q++)
                    acc += (double)(ta ? a[q * M + i] : a[i * K + q]) * (tb ? b[j * K + q] : b[q * N + j]);
                double cv = 0;
                switch (cmode) {
                case 1: cv = c[0]; break;
                case 2: case 3: cv = c[j]; break;
                case 4: cv = c[i]; break;
                case 5: cv = c[i * N + j]; break;
                }
                ref[i * N + j] = alpha * acc + beta * cv;
            }
        CU_ASSERT(close_ratio(tn_out(&t, 0), ref, M * N, 1e-5, 1e-4) <= 1.0);
        free(ref);
        tn_free(&t);
        free(a);
        free(b);
        free(c);
    }
    /* C that does not broadcast; C required before opset 11 */
    float buf[64] = {0};
    int64_t d22[2] = {2, 3}, d32[2] = {3, 2}, bad[1] = {3};
    struct tnode t;
    tn_init(&t, &sp_op_Gemm, "Gemm", 13, 3, 1);
    tn_input(&t, 0, 2, d22, buf);
    tn_input(&t, 1, 2, d32, buf);
    tn_input(&t, 2, 1, bad, buf);
    expect_refused(&t, SP_ERR_MISMATCH, "broadcast");
    tn_init(&t, &sp_op_Gemm, "Gemm", 9, 2, 1);
    tn_input(&t, 0, 2, d22, buf);
    tn_input(&t, 1, 2, d32, buf);
    expect_refused(&t, SP_ERR_FORMAT, "C");
}

/* MatMul with numpy semantics: reference by explicit broadcasting over up to 4 batch axes. */
static void matmul_check(int ra, const int64_t *adims, int rb, const int64_t *bdims, int rout,
                         const int64_t *want_dims)
{
    float *a = rand_buf(prod(ra, adims)), *b = rand_buf(prod(rb, bdims));
    struct tnode t;
    tn_init(&t, &sp_op_MatMul, "MatMul", 13, 2, 1);
    tn_input(&t, 0, ra, adims, a);
    tn_input(&t, 1, rb, bdims, b);
    struct sp_error err;
    CU_ASSERT_EQUAL_FATAL(tn_run(&t, &err), SP_OK);
    const struct sp_tensor *o = &t.out[0]->t;
    CU_ASSERT_EQUAL_FATAL(o->ndim, rout);
    for (int i = 0; i < rout; i++)
        CU_ASSERT_EQUAL(o->dims[i], want_dims[i]);
    /* Promote both to rank R = max + 2 with numpy rules. */
    int64_t A[8], B[8];
    int na = ra == 1 ? 2 : ra, nb = rb == 1 ? 2 : rb;
    int64_t pa[8], pbd[8];
    if (ra == 1) { pa[0] = 1; pa[1] = adims[0]; } else memcpy(pa, adims, (size_t)ra * 8);
    if (rb == 1) { pbd[0] = bdims[0]; pbd[1] = 1; } else memcpy(pbd, bdims, (size_t)rb * 8);
    int R = na > nb ? na : nb;
    for (int i = 0; i < R; i++) {
        A[i] = i - (R - na) >= 0 ? pa[i - (R - na)] : 1;
        B[i] = i - (R - nb) >= 0 ? pbd[i - (R - nb)] : 1;
    }
    int64_t M = A[R - 2], K = A[R - 1], N = B[R - 1], batch[8], nbt = 1;
    for (int i = 0; i < R - 2; i++) {
        batch[i] = A[i] > B[i] ? A[i] : B[i];
        nbt *= batch[i];
    }
    double *ref = malloc((size_t)(nbt * M * N) * sizeof(double));
    for (int64_t bt = 0; bt < nbt; bt++) {
        int64_t idx[8], ao = 0, bo = 0;
        unflatten(R - 2, batch, bt, idx);
        for (int i = 0; i < R - 2; i++) {
            ao = ao * A[i] + (A[i] == 1 ? 0 : idx[i]);
            bo = bo * B[i] + (B[i] == 1 ? 0 : idx[i]);
        }
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double acc = 0;
                for (int64_t q = 0; q < K; q++)
                    acc += (double)a[ao * M * K + i * K + q] * b[bo * K * N + q * N + j];
                ref[bt * M * N + i * N + j] = acc;
            }
    }
    CU_ASSERT(close_ratio(tn_out(&t, 0), ref, nbt * M * N, 1e-5, 1e-4) <= 1.0);
    free(ref);
    tn_free(&t);
    free(a);
    free(b);
}

static void test_matmul_numpy_semantics(void)
{
    { int64_t a[2] = {3, 4}, b[2] = {4, 5}, o[2] = {3, 5}; matmul_check(2, a, 2, b, 2, o); }
    { int64_t a[1] = {4}, b[2] = {4, 5}, o[1] = {5}; matmul_check(1, a, 2, b, 1, o); }
    { int64_t a[2] = {3, 4}, b[1] = {4}, o[1] = {3}; matmul_check(2, a, 1, b, 1, o); }
    { int64_t a[1] = {4}, b[1] = {4}; matmul_check(1, a, 1, b, 0, NULL); }
    { int64_t a[3] = {2, 3, 4}, b[2] = {4, 5}, o[3] = {2, 3, 5}; matmul_check(3, a, 2, b, 3, o); } /* fold */
    { int64_t a[4] = {2, 3, 6, 4}, b[3] = {3, 4, 5}, o[4] = {2, 3, 6, 5}; matmul_check(4, a, 3, b, 4, o); }
    { int64_t a[4] = {2, 1, 6, 4}, b[4] = {1, 3, 4, 5}, o[4] = {2, 3, 6, 5}; matmul_check(4, a, 4, b, 4, o); }
    { int64_t a[2] = {6, 4}, b[3] = {3, 4, 5}, o[3] = {3, 6, 5}; matmul_check(2, a, 3, b, 3, o); }
    { int64_t a[1] = {4}, b[3] = {3, 4, 5}, o[2] = {3, 5}; matmul_check(1, a, 3, b, 2, o); }
    { int64_t a[3] = {3, 6, 4}, b[1] = {4}, o[2] = {3, 6}; matmul_check(3, a, 1, b, 2, o); }
    { int64_t a[3] = {3, 6, 4}, b[3] = {1, 4, 5}, o[3] = {3, 6, 5}; matmul_check(3, a, 3, b, 3, o); } /* fold */
    /* mismatched K, non-broadcasting batch */
    float buf[256] = {0};
    int64_t a[3] = {2, 3, 4}, b[3] = {3, 4, 5}, bk[2] = {3, 5};
    struct tnode t;
    tn_init(&t, &sp_op_MatMul, "MatMul", 13, 2, 1);
    tn_input(&t, 0, 3, a, buf);
    tn_input(&t, 1, 3, b, buf);
    expect_refused(&t, SP_ERR_MISMATCH, "broadcast");
    tn_init(&t, &sp_op_MatMul, "MatMul", 13, 2, 1);
    tn_input(&t, 0, 3, a, buf);
    tn_input(&t, 1, 2, bk, buf);
    expect_refused(&t, SP_ERR_MISMATCH, "inner");
}

/* -------------------------------------------------------------- Pools */

static void pool_ref(const struct ref_win *w, int64_t planes, bool is_max, bool include_pad, const float *x,
                     double *y, int64_t *ind)
{
    int nd = w->nd;
    int64_t pin = prod(nd, w->in), pout = prod(nd, w->out), taps = prod(nd, w->k);
    for (int64_t p = 0; p < planes; p++)
        for (int64_t o = 0; o < pout; o++) {
            int64_t oi[3];
            unflatten(nd, w->out, o, oi);
            double best = -INFINITY, sum = 0;
            int64_t at = -1, count = 0, padcount = 1;
            for (int i = 0; i < nd; i++) {
                int64_t st = oi[i] * w->s[i] - w->pb[i];
                int64_t en = st + w->k[i] < w->in[i] + w->pe[i] ? st + w->k[i] : w->in[i] + w->pe[i];
                padcount *= en - st;
            }
            for (int64_t t = 0; t < taps; t++) {
                int64_t ki[3], off = 0;
                unflatten(nd, w->k, t, ki);
                bool inside = true;
                for (int i = 0; i < nd; i++) {
                    int64_t q = oi[i] * w->s[i] - w->pb[i] + ki[i] * w->d[i];
                    inside = inside && q >= 0 && q < w->in[i];
                    off = off * w->in[i] + q;
                }
                if (!inside)
                    continue;
                double v = x[p * pin + off];
                if (v > best) {
                    best = v;
                    at = p * pin + off;
                }
                sum += v;
                count++;
            }
            /* A max window that sees only padding yields the lowest float, as in ONNX Runtime. */
            if (is_max && at < 0)
                best = -FLT_MAX;
            y[p * pout + o] = is_max ? best : sum / (double)(include_pad ? padcount : count);
            if (ind)
                ind[p * pout + o] = at;
        }
}

static void test_pools_random(void)
{
    int compared = 0;
    for (int it = 0; it < 300; it++) {
        int nd = 1 + it % 3;
        bool is_max = it % 2;
        int64_t N = rnd_int(1, 2), C = rnd_int(1, 3);
        int64_t in[3], k[3], s[3], d[3] = {1, 1, 1}, pads[6];
        for (int i = 0; i < nd; i++) {
            in[i] = rnd_int(1, nd == 3 ? 6 : 9);
            k[i] = rnd_int(1, 3);
            s[i] = rnd_int(1, 3);
            if (is_max)
                d[i] = rnd_int(1, 2);
            pads[i] = rnd_int(0, (int)k[i] - 1);
            pads[nd + i] = rnd_int(0, (int)k[i] - 1);
        }
        const char *ap = pad_modes[rnd() % 4];
        bool ceil_mode = rnd() % 2 && !strcmp(ap, "NOTSET"), include_pad = rnd() % 2, want_ind = is_max && rnd() % 2;
        if (strcmp(ap, "NOTSET"))
            for (int i = 0; i < 2 * nd; i++)
                pads[i] = 0;
        struct ref_win rw;
        bool valid = ref_win_make(&rw, nd, in, k, s, d, pads, ap, ceil_mode);
        int64_t xd[5] = {N, C};
        for (int i = 0; i < nd; i++)
            xd[2 + i] = in[i];
        float *x = rand_buf(prod(nd + 2, xd));
        struct tnode t;
        if (is_max)
            tn_init(&t, &sp_op_MaxPool, "MaxPool", 12, 1, want_ind ? 2 : 1);
        else
            tn_init(&t, &sp_op_AveragePool, "AveragePool", 11, 1, 1);
        tn_input(&t, 0, nd + 2, xd, x);
        tn_ints(&t, "kernel_shape", nd, k);
        tn_ints(&t, "strides", nd, s);
        if (is_max)
            tn_ints(&t, "dilations", nd, d);
        else
            tn_int(&t, "count_include_pad", include_pad);
        tn_int(&t, "ceil_mode", ceil_mode);
        tn_str(&t, "auto_pad", ap);
        if (!strcmp(ap, "NOTSET"))
            tn_ints(&t, "pads", 2 * nd, pads);
        struct sp_error err;
        enum sp_status st = tn_run(&t, &err);
        if (!valid) {
            CU_ASSERT_EQUAL(st, SP_ERR_MISMATCH);
        } else {
            if (st)
                fprintf(stderr, "%s\n", err.msg);
            CU_ASSERT_EQUAL_FATAL(st, SP_OK);
            for (int i = 0; i < nd; i++)
                CU_ASSERT_EQUAL(t.out[0]->t.dims[2 + i], rw.out[i]);
            int64_t ny = N * C * prod(nd, rw.out);
            double *ref = malloc((size_t)ny * sizeof(double));
            int64_t *ind = malloc((size_t)ny * sizeof(int64_t));
            pool_ref(&rw, N * C, is_max, include_pad, x, ref, ind);
            double r = close_ratio(tn_out(&t, 0), ref, ny, 1e-6, 1e-5);
            if (r > 1.0)
                fprintf(stderr, "pool %s nd=%d auto_pad=%s ceil=%d incl=%d ratio=%g\n", is_max ? "max" : "avg", nd,
                        ap, ceil_mode, include_pad, r);
            CU_ASSERT(r <= 1.0);
            if (want_ind) {
                const int64_t *got = t.out[1]->t.data;
                CU_ASSERT_EQUAL(t.out[1]->t.dtype, SP_DTYPE_INT64);
                for (int64_t i = 0; i < ny; i++)
                    if (ind[i] >= 0)
                        CU_ASSERT_EQUAL(got[i], ind[i]);
            }
            compared++;
            free(ref);
            free(ind);
        }
        tn_free(&t);
        free(x);
    }
    CU_ASSERT(compared > 200);
}

/* The ONNX maxpool_2d_ceil example: 4x4 input 1..16, kernel 3, stride 2, ceil -> [[11,12],[15,16]]. */
static void test_maxpool_ceil_example_and_refusals(void)
{
    float x[16];
    for (int i = 0; i < 16; i++)
        x[i] = (float)(i + 1);
    int64_t xd[4] = {1, 1, 4, 4}, ks[2] = {3, 3}, st[2] = {2, 2};
    struct tnode t;
    tn_init(&t, &sp_op_MaxPool, "MaxPool", 12, 1, 1);
    tn_input(&t, 0, 4, xd, x);
    tn_ints(&t, "kernel_shape", 2, ks);
    tn_ints(&t, "strides", 2, st);
    tn_int(&t, "ceil_mode", 1);
    struct sp_error err;
    CU_ASSERT_EQUAL_FATAL(tn_run(&t, &err), SP_OK);
    const float want[4] = {11, 12, 15, 16};
    for (int i = 0; i < 4; i++)
        CU_ASSERT_DOUBLE_EQUAL(tn_out(&t, 0)[i], want[i], 0);
    tn_free(&t);
    /* storage_order 1: Indices with the first spatial axis fastest (column-major) */
    tn_init(&t, &sp_op_MaxPool, "MaxPool", 12, 1, 2);
    tn_input(&t, 0, 4, xd, x);
    tn_ints(&t, "kernel_shape", 2, ks);
    tn_ints(&t, "strides", 2, st);
    tn_int(&t, "ceil_mode", 1);
    tn_int(&t, "storage_order", 1);
    CU_ASSERT_EQUAL_FATAL(tn_run(&t, &err), SP_OK);
    const int64_t want_cm[4] = {10, 14, 11, 15};
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(((int64_t *)t.out[1]->t.data)[i], want_cm[i]);
    tn_free(&t);
    /* uint8 input (opset 12): same maxima, exact */
    uint8_t xu[16];
    for (int i = 0; i < 16; i++)
        xu[i] = (uint8_t)(200 + i);
    tn_init(&t, &sp_op_MaxPool, "MaxPool", 12, 1, 1);
    tn_input_dt(&t, 0, SP_DTYPE_UINT8, 4, xd, xu);
    tn_ints(&t, "kernel_shape", 2, ks);
    tn_ints(&t, "strides", 2, st);
    tn_int(&t, "ceil_mode", 1);
    CU_ASSERT_EQUAL_FATAL(tn_run(&t, &err), SP_OK);
    CU_ASSERT_EQUAL(t.out[0]->t.dtype, SP_DTYPE_UINT8);
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(((uint8_t *)t.out[0]->t.data)[i], 200 + (int)want[i] - 1);
    tn_free(&t);
    tn_init(&t, &sp_op_MaxPool, "MaxPool", 12, 1, 1);
    tn_input(&t, 0, 4, xd, x);
    tn_ints(&t, "kernel_shape", 2, ks);
    tn_int(&t, "storage_order", 2);
    expect_refused(&t, SP_ERR_FORMAT, "storage_order");
    tn_init(&t, &sp_op_AveragePool, "AveragePool", 11, 1, 1);
    tn_input_dt(&t, 0, SP_DTYPE_UINT8, 4, xd, xu);
    tn_ints(&t, "kernel_shape", 2, ks);
    expect_refused(&t, SP_ERR_UNSUPPORTED, "float32");
    tn_init(&t, &sp_op_AveragePool, "AveragePool", 11, 1, 1);
    tn_input(&t, 0, 4, xd, x);
    tn_ints(&t, "kernel_shape", 2, ks);
    tn_ints(&t, "dilations", 2, st);
    expect_refused(&t, SP_ERR_UNSUPPORTED, "dilations");
    tn_init(&t, &sp_op_MaxPool, "MaxPool", 12, 1, 1);
    tn_input(&t, 0, 4, xd, x);
    expect_refused(&t, SP_ERR_FORMAT, "kernel_shape");
}

static void test_global_pools(void)
{
    int64_t xd[4] = {2, 3, 5, 7};
    float *x = rand_buf(prod(4, xd));
    for (int kind = 0; kind < 2; kind++) {
        struct tnode t;
        if (kind)
            tn_init(&t, &sp_op_GlobalMaxPool, "GlobalMaxPool", 1, 1, 1);
        else
            tn_init(&t, &sp_op_GlobalAveragePool, "GlobalAveragePool", 1, 1, 1);
        tn_input(&t, 0, 4, xd, x);
        struct sp_error err;
        CU_ASSERT_EQUAL_FATAL(tn_run(&t, &err), SP_OK);
        CU_ASSERT_EQUAL(t.out[0]->t.ndim, 4);
        CU_ASSERT_EQUAL(t.out[0]->t.dims[2], 1);
        CU_ASSERT_EQUAL(t.out[0]->t.dims[3], 1);
        for (int p = 0; p < 6; p++) {
            double acc = kind ? -INFINITY : 0;
            for (int i = 0; i < 35; i++)
                acc = kind ? fmax(acc, x[p * 35 + i]) : acc + x[p * 35 + i] / 35.0;
            CU_ASSERT_DOUBLE_EQUAL(tn_out(&t, 0)[p], acc, 1e-6);
        }
        tn_free(&t);
    }
    free(x);
}

/* ----------------------------------------------------- Normalizations */

static void test_batchnorm(void)
{
    int64_t xd[4] = {2, 3, 4, 5}, cd = 3;
    float *x = rand_buf(120), sc[3], bi[3], mu[3], var[3];
    for (int c = 0; c < 3; c++) {
        sc[c] = rnd_float();
        bi[c] = rnd_float();
        mu[c] = rnd_float();
        var[c] = rnd_float() + 1.5f;
    }
    struct tnode t;
    tn_init(&t, &sp_op_BatchNormalization, "BatchNormalization", 15, 5, 1);
    tn_input(&t, 0, 4, xd, x);
    tn_input(&t, 1, 1, &cd, sc);
    tn_input(&t, 2, 1, &cd, bi);
    tn_input(&t, 3, 1, &cd, mu);
    tn_input(&t, 4, 1, &cd, var);
    tn_float(&t, "epsilon", 1e-2f);
    struct sp_error err;
    CU_ASSERT_EQUAL_FATAL(tn_run(&t, &err), SP_OK);
    double ref[120];
    for (int i = 0; i < 120; i++) {
        int c = (i / 20) % 3;
        ref[i] = (x[i] - mu[c]) / sqrt((double)var[c] + 1e-2) * sc[c] + bi[c];
    }
    CU_ASSERT(close_ratio(tn_out(&t, 0), ref, 120, 1e-6, 1e-5) <= 1.0);
    tn_free(&t);

    /* opset 7, spatial = 0: one statistic per channel and position */
    int64_t pd[3] = {3, 4, 5};
    float *sc2 = rand_buf(60), *bi2 = rand_buf(60), *mu2 = rand_buf(60), *var2 = rand_buf(60);
    for (int i = 0; i < 60; i++)
        var2[i] += 1.5f;
    tn_init(&t, &sp_op_BatchNormalization, "BatchNormalization", 7, 5, 1);
    tn_input(&t, 0, 4, xd, x);
    tn_input(&t, 1, 3, pd, sc2);
    tn_input(&t, 2, 3, pd, bi2);
    tn_input(&t, 3, 3, pd, mu2);
    tn_input(&t, 4, 3, pd, var2);
    tn_int(&t, "spatial", 0);
    CU_ASSERT_EQUAL_FATAL(tn_run(&t, &err), SP_OK);
    for (int i = 0; i < 120; i++) {
        int j = i % 60;
        ref[i] = (x[i] - mu2[j]) / sqrt((double)var2[j] + 1e-5) * sc2[j] + bi2[j];
    }
    CU_ASSERT(close_ratio(tn_out(&t, 0), ref, 120, 1e-6, 1e-5) <= 1.0);
    tn_free(&t);

    /* training mode and the 'spatial' attribute past opset 8 are refused */
    tn_init(&t, &sp_op_BatchNormalization, "BatchNormalization", 15, 5, 1);
    for (int i = 0; i < 5; i++)
        tn_input(&t, i, i ? 1 : 4, i ? &cd : xd, i ? sc : x);
    tn_int(&t, "training_mode", 1);
    expect_refused(&t, SP_ERR_UNSUPPORTED, "training_mode");
    tn_init(&t, &sp_op_BatchNormalization, "BatchNormalization", 9, 5, 1);
    for (int i = 0; i < 5; i++)
        tn_input(&t, i, i ? 1 : 4, i ? &cd : xd, i ? sc : x);
    tn_int(&t, "spatial", 0);
    expect_refused(&t, SP_ERR_UNSUPPORTED, "spatial");
    tn_init(&t, &sp_op_BatchNormalization, "BatchNormalization", 9, 5, 3);
    for (int i = 0; i < 5; i++)
        tn_input(&t, i, i ? 1 : 4, i ? &cd : xd, i ? sc : x);
    expect_refused(&t, SP_ERR_UNSUPPORTED, "training");
    free(x);
    free(sc2);
    free(bi2);
    free(mu2);
    free(var2);
}

static void test_layernorm(void)
{
    int64_t xd[3] = {2, 3, 8};
    /* a large common offset: a one-pass variance would lose every digit */
    float *x = rand_buf(48);
    for (int i = 0; i < 48; i++)
        x[i] += 1000.0f;
    for (int axis = -3; axis < 3; axis++) {
        int ax = axis < 0 ? axis + 3 : axis;
        int64_t inner = prod(3 - ax, xd + ax), outer = 48 / inner;
        for (int pmode = 0; pmode < 2; pmode++) {
            /* pmode 1: Scale/B of shape [last dim] broadcast over the normalized axes */
            int64_t pdims[3];
            int prank = pmode ? 1 : 3 - ax;
            if (pmode)
                pdims[0] = xd[2];
            else
                memcpy(pdims, xd + ax, (size_t)prank * sizeof(int64_t));
            float *sc = rand_buf(inner), *bi = rand_buf(inner);
            struct tnode t;
            tn_init(&t, &sp_op_LayerNormalization, "LayerNormalization", 17, 3, 3);
            tn_input(&t, 0, 3, xd, x);
            tn_input(&t, 1, prank, pdims, sc);
            tn_input(&t, 2, prank, pdims, bi);
            tn_int(&t, "axis", axis);
            tn_float(&t, "epsilon", 1e-3f);
            struct sp_error err;
            CU_ASSERT_EQUAL_FATAL(tn_run(&t, &err), SP_OK);
            double ref[48], mean_ref[48], inv_ref[48];
            for (int64_t r = 0; r < outer; r++) {
                double m = 0, v = 0;
                for (int64_t i = 0; i < inner; i++)
                    m += x[r * inner + i];
                m /= (double)inner;
                for (int64_t i = 0; i < inner; i++)
                    v += (x[r * inner + i] - m) * (x[r * inner + i] - m);
                double inv = 1.0 / sqrt(v / (double)inner + 1e-3);
                mean_ref[r] = m;
                inv_ref[r] = inv;
                for (int64_t i = 0; i < inner; i++) {
                    int64_t pi = pmode ? i % xd[2] : i;
                    ref[r * inner + i] = (x[r * inner + i] - m) * inv * sc[pi] + bi[pi];
                }
            }
            CU_ASSERT(close_ratio(tn_out(&t, 0), ref, 48, 1e-4, 1e-4) <= 1.0);
            CU_ASSERT(close_ratio(tn_out(&t, 1), mean_ref, outer, 1e-4, 1e-6) <= 1.0);
            CU_ASSERT(close_ratio(tn_out(&t, 2), inv_ref, outer, 1e-4, 1e-4) <= 1.0);
            CU_ASSERT_EQUAL(t.out[1]->t.ndim, 3);
            CU_ASSERT_EQUAL(t.out[1]->t.dims[2], 1);
            tn_free(&t);
            free(sc);
            free(bi);
        }
    }
    struct tnode t;
    float buf[64] = {0};
    tn_init(&t, &sp_op_LayerNormalization, "LayerNormalization", 17, 2, 1);
    tn_input(&t, 0, 3, xd, x);
    tn_input(&t, 1, 1, xd + 1, buf);
    expect_refused(&t, SP_ERR_MISMATCH, "Scale");
    tn_init(&t, &sp_op_LayerNormalization, "LayerNormalization", 17, 2, 1);
    tn_input(&t, 0, 3, xd, x);
    tn_input(&t, 1, 1, xd + 2, buf);
    tn_int(&t, "stash_type", 11);
    expect_refused(&t, SP_ERR_UNSUPPORTED, "stash_type");
    free(x);
}

static void test_instancenorm(void)
{
    int64_t xd[4] = {2, 3, 4, 5}, cd = 3;
    float *x = rand_buf(120), sc[3], bi[3];
    for (int c = 0; c < 3; c++) {
        sc[c] = rnd_float();
        bi[c] = rnd_float();
    }
    struct tnode t;
    tn_init(&t, &sp_op_InstanceNormalization, "InstanceNormalization", 6, 3, 1);
    tn_input(&t, 0, 4, xd, x);
    tn_input(&t, 1, 1, &cd, sc);
    tn_input(&t, 2, 1, &cd, bi);
    struct sp_error err;
    CU_ASSERT_EQUAL_FATAL(tn_run(&t, &err), SP_OK);
    double ref[120];
    for (int p = 0; p < 6; p++) {
        double m = 0, v = 0;
        for (int i = 0; i < 20; i++)
            m += x[p * 20 + i] / 20.0;
        for (int i = 0; i < 20; i++)
            v += (x[p * 20 + i] - m) * (x[p * 20 + i] - m) / 20.0;
        for (int i = 0; i < 20; i++)
            ref[p * 20 + i] = (x[p * 20 + i] - m) / sqrt(v + 1e-5) * sc[p % 3] + bi[p % 3];
    }
    CU_ASSERT(close_ratio(tn_out(&t, 0), ref, 120, 1e-5, 1e-4) <= 1.0);
    tn_free(&t);
    free(x);
}

/* ------------------------------------------------------------- timing */

/*
 * ResNet-50's convolution stack at batch 1 (every distinct conv shape times
 * its count), timed only when SPARSIFY_BENCH is set: a quick way to see where
 * the conv hot path stands against the machine's sgemm rate.
 */
static void test_resnet50_conv_stack_timing(void)
{
    if (!getenv("SPARSIFY_BENCH"))
        return;
    /* {C_in, H, C_out, k, stride, pad, count} */
    static const int shapes[][7] = {
        {3, 224, 64, 7, 2, 3, 1},     {64, 56, 64, 1, 1, 0, 3},     {64, 56, 64, 3, 1, 1, 3},
        {64, 56, 256, 1, 1, 0, 4},    {256, 56, 64, 1, 1, 0, 2},    {256, 56, 128, 1, 1, 0, 1},
        {128, 56, 128, 3, 2, 1, 1},   {128, 28, 512, 1, 1, 0, 4},   {256, 56, 512, 1, 2, 0, 1},
        {512, 28, 128, 1, 1, 0, 3},   {128, 28, 128, 3, 1, 1, 3},   {512, 28, 256, 1, 1, 0, 1},
        {256, 28, 256, 3, 2, 1, 1},   {256, 14, 1024, 1, 1, 0, 6},  {512, 28, 1024, 1, 2, 0, 1},
        {1024, 14, 256, 1, 1, 0, 5},  {256, 14, 256, 3, 1, 1, 5},   {1024, 14, 512, 1, 1, 0, 1},
        {512, 14, 512, 3, 2, 1, 1},   {512, 7, 2048, 1, 1, 0, 3},   {1024, 14, 2048, 1, 2, 0, 1},
        {2048, 7, 512, 1, 1, 0, 2},   {512, 7, 512, 3, 1, 1, 2},
    };
    double total_s = 0, total_flop = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int *sh = shapes[i];
        int64_t xd[4] = {1, sh[0], sh[1], sh[1]}, wd[4] = {sh[2], sh[0], sh[3], sh[3]}, bd = sh[2];
        int64_t ks[2] = {sh[3], sh[3]}, st[2] = {sh[4], sh[4]}, pads[4] = {sh[5], sh[5], sh[5], sh[5]};
        float *x = rand_buf(prod(4, xd)), *w = rand_buf(prod(4, wd)), *b = rand_buf(bd);
        struct tnode t;
        tn_init(&t, &sp_op_Conv, "Conv", 11, 3, 1);
        tn_input(&t, 0, 4, xd, x);
        tn_input(&t, 1, 4, wd, w);
        tn_input(&t, 2, 1, &bd, b);
        tn_ints(&t, "kernel_shape", 2, ks);
        tn_ints(&t, "strides", 2, st);
        tn_ints(&t, "pads", 4, pads);
        struct sp_error err;
        CU_ASSERT_EQUAL_FATAL(tn_prepare(&t, &err), SP_OK);
        t.node.op->run(&t.node, t.scratch, &err); /* warm-up */
        /* Best of several runs: the machine is shared, the minimum is the least disturbed. */
        double s = INFINITY;
        for (int r = 0; r < 7; r++) {
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            t.node.op->run(&t.node, t.scratch, &err);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            double e = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
            s = e < s ? e : s;
        }
        int64_t oh = t.out[0]->t.dims[2];
        double flop = 2.0 * sh[2] * oh * oh * sh[0] * sh[3] * sh[3];
        fprintf(stderr, "conv %4d->%4d %dx%d s%d @%3d: %7.3f ms %6.1f GFLOP/s x%d\n", sh[0], sh[2], sh[3], sh[3],
                sh[4], sh[1], s * 1e3, flop / s * 1e-9, sh[6]);
        total_s += s * sh[6];
        total_flop += flop * sh[6];
        tn_free(&t);
        free(x);
        free(w);
        free(b);
    }
    fprintf(stderr, "ResNet-50 conv stack: %.1f ms, %.2f GFLOP, %.1f GFLOP/s\n", total_s * 1e3, total_flop * 1e-9,
            total_flop / total_s * 1e-9);
    /* The stem's max pool, 3x3 stride 2 pad 1 over 64 x 112 x 112. */
    int64_t xd[4] = {1, 64, 112, 112}, ks[2] = {3, 3}, st[2] = {2, 2}, pads[4] = {1, 1, 1, 1};
    float *x = rand_buf(prod(4, xd));
    struct tnode t;
    tn_init(&t, &sp_op_MaxPool, "MaxPool", 12, 1, 1);
    tn_input(&t, 0, 4, xd, x);
    tn_ints(&t, "kernel_shape", 2, ks);
    tn_ints(&t, "strides", 2, st);
    tn_ints(&t, "pads", 4, pads);
    struct sp_error err;
    CU_ASSERT_EQUAL_FATAL(tn_prepare(&t, &err), SP_OK);
    double best = INFINITY;
    for (int r = 0; r < 7; r++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        t.node.op->run(&t.node, t.scratch, &err);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double e = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        best = e < best ? e : best;
    }
    fprintf(stderr, "maxpool 3x3 s2 64x112x112: %.3f ms\n", best * 1e3);
    tn_free(&t);
    free(x);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("ops_conv", NULL, NULL);
    CU_add_test(s, "Conv matches a direct convolution over random 1-D/2-D/3-D shapes, groups, pads, dilations",
                test_conv_random_1d_2d_3d);
    CU_add_test(s, "Conv reproduces ONNX's strided asymmetric-padding example", test_conv_onnx_example);
    CU_add_test(s, "Conv refuses bad groups, weights, bias, pads, attributes and dtypes at prepare",
                test_conv_refusals);
    CU_add_test(s, "ConvTranspose matches a scatter reference with pads, output_shape, auto_pad, output_padding",
                test_convtranspose_random);
    CU_add_test(s, "Gemm handles transA/transB, alpha, beta and every C broadcast", test_gemm_random);
    CU_add_test(s, "MatMul follows numpy: 1-D operands, batch broadcasting", test_matmul_numpy_semantics);
    CU_add_test(s, "MaxPool and AveragePool match references (ceil_mode, pads, auto_pad, dilations, Indices)",
                test_pools_random);
    CU_add_test(s, "MaxPool ceil_mode example, column-major Indices, uint8; bad attributes refused",
                test_maxpool_ceil_example_and_refusals);
    CU_add_test(s, "GlobalAveragePool and GlobalMaxPool reduce each plane", test_global_pools);
    CU_add_test(s, "BatchNormalization inference, spatial=0 at opset 7, training refused", test_batchnorm);
    CU_add_test(s, "LayerNormalization over every axis, broadcast Scale/B, Mean and InvStdDev outputs",
                test_layernorm);
    CU_add_test(s, "InstanceNormalization normalizes each plane", test_instancenorm);
    CU_add_test(s, "ResNet-50 conv stack timing (SPARSIFY_BENCH=1 only)", test_resnet50_conv_stack_timing);
    return sp_test_main();
}
