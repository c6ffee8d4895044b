/*
 * The calibration folder: listing its samples and checking each one against
 * the model's inputs.
 *
 * A sample is user data that was usually made by a script far from here, so
 * every mismatch has to be reported in terms the user can act on: which file,
 * which key, what the model expects and what the file holds. Casts are done
 * only when no value can change (see sp_dtype_can_cast_lossless): a float64
 * sample fed to a float32 model is refused rather than silently rounded, so
 * the user decides.
 */
#define _POSIX_C_SOURCE 200809L /* strndup, O_DIRECTORY, fsync */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sparsify/data.h"

/* ---- listing ------------------------------------------------------------ */

void sp_dataset_free(struct sp_dataset *ds)
{
    if (!ds)
        return;
    for (size_t i = 0; i < ds->count; i++)
        free(ds->files[i]);
    free(ds->files);
    free(ds->dir);
    memset(ds, 0, sizeof *ds);
}

static int cmp_basename(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    const char *sx = strrchr(x, '/'), *sy = strrchr(y, '/');
    return strcmp(sx ? sx + 1 : x, sy ? sy + 1 : y);
}

static bool ends_with_npz(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, ".npz") == 0;
}

enum sp_status sp_dataset_open(const char *dir, const struct sp_logger *log, struct sp_dataset *out,
                               struct sp_error *err)
{
    memset(out, 0, sizeof *out);
    if (!dir || !dir[0])
        return sp_error_set(err, SP_ERR_USAGE, "no data folder given");
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return sp_error_set(err, SP_ERR_IO, "%s: no such folder", dir);
        return sp_error_set(err, SP_ERR_IO, "%s: cannot access: %s", dir, strerror(errno));
    }
    if (!S_ISDIR(sb.st_mode))
        return sp_error_set(err, SP_ERR_IO, "%s: not a folder (the data must be a folder of .npz files)", dir);
    DIR *d = opendir(dir);
    if (!d)
        return sp_error_set(err, SP_ERR_IO, "%s: cannot read the folder: %s", dir, strerror(errno));

    enum sp_status st = SP_OK;
    /* Paths are built as DIR/NAME without doubling a trailing slash. */
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    out->dir = strndup(dir, dl);
    out->max_bytes = SP_NPZ_DEFAULT_MAX_BYTES;
    size_t cap = 0;
    if (!out->dir) {
        st = sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", dir);
        goto out;
    }
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno)
                st = sp_error_set(err, SP_ERR_IO, "%s: cannot read the folder: %s", dir, strerror(errno));
            break;
        }
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        size_t need = dl + 1 + strlen(e->d_name) + 1;
        char *path = malloc(need);
        if (!path) {
            st = sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", dir);
            break;
        }
        snprintf(path, need, "%.*s%s%s", (int)dl, out->dir, strcmp(out->dir, "/") == 0 ? "" : "/", e->d_name);
        /* stat, not lstat: a symlink to a sample is a sample. */
        struct stat eb;
        bool is_reg = stat(path, &eb) == 0 && S_ISREG(eb.st_mode);
        if (!ends_with_npz(e->d_name) || !is_reg) {
            sp_log(log, SP_LOG_WARN, "%s: skipped (%s)", path,
                   is_reg ? "not a .npz file"
                   : (stat(path, &eb) == 0 && S_ISDIR(eb.st_mode)) ? "a folder; samples must be .npz files directly in the data folder"
                                                                   : "not a regular file");
            free(path);
            continue;
        }
        if (out->count == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            char **nf = realloc(out->files, ncap * sizeof *nf);
            if (!nf) {
                free(path);
                st = sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", dir);
                break;
            }
            out->files = nf;
            cap = ncap;
        }
        out->files[out->count++] = path;
    }
out:
    closedir(d);
    if (!st && out->count == 0)
        st = sp_error_set(err, SP_ERR_IO, "%s: no .npz files (expected one sample per .npz file)", dir);
    if (st) {
        sp_dataset_free(out);
        return st;
    }
    /* The global sample index is the position in this order, which every rank
     * must agree on: byte-wise strcmp, independent of locale. */
    qsort(out->files, out->count, sizeof *out->files, cmp_basename);
    return SP_OK;
}

/* ---- casting ------------------------------------------------------------ */

/* Integer range as (signed?, value bits): int8 = 7 bits + sign, uint8 = 8 bits. */
static bool int_info(enum sp_dtype dt, bool *is_signed, int *bits)
{
    switch (dt) {
    case SP_DTYPE_INT8: *is_signed = true; *bits = 7; return true;
    case SP_DTYPE_INT16: *is_signed = true; *bits = 15; return true;
    case SP_DTYPE_INT32: *is_signed = true; *bits = 31; return true;
    case SP_DTYPE_INT64: *is_signed = true; *bits = 63; return true;
    case SP_DTYPE_UINT8: *is_signed = false; *bits = 8; return true;
    case SP_DTYPE_UINT16: *is_signed = false; *bits = 16; return true;
    case SP_DTYPE_UINT32: *is_signed = false; *bits = 32; return true;
    case SP_DTYPE_UINT64: *is_signed = false; *bits = 64; return true;
    default: return false;
    }
}

/* Significand bits (with the implicit one) of a float dtype, 0 otherwise. */
static int float_mantissa(enum sp_dtype dt)
{
    switch (dt) {
    case SP_DTYPE_FLOAT16: return 11;
    case SP_DTYPE_FLOAT: return 24;
    case SP_DTYPE_DOUBLE: return 53;
    default: return 0;
    }
}

static bool is_numeric(enum sp_dtype dt)
{
    bool s;
    int b;
    return dt == SP_DTYPE_BOOL || int_info(dt, &s, &b) || float_mantissa(dt);
}

bool sp_dtype_can_cast_lossless(enum sp_dtype from, enum sp_dtype to)
{
    if (from == to)
        return true;
    if (!is_numeric(from) || !is_numeric(to) || to == SP_DTYPE_BOOL)
        return false;
    if (from == SP_DTYPE_BOOL)
        return true;
    bool fs, ts;
    int fb, tb;
    bool fi = int_info(from, &fs, &fb), ti = int_info(to, &ts, &tb);
    if (fi && ti) /* the whole range fits: no sign loss, enough value bits */
        return (!fs || ts) && fb <= tb;
    if (fi) /* integer -> float: exact while the value bits fit the significand */
        return fb <= float_mantissa(to);
    if (ti) /* float -> integer: never */
        return false;
    return float_mantissa(from) < float_mantissa(to);
}

static double half_to_double(uint16_t h)
{
    int e = (h >> 10) & 0x1f;
    int m = h & 0x3ff;
    double v;
    if (e == 0)
        v = m * (1.0 / 16777216.0); /* subnormal: m * 2^-24 */
    else if (e == 31)
        v = m ? (double)NAN : (double)INFINITY;
    else
        v = (1.0 + m / 1024.0) * (double)((int64_t)1 << e) / 32768.0; /* 2^(e-15) */
    return (h & 0x8000) ? -v : v;
}

/* Only reached for integers with |v| < 2^11 (int8/uint8/bool -> float16), all of
 * which float16 holds exactly, so no rounding is needed. */
static uint16_t small_int_to_half(int64_t v)
{
    if (v == 0)
        return 0;
    uint16_t sign = v < 0 ? 0x8000 : 0;
    uint64_t a = (uint64_t)(v < 0 ? -v : v);
    int e = 63 - __builtin_clzll(a);
    uint16_t mant = (uint16_t)((a << (10 - e)) & 0x3ff);
    return sign | (uint16_t)((e + 15) << 10) | mant;
}

static int64_t load_int(const void *p, enum sp_dtype dt, size_t i)
{
    switch (dt) {
    case SP_DTYPE_BOOL: case SP_DTYPE_UINT8: return ((const uint8_t *)p)[i];
    case SP_DTYPE_INT8: return ((const int8_t *)p)[i];
    case SP_DTYPE_INT16: return ((const int16_t *)p)[i];
    case SP_DTYPE_UINT16: return ((const uint16_t *)p)[i];
    case SP_DTYPE_INT32: return ((const int32_t *)p)[i];
    case SP_DTYPE_UINT32: return ((const uint32_t *)p)[i];
    case SP_DTYPE_INT64: return ((const int64_t *)p)[i];
    case SP_DTYPE_UINT64: return (int64_t)((const uint64_t *)p)[i];
    default: return 0;
    }
}

static double load_float(const void *p, enum sp_dtype dt, size_t i)
{
    switch (dt) {
    case SP_DTYPE_FLOAT16: return half_to_double(((const uint16_t *)p)[i]);
    case SP_DTYPE_FLOAT: return ((const float *)p)[i];
    case SP_DTYPE_DOUBLE: return ((const double *)p)[i];
    default: return (double)load_int(p, dt, i);
    }
}

enum sp_status sp_tensor_cast_lossless(const struct sp_tensor *src, enum sp_dtype to, struct sp_tensor *dst,
                                       struct sp_error *err)
{
    memset(dst, 0, sizeof *dst);
    if (!sp_dtype_can_cast_lossless(src->dtype, to))
        return sp_error_set(err, SP_ERR_MISMATCH, "cannot cast %s to %s without loss", sp_dtype_name(src->dtype),
                            sp_dtype_name(to));
    if (src->dtype == to)
        return sp_tensor_copy(dst, src, err);
    enum sp_status st = sp_tensor_alloc(dst, to, src->ndim, src->dims, err);
    if (st)
        return st;
    size_t n = (size_t)sp_tensor_numel(src);
    const void *s = src->data;
    void *d = dst->data;
    for (size_t i = 0; i < n; i++) {
        switch (to) {
        case SP_DTYPE_INT8: ((int8_t *)d)[i] = (int8_t)load_int(s, src->dtype, i); break;
        case SP_DTYPE_UINT8: ((uint8_t *)d)[i] = (uint8_t)load_int(s, src->dtype, i); break;
        case SP_DTYPE_INT16: ((int16_t *)d)[i] = (int16_t)load_int(s, src->dtype, i); break;
        case SP_DTYPE_UINT16: ((uint16_t *)d)[i] = (uint16_t)load_int(s, src->dtype, i); break;
        case SP_DTYPE_INT32: ((int32_t *)d)[i] = (int32_t)load_int(s, src->dtype, i); break;
        case SP_DTYPE_UINT32: ((uint32_t *)d)[i] = (uint32_t)load_int(s, src->dtype, i); break;
        case SP_DTYPE_INT64: ((int64_t *)d)[i] = load_int(s, src->dtype, i); break;
        case SP_DTYPE_UINT64: ((uint64_t *)d)[i] = (uint64_t)load_int(s, src->dtype, i); break;
        case SP_DTYPE_FLOAT16: ((uint16_t *)d)[i] = small_int_to_half(load_int(s, src->dtype, i)); break;
        case SP_DTYPE_FLOAT: ((float *)d)[i] = (float)load_float(s, src->dtype, i); break;
        case SP_DTYPE_DOUBLE: ((double *)d)[i] = load_float(s, src->dtype, i); break;
        default: break;
        }
    }
    return SP_OK;
}

/* ---- conformance -------------------------------------------------------- */

/* "[N, 1, 28, 28]" with symbolic names, or "?" for an unnamed unknown dim. */
static const char *model_shape_str(const struct sp_value_info *vi, int from, char *buf, size_t len)
{
    size_t pos = 0;
    pos += (size_t)snprintf(buf, len, "[");
    for (int k = from; k < vi->ndim && pos < len; k++) {
        const char *sep = k > from ? ", " : "";
        if (vi->dims[k] >= 0)
            pos += (size_t)snprintf(buf + pos, len - pos, "%s%lld", sep, (long long)vi->dims[k]);
        else if (vi->dim_params[k] && vi->dim_params[k][0])
            pos += (size_t)snprintf(buf + pos, len - pos, "%s%s", sep, vi->dim_params[k]);
        else
            pos += (size_t)snprintf(buf + pos, len - pos, "%s?", sep);
    }
    if (pos < len)
        snprintf(buf + pos, len - pos, "]");
    return buf;
}

/* "'a', 'b'" (or "none"), truncated to fit. */
static const char *join_names(int n, const char *(*get)(const void *, int), const void *ctx, char *buf, size_t len)
{
    size_t pos = 0;
    buf[0] = '\0';
    if (n == 0)
        snprintf(buf, len, "none");
    for (int i = 0; i < n && pos + 8 < len; i++)
        pos += (size_t)snprintf(buf + pos, len - pos, "%s'%s'", i ? ", " : "", get(ctx, i));
    return buf;
}

static const char *model_name_at(const void *m, int i)
{
    return sp_model_input((const struct sp_model *)m, i)->name;
}

static const char *npz_name_at(const void *npz, int i)
{
    return ((const struct sp_npz *)npz)->names[i];
}

/* Checks one array against one model input (rank, fixed dims, dtype). */
static enum sp_status check_input(const char *path, const struct sp_value_info *vi, const struct sp_tensor *a,
                                  struct sp_error *err)
{
    char want[256], model[256], got[256];
    if (vi->ndim == 0)
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "%s: key '%s': the model input is a scalar, without the batch dimension samples are "
                            "stacked along", path, vi->name);
    if (vi->ndim > 0) {
        model_shape_str(vi, 1, want, sizeof want);
        model_shape_str(vi, 0, model, sizeof model);
        sp_shape_str(a->ndim, a->dims, got, sizeof got);
        if (a->ndim != vi->ndim - 1)
            return sp_error_set(err, SP_ERR_MISMATCH,
                                "%s: key '%s': expected rank %d (the model's input rank minus the batch "
                                "dimension), shape %s (model input %s without the batch dimension), got rank %d %s",
                                path, vi->name, vi->ndim - 1, want, model, a->ndim, got);
        for (int k = 1; k < vi->ndim; k++)
            if (vi->dims[k] >= 0 && a->dims[k - 1] != vi->dims[k])
                return sp_error_set(err, SP_ERR_MISMATCH,
                                    "%s: key '%s': expected shape %s (model input %s without the batch "
                                    "dimension), got %s", path, vi->name, want, model, got);
    }
    if (vi->dtype != SP_DTYPE_UNDEFINED && !sp_dtype_can_cast_lossless(a->dtype, vi->dtype))
        return sp_error_set(err, SP_ERR_MISMATCH,
                            "%s: key '%s': dtype %s cannot be cast to the model input's %s without loss "
                            "(save the array with .astype(np.%s) if that is intended)",
                            path, vi->name, sp_dtype_name(a->dtype), sp_dtype_name(vi->dtype),
                            vi->dtype == SP_DTYPE_BOOL ? "bool_" : sp_dtype_name(vi->dtype));
    return SP_OK;
}

enum sp_status sp_sample_conform(const char *path, const struct sp_model *model, struct sp_npz *npz,
                                 struct sp_error *err)
{
    int m = sp_model_num_inputs(model);
    char names_a[512], names_b[512];
    for (int j = 0; j < npz->count; j++)
        for (int k = 0; k < j; k++)
            if (strcmp(npz->names[j], npz->names[k]) == 0)
                return sp_error_set(err, SP_ERR_FORMAT, "%s: key '%s' appears twice", path, npz->names[j]);

    int *where = calloc(m > 0 ? (size_t)m : 1, sizeof *where);
    if (!where)
        return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", path);
    enum sp_status st = SP_OK;
    /* Keys first, so a renamed input is reported as such rather than as some
     * later shape problem. */
    for (int i = 0; i < m && !st; i++) {
        const char *name = sp_model_input(model, i)->name;
        where[i] = -1;
        for (int j = 0; j < npz->count; j++)
            if (strcmp(npz->names[j], name) == 0)
                where[i] = j;
        if (where[i] < 0)
            st = sp_error_set(err, SP_ERR_MISMATCH, "%s: key '%s' is missing (model inputs: %s; keys in the file: %s)",
                              path, name, join_names(m, model_name_at, model, names_a, sizeof names_a),
                              join_names(npz->count, npz_name_at, npz, names_b, sizeof names_b));
    }
    for (int j = 0; j < npz->count && !st; j++) {
        bool used = false;
        for (int i = 0; i < m; i++)
            used |= where[i] == j;
        if (!used)
            st = sp_error_set(err, SP_ERR_MISMATCH, "%s: key '%s' is not a model input (model inputs: %s)", path,
                              npz->names[j], join_names(m, model_name_at, model, names_a, sizeof names_a));
    }
    for (int i = 0; i < m && !st; i++)
        st = check_input(path, sp_model_input(model, i), &npz->arrays[where[i]], err);
    if (st) {
        free(where);
        return st;
    }

    /* All checks passed: build the model-ordered, cast arrays, then swap them in
     * (so a failed allocation leaves `npz` as it was). */
    struct sp_tensor *arrays = calloc(m > 0 ? (size_t)m : 1, sizeof *arrays);
    char **names = calloc(m > 0 ? (size_t)m : 1, sizeof *names);
    bool *cast = calloc(m > 0 ? (size_t)m : 1, sizeof *cast);
    if (!arrays || !names || !cast) {
        st = sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    for (int i = 0; i < m; i++) {
        const struct sp_value_info *vi = sp_model_input(model, i);
        const struct sp_tensor *a = &npz->arrays[where[i]];
        if (vi->dtype != SP_DTYPE_UNDEFINED && vi->dtype != a->dtype) {
            st = sp_tensor_cast_lossless(a, vi->dtype, &arrays[i], err);
            if (st) {
                sp_error_set(err, st, "%s: key '%s': cast failed", path, vi->name);
                goto fail;
            }
            cast[i] = true;
        }
    }
    for (int i = 0; i < m; i++) {
        struct sp_tensor *a = &npz->arrays[where[i]];
        if (cast[i])
            sp_tensor_free(a);
        else
            arrays[i] = *a; /* moved */
        names[i] = npz->names[where[i]];
    }
    free(npz->arrays);
    free(npz->names);
    npz->arrays = arrays;
    npz->names = names;
    npz->count = m;
    free(cast);
    free(where);
    return SP_OK;
fail:
    if (arrays)
        for (int i = 0; i < m; i++)
            if (cast && cast[i])
                sp_tensor_free(&arrays[i]);
    free(arrays);
    free(names);
    free(cast);
    free(where);
    return st;
}

enum sp_status sp_dataset_load(const struct sp_dataset *ds, size_t index, const struct sp_model *model,
                               struct sp_npz *out, struct sp_error *err)
{
    memset(out, 0, sizeof *out);
    if (index >= ds->count)
        return sp_error_set(err, SP_ERR_USAGE, "%s: sample %zu requested, the folder holds %zu", ds->dir, index,
                            ds->count);
    const char *path = ds->files[index];
    enum sp_status st = sp_npz_read(path, ds->max_bytes ? ds->max_bytes : SP_NPZ_DEFAULT_MAX_BYTES, out, err);
    if (!st)
        st = sp_sample_conform(path, model, out, err);
    if (st)
        sp_npz_free(out);
    return st;
}
