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

/* Wraps an existing proto (takes ownership) as a model, e.g. after rewriting.
 * Only the graph's presence and input/output ranks are checked (not the load
 * checks). On failure the proto has been freed too. */
enum sp_status sp_model_wrap(Onnx__ModelProto *proto, const char *path, struct sp_model **out,
                             struct sp_error *err);

/* Deep copy (via serialization, one initializer at a time, so models whose
 * inlined size exceeds protobuf's 2 GB limit clone too). */
enum sp_status sp_model_clone(const struct sp_model *m, struct sp_model **out, struct sp_error *err);

/* ---- below: used inside src/onnx and by its tests --------------------------- */

/* protobuf's hard limit on one serialized message. */
#define SP_MODEL_PROTOBUF_LIMIT ((size_t)INT32_MAX)
/* ONNX's usual size under which a tensor is not worth moving to external data. */
#define SP_MODEL_EXTERNAL_MIN_BYTES ((size_t)1024)
/* Offsets of tensors in a data file written by sparsify are multiples of this,
 * so a reader can mmap each tensor page-aligned. */
#define SP_MODEL_EXTERNAL_ALIGN 4096

struct sp_model_save_opts {
    size_t max_inline_bytes;   /* serialized size above which initializers go to
                                  "<basename>.data"; default SP_MODEL_PROTOBUF_LIMIT */
    size_t external_min_bytes; /* initializers smaller than this stay inline */
};

/*
 * sp_model_save with explicit thresholds (sp_model_save uses the defaults), so
 * a test can force external data on a small model. When the model goes
 * external, every main-graph initializer of at least external_min_bytes is
 * written to "<basename of path>.data" beside `path` (atomically too).
 */
enum sp_status sp_model_save_ex(const struct sp_model *m, const char *path, const struct sp_model_save_opts *opts,
                                struct sp_error *err);

/*
 * Checks that a TensorProto's data agrees with its dims and dtype without
 * copying it (raw_data length, or the count of the typed field the dtype
 * uses). External tensors are checked when their data is read. `file` and
 * `what` name the model and the tensor in messages.
 */
enum sp_status sp_tensor_proto_check(const Onnx__TensorProto *tp, const char *file, const char *what,
                                     struct sp_error *err);

/* Bytes the tensor's data occupies in raw form (numel * element size), after
 * sp_tensor_proto_check succeeded. */
size_t sp_tensor_proto_nbytes(const Onnx__TensorProto *tp);

/*
 * Reads the external data of `tp` (ONNX convention: data_location = EXTERNAL,
 * external_data keys location/offset/length) into raw_data and clears the
 * external fields. `base_dir` is the model's folder; the location must stay
 * inside it (no absolute path, no "..", no symlink leading out).
 */
enum sp_status sp_external_data_inline(Onnx__TensorProto *tp, const char *base_dir, const char *file,
                                       const char *what, struct sp_error *err);

#endif
