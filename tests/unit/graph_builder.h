/*
 * A tiny builder of ONNX models in C, for tests that need a specific graph
 * (shuffled nodes, cycles, dangling names, Constant-node weights) without a
 * fixture file or Python.
 *
 * The model it returns is built directly from the protobuf-c tree, bypassing
 * sp_model_load's checks on purpose: engine tests need malformed graphs to
 * reach the engine. Free it with gb_model_free (not sp_model_free).
 *
 *   struct gb_graph *g = gb_new(13);
 *   gb_input(g, "x", SP_DTYPE_FLOAT, 2, (int64_t[]){-1, 4});   // -1: symbolic "N"
 *   gb_init_f32(g, "w", 2, (int64_t[]){4, 3}, w);
 *   gb_node(g, "MatMul", "x,w", "y");
 *   gb_output(g, "y", SP_DTYPE_FLOAT);
 *   struct sp_model *m = gb_finish(g);
 */
#ifndef SPARSIFY_TEST_GRAPH_BUILDER_H
#define SPARSIFY_TEST_GRAPH_BUILDER_H

#include <stdint.h>

#include "onnx/model_internal.h"
#include "sparsify/tensor.h"

struct gb_graph;

/* A graph importing the default domain at `opset`. */
struct gb_graph *gb_new(int64_t opset);
/* Imports another domain (custom-op tests). */
void gb_import(struct gb_graph *g, const char *domain, int64_t version);

/* Declares a graph input; dims < 0 become symbolic dims named "N", "N1", ...
 * by position (dim d of every input gets the same name for the same d only if
 * you pass the same negative value: -1 -> "N", -2 -> "S"). */
void gb_input(struct gb_graph *g, const char *name, enum sp_dtype dt, int ndim, const int64_t *dims);
void gb_output(struct gb_graph *g, const char *name, enum sp_dtype dt);

void gb_init_f32(struct gb_graph *g, const char *name, int ndim, const int64_t *dims, const float *data);
void gb_init_i64(struct gb_graph *g, const char *name, int ndim, const int64_t *dims, const int64_t *data);

/* Appends a node. `inputs` and `outputs` are comma-separated names ("a,,b":
 * the empty name omits an optional input). The node's name is its first output
 * prefixed with "n_". Returns it so attributes can be added. */
Onnx__NodeProto *gb_node(struct gb_graph *g, const char *op_type, const char *inputs, const char *outputs);
void gb_node_domain(Onnx__NodeProto *n, const char *domain);
void gb_attr_int(Onnx__NodeProto *n, const char *name, int64_t v);
void gb_attr_float(Onnx__NodeProto *n, const char *name, float v);
void gb_attr_ints(Onnx__NodeProto *n, const char *name, int count, const int64_t *v);
/* Tensor attribute ("value" of Constant). */
void gb_attr_tensor_f32(Onnx__NodeProto *n, const char *name, int ndim, const int64_t *dims, const float *data);
void gb_attr_tensor_i64(Onnx__NodeProto *n, const char *name, int ndim, const int64_t *dims, const int64_t *data);

/* Reverses (or, with seed != 0, shuffles) the node list: topological-sort tests. */
void gb_shuffle_nodes(struct gb_graph *g, unsigned seed);

/* Finishes the graph: serializes it, parses it back, and wraps it as a model.
 * Frees the builder. Aborts the test program on internal failure. */
struct sp_model *gb_finish(struct gb_graph *g);
void gb_model_free(struct sp_model *m);

/* Serialized bytes of a finished model (malloc'ed), for sp_model_load_buffer. */
void *gb_serialize(const struct sp_model *m, size_t *len);

#endif
