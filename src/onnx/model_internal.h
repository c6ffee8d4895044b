/*
 * Library-private view of a loaded model: the protobuf-c tree generated from
 * Debian's onnx.proto plus the cached input/output descriptions.
 */
#ifndef SPARSIFY_ONNX_MODEL_INTERNAL_H
#define SPARSIFY_ONNX_MODEL_INTERNAL_H

#include "onnx.pb-c.h"
#include "sparsify/model.h"

struct sp_model {
    Onnx__ModelProto *proto;      /* owned; unpacked with protobuf-c. External data
                                     has been inlined into raw_data at load. */
    char *path;                   /* owned */
    int64_t opset;                /* default-domain opset */
    int n_inputs, n_outputs;
    struct sp_value_info *inputs; /* owned array; strings borrowed from proto */
    struct sp_value_info *outputs;
};

/*
 * Converts an initializer / Constant tensor to an owning sp_tensor, handling
 * raw_data and the typed fields (float_data, int32_data for int8/uint8/int16/
 * bool/float16, int64_data, double_data, uint64_data). Checks that the data size
 * agrees with dims; `what` names the tensor in messages.
 */
enum sp_status sp_tensor_from_proto(const Onnx__TensorProto *tp, struct sp_tensor *out, const char *what,
                                    struct sp_error *err);

/* Builds a TensorProto (raw_data form) holding a copy of `t`. Caller frees with
 * sp_tensor_proto_free. */
Onnx__TensorProto *sp_tensor_to_proto(const struct sp_tensor *t, const char *name, struct sp_error *err);
void sp_tensor_proto_free(Onnx__TensorProto *tp);

/* Recomputes inputs/outputs caches after the graph was edited. */
enum sp_status sp_model_refresh(struct sp_model *m, struct sp_error *err);

/* Wraps an existing proto (takes ownership) as a model, e.g. after rewriting. */
enum sp_status sp_model_wrap(Onnx__ModelProto *proto, const char *path, struct sp_model **out,
                             struct sp_error *err);

/* Deep copy (via serialization). */
enum sp_status sp_model_clone(const struct sp_model *m, struct sp_model **out, struct sp_error *err);

#endif
