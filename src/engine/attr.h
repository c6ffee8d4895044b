/*
 * Typed access to a node's attributes, with defaults and type checks.
 * A present attribute of the wrong type is an error (SP_ERR_FORMAT naming the node).
 */
#ifndef SPARSIFY_ENGINE_ATTR_H
#define SPARSIFY_ENGINE_ATTR_H

#include "engine/op.h"

/* NULL if the node has no attribute `name`. */
const Onnx__AttributeProto *sp_attr_find(const struct sp_node *n, const char *name);

enum sp_status sp_attr_int(const struct sp_node *n, const char *name, int64_t dflt, int64_t *out,
                           struct sp_error *err);
enum sp_status sp_attr_float(const struct sp_node *n, const char *name, float dflt, float *out,
                             struct sp_error *err);
/* *out borrowed from the model (NUL-terminated copy is not made: returns the
 * protobuf bytes as a string only if NUL-free; otherwise an error). Sets dflt if absent. */
enum sp_status sp_attr_string(const struct sp_node *n, const char *name, const char *dflt, char *buf,
                              size_t buflen, struct sp_error *err);
/* Integer list: copies at most `cap` values into out, sets *count; *present
 * false if absent (count 0). More than cap values is an error. */
enum sp_status sp_attr_ints(const struct sp_node *n, const char *name, int64_t *out, int cap, int *count,
                            bool *present, struct sp_error *err);
enum sp_status sp_attr_floats(const struct sp_node *n, const char *name, float *out, int cap, int *count,
                              bool *present, struct sp_error *err);
/* Tensor attribute (Constant's value): NULL if absent. */
const Onnx__TensorProto *sp_attr_tensor(const struct sp_node *n, const char *name);

/*
 * Fails if the node has an attribute not in the NULL-terminated `known` list:
 * an attribute sparsify ignores could change results, so it is refused at load.
 */
enum sp_status sp_attr_check_known(const struct sp_node *n, const char *const *known, struct sp_error *err);

/* Reads an integer tensor (int32 or int64, any shape) into int64 values; for
 * shape-like inputs (Reshape shape, Slice starts...). Fails if more than cap. */
enum sp_status sp_tensor_read_ints(const struct sp_node *n, const struct sp_tensor *t, const char *what,
                                   int64_t *out, int cap, int *count, struct sp_error *err);

/* Normalizes a possibly negative axis into [0, rank); error if out of range. */
enum sp_status sp_axis_normalize(const struct sp_node *n, int64_t axis, int rank, int *out, struct sp_error *err);

#endif
