/*
 * Compression core: BatchNorm folding keeps outputs, the weight pass reaches
 * the target sparsity per layer and keeps excluded layers dense, the QDQ
 * graph stores int8 weights with per-channel scales and int32 biases, no
 * NaN/Inf anywhere, and the error paths (bad --exclude, old opsets) say what
 * is wrong. Statistics come from the small calibrator in tests/compress.
 */
#include <CUnit/CUnit.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mini_calib.h"
#include "onnx/model_internal.h"
#include "sparsify/compress.h"
#include "sparsify/data.h"
#include "sparsify/engine.h"
#include "testutil.h"
#include "transform/graph.h"

static struct sp_model *load(const char *rel)
{
    struct sp_error err = {0};
    struct sp_model *m = NULL;
    if (sp_model_load(sp_test_source_path(rel), &m, &err))
        fprintf(stderr, "%s\n", err.msg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    return m;
}

/* Runs the first `n` samples of `data` through `m`; returns the concatenated
 * first outputs (malloc'ed) and their count. */
static float *run_outputs(const struct sp_model *m, const char *data, int n, int64_t *count)
{
    struct sp_error err = {0};
    struct sp_dataset ds = {0};
    struct sp_engine *e = NULL;
    float *all = NULL;
    *count = 0;
    CU_ASSERT_EQUAL_FATAL(sp_dataset_open(sp_test_source_path(data), NULL, &ds, &err), SP_OK);
    CU_ASSERT_EQUAL_FATAL(sp_engine_create(m, NULL, &e, &err), SP_OK);
    for (int s = 0; s < n && (size_t)s < ds.count; s++) {
        struct sp_npz npz = {0};
        CU_ASSERT_EQUAL_FATAL(sp_dataset_load(&ds, (size_t)s, m, &npz, &err), SP_OK);
        for (int k = 0; k < npz.count; k++) {
            struct sp_tensor *t = &npz.arrays[k];
            for (int d = t->ndim; d > 0; d--)
                t->dims[d] = t->dims[d - 1];
            t->dims[0] = 1;
            t->ndim++;
        }
        int no = sp_model_num_outputs(m);
        struct sp_tensor *outs = calloc((size_t)no, sizeof *outs);
        if (sp_engine_run(e, npz.arrays, outs, &err))
            fprintf(stderr, "run: %s\n", err.msg);
        int64_t k = sp_tensor_numel(&outs[0]);
        all = realloc(all, (size_t)(*count + k) * sizeof *all);
        memcpy(all + *count, outs[0].data, (size_t)k * sizeof *all);
        *count += k;
        for (int i = 0; i < no; i++)
            sp_tensor_free(&outs[i]);
        free(outs);
        sp_npz_free(&npz);
    }
    sp_engine_free(e);
    sp_dataset_free(&ds);
    return all;
}

static int count_op(const struct sp_model *m, const char *op)
{
    int c = 0;
    for (size_t i = 0; i < m->proto->graph->n_node; i++)
        c += strcmp(m->proto->graph->node[i]->op_type, op) == 0;
    return c;
}

static void check_fold(const char *model, const char *data, int expect_folded)
{
    struct sp_error err = {0};
    struct sp_model *m = load(model);
    int64_t n0, n1;
    float *before = run_outputs(m, data, 8, &n0);
    int folded = -1;
    CU_ASSERT_EQUAL(sp_transform_fold_batchnorm(m, &folded, &err), SP_OK);
    if (expect_folded >= 0)
        CU_ASSERT_EQUAL(folded, expect_folded);
    CU_ASSERT_EQUAL(count_op(m, "BatchNormalization"), 0);
    float *after = run_outputs(m, data, 8, &n1);
    CU_ASSERT_EQUAL_FATAL(n0, n1);
    double worst = 0;
    for (int64_t i = 0; i < n0; i++) {
        double d = fabs((double)before[i] - after[i]) / (1.0 + fabs(before[i]));
        worst = d > worst ? d : worst;
    }
    CU_ASSERT(worst <= 1e-5);
    free(before);
    free(after);
    sp_model_free(m);
}

static void test_fold_demo(void) { check_fold("demo/fashion-cnn/model.onnx", "demo/fashion-cnn/data", 4); }
static void test_fold_cnn(void) { check_fold("tests/models/cnn/model.onnx", "tests/models/cnn/data", 4); }
static void test_fold_mobile(void) { check_fold("tests/models/mobile/model.onnx", "tests/models/mobile/data", -1); }
static void test_fold_seg_det(void) { check_fold("tests/models/seg_det/model.onnx", "tests/models/seg_det/data", 1); }

/* Compresses `model` at `level`; returns the model and fills `rep`. */
static struct sp_model *compress(const char *model, const char *data, double level, enum sp_task_family fam,
                                 int n_excl, const char *const *excl, struct sp_compress_report *rep)
{
    struct sp_error err = {0};
    struct sp_model *m = load(model);
    struct sp_level_plan plan;
    struct mini_calib *c = NULL;
    struct sp_compress_stats view;
    struct sp_compress_options opt;
    sp_compress_options_init(&opt);
    opt.family = fam;
    opt.n_exclude = n_excl;
    opt.exclude = excl;
    CU_ASSERT_EQUAL_FATAL(sp_level_plan(level, &plan, &err), SP_OK);
    CU_ASSERT_EQUAL_FATAL(sp_transform_fold_batchnorm(m, NULL, &err), SP_OK);
    CU_ASSERT_EQUAL_FATAL(mini_calib_run(m, sp_test_source_path(data), 8, plan.prune, &c, &err), SP_OK);
    mini_calib_view(c, &view);
    enum sp_status st = sp_compress_view(m, &view, &plan, &opt, rep, NULL, &err);
    if (st)
        fprintf(stderr, "compress: %s\n", err.msg);
    CU_ASSERT_EQUAL_FATAL(st, SP_OK);
    mini_calib_free(c);
    return m;
}

/* Every initializer is finite; every DequantizeLinear reads an int8 weight
 * with float scales and int8 zero points 0, or an int32 bias, or a uint8
 * activation. Counts int8 weight DQs and int32 bias DQs. */
static void check_qdq(const struct sp_model *m, int *n_w, int *n_b)
{
    const Onnx__GraphProto *g = m->proto->graph;
    struct sp_error err = {0};
    *n_w = *n_b = 0;
    for (size_t i = 0; i < g->n_initializer; i++) {
        if (g->initializer[i]->data_type != SP_DTYPE_FLOAT)
            continue;
        struct sp_tensor t = {0};
        CU_ASSERT_EQUAL_FATAL(sp_tensor_from_proto(g->initializer[i], &t, "init", &err), SP_OK);
        const float *v = t.data;
        for (int64_t k = 0; k < sp_tensor_numel(&t); k++)
            CU_ASSERT_FATAL(isfinite(v[k]));
        sp_tensor_free(&t);
    }
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *n = g->node[i];
        if (strcmp(n->op_type, "DequantizeLinear"))
            continue;
        struct sp_graph_const x, s, z;
        if (!sp_graph_find_const(g, n->input[0], &x))
            continue; /* activation DQ */
        CU_ASSERT_FATAL(sp_graph_find_const(g, n->input[1], &s) && sp_graph_find_const(g, n->input[2], &z));
        CU_ASSERT_EQUAL(s.tp->data_type, SP_DTYPE_FLOAT);
        struct sp_tensor zt = {0}, st = {0};
        CU_ASSERT_EQUAL_FATAL(sp_tensor_from_proto(z.tp, &zt, "zp", &err), SP_OK);
        CU_ASSERT_EQUAL_FATAL(sp_tensor_from_proto(s.tp, &st, "scale", &err), SP_OK);
        for (int64_t k = 0; k < sp_tensor_numel(&st); k++)
            CU_ASSERT(((float *)st.data)[k] > 0 && isfinite(((float *)st.data)[k]));
        if (x.tp->data_type == SP_DTYPE_INT8) {
            (*n_w)++;
            for (int64_t k = 0; k < sp_tensor_numel(&zt); k++)
                CU_ASSERT_EQUAL(((int8_t *)zt.data)[k], 0);
            /* 7-bit weights by default: |q| <= 63 */
            struct sp_tensor q = {0};
            CU_ASSERT_EQUAL_FATAL(sp_tensor_from_proto(x.tp, &q, "w", &err), SP_OK);
            for (int64_t k = 0; k < sp_tensor_numel(&q); k++)
                CU_ASSERT(abs(((int8_t *)q.data)[k]) <= 63);
            sp_tensor_free(&q);
        } else if (x.tp->data_type == SP_DTYPE_INT32) {
            (*n_b)++;
            CU_ASSERT_EQUAL(zt.dtype, SP_DTYPE_INT32);
            CU_ASSERT_EQUAL(sp_graph_attr_int(n, "axis", 1), 0);
        } else {
            CU_FAIL("constant DequantizeLinear input that is neither int8 nor int32");
        }
        sp_tensor_free(&zt);
        sp_tensor_free(&st);
    }
}

static void check_level(const char *model, const char *data, double level, enum sp_task_family fam,
                        int expect_layers, int expect_excluded)
{
    struct sp_compress_report rep = {0};
    struct sp_model *m = compress(model, data, level, fam, 0, NULL, &rep);
    CU_ASSERT_EQUAL(rep.n_layers, expect_layers);
    int excluded = 0;
    for (int i = 0; i < rep.n_layers; i++) {
        const struct sp_compress_layer *l = &rep.layers[i];
        CU_ASSERT(l->quantized);
        CU_ASSERT(l->scale_min > 0 && l->scale_max >= l->scale_min);
        if (l->excluded) {
            excluded++;
            CU_ASSERT(!l->pruned);
            CU_ASSERT(l->sparsity < 0.2); /* dense: only weights that round to 0 */
        } else if (rep.target_sparsity > 0) {
            CU_ASSERT(l->pruned);
            CU_ASSERT(fabs(l->sparsity - rep.target_sparsity) <= 0.01);
        }
    }
    CU_ASSERT_EQUAL(excluded, expect_excluded);
    int n_w, n_b;
    check_qdq(m, &n_w, &n_b);
    CU_ASSERT_EQUAL(n_w, expect_layers);
    CU_ASSERT(n_b > 0);
    CU_ASSERT(rep.n_tensors > 0);
    for (int i = 0; i < rep.n_tensors; i++)
        CU_ASSERT(rep.tensors[i].scale > 0 && isfinite(rep.tensors[i].scale));
    CU_ASSERT(sp_model_opset(m) >= 13);
    json_t *o = json_object();
    struct sp_error err = {0};
    CU_ASSERT_EQUAL(sp_compress_report_to_json(&rep, o, &err), SP_OK);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(o, "layers")), (size_t)rep.n_layers);
    json_decref(o);
    sp_compress_report_free(&rep);
    sp_model_free(m);
}

/* demo: 4 convs + classifier; first conv and classifier excluded. */
static void test_demo_02(void) { check_level("demo/fashion-cnn/model.onnx", "demo/fashion-cnn/data", 0.2, SP_TASK_CV, 5, 2); }
static void test_demo_05(void) { check_level("demo/fashion-cnn/model.onnx", "demo/fashion-cnn/data", 0.5, SP_TASK_CV, 5, 2); }
static void test_demo_10(void) { check_level("demo/fashion-cnn/model.onnx", "demo/fashion-cnn/data", 1.0, SP_TASK_CV, 5, 2); }
static void test_const_cnn(void)
{
    check_level("tests/models/const_cnn/model.onnx", "tests/models/const_cnn/data", 0.5, SP_TASK_CV, 3, 2);
}
static void test_bert_tiny(void)
{
    /* 17 MatMuls minus 4 activation x activation ones, plus 2 Gemms; the two
     * heads producing graph outputs are excluded, not the first layer. */
    struct sp_compress_report rep = {0};
    struct sp_model *m = compress("tests/models/bert_tiny/model.onnx", "tests/models/bert_tiny/data", 1.0, SP_TASK_NLP,
                                  0, NULL, &rep);
    int excluded = 0;
    for (int i = 0; i < rep.n_layers; i++) {
        excluded += rep.layers[i].excluded != NULL;
        if (!rep.layers[i].excluded)
            CU_ASSERT(fabs(rep.layers[i].sparsity - 0.8) <= 0.01);
    }
    CU_ASSERT_EQUAL(excluded, 2);
    int n_w, n_b;
    check_qdq(m, &n_w, &n_b);
    CU_ASSERT_EQUAL(n_w, rep.n_layers);
    sp_compress_report_free(&rep);
    sp_model_free(m);
}

static void test_exclude_syntax(void)
{
    /* all:Gemm keeps the classifier float; prune:<conv> keeps a conv dense. */
    struct sp_compress_report rep = {0};
    struct sp_model *m0 = load("demo/fashion-cnn/model.onnx");
    struct sp_compress_layer_info *info;
    int n;
    struct sp_error err = {0};
    CU_ASSERT_EQUAL_FATAL(sp_compress_find_layers(m0, &info, &n, &err), SP_OK);
    CU_ASSERT_EQUAL_FATAL(n, 5);
    char spec[256];
    /* by node name: weight names change when BatchNorm is folded */
    CU_ASSERT_FATAL(info[2].name[0] != 0);
    snprintf(spec, sizeof spec, "prune:%s", info[2].name);
    free(info);
    sp_model_free(m0);
    const char *ex[2] = {"all:Gemm", spec};
    struct sp_model *m = compress("demo/fashion-cnn/model.onnx", "demo/fashion-cnn/data", 0.5, SP_TASK_CV, 2, ex, &rep);
    int n_w, n_b;
    check_qdq(m, &n_w, &n_b);
    CU_ASSERT_EQUAL(n_w, 4); /* the Gemm stays float */
    CU_ASSERT(!rep.layers[4].quantized && !rep.layers[4].pruned);
    CU_ASSERT(!rep.layers[2].pruned && rep.layers[2].quantized);
    CU_ASSERT(rep.layers[1].pruned);
    sp_compress_report_free(&rep);
    sp_model_free(m);

    /* An entry matching nothing is an error naming it. */
    struct sp_model *m2 = load("demo/fashion-cnn/model.onnx");
    struct sp_level_plan plan;
    sp_level_plan(0.5, &plan, &err);
    struct sp_compress_options opt;
    sp_compress_options_init(&opt);
    const char *bad[1] = {"no_such_layer"};
    opt.n_exclude = 1;
    opt.exclude = bad;
    CU_ASSERT_EQUAL(sp_compress_view(m2, NULL, &plan, &opt, NULL, NULL, &err), SP_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "no_such_layer"));
    sp_model_free(m2);
}

static void test_old_opset_refused(void)
{
    /* A model at opset 11 with a Softmax (axis default 1) cannot be relabelled 13. */
    struct sp_model *m = load("demo/fashion-cnn/model.onnx");
    struct sp_error err = {0};
    Onnx__ModelProto *mp = m->proto;
    for (size_t i = 0; i < mp->n_opset_import; i++)
        mp->opset_import[i]->version = 11;
    free(mp->graph->node[0]->op_type);
    mp->graph->node[0]->op_type = strdup("Softmax");
    CU_ASSERT_EQUAL_FATAL(sp_model_refresh(m, &err), SP_OK);
    struct sp_level_plan plan;
    sp_level_plan(0.2, &plan, &err);
    CU_ASSERT_EQUAL(sp_compress_view(m, NULL, &plan, NULL, NULL, NULL, &err), SP_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "Softmax"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "opset"));
    sp_model_free(m);
}

static void test_opset_raised(void)
{
    /* Opset 12 with only ops that kept their meaning: raised to 13. */
    struct sp_model *m = load("demo/fashion-cnn/model.onnx");
    struct sp_error err = {0};
    for (size_t i = 0; i < m->proto->n_opset_import; i++)
        m->proto->opset_import[i]->version = 12;
    CU_ASSERT_EQUAL_FATAL(sp_model_refresh(m, &err), SP_OK);
    struct sp_level_plan plan;
    sp_level_plan(0.2, &plan, &err);
    struct sp_compress_report rep = {0};
    CU_ASSERT_EQUAL(sp_compress_view(m, NULL, &plan, NULL, &rep, NULL, &err), SP_OK);
    CU_ASSERT_EQUAL(rep.opset_in, 12);
    CU_ASSERT_EQUAL(sp_model_opset(m), 13);
    /* Without statistics the weights are still quantized (round-to-nearest),
     * activations stay float. */
    CU_ASSERT_EQUAL(rep.n_tensors, 0);
    CU_ASSERT_STRING_EQUAL(rep.layers[1].method, "rtn");
    sp_compress_report_free(&rep);
    sp_model_free(m);
}

int main(void)
{
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("compress", NULL, NULL);
    CU_add_test(s, "BN folding keeps the demo's outputs", test_fold_demo);
    CU_add_test(s, "BN folding keeps cnn's outputs", test_fold_cnn);
    CU_add_test(s, "BN folding keeps mobile's outputs", test_fold_mobile);
    CU_add_test(s, "BN folding keeps seg_det's outputs (ConvTranspose model)", test_fold_seg_det);
    CU_add_test(s, "demo at level 0.2: INT8 only", test_demo_02);
    CU_add_test(s, "demo at level 0.5: target sparsity per layer", test_demo_05);
    CU_add_test(s, "demo at level 1.0: 80% sparsity per layer", test_demo_10);
    CU_add_test(s, "const_cnn: weights in Constant nodes", test_const_cnn);
    CU_add_test(s, "bert_tiny: NLP exclusions and sparsity", test_bert_tiny);
    CU_add_test(s, "--exclude prune:/all: and unknown names", test_exclude_syntax);
    CU_add_test(s, "old opset with a changed op is refused", test_old_opset_refused);
    CU_add_test(s, "opset 12 raised to 13", test_opset_raised);
    return sp_test_main();
}
