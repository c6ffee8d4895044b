/*
 * Dense tensors: a dtype, a shape and a row-major (C order) buffer.
 *
 * Dtype values are ONNX's TensorProto.DataType codes, so a value read from a
 * model needs no translation.
 */
#ifndef SPARSIFY_TENSOR_H
#define SPARSIFY_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sparsify/status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum sp_dtype {
    SP_DTYPE_UNDEFINED = 0,
    SP_DTYPE_FLOAT = 1,
    SP_DTYPE_UINT8 = 2,
    SP_DTYPE_INT8 = 3,
    SP_DTYPE_UINT16 = 4,
    SP_DTYPE_INT16 = 5,
    SP_DTYPE_INT32 = 6,
    SP_DTYPE_INT64 = 7,
    SP_DTYPE_STRING = 8,
    SP_DTYPE_BOOL = 9,
    SP_DTYPE_FLOAT16 = 10,
    SP_DTYPE_DOUBLE = 11,
    SP_DTYPE_UINT32 = 12,
    SP_DTYPE_UINT64 = 13,
    SP_DTYPE_COMPLEX64 = 14,
    SP_DTYPE_COMPLEX128 = 15,
    SP_DTYPE_BFLOAT16 = 16,
};

#define SP_MAX_DIMS 8

struct sp_tensor {
    enum sp_dtype dtype;
    int ndim;                    /* 0 for a scalar */
    int64_t dims[SP_MAX_DIMS];
    void *data;                  /* numel * dtype size bytes, C order */
    bool owns_data;              /* true: sp_tensor_free() releases data */
};

/* Bytes per element; 0 for UNDEFINED, STRING and unknown codes. */
size_t sp_dtype_size(enum sp_dtype dt);
/* numpy-style name ("float32", "int64", "bool", ...); "undefined" if unknown. */
const char *sp_dtype_name(enum sp_dtype dt);

/* Product of dims (1 for a scalar). Assumes dims were validated (no overflow). */
int64_t sp_tensor_numel(const struct sp_tensor *t);
size_t sp_tensor_nbytes(const struct sp_tensor *t);

/*
 * Computes numel of `dims` checking every dim is >= 0 and the byte size of the
 * buffer stays below `max_bytes`. Returns false on overflow or a negative dim.
 */
bool sp_shape_checked_numel(int ndim, const int64_t *dims, size_t elem_size, size_t max_bytes,
                            int64_t *numel_out);

/*
 * Allocates a zeroed owned buffer for the given dtype and shape. On failure the
 * tensor is left empty and SP_ERR_NOMEM or SP_ERR_USAGE is returned.
 */
enum sp_status sp_tensor_alloc(struct sp_tensor *t, enum sp_dtype dt, int ndim, const int64_t *dims,
                               struct sp_error *err);

/* Releases the buffer if owned and resets the tensor to empty. NULL-safe. */
void sp_tensor_free(struct sp_tensor *t);

/* Deep copy into `dst` (which becomes owning). */
enum sp_status sp_tensor_copy(struct sp_tensor *dst, const struct sp_tensor *src, struct sp_error *err);

/* Formats a shape as "[1, 3, 224, 224]" into buf; returns buf. */
const char *sp_shape_str(int ndim, const int64_t *dims, char *buf, size_t buflen);

#ifdef __cplusplus
}
#endif
#endif
