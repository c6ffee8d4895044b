/*
 * Top-1 accuracy against a labels file: the figure a user compares between
 * the dense and the compressed model. Labels are a plain .npy next to the data
 * folder, one integer per sample in sorted file order (the order every
 * sparsify stage uses), so numpy writes them in one line and nothing about the
 * sample files has to change.
 */
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"
#include "sparsify/engine.h"
#include "sparsify/eval.h"

/* A labels file is small; anything above this is not a labels file. */
#define LABELS_MAX_BYTES ((size_t)1 << 30)

void sp_eval_labels_free(struct sp_eval_labels *l)
{
    if (!l)
        return;
    free(l->values);
    memset(l, 0, sizeof *l);
}

enum sp_status sp_eval_labels_read(const char *path, int64_t expected, struct sp_eval_labels *out,
                                   struct sp_error *err)
{
    memset(out, 0, sizeof *out);
    if (!path || !*path)
        return sp_error_set(err, SP_ERR_USAGE, "--labels: expected a .npy file");
    struct sp_tensor t = {0};
    enum sp_status st = sp_npy_read(path, LABELS_MAX_BYTES, &t, err);
    if (st)
        return st;
    switch (t.dtype) {
    case SP_DTYPE_INT64:
    case SP_DTYPE_INT32:
    case SP_DTYPE_INT16:
    case SP_DTYPE_INT8:
    case SP_DTYPE_UINT8:
    case SP_DTYPE_UINT16:
    case SP_DTYPE_UINT32: break;
    default:
        st = sp_error_set(err, SP_ERR_MISMATCH, "%s: labels must be integers (int64, int32, int8 or uint8), got %s",
                          path, sp_dtype_name(t.dtype));
        goto out;
    }
    char sh[96];
    if (!(t.ndim == 1 || (t.ndim == 2 && t.dims[1] == 1))) {
        st = sp_error_set(err, SP_ERR_MISMATCH, "%s: labels must be one-dimensional [N] (one per sample), got shape %s",
                          path, sp_shape_str(t.ndim, t.dims, sh, sizeof sh));
        goto out;
    }
    int64_t n = t.dims[0];
    if (expected >= 0 && n != expected) {
        st = sp_error_set(err, SP_ERR_MISMATCH, "%s: %lld labels for %lld samples (one label per .npz file, in sorted "
                          "file order)", path, (long long)n, (long long)expected);
        goto out;
    }
    if (!(out->values = malloc((size_t)(n ? n : 1) * sizeof *out->values))) {
        st = sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory for %lld labels", path, (long long)n);
        goto out;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t v;
        switch (t.dtype) {
        case SP_DTYPE_INT64: v = ((const int64_t *)t.data)[i]; break;
        case SP_DTYPE_INT32: v = ((const int32_t *)t.data)[i]; break;
        case SP_DTYPE_INT16: v = ((const int16_t *)t.data)[i]; break;
        case SP_DTYPE_INT8: v = ((const int8_t *)t.data)[i]; break;
        case SP_DTYPE_UINT8: v = ((const uint8_t *)t.data)[i]; break;
        case SP_DTYPE_UINT16: v = ((const uint16_t *)t.data)[i]; break;
        default: v = ((const uint32_t *)t.data)[i]; break;
        }
        if (v < 0) {
            st = sp_error_set(err, SP_ERR_MISMATCH, "%s: label %lld is negative (%lld); expected class indices >= 0",
                              path, (long long)i, (long long)v);
            goto out;
        }
        out->values[i] = v;
    }
    out->count = n;
out:
    if (st)
        sp_eval_labels_free(out);
    sp_tensor_free(&t);
    return st;
}

/* The class axis of a classifier output [N, C] or [N, 1, ..., 1, C]; 0 if the
 * shape is not one. */
static int64_t class_axis(const struct sp_tensor *t, int64_t batch)
{
    if (t->ndim < 2 || t->dims[0] != batch)
        return 0;
    for (int i = 1; i < t->ndim - 1; i++)
        if (t->dims[i] != 1)
            return 0;
    return t->dims[t->ndim - 1];
}

enum sp_status sp_eval_accuracy(const struct sp_model *model, const struct sp_dataset *ds,
                                const struct sp_eval_labels *labels, size_t lo, size_t hi,
                                const struct sp_eval_options *opt, const struct sp_logger *log,
                                struct sp_accuracy *out, struct sp_error *err)
{
    memset(out, 0, sizeof *out);
    struct sp_eval_options defaults;
    sp_eval_options_init(&defaults);
    if (!opt)
        opt = &defaults;
    if (!model || !ds || !labels)
        return sp_error_set(err, SP_ERR_USAGE, "accuracy: expected a model, a data set and labels");
    if (opt->batch_size < 1)
        return sp_error_set(err, SP_ERR_USAGE, "--batch: expected a positive integer, got %d", opt->batch_size);
    if (labels->count != (int64_t)ds->count)
        return sp_error_set(err, SP_ERR_MISMATCH, "%lld labels for %zu samples in %s", (long long)labels->count,
                            ds->count, ds->dir);
    if (lo > hi || hi > ds->count)
        return sp_error_set(err, SP_ERR_USAGE, "accuracy: range [%zu, %zu) outside the %zu samples", lo, hi,
                            ds->count);
    if (sp_model_num_outputs(model) < 1)
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "%s: the model has no output to score", sp_model_path(model));
    const char *oname = sp_model_output(model, 0)->name;

    double t0 = sp_eval_now();
    struct sp_engine *eng = NULL;
    struct sp_eval_batch b = {0};
    int n_out = sp_model_num_outputs(model);
    struct sp_tensor *outs = calloc((size_t)n_out + 1, sizeof *outs);
    enum sp_status st = SP_OK;
    if (!outs) {
        st = sp_error_set(err, SP_ERR_NOMEM, "out of memory");
        goto out;
    }
    struct sp_engine_options eo = {.threads = opt->threads, .log = log};
    if ((st = sp_engine_create(model, &eo, &eng, err)))
        goto out;
    for (size_t pos = lo; pos < hi;) {
        if ((st = sp_eval_batch_load(&b, model, ds, NULL, pos, hi, (size_t)opt->batch_size, err)))
            goto out;
        if ((st = sp_engine_run(eng, b.inputs, outs, err)))
            goto out;
        const struct sp_tensor *y = &outs[0];
        int64_t cls = class_axis(y, (int64_t)b.samples);
        char sh[96];
        if (!sp_eval_is_float(y->dtype) || cls < 2)
            st = sp_error_set(err, SP_ERR_UNSUPPORTED,
                              "%s: output '%s' is %s %s; accuracy needs float class scores [N, C] with C >= 2",
                              sp_model_path(model), oname, sp_dtype_name(y->dtype),
                              sp_shape_str(y->ndim, y->dims, sh, sizeof sh));
        if (!st && out->classes && cls != out->classes)
            st = sp_error_set(err, SP_ERR_MISMATCH, "%s: output '%s' has %lld classes, earlier batches had %lld",
                              ds->files[pos], oname, (long long)cls, (long long)out->classes);
        for (size_t k = 0; k < b.samples && !st; k++) {
            int64_t label = labels->values[pos + k];
            if (label >= cls) {
                st = sp_error_set(err, SP_ERR_MISMATCH, "%s: label %lld outside the model's %lld classes",
                                  ds->files[pos + k], (long long)label, (long long)cls);
                break;
            }
            out->correct += sp_eval_argmax(y, (int64_t)k * cls, cls) == label;
        }
        out->classes = cls;
        for (int k = 0; k < n_out; k++)
            sp_tensor_free(&outs[k]);
        if (st)
            goto out;
        out->count += (int64_t)b.samples;
        pos += b.samples;
    }
    out->seconds = sp_eval_now() - t0;
out:
    sp_eval_batch_free(&b);
    sp_engine_free(eng);
    free(outs);
    return st;
}
