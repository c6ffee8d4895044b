/*
 * Minimal calibrator for the compression tests (see mini_calib.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mini_calib.h"
#include "onnx/model_internal.h"
#include "sparsify/data.h"
#include "sparsify/engine.h"

#define BINS 2048

struct mtensor {
    char *name;
    double min, max;
    int64_t hist[BINS];
    long last_run;
};

struct mlayer {
    struct sp_compress_layer_info info;
    int64_t kh, kw, sh, sw, dh, dw, ph, pw;
    bool ok;      /* Hessian geometry supported */
    double *h;    /* groups * cols * cols */
};

struct mini_calib {
    const struct sp_model *model;
    int n_t, cap_t;
    struct mtensor *t;
    int n_l;
    struct mlayer *l;
    struct sp_compress_layer_info *infos;
    int pass;
    long run;
    bool hessians;
};

static struct mtensor *find(struct mini_calib *c, const char *name)
{
    for (int i = 0; i < c->n_t; i++)
        if (strcmp(c->t[i].name, name) == 0)
            return &c->t[i];
    return NULL;
}

static void see(struct mini_calib *c, const char *name, const struct sp_tensor *x)
{
    if (!x || x->dtype != SP_DTYPE_FLOAT || !name || !name[0])
        return;
    struct mtensor *t = find(c, name);
    if (!t) {
        if (c->pass != 1)
            return;
        if (c->n_t == c->cap_t) {
            c->cap_t = c->cap_t ? 2 * c->cap_t : 64;
            c->t = realloc(c->t, (size_t)c->cap_t * sizeof *c->t);
        }
        t = &c->t[c->n_t++];
        memset(t, 0, sizeof *t);
        t->name = strdup(name);
        t->min = INFINITY;
        t->max = -INFINITY;
        t->last_run = -1;
    }
    if (t->last_run == c->run)
        return;
    t->last_run = c->run;
    const float *v = x->data;
    int64_t n = sp_tensor_numel(x);
    if (c->pass == 1) {
        for (int64_t i = 0; i < n; i++) {
            if (!isfinite(v[i]))
                continue;
            t->min = v[i] < t->min ? v[i] : t->min;
            t->max = v[i] > t->max ? v[i] : t->max;
        }
        return;
    }
    double w = t->max - t->min;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(v[i]))
            continue;
        int b = w > 0 ? (int)((v[i] - t->min) / w * BINS) : 0;
        b = b < 0 ? 0 : b >= BINS ? BINS - 1 : b;
        t->hist[b]++;
    }
}

static void rank1(double *h, const double *x, int64_t cols)
{
    for (int64_t i = 0; i < cols; i++) {
        if (x[i] == 0)
            continue;
        double xi = x[i];
        double *row = h + i * cols;
        for (int64_t j = 0; j < cols; j++)
            row[j] += xi * x[j];
    }
}

static void hessian(struct mlayer *l, const struct sp_node_view *v)
{
    const struct sp_tensor *x = v->inputs[0];
    if (!l->ok || !x || x->dtype != SP_DTYPE_FLOAT)
        return;
    int64_t cols = l->info.cols;
    double *buf = malloc((size_t)cols * sizeof *buf);
    const float *xv = x->data;
    if (strcmp(l->info.op_type, "Conv") != 0) {
        int64_t rows = sp_tensor_numel(x) / cols;
        for (int64_t r = 0; r < rows; r++) {
            for (int64_t k = 0; k < cols; k++)
                buf[k] = xv[r * cols + k];
            rank1(l->h, buf, cols);
        }
    } else if (x->ndim == 4 && v->outputs[0] && v->outputs[0]->ndim == 4) {
        int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
        int64_t OH = v->outputs[0]->dims[2], OW = v->outputs[0]->dims[3], G = l->info.groups, cpg = C / G;
        for (int64_t nb = 0; nb < N; nb++)
            for (int64_t g = 0; g < G; g++)
                for (int64_t oy = 0; oy < OH; oy++)
                    for (int64_t ox = 0; ox < OW; ox++) {
                        int64_t k = 0;
                        for (int64_t ci = 0; ci < cpg; ci++)
                            for (int64_t ky = 0; ky < l->kh; ky++)
                                for (int64_t kx = 0; kx < l->kw; kx++) {
                                    int64_t iy = oy * l->sh - l->ph + ky * l->dh, ix = ox * l->sw - l->pw + kx * l->dw;
                                    buf[k++] = (iy < 0 || iy >= H || ix < 0 || ix >= W)
                                                   ? 0.0
                                                   : xv[((nb * C + g * cpg + ci) * H + iy) * W + ix];
                                }
                        rank1(l->h + g * cols * cols, buf, cols);
                    }
    }
    free(buf);
}

static enum sp_status observe(void *user, const struct sp_node_view *v, struct sp_error *err)
{
    struct mini_calib *c = user;
    (void)err;
    for (int i = 0; i < v->n_inputs; i++)
        if (!v->input_is_const[i])
            see(c, v->input_names[i], v->inputs[i]);
    for (int i = 0; i < v->n_outputs; i++)
        see(c, v->output_names[i], v->outputs[i]);
    if (c->pass == 2 && c->hessians && v->n_inputs >= 2)
        for (int i = 0; i < c->n_l; i++)
            if (strcmp(c->l[i].info.op_type, v->op_type) == 0 && strcmp(c->l[i].info.weight, v->input_names[1]) == 0 &&
                strcmp(c->l[i].info.input, v->input_names[0]) == 0)
                hessian(&c->l[i], v);
    return SP_OK;
}

static void conv_geometry(const struct sp_model *m, struct mlayer *l)
{
    const Onnx__NodeProto *n = m->proto->graph->node[l->info.node];
    l->sh = l->sw = l->dh = l->dw = 1;
    const Onnx__TensorProto *wt = NULL;
    const Onnx__GraphProto *g = m->proto->graph;
    for (size_t i = 0; i < g->n_initializer; i++)
        if (strcmp(g->initializer[i]->name, l->info.weight) == 0)
            wt = g->initializer[i];
    for (size_t i = 0; !wt && i < g->n_node; i++)
        if (strcmp(g->node[i]->op_type, "Constant") == 0 && strcmp(g->node[i]->output[0], l->info.weight) == 0)
            wt = g->node[i]->attribute[0]->t;
    if (!wt || wt->n_dims != 4)
        return;
    l->kh = wt->dims[2];
    l->kw = wt->dims[3];
    for (size_t a = 0; a < n->n_attribute; a++) {
        const Onnx__AttributeProto *at = n->attribute[a];
        if (!strcmp(at->name, "strides") && at->n_ints == 2)
            l->sh = at->ints[0], l->sw = at->ints[1];
        if (!strcmp(at->name, "dilations") && at->n_ints == 2)
            l->dh = at->ints[0], l->dw = at->ints[1];
        if (!strcmp(at->name, "pads") && at->n_ints == 4)
            l->ph = at->ints[0], l->pw = at->ints[1];
        if (!strcmp(at->name, "auto_pad") && at->has_s && at->s.len && strncmp((char *)at->s.data, "NOTSET", 6))
            return;
    }
    l->ok = true;
}

/* Adds the batch dimension the samples do not store. */
static void add_batch(struct sp_tensor *t)
{
    for (int d = t->ndim; d > 0; d--)
        t->dims[d] = t->dims[d - 1];
    t->dims[0] = 1;
    t->ndim++;
}

enum sp_status mini_calib_run(const struct sp_model *model, const char *data_dir, int max_samples, bool hessians,
                              struct mini_calib **out, struct sp_error *err)
{
    struct mini_calib *c = calloc(1, sizeof *c);
    struct sp_dataset ds = {0};
    struct sp_engine *e = NULL;
    enum sp_status st;
    c->model = model;
    c->hessians = hessians;
    if ((st = sp_compress_find_layers(model, &c->infos, &c->n_l, err)))
        goto out;
    c->l = calloc(c->n_l ? (size_t)c->n_l : 1, sizeof *c->l);
    for (int i = 0; i < c->n_l; i++) {
        c->l[i].info = c->infos[i];
        if (strcmp(c->infos[i].op_type, "Conv") == 0)
            conv_geometry(model, &c->l[i]);
        else
            c->l[i].ok = true;
        if (hessians && c->l[i].ok)
            c->l[i].h = calloc((size_t)(c->infos[i].groups * c->infos[i].cols * c->infos[i].cols), sizeof(double));
    }
    if ((st = sp_dataset_open(data_dir, NULL, &ds, err)) || (st = sp_engine_create(model, NULL, &e, err)))
        goto out;
    sp_engine_set_observer(e, observe, c);
    size_t n = ds.count < (size_t)max_samples ? ds.count : (size_t)max_samples;
    for (c->pass = 1; c->pass <= 2; c->pass++)
        for (size_t s = 0; s < n; s++) {
            struct sp_npz npz = {0};
            if ((st = sp_dataset_load(&ds, s, model, &npz, err)))
                goto out;
            for (int k = 0; k < npz.count; k++)
                add_batch(&npz.arrays[k]);
            int no = sp_model_num_outputs(model);
            struct sp_tensor *outs = calloc((size_t)no, sizeof *outs);
            c->run++;
            st = sp_engine_run(e, npz.arrays, outs, err);
            for (int k = 0; k < no; k++)
                sp_tensor_free(&outs[k]);
            free(outs);
            sp_npz_free(&npz);
            if (st)
                goto out;
        }
out:
    sp_engine_free(e);
    sp_dataset_free(&ds);
    if (st) {
        mini_calib_free(c);
        c = NULL;
    }
    *out = c;
    return st;
}

void mini_calib_free(struct mini_calib *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n_t; i++)
        free(c->t[i].name);
    for (int i = 0; i < c->n_l; i++)
        free(c->l[i].h);
    free(c->t);
    free(c->l);
    free(c->infos);
    free(c);
}

static bool v_hist(void *user, const char *tensor, struct sp_histogram *out)
{
    struct mtensor *t = find(user, tensor);
    if (!t || !(t->min <= t->max))
        return false;
    out->lo = t->min;
    out->hi = t->max;
    out->bins = BINS;
    out->counts = t->hist;
    out->min = t->min;
    out->max = t->max;
    return true;
}

static const double *v_hess(void *user, int node, const char *name, const char *weight, int64_t groups, int64_t cols)
{
    struct mini_calib *c = user;
    (void)name;
    for (int i = 0; i < c->n_l; i++)
        if (c->l[i].info.node == node && strcmp(c->l[i].info.weight, weight) == 0 && c->l[i].info.groups == groups &&
            c->l[i].info.cols == cols)
            return c->l[i].h;
    return NULL;
}

void mini_calib_view(struct mini_calib *c, struct sp_compress_stats *view)
{
    view->user = c;
    view->histogram = v_hist;
    view->hessian = v_hess;
}
