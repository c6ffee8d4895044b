/*
 * The engine's private state, shared by its three phases: load (engine.c:
 * values, topological order, op lookup and init), plan (plan.c: shape
 * inference, constant folding, memory plan) and run (engine.c). Nothing here is
 * visible to operator implementations, which only see struct sp_node/sp_value
 * from op.h.
 */
#ifndef SPARSIFY_ENGINE_INTERNAL_H
#define SPARSIFY_ENGINE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/op.h"
#include "onnx/model_internal.h"
#include "sparsify/engine.h"

/* Alignment of every arena offset and of the arena and scratch buffers: one
 * cache line, and enough for any SIMD load an op may issue. */
#define SP_ENGINE_ALIGN 64

/* Engine-private facts about one node, parallel to sp_engine.nodes. */
struct sp_exec {
    bool inited;         /* op->init succeeded: op->free must run */
    bool shape_only;     /* Shape/Size: the output depends only on input dims,
                            so it folds even when its input is not constant */
    bool folded;         /* ran at plan time; its outputs are constants */
    bool static_folded;  /* folded from initializers alone: independent of the
                            input shapes, so it is kept across re-plans */
    /* The observer's view of this node, built at load, refreshed at plan time
     * (only in_const changes). Lets run() call the observer without allocating. */
    const char **in_names;
    const struct sp_tensor **in_tensors;
    bool *in_const;
    const char **out_names;
    const struct sp_tensor **out_tensors;
};

/* Largest graph input planned by value: 64 int64 values, enough for any
 * shape, axes, pads or scales vector. */
#define SP_ENGINE_BY_VALUE_BYTES 512

/* One value to place in the arena (plan.c). */
struct sp_arena_item {
    struct sp_value *v;
    size_t size;         /* bytes rounded up to SP_ENGINE_ALIGN */
    int first, last;     /* schedule positions of producer and last reader */
    size_t offset;
};

struct sp_engine {
    const struct sp_model *model;   /* borrowed; outlives the engine */
    const struct sp_logger *log;    /* borrowed; may be NULL */

    int n_values;
    struct sp_value *values;        /* every named tensor of the graph */

    int n_nodes;
    struct sp_node *nodes;          /* in topological order; nodes[i].index == i */
    struct sp_exec *exec;           /* parallel to nodes */
    struct sp_value **io_pool;      /* backing store of every node's inputs/outputs */
    void *view_pool;                /* backing store of the sp_exec view arrays */

    int n_inputs;
    struct sp_value **inputs;       /* model inputs, sp_model_input() order */
    int n_outputs;
    struct sp_value **outputs;      /* model outputs, sp_model_output() order */

    /* Current plan, valid while `planned`; re-made when an input's dtype or shape
     * differs from plan_inputs. */
    bool planned;
    struct sp_tensor *plan_inputs;  /* dtype/dims the plan was made for (no data) */
    /* Inputs planned by value (see plan.c, "shape inputs"): their values are
     * constants of the plan, and a run with other values re-plans. */
    bool *by_value;
    unsigned char (*plan_values)[SP_ENGINE_BY_VALUE_BYTES];
    int n_sched;
    int *sched;                     /* node indices executed by run(), in order */
    struct sp_arena_item *items;    /* scratch of the memory planner, n_values long */
    void *arena;
    size_t arena_cap;               /* allocated bytes */
    size_t arena_bytes;             /* bytes the plan uses (peak) */
    void *scratch;
    size_t scratch_cap;
    int n_folded;

    sp_engine_observer_fn observer;
    void *observer_user;
};

/*
 * Makes a plan for the input dtypes/shapes of `inputs` (data is not read):
 * validates them against the model's declarations, calls every op's prepare,
 * folds constant nodes, assigns arena offsets. On failure the engine stays
 * unplanned and the next run plans again.
 */
enum sp_status sp_engine_plan(struct sp_engine *e, const struct sp_tensor *inputs, struct sp_error *err);

/* True if the plan must be re-made for these inputs (dtype, shape, or the
 * value of an input planned by value changed). */
bool sp_engine_plan_stale(const struct sp_engine *e, const struct sp_tensor *inputs);

/* Releases folded constants and plan buffers (not initializers). */
void sp_engine_plan_release(struct sp_engine *e);

/* Grows the scratch buffer to at least `bytes`. */
enum sp_status sp_engine_reserve_scratch(struct sp_engine *e, size_t bytes, struct sp_error *err);

#endif
