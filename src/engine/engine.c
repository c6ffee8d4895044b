/*
 * The engine's load and run phases.
 *
 * Load (sp_engine_create) turns the ONNX graph into flat arrays: one struct
 * sp_value per tensor name, nodes sorted topologically (ONNX asks for sorted
 * nodes, but exporters and hand-edited files do not always comply), every
 * input wired to its producer. Every check that can be made without input
 * shapes happens here, so a model sparsify cannot run fails before any data is
 * touched: unknown op, domain or opset, attributes an op refuses, cycles,
 * names nobody produces, names produced twice.
 *
 * Run (sp_engine_run) re-plans only when input shapes change (plan.c), then
 * walks the schedule: one indirect call per node, no allocation, no lookup.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/attr.h"
#include "engine/engine_internal.h"
#include "sparsify/log.h"

/* From OpenBLAS (cblas.h of openblas-pthread); declared here so the engine does
 * not depend on which cblas.h variant is installed. */
void openblas_set_num_threads(int);
char *openblas_get_corename(void);

/*
 * OpenBLAS picks its kernels when the library loads, before any code of ours
 * runs: from the CPU, or from OPENBLAS_CORETYPE. On an AVX-512 CPU run with
 * an AVX2 core type (Haswell, Zen) sgemm is up to 1.7x slower on the shapes of
 * BERT and ResNet (docs/benchmarks.md), so the engine says so, once.
 */
static void hint_blas_core(const struct sp_logger *log)
{
    static int hinted;
    if (hinted)
        return;
    hinted = 1;
    __builtin_cpu_init();
    const char *core = openblas_get_corename();
    const char *env = getenv("OPENBLAS_CORETYPE");
    if (core && (strcmp(core, "Haswell") == 0 || strcmp(core, "Zen") == 0) && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        sp_log(log, SP_LOG_INFO,
               "OpenBLAS runs its %s kernels on this AVX-512 CPU%s%s%s: convolutions and matrix products are "
               "faster with OPENBLAS_CORETYPE unset (or SkylakeX)",
               core, env ? " (OPENBLAS_CORETYPE=" : "", env ? env : "", env ? ")" : "");
}

/* ---- name -> value index, used at load only -------------------------------- */

struct sp_name_map {
    size_t cap;     /* power of two */
    int *slots;     /* value index + 1; 0 = empty */
    const struct sp_value *values;
};

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int name_map_find(const struct sp_name_map *m, const char *name)
{
    for (size_t i = name_hash(name) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        int s = m->slots[i];
        if (s == 0)
            return -1;
        if (strcmp(m->values[s - 1].name, name) == 0)
            return s - 1;
    }
}

static void name_map_put(struct sp_name_map *m, const char *name, int idx)
{
    size_t i = name_hash(name) & (m->cap - 1);
    while (m->slots[i])
        i = (i + 1) & (m->cap - 1);
    m->slots[i] = idx + 1;
}

/* ---- load -------------------------------------------------------------------- */

static bool domain_is_default(const char *d)
{
    return !d || !d[0] || strcmp(d, "ai.onnx") == 0;
}

/* Opset the model imports for `domain`, or -1 if it imports none. */
static int64_t model_domain_opset(const Onnx__ModelProto *mp, const char *domain)
{
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        bool same = domain_is_default(domain) ? domain_is_default(o->domain)
                                              : (o->domain && strcmp(o->domain, domain) == 0);
        if (same)
            return o->has_version ? o->version : 1;
    }
    return -1;
}

/* Creates the value for `name`, or reports who else defines it. */
static enum sp_status define_value(struct sp_engine *e, struct sp_name_map *map, const char *name, int producer,
                                   const char *what, struct sp_error *err)
{
    int idx = name_map_find(map, name);
    if (idx >= 0) {
        const struct sp_value *v = &e->values[idx];
        const char *other = v->is_initializer ? "an initializer"
                            : v->is_graph_input ? "a graph input"
                                                : "another node's output";
        return sp_error_set(err, SP_ERR_FORMAT, "%s: tensor '%s' is defined twice (also %s)", what, name, other);
    }
    struct sp_value *v = &e->values[e->n_values];
    memset(v, 0, sizeof *v);
    v->name = name;
    v->producer = producer;
    v->last_use = -1;
    name_map_put(map, name, e->n_values);
    e->n_values++;
    return SP_OK;
}

/* Binary min-heap of node indices: Kahn's algorithm picks the ready node that
 * came first in the file, so an already sorted graph keeps its order. */
static void heap_push(int *h, int *n, int x)
{
    int i = (*n)++;
    while (i > 0 && h[(i - 1) / 2] > x) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = x;
}

static int heap_pop(int *h, int *n)
{
    int top = h[0], x = h[--(*n)], i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && h[c + 1] < h[c])
            c++;
        if (h[c] >= x)
            break;
        h[i] = h[c];
        i = c;
    }
    if (*n > 0)
        h[i] = x;
    return top;
}

/*
 * Computes order[] (a topological order of the graph's nodes by file index).
 * prod_of[k] is the file index of the node producing input k of the flattened
 * input list, or -1. Fails on a cycle, naming a node on it.
 */
static enum sp_status topo_sort(const Onnx__GraphProto *g, const int *in_start, const int *prod_of, int *order,
                                struct sp_error *err)
{
    int n = (int)g->n_node;
    enum sp_status st = SP_OK;
    int *indeg = calloc((size_t)n + 1, sizeof *indeg);
    int *cons_start = calloc((size_t)n + 1, sizeof *cons_start);
    int *cons = malloc(((size_t)in_start[n] + 1) * sizeof *cons);
    int *fill = calloc((size_t)n + 1, sizeof *fill);
    int *heap = malloc(((size_t)n + 1) * sizeof *heap);
    if (!indeg || !cons_start || !cons || !fill || !heap) {
        st = sp_error_set(err, SP_ERR_NOMEM, "graph of %d nodes: out of memory while sorting", n);
        goto out;
    }
    /* Consumer lists in CSR form: one entry per (producer, input) edge. */
    for (int j = 0; j < n; j++)
        for (int k = in_start[j]; k < in_start[j + 1]; k++)
            if (prod_of[k] >= 0) {
                cons_start[prod_of[k] + 1]++;
                indeg[j]++;
            }
    for (int j = 0; j < n; j++)
        cons_start[j + 1] += cons_start[j];
    for (int j = 0; j < n; j++)
        for (int k = in_start[j]; k < in_start[j + 1]; k++)
            if (prod_of[k] >= 0) {
                int p = prod_of[k];
                cons[cons_start[p] + fill[p]++] = j;
            }
    int hn = 0, done = 0;
    for (int j = 0; j < n; j++)
        if (indeg[j] == 0)
            heap_push(heap, &hn, j);
    while (hn > 0) {
        int j = heap_pop(heap, &hn);
        order[done++] = j;
        for (int c = cons_start[j]; c < cons_start[j + 1]; c++)
            if (--indeg[cons[c]] == 0)
                heap_push(heap, &hn, cons[c]);
    }
    if (done < n) {
        int j = 0;
        while (indeg[j] == 0)
            j++;
        const Onnx__NodeProto *np = g->node[j];
        st = sp_error_set(err, SP_ERR_FORMAT, "graph has a cycle through node '%s' (%s)",
                          np->name && np->name[0] ? np->name : (np->n_output ? np->output[0] : "<unnamed>"),
                          np->op_type ? np->op_type : "?");
    }
out:
    free(indeg);
    free(cons_start);
    free(cons);
    free(fill);
    free(heap);
    return st;
}

/* Looks up the node's op and opset and runs op->init. */
static enum sp_status bind_op(struct sp_engine *e, struct sp_node *n, struct sp_error *err)
{
    const Onnx__NodeProto *np = n->proto;
    const char *domain = np->domain ? np->domain : "";
    int64_t opset = model_domain_opset(e->model->proto, domain);
    n->opset = opset < 0 ? 0 : opset;
    if (!np->op_type || !np->op_type[0])
        return sp_node_error(n, err, SP_ERR_FORMAT, "node has no op_type");
    if (opset < 0)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "the model imports no opset for domain '%s'", domain);
    n->op = sp_op_find(np->op_type, domain);
    if (!n->op) {
        if (!domain_is_default(domain))
            return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "operator %s of domain '%s' is not supported",
                                 np->op_type, domain);
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "operator %s is not supported", np->op_type);
    }
    if (opset < n->op->opset_min || opset > n->op->opset_max)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "%s is supported for opsets %d to %d only", np->op_type,
                             n->op->opset_min, n->op->opset_max);
    for (size_t i = 0; i < np->n_attribute; i++)
        if (np->attribute[i]->g || np->attribute[i]->n_graphs)
            return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "subgraph attribute '%s' is not supported",
                                 np->attribute[i]->name ? np->attribute[i]->name : "");
    e->exec[n->index].shape_only =
        domain_is_default(domain) && (strcmp(np->op_type, "Shape") == 0 || strcmp(np->op_type, "Size") == 0);
    if (n->op->init) {
        enum sp_status st = n->op->init(n, err);
        if (st) {
            if (err && !err->msg[0])
                sp_node_error(n, err, st, "init failed");
            return st;
        }
    }
    e->exec[n->index].inited = true;
    return SP_OK;
}

/* Builds the observer's per-node arrays (names and tensor pointers never move). */
static enum sp_status build_views(struct sp_engine *e, struct sp_error *err)
{
    size_t n_in = 0, n_out = 0;
    for (int i = 0; i < e->n_nodes; i++) {
        n_in += (size_t)e->nodes[i].n_inputs;
        n_out += (size_t)e->nodes[i].n_outputs;
    }
    size_t ptrs = 2 * (n_in + n_out);
    e->view_pool = calloc(1, ptrs * sizeof(void *) + n_in * sizeof(bool) + 1);
    if (!e->view_pool)
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory for %d nodes", e->n_nodes);
    void **p = e->view_pool;
    bool *b = (bool *)(p + ptrs);
    for (int i = 0; i < e->n_nodes; i++) {
        struct sp_node *n = &e->nodes[i];
        struct sp_exec *x = &e->exec[i];
        x->in_names = (const char **)p, p += n->n_inputs;
        x->in_tensors = (const struct sp_tensor **)p, p += n->n_inputs;
        x->out_names = (const char **)p, p += n->n_outputs;
        x->out_tensors = (const struct sp_tensor **)p, p += n->n_outputs;
        x->in_const = b, b += n->n_inputs;
        for (int k = 0; k < n->n_inputs; k++) {
            x->in_names[k] = n->proto->input[k];
            x->in_tensors[k] = n->inputs[k] ? &n->inputs[k]->t : NULL;
        }
        for (int k = 0; k < n->n_outputs; k++) {
            x->out_names[k] = n->proto->output[k];
            x->out_tensors[k] = n->outputs[k] ? &n->outputs[k]->t : NULL;
        }
    }
    return SP_OK;
}

enum sp_status sp_engine_create(const struct sp_model *model, const struct sp_engine_options *opt,
                                struct sp_engine **out, struct sp_error *err)
{
    *out = NULL;
    if (!model || !model->proto || !model->proto->graph)
        return sp_error_set(err, SP_ERR_USAGE, "sp_engine_create: the model has no graph");
    const Onnx__GraphProto *g = model->proto->graph;
    if (g->n_node > (1u << 24) || g->n_initializer > (1u << 24))
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "%s: graph with %zu nodes and %zu initializers is too large",
                            sp_model_path(model), g->n_node, g->n_initializer);
    /* Sequences, maps and optionals would reach ops that assume dense tensors. */
    for (size_t i = 0; i < g->n_input + g->n_output; i++) {
        const Onnx__ValueInfoProto *vi = i < g->n_input ? g->input[i] : g->output[i - g->n_input];
        if (vi->type && vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE &&
            vi->type->value_case != ONNX__TYPE_PROTO__VALUE__NOT_SET)
            return sp_error_set(err, SP_ERR_UNSUPPORTED, "%s: graph %s '%s' is not a tensor (sequence, map or "
                                "optional values are not supported)", sp_model_path(model),
                                i < g->n_input ? "input" : "output", vi->name ? vi->name : "");
    }
    if (opt && opt->threads > 0)
        openblas_set_num_threads(opt->threads);
    hint_blas_core(opt ? opt->log : NULL);

    enum sp_status st = SP_OK;
    struct sp_name_map map = {0};
    int *in_start = NULL, *prod_of = NULL, *order = NULL;
    struct sp_engine *e = calloc(1, sizeof *e);
    if (!e)
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory creating the engine");
    e->model = model;
    e->log = opt ? opt->log : NULL;
    int n_nodes = (int)g->n_node;

    /* Upper bound on the number of distinct values. */
    size_t max_values = g->n_initializer + (size_t)sp_model_num_inputs(model) + 1;
    size_t n_io = 0, n_in_total = 0;
    for (int j = 0; j < n_nodes; j++) {
        max_values += g->node[j]->n_output;
        n_io += g->node[j]->n_input + g->node[j]->n_output;
        n_in_total += g->node[j]->n_input;
    }
    map.cap = 16;
    while (map.cap < 2 * max_values)
        map.cap *= 2;
    map.slots = calloc(map.cap, sizeof *map.slots);
    e->values = calloc(max_values, sizeof *e->values);
    e->nodes = calloc((size_t)n_nodes + 1, sizeof *e->nodes);
    e->exec = calloc((size_t)n_nodes + 1, sizeof *e->exec);
    e->io_pool = calloc(n_io + 1, sizeof *e->io_pool);
    in_start = calloc((size_t)n_nodes + 1, sizeof *in_start);
    prod_of = malloc((n_in_total + 1) * sizeof *prod_of);
    order = malloc(((size_t)n_nodes + 1) * sizeof *order);
    if (!map.slots || !e->values || !e->nodes || !e->exec || !e->io_pool || !in_start || !prod_of || !order) {
        st = sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory for a graph of %d nodes", sp_model_path(model),
                          n_nodes);
        goto out;
    }
    map.values = e->values;

    /* 1. Values: initializers (constants), graph inputs, node outputs. */
    for (size_t i = 0; i < g->n_initializer; i++) {
        const Onnx__TensorProto *tp = g->initializer[i];
        if (!tp->name || !tp->name[0]) {
            st = sp_error_set(err, SP_ERR_FORMAT, "%s: initializer %zu has no name", sp_model_path(model), i);
            goto out;
        }
        if ((st = define_value(e, &map, tp->name, -1, sp_model_path(model), err)))
            goto out;
        struct sp_value *v = &e->values[e->n_values - 1];
        v->is_initializer = v->is_const = v->is_static = true;
        if ((st = sp_tensor_from_proto(tp, &v->t, tp->name, err)))
            goto out;
    }
    e->n_inputs = sp_model_num_inputs(model);
    e->n_outputs = sp_model_num_outputs(model);
    e->inputs = calloc((size_t)e->n_inputs + 1, sizeof *e->inputs);
    e->outputs = calloc((size_t)e->n_outputs + 1, sizeof *e->outputs);
    e->plan_inputs = calloc((size_t)e->n_inputs + 1, sizeof *e->plan_inputs);
    e->by_value = calloc((size_t)e->n_inputs + 1, sizeof *e->by_value);
    e->plan_values = calloc((size_t)e->n_inputs + 1, sizeof *e->plan_values);
    if (!e->inputs || !e->outputs || !e->plan_inputs || !e->by_value || !e->plan_values) {
        st = sp_error_set(err, SP_ERR_NOMEM, "out of memory creating the engine");
        goto out;
    }
    for (int i = 0; i < e->n_inputs; i++) {
        const char *name = sp_model_input(model, i)->name;
        if (!name || !name[0]) {
            st = sp_error_set(err, SP_ERR_FORMAT, "%s: graph input %d has no name", sp_model_path(model), i);
            goto out;
        }
        if ((st = define_value(e, &map, name, -1, sp_model_path(model), err)))
            goto out;
        e->inputs[i] = &e->values[e->n_values - 1];
        e->inputs[i]->is_graph_input = true;
    }
    for (int j = 0; j < n_nodes; j++) {
        const Onnx__NodeProto *np = g->node[j];
        for (size_t k = 0; k < np->n_output; k++) {
            if (!np->output[k][0])
                continue;
            char what[256];
            snprintf(what, sizeof what, "node '%s' (%s)", np->name && np->name[0] ? np->name : np->output[0],
                     np->op_type ? np->op_type : "?");
            if ((st = define_value(e, &map, np->output[k], j, what, err)))
                goto out;
            /* Two outputs of one node with the same name would also be caught here. */
        }
    }

    /* 2. Wire inputs to producers; find dangling names. */
    for (int j = 0; j < n_nodes; j++) {
        const Onnx__NodeProto *np = g->node[j];
        in_start[j + 1] = in_start[j] + (int)np->n_input;
        for (size_t k = 0; k < np->n_input; k++) {
            int idx = np->input[k][0] ? name_map_find(&map, np->input[k]) : -2;
            if (idx == -1) {
                st = sp_error_set(err, SP_ERR_FORMAT,
                                  "node '%s' (%s): input '%s' is produced by no node and is neither a graph input "
                                  "nor an initializer",
                                  np->name && np->name[0] ? np->name : (np->n_output ? np->output[0] : "<unnamed>"),
                                  np->op_type ? np->op_type : "?", np->input[k]);
                goto out;
            }
            prod_of[in_start[j] + (int)k] = idx >= 0 ? e->values[idx].producer : -1;
        }
    }

    /* 3. Topological order; renumber producers to sorted positions. */
    if ((st = topo_sort(g, in_start, prod_of, order, err)))
        goto out;
    int *pos = in_start; /* reuse: file index -> sorted position (in_start no longer needed) */
    for (int i = 0; i < n_nodes; i++)
        pos[order[i]] = i;
    for (int v = 0; v < e->n_values; v++)
        if (e->values[v].producer >= 0)
            e->values[v].producer = pos[e->values[v].producer];

    /* 4. Nodes in sorted order, with their value pointers; ops looked up and inited. */
    e->n_nodes = n_nodes;
    struct sp_value **io = e->io_pool;
    for (int i = 0; i < n_nodes; i++) {
        struct sp_node *n = &e->nodes[i];
        const Onnx__NodeProto *np = g->node[order[i]];
        n->proto = np;
        n->index = i;
        n->n_inputs = (int)np->n_input;
        n->inputs = io, io += np->n_input;
        n->n_outputs = (int)np->n_output;
        n->outputs = io, io += np->n_output;
        for (int k = 0; k < n->n_inputs; k++) {
            int idx = np->input[k][0] ? name_map_find(&map, np->input[k]) : -1;
            n->inputs[k] = idx >= 0 ? &e->values[idx] : NULL;
            if (idx >= 0 && e->values[idx].last_use < i)
                e->values[idx].last_use = i;
        }
        for (int k = 0; k < n->n_outputs; k++) {
            int idx = np->output[k][0] ? name_map_find(&map, np->output[k]) : -1;
            n->outputs[k] = idx >= 0 ? &e->values[idx] : NULL;
        }
    }
    for (int i = 0; i < n_nodes; i++)
        if ((st = bind_op(e, &e->nodes[i], err)))
            goto out;

    /* 5. Graph outputs. */
    for (int i = 0; i < e->n_outputs; i++) {
        const char *name = sp_model_output(model, i)->name;
        int idx = name && name[0] ? name_map_find(&map, name) : -1;
        if (idx < 0) {
            st = sp_error_set(err, SP_ERR_FORMAT, "%s: graph output '%s' is produced by no node", sp_model_path(model),
                              name ? name : "");
            goto out;
        }
        e->outputs[i] = &e->values[idx];
        e->outputs[i]->is_graph_output = true;
    }
    e->sched = calloc((size_t)n_nodes + 1, sizeof *e->sched);
    e->items = calloc((size_t)e->n_values + 1, sizeof *e->items);
    if (!e->sched || !e->items) {
        st = sp_error_set(err, SP_ERR_NOMEM, "out of memory creating the engine");
        goto out;
    }
    if ((st = build_views(e, err)))
        goto out;
    sp_log(e->log, SP_LOG_DEBUG, "engine: %s: %d nodes, %d values, %zu initializers", sp_model_path(model), n_nodes,
           e->n_values, g->n_initializer);
out:
    free(map.slots);
    free(in_start);
    free(prod_of);
    free(order);
    if (st) {
        sp_engine_free(e);
        return st;
    }
    *out = e;
    return SP_OK;
}

void sp_engine_free(struct sp_engine *e)
{
    if (!e)
        return;
    sp_engine_plan_release(e);
    for (int i = 0; i < e->n_nodes; i++)
        if (e->exec[i].inited && e->nodes[i].op->free)
            e->nodes[i].op->free(&e->nodes[i]);
    for (int v = 0; v < e->n_values; v++)
        sp_tensor_free(&e->values[v].t);
    free(e->values);
    free(e->nodes);
    free(e->exec);
    free(e->io_pool);
    free(e->view_pool);
    free(e->inputs);
    free(e->outputs);
    free(e->plan_inputs);
    free(e->by_value);
    free(e->plan_values);
    free(e->sched);
    free(e->items);
    free(e);
}

/* ---- run ---------------------------------------------------------------------- */

static bool same_shape(const struct sp_tensor *a, const struct sp_tensor *b)
{
    if (a->dtype != b->dtype || a->ndim != b->ndim)
        return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->dims[d] != b->dims[d])
            return false;
    return true;
}

bool sp_engine_plan_stale(const struct sp_engine *e, const struct sp_tensor *inputs)
{
    if (!e->planned)
        return true;
    for (int i = 0; i < e->n_inputs; i++) {
        if (!same_shape(&inputs[i], &e->plan_inputs[i]))
            return true;
        if (e->by_value[i] &&
            (!inputs[i].data || memcmp(inputs[i].data, e->plan_values[i], sp_tensor_nbytes(&inputs[i])) != 0))
            return true;
    }
    return false;
}

enum sp_status sp_engine_run(struct sp_engine *e, const struct sp_tensor *inputs, struct sp_tensor *outputs,
                             struct sp_error *err)
{
    enum sp_status st;
    for (int i = 0; outputs && i < e->n_outputs; i++)
        memset(&outputs[i], 0, sizeof outputs[i]);
    if ((st = sp_engine_prepare(e, inputs, err)))
        return st;
    for (int i = 0; i < e->n_inputs; i++) {
        if (!inputs[i].data && sp_tensor_numel(&inputs[i]) > 0)
            return sp_error_set(err, SP_ERR_USAGE, "input '%s' has no data", e->inputs[i]->name);
        e->inputs[i]->t.data = inputs[i].data; /* borrowed: the caller's buffer, never written */
    }

    for (int k = 0; k < e->n_sched; k++) {
        struct sp_node *n = &e->nodes[e->sched[k]];
        st = n->op->run(n, e->scratch, err);
        if (st) {
            if (err && !err->msg[0])
                sp_node_error(n, err, st, "run failed");
            return st;
        }
        if (e->observer) {
            const struct sp_exec *x = &e->exec[n->index];
            struct sp_node_view view = {
                .index = n->index,
                .name = n->proto->name ? n->proto->name : "",
                .op_type = n->proto->op_type,
                .n_inputs = n->n_inputs,
                .input_names = x->in_names,
                .inputs = x->in_tensors,
                .input_is_const = x->in_const,
                .n_outputs = n->n_outputs,
                .output_names = x->out_names,
                .outputs = x->out_tensors,
            };
            st = e->observer(e->observer_user, &view, err);
            if (st) {
                if (err && !err->msg[0])
                    sp_node_error(n, err, st, "the observer stopped the run");
                return st;
            }
        }
    }

    for (int i = 0; outputs && i < e->n_outputs; i++) {
        if ((st = sp_tensor_copy(&outputs[i], &e->outputs[i]->t, err))) {
            for (int j = 0; j < i; j++)
                sp_tensor_free(&outputs[j]);
            return st;
        }
    }
    return SP_OK;
}

enum sp_status sp_engine_prepare(struct sp_engine *e, const struct sp_tensor *inputs, struct sp_error *err)
{
    if (e->n_inputs > 0 && !inputs)
        return sp_error_set(err, SP_ERR_USAGE, "sp_engine_prepare: the model has %d inputs but none were given",
                            e->n_inputs);
    return sp_engine_plan_stale(e, inputs) ? sp_engine_plan(e, inputs, err) : SP_OK;
}

void sp_engine_set_observer(struct sp_engine *e, sp_engine_observer_fn fn, void *user)
{
    e->observer = fn;
    e->observer_user = fn ? user : NULL;
}

size_t sp_engine_arena_bytes(const struct sp_engine *e)
{
    return e->arena_bytes;
}

int64_t sp_engine_input_index_bound(const struct sp_engine *e, int i)
{
    if (!e->planned || i < 0 || i >= e->n_inputs)
        return 0;
    int64_t bound = 0;
    for (int k = 0; k < e->n_nodes; k++) {
        const struct sp_node *n = &e->nodes[k];
        if (strcmp(n->proto->op_type, "Gather") != 0 || n->n_inputs < 2 || n->inputs[1] != e->inputs[i] ||
            !n->inputs[0] || !n->inputs[0]->is_const)
            continue;
        const struct sp_tensor *table = &n->inputs[0]->t;
        int64_t axis = 0;
        struct sp_error ignored = {0};
        if (sp_attr_int(n, "axis", 0, &axis, &ignored) || axis < -table->ndim || axis >= table->ndim)
            continue;
        int64_t rows = table->dims[axis < 0 ? axis + table->ndim : axis];
        if (rows > 0 && (bound == 0 || rows < bound))
            bound = rows;
    }
    return bound;
}
