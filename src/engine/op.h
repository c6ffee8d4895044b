/*
 * The contract between the engine and one ONNX operator implementation.
 *
 * Adding an operator touches two places: a line in ops.def and the op's family
 * file under ops/. Life cycle of a node:
 *   init     at model load: parse and validate attributes, opset, input/output
 *            counts; store parsed attributes in node->state. Fails for anything
 *            unsupported, so wrong numbers are never produced later.
 *   prepare  at plan time, when input dtypes and shapes are known (and values of
 *            constant inputs: node->inputs[i]->is_const): check them, set every
 *            output's dtype and dims, and node->scratch_bytes. May be called again
 *            when input shapes change.
 *   run      computes outputs into buffers the engine allocated (outputs never
 *            alias inputs). Does not allocate; `scratch` holds scratch_bytes.
 *            Returns an error only for data-dependent failures (index out of range).
 *   free     releases node->state.
 * If every input of a node is constant, the engine runs it once at plan time
 * and its outputs become constants (this folds Shape->Gather->Concat chains).
 */
#ifndef SPARSIFY_ENGINE_OP_H
#define SPARSIFY_ENGINE_OP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "onnx.pb-c.h"
#include "sparsify/status.h"
#include "sparsify/tensor.h"

struct sp_value {
    const char *name;        /* borrowed from the model */
    struct sp_tensor t;      /* dtype/dims set by the producer's prepare; data set by the planner */
    bool is_const;           /* known at plan time: initializer, Constant, or folded */
    /* Engine-private bookkeeping follows; ops must not touch it. */
    int producer;            /* node index, -1 for graph inputs and initializers */
    int last_use;            /* last node index reading it (planner) */
    bool is_graph_input, is_graph_output, is_initializer;
    bool is_static;          /* const and independent of the input shapes */
    size_t arena_offset;
};

struct sp_op;

struct sp_node {
    const Onnx__NodeProto *proto;  /* borrowed */
    const struct sp_op *op;
    int64_t opset;                 /* opset of the node's domain in this model */
    int index;
    int n_inputs;
    struct sp_value **inputs;      /* NULL entries for omitted optional inputs */
    int n_outputs;
    struct sp_value **outputs;     /* NULL entries for omitted optional outputs */
    void *state;                   /* op-private, owned by the op (init/free) */
    size_t scratch_bytes;          /* set by prepare */
};

struct sp_op {
    const char *type;     /* ONNX op_type, e.g. "Conv" */
    const char *domain;   /* "" for the default domain */
    int opset_min;        /* first opset whose semantics this implementation follows */
    int opset_max;        /* last opset checked */
    enum sp_status (*init)(struct sp_node *n, struct sp_error *err);    /* optional */
    enum sp_status (*prepare)(struct sp_node *n, struct sp_error *err); /* required */
    enum sp_status (*run)(struct sp_node *n, void *scratch, struct sp_error *err); /* required */
    void (*free)(struct sp_node *n);                                    /* optional */
};

/* Input i, or NULL if absent/omitted. */
static inline const struct sp_tensor *sp_node_in(const struct sp_node *n, int i)
{
    return (i < n->n_inputs && n->inputs[i]) ? &n->inputs[i]->t : NULL;
}
static inline struct sp_tensor *sp_node_out(struct sp_node *n, int i)
{
    return (i < n->n_outputs && n->outputs[i]) ? &n->outputs[i]->t : NULL;
}
static inline bool sp_node_in_is_const(const struct sp_node *n, int i)
{
    return i < n->n_inputs && n->inputs[i] && n->inputs[i]->is_const;
}

/* Sets an output's dtype and shape (used by prepare). */
static inline void sp_node_set_out(struct sp_node *n, int i, enum sp_dtype dt, int ndim, const int64_t *dims)
{
    struct sp_tensor *t = sp_node_out(n, i);
    if (!t)
        return;
    t->dtype = dt;
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++)
        t->dims[d] = dims[d];
}

/* Name of the node for messages: its name, else its first output's name. */
const char *sp_node_label(const struct sp_node *n);

/* Records an error prefixed with "node 'label' (OpType, opset N): ". */
enum sp_status sp_node_error(const struct sp_node *n, struct sp_error *err, enum sp_status s, const char *fmt,
                             ...) __attribute__((format(printf, 4, 5)));

/* Looks up an op implementation by type and domain ("" and "ai.onnx" are the
 * same); NULL if unsupported. */
const struct sp_op *sp_op_find(const char *type, const char *domain);

/* The registry in ops.def order, for documentation and tests: its length, and
 * for entry i the op type and family named in ops.def and the implementation
 * (NULL while the family file does not define it). */
size_t sp_op_registry_size(void);
const char *sp_op_registry_type(size_t i);
const char *sp_op_registry_family(size_t i);
const struct sp_op *sp_op_registry_at(size_t i);

#endif
