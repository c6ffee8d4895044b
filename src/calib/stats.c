/*
 * The public result of calibration (struct sp_calib_stats): built on rank 0
 * from the merged accumulators after the last merge, with the fixed-point
 * Hessians converted to doubles and mirrored into full symmetric matrices,
 * since SparseGPT (src/prune) wants a plain cols x cols array; plus the digest
 * that the determinism tests compare across rank counts and resume points.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib/calib_internal.h"
#include "core/sha256.h"

static enum sp_status nomem(struct sp_error *err)
{
    return sp_error_set(err, SP_ERR_NOMEM, "out of memory building the calibration statistics");
}

enum sp_status calib_build_stats(struct calib *c, struct sp_calib_stats **out, struct sp_error *err)
{
    struct sp_calib_stats *s = calloc(1, sizeof *s);
    if (!s)
        return nomem(err);
    *out = s;
    const int bins = c->opt->bins;
    s->samples = c->n_samples;
    s->holdout_samples = (int64_t)c->ds->count - c->n_samples;
    s->groups = c->n_groups;
    s->resumed = c->resumed;
    s->time = c->t;
    if (!(s->tensors = calloc((size_t)c->n_tensors + 1, sizeof *s->tensors)))
        return nomem(err);
    s->n_tensors = c->n_tensors;
    for (int i = 0; i < c->n_tensors; i++) {
        struct sp_calib_tensor *t = &s->tensors[i];
        const struct calib_tstat *a = &c->ts[i];
        if (!(t->name = strdup(c->tnames[i])) || !(t->hist = malloc((size_t)bins * sizeof *t->hist)))
            return nomem(err);
        bool any = a->min <= a->max;
        t->min = any ? a->min : 0;
        t->max = any ? a->max : 0;
        t->count = a->count;
        t->nan_count = a->nan;
        t->inf_count = a->inf;
        t->lo = t->min;
        t->hi = t->max;
        t->bins = bins;
        memcpy(t->hist, c->hist + (size_t)i * (size_t)bins, (size_t)bins * sizeof *t->hist);
    }
    if (!(s->hessians = calloc((size_t)c->n_slots + 1, sizeof *s->hessians)))
        return nomem(err);
    s->n_hessians = c->n_slots;
    for (int k = 0; k < c->n_slots; k++) {
        const struct calib_slot *sl = &c->slots[k];
        struct sp_calib_hessian *h = &s->hessians[k];
        if (!(h->key = strdup(sl->key)) || !(h->input = strdup(sl->input)))
            return nomem(err);
        h->groups = sl->groups;
        h->cols = sl->cols;
        h->rows = sl->rows2;
        h->frac_bits = sl->frac_bits;
        if (!sl->acc)
            continue;
        const int64_t K = sl->cols;
        if (!(h->h = malloc((size_t)(sl->groups * K * K) * sizeof *h->h)))
            return sp_error_set(err, SP_ERR_NOMEM, "out of memory for the Hessian of '%s'", sl->input);
        for (int64_t g = 0; g < sl->groups; g++) {
            const sp_exact_t *a = sl->acc + g * sl->tri;
            double *m = h->h + g * K * K;
            for (int64_t i = 0; i < K; i++)
                for (int64_t j = i; j < K; j++) {
                    double v = sp_exact_to_double(*a++, sl->frac_bits);
                    m[i * K + j] = v;
                    m[j * K + i] = v;
                }
        }
    }
    if (!(s->layers = calloc((size_t)c->n_layers + 1, sizeof *s->layers)))
        return nomem(err);
    s->n_layers = c->n_layers;
    for (int i = 0; i < c->n_layers; i++) {
        const struct calib_layer *L = &c->layers[i];
        struct sp_calib_layer *o = &s->layers[i];
        if (!(o->node = strdup(L->name)) || !(o->op_type = strdup(L->op)) || !(o->weight = strdup(L->weight)) ||
            !(o->input = strdup(L->input)))
            return nomem(err);
        o->groups = L->groups;
        o->rows_per_group = L->rpg;
        o->cols = L->cols;
        o->weight_kn = L->kn;
        o->hessian = L->slot;
        o->h = s->hessians[L->slot].h;
        o->rows_seen = s->hessians[L->slot].rows;
    }
    return SP_OK;
}

void sp_calib_stats_free(struct sp_calib_stats *s)
{
    if (!s)
        return;
    for (int i = 0; s->tensors && i < s->n_tensors; i++) {
        free(s->tensors[i].name);
        free(s->tensors[i].hist);
    }
    for (int i = 0; s->hessians && i < s->n_hessians; i++) {
        free(s->hessians[i].key);
        free(s->hessians[i].input);
        free(s->hessians[i].h);
    }
    for (int i = 0; s->layers && i < s->n_layers; i++) {
        free(s->layers[i].node);
        free(s->layers[i].op_type);
        free(s->layers[i].weight);
        free(s->layers[i].input);
    }
    free(s->tensors);
    free(s->hessians);
    free(s->layers);
    free(s);
}

static void put_str(struct sp_sha256 *h, const char *s) { sp_sha256_update(h, s, strlen(s) + 1); }
static void put_i64(struct sp_sha256 *h, int64_t v) { sp_sha256_update(h, &v, sizeof v); }
static void put_f64(struct sp_sha256 *h, double v) { sp_sha256_update(h, &v, sizeof v); }

void sp_calib_stats_digest(const struct sp_calib_stats *s, char hex[65])
{
    struct sp_sha256 h;
    uint8_t d[32];
    sp_sha256_init(&h);
    put_i64(&h, s->samples);
    put_i64(&h, s->groups);
    put_i64(&h, s->n_tensors);
    for (int i = 0; i < s->n_tensors; i++) {
        const struct sp_calib_tensor *t = &s->tensors[i];
        put_str(&h, t->name);
        put_f64(&h, t->min);
        put_f64(&h, t->max);
        put_i64(&h, t->count);
        put_i64(&h, t->nan_count);
        put_i64(&h, t->inf_count);
        put_i64(&h, t->bins);
        sp_sha256_update(&h, t->hist, (size_t)t->bins * sizeof *t->hist);
    }
    put_i64(&h, s->n_hessians);
    for (int i = 0; i < s->n_hessians; i++) {
        const struct sp_calib_hessian *x = &s->hessians[i];
        put_str(&h, x->key);
        put_i64(&h, x->groups);
        put_i64(&h, x->cols);
        put_i64(&h, x->rows);
        put_i64(&h, x->frac_bits);
        if (x->h)
            sp_sha256_update(&h, x->h, (size_t)(x->groups * x->cols * x->cols) * sizeof *x->h);
    }
    put_i64(&h, s->n_layers);
    for (int i = 0; i < s->n_layers; i++) {
        const struct sp_calib_layer *L = &s->layers[i];
        put_str(&h, L->node);
        put_str(&h, L->op_type);
        put_str(&h, L->weight);
        put_str(&h, L->input);
        put_i64(&h, L->groups);
        put_i64(&h, L->rows_per_group);
        put_i64(&h, L->cols);
        put_i64(&h, L->weight_kn);
        put_i64(&h, L->hessian);
    }
    sp_sha256_final(&h, d);
    sp_sha256_hex(d, hex);
}

const struct sp_calib_tensor *sp_calib_find_tensor(const struct sp_calib_stats *s, const char *name)
{
    for (int i = 0; s && i < s->n_tensors; i++)
        if (strcmp(s->tensors[i].name, name) == 0)
            return &s->tensors[i];
    return NULL;
}

const struct sp_calib_layer *sp_calib_find_layer(const struct sp_calib_stats *s, const char *node)
{
    for (int i = 0; s && i < s->n_layers; i++)
        if (strcmp(s->layers[i].node, node) == 0)
            return &s->layers[i];
    return NULL;
}

void sp_calib_tensor_histogram(const struct sp_calib_tensor *t, struct sp_histogram *out)
{
    out->lo = t->lo;
    out->hi = t->hi;
    out->bins = t->bins;
    out->counts = t->hist;
    out->min = t->min;
    out->max = t->max;
}
