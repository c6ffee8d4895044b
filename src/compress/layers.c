/*
 * Layer extraction and exclusions: which nodes carry a weight matrix that
 * pruning and INT8 quantization act on, and which of them the use case (or
 * the user) keeps dense.
 *
 * Default exclusions follow where compression hurts most for the least gain:
 * the first layer of a vision model sees raw pixels through very few weights,
 * and the layers producing the graph outputs (classifier, detection and
 * segmentation heads, the NLP task head) map features straight to the answer.
 * Embeddings of NLP models are Gathers, never layers here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compress/compress_internal.h"
#include "sparsify/log.h"

static bool default_domain(const Onnx__NodeProto *n)
{
    return !n->domain || !n->domain[0] || strcmp(n->domain, "ai.onnx") == 0;
}

/* Shape of a float constant without decoding its data; false if `name` is not one. */
static bool const_float_shape(const Onnx__GraphProto *g, const char *name, int *ndim, int64_t *dims)
{
    struct sp_graph_const c;
    if (!sp_graph_find_const(g, name, &c) || !c.tp->has_data_type || c.tp->data_type != SP_DTYPE_FLOAT ||
        c.tp->n_dims > SP_MAX_DIMS)
        return false;
    *ndim = (int)c.tp->n_dims;
    for (size_t i = 0; i < c.tp->n_dims; i++) {
        if (c.tp->dims[i] < 0)
            return false;
        dims[i] = c.tp->dims[i];
    }
    return true;
}

static bool is_activation(const Onnx__GraphProto *g, const char *name)
{
    struct sp_graph_const c;
    return name && name[0] && !sp_graph_find_const(g, name, &c);
}

/* Fills `l` when node i is a layer; false otherwise. */
static bool classify(const Onnx__GraphProto *g, int i, struct sp_layer *l)
{
    const Onnx__NodeProto *n = g->node[i];
    int nd;
    int64_t d[SP_MAX_DIMS];
    memset(l, 0, sizeof *l);
    if (!default_domain(n) || n->n_input < 2 || n->n_output < 1 || !is_activation(g, n->input[0]))
        return false;
    if (!const_float_shape(g, n->input[1], &nd, d))
        return false;
    l->info.node = i;
    l->info.name = n->name ? n->name : "";
    l->info.op_type = n->op_type;
    l->info.input = n->input[0];
    l->info.weight = n->input[1];
    l->output = n->output[0];
    if (strcmp(n->op_type, "Conv") == 0) {
        int64_t grp = sp_graph_attr_int(n, "group", 1);
        if (nd < 3 || grp < 1 || d[0] % grp || d[0] == 0)
            return false;
        int64_t k = d[1];
        for (int a = 2; a < nd; a++)
            k *= d[a];
        l->kind = SP_LAYER_CONV;
        l->info.rows = d[0];
        l->info.cols = k;
        l->info.groups = grp;
        if (n->n_input >= 3 && n->input[2] && n->input[2][0]) {
            int bd;
            int64_t bdims[SP_MAX_DIMS];
            if (!const_float_shape(g, n->input[2], &bd, bdims) || bd != 1 || bdims[0] != d[0])
                return false;
            l->bias = n->input[2];
        }
        return l->info.cols > 0;
    }
    if (strcmp(n->op_type, "Gemm") == 0) {
        if (nd != 2 || sp_graph_attr_int(n, "transA", 0) != 0 || sp_graph_attr_float(n, "alpha", 1.0f) != 1.0f)
            return false;
        bool tb = sp_graph_attr_int(n, "transB", 0) != 0;
        l->kind = SP_LAYER_GEMM;
        l->weight_kn = !tb;
        l->info.rows = tb ? d[0] : d[1];
        l->info.cols = tb ? d[1] : d[0];
        l->info.groups = 1;
        if (n->n_input >= 3 && n->input[2] && n->input[2][0]) {
            int bd;
            int64_t bdims[SP_MAX_DIMS];
            if (sp_graph_attr_float(n, "beta", 1.0f) != 1.0f)
                return false;
            if (const_float_shape(g, n->input[2], &bd, bdims) && bd == 1 && bdims[0] == l->info.rows)
                l->bias = n->input[2];
        }
        return l->info.rows > 0 && l->info.cols > 0;
    }
    if (strcmp(n->op_type, "MatMul") == 0) {
        if (nd != 2)
            return false;
        l->kind = SP_LAYER_MATMUL;
        l->weight_kn = true;
        l->info.rows = d[1];
        l->info.cols = d[0];
        l->info.groups = 1;
        return l->info.rows > 0 && l->info.cols > 0;
    }
    return false;
}

enum sp_status sp_layers_find(const Onnx__GraphProto *g, struct sp_layer **out, int *n, struct sp_error *err)
{
    *out = NULL;
    *n = 0;
    struct sp_layer *l = calloc(g->n_node ? g->n_node : 1, sizeof *l);
    if (!l)
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory listing layers");
    int k = 0;
    for (size_t i = 0; i < g->n_node; i++)
        if (classify(g, (int)i, &l[k]))
            k++;
    *out = l;
    *n = k;
    return SP_OK;
}

void sp_layers_free(struct sp_layer *l, int n)
{
    for (int i = 0; l && i < n; i++) {
        sp_tensor_free(&l[i].q);
        free(l[i].scales);
    }
    free(l);
}

enum sp_status sp_compress_find_layers(const struct sp_model *model, struct sp_compress_layer_info **out, int *n,
                                       struct sp_error *err)
{
    struct sp_layer *l;
    *out = NULL;
    *n = 0;
    enum sp_status st = sp_layers_find(model->proto->graph, &l, n, err);
    if (st)
        return st;
    *out = calloc(*n ? (size_t)*n : 1, sizeof **out);
    if (!*out) {
        sp_layers_free(l, *n);
        *n = 0;
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory listing layers");
    }
    for (int i = 0; i < *n; i++)
        (*out)[i] = l[i].info;
    sp_layers_free(l, *n);
    return SP_OK;
}

static int layer_at(const struct sp_layer *l, int n, int node)
{
    for (int i = 0; i < n; i++)
        if (l[i].info.node == node)
            return i;
    return -1;
}

/* Marks the layers from which a graph output is reachable without crossing
 * another layer: a backward walk from the outputs that stops at layers. */
static enum sp_status mark_heads(const Onnx__GraphProto *g, const struct sp_layer *l, int n, bool *head,
                                 struct sp_error *err)
{
    size_t cap = g->n_node + g->n_output + 1, top = 0;
    const char **stack = malloc(cap * sizeof *stack);
    bool *seen = calloc(g->n_node + 1, sizeof *seen);
    if (!stack || !seen) {
        free(stack);
        free(seen);
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory finding output layers");
    }
    for (size_t i = 0; i < g->n_output; i++)
        stack[top++] = g->output[i]->name;
    while (top) {
        const char *t = stack[--top];
        int p = sp_graph_producer(g, t);
        if (p < 0 || seen[p])
            continue;
        seen[p] = true;
        int li = layer_at(l, n, p);
        if (li >= 0) {
            head[li] = true;
            continue;
        }
        const Onnx__NodeProto *node = g->node[p];
        for (size_t k = 0; k < node->n_input; k++) {
            if (top == cap) {
                const char **s2 = realloc(stack, 2 * cap * sizeof *s2);
                if (!s2) {
                    free(stack);
                    free(seen);
                    return sp_error_set(err, SP_ERR_NOMEM, "out of memory finding output layers");
                }
                stack = s2;
                cap *= 2;
            }
            if (node->input[k] && node->input[k][0])
                stack[top++] = node->input[k];
        }
    }
    free(stack);
    free(seen);
    return SP_OK;
}

static void add_reason(struct sp_layer *l, const char *why)
{
    size_t len = strlen(l->reason);
    snprintf(l->reason + len, sizeof l->reason - len, "%s%s", len ? "; " : "", why);
}

static bool matches(const struct sp_layer *l, const char *name)
{
    return (l->info.name[0] && strcmp(l->info.name, name) == 0) || strcmp(l->info.weight, name) == 0 ||
           strcasecmp(l->info.op_type, name) == 0;
}

enum sp_status sp_layers_exclude(const Onnx__GraphProto *g, struct sp_layer *l, int n, enum sp_task_family family,
                                 bool defaults, int n_exclude, const char *const *exclude,
                                 const struct sp_logger *log, struct sp_error *err)
{
    if (defaults && n > 0) {
        bool *head = calloc((size_t)n, sizeof *head);
        if (!head)
            return sp_error_set(err, SP_ERR_NOMEM, "out of memory applying exclusions");
        enum sp_status st = mark_heads(g, l, n, head, err);
        if (st) {
            free(head);
            return st;
        }
        for (int i = 0; i < n; i++) {
            if (family != SP_TASK_NLP && sp_graph_is_input(g, l[i].info.input)) {
                l[i].prune_excluded = true;
                add_reason(&l[i], family == SP_TASK_CV ? "first layer of a vision model (reads the graph input)"
                                                       : "first layer (reads the graph input)");
            }
            if (head[i]) {
                l[i].prune_excluded = true;
                add_reason(&l[i], family == SP_TASK_NLP ? "task head (produces a graph output)"
                                                        : "output layer (classifier or head producing a graph output)");
            }
        }
        free(head);
    }
    for (int e = 0; e < n_exclude; e++) {
        const char *spec = exclude[e];
        if (!spec || !*spec)
            return sp_error_set(err, SP_ERR_USAGE, "--exclude: empty entry");
        bool prune = true, quant = false;
        const char *name = spec;
        if (strncmp(spec, "prune:", 6) == 0)
            name = spec + 6;
        else if (strncmp(spec, "quant:", 6) == 0)
            name = spec + 6, prune = false, quant = true;
        else if (strncmp(spec, "all:", 4) == 0)
            name = spec + 4, quant = true;
        if (!*name)
            return sp_error_set(err, SP_ERR_USAGE, "--exclude '%s': expected a name after the prefix", spec);
        int hits = 0;
        for (int i = 0; i < n; i++) {
            if (!matches(&l[i], name))
                continue;
            hits++;
            char why[96];
            snprintf(why, sizeof why, "--exclude %.80s", spec);
            add_reason(&l[i], why);
            l[i].prune_excluded |= prune;
            l[i].quant_excluded |= quant;
        }
        if (!hits)
            return sp_error_set(err, SP_ERR_USAGE,
                                "--exclude '%s': '%s' matches no layer (expected a Conv/Gemm/MatMul node name, its "
                                "weight name or an op type)",
                                spec, name);
        sp_log(log, SP_LOG_DEBUG, "--exclude %s: %d layer(s)", spec, hits);
    }
    return SP_OK;
}
