/*
 * The engine's plan phase: everything that depends on input shapes but not on
 * input values, done once per distinct set of input shapes.
 *
 * 1. Inputs are checked against the model's declared dtypes, ranks, fixed dims
 *    and symbolic dims (two inputs naming the same dim_param must agree).
 * 2. Nodes are visited in topological order. Each op's prepare infers its output
 *    shapes. A node whose present inputs are all constant runs right away and
 *    its outputs become constants: this is constant folding, and it is how
 *    Constant nodes and shape-computing chains (Shape -> Gather -> Concat ->
 *    Reshape) become known before the nodes that need them. Shape and Size fold
 *    even on a non-constant input since they read only its dims. Nodes folded
 *    from initializers alone do not depend on input shapes and are kept when the
 *    engine re-plans; the rest are redone.
 * 3. Memory plan: every value computed at run time gets an offset in a single
 *    arena. A value lives from its producer's position in the schedule to its
 *    last reader's (graph outputs to the end); values whose lifetimes overlap
 *    must not overlap in memory. Offsets are assigned largest value first, each
 *    into the smallest gap that fits among the already placed values it overlaps
 *    in time ("greedy by size", as in Pisarchyk & Lee 2020, "Efficient Memory
 *    Management for Deep Neural Net Inference", the offset-calculation variant), so a buffer is
 *    reused once its value is dead. One scratch buffer serves every node.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/engine_internal.h"
#include "sparsify/log.h"

static size_t align_up(size_t x)
{
    return (x + SP_ENGINE_ALIGN - 1) & ~(size_t)(SP_ENGINE_ALIGN - 1);
}

/* Largest buffer the planner accepts for one value (1 TiB): a shape beyond
 * this comes from a hostile or corrupt model, not from a real network. */
#define SP_MAX_VALUE_BYTES ((size_t)1 << 40)

enum sp_status sp_engine_reserve_scratch(struct sp_engine *e, size_t bytes, struct sp_error *err)
{
    if (bytes <= e->scratch_cap)
        return SP_OK;
    size_t cap = align_up(bytes);
    void *p = aligned_alloc(SP_ENGINE_ALIGN, cap);
    if (!p)
        return sp_error_set(err, SP_ERR_NOMEM, "cannot allocate %zu bytes of scratch memory", cap);
    free(e->scratch);
    e->scratch = p;
    e->scratch_cap = cap;
    return SP_OK;
}

void sp_engine_plan_release(struct sp_engine *e)
{
    free(e->arena);
    e->arena = NULL;
    e->arena_cap = e->arena_bytes = 0;
    free(e->scratch);
    e->scratch = NULL;
    e->scratch_cap = 0;
    e->planned = false;
}

/* Checks the caller's inputs against the model's declarations. */
static enum sp_status check_inputs(struct sp_engine *e, const struct sp_tensor *inputs, struct sp_error *err)
{
    /* Symbolic dims seen so far: a small fixed table; beyond it, consistency of
     * further dim_params is left to the ops' own shape checks. */
    struct sym_dim { const char *name; int64_t value; const char *input; } sym[64];
    int n_sym = 0;
    char want[160], got[160];
    for (int i = 0; i < e->n_inputs; i++) {
        const struct sp_value_info *vi = sp_model_input(e->model, i);
        const struct sp_tensor *t = &inputs[i];
        if (t->ndim < 0 || t->ndim > SP_MAX_DIMS)
            return sp_error_set(err, SP_ERR_USAGE, "input '%s': rank %d is outside 0..%d", vi->name, t->ndim,
                                SP_MAX_DIMS);
        if (vi->dtype != SP_DTYPE_UNDEFINED && t->dtype != vi->dtype)
            return sp_error_set(err, SP_ERR_MISMATCH, "input '%s': the model expects %s, got %s", vi->name,
                                sp_dtype_name(vi->dtype), sp_dtype_name(t->dtype));
        if (sp_dtype_size(t->dtype) == 0)
            return sp_error_set(err, SP_ERR_UNSUPPORTED, "input '%s': dtype %s is not supported", vi->name,
                                sp_dtype_name(t->dtype));
        sp_shape_str(t->ndim, t->dims, got, sizeof got);
        if (!sp_shape_checked_numel(t->ndim, t->dims, sp_dtype_size(t->dtype), SP_MAX_VALUE_BYTES, NULL))
            return sp_error_set(err, SP_ERR_USAGE, "input '%s': shape %s is invalid or too large", vi->name, got);
        if (vi->ndim < 0)
            continue;
        sp_shape_str(vi->ndim, vi->dims, want, sizeof want);
        if (t->ndim != vi->ndim)
            return sp_error_set(err, SP_ERR_MISMATCH, "input '%s': the model expects rank %d %s, got %s", vi->name,
                                vi->ndim, want, got);
        for (int d = 0; d < t->ndim; d++) {
            if (vi->dims[d] >= 0 && vi->dims[d] != t->dims[d])
                return sp_error_set(err, SP_ERR_MISMATCH,
                                    "input '%s': dim %d must be %lld (model shape %s, -1 = any), got shape %s",
                                    vi->name, d, (long long)vi->dims[d], want, got);
            const char *p = vi->dim_params[d];
            if (vi->dims[d] >= 0 || !p || !p[0])
                continue;
            int s = 0;
            while (s < n_sym && strcmp(sym[s].name, p) != 0)
                s++;
            if (s < n_sym && sym[s].value != t->dims[d])
                return sp_error_set(err, SP_ERR_MISMATCH,
                                    "input '%s': dim %d ('%s') is %lld but input '%s' has '%s' = %lld", vi->name, d,
                                    p, (long long)t->dims[d], sym[s].input, p, (long long)sym[s].value);
            if (s == n_sym && n_sym < (int)(sizeof sym / sizeof sym[0]))
                sym[n_sym++] = (struct sym_dim){p, t->dims[d], vi->name};
        }
    }
    return SP_OK;
}

/* Checks what prepare set for each output. */
static enum sp_status check_outputs(struct sp_node *n, struct sp_error *err)
{
    for (int k = 0; k < n->n_outputs; k++) {
        struct sp_value *v = n->outputs[k];
        if (!v)
            continue;
        size_t es = sp_dtype_size(v->t.dtype);
        if (es == 0)
            return sp_node_error(n, err, SP_ERR_INTERNAL, "prepare left output '%s' without a supported dtype (%s)",
                                 v->name, sp_dtype_name(v->t.dtype));
        if (v->t.ndim < 0 || v->t.ndim > SP_MAX_DIMS)
            return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "output '%s' would have rank %d (at most %d)", v->name,
                                 v->t.ndim, SP_MAX_DIMS);
        if (!sp_shape_checked_numel(v->t.ndim, v->t.dims, es, SP_MAX_VALUE_BYTES, NULL)) {
            char buf[160];
            return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "output '%s' would have the invalid or too large shape %s",
                                 v->name, sp_shape_str(v->t.ndim, v->t.dims, buf, sizeof buf));
        }
    }
    return SP_OK;
}

/* Runs a node whose outputs become constants, allocating them for good. */
static enum sp_status fold_node(struct sp_engine *e, struct sp_node *n, struct sp_error *err)
{
    enum sp_status st;
    for (int k = 0; k < n->n_outputs; k++) {
        struct sp_value *v = n->outputs[k];
        if (!v)
            continue;
        int64_t dims[SP_MAX_DIMS];
        int ndim = v->t.ndim;
        enum sp_dtype dt = v->t.dtype;
        memcpy(dims, v->t.dims, sizeof dims); /* sp_tensor_alloc clears the tensor first */
        if ((st = sp_tensor_alloc(&v->t, dt, ndim, dims, err)))
            return st;
    }
    if ((st = sp_engine_reserve_scratch(e, n->scratch_bytes, err)))
        return st;
    st = n->op->run(n, e->scratch, err);
    if (st) {
        if (err && !err->msg[0])
            sp_node_error(n, err, st, "run failed while folding constants");
        return st;
    }
    return SP_OK;
}

static int item_cmp(const void *a, const void *b)
{
    const struct sp_arena_item *x = a, *y = b;
    if (x->size != y->size)
        return x->size > y->size ? -1 : 1;
    if (x->first != y->first)
        return x->first < y->first ? -1 : 1;
    return x->v < y->v ? -1 : x->v > y->v;
}

static int offset_cmp(const void *a, const void *b)
{
    const struct sp_arena_item *x = *(const struct sp_arena_item *const *)a,
                               *y = *(const struct sp_arena_item *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Assigns arena offsets to every value produced by a scheduled node. */
static enum sp_status plan_memory(struct sp_engine *e, struct sp_error *err)
{
    enum sp_status st = SP_OK;
    int *item_of = malloc(((size_t)e->n_values + 1) * sizeof *item_of);
    struct sp_arena_item **conflicts = malloc(((size_t)e->n_values + 1) * sizeof *conflicts);
    if (!item_of || !conflicts) {
        st = sp_error_set(err, SP_ERR_NOMEM, "out of memory planning %d values", e->n_values);
        goto out;
    }
    for (int v = 0; v < e->n_values; v++)
        item_of[v] = -1;
    int n_items = 0;
    for (int k = 0; k < e->n_sched; k++) {
        struct sp_node *n = &e->nodes[e->sched[k]];
        for (int j = 0; j < n->n_inputs; j++) {
            struct sp_value *v = n->inputs[j];
            int it = v ? item_of[v - e->values] : -1;
            if (it >= 0)
                e->items[it].last = k;
        }
        for (int j = 0; j < n->n_outputs; j++) {
            struct sp_value *v = n->outputs[j];
            if (!v)
                continue;
            item_of[v - e->values] = n_items;
            e->items[n_items++] = (struct sp_arena_item){
                .v = v, .size = align_up(sp_tensor_nbytes(&v->t)), .first = k, .last = k};
        }
    }
    for (int i = 0; i < n_items; i++) {
        if (e->items[i].v->is_graph_output)
            e->items[i].last = e->n_sched;
        e->items[i].v->last_use = e->items[i].last;
    }
    qsort(e->items, (size_t)n_items, sizeof *e->items, item_cmp);

    size_t peak = 0;
    for (int i = 0; i < n_items; i++) {
        struct sp_arena_item *a = &e->items[i];
        int nc = 0;
        for (int j = 0; j < i; j++) {
            struct sp_arena_item *b = &e->items[j];
            if (b->size && b->first <= a->last && a->first <= b->last)
                conflicts[nc++] = b;
        }
        qsort(conflicts, (size_t)nc, sizeof *conflicts, offset_cmp);
        size_t end = 0, best = SIZE_MAX, best_gap = SIZE_MAX;
        for (int c = 0; c < nc; c++) {
            if (conflicts[c]->offset >= end) {
                size_t gap = conflicts[c]->offset - end;
                if (gap >= a->size && gap < best_gap) {
                    best = end;
                    best_gap = gap;
                }
            }
            size_t cend = conflicts[c]->offset + conflicts[c]->size;
            if (cend > end)
                end = cend;
        }
        a->offset = best != SIZE_MAX ? best : end;
        if (a->offset + a->size > peak)
            peak = a->offset + a->size;
    }

    if (peak > e->arena_cap) {
        void *p = aligned_alloc(SP_ENGINE_ALIGN, peak);
        if (!p) {
            st = sp_error_set(err, SP_ERR_NOMEM, "cannot allocate an activation arena of %zu bytes", peak);
            goto out;
        }
        free(e->arena);
        e->arena = p;
        e->arena_cap = peak;
    }
    e->arena_bytes = peak;
    static _Alignas(SP_ENGINE_ALIGN) char empty[SP_ENGINE_ALIGN];
    for (int i = 0; i < n_items; i++) {
        struct sp_value *v = e->items[i].v;
        v->arena_offset = e->items[i].offset;
        v->t.data = e->arena ? (char *)e->arena + v->arena_offset : (void *)empty;
        v->t.owns_data = false;
    }
out:
    free(item_of);
    free(conflicts);
    return st;
}

/* A graph input small enough to be planned by value: a scalar or a vector of
 * at most SP_ENGINE_BY_VALUE_BYTES, with data. */
static bool by_value_candidate(const struct sp_tensor *t)
{
    return t->data && t->ndim <= 1 && sp_dtype_size(t->dtype) != 0 &&
           sp_tensor_nbytes(t) <= SP_ENGINE_BY_VALUE_BYTES;
}

static enum sp_status plan_once(struct sp_engine *e, const struct sp_tensor *inputs, struct sp_error *err)
{
    enum sp_status st;
    e->planned = false;
    if ((st = check_inputs(e, inputs, err)))
        return st;

    /* Forget the previous plan, except constants folded from initializers. */
    for (int i = 0; i < e->n_nodes; i++) {
        struct sp_node *n = &e->nodes[i];
        if (e->exec[i].static_folded)
            continue;
        e->exec[i].folded = false;
        for (int k = 0; k < n->n_outputs; k++) {
            struct sp_value *v = n->outputs[k];
            if (!v)
                continue;
            sp_tensor_free(&v->t);
            v->is_const = v->is_static = false;
        }
    }
    for (int i = 0; i < e->n_inputs; i++) {
        struct sp_tensor *t = &e->inputs[i]->t;
        memset(t, 0, sizeof *t);
        t->dtype = inputs[i].dtype;
        t->ndim = inputs[i].ndim;
        memcpy(t->dims, inputs[i].dims, sizeof t->dims);
        e->plan_inputs[i] = *t;
        if (e->by_value[i] && !by_value_candidate(&inputs[i]))
            e->by_value[i] = false; /* grew too large (or no data): an ordinary input again */
        e->inputs[i]->is_const = e->by_value[i];
        if (e->by_value[i]) {
            t->data = inputs[i].data; /* borrowed for the plan; run() re-points it each time */
            memcpy(e->plan_values[i], inputs[i].data, sp_tensor_nbytes(t));
        }
    }

    e->n_sched = 0;
    e->n_folded = 0;
    size_t scratch = 0;
    for (int i = 0; i < e->n_nodes; i++) {
        struct sp_node *n = &e->nodes[i];
        struct sp_exec *x = &e->exec[i];
        if (x->static_folded) {
            e->n_folded++;
            continue;
        }
        bool all_const = true, all_static = true;
        for (int k = 0; k < n->n_inputs; k++) {
            const struct sp_value *v = n->inputs[k];
            if (v && !v->is_const)
                all_const = false;
            if (v && !v->is_static)
                all_static = false;
        }
        bool fold = all_const || x->shape_only;
        n->scratch_bytes = 0;
        st = n->op->prepare(n, err);
        if (st) {
            if (err && !err->msg[0])
                sp_node_error(n, err, st, "prepare failed");
            return st;
        }
        if ((st = check_outputs(n, err)))
            return st;
        if (fold) {
            if ((st = fold_node(e, n, err)))
                return st;
            for (int k = 0; k < n->n_outputs; k++)
                if (n->outputs[k]) {
                    n->outputs[k]->is_const = true;
                    n->outputs[k]->is_static = all_static;
                }
            x->folded = true;
            x->static_folded = all_static;
            e->n_folded++;
        } else {
            e->sched[e->n_sched++] = i;
            if (n->scratch_bytes > scratch)
                scratch = n->scratch_bytes;
        }
    }
    if ((st = plan_memory(e, err)))
        return st;
    if ((st = sp_engine_reserve_scratch(e, scratch, err)))
        return st;
    for (int i = 0; i < e->n_nodes; i++)
        for (int k = 0; k < e->nodes[i].n_inputs; k++)
            e->exec[i].in_const[k] = e->nodes[i].inputs[k] && e->nodes[i].inputs[k]->is_const;
    e->planned = true;
    sp_log(e->log, SP_LOG_DEBUG, "engine plan: %d nodes to run, %d folded, arena %zu bytes, scratch %zu bytes",
           e->n_sched, e->n_folded, e->arena_bytes, scratch);
    return SP_OK;
}

/*
 * Shape inputs. Some graphs take a shape, axes, pads or scales vector as a
 * graph input rather than a constant (ONNX's own backend tests do so for
 * Reshape, Slice, Resize...). Ops need those values at plan time. When a plan
 * fails as unsupported, the engine tries once more with every small vector
 * input (rank <= 1, at most 512 bytes) treated as a constant of the plan: its
 * value is then part of the plan's key, and a run with another value re-plans.
 * Models that plan without this (every real network seen so far) never pay
 * for it, and their nodes are never folded away from the observer.
 */
enum sp_status sp_engine_plan(struct sp_engine *e, const struct sp_tensor *inputs, struct sp_error *err)
{
    struct sp_error first;
    sp_error_clear(&first);
    enum sp_status st = plan_once(e, inputs, &first);
    if (st == SP_ERR_UNSUPPORTED) {
        bool any = false;
        for (int i = 0; i < e->n_inputs; i++)
            if (!e->by_value[i] && by_value_candidate(&inputs[i]))
                e->by_value[i] = any = true;
        if (any) {
            struct sp_error second;
            sp_error_clear(&second);
            if (plan_once(e, inputs, &second) == SP_OK) {
                for (int i = 0; i < e->n_inputs; i++)
                    if (e->by_value[i])
                        sp_log(e->log, SP_LOG_INFO, "engine: input '%s' is planned by value (a shape input)",
                               e->inputs[i]->name);
                return SP_OK;
            }
            for (int i = 0; i < e->n_inputs; i++)
                e->by_value[i] = false;
        }
    }
    if (st)
        sp_error_set(err, st, "%s", first.msg);
    return st;
}
