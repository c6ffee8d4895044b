/*
 * Evaluation: labels files are checked before anything runs; accuracy on the
 * demo's 64 labelled samples is the known figure whatever the batch size or
 * the split; fidelity of a model against itself is perfect, and against a
 * copy whose classifier bias was shifted by a known amount it reports exactly
 * that shift.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "onnx/model_internal.h"
#include "sparsify/data.h"
#include "sparsify/eval.h"
#include "testutil.h"

static const char *demo(const char *rel)
{
    static char buf[2][4096];
    static int k;
    char r[256];
    snprintf(r, sizeof r, "demo/fashion-cnn/%s", rel);
    k ^= 1;
    snprintf(buf[k], sizeof buf[k], "%s", sp_test_source_path(r));
    return buf[k];
}

/* Writes a 1-D .npy of `dt` with n elements from `vals` (converted). */
static void write_npy(const char *path, enum sp_dtype dt, int64_t n, const double *vals)
{
    struct sp_tensor t = {0};
    struct sp_error e = {0};
    CU_ASSERT_FATAL(sp_tensor_alloc(&t, dt, 1, &n, &e) == SP_OK);
    for (int64_t i = 0; i < n; i++) {
        if (dt == SP_DTYPE_FLOAT)
            ((float *)t.data)[i] = (float)vals[i];
        else if (dt == SP_DTYPE_INT32)
            ((int32_t *)t.data)[i] = (int32_t)vals[i];
        else
            ((int64_t *)t.data)[i] = (int64_t)vals[i];
    }
    void *buf;
    size_t len;
    CU_ASSERT_FATAL(sp_npy_serialize(&t, &buf, &len, &e) == SP_OK);
    FILE *f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT(fwrite(buf, 1, len, f) == len);
    fclose(f);
    free(buf);
    sp_tensor_free(&t);
}

static void test_labels_checks(void)
{
    struct sp_eval_labels l;
    struct sp_error e = {0};
    CU_ASSERT_EQUAL(sp_eval_labels_read(demo("labels.npy"), 64, &l, &e), SP_OK);
    CU_ASSERT_EQUAL(l.count, 64);
    for (int64_t i = 0; i < l.count; i++)
        CU_ASSERT(l.values[i] >= 0 && l.values[i] < 10);
    sp_eval_labels_free(&l);

    /* One label short of the folder. */
    sp_error_clear(&e);
    CU_ASSERT_EQUAL(sp_eval_labels_read(demo("labels.npy"), 65, &l, &e), SP_ERR_MISMATCH);
    CU_ASSERT(strstr(e.msg, "64 labels for 65 samples") != NULL);
    CU_ASSERT(strstr(e.msg, "labels.npy") != NULL);
    CU_ASSERT_PTR_NULL(l.values);

    const char *dir = sp_test_tmpdir();
    char p[4200];
    double v[4] = {0, 1, 2, 3};
    snprintf(p, sizeof p, "%s/float.npy", dir);
    write_npy(p, SP_DTYPE_FLOAT, 4, v);
    sp_error_clear(&e);
    CU_ASSERT_EQUAL(sp_eval_labels_read(p, 4, &l, &e), SP_ERR_MISMATCH);
    CU_ASSERT(strstr(e.msg, "must be integers") != NULL && strstr(e.msg, "float32") != NULL);

    /* int32 is fine, and -1 for the count means any. */
    snprintf(p, sizeof p, "%s/int32.npy", dir);
    write_npy(p, SP_DTYPE_INT32, 4, v);
    sp_error_clear(&e);
    CU_ASSERT_EQUAL(sp_eval_labels_read(p, -1, &l, &e), SP_OK);
    CU_ASSERT(l.count == 4 && l.values[3] == 3);
    sp_eval_labels_free(&l);

    double neg[2] = {1, -1};
    snprintf(p, sizeof p, "%s/neg.npy", dir);
    write_npy(p, SP_DTYPE_INT64, 2, neg);
    sp_error_clear(&e);
    CU_ASSERT_EQUAL(sp_eval_labels_read(p, 2, &l, &e), SP_ERR_MISMATCH);
    CU_ASSERT(strstr(e.msg, "negative") != NULL);

    snprintf(p, sizeof p, "%s/missing.npy", dir);
    sp_error_clear(&e);
    CU_ASSERT_EQUAL(sp_eval_labels_read(p, 2, &l, &e), SP_ERR_IO);
    CU_ASSERT(strstr(e.msg, "missing.npy") != NULL);

    /* Not a .npy at all. */
    snprintf(p, sizeof p, "%s/text.npy", dir);
    FILE *f = fopen(p, "w");
    fputs("0 1 2 3\n", f);
    fclose(f);
    sp_error_clear(&e);
    CU_ASSERT_EQUAL(sp_eval_labels_read(p, 4, &l, &e), SP_ERR_FORMAT);
}

static void load_demo(struct sp_model **m, struct sp_dataset *ds)
{
    struct sp_error e = {0};
    CU_ASSERT_FATAL(sp_model_load(demo("model.onnx"), m, &e) == SP_OK);
    CU_ASSERT_FATAL(sp_dataset_open(demo("data"), NULL, ds, &e) == SP_OK);
    CU_ASSERT_FATAL(ds->count == 64);
}

static void test_accuracy_demo(void)
{
    struct sp_model *m = NULL;
    struct sp_dataset ds = {0};
    struct sp_eval_labels l;
    struct sp_error e = {0};
    load_demo(&m, &ds);
    CU_ASSERT_FATAL(sp_eval_labels_read(demo("labels.npy"), 64, &l, &e) == SP_OK);

    /* 61 of the 64 calibration samples are right (torch gives the same). */
    struct sp_eval_options o;
    sp_eval_options_init(&o);
    struct sp_accuracy a, b, c;
    CU_ASSERT_EQUAL(sp_eval_accuracy(m, &ds, &l, 0, 64, &o, NULL, &a, &e), SP_OK);
    CU_ASSERT_EQUAL(a.count, 64);
    CU_ASSERT_EQUAL(a.correct, 61);
    CU_ASSERT_EQUAL(a.classes, 10);

    /* Batch size and split do not change the counts. */
    o.batch_size = 1;
    CU_ASSERT_EQUAL(sp_eval_accuracy(m, &ds, &l, 0, 37, &o, NULL, &b, &e), SP_OK);
    o.batch_size = 5;
    CU_ASSERT_EQUAL(sp_eval_accuracy(m, &ds, &l, 37, 64, &o, NULL, &c, &e), SP_OK);
    CU_ASSERT_EQUAL(b.count + c.count, 64);
    CU_ASSERT_EQUAL(b.correct + c.correct, 61);

    /* A label beyond the 10 classes names the sample's file. */
    l.values[7] = 10;
    sp_error_clear(&e);
    CU_ASSERT_EQUAL(sp_eval_accuracy(m, &ds, &l, 0, 64, &o, NULL, &a, &e), SP_ERR_MISMATCH);
    CU_ASSERT(strstr(e.msg, "sample_0007.npz") != NULL && strstr(e.msg, "10 classes") != NULL);

    /* Labels for another folder size. */
    l.count = 63;
    sp_error_clear(&e);
    CU_ASSERT_EQUAL(sp_eval_accuracy(m, &ds, &l, 0, 64, &o, NULL, &a, &e), SP_ERR_MISMATCH);
    l.count = 64;
    sp_eval_labels_free(&l);
    sp_dataset_free(&ds);
    sp_model_free(m);
}

/* Adds `delta` to entry `cls` of the Gemm's bias (the classifier). */
static void shift_bias(struct sp_model *m, int cls, float delta)
{
    Onnx__GraphProto *g = m->proto->graph;
    const char *bias = NULL;
    for (size_t i = 0; i < g->n_node; i++)
        if (strcmp(g->node[i]->op_type, "Gemm") == 0 && g->node[i]->n_input == 3)
            bias = g->node[i]->input[2];
    CU_ASSERT_FATAL(bias != NULL);
    for (size_t i = 0; i < g->n_initializer; i++) {
        Onnx__TensorProto *t = g->initializer[i];
        if (strcmp(t->name, bias) != 0)
            continue;
        if (t->has_raw_data) {
            CU_ASSERT_FATAL(t->raw_data.len == 40);
            float v;
            memcpy(&v, t->raw_data.data + 4 * cls, 4);
            v += delta;
            memcpy(t->raw_data.data + 4 * cls, &v, 4);
        } else {
            CU_ASSERT_FATAL(t->n_float_data == 10);
            t->float_data[cls] += delta;
        }
        return;
    }
    CU_FAIL("bias initializer not found");
}

static void test_fidelity_self_is_perfect(void)
{
    struct sp_model *m = NULL;
    struct sp_dataset ds = {0};
    struct sp_error e = {0};
    load_demo(&m, &ds);
    struct sp_fidelity f;
    CU_ASSERT_FATAL(sp_fidelity_run(m, m, &ds, NULL, 0, NULL, NULL, &f, &e) == SP_OK);
    CU_ASSERT_EQUAL(f.samples, 64);
    CU_ASSERT_EQUAL_FATAL(f.n_outputs, 1);
    const struct sp_fidelity_output *o = &f.outputs[0];
    CU_ASSERT_STRING_EQUAL(o->name, "logits");
    CU_ASSERT_EQUAL(o->samples, 64);
    CU_ASSERT_EQUAL(o->values, 10);
    CU_ASSERT_DOUBLE_EQUAL(o->cos_mean, 1.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(o->cos_min, 1.0, 1e-12);
    CU_ASSERT_EQUAL(o->rel_l2, 0.0);
    CU_ASSERT_EQUAL(o->rel_l2_max, 0.0);
    CU_ASSERT_EQUAL(o->max_abs, 0.0);
    CU_ASSERT(o->top1);
    CU_ASSERT_EQUAL(o->top1_rows, 64);
    CU_ASSERT_EQUAL(o->top1_agree, 64);
    CU_ASSERT_EQUAL(o->top1_agreement, 1.0);

    char buf[1024];
    sp_fidelity_summary(&f, buf, sizeof buf);
    CU_ASSERT(strstr(buf, "64 held-out samples") != NULL);
    CU_ASSERT(strstr(buf, "logits: top-1 agreement 100.0% (64/64)") != NULL);

    json_t *obj = json_object();
    CU_ASSERT_EQUAL(sp_fidelity_to_json(&f, obj, &e), SP_OK);
    json_t *out0 = json_array_get(json_object_get(obj, "outputs"), 0);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(obj, "samples")), 64);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(out0, "name")), "logits");
    CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(out0, "top1_agreement")), 1.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(out0, "cosine_min")), 1.0, 1e-12);
    json_decref(obj);
    sp_fidelity_free(&f);

    /* A subset of samples, in the given order. */
    size_t idx[3] = {19, 39, 59};
    CU_ASSERT_EQUAL(sp_fidelity_run(m, m, &ds, idx, 3, NULL, NULL, &f, &e), SP_OK);
    CU_ASSERT_EQUAL(f.samples, 3);
    CU_ASSERT_EQUAL(f.outputs[0].top1_rows, 3);
    sp_fidelity_free(&f);
    idx[1] = 64;
    sp_error_clear(&e);
    CU_ASSERT_EQUAL(sp_fidelity_run(m, m, &ds, idx, 3, NULL, NULL, &f, &e), SP_ERR_USAGE);
    sp_fidelity_free(&f);
    sp_dataset_free(&ds);
    sp_model_free(m);
}

static void test_fidelity_sees_a_known_shift(void)
{
    struct sp_model *m = NULL, *p = NULL;
    struct sp_dataset ds = {0};
    struct sp_error e = {0};
    load_demo(&m, &ds);
    CU_ASSERT_FATAL(sp_model_clone(m, &p, &e) == SP_OK);

    /* +0.5 on one logit: every sample moves by exactly 0.5 in one value. */
    shift_bias(p, 3, 0.5f);
    struct sp_eval_options o;
    sp_eval_options_init(&o);
    o.batch_size = 7; /* batches of 7 and a last one of 1 */
    struct sp_fidelity f;
    CU_ASSERT_FATAL(sp_fidelity_run(m, p, &ds, NULL, 0, &o, NULL, &f, &e) == SP_OK);
    const struct sp_fidelity_output *out = &f.outputs[0];
    CU_ASSERT_EQUAL(out->samples, 64);
    CU_ASSERT_DOUBLE_EQUAL(out->max_abs, 0.5, 1e-5);
    CU_ASSERT(out->cos_min < 1.0 && out->cos_min <= out->cos_mean && out->cos_mean < 1.0);
    CU_ASSERT(out->rel_l2 > 0 && out->rel_l2 <= out->rel_l2_max);

    /* One value of 0.5 per sample against logits whose norm is well above 0.5. */
    CU_ASSERT(out->rel_l2 < 0.5);
    sp_fidelity_free(&f);

    /* +1000 on class 3: every prediction becomes class 3, so agreement is the
     * share of samples the dense model already put in class 3 (counted by
     * scoring the dense model against labels that are all 3). */
    shift_bias(p, 3, 1000.0f);
    CU_ASSERT_FATAL(sp_fidelity_run(m, p, &ds, NULL, 0, &o, NULL, &f, &e) == SP_OK);
    struct sp_eval_labels all3 = {.count = 64, .values = calloc(64, sizeof(int64_t))};
    for (int i = 0; i < 64; i++)
        all3.values[i] = 3;
    struct sp_accuracy a;
    CU_ASSERT_EQUAL(sp_eval_accuracy(m, &ds, &all3, 0, 64, &o, NULL, &a, &e), SP_OK);
    CU_ASSERT_EQUAL(f.outputs[0].top1_agree, a.correct);
    CU_ASSERT(f.outputs[0].top1_agreement < 0.5);
    CU_ASSERT(f.outputs[0].max_abs > 999.0);
    sp_eval_labels_free(&all3);
    sp_fidelity_free(&f);
    sp_model_free(p);

    /* Models with different outputs cannot be compared. */
    CU_ASSERT_FATAL(sp_model_load(sp_test_source_path("tests/models/cnn/model.onnx"), &p, &e) == SP_OK);
    if (strcmp(sp_model_output(p, 0)->name, "logits") != 0 || sp_model_num_outputs(p) != 1 ||
        strcmp(sp_model_input(p, 0)->name, "input") != 0) {
        sp_error_clear(&e);
        CU_ASSERT_EQUAL(sp_fidelity_run(m, p, &ds, NULL, 0, NULL, NULL, &f, &e), SP_ERR_MISMATCH);
        sp_fidelity_free(&f);
    }
    sp_model_free(p);
    sp_dataset_free(&ds);
    sp_model_free(m);
}

int main(void)
{
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("eval", NULL, NULL);
    CU_add_test(s, "labels files are checked (count, dtype, sign, missing, not npy)", test_labels_checks);
    CU_add_test(s, "accuracy on the demo samples: 61/64 at any batch size and split", test_accuracy_demo);
    CU_add_test(s, "fidelity of a model with itself is perfect", test_fidelity_self_is_perfect);
    CU_add_test(s, "fidelity reports a known logit shift and lost top-1 agreement", test_fidelity_sees_a_known_shift);
    return sp_test_main();
}
