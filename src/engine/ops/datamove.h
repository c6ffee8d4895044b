/*
 * Byte-level copy kernels shared by the data-movement operators (shape.c,
 * tensor.c, resize.c). Transpose, Expand, Slice and DepthToSpace are all "read
 * a strided view of the input into a dense output"; one well-tuned kernel for
 * that beats four hand-written loops. Everything works on element sizes, so the
 * ops stay dtype-generic. Header-only (static) because only those three files
 * use it and the compiler should specialise the element-size switch inline.
 */
#ifndef SPARSIFY_ENGINE_OPS_DATAMOVE_H
#define SPARSIFY_ENGINE_OPS_DATAMOVE_H

#include <stdint.h>
#include <string.h>

#include "engine/op.h"
#include "sparsify/tensor.h"

/* Largest byte size any of these ops accepts for one output. */
#define SP_DM_MAX_BYTES ((size_t)1 << 40)

/* Copies one element of `esz` bytes; constant sizes compile to a single move. */
/* Product of dims[from..to). */
static inline int64_t sp_dm_prod(const int64_t *d, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++)
        p *= d[i];
    return p;
}

/* run() of ops whose output is the input with another shape (Reshape,
 * Flatten, Squeeze, Identity, ...): a plain copy. */
static inline enum sp_status sp_dm_run_copy(struct sp_node *n, void *scratch, struct sp_error *err)
{
    (void)scratch;
    (void)err;
    const struct sp_tensor *x = sp_node_in(n, 0);
    struct sp_tensor *y = sp_node_out(n, 0);
    size_t bytes = sp_tensor_nbytes(x);
    if (bytes && x->data != y->data)
        memcpy(y->data, x->data, bytes);
    return SP_OK;
}

static inline void sp_dm_copy_elem(char *d, const char *s, size_t esz)
{
    switch (esz) {
    case 1: *d = *s; break;
    case 2: memcpy(d, s, 2); break;
    case 4: memcpy(d, s, 4); break;
    case 8: memcpy(d, s, 8); break;
    default: memcpy(d, s, esz); break;
    }
}

/* Copies n elements read with element stride `ss` (in elements, may be 0 or negative). */
static inline void sp_dm_gather_row(char *d, const char *s, int64_t n, int64_t ss, size_t esz)
{
    if (ss == 1) {
        memcpy(d, s, (size_t)n * esz);
        return;
    }
    switch (esz) {
    case 1:
        for (int64_t i = 0; i < n; i++)
            d[i] = s[i * ss];
        break;
    case 2:
        for (int64_t i = 0; i < n; i++)
            memcpy(d + 2 * i, s + 2 * i * ss, 2);
        break;
    case 4:
        for (int64_t i = 0; i < n; i++)
            memcpy(d + 4 * i, s + 4 * i * ss, 4);
        break;
    case 8:
        for (int64_t i = 0; i < n; i++)
            memcpy(d + 8 * i, s + 8 * i * ss, 8);
        break;
    default:
        for (int64_t i = 0; i < n; i++)
            memcpy(d + (size_t)i * esz, s + (int64_t)esz * i * ss, esz);
        break;
    }
}

/*
 * Dense transpose of a rows x cols matrix (src row-major with leading dimension
 * cols) into dst (cols x rows). Blocked so both sides stay in cache.
 */
static inline void sp_dm_transpose2d(char *dst, const char *src, int64_t rows, int64_t cols, size_t esz)
{
    const int64_t B = 32;
    for (int64_t r0 = 0; r0 < rows; r0 += B) {
        int64_t r1 = r0 + B < rows ? r0 + B : rows;
        for (int64_t c0 = 0; c0 < cols; c0 += B) {
            int64_t c1 = c0 + B < cols ? c0 + B : cols;
            if (esz == 4) {
                for (int64_t c = c0; c < c1; c++)
                    for (int64_t r = r0; r < r1; r++)
                        memcpy(dst + 4 * (c * rows + r), src + 4 * (r * cols + c), 4);
            } else {
                for (int64_t c = c0; c < c1; c++)
                    for (int64_t r = r0; r < r1; r++)
                        sp_dm_copy_elem(dst + esz * (size_t)(c * rows + r), src + esz * (size_t)(r * cols + c), esz);
            }
        }
    }
}

/*
 * dst (dense, shape dims[0..ndim)) receives, at multi-index k, the element at
 * src + esz * sum(k[d] * sstride[d]). Strides are in elements and may be 0
 * (broadcast) or negative (reversed slices). Unit dims are dropped and
 * contiguous runs merged first, so a Transpose that only moves unit axes is a
 * memcpy, BERT's [0,2,1,3] copies whole rows and NCHW->NHWC becomes a batch of
 * blocked 2-D transposes.
 */
static inline void sp_dm_strided_copy(void *dst, const void *src, size_t esz, int ndim, const int64_t *dims,
                                      const int64_t *sstride)
{
    int64_t d[SP_MAX_DIMS], s[SP_MAX_DIMS];
    int n = 0;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] == 0)
            return;
        if (dims[i] == 1)
            continue;
        if (n > 0 && s[n - 1] == sstride[i] * dims[i]) {
            d[n - 1] *= dims[i];
            s[n - 1] = sstride[i];
            continue;
        }
        d[n] = dims[i];
        s[n] = sstride[i];
        n++;
    }
    char *out = dst;
    const char *in = src;
    if (n == 0) {
        sp_dm_copy_elem(out, in, esz);
        return;
    }
    /* Batched 2-D transpose: [.., R, C] read with strides [.., 1, R]. */
    if (n == 2 && s[0] == 1 && s[1] == d[0]) {
        sp_dm_transpose2d(out, in, d[1], d[0], esz);
        return;
    }
    if (n == 3 && s[1] == 1 && s[2] == d[1] && s[0] == d[1] * d[2]) {
        int64_t plane = d[1] * d[2];
        for (int64_t b = 0; b < d[0]; b++)
            sp_dm_transpose2d(out + (size_t)(b * plane) * esz, in + (size_t)(b * plane) * esz, d[2], d[1], esz);
        return;
    }
    int64_t rowlen = d[n - 1], rows = 1;
    for (int i = 0; i < n - 1; i++)
        rows *= d[i];
    int64_t k[SP_MAX_DIMS] = {0};
    int64_t off = 0; /* element offset into src for multi-index k */
    for (int64_t r = 0; r < rows; r++) {
        sp_dm_gather_row(out, in + off * (int64_t)esz, rowlen, s[n - 1], esz);
        out += (size_t)rowlen * esz;
        for (int i = n - 2; i >= 0; i--) {
            off += s[i];
            if (++k[i] < d[i])
                break;
            off -= s[i] * d[i];
            k[i] = 0;
        }
    }
}

/* Dense row-major strides (in elements) of a shape. */
static inline void sp_dm_strides(int ndim, const int64_t *dims, int64_t *strides)
{
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = s;
        s *= dims[i];
    }
}

/* IEEE half <-> float, round-to-nearest-even, with subnormals, inf and NaN. */
static inline float sp_dm_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    } else if (man == 0) {
        bits = sign;
    } else { /* subnormal: normalise */
        int e = -1;
        do {
            e++;
            man <<= 1;
        } while (!(man & 0x400));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ff) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t sp_dm_float_to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, absx = x & 0x7fffffffu;
    if (absx > 0x7f800000u) /* NaN: keep it quiet */
        return (uint16_t)(sign | 0x7e00 | ((absx >> 13) & 0x3ff));
    if (absx >= 0x477ff000u) /* rounds to >= 65520: inf */
        return (uint16_t)(sign | 0x7c00);
    if (absx < 0x38800000u) { /* below the smallest normal half: subnormal or 0 */
        if (absx < 0x33000000u)
            return (uint16_t)sign;
        uint32_t e = absx >> 23, man = (absx & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e; /* 14..24 */
        uint32_t q = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1)))
            q++;
        return (uint16_t)(sign | q);
    }
    uint32_t q = absx - 0x38000000u; /* rebias exponent 127 -> 15 */
    uint32_t r = q + 0xfff + ((q >> 13) & 1);
    return (uint16_t)(sign | (r >> 13));
}

static inline float sp_dm_bf16_to_float(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t sp_dm_float_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40);
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

/*
 * The engine calls an op's free only after its init succeeded, so an init that
 * allocated state and then failed would leak it. This wraps `init` as
 * `init`_guarded, which releases the state with `fr` on failure.
 */
#define SP_DM_GUARDED_INIT(init, fr)                                                  \
    static enum sp_status init##_guarded(struct sp_node *n, struct sp_error *err)     \
    {                                                                                 \
        enum sp_status st_ = init(n, err);                                            \
        if (st_)                                                                      \
            fr(n);                                                                    \
        return st_;                                                                   \
    }

/*
 * Defined in tensor.c: reads the one-element TensorProto attribute `name`
 * (ConstantOfShape's value) into `value` (at most 16 bytes) and its dtype.
 */
struct sp_node;
struct sp_error;
enum sp_status sp_ops_scalar_attr(struct sp_node *n, const char *name, enum sp_dtype *dt, void *value,
                                  struct sp_error *err);

#endif
