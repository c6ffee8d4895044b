/*
 * compress_tool: the compression core as one command, for the script tests
 * (checker, ONNX Runtime agreement) and for measuring calibration methods,
 * independent of the MPI pipeline.
 *
 *   compress_tool MODEL DATA_DIR OUT.onnx LEVEL [--family cv|nlp|custom]
 *       [--calibration-method M] [--weight-bits 7|8] [--prune-method M]
 *       [--exclude SPEC]... [--samples N] [--report FILE.json] [--fold-only]
 *       [--no-fold]
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mini_calib.h"
#include "sparsify/compress.h"

static void log_fn(void *user, enum sp_log_level level, const char *msg)
{
    (void)user;
    fprintf(stderr, "[%s] %s\n", sp_log_level_str(level), msg);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s MODEL DATA_DIR OUT.onnx LEVEL [options]\n", argv[0]);
        return 2;
    }
    struct sp_compress_options opt;
    sp_compress_options_init(&opt);
    const char *excl[32];
    int samples = 16;
    const char *report_path = NULL;
    bool fold_only = false, fold = true;
    for (int i = 5; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--fold-only"))
            fold_only = true;
        else if (!strcmp(a, "--no-fold"))
            fold = false;
        else if (!v) {
            fprintf(stderr, "%s: missing value\n", a);
            return 2;
        } else if (!strcmp(a, "--family"))
            opt.family = !strcmp(v, "nlp") ? SP_TASK_NLP : !strcmp(v, "custom") ? SP_TASK_CUSTOM : SP_TASK_CV, i++;
        else if (!strcmp(a, "--calibration-method"))
            opt.calibration_method = sp_calib_method_parse(v), i++;
        else if (!strcmp(a, "--prune-method"))
            opt.prune_method = (enum sp_prune_method)sp_prune_method_parse(v), i++;
        else if (!strcmp(a, "--weight-bits"))
            opt.weight_bits = atoi(v), i++;
        else if (!strcmp(a, "--samples"))
            samples = atoi(v), i++;
        else if (!strcmp(a, "--report"))
            report_path = v, i++;
        else if (!strcmp(a, "--exclude") && opt.n_exclude < 32)
            excl[opt.n_exclude++] = v, i++;
        else {
            fprintf(stderr, "unknown option %s\n", a);
            return 2;
        }
    }
    opt.exclude = excl;
    struct sp_logger lg = {log_fn, NULL, SP_LOG_WARN};
    struct sp_error err = {0};
    struct sp_model *m = NULL;
    struct mini_calib *c = NULL;
    struct sp_compress_report rep = {0};
    struct sp_level_plan plan;
    int folded = 0, rc = 1;
    if (sp_model_load(argv[1], &m, &err) || sp_level_plan(atof(argv[4]), &plan, &err))
        goto out;
    if ((fold || fold_only) && sp_transform_fold_batchnorm(m, &folded, &err))
        goto out;
    if (!fold_only) {
        struct sp_compress_stats view;
        if (mini_calib_run(m, argv[2], samples, plan.prune, &c, &err))
            goto out;
        mini_calib_view(c, &view);
        if (sp_compress_view(m, &view, &plan, &opt, &rep, &lg, &err))
            goto out;
    }
    if (sp_model_save(m, argv[3], &err))
        goto out;
    if (report_path) {
        json_t *o = json_object();
        json_object_set_new(o, "batchnorm_folded", json_integer(folded));
        if (sp_compress_report_to_json(&rep, o, &err) || json_dump_file(o, report_path, JSON_INDENT(1))) {
            json_decref(o);
            goto out;
        }
        json_decref(o);
    }
    fprintf(stderr, "compress_tool: %s -> %s: %d BN folded, %d layers, %d activations, sparsity %.4f\n", argv[1],
            argv[3], folded, rep.n_layers, rep.n_tensors,
            rep.prunable_weights ? (double)rep.prunable_zeros / (double)rep.prunable_weights : 0.0);
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "compress_tool: %s: %s\n", sp_status_str(err.status), err.msg);
    sp_compress_report_free(&rep);
    mini_calib_free(c);
    sp_model_free(m);
    return rc;
}
