/*
 * Type lists shared by the elementwise-style op families (elementwise.c,
 * activation.c, reduce.c): X-macros over the C type of each ONNX dtype, so a
 * kernel written once as a macro is instantiated for every dtype it supports
 * and dispatch tables are indexed by enum sp_dtype.
 */
#ifndef SPARSIFY_ENGINE_OPS_EW_TYPES_H
#define SPARSIFY_ENGINE_OPS_EW_TYPES_H

#include <stdint.h>

#include "sparsify/tensor.h"

/* Suffix -> dtype code, for designated initializers `[DT_##S] = fn_##S`. */
#define DT_f32 SP_DTYPE_FLOAT
#define DT_f64 SP_DTYPE_DOUBLE
#define DT_i8 SP_DTYPE_INT8
#define DT_u8 SP_DTYPE_UINT8
#define DT_i16 SP_DTYPE_INT16
#define DT_u16 SP_DTYPE_UINT16
#define DT_i32 SP_DTYPE_INT32
#define DT_u32 SP_DTYPE_UINT32
#define DT_i64 SP_DTYPE_INT64
#define DT_u64 SP_DTYPE_UINT64
#define DT_b SP_DTYPE_BOOL

/* X(c type, suffix, unsigned type of the same width) */
#define SP_SINT_TYPES(X) X(int8_t, i8, uint8_t) X(int16_t, i16, uint16_t) X(int32_t, i32, uint32_t) X(int64_t, i64, uint64_t)
#define SP_UINT_TYPES(X) X(uint8_t, u8, uint8_t) X(uint16_t, u16, uint16_t) X(uint32_t, u32, uint32_t) X(uint64_t, u64, uint64_t)
#define SP_INT_TYPES(X) SP_SINT_TYPES(X) SP_UINT_TYPES(X)
/* X(c type, suffix) */
#define SP_FLT_TYPES(X) X(float, f32) X(double, f64)

/* Dispatch tables are indexed by dtype code. */
#define SP_DT_TABLE_SIZE 17

/* Element i of a buffer of dtype dt, as double (0 for unsupported codes). */
static inline double sp_load_f64(enum sp_dtype dt, const void *p, int64_t i)
{
    switch (dt) {
    case SP_DTYPE_FLOAT: return ((const float *)p)[i];
    case SP_DTYPE_DOUBLE: return ((const double *)p)[i];
    case SP_DTYPE_INT8: return ((const int8_t *)p)[i];
    case SP_DTYPE_UINT8: return ((const uint8_t *)p)[i];
    case SP_DTYPE_BOOL: return ((const uint8_t *)p)[i] != 0;
    case SP_DTYPE_INT16: return ((const int16_t *)p)[i];
    case SP_DTYPE_UINT16: return ((const uint16_t *)p)[i];
    case SP_DTYPE_INT32: return ((const int32_t *)p)[i];
    case SP_DTYPE_UINT32: return ((const uint32_t *)p)[i];
    case SP_DTYPE_INT64: return (double)((const int64_t *)p)[i];
    case SP_DTYPE_UINT64: return (double)((const uint64_t *)p)[i];
    default: return 0;
    }
}

/* Converts a double to int64 without undefined behaviour: NaN -> 0, out of
 * range saturates. */
static inline int64_t sp_f64_to_i64(double v)
{
    if (v != v)
        return 0;
    if (v >= 9223372036854775807.0)
        return INT64_MAX;
    if (v <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)v;
}

/* Element i of a buffer as int64 (uint64 wraps; floats saturate, NaN is 0). */
static inline int64_t sp_load_i64(enum sp_dtype dt, const void *p, int64_t i)
{
    switch (dt) {
    case SP_DTYPE_INT8: return ((const int8_t *)p)[i];
    case SP_DTYPE_UINT8: return ((const uint8_t *)p)[i];
    case SP_DTYPE_BOOL: return ((const uint8_t *)p)[i] != 0;
    case SP_DTYPE_INT16: return ((const int16_t *)p)[i];
    case SP_DTYPE_UINT16: return ((const uint16_t *)p)[i];
    case SP_DTYPE_INT32: return ((const int32_t *)p)[i];
    case SP_DTYPE_UINT32: return ((const uint32_t *)p)[i];
    case SP_DTYPE_INT64: return ((const int64_t *)p)[i];
    case SP_DTYPE_UINT64: return (int64_t)((const uint64_t *)p)[i];
    case SP_DTYPE_FLOAT: return sp_f64_to_i64(((const float *)p)[i]);
    case SP_DTYPE_DOUBLE: return sp_f64_to_i64(((const double *)p)[i]);
    default: return 0;
    }
}

/* Stores v (truncated toward zero for integers, wrapping to the width) as element i. */
static inline void sp_store_f64(enum sp_dtype dt, void *p, int64_t i, double v)
{
    switch (dt) {
    case SP_DTYPE_FLOAT: ((float *)p)[i] = (float)v; break;
    case SP_DTYPE_DOUBLE: ((double *)p)[i] = v; break;
    case SP_DTYPE_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    case SP_DTYPE_INT8: ((int8_t *)p)[i] = (int8_t)sp_f64_to_i64(v); break;
    case SP_DTYPE_UINT8: ((uint8_t *)p)[i] = (uint8_t)sp_f64_to_i64(v); break;
    case SP_DTYPE_INT16: ((int16_t *)p)[i] = (int16_t)sp_f64_to_i64(v); break;
    case SP_DTYPE_UINT16: ((uint16_t *)p)[i] = (uint16_t)sp_f64_to_i64(v); break;
    case SP_DTYPE_INT32: ((int32_t *)p)[i] = (int32_t)sp_f64_to_i64(v); break;
    case SP_DTYPE_UINT32: ((uint32_t *)p)[i] = (uint32_t)sp_f64_to_i64(v); break;
    case SP_DTYPE_INT64: ((int64_t *)p)[i] = sp_f64_to_i64(v); break;
    case SP_DTYPE_UINT64: ((uint64_t *)p)[i] = (uint64_t)sp_f64_to_i64(v); break;
    default: break;
    }
}

/* Stores an int64 into an integer buffer, wrapping to the width. */
static inline void sp_store_i64(enum sp_dtype dt, void *p, int64_t i, int64_t v)
{
    switch (dt) {
    case SP_DTYPE_INT8: ((int8_t *)p)[i] = (int8_t)v; break;
    case SP_DTYPE_UINT8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case SP_DTYPE_INT16: ((int16_t *)p)[i] = (int16_t)v; break;
    case SP_DTYPE_UINT16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case SP_DTYPE_INT32: ((int32_t *)p)[i] = (int32_t)v; break;
    case SP_DTYPE_UINT32: ((uint32_t *)p)[i] = (uint32_t)v; break;
    case SP_DTYPE_INT64: ((int64_t *)p)[i] = v; break;
    case SP_DTYPE_UINT64: ((uint64_t *)p)[i] = (uint64_t)v; break;
    case SP_DTYPE_FLOAT: ((float *)p)[i] = (float)v; break;
    case SP_DTYPE_DOUBLE: ((double *)p)[i] = (double)v; break;
    case SP_DTYPE_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    default: break;
    }
}

static inline int sp_dtype_is_float(enum sp_dtype dt)
{
    return dt == SP_DTYPE_FLOAT || dt == SP_DTYPE_DOUBLE;
}

static inline int sp_dtype_is_int(enum sp_dtype dt)
{
    return dt == SP_DTYPE_INT8 || dt == SP_DTYPE_UINT8 || dt == SP_DTYPE_INT16 || dt == SP_DTYPE_UINT16 ||
           dt == SP_DTYPE_INT32 || dt == SP_DTYPE_UINT32 || dt == SP_DTYPE_INT64 || dt == SP_DTYPE_UINT64;
}

#endif
