/* Dense tensor helpers: sizes, names, allocation with overflow checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparsify/tensor.h"

size_t sp_dtype_size(enum sp_dtype dt)
{
    switch (dt) {
    case SP_DTYPE_FLOAT: case SP_DTYPE_INT32: case SP_DTYPE_UINT32: return 4;
    case SP_DTYPE_UINT8: case SP_DTYPE_INT8: case SP_DTYPE_BOOL: return 1;
    case SP_DTYPE_UINT16: case SP_DTYPE_INT16: case SP_DTYPE_FLOAT16: case SP_DTYPE_BFLOAT16: return 2;
    case SP_DTYPE_INT64: case SP_DTYPE_DOUBLE: case SP_DTYPE_UINT64: case SP_DTYPE_COMPLEX64: return 8;
    case SP_DTYPE_COMPLEX128: return 16;
    default: return 0;
    }
}

const char *sp_dtype_name(enum sp_dtype dt)
{
    switch (dt) {
    case SP_DTYPE_FLOAT: return "float32";
    case SP_DTYPE_UINT8: return "uint8";
    case SP_DTYPE_INT8: return "int8";
    case SP_DTYPE_UINT16: return "uint16";
    case SP_DTYPE_INT16: return "int16";
    case SP_DTYPE_INT32: return "int32";
    case SP_DTYPE_INT64: return "int64";
    case SP_DTYPE_STRING: return "string";
    case SP_DTYPE_BOOL: return "bool";
    case SP_DTYPE_FLOAT16: return "float16";
    case SP_DTYPE_DOUBLE: return "float64";
    case SP_DTYPE_UINT32: return "uint32";
    case SP_DTYPE_UINT64: return "uint64";
    case SP_DTYPE_COMPLEX64: return "complex64";
    case SP_DTYPE_COMPLEX128: return "complex128";
    case SP_DTYPE_BFLOAT16: return "bfloat16";
    default: return "undefined";
    }
}

int64_t sp_tensor_numel(const struct sp_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->dims[i];
    return n;
}

size_t sp_tensor_nbytes(const struct sp_tensor *t)
{
    return (size_t)sp_tensor_numel(t) * sp_dtype_size(t->dtype);
}

bool sp_shape_checked_numel(int ndim, const int64_t *dims, size_t elem_size, size_t max_bytes, int64_t *numel_out)
{
    if (ndim < 0 || ndim > SP_MAX_DIMS)
        return false;
    uint64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0)
            return false;
        if (dims[i] == 0) {
            n = 0;
            continue;
        }
        if (n != 0 && (uint64_t)dims[i] > (UINT64_MAX / 2) / n)
            return false;
        n *= (uint64_t)dims[i];
    }
    if (n > (uint64_t)INT64_MAX / 16)
        return false;
    if (elem_size && n * elem_size > max_bytes)
        return false;
    if (numel_out)
        *numel_out = (int64_t)n;
    return true;
}

enum sp_status sp_tensor_alloc(struct sp_tensor *t, enum sp_dtype dt, int ndim, const int64_t *dims,
                               struct sp_error *err)
{
    memset(t, 0, sizeof *t);
    size_t es = sp_dtype_size(dt);
    if (es == 0)
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "tensor dtype %s (%d) is not supported", sp_dtype_name(dt), dt);
    int64_t numel;
    if (!sp_shape_checked_numel(ndim, dims, es, (size_t)1 << 40, &numel)) {
        char buf[128];
        return sp_error_set(err, SP_ERR_NOMEM, "tensor shape %s is invalid or too large",
                            sp_shape_str(ndim, dims, buf, sizeof buf));
    }
    size_t bytes = (size_t)numel * es;
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p)
        return sp_error_set(err, SP_ERR_NOMEM, "cannot allocate %zu bytes for a tensor", bytes);
    t->dtype = dt;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->dims[i] = dims[i];
    t->data = p;
    t->owns_data = true;
    return SP_OK;
}

void sp_tensor_free(struct sp_tensor *t)
{
    if (!t)
        return;
    if (t->owns_data)
        free(t->data);
    memset(t, 0, sizeof *t);
}

enum sp_status sp_tensor_copy(struct sp_tensor *dst, const struct sp_tensor *src, struct sp_error *err)
{
    enum sp_status st = sp_tensor_alloc(dst, src->dtype, src->ndim, src->dims, err);
    if (st)
        return st;
    size_t n = sp_tensor_nbytes(src);
    if (n)
        memcpy(dst->data, src->data, n);
    return SP_OK;
}

const char *sp_shape_str(int ndim, const int64_t *dims, char *buf, size_t buflen)
{
    size_t pos = 0;
    if (buflen == 0)
        return buf;
    pos += (size_t)snprintf(buf + pos, buflen - pos, "[");
    for (int i = 0; i < ndim && pos < buflen; i++)
        pos += (size_t)snprintf(buf + pos, buflen - pos, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (pos < buflen)
        snprintf(buf + pos, buflen - pos, "]");
    return buf;
}
