/*
 * Conversion between ONNX TensorProto and sp_tensor.
 *
 * ONNX stores a tensor's values either as little-endian bytes in raw_data or in
 * one of several typed repeated fields, chosen by dtype (int8 values travel as
 * int32, float16 as its bit pattern in int32, uint32 in uint64, ...). Every
 * reader of initializers and Constant tensors goes through here, so the size
 * checks that keep a hostile file from over-reading a buffer live in one place.
 */
#include <stdlib.h>
#include <string.h>

#include "onnx/model_internal.h"

/* raw_data is little-endian on disk and is copied to and from memory as is. */
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "sparsify assumes a little-endian host (ONNX raw_data is little-endian)"
#endif

/* The typed field ONNX uses for a dtype, and how many entries one element takes. */
enum typed_field { TF_NONE, TF_FLOAT, TF_INT32, TF_INT64, TF_DOUBLE, TF_UINT64, TF_STRING };

static enum typed_field typed_field_of(int32_t dt, int *per_elem)
{
    *per_elem = 1;
    switch (dt) {
    case SP_DTYPE_FLOAT: return TF_FLOAT;
    case SP_DTYPE_COMPLEX64: *per_elem = 2; return TF_FLOAT;
    case SP_DTYPE_INT32: case SP_DTYPE_INT16: case SP_DTYPE_INT8: case SP_DTYPE_UINT16: case SP_DTYPE_UINT8:
    case SP_DTYPE_BOOL: case SP_DTYPE_FLOAT16: case SP_DTYPE_BFLOAT16: return TF_INT32;
    case SP_DTYPE_INT64: return TF_INT64;
    case SP_DTYPE_DOUBLE: return TF_DOUBLE;
    case SP_DTYPE_COMPLEX128: *per_elem = 2; return TF_DOUBLE;
    case SP_DTYPE_UINT32: case SP_DTYPE_UINT64: return TF_UINT64;
    case SP_DTYPE_STRING: return TF_STRING;
    default: return TF_NONE;
    }
}

static size_t typed_count(const Onnx__TensorProto *tp, enum typed_field f)
{
    switch (f) {
    case TF_FLOAT: return tp->n_float_data;
    case TF_INT32: return tp->n_int32_data;
    case TF_INT64: return tp->n_int64_data;
    case TF_DOUBLE: return tp->n_double_data;
    case TF_UINT64: return tp->n_uint64_data;
    case TF_STRING: return tp->n_string_data;
    default: return 0;
    }
}

/* raw_data is the source when present, unless it is an empty leftover next to
 * a filled typed field. */
static bool uses_raw(const Onnx__TensorProto *tp, enum typed_field f)
{
    return tp->raw_data.len > 0 || (tp->has_raw_data && typed_count(tp, f) == 0);
}

static const char *name_or(const char *what, const Onnx__TensorProto *tp)
{
    if (what)
        return what;
    return tp->name ? tp->name : "";
}

size_t sp_tensor_proto_nbytes(const Onnx__TensorProto *tp)
{
    int64_t numel = 0;
    size_t es = sp_dtype_size((enum sp_dtype)tp->data_type);
    if (!sp_shape_checked_numel((int)tp->n_dims, tp->dims, es, SIZE_MAX / 4, &numel))
        return 0;
    return (size_t)numel * es;
}

enum sp_status sp_tensor_proto_check(const Onnx__TensorProto *tp, const char *file, const char *what,
                                     struct sp_error *err)
{
    const char *nm = name_or(what, tp);
    if (!file)
        file = "<memory>";
    int32_t dt = tp->has_data_type ? tp->data_type : 0;
    int per_elem;
    enum typed_field f = typed_field_of(dt, &per_elem);
    if (f == TF_NONE)
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "%s: tensor '%s' has unknown data type %d", file, nm, (int)dt);
    if (tp->n_dims > SP_MAX_DIMS)
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "%s: tensor '%s' has rank %zu, sparsify supports at most %d",
                            file, nm, tp->n_dims, SP_MAX_DIMS);
    int64_t numel;
    /* The element size only bounds the declared byte count here; strings have
     * none, so count them as one byte each for the overflow check. */
    size_t es = sp_dtype_size((enum sp_dtype)dt);
    if (!sp_shape_checked_numel((int)tp->n_dims, tp->dims, es ? es : 1, SIZE_MAX / 4, &numel)) {
        char buf[160];
        return sp_error_set(err, SP_ERR_FORMAT, "%s: tensor '%s' declares invalid or absurdly large dims %s", file,
                            nm, sp_shape_str((int)tp->n_dims, tp->dims, buf, sizeof buf));
    }
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return SP_OK; /* checked against the file when it is read */
    if (f != TF_STRING && uses_raw(tp, f)) {
        size_t want = (size_t)numel * es;
        if (tp->raw_data.len != want)
            return sp_error_set(err, SP_ERR_FORMAT,
                                "%s: tensor '%s' (%s, %lld elements) needs %zu bytes of raw_data but holds %zu", file,
                                nm, sp_dtype_name((enum sp_dtype)dt), (long long)numel, want, tp->raw_data.len);
        return SP_OK;
    }
    size_t have = typed_count(tp, f);
    if (have != (size_t)numel * (size_t)per_elem)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: tensor '%s' (%s, %lld elements) holds %zu typed values, expected %lld",
                            file, nm, sp_dtype_name((enum sp_dtype)dt), (long long)numel, have,
                            (long long)numel * per_elem);
    return SP_OK;
}

enum sp_status sp_tensor_from_proto(const Onnx__TensorProto *tp, struct sp_tensor *out, const char *what,
                                    struct sp_error *err)
{
    memset(out, 0, sizeof *out);
    const char *nm = name_or(what, tp);
    int32_t dt = tp->has_data_type ? tp->data_type : 0;
    if (dt == SP_DTYPE_STRING)
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "tensor '%s': string tensors are not supported", nm);
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return sp_error_set(err, SP_ERR_INTERNAL, "tensor '%s': external data was not loaded", nm);
    enum sp_status st = sp_tensor_proto_check(tp, NULL, nm, err);
    if (st)
        return st;
    st = sp_tensor_alloc(out, (enum sp_dtype)dt, (int)tp->n_dims, tp->dims, err);
    if (st)
        return st;
    int per_elem;
    enum typed_field f = typed_field_of(dt, &per_elem);
    size_t nbytes = sp_tensor_nbytes(out);
    if (uses_raw(tp, f)) {
        if (nbytes)
            memcpy(out->data, tp->raw_data.data, nbytes);
        return SP_OK;
    }
    size_t n = typed_count(tp, f);
    if (n == 0)
        return SP_OK; /* an empty tensor: the typed arrays may be NULL */
    switch (dt) {
    case SP_DTYPE_FLOAT: case SP_DTYPE_COMPLEX64:
        memcpy(out->data, tp->float_data, n * sizeof(float));
        break;
    case SP_DTYPE_DOUBLE: case SP_DTYPE_COMPLEX128:
        memcpy(out->data, tp->double_data, n * sizeof(double));
        break;
    case SP_DTYPE_INT64:
        memcpy(out->data, tp->int64_data, n * sizeof(int64_t));
        break;
    case SP_DTYPE_INT32:
        memcpy(out->data, tp->int32_data, n * sizeof(int32_t));
        break;
    case SP_DTYPE_UINT64:
        memcpy(out->data, tp->uint64_data, n * sizeof(uint64_t));
        break;
    case SP_DTYPE_UINT32:
        for (size_t i = 0; i < n; i++)
            ((uint32_t *)out->data)[i] = (uint32_t)tp->uint64_data[i];
        break;
    case SP_DTYPE_INT16: case SP_DTYPE_UINT16: case SP_DTYPE_FLOAT16: case SP_DTYPE_BFLOAT16:
        /* 16-bit values and half-float bit patterns sit in the low half. */
        for (size_t i = 0; i < n; i++)
            ((uint16_t *)out->data)[i] = (uint16_t)(uint32_t)tp->int32_data[i];
        break;
    case SP_DTYPE_INT8: case SP_DTYPE_UINT8:
        for (size_t i = 0; i < n; i++)
            ((uint8_t *)out->data)[i] = (uint8_t)(uint32_t)tp->int32_data[i];
        break;
    case SP_DTYPE_BOOL:
        for (size_t i = 0; i < n; i++)
            ((uint8_t *)out->data)[i] = tp->int32_data[i] != 0;
        break;
    default:
        sp_tensor_free(out);
        return sp_error_set(err, SP_ERR_INTERNAL, "tensor '%s': dtype %d slipped through the check", nm, (int)dt);
    }
    return SP_OK;
}

Onnx__TensorProto *sp_tensor_to_proto(const struct sp_tensor *t, const char *name, struct sp_error *err)
{
    size_t es = sp_dtype_size(t->dtype);
    if (es == 0) {
        sp_error_set(err, SP_ERR_UNSUPPORTED, "tensor '%s': dtype %s (%d) cannot be stored", name ? name : "",
                     sp_dtype_name(t->dtype), (int)t->dtype);
        return NULL;
    }
    int64_t numel;
    if (!sp_shape_checked_numel(t->ndim, t->dims, es, SIZE_MAX / 4, &numel)) {
        sp_error_set(err, SP_ERR_USAGE, "tensor '%s': invalid shape", name ? name : "");
        return NULL;
    }
    size_t nbytes = (size_t)numel * es;
    /* Every piece comes from malloc so that onnx__tensor_proto__free_unpacked
     * (directly, or through the model that adopts this tensor) releases it. */
    Onnx__TensorProto *tp = malloc(sizeof *tp);
    if (!tp)
        goto nomem;
    onnx__tensor_proto__init(tp);
    tp->has_data_type = 1;
    tp->data_type = (int32_t)t->dtype;
    if (t->ndim > 0) {
        tp->dims = malloc((size_t)t->ndim * sizeof(int64_t));
        if (!tp->dims)
            goto nomem;
        memcpy(tp->dims, t->dims, (size_t)t->ndim * sizeof(int64_t));
        tp->n_dims = (size_t)t->ndim;
    }
    if (name) {
        tp->name = strdup(name);
        if (!tp->name)
            goto nomem;
    }
    tp->has_raw_data = 1;
    if (nbytes) {
        tp->raw_data.data = malloc(nbytes);
        if (!tp->raw_data.data)
            goto nomem;
        memcpy(tp->raw_data.data, t->data, nbytes);
        tp->raw_data.len = nbytes;
    }
    return tp;
nomem:
    sp_tensor_proto_free(tp);
    sp_error_set(err, SP_ERR_NOMEM, "tensor '%s': cannot allocate %zu bytes", name ? name : "", nbytes);
    return NULL;
}

void sp_tensor_proto_free(Onnx__TensorProto *tp)
{
    if (tp)
        onnx__tensor_proto__free_unpacked(tp, NULL);
}
