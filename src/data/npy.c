/*
 * The .npy array format (numpy's NEP 1), read and written by hand.
 *
 * An .npy image is a 6-byte magic, a version, a little-endian header length, a
 * header that is a tiny Python dict literal ({'descr': '<f4', 'fortran_order':
 * False, 'shape': (3, 4), }) and then the raw C-order data. The header comes
 * from a file we do not trust, so it is parsed with a small explicit grammar
 * (no eval, no general Python parser), every length is bounded before use, and
 * the data length must equal product(shape) * itemsize exactly.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"
#include "sparsify/data.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "sparsify's npy reader assumes a little-endian host"
#endif

static const unsigned char npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

/* Longest header we accept. numpy itself refuses headers above 10,000 bytes
 * unless asked; anything larger here is garbage or an attack. */
#define NPY_MAX_HEADER (64 * 1024)

/* Cursor over the header text. */
struct hdr_cursor {
    const char *p, *end;
};

static void skip_ws(struct hdr_cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static bool take(struct hdr_cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

/* A quoted Python string without escapes (numpy never writes any in the three
 * keys or the simple descr forms we accept). Copies into buf, NUL-terminated. */
static bool parse_string(struct hdr_cursor *c, char *buf, size_t buflen)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return false;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || n + 1 >= buflen)
            return false;
        buf[n++] = *c->p++;
    }
    if (c->p >= c->end)
        return false;
    c->p++;
    buf[n] = '\0';
    return true;
}

static bool parse_word(struct hdr_cursor *c, const char *word)
{
    skip_ws(c);
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
        return false;
    c->p += n;
    return true;
}

/* Non-negative decimal integer (optional Python 2 'L' suffix), below 2^62. */
static bool parse_dim(struct hdr_cursor *c, int64_t *out)
{
    skip_ws(c);
    if (c->p >= c->end || *c->p < '0' || *c->p > '9')
        return false;
    int64_t v = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        if (v > ((INT64_C(1) << 62) - 9) / 10)
            return false;
        v = v * 10 + (*c->p++ - '0');
    }
    if (c->p < c->end && (*c->p == 'L' || *c->p == 'l'))
        c->p++;
    *out = v;
    return true;
}

/* "()" | "(d,)" | "(d, d, ...)" with an optional trailing comma. Returns 1 on
 * success, 0 on a syntax error, -1 if the rank exceeds SP_MAX_DIMS. */
static int parse_shape(struct hdr_cursor *c, int *ndim, int64_t *dims)
{
    if (!take(c, '('))
        return 0;
    int n = 0;
    if (take(c, ')')) {
        *ndim = 0;
        return 1;
    }
    for (;;) {
        int64_t d;
        if (!parse_dim(c, &d))
            return 0;
        if (n == SP_MAX_DIMS)
            return -1;
        dims[n++] = d;
        if (take(c, ')'))
            break;
        if (!take(c, ','))
            return 0;
        if (take(c, ')'))
            break;
    }
    *ndim = n;
    return 1;
}

enum sp_status sp_npy_descr_to_dtype(const char *descr, const char *what, enum sp_dtype *out,
                                     struct sp_error *err)
{
    /* Simple descrs are <byte order><kind><item size>, e.g. "<f4", "|b1". */
    size_t n = strlen(descr);
    if ((n >= 1 && descr[0] == 'O') || (n >= 2 && descr[1] == 'O'))
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "%s: object arrays ('%s') are not supported (they hold pickled Python objects; "
                            "store a numeric array)", what, descr);
    static const struct {
        char kind;
        char size;
        enum sp_dtype dt;
    } table[] = {
        {'f', '2', SP_DTYPE_FLOAT16}, {'f', '4', SP_DTYPE_FLOAT},  {'f', '8', SP_DTYPE_DOUBLE},
        {'i', '1', SP_DTYPE_INT8},    {'i', '2', SP_DTYPE_INT16},  {'i', '4', SP_DTYPE_INT32},
        {'i', '8', SP_DTYPE_INT64},   {'u', '1', SP_DTYPE_UINT8},  {'u', '2', SP_DTYPE_UINT16},
        {'u', '4', SP_DTYPE_UINT32},  {'u', '8', SP_DTYPE_UINT64}, {'b', '1', SP_DTYPE_BOOL},
    };
    enum sp_dtype dt = SP_DTYPE_UNDEFINED;
    if (n == 3 && strchr("<>=|", descr[0]))
        for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
            if (table[i].kind == descr[1] && table[i].size == descr[2])
                dt = table[i].dt;
    if (dt == SP_DTYPE_UNDEFINED)
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "%s: dtype '%s' is not supported (supported: float32, float64, float16, int64, "
                            "int32, int16, int8, uint8, uint16, uint32, uint64, bool)", what, descr);
    bool one_byte = descr[2] == '1';
    if (descr[0] == '>' && !one_byte)
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "%s: big-endian arrays ('%s') are not supported: save a little-endian copy "
                            "with a.astype('<%c%c')", what, descr, descr[1], descr[2]);
    /* '|' means "byte order not applicable": only meaningful for 1-byte items. */
    if (descr[0] == '|' && !one_byte)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: dtype '%s' has no byte order although items have %c bytes",
                            what, descr, descr[2]);
    *out = dt;
    return SP_OK;
}

const char *sp_npy_dtype_descr(enum sp_dtype dt)
{
    switch (dt) {
    case SP_DTYPE_FLOAT16: return "<f2";
    case SP_DTYPE_FLOAT: return "<f4";
    case SP_DTYPE_DOUBLE: return "<f8";
    case SP_DTYPE_INT8: return "|i1";
    case SP_DTYPE_INT16: return "<i2";
    case SP_DTYPE_INT32: return "<i4";
    case SP_DTYPE_INT64: return "<i8";
    case SP_DTYPE_UINT8: return "|u1";
    case SP_DTYPE_UINT16: return "<u2";
    case SP_DTYPE_UINT32: return "<u4";
    case SP_DTYPE_UINT64: return "<u8";
    case SP_DTYPE_BOOL: return "|b1";
    default: return NULL;
    }
}

/* Parses the dict literal. Any order of keys, each exactly once. */
static enum sp_status parse_header(const char *h, size_t hlen, const char *what, enum sp_dtype *dt,
                                   int *ndim, int64_t *dims, struct sp_error *err)
{
    struct hdr_cursor c = {h, h + hlen};
    bool have_descr = false, have_fortran = false, have_shape = false, fortran = false;
    char descr[64];

    if (!take(&c, '{'))
        return sp_error_set(err, SP_ERR_FORMAT, "%s: npy header is not a dict literal", what);
    for (;;) {
        if (take(&c, '}'))
            break;
        char key[32];
        if (!parse_string(&c, key, sizeof key) || !take(&c, ':'))
            return sp_error_set(err, SP_ERR_FORMAT, "%s: npy header: expected a quoted key and ':'", what);
        if (strcmp(key, "descr") == 0 && !have_descr) {
            skip_ws(&c);
            if (c.p < c.end && *c.p == '[')
                return sp_error_set(err, SP_ERR_UNSUPPORTED,
                                    "%s: structured arrays (record dtypes) are not supported", what);
            if (!parse_string(&c, descr, sizeof descr))
                return sp_error_set(err, SP_ERR_FORMAT, "%s: npy header: 'descr' is not a simple dtype string", what);
            have_descr = true;
        } else if (strcmp(key, "fortran_order") == 0 && !have_fortran) {
            if (parse_word(&c, "True"))
                fortran = true;
            else if (parse_word(&c, "False"))
                fortran = false;
            else
                return sp_error_set(err, SP_ERR_FORMAT, "%s: npy header: 'fortran_order' is not True or False", what);
            have_fortran = true;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            int r = parse_shape(&c, ndim, dims);
            if (r < 0)
                return sp_error_set(err, SP_ERR_UNSUPPORTED, "%s: arrays of more than %d dimensions are not supported",
                                    what, SP_MAX_DIMS);
            if (r == 0)
                return sp_error_set(err, SP_ERR_FORMAT,
                                    "%s: npy header: 'shape' is not a tuple of non-negative integers", what);
            have_shape = true;
        } else {
            return sp_error_set(err, SP_ERR_FORMAT, "%s: npy header: unexpected or repeated key '%s'", what, key);
        }
        if (take(&c, '}'))
            break;
        if (!take(&c, ','))
            return sp_error_set(err, SP_ERR_FORMAT, "%s: npy header: expected ',' or '}' after key '%s'", what, key);
    }
    skip_ws(&c);
    if (c.p != c.end)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: npy header: unexpected text after the dict", what);
    if (!have_descr || !have_fortran || !have_shape)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: npy header lacks '%s'", what,
                            !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
    enum sp_status st = sp_npy_descr_to_dtype(descr, what, dt, err);
    if (st)
        return st;
    if (fortran)
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "%s: Fortran-order arrays are not supported: save np.ascontiguousarray(a)", what);
    return SP_OK;
}

enum sp_status sp_npy_parse(const void *buf, size_t len, const char *what, size_t max_bytes,
                            struct sp_tensor *out, struct sp_error *err)
{
    memset(out, 0, sizeof *out);
    const unsigned char *b = buf;
    if (len < 10 || memcmp(b, npy_magic, sizeof npy_magic) != 0)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: not an .npy array (bad magic)", what);
    unsigned major = b[6], minor = b[7];
    size_t hlen, hstart;
    if (major == 1 && minor == 0) {
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
        hstart = 10;
    } else if ((major == 2 || major == 3) && minor == 0) {
        if (len < 12)
            return sp_error_set(err, SP_ERR_FORMAT, "%s: truncated .npy header", what);
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        hstart = 12;
    } else {
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "%s: .npy format version %u.%u is not supported (1.0, 2.0, 3.0 are)",
                            what, major, minor);
    }
    if (hlen > NPY_MAX_HEADER)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: .npy header length %zu exceeds the %d-byte limit", what, hlen,
                            NPY_MAX_HEADER);
    if (hlen > len - hstart)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: truncated .npy header (%zu bytes declared, %zu present)", what,
                            hlen, len - hstart);
    /* Version 3.0 allows UTF-8 in the header; the only place it could appear is a
     * structured dtype's field names, which we refuse anyway, so bytes suffice. */
    enum sp_dtype dt;
    int ndim = 0;
    int64_t dims[SP_MAX_DIMS];
    enum sp_status st = parse_header((const char *)b + hstart, hlen, what, &dt, &ndim, dims, err);
    if (st)
        return st;

    size_t es = sp_dtype_size(dt);
    int64_t numel;
    char sbuf[160];
    if (!sp_shape_checked_numel(ndim, dims, es, max_bytes, &numel))
        return sp_error_set(err, SP_ERR_NOMEM, "%s: shape %s of %s is too large (limit %zu bytes per array)", what,
                            sp_shape_str(ndim, dims, sbuf, sizeof sbuf), sp_dtype_name(dt), max_bytes);
    size_t want = (size_t)numel * es, have = len - hstart - hlen;
    if (have != want)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: shape %s of %s needs %zu data bytes, the array holds %zu", what,
                            sp_shape_str(ndim, dims, sbuf, sizeof sbuf), sp_dtype_name(dt), want, have);

    st = sp_tensor_alloc(out, dt, ndim, dims, err);
    if (st)
        return st;
    if (want)
        memcpy(out->data, b + hstart + hlen, want);
    /* A bool byte other than 0/1 would break code that sums or compares bools:
     * normalize, as numpy does when it views such bytes as bool. */
    if (dt == SP_DTYPE_BOOL) {
        unsigned char *v = out->data;
        for (size_t i = 0; i < want; i++)
            v[i] = v[i] != 0;
    }
    return SP_OK;
}

enum sp_status sp_npy_serialize(const struct sp_tensor *t, void **buf, size_t *len, struct sp_error *err)
{
    *buf = NULL;
    *len = 0;
    const char *descr = sp_npy_dtype_descr(t->dtype);
    if (!descr)
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "dtype %s cannot be written to .npy", sp_dtype_name(t->dtype));
    int64_t numel;
    if (!sp_shape_checked_numel(t->ndim, t->dims, sp_dtype_size(t->dtype), SIZE_MAX / 2, &numel))
        return sp_error_set(err, SP_ERR_USAGE, "tensor shape is invalid for .npy output");

    char dict[512];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    /* Python's tuple spelling, as numpy writes it: (), (3,), (2, 3). */
    for (int i = 0; i < t->ndim; i++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%s%lld%s", i ? ", " : "", (long long)t->dims[i],
                      t->ndim == 1 ? "," : "");
    n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
    /* numpy pads with spaces and a final newline so that the data starts on a
     * 64-byte boundary (aligned loads when memory-mapped). */
    size_t hlen = (size_t)n + 1;
    size_t total_hdr = 10 + hlen;
    size_t pad = (64 - total_hdr % 64) % 64;
    hlen += pad;
    size_t data_bytes = (size_t)numel * sp_dtype_size(t->dtype);
    unsigned char *p = malloc(10 + hlen + data_bytes);
    if (!p)
        return sp_error_set(err, SP_ERR_NOMEM, "cannot allocate %zu bytes for an .npy image", 10 + hlen + data_bytes);
    memcpy(p, npy_magic, 6);
    p[6] = 1;
    p[7] = 0;
    p[8] = (unsigned char)(hlen & 0xff);
    p[9] = (unsigned char)(hlen >> 8);
    memcpy(p + 10, dict, (size_t)n);
    memset(p + 10 + n, ' ', pad);
    p[10 + hlen - 1] = '\n';
    if (data_bytes)
        memcpy(p + 10 + hlen, t->data, data_bytes);
    *buf = p;
    *len = 10 + hlen + data_bytes;
    return SP_OK;
}

enum sp_status sp_npy_read(const char *path, size_t max_bytes, struct sp_tensor *out, struct sp_error *err)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return sp_error_set(err, SP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    enum sp_status st = SP_OK;
    void *buf = NULL;
    long sz;
    if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        st = sp_error_set(err, SP_ERR_IO, "%s: cannot determine the file size: %s", path, strerror(errno));
        goto out;
    }
    /* The file is header + data: bound it before allocating. */
    if ((unsigned long)sz > sp_npy_max_image_bytes(max_bytes)) {
        st = sp_error_set(err, SP_ERR_NOMEM, "%s: file of %ld bytes exceeds the %zu-byte array limit", path, sz,
                          max_bytes);
        goto out;
    }
    buf = malloc(sz ? (size_t)sz : 1);
    if (!buf) {
        st = sp_error_set(err, SP_ERR_NOMEM, "%s: cannot allocate %ld bytes", path, sz);
        goto out;
    }
    if (fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
        st = sp_error_set(err, SP_ERR_IO, "%s: short read", path);
        goto out;
    }
    st = sp_npy_parse(buf, (size_t)sz, path, max_bytes, out, err);
out:
    free(buf);
    fclose(f);
    return st;
}

size_t sp_npy_max_image_bytes(size_t max_bytes)
{
    size_t slack = NPY_MAX_HEADER + 12;
    return max_bytes > SIZE_MAX - slack ? SIZE_MAX : max_bytes + slack;
}
