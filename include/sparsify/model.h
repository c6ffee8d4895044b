/*
 * ONNX model files: load (with external data), inspect inputs/outputs, save
 * atomically.
 *
 * The protobuf form stays private to the library (src/onnx/model_internal.h);
 * callers see the model through the accessors below.
 */
#ifndef SPARSIFY_MODEL_H
#define SPARSIFY_MODEL_H

#include <stdint.h>

#include "sparsify/log.h"
#include "sparsify/status.h"
#include "sparsify/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* IR versions and default-domain opsets sparsify accepts. */
#define SP_MODEL_IR_VERSION_MIN 3
#define SP_MODEL_IR_VERSION_MAX 9
#define SP_MODEL_OPSET_MIN 1
#define SP_MODEL_OPSET_MAX 19

struct sp_model;

/* A graph input or output as declared in the model. */
struct sp_value_info {
    const char *name;         /* borrowed from the model */
    enum sp_dtype dtype;      /* SP_DTYPE_UNDEFINED if the model does not say */
    int ndim;                 /* -1 if the model declares no shape */
    int64_t dims[SP_MAX_DIMS];/* -1 for a symbolic (dim_param) or unknown dim */
    const char *dim_params[SP_MAX_DIMS]; /* symbolic names, or NULL; borrowed */
};

/*
 * Loads `path`. Initializers stored in external files (ONNX external-data
 * convention, paths relative to the model's folder) are read into memory, so
 * the loaded model is self-contained. Fails with a one-line message naming the
 * file for: unreadable file, not protobuf, truncated, no graph, IR version or
 * opset outside the supported range, external file missing/too short/escaping
 * the model's folder. On success *out is owned by the caller (sp_model_free).
 */
enum sp_status sp_model_load(const char *path, struct sp_model **out, struct sp_error *err);

/* Parses a model from memory; `name` is used in messages, `base_dir` resolves
 * external data (may be NULL: external data then is an error). */
enum sp_status sp_model_load_buffer(const void *buf, size_t len, const char *name, const char *base_dir,
                                    struct sp_model **out, struct sp_error *err);

/*
 * Writes the model to `path` atomically (temporary name in the same folder,
 * fsync, rename). Models whose serialized size would exceed 2 GB are written
 * with external data (`<basename>.data` beside the model) as ONNX requires.
 */
enum sp_status sp_model_save(const struct sp_model *m, const char *path, struct sp_error *err);

/* Serializes to a malloc'ed buffer (caller frees); fails above 2 GB. */
enum sp_status sp_model_serialize(const struct sp_model *m, void **buf, size_t *len, struct sp_error *err);

void sp_model_free(struct sp_model *m);

/* Path the model was loaded from ("<memory>" for buffers). Borrowed. */
const char *sp_model_path(const struct sp_model *m);
/* Opset of the default ("" / "ai.onnx") domain. */
int64_t sp_model_opset(const struct sp_model *m);
int64_t sp_model_ir_version(const struct sp_model *m);

/* Graph inputs that are not initializers (the values a caller must feed). */
int sp_model_num_inputs(const struct sp_model *m);
const struct sp_value_info *sp_model_input(const struct sp_model *m, int i);
int sp_model_num_outputs(const struct sp_model *m);
const struct sp_value_info *sp_model_output(const struct sp_model *m, int i);

/* Number of nodes in the main graph. */
int sp_model_num_nodes(const struct sp_model *m);

#ifdef __cplusplus
}
#endif
#endif
