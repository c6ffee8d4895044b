/*
 * The compression part of report.json: per-layer pruning and quantization
 * facts, per-tensor activation parameters, and a summary. Kept apart from the
 * driver so that the library's compression core does not depend on how the
 * report is serialized.
 */
#include <jansson.h>
#include <math.h>

#include "sparsify/compress.h"

static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }
static json_t *str(const char *s) { return s ? json_string(s) : json_null(); }

enum sp_status sp_compress_report_to_json(const struct sp_compress_report *r, struct json_t *obj,
                                          struct sp_error *err)
{
    if (!r || !obj || !json_is_object(obj))
        return sp_error_set(err, SP_ERR_USAGE, "compress report: expected a report and a JSON object");
    json_t *layers = json_array(), *acts = json_array(), *sum = json_object();
    if (!layers || !acts || !sum)
        goto nomem;
    for (int i = 0; i < r->n_layers; i++) {
        const struct sp_compress_layer *l = &r->layers[i];
        json_t *o = json_pack("{s:o, s:o, s:o, s:I, s:I, s:I, s:b, s:b, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                              "name", str(l->name), "op", str(l->op_type), "weight", str(l->weight), "rows",
                              (json_int_t)l->rows, "cols", (json_int_t)l->cols, "groups", (json_int_t)l->groups,
                              "pruned", l->pruned, "quantized", l->quantized, "excluded", str(l->excluded),
                              "method", str(l->method), "target_sparsity", num(l->target_sparsity), "sparsity",
                              num(l->sparsity), "damp_used", num(l->damp_used), "weight_scale_min",
                              num(l->scale_min), "weight_scale_max", num(l->scale_max), "seconds", num(l->seconds));
        if (!o || json_array_append_new(layers, o))
            goto nomem;
    }
    for (int i = 0; i < r->n_tensors; i++) {
        const struct sp_compress_tensor *t = &r->tensors[i];
        json_t *o = json_pack("{s:o, s:o, s:o, s:o, s:i}", "name", str(t->name), "range_lo", num(t->lo), "range_hi",
                              num(t->hi), "scale", num(t->scale), "zero_point", (int)t->zero_point);
        if (!o || json_array_append_new(acts, o))
            goto nomem;
    }
    double overall = r->prunable_weights ? (double)r->prunable_zeros / (double)r->prunable_weights : 0.0;
    if (json_object_set_new(sum, "target_sparsity", num(r->target_sparsity)) ||
        json_object_set_new(sum, "sparsity_of_pruned_layers", num(overall)) ||
        json_object_set_new(sum, "weights_total", json_integer(r->weights_total)) ||
        json_object_set_new(sum, "zeros_total", json_integer(r->zeros_total)) ||
        json_object_set_new(sum, "weight_bits", json_integer(r->weight_bits)) ||
        json_object_set_new(sum, "calibration_method", str(r->calibration_method)) ||
        json_object_set_new(sum, "percentile", num(r->percentile)) ||
        json_object_set_new(sum, "opset_in", json_integer(r->opset_in)) ||
        json_object_set_new(sum, "opset_out", json_integer(r->opset_out)) ||
        json_object_set_new(sum, "qdq_nodes", json_integer(r->qdq_nodes)) ||
        json_object_set_new(sum, "seconds_prune", num(r->t_prune)) ||
        json_object_set_new(sum, "seconds_qdq", num(r->t_qdq)) ||
        json_object_set_new(sum, "seconds_total", num(r->t_total)))
        goto nomem;
    if (json_object_set_new(obj, "layers", layers) || json_object_set_new(obj, "activations", acts) ||
        json_object_set_new(obj, "summary", sum)) {
        layers = acts = sum = NULL; /* set_new consumed them, even on failure */
        goto nomem;
    }
    return SP_OK;
nomem:
    json_decref(layers);
    json_decref(acts);
    json_decref(sum);
    return sp_error_set(err, SP_ERR_NOMEM, "out of memory building the compression report");
}
