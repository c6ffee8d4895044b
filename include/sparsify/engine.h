/*
 * sparsify's ONNX execution engine.
 *
 * sp_engine_create() checks every node at load (unknown op, opset or attribute
 * fails there, naming the node); sp_engine_run() plans for the given input
 * shapes (shape inference, constant folding of shape subgraphs, a memory plan
 * that reuses each buffer after its last use), caching the plan until the input
 * shapes change, then executes. An observer sees each node's inputs and outputs
 * right after the node runs, without copies: calibration hangs its statistics there.
 */
#ifndef SPARSIFY_ENGINE_H
#define SPARSIFY_ENGINE_H

#include <stddef.h>

#include "sparsify/log.h"
#include "sparsify/model.h"
#include "sparsify/status.h"
#include "sparsify/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sp_engine;

struct sp_engine_options {
    int threads;                 /* BLAS threads; 0 keeps OPENBLAS_NUM_THREADS / default */
    const struct sp_logger *log; /* may be NULL; borrowed, must outlive the engine */
};

/* What an observer sees of one executed node. All pointers borrowed, valid only
 * during the callback. Entries of inputs/outputs are NULL for omitted optionals. */
struct sp_node_view {
    int index;                   /* position in the topological order; stable across
                                    runs (folded constant nodes are never reported) */
    const char *name;            /* node name (may be "") */
    const char *op_type;
    int n_inputs;
    const char *const *input_names;
    const struct sp_tensor *const *inputs;
    const bool *input_is_const;  /* initializer / folded constant */
    int n_outputs;
    const char *const *output_names;
    const struct sp_tensor *const *outputs;
};

typedef enum sp_status (*sp_engine_observer_fn)(void *user, const struct sp_node_view *node,
                                                struct sp_error *err);

/*
 * Builds an engine for `model`, which must outlive it. Checks everything that
 * does not depend on input shapes and fails with a message naming the node, op
 * type and opset: SP_ERR_UNSUPPORTED for an unknown op, domain, opset or
 * attribute, or a non-tensor graph input/output; SP_ERR_FORMAT for a cycle, a
 * name nobody produces or one produced twice. On success *out is owned by the
 * caller (sp_engine_free). `opt` may be NULL.
 */
enum sp_status sp_engine_create(const struct sp_model *model, const struct sp_engine_options *opt,
                                struct sp_engine **out, struct sp_error *err);
void sp_engine_free(struct sp_engine *e);

/*
 * Runs the model. `inputs` holds one tensor per model input, in sp_model_input()
 * order, with the batch dimension. `outputs` receives one owning tensor per
 * model output (sp_model_output order); the caller frees them with
 * sp_tensor_free. `outputs` may be NULL when only the observer matters
 * (calibration), which saves the copies. Input buffers are read, never
 * written, and need only live for the call. Errors: dtype or shape disagreeing
 * with the model, shapes an op rejects, data-dependent failures (e.g. Gather
 * index out of range).
 */
enum sp_status sp_engine_run(struct sp_engine *e, const struct sp_tensor *inputs, struct sp_tensor *outputs,
                             struct sp_error *err);

/*
 * Plans for the dtypes and shapes of `inputs` (one per model input) without
 * running: checks them against the model, infers every shape, folds constants
 * and sizes the arena. sp_engine_run does this itself when the shapes change;
 * call it to fail early or to read sp_engine_arena_bytes before the first run.
 * Data is read only for small vector inputs a plan needs by value (a shape
 * given as a graph input); with data == NULL such models fail to plan here.
 */
enum sp_status sp_engine_prepare(struct sp_engine *e, const struct sp_tensor *inputs, struct sp_error *err);

/* Installs (or with fn == NULL removes) the observer called after each
 * non-constant node runs. A non-zero status from it stops the run. */
void sp_engine_set_observer(struct sp_engine *e, sp_engine_observer_fn fn, void *user);

/* Peak bytes of the activation arena of the current plan. */
size_t sp_engine_arena_bytes(const struct sp_engine *e);

/*
 * For integer model input `i`: the number of rows of the constant table the
 * input indexes when it feeds a Gather's indices directly (the smallest such
 * table if several), so values in [0, bound) are valid; 0 when the input feeds
 * no Gather with a constant table or no plan exists yet. Needs a current plan
 * (sp_engine_prepare), which knows the shapes of Constant-node tables too.
 * Benchmarks use it to draw token ids in range.
 */
int64_t sp_engine_input_index_bound(const struct sp_engine *e, int i);

/* Names of supported operators (domain "" unless prefixed), NULL-terminated. */
const char *const *sp_engine_supported_ops(void);

#ifdef __cplusplus
}
#endif
#endif
