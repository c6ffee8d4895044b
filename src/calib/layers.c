/*
 * Which tensors and layers calibration watches, and the layer-input Hessians.
 *
 * The layout (tensor table, layers, Hessian slots) is read from an engine plan
 * made for the shapes of the first statistics sample, so every rank, including
 * ranks that will compute no group, derives the same layout without running
 * anything. Hessian columns follow the order pruning flattens a weight
 * (include/sparsify/prune.h): for a convolution the im2col order
 * (c, ky, kx) of one group, for Gemm/MatMul the K input features. Layers
 * reading the same tensor with the same row geometry (BERT's Q, K and V) share
 * one slot, so their Hessian is computed once.
 *
 * Per group (one engine run) the rows are multiplied on OpenBLAS (ssyrk, upper
 * triangle) into float, summed per sample or row chunk in double, and the
 * group's total goes to 128-bit fixed point at once: the only sums that cross
 * groups are integer sums, which is what makes the result independent of how
 * groups were spread over ranks.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib/calib_internal.h"
#include "engine/attr.h"
#include "engine/ops/im2col.h"

/* Rows per ssyrk call for row-shaped inputs: float sums over at most this
 * many rows, double across chunks. */
#define ROW_CHUNK 512
/* Largest im2col block of a convolution's Hessian rows (64 MB of floats). */
#define COL_FLOATS ((int64_t)16 << 20)

static enum sp_status nomem(struct sp_error *err)
{
    return sp_error_set(err, SP_ERR_NOMEM, "out of memory during calibration");
}

static int find_tensor(const struct calib *c, const char *name)
{
    for (int i = 0; i < c->n_tensors; i++)
        if (strcmp(c->tnames[i], name) == 0)
            return i;
    return -1;
}

static enum sp_status add_tensor(struct calib *c, char *name, int *cap, struct sp_error *err)
{
    if (find_tensor(c, name) >= 0)
        return SP_OK;
    if (c->n_tensors == *cap) {
        int nc = *cap ? 2 * *cap : 64;
        char **p = realloc(c->tnames, (size_t)nc * sizeof *p);
        if (!p)
            return nomem(err);
        c->tnames = p;
        *cap = nc;
    }
    c->tnames[c->n_tensors++] = name;
    return SP_OK;
}

/* Geometry of a layer's rows, and the key that lets layers share a slot. */
struct geom {
    enum slot_kind kind;
    int64_t groups, cols, rpg;
    bool kn;
    char key[512];
};

static enum sp_status conv_window(const struct sp_node *n, const struct sp_tensor *x, const struct sp_tensor *w,
                                  struct sp_win *win, int64_t *groups, struct sp_error *err)
{
    struct sp_win_attrs a;
    enum sp_status st = sp_win_attrs_read(n, true, false, &a, err);
    if (!st)
        st = sp_attr_int(n, "group", 1, groups, err);
    if (!st)
        st = sp_win_resolve(n, &a, x->ndim - 2, x->dims + 2, w->dims + 2, win, err);
    return st;
}

/* Fills g for a prunable node, or returns false when the node is not one. */
static bool layer_geom(const struct sp_node *n, struct geom *g)
{
    const char *op = n->proto->op_type;
    const struct sp_tensor *x = sp_node_in(n, 0), *w = sp_node_in(n, 1);
    if (!op || !x || !w || !sp_node_in_is_const(n, 1) || sp_node_in_is_const(n, 0))
        return false;
    if (x->dtype != SP_DTYPE_FLOAT || w->dtype != SP_DTYPE_FLOAT)
        return false;
    if (n->proto->domain && n->proto->domain[0] && strcmp(n->proto->domain, "ai.onnx") != 0)
        return false;
    const char *in = n->proto->input[0];
    struct sp_error e = {0};
    memset(g, 0, sizeof *g);
    if (strcmp(op, "Conv") == 0) {
        struct sp_win win;
        int64_t G = 1;
        if (x->ndim < 3 || w->ndim != x->ndim || conv_window(n, x, w, &win, &G, &e) || G < 1 || w->dims[0] % G)
            return false;
        g->kind = SLOT_CONV;
        g->groups = G;
        g->rpg = w->dims[0] / G;
        g->cols = w->dims[1] * sp_win_kernel_size(&win);
        int k = snprintf(g->key, sizeof g->key, "conv|%s|g%lld", in, (long long)G);
        for (int i = 0; i < SP_WIN_MAX_DIMS && k < (int)sizeof g->key; i++)
            k += snprintf(g->key + k, sizeof g->key - (size_t)k, "|k%lld s%lld d%lld p%lld,%lld",
                          (long long)win.kernel[i], (long long)win.stride[i], (long long)win.dilation[i],
                          (long long)win.pad_begin[i], (long long)win.pad_end[i]);
        return true;
    }
    if (strcmp(op, "Gemm") == 0) {
        int64_t ta = 0, tb = 0;
        if (w->ndim != 2 || x->ndim != 2 || sp_attr_int(n, "transA", 0, &ta, &e) || sp_attr_int(n, "transB", 0, &tb, &e))
            return false;
        g->kind = ta ? SLOT_COLS : SLOT_ROWS;
        g->groups = 1;
        g->cols = tb ? w->dims[1] : w->dims[0];
        g->rpg = tb ? w->dims[0] : w->dims[1];
        g->kn = !tb;
        snprintf(g->key, sizeof g->key, "%s|%s|K%lld", ta ? "cols" : "rows", in, (long long)g->cols);
        return true;
    }
    if (strcmp(op, "MatMul") == 0) {
        if (w->ndim != 2 || x->ndim < 1 || x->dims[x->ndim - 1] != w->dims[0])
            return false;
        g->kind = SLOT_ROWS;
        g->groups = 1;
        g->cols = w->dims[0];
        g->rpg = w->dims[1];
        g->kn = true;
        snprintf(g->key, sizeof g->key, "rows|%s|K%lld", in, (long long)g->cols);
        return true;
    }
    return false;
}

static char *label_dup(const struct sp_node *n)
{
    const char *s = n->proto->name && n->proto->name[0] ? n->proto->name
                    : n->proto->n_output ? n->proto->output[0] : "";
    return strdup(s);
}

enum sp_status calib_discover(struct calib *c, const struct sp_tensor *inputs, struct sp_error *err)
{
    struct sp_engine *e = c->eng;
    enum sp_status st = sp_engine_plan(e, inputs, err);
    if (st)
        return st;
    int cap = 0;
    /* Tensor table: float graph inputs, then every float value a scheduled
     * node computes, in execution order (the same on every rank). */
    if (!(c->input_tensor = malloc((size_t)(e->n_inputs ? e->n_inputs : 1) * sizeof *c->input_tensor)))
        return nomem(err);
    for (int i = 0; i < e->n_inputs; i++) {
        c->input_tensor[i] = -1;
        if (e->inputs[i]->t.dtype == SP_DTYPE_FLOAT && (st = add_tensor(c, (char *)e->inputs[i]->name, &cap, err)))
            return st;
    }
    if (!(c->node_out = calloc((size_t)e->n_nodes + 1, sizeof *c->node_out)) ||
        !(c->node_layers = malloc(((size_t)e->n_nodes + 1) * sizeof *c->node_layers)))
        return nomem(err);
    for (int i = 0; i < e->n_nodes; i++)
        c->node_layers[i] = -1;
    for (int k = 0; k < e->n_sched; k++) {
        struct sp_node *n = &e->nodes[e->sched[k]];
        if (!(c->node_out[n->index] = malloc((size_t)(n->n_outputs ? n->n_outputs : 1) * sizeof(int))))
            return nomem(err);
        for (int o = 0; o < n->n_outputs; o++) {
            c->node_out[n->index][o] = -1;
            struct sp_value *v = n->outputs[o];
            if (v && !v->is_const && v->t.dtype == SP_DTYPE_FLOAT && (st = add_tensor(c, (char *)v->name, &cap, err)))
                return st;
        }
    }
    for (int i = 0; i < e->n_inputs; i++)
        c->input_tensor[i] = e->inputs[i]->t.dtype == SP_DTYPE_FLOAT ? find_tensor(c, e->inputs[i]->name) : -1;
    for (int k = 0; k < e->n_sched; k++) {
        struct sp_node *n = &e->nodes[e->sched[k]];
        for (int o = 0; o < n->n_outputs; o++) {
            struct sp_value *v = n->outputs[o];
            if (v && !v->is_const && v->t.dtype == SP_DTYPE_FLOAT)
                c->node_out[n->index][o] = find_tensor(c, v->name);
        }
    }

    /* Layers and their slots. */
    int lcap = 0, scap = 0;
    for (int k = 0; k < e->n_sched; k++) {
        struct sp_node *n = &e->nodes[e->sched[k]];
        struct geom g;
        if (!layer_geom(n, &g))
            continue;
        int t = find_tensor(c, n->proto->input[0]);
        if (t < 0)
            continue;
        int s = 0;
        while (s < c->n_slots && strcmp(c->slots[s].key, g.key) != 0)
            s++;
        if (s == c->n_slots) {
            if (c->n_slots == scap) {
                scap = scap ? 2 * scap : 16;
                struct calib_slot *p = realloc(c->slots, (size_t)scap * sizeof *p);
                if (!p)
                    return nomem(err);
                c->slots = p;
            }
            struct calib_slot *sl = &c->slots[c->n_slots];
            memset(sl, 0, sizeof *sl);
            sl->key = strdup(g.key);
            sl->input = strdup(n->proto->input[0]);
            sl->tensor = t;
            sl->kind = g.kind;
            sl->node = n->index;
            sl->groups = g.groups;
            sl->cols = g.cols;
            sl->tri = g.cols * (g.cols + 1) / 2;
            sl->last_run = -1;
            c->n_slots++;
            if (!sl->key || !sl->input)
                return nomem(err);
        }
        if (c->n_layers == lcap) {
            lcap = lcap ? 2 * lcap : 16;
            struct calib_layer *p = realloc(c->layers, (size_t)lcap * sizeof *p);
            int *q = realloc(c->node_layer_next, (size_t)lcap * sizeof *q);
            if (q)
                c->node_layer_next = q;
            if (!p || !q) {
                if (p)
                    c->layers = p;
                return nomem(err);
            }
            c->layers = p;
        }
        struct calib_layer *L = &c->layers[c->n_layers];
        memset(L, 0, sizeof *L);
        L->node = n->index;
        L->name = label_dup(n);
        L->op = strdup(n->proto->op_type);
        L->weight = strdup(n->proto->input[1]);
        L->input = strdup(n->proto->input[0]);
        L->groups = g.groups;
        L->rpg = g.rpg;
        L->cols = g.cols;
        L->kn = g.kn;
        L->slot = s;
        c->node_layer_next[c->n_layers] = c->node_layers[n->index];
        c->node_layers[n->index] = c->n_layers;
        c->n_layers++;
        if (!L->name || !L->op || !L->weight || !L->input)
            return nomem(err);
    }
    return SP_OK;
}

void calib_free_layout(struct calib *c)
{
    for (int i = 0; i < c->n_slots; i++) {
        free(c->slots[i].key);
        free(c->slots[i].input);
        free(c->slots[i].acc);
    }
    for (int i = 0; i < c->n_layers; i++) {
        free(c->layers[i].name);
        free(c->layers[i].op);
        free(c->layers[i].weight);
        free(c->layers[i].input);
    }
    if (c->node_out && c->eng)
        for (int i = 0; i < c->eng->n_nodes; i++)
            free(c->node_out[i]);
    free(c->node_out);
    free(c->node_layers);
    free(c->node_layer_next);
    free(c->slots);
    free(c->layers);
    free(c->tnames);
    free(c->input_tensor);
    free(c->col);
    free(c->fs);
    free(c->ds_acc);
}

/* Rows this run adds to each group of the slot. */
int64_t calib_slot_rows(const struct calib *c, const struct calib_slot *s, const struct sp_node_view *v)
{
    const struct sp_tensor *x = v->inputs[0];
    if (s->kind == SLOT_ROWS)
        return x->ndim == 0 ? 0 : sp_tensor_numel(x) / s->cols;
    if (s->kind == SLOT_COLS)
        return x->dims[1];
    const struct sp_node *n = &c->eng->nodes[v->index];
    struct sp_win win;
    int64_t G;
    struct sp_error e = {0};
    if (conv_window(n, x, v->inputs[1], &win, &G, &e))
        return 0;
    return x->dims[0] * sp_win_out_size(&win);
}

static enum sp_status grow(void **p, size_t *cap, size_t need, size_t elem, struct sp_error *err)
{
    if (need <= *cap)
        return SP_OK;
    void *q = realloc(*p, need * elem);
    if (!q)
        return nomem(err);
    *p = q;
    *cap = need;
    return SP_OK;
}

/* ds += upper triangle of fs (K x K). */
static void add_upper(double *ds, const float *fs, int64_t K)
{
    for (int64_t i = 0; i < K; i++)
        for (int64_t j = i; j < K; j++)
            ds[i * K + j] += fs[i * K + j];
}

enum sp_status calib_hessian_feed(struct calib *c, struct calib_slot *s, const struct sp_node_view *v,
                                  struct sp_error *err)
{
    const struct sp_tensor *x = v->inputs[0];
    const float *xd = x->data;
    const int64_t K = s->cols, G = s->groups;
    enum sp_status st;
    if ((st = grow((void **)&c->fs, &c->fs_cap, (size_t)(K * K), sizeof(float), err)) ||
        (st = grow((void **)&c->ds_acc, &c->ds_cap, (size_t)(G * K * K), sizeof(double), err)))
        return st;
    memset(c->ds_acc, 0, (size_t)(G * K * K) * sizeof(double));
    int64_t rows = 0;
    if (s->kind == SLOT_ROWS) {
        rows = x->ndim == 0 ? 0 : sp_tensor_numel(x) / K;
        for (int64_t r0 = 0; r0 < rows; r0 += ROW_CHUNK) {
            int64_t nr = rows - r0 < ROW_CHUNK ? rows - r0 : ROW_CHUNK;
            cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)K, (int)nr, 1.0f, xd + r0 * K, (int)K, 0.0f,
                        c->fs, (int)K);
            add_upper(c->ds_acc, c->fs, K);
        }
    } else if (s->kind == SLOT_COLS) {
        rows = x->dims[1];
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)K, (int)rows, 1.0f, xd, (int)rows, 0.0f, c->fs,
                    (int)K);
        add_upper(c->ds_acc, c->fs, K);
    } else {
        const struct sp_node *n = &c->eng->nodes[v->index];
        struct sp_win win;
        int64_t Gc;
        if ((st = conv_window(n, x, v->inputs[1], &win, &Gc, err)))
            return st;
        const int64_t B = x->dims[0], C = x->dims[1], cg = C / G, P = sp_win_out_size(&win);
        const int64_t in_plane = sp_win_in_size(&win);
        const bool pw = sp_win_is_pointwise(&win);
        if (cg * sp_win_kernel_size(&win) != K)
            return sp_error_set(err, SP_ERR_INTERNAL, "calibration: layer input '%s' changed channel count", s->input);
        rows = B * P;
        /* Several samples' im2col matrices side by side (K x nb*P), so that
         * ssyrk's inner dimension is long even where P is small (late layers);
         * at most COL_FLOATS floats, at least one sample. */
        int64_t nb = COL_FLOATS / (K * P);
        nb = nb < 1 ? 1 : nb > B ? B : nb;
        const int64_t ld = nb * P;
        if ((st = grow((void **)&c->col, &c->col_cap, (size_t)(K * (ld + (pw ? 0 : P))), sizeof(float), err)))
            return st;
        float *tmp = c->col + K * ld; /* one sample's im2col before it is spread */
        for (int64_t g = 0; g < G; g++) {
            for (int64_t b0 = 0; b0 < B; b0 += nb) {
                int64_t n = B - b0 < nb ? B - b0 : nb;
                for (int64_t b = 0; b < n; b++) {
                    const float *xg = xd + ((b0 + b) * C + g * cg) * in_plane;
                    const float *src = xg;
                    if (!pw) {
                        sp_im2col(&win, cg, xg, tmp);
                        src = tmp;
                    }
                    for (int64_t r = 0; r < K; r++)
                        memcpy(c->col + r * ld + b * P, src + r * P, (size_t)P * sizeof(float));
                }
                cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)K, (int)(n * P), 1.0f, c->col, (int)ld,
                            0.0f, c->fs, (int)K);
                add_upper(c->ds_acc + g * K * K, c->fs, K);
            }
        }
    }
    /* The group's partial sums become fixed point here, before any other
     * addition: see include/sparsify/exact.h. */
    for (int64_t g = 0; g < G; g++) {
        sp_exact_t *acc = s->acc + g * s->tri;
        const double *d = c->ds_acc + g * K * K;
        for (int64_t i = 0; i < K; i++) {
            sp_exact_accumulate(acc, d + i * K + i, (size_t)(K - i), s->frac_bits);
            acc += K - i;
        }
    }
    s->rows2 += rows;
    c->t.hessian_flops += (double)G * (double)K * (double)(K + 1) * (double)rows;
    return SP_OK;
}
