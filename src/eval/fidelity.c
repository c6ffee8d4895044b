/*
 * Fidelity: the dense and the compressed model on the same held-out samples,
 * output by output. Accuracy needs labels the pipeline does not have; how far
 * the outputs moved needs none, and is what tells a user whether a level was
 * too aggressive for their model. Metrics per sample (cosine), over all
 * samples (relative L2, max abs error) and, for class scores, how often the
 * predicted class stayed the same.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "eval/eval_internal.h"
#include "sparsify/engine.h"
#include "sparsify/eval.h"

void sp_eval_options_init(struct sp_eval_options *o)
{
    memset(o, 0, sizeof *o);
    o->batch_size = SP_EVAL_DEFAULT_BATCH;
}

bool sp_eval_is_classifier(const struct sp_use_case *uc)
{
    return uc && (uc->id == SP_USE_CASE_CV_CLASSIFICATION || uc->id == SP_USE_CASE_NLP_TEXT_CLASSIFICATION ||
                  uc->id == SP_USE_CASE_NLP_SENTIMENT_ANALYSIS);
}

void sp_fidelity_free(struct sp_fidelity *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->n_outputs && f->outputs; i++)
        free(f->outputs[i].name);
    free(f->outputs);
    memset(f, 0, sizeof *f);
}

/* Inputs and outputs must line up one to one, or the comparison means nothing. */
static enum sp_status check_same_interface(const struct sp_model *d, const struct sp_model *c, struct sp_error *err)
{
    const char *dp = sp_model_path(d), *cp = sp_model_path(c);
    if (sp_model_num_inputs(d) != sp_model_num_inputs(c))
        return sp_error_set(err, SP_ERR_MISMATCH, "%s has %d inputs but %s has %d", dp, sp_model_num_inputs(d), cp,
                            sp_model_num_inputs(c));
    if (sp_model_num_outputs(d) != sp_model_num_outputs(c))
        return sp_error_set(err, SP_ERR_MISMATCH, "%s has %d outputs but %s has %d", dp, sp_model_num_outputs(d),
                            cp, sp_model_num_outputs(c));
    for (int i = 0; i < sp_model_num_inputs(d); i++) {
        const struct sp_value_info *a = sp_model_input(d, i), *b = sp_model_input(c, i);
        if (strcmp(a->name, b->name) != 0 || a->dtype != b->dtype)
            return sp_error_set(err, SP_ERR_MISMATCH, "input %d: '%s' (%s) in %s but '%s' (%s) in %s", i, a->name,
                                sp_dtype_name(a->dtype), dp, b->name, sp_dtype_name(b->dtype), cp);
    }
    for (int i = 0; i < sp_model_num_outputs(d); i++) {
        const struct sp_value_info *a = sp_model_output(d, i), *b = sp_model_output(c, i);
        if (strcmp(a->name, b->name) != 0)
            return sp_error_set(err, SP_ERR_MISMATCH, "output %d: '%s' in %s but '%s' in %s", i, a->name, dp,
                                b->name, cp);
    }
    return SP_OK;
}

/* Running sums of one output, turned into the reported figures at the end. */
struct acc {
    double cos_sum;
    double diff2, dense2;
    bool any_nan_cos;
};

static bool is_class_scores(const struct sp_tensor *t, bool classifier)
{
    if (t->ndim < 1 || t->dims[t->ndim - 1] < 2)
        return false;
    return classifier || t->ndim == 2;
}

/* Compares one output of one batch of `b` samples. */
static enum sp_status compare(struct sp_fidelity_output *o, struct acc *a, const struct sp_tensor *d,
                              const struct sp_tensor *c, size_t b, bool classifier, struct sp_error *err)
{
    char ds[96], cs[96];
    if (d->dtype != c->dtype || d->ndim != c->ndim || memcmp(d->dims, c->dims, (size_t)d->ndim * sizeof d->dims[0]))
        return sp_error_set(err, SP_ERR_MISMATCH, "output '%s': dense gives %s %s, compressed gives %s %s", o->name,
                            sp_dtype_name(d->dtype), sp_shape_str(d->ndim, d->dims, ds, sizeof ds),
                            sp_dtype_name(c->dtype), sp_shape_str(c->ndim, c->dims, cs, sizeof cs));
    int64_t numel = sp_tensor_numel(d);
    /* Rows along the batch axis when the output has one; otherwise the whole
     * output counts as one comparison. */
    int64_t rows = (d->ndim >= 1 && d->dims[0] == (int64_t)b) ? (int64_t)b : 1;
    int64_t per = rows ? numel / rows : 0;
    for (int64_t r = 0; r < rows; r++) {
        double dot = 0, nd = 0, nc = 0, diff2 = 0;
        bool finite = true;
        for (int64_t j = r * per; j < (r + 1) * per; j++) {
            double x = sp_eval_value(d, j), y = sp_eval_value(c, j);
            if (!isfinite(x) || !isfinite(y)) {
                finite = false;
                if (isfinite(x))
                    o->nonfinite++;
                continue;
            }
            double e = y - x;
            dot += x * y;
            nd += x * x;
            nc += y * y;
            diff2 += e * e;
            if (fabs(e) > o->max_abs)
                o->max_abs = fabs(e);
        }
        double cosv;
        if (!finite)
            cosv = NAN;
        else if (nd == 0 && nc == 0)
            cosv = 1.0;
        else if (nd == 0 || nc == 0)
            cosv = 0.0;
        else
            cosv = dot / (sqrt(nd) * sqrt(nc));
        if (cosv > 1.0)
            cosv = 1.0; /* rounding of identical vectors */
        if (isnan(cosv))
            a->any_nan_cos = true;
        else {
            a->cos_sum += cosv;
            if (cosv < o->cos_min)
                o->cos_min = cosv;
        }
        double rel = diff2 == 0 ? 0.0 : (nd == 0 ? INFINITY : sqrt(diff2 / nd));
        if (!finite)
            rel = NAN;
        if (!isnan(rel) && rel > o->rel_l2_max)
            o->rel_l2_max = rel;
        a->diff2 += diff2;
        a->dense2 += nd;
        o->samples++;
        o->values = per;
    }
    if (is_class_scores(d, classifier)) {
        int64_t cls = d->dims[d->ndim - 1];
        o->top1 = true;
        for (int64_t r = 0; r < numel / cls; r++) {
            o->top1_rows++;
            int64_t ad = sp_eval_argmax(d, r * cls, cls), ac = sp_eval_argmax(c, r * cls, cls);
            o->top1_agree += ad >= 0 && ad == ac;
        }
    }
    if (o->nonfinite)
        o->max_abs = INFINITY;
    return SP_OK;
}

static void finish(struct sp_fidelity_output *o, const struct acc *a)
{
    if (o->samples == 0) {
        o->cos_mean = o->cos_min = 1.0;
        return;
    }
    o->cos_mean = a->any_nan_cos ? NAN : a->cos_sum / (double)o->samples;
    if (a->any_nan_cos)
        o->cos_min = NAN;
    o->rel_l2 = a->diff2 == 0 ? 0.0 : (a->dense2 == 0 ? INFINITY : sqrt(a->diff2 / a->dense2));
    if (a->any_nan_cos) /* a non-finite value makes every distance meaningless */
        o->rel_l2 = o->rel_l2_max = NAN;
    o->top1_agreement = o->top1_rows ? (double)o->top1_agree / (double)o->top1_rows : 0.0;
}

enum sp_status sp_fidelity_run(const struct sp_model *dense, const struct sp_model *compressed,
                               const struct sp_dataset *ds, const size_t *indices, size_t n,
                               const struct sp_eval_options *opt, const struct sp_logger *log,
                               struct sp_fidelity *out, struct sp_error *err)
{
    memset(out, 0, sizeof *out);
    struct sp_eval_options defaults;
    sp_eval_options_init(&defaults);
    if (!opt)
        opt = &defaults;
    if (!dense || !compressed || !ds)
        return sp_error_set(err, SP_ERR_USAGE, "fidelity: expected two models and a data set");
    if (opt->batch_size < 1)
        return sp_error_set(err, SP_ERR_USAGE, "fidelity: batch size must be >= 1, got %d", opt->batch_size);
    if (!indices)
        n = ds->count;
    for (size_t i = 0; indices && i < n; i++)
        if (indices[i] >= ds->count)
            return sp_error_set(err, SP_ERR_USAGE, "fidelity: sample index %zu beyond the %zu samples of %s",
                                indices[i], ds->count, ds->dir);

    enum sp_status st = check_same_interface(dense, compressed, err);
    if (st)
        return st;
    double t0 = sp_eval_now();
    struct sp_engine *ed = NULL, *ec = NULL;
    struct sp_eval_batch b = {0};
    int n_out = sp_model_num_outputs(dense);
    struct sp_tensor *od = calloc((size_t)n_out + 1, sizeof *od), *oc = calloc((size_t)n_out + 1, sizeof *oc);
    struct acc *acc = calloc((size_t)n_out + 1, sizeof *acc);
    out->outputs = calloc((size_t)n_out + 1, sizeof *out->outputs);
    if (!od || !oc || !acc || !out->outputs) {
        st = sp_error_set(err, SP_ERR_NOMEM, "out of memory");
        goto out;
    }
    out->n_outputs = n_out;
    for (int k = 0; k < n_out; k++) {
        struct sp_fidelity_output *o = &out->outputs[k];
        if (!(o->name = strdup(sp_model_output(dense, k)->name))) {
            st = sp_error_set(err, SP_ERR_NOMEM, "out of memory");
            goto out;
        }
        o->cos_min = 1.0;
    }
    struct sp_engine_options eo = {.threads = opt->threads, .log = log};
    if ((st = sp_engine_create(dense, &eo, &ed, err)) || (st = sp_engine_create(compressed, &eo, &ec, err)))
        goto out;

    for (size_t pos = 0; pos < n;) {
        if ((st = sp_eval_batch_load(&b, dense, ds, indices, pos, n, (size_t)opt->batch_size, err)))
            goto out;
        if ((st = sp_engine_run(ed, b.inputs, od, err)))
            goto out;
        if ((st = sp_engine_run(ec, b.inputs, oc, err)))
            goto out;
        for (int k = 0; k < n_out && !st; k++) {
            if (!sp_eval_is_float(od[k].dtype)) {
                if (pos == 0)
                    sp_log(log, SP_LOG_DEBUG, "fidelity: output '%s' is %s, not compared", out->outputs[k].name,
                           sp_dtype_name(od[k].dtype));
                continue;
            }
            st = compare(&out->outputs[k], &acc[k], &od[k], &oc[k], b.samples, opt->classifier, err);
        }
        for (int k = 0; k < n_out; k++) {
            sp_tensor_free(&od[k]);
            sp_tensor_free(&oc[k]);
        }
        if (st)
            goto out;
        pos += b.samples;
        out->samples += (int64_t)b.samples;
    }
    for (int k = 0; k < n_out; k++)
        finish(&out->outputs[k], &acc[k]);
    out->seconds = sp_eval_now() - t0;
out:
    sp_eval_batch_free(&b);
    sp_engine_free(ed);
    sp_engine_free(ec);
    free(od);
    free(oc);
    free(acc);
    return st;
}

static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

enum sp_status sp_fidelity_to_json(const struct sp_fidelity *f, struct json_t *obj, struct sp_error *err)
{
    if (!f || !obj || !json_is_object(obj))
        return sp_error_set(err, SP_ERR_USAGE, "fidelity: expected a result and a JSON object");
    json_t *arr = json_array();
    if (!arr)
        goto nomem;
    for (int i = 0; i < f->n_outputs; i++) {
        const struct sp_fidelity_output *o = &f->outputs[i];
        json_t *e = json_pack("{s:s, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:I}", "name", o->name, "samples",
                              (json_int_t)o->samples, "values_per_sample", (json_int_t)o->values, "cosine_mean",
                              num(o->cos_mean), "cosine_min", num(o->cos_min), "relative_l2", num(o->rel_l2),
                              "relative_l2_max", num(o->rel_l2_max), "max_abs_error", num(o->max_abs),
                              "nonfinite", (json_int_t)o->nonfinite);
        if (!e || json_array_append_new(arr, e))
            goto nomem;
        if (o->top1 && json_object_set_new(e, "top1_agreement", num(o->top1_agreement)))
            goto nomem;
        if (o->top1 && (json_object_set_new(e, "top1_rows", json_integer(o->top1_rows)) ||
                        json_object_set_new(e, "top1_agree", json_integer(o->top1_agree))))
            goto nomem;
    }
    if (json_object_set_new(obj, "samples", json_integer(f->samples)) ||
        json_object_set_new(obj, "seconds", num(f->seconds))) {
        json_decref(arr);
        goto nomem;
    }
    if (json_object_set_new(obj, "outputs", arr))
        goto nomem; /* set_new consumed arr */
    return SP_OK;
nomem:
    return sp_error_set(err, SP_ERR_NOMEM, "out of memory building the fidelity report");
}

const char *sp_fidelity_summary(const struct sp_fidelity *f, char *buf, size_t len)
{
    if (!buf || !len)
        return buf;
    size_t used = 0;
    buf[0] = '\0';
#define ADD(...)                                                                                                       \
    do {                                                                                                               \
        if (used < len) {                                                                                              \
            int k_ = snprintf(buf + used, len - used, __VA_ARGS__);                                                    \
            used = k_ < 0 ? len : used + (size_t)k_;                                                                   \
        }                                                                                                              \
    } while (0)
    ADD("fidelity on %lld held-out sample%s (dense vs compressed, %.2f s)", (long long)f->samples,
        f->samples == 1 ? "" : "s", f->seconds);
    for (int i = 0; i < f->n_outputs; i++) {
        const struct sp_fidelity_output *o = &f->outputs[i];
        if (!o->samples && !o->top1)
            continue;
        ADD("\n  %s:", o->name);
        if (o->top1)
            ADD(" top-1 agreement %.1f%% (%lld/%lld),", 100.0 * o->top1_agreement, (long long)o->top1_agree,
                (long long)o->top1_rows);
        ADD(" cosine mean %.5f min %.5f, relative L2 %.4f, max abs error %.4g", o->cos_mean, o->cos_min, o->rel_l2,
            o->max_abs);
        if (o->nonfinite)
            ADD(", %lld NaN/Inf values", (long long)o->nonfinite);
    }
#undef ADD
    if (used >= len && len > 4)
        memcpy(buf + len - 4, "...", 4);
    return buf;
}
