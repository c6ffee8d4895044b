/*
 * The compression driver: from merged statistics and a level plan to a
 * rewritten model. It lists the layers, applies exclusions, runs the
 * per-layer weight pass (SparseGPT / magnitude pruning with joint INT8
 * quantization, or quantization alone), then hands the quantized layers to
 * the QDQ rewrite (src/quant/qdq.c). Everything runs on rank 0.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compress/compress_internal.h"
#include "sparsify/log.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void sp_compress_options_init(struct sp_compress_options *o)
{
    memset(o, 0, sizeof *o);
    o->family = SP_TASK_CV;
    o->prune_method = SP_PRUNE_SPARSEGPT;
    o->calibration_method = -1;
    o->percentile = SP_COMPRESS_DEFAULT_PERCENTILE;
    o->weight_bits = SP_COMPRESS_DEFAULT_WEIGHT_BITS;
    o->damp = 0.01;
    o->block = 128;
    o->default_exclusions = true;
}

void sp_compress_report_free(struct sp_compress_report *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n_layers; i++) {
        free(r->layers[i].name);
        free(r->layers[i].op_type);
        free(r->layers[i].weight);
        free(r->layers[i].excluded);
        free(r->layers[i].method);
    }
    for (int i = 0; i < r->n_tensors; i++)
        free(r->tensors[i].name);
    free(r->layers);
    free(r->tensors);
    memset(r, 0, sizeof *r);
}

/* Transposes a rows x cols float matrix into dst (cols x rows). */
static void transpose_f(const float *src, float *dst, int64_t rows, int64_t cols)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            dst[c * rows + r] = src[r * cols + c];
}

static void transpose_i8(const int8_t *src, int8_t *dst, int64_t rows, int64_t cols)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            dst[c * rows + r] = src[r * cols + c];
}

/* The weight pass of one layer. Fills the report entry `rl`. */
static enum sp_status layer_pass(Onnx__GraphProto *g, struct sp_layer *l, const struct sp_compress_stats *stats,
                                 const struct sp_level_plan *plan, const struct sp_compress_options *opt,
                                 struct sp_compress_layer *rl, const struct sp_logger *log, struct sp_error *err)
{
    const char *lname = rl->name;
    bool do_prune = plan->prune && !l->prune_excluded;
    bool do_quant = plan->quantize && !l->quant_excluded;
    rl->target_sparsity = do_prune ? plan->sparsity : 0.0;
    if (!do_prune && !do_quant)
        return (rl->method = strdup("none")) ? SP_OK : sp_error_set(err, SP_ERR_NOMEM, "out of memory");

    int64_t rows = l->info.rows, cols = l->info.cols, groups = l->info.groups, rpg = rows / groups;
    struct sp_tensor w = {0};
    float *m = NULL, *scales = NULL;
    int8_t *q = NULL;
    char *wname = NULL;
    enum sp_status st = sp_graph_const_float(g, l->info.weight, &w, "weight", err);
    if (st)
        return st;
    size_t numel = (size_t)(rows * cols);
    if ((size_t)sp_tensor_numel(&w) != numel) {
        sp_tensor_free(&w);
        return sp_error_set(err, SP_ERR_INTERNAL, "layer %s: weight has %lld values, expected %zu", lname,
                            (long long)sp_tensor_numel(&w), numel);
    }
    m = malloc(numel * sizeof *m);
    scales = calloc((size_t)rows, sizeof *scales);
    q = calloc(numel ? numel : 1, 1);
    if (!m || !scales || !q) {
        st = sp_error_set(err, SP_ERR_NOMEM, "layer %s: out of memory for a %lldx%lld weight", lname,
                          (long long)rows, (long long)cols);
        goto out;
    }
    if (l->weight_kn)
        transpose_f(w.data, m, cols, rows); /* [K, N] -> [N, K] */
    else
        memcpy(m, w.data, numel * sizeof *m);

    const double *h = stats && stats->hessian
                          ? stats->hessian(stats->user, l->info.node, l->info.name, l->info.weight, groups, cols)
                          : NULL;
    struct sp_prune_options po;
    sp_prune_options_init(&po);
    po.damp = opt->damp;
    po.block = opt->block;
    po.quant_bits = do_quant ? opt->weight_bits : 0;
    const char *method;
    if (do_prune) {
        po.method = opt->prune_method;
        po.sparsity = plan->sparsity;
        po.nm_n = opt->nm_n;
        po.nm_m = opt->nm_m;
        if (po.method == SP_PRUNE_SPARSEGPT && !h) {
            sp_log(log, SP_LOG_WARN, "layer %s: no Hessian collected, magnitude pruning instead of SparseGPT", lname);
            po.method = SP_PRUNE_MAGNITUDE;
        }
        method = sp_prune_method_str(po.method);
    } else {
        /* Quantization alone: GPTQ (SparseGPT's update with nothing pruned)
         * when a Hessian exists, else round-to-nearest. */
        po.sparsity = 0.0;
        po.method = h ? SP_PRUNE_SPARSEGPT : SP_PRUNE_MAGNITUDE;
        method = h ? "gptq" : "rtn";
    }
    if (!(rl->method = strdup(method))) {
        st = sp_error_set(err, SP_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int64_t gi = 0; gi < groups; gi++) {
        struct sp_prune_result res;
        struct sp_error e2 = {0};
        st = sp_prune_layer(m + gi * rpg * cols, rpg, cols, h ? h + gi * cols * cols : NULL, &po,
                            do_quant ? scales + gi * rpg : NULL, do_quant ? q + gi * rpg * cols : NULL, &res, &e2);
        if (st) {
            sp_error_set(err, st, "layer %s (weight %s, group %lld): %s", lname, l->info.weight, (long long)gi,
                         e2.msg);
            goto out;
        }
        if (res.damp_used > rl->damp_used)
            rl->damp_used = res.damp_used;
    }
    int64_t zeros = 0;
    for (size_t i = 0; i < numel; i++)
        zeros += m[i] == 0.0f;
    rl->sparsity = numel ? (double)zeros / (double)numel : 0.0;
    rl->pruned = do_prune;

    if (do_quant) {
        float smin = INFINITY, smax = 0;
        for (int64_t r = 0; r < rows; r++) {
            if (!(scales[r] > 0) || !isfinite(scales[r])) {
                st = sp_error_set(err, SP_ERR_NUMERIC, "layer %s: channel %lld has weight scale %g", lname,
                                  (long long)r, (double)scales[r]);
                goto out;
            }
            smin = scales[r] < smin ? scales[r] : smin;
            smax = scales[r] > smax ? scales[r] : smax;
        }
        rl->scale_min = smin;
        rl->scale_max = smax;
        if ((st = sp_tensor_alloc(&l->q, SP_DTYPE_INT8, w.ndim, w.dims, err)))
            goto out;
        if (l->weight_kn)
            transpose_i8(q, l->q.data, rows, cols); /* back to [K, N] */
        else
            memcpy(l->q.data, q, numel);
        l->scales = scales;
        scales = NULL;
        l->quantized = true;
        rl->quantized = true;
    } else {
        /* Pruned but kept float: a new initializer, so a weight shared with
         * another node is not changed under it. */
        if (l->weight_kn)
            transpose_f(m, w.data, rows, cols);
        else
            memcpy(w.data, m, numel * sizeof *m);
        Onnx__NodeProto *node = g->node[l->info.node];
        if (!(wname = sp_graph_unique(g, NULL, l->info.weight, "_pruned"))) {
            st = sp_error_set(err, SP_ERR_NOMEM, "out of memory");
            goto out;
        }
        if ((st = sp_graph_add_tensor(g, &w, wname, err)) || (st = sp_graph_set_str(&node->input[1], wname, err)))
            goto out;
        l->info.weight = node->input[1];
    }
    sp_log(log, SP_LOG_DEBUG, "layer %s: %s, %lldx%lld x%lld groups, sparsity %.3f", lname, method, (long long)rows,
           (long long)cols, (long long)groups, rl->sparsity);
out:
    sp_tensor_free(&w);
    free(m);
    free(scales);
    free(q);
    free(wname);
    return st;
}

static char *dup_or_null(const char *s) { return s && *s ? strdup(s) : NULL; }

enum sp_status sp_compress_view(struct sp_model *model, const struct sp_compress_stats *stats,
                                const struct sp_level_plan *plan, const struct sp_compress_options *opt,
                                struct sp_compress_report *report, const struct sp_logger *log,
                                struct sp_error *err)
{
    struct sp_compress_report local;
    struct sp_compress_report *rep = report ? report : &local;
    struct sp_compress_options defaults;
    struct sp_layer *layers = NULL;
    int n = 0;
    enum sp_status st = SP_OK;
    double t0 = now_s();
    memset(rep, 0, sizeof *rep);
    if (!opt) {
        sp_compress_options_init(&defaults);
        opt = &defaults;
    }
    if (!model || !model->proto || !model->proto->graph || !plan)
        return sp_error_set(err, SP_ERR_USAGE, "compress: model and plan are required");
    if (opt->weight_bits != 7 && opt->weight_bits != 8)
        return sp_error_set(err, SP_ERR_USAGE, "--weight-bits: expected 7 or 8, got %d", opt->weight_bits);
    if (opt->calibration_method > SP_CALIB_MSE)
        return sp_error_set(err, SP_ERR_USAGE, "--calibration-method: unknown method %d", opt->calibration_method);
    enum sp_calib_method cm = opt->calibration_method < 0 ? SP_COMPRESS_DEFAULT_CALIBRATION
                                                          : (enum sp_calib_method)opt->calibration_method;
    double pct = opt->percentile > 0 ? opt->percentile : SP_COMPRESS_DEFAULT_PERCENTILE;
    rep->weight_bits = opt->weight_bits;
    rep->calibration_method = sp_calib_method_str(cm);
    rep->percentile = pct;
    rep->target_sparsity = plan->prune ? plan->sparsity : 0.0;
    rep->opset_in = rep->opset_out = model->opset;
    if (!plan->quantize && !plan->prune)
        return SP_OK;

    /* Refuse an opset we cannot raise before touching anything. */
    if (plan->quantize && (st = sp_qdq_prepare_opset(model, &rep->opset_in, err)))
        return st;
    rep->opset_out = model->opset;

    Onnx__GraphProto *g = model->proto->graph;
    if ((st = sp_layers_find(g, &layers, &n, err)))
        return st;
    if ((st = sp_layers_exclude(g, layers, n, opt->family, opt->default_exclusions, opt->n_exclude, opt->exclude, log,
                                err)))
        goto out;
    rep->layers = calloc(n ? (size_t)n : 1, sizeof *rep->layers);
    if (!rep->layers) {
        st = sp_error_set(err, SP_ERR_NOMEM, "out of memory for the report");
        goto out;
    }
    rep->n_layers = n;
    for (int i = 0; i < n; i++) {
        struct sp_compress_layer *rl = &rep->layers[i];
        char fallback[64];
        snprintf(fallback, sizeof fallback, "%s#%d", layers[i].info.op_type, layers[i].info.node);
        rl->name = strdup(layers[i].info.name[0] ? layers[i].info.name : fallback);
        rl->op_type = strdup(layers[i].info.op_type);
        rl->weight = strdup(layers[i].info.weight);
        rl->excluded = dup_or_null(layers[i].reason);
        rl->rows = layers[i].info.rows;
        rl->cols = layers[i].info.cols;
        rl->groups = layers[i].info.groups;
        if (!rl->name || !rl->op_type || !rl->weight || (layers[i].reason[0] && !rl->excluded)) {
            st = sp_error_set(err, SP_ERR_NOMEM, "out of memory for the report");
            goto out;
        }
    }
    double tp = now_s();
    for (int i = 0; i < n; i++) {
        double tl = now_s();
        if ((st = layer_pass(g, &layers[i], stats, plan, opt, &rep->layers[i], log, err)))
            goto out;
        rep->layers[i].seconds = now_s() - tl;
        int64_t numel = layers[i].info.rows * layers[i].info.cols;
        int64_t zeros = (int64_t)llround(rep->layers[i].sparsity * (double)numel);
        rep->weights_total += numel;
        rep->zeros_total += zeros;
        if (rep->layers[i].pruned) {
            rep->prunable_weights += numel;
            rep->prunable_zeros += zeros;
        }
    }
    rep->t_prune = now_s() - tp;
    sp_log(log, SP_LOG_INFO, "compress: %d layers, %lld of %lld weights zero%s", n, (long long)rep->zeros_total,
           (long long)rep->weights_total, plan->prune ? "" : " (quantization only)");

    double tq = now_s();
    if (plan->quantize)
        st = sp_qdq_rewrite(model, layers, n, stats, cm, pct, rep, log, err);
    rep->t_qdq = now_s() - tq;
    if (!st)
        st = sp_graph_drop_unused_consts(g, NULL, err);
    if (!st)
        st = sp_model_refresh(model, err);
out:
    sp_layers_free(layers, n);
    rep->t_total = now_s() - t0;
    if (!report)
        sp_compress_report_free(&local);
    return st;
}
