/*
 * Graph editing helpers (see graph.h): lookups over the protobuf-c tree,
 * attribute access, and batched node insertion/removal that keeps the node
 * list topologically sorted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transform/graph.h"

static bool streq(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

bool sp_graph_find_const(const Onnx__GraphProto *g, const char *name, struct sp_graph_const *out)
{
    if (!name || !*name)
        return false;
    for (size_t i = 0; i < g->n_initializer; i++)
        if (streq(g->initializer[i]->name, name)) {
            out->tp = g->initializer[i];
            out->node = -1;
            return true;
        }
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *n = g->node[i];
        /* Exporters route shared initializers through Identity nodes. */
        if (streq(n->op_type, "Identity") && n->n_input == 1 && n->n_output == 1 && streq(n->output[0], name) &&
            !streq(n->input[0], name))
            return sp_graph_find_const(g, n->input[0], out);
        if (!streq(n->op_type, "Constant") || n->n_output != 1 || !streq(n->output[0], name))
            continue;
        const Onnx__AttributeProto *a = sp_graph_attr(n, "value");
        if (!a || !a->t)
            return false; /* value_float & co. are not weights */
        out->tp = a->t;
        out->node = (int)i;
        return true;
    }
    return false;
}

enum sp_status sp_graph_const_float(const Onnx__GraphProto *g, const char *name, struct sp_tensor *out,
                                    const char *what, struct sp_error *err)
{
    struct sp_graph_const c;
    if (!sp_graph_find_const(g, name, &c))
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "%s '%s': expected a constant (initializer or Constant node)",
                            what, name ? name : "");
    if (!c.tp->has_data_type || c.tp->data_type != SP_DTYPE_FLOAT)
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "%s '%s': expected float32, got %s", what, name,
                            sp_dtype_name((enum sp_dtype)c.tp->data_type));
    return sp_tensor_from_proto(c.tp, out, name, err);
}

int sp_graph_producer(const Onnx__GraphProto *g, const char *name)
{
    if (!name || !*name)
        return -1;
    for (size_t i = 0; i < g->n_node; i++)
        for (size_t k = 0; k < g->node[i]->n_output; k++)
            if (streq(g->node[i]->output[k], name))
                return (int)i;
    return -1;
}

static int use_count_graph(const Onnx__GraphProto *g, const char *name, int depth)
{
    int c = 0;
    if (!g || depth > 64)
        return 0;
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *n = g->node[i];
        for (size_t k = 0; k < n->n_input; k++)
            c += streq(n->input[k], name);
        for (size_t a = 0; a < n->n_attribute; a++) {
            const Onnx__AttributeProto *at = n->attribute[a];
            c += use_count_graph(at->g, name, depth + 1);
            for (size_t k = 0; k < at->n_graphs; k++)
                c += use_count_graph(at->graphs[k], name, depth + 1);
        }
    }
    return c;
}

int sp_graph_use_count(const Onnx__GraphProto *g, const char *name) { return use_count_graph(g, name, 0); }

bool sp_graph_is_output(const Onnx__GraphProto *g, const char *name)
{
    for (size_t i = 0; i < g->n_output; i++)
        if (streq(g->output[i]->name, name))
            return true;
    return false;
}

bool sp_graph_is_input(const Onnx__GraphProto *g, const char *name)
{
    struct sp_graph_const c;
    for (size_t i = 0; i < g->n_input; i++)
        if (streq(g->input[i]->name, name))
            return !sp_graph_find_const(g, name, &c);
    return false;
}

const Onnx__AttributeProto *sp_graph_attr(const Onnx__NodeProto *n, const char *name)
{
    for (size_t i = 0; i < n->n_attribute; i++)
        if (streq(n->attribute[i]->name, name))
            return n->attribute[i];
    return NULL;
}

int64_t sp_graph_attr_int(const Onnx__NodeProto *n, const char *name, int64_t def)
{
    const Onnx__AttributeProto *a = sp_graph_attr(n, name);
    return a && a->has_i ? a->i : def;
}

float sp_graph_attr_float(const Onnx__NodeProto *n, const char *name, float def)
{
    const Onnx__AttributeProto *a = sp_graph_attr(n, name);
    return a && a->has_f ? a->f : def;
}

enum sp_status sp_graph_set_attr_int(Onnx__NodeProto *n, const char *name, int64_t v, struct sp_error *err)
{
    Onnx__AttributeProto *a = (Onnx__AttributeProto *)sp_graph_attr(n, name);
    if (!a) {
        Onnx__AttributeProto **arr = realloc(n->attribute, (n->n_attribute + 1) * sizeof *arr);
        if (!arr)
            return sp_error_set(err, SP_ERR_NOMEM, "out of memory adding attribute %s", name);
        n->attribute = arr;
        a = malloc(sizeof *a);
        if (!a)
            return sp_error_set(err, SP_ERR_NOMEM, "out of memory adding attribute %s", name);
        onnx__attribute_proto__init(a);
        if (!(a->name = strdup(name))) {
            free(a);
            return sp_error_set(err, SP_ERR_NOMEM, "out of memory adding attribute %s", name);
        }
        arr[n->n_attribute++] = a;
    }
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    a->has_i = 1;
    a->i = v;
    return SP_OK;
}

enum sp_status sp_graph_set_str(char **slot, const char *v, struct sp_error *err)
{
    char *s = strdup(v);
    if (!s)
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    free(*slot);
    *slot = s;
    return SP_OK;
}

enum sp_status sp_graph_add_initializer(Onnx__GraphProto *g, Onnx__TensorProto *tp, struct sp_error *err)
{
    Onnx__TensorProto **arr = realloc(g->initializer, (g->n_initializer + 1) * sizeof *arr);
    if (!arr) {
        sp_tensor_proto_free(tp);
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory adding an initializer");
    }
    g->initializer = arr;
    arr[g->n_initializer++] = tp;
    return SP_OK;
}

enum sp_status sp_graph_add_tensor(Onnx__GraphProto *g, const struct sp_tensor *t, const char *name,
                                   struct sp_error *err)
{
    Onnx__TensorProto *tp = sp_tensor_to_proto(t, name, err);
    if (!tp)
        return err ? err->status : SP_ERR_NOMEM;
    return sp_graph_add_initializer(g, tp, err);
}

static bool name_taken(const Onnx__GraphProto *g, const struct sp_graph_edit *e, const char *s)
{
    for (size_t i = 0; i < g->n_initializer; i++)
        if (streq(g->initializer[i]->name, s))
            return true;
    for (size_t i = 0; i < g->n_input; i++)
        if (streq(g->input[i]->name, s))
            return true;
    for (size_t i = 0; i < g->n_output; i++)
        if (streq(g->output[i]->name, s))
            return true;
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *n = g->node[i];
        if (streq(n->name, s))
            return true;
        for (size_t k = 0; k < n->n_output; k++)
            if (streq(n->output[k], s))
                return true;
    }
    for (size_t i = 0; e && i < e->n_new; i++) {
        const Onnx__NodeProto *n = e->new_nodes[i];
        if (streq(n->name, s))
            return true;
        for (size_t k = 0; k < n->n_output; k++)
            if (streq(n->output[k], s))
                return true;
    }
    return false;
}

char *sp_graph_unique(const Onnx__GraphProto *g, const struct sp_graph_edit *e, const char *base, const char *suffix)
{
    size_t n = strlen(base) + strlen(suffix) + 24;
    char *s = malloc(n);
    if (!s)
        return NULL;
    snprintf(s, n, "%s%s", base, suffix);
    for (int k = 1; name_taken(g, e, s); k++)
        snprintf(s, n, "%s%s_%d", base, suffix, k);
    return s;
}

enum sp_status sp_graph_edit_init(struct sp_graph_edit *e, Onnx__GraphProto *g, struct sp_error *err)
{
    memset(e, 0, sizeof *e);
    e->g = g;
    e->n_orig = g->n_node;
    e->remove = calloc(g->n_node ? g->n_node : 1, sizeof *e->remove);
    if (!e->remove)
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory editing the graph");
    return SP_OK;
}

void sp_graph_edit_free(struct sp_graph_edit *e)
{
    for (size_t i = 0; i < e->n_new; i++)
        onnx__node_proto__free_unpacked(e->new_nodes[i], NULL);
    free(e->new_nodes);
    free(e->anchor);
    free(e->remove);
    memset(e, 0, sizeof *e);
}

static char **copy_names(const char *const *v, int n)
{
    char **out = calloc(n > 0 ? (size_t)n : 1, sizeof *out);
    if (!out)
        return NULL;
    for (int i = 0; i < n; i++)
        if (!(out[i] = strdup(v[i] ? v[i] : ""))) {
            for (int k = 0; k < i; k++)
                free(out[k]);
            free(out);
            return NULL;
        }
    return out;
}

Onnx__NodeProto *sp_graph_edit_add(struct sp_graph_edit *e, int anchor, const char *op_type, const char *name,
                                   const char *const *inputs, int n_in, const char *const *outputs, int n_out,
                                   struct sp_error *err)
{
    if (e->n_new == e->cap_new) {
        size_t cap = e->cap_new ? e->cap_new * 2 : 32;
        Onnx__NodeProto **nn = realloc(e->new_nodes, cap * sizeof *nn);
        if (!nn)
            goto nomem;
        e->new_nodes = nn;
        int *an = realloc(e->anchor, cap * sizeof *an);
        if (!an)
            goto nomem;
        e->anchor = an;
        e->cap_new = cap;
    }
    Onnx__NodeProto *n = malloc(sizeof *n);
    if (!n)
        goto nomem;
    onnx__node_proto__init(n);
    n->op_type = strdup(op_type);
    n->name = strdup(name ? name : "");
    n->input = copy_names(inputs, n_in);
    n->output = copy_names(outputs, n_out);
    n->n_input = n->input ? (size_t)n_in : 0;
    n->n_output = n->output ? (size_t)n_out : 0;
    if (!n->op_type || !n->name || !n->input || !n->output) {
        onnx__node_proto__free_unpacked(n, NULL);
        goto nomem;
    }
    e->new_nodes[e->n_new] = n;
    e->anchor[e->n_new] = anchor;
    e->n_new++;
    return n;
nomem:
    sp_error_set(err, SP_ERR_NOMEM, "out of memory adding a %s node", op_type);
    return NULL;
}

enum sp_status sp_graph_edit_commit(struct sp_graph_edit *e, struct sp_error *err)
{
    Onnx__GraphProto *g = e->g;
    if (g->n_node != e->n_orig)
        return sp_error_set(err, SP_ERR_INTERNAL, "graph changed under a pending edit");
    size_t total = e->n_orig + e->n_new;
    Onnx__NodeProto **out = malloc((total ? total : 1) * sizeof *out);
    if (!out)
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory rebuilding the node list");
    size_t k = 0;
    for (size_t j = 0; j < e->n_new; j++)
        if (e->anchor[j] < 0)
            out[k++] = e->new_nodes[j];
    for (size_t i = 0; i < e->n_orig; i++) {
        if (e->remove[i])
            onnx__node_proto__free_unpacked(g->node[i], NULL);
        else
            out[k++] = g->node[i];
        for (size_t j = 0; j < e->n_new; j++)
            if (e->anchor[j] == (int)i)
                out[k++] = e->new_nodes[j];
    }
    free(g->node);
    g->node = out;
    g->n_node = k;
    free(e->new_nodes);
    free(e->anchor);
    free(e->remove);
    memset(e, 0, sizeof *e);
    return SP_OK;
}

enum sp_status sp_graph_drop_unused_consts(Onnx__GraphProto *g, int *removed, struct sp_error *err)
{
    int dropped = 0;
    /* Constant nodes first (they read nothing, so dropping one changes no
     * other count); decide for all before freeing any. */
    bool *drop = calloc(g->n_node ? g->n_node : 1, sizeof *drop);
    if (!drop)
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory dropping unused constants");
    for (size_t i = 0; i < g->n_node; i++) {
        Onnx__NodeProto *n = g->node[i];
        drop[i] = streq(n->op_type, "Constant") && n->n_output == 1 && sp_graph_use_count(g, n->output[0]) == 0 &&
                  !sp_graph_is_output(g, n->output[0]);
    }
    size_t k = 0;
    for (size_t i = 0; i < g->n_node; i++) {
        if (drop[i]) {
            onnx__node_proto__free_unpacked(g->node[i], NULL);
            dropped++;
            continue;
        }
        g->node[k++] = g->node[i];
    }
    free(drop);
    g->n_node = k;
    k = 0;
    for (size_t i = 0; i < g->n_initializer; i++) {
        Onnx__TensorProto *t = g->initializer[i];
        if (t->name && sp_graph_use_count(g, t->name) == 0 && !sp_graph_is_output(g, t->name)) {
            /* Before IR 4 initializers were listed as inputs too: drop that entry. */
            size_t m = 0;
            for (size_t j = 0; j < g->n_input; j++) {
                if (streq(g->input[j]->name, t->name)) {
                    onnx__value_info_proto__free_unpacked(g->input[j], NULL);
                    continue;
                }
                g->input[m++] = g->input[j];
            }
            g->n_input = m;
            sp_tensor_proto_free(t);
            dropped++;
            continue;
        }
        g->initializer[k++] = t;
    }
    g->n_initializer = k;
    if (removed)
        *removed = dropped;
    return SP_OK;
}
