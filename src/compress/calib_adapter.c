/*
 * sp_compress over calibration's merged statistics: the two lookups of
 * struct sp_compress_stats answered from struct sp_calib_stats. Layers are
 * matched by weight name (and node name when both sides have one), and a
 * Hessian is only used when its geometry is the one the weight pass expects.
 */
#include <string.h>

#include "sparsify/calib.h"
#include "sparsify/compress.h"

static bool histogram(void *user, const char *tensor, struct sp_histogram *out)
{
    const struct sp_calib_tensor *t = sp_calib_find_tensor(user, tensor);
    if (!t || !t->hist || t->bins < 1)
        return false;
    sp_calib_tensor_histogram(t, out);
    return true;
}

static const double *hessian(void *user, int node, const char *name, const char *weight, int64_t groups,
                             int64_t cols)
{
    const struct sp_calib_stats *s = user;
    (void)node;
    for (int i = 0; i < s->n_layers; i++) {
        const struct sp_calib_layer *l = &s->layers[i];
        if (!l->weight || strcmp(l->weight, weight) != 0)
            continue;
        if (name && name[0] && l->node && l->node[0] && strcmp(l->node, name) != 0)
            continue;
        if (l->groups == groups && l->cols == cols && l->h && l->rows_seen > 0)
            return l->h;
    }
    return NULL;
}

enum sp_status sp_compress(struct sp_model *model, const struct sp_calib_stats *stats,
                           const struct sp_level_plan *plan, const struct sp_compress_options *opt,
                           struct sp_compress_report *report, const struct sp_logger *log, struct sp_error *err)
{
    struct sp_compress_stats view = {.user = (void *)stats, .histogram = histogram, .hessian = hessian};
    return sp_compress_view(model, stats ? &view : NULL, plan, opt, report, log, err);
}
