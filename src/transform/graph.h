/*
 * Small editing kit for the protobuf-c graph tree, shared by the graph
 * rewrites (BatchNorm folding, the QDQ rewrite) and layer extraction.
 *
 * Everything added to the tree is malloc'ed piece by piece, because
 * onnx__model_proto__free_unpacked releases the tree field by field with
 * free(). Lookups are linear scans: graphs here have at most a few thousand
 * nodes and each rewrite visits each node a handful of times.
 *
 * New nodes are not spliced into g->node one at a time (that would shift
 * indices under the caller's feet): they are queued in a struct sp_graph_edit
 * with the index of the original node they must follow, and
 * sp_graph_edit_commit() rebuilds the node list once, keeping it
 * topologically sorted as ONNX requires.
 */
#ifndef SPARSIFY_TRANSFORM_GRAPH_H
#define SPARSIFY_TRANSFORM_GRAPH_H

#include <stdbool.h>
#include <stdint.h>

#include "onnx/model_internal.h"
#include "sparsify/status.h"
#include "sparsify/tensor.h"

/* A constant tensor: an initializer, or the `value` of a Constant node, also
 * when reached through Identity nodes (node is then the Constant's index or -1). */
struct sp_graph_const {
    Onnx__TensorProto *tp; /* borrowed from the graph */
    int node;              /* index of the Constant node, or -1 for an initializer */
};

/* Finds the constant named `name`; false if it is not a constant of `g`. */
bool sp_graph_find_const(const Onnx__GraphProto *g, const char *name, struct sp_graph_const *out);

/* Reads a float32 constant into an owning tensor; SP_ERR_UNSUPPORTED if it is
 * not float32 or not a constant. `what` names it in messages. */
enum sp_status sp_graph_const_float(const Onnx__GraphProto *g, const char *name, struct sp_tensor *out,
                                    const char *what, struct sp_error *err);

/* Index of the node producing `name`, or -1 (graph input, initializer, unknown). */
int sp_graph_producer(const Onnx__GraphProto *g, const char *name);

/* Number of node inputs (counting repeats) reading `name`, including reads
 * from inside subgraphs of control-flow nodes. */
int sp_graph_use_count(const Onnx__GraphProto *g, const char *name);

bool sp_graph_is_output(const Onnx__GraphProto *g, const char *name);
/* A graph input that is not an initializer (a value the caller feeds). */
bool sp_graph_is_input(const Onnx__GraphProto *g, const char *name);

/* Attribute accessors; the getters return `def` when absent or mistyped. */
const Onnx__AttributeProto *sp_graph_attr(const Onnx__NodeProto *n, const char *name);
int64_t sp_graph_attr_int(const Onnx__NodeProto *n, const char *name, int64_t def);
float sp_graph_attr_float(const Onnx__NodeProto *n, const char *name, float def);
enum sp_status sp_graph_set_attr_int(Onnx__NodeProto *n, const char *name, int64_t v, struct sp_error *err);

/* Replaces a string owned by the tree (node input/output names). */
enum sp_status sp_graph_set_str(char **slot, const char *v, struct sp_error *err);

/* Appends an initializer; takes ownership of `tp` (also on failure). */
enum sp_status sp_graph_add_initializer(Onnx__GraphProto *g, Onnx__TensorProto *tp, struct sp_error *err);

/* Builds `t` into an initializer named `name`. */
enum sp_status sp_graph_add_tensor(Onnx__GraphProto *g, const struct sp_tensor *t, const char *name,
                                   struct sp_error *err);

/* A name of the form base + suffix (+ "_N") used by no tensor, node or
 * initializer of `g`, nor by the pending nodes of `e` (may be NULL). Caller
 * frees. NULL when out of memory. */
struct sp_graph_edit;
char *sp_graph_unique(const Onnx__GraphProto *g, const struct sp_graph_edit *e, const char *base,
                      const char *suffix);

/* Pending structural edits of one graph. */
struct sp_graph_edit {
    Onnx__GraphProto *g;   /* borrowed */
    size_t n_new, cap_new;
    Onnx__NodeProto **new_nodes; /* owned until commit */
    int *anchor;           /* each new node goes after original node anchor[i] (-1: first) */
    bool *remove;          /* per original node: drop it at commit */
    size_t n_orig;
};

enum sp_status sp_graph_edit_init(struct sp_graph_edit *e, Onnx__GraphProto *g, struct sp_error *err);
/* Frees what was not committed. */
void sp_graph_edit_free(struct sp_graph_edit *e);

/*
 * Queues a new node (default domain) after original node `anchor` (-1 =
 * before everything). `inputs` / `outputs` are copied. Returns the node, or
 * NULL with `err` set.
 */
Onnx__NodeProto *sp_graph_edit_add(struct sp_graph_edit *e, int anchor, const char *op_type, const char *name,
                                   const char *const *inputs, int n_in, const char *const *outputs, int n_out,
                                   struct sp_error *err);

/* Rebuilds g->node: original nodes not removed, each followed by the new nodes
 * anchored to it. Removed nodes are freed. */
enum sp_status sp_graph_edit_commit(struct sp_graph_edit *e, struct sp_error *err);

/* Drops initializers and Constant nodes nothing reads any more (nor a graph
 * output), so a rewrite does not leave the old float weights behind. Returns
 * the number removed through *removed (may be NULL). */
enum sp_status sp_graph_drop_unused_consts(Onnx__GraphProto *g, int *removed, struct sp_error *err);

#endif
