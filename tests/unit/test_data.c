/*
 * Calibration data: .npy/.npz decoding, hostile files, the writer, lossless
 * casts, the data folder and conformance of samples to a model.
 *
 * The fixtures in tests/fixtures/npz/ were written by numpy through
 * tools/make_npz_fixtures.py, which also recorded every valid array's values in
 * expected.txt and numpy's casting table in casts.txt: the reader is checked
 * against numpy's own numbers, not against itself.
 */
#define _GNU_SOURCE /* memmem */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "onnx/model_internal.h"
#include "sparsify/data.h"
#include "testutil.h"

#define FIX(rel) sp_test_source_path("tests/fixtures/npz/" rel)

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p)
        abort();
    return p;
}

static int find_key(const struct sp_npz *z, const char *key)
{
    for (int i = 0; i < z->count; i++)
        if (strcmp(z->names[i], key) == 0)
            return i;
    return -1;
}

static enum sp_dtype dtype_by_name(const char *name)
{
    for (int d = 1; d <= SP_DTYPE_BFLOAT16; d++)
        if (strcmp(sp_dtype_name((enum sp_dtype)d), name) == 0)
            return (enum sp_dtype)d;
    return SP_DTYPE_UNDEFINED;
}

static double elem_double(const struct sp_tensor *t, size_t i);

static uint64_t elem_u64(const struct sp_tensor *t, size_t i)
{
    switch (t->dtype) {
    case SP_DTYPE_UINT64: return ((const uint64_t *)t->data)[i];
    case SP_DTYPE_UINT32: return ((const uint32_t *)t->data)[i];
    case SP_DTYPE_UINT16: return ((const uint16_t *)t->data)[i];
    case SP_DTYPE_UINT8: case SP_DTYPE_BOOL: return ((const uint8_t *)t->data)[i];
    case SP_DTYPE_INT64: return (uint64_t)((const int64_t *)t->data)[i];
    case SP_DTYPE_INT32: return (uint64_t)(int64_t)((const int32_t *)t->data)[i];
    case SP_DTYPE_INT16: return (uint64_t)(int64_t)((const int16_t *)t->data)[i];
    case SP_DTYPE_INT8: return (uint64_t)(int64_t)((const int8_t *)t->data)[i];
    default: return 0;
    }
}

/* Independent float16 decoding for the tests (bit arithmetic via ldexp). */
static double half_bits_to_double(uint16_t h)
{
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return (h & 0x8000) ? -v : v;
}

static double elem_double(const struct sp_tensor *t, size_t i)
{
    switch (t->dtype) {
    case SP_DTYPE_FLOAT: return ((const float *)t->data)[i];
    case SP_DTYPE_DOUBLE: return ((const double *)t->data)[i];
    case SP_DTYPE_FLOAT16: return half_bits_to_double(((const uint16_t *)t->data)[i]);
    case SP_DTYPE_UINT64: case SP_DTYPE_UINT32: case SP_DTYPE_UINT16: case SP_DTYPE_UINT8: case SP_DTYPE_BOOL:
        return (double)elem_u64(t, i);
    default: return (double)(int64_t)elem_u64(t, i);
    }
}

static bool is_float(enum sp_dtype dt)
{
    return dt == SP_DTYPE_FLOAT || dt == SP_DTYPE_DOUBLE || dt == SP_DTYPE_FLOAT16;
}

/* Asserts status, and that the message contains every NULL-terminated needle. */
static void expect_error(enum sp_status got, enum sp_status want, const struct sp_error *err, const char *ctx,
                         const char *needles[])
{
    if (got != want)
        fprintf(stderr, "\n  %s: status %s (want %s): %s\n", ctx, sp_status_str(got), sp_status_str(want), err->msg);
    CU_ASSERT_EQUAL(got, want);
    for (int i = 0; needles[i]; i++)
        if (!strstr(err->msg, needles[i])) {
            fprintf(stderr, "\n  %s: message lacks \"%s\": %s\n", ctx, needles[i], err->msg);
            CU_FAIL("message lacks an expected part");
        }
    CU_ASSERT_PTR_NULL(strchr(err->msg, '\n'));
}

/* ---- decoding: numpy's values ------------------------------------------ */

/* Every array recorded in expected.txt decodes to numpy's dtype, shape and
 * values (bit-exact for floats; NaN matches NaN; -0.0 keeps its sign). */
static void test_expected_values(void)
{
    FILE *f = fopen(FIX("expected.txt"), "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    static char line[1 << 16];
    int checked = 0, values = 0;
    char cur_file[512] = "";
    struct sp_npz z = {0};
    struct sp_tensor plain = {0};
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        char *save, *file = strtok_r(line, " \n", &save), *key = strtok_r(NULL, " \n", &save);
        char *dt = strtok_r(NULL, " \n", &save), *shape = strtok_r(NULL, " \n", &save);
        CU_ASSERT_PTR_NOT_NULL_FATAL(shape);
        char rel[600];
        snprintf(rel, sizeof rel, "tests/fixtures/npz/%s", file);
        struct sp_error err = {0};
        const struct sp_tensor *t;
        bool npy = strcmp(file + strlen(file) - 4, ".npy") == 0;
        if (npy) {
            sp_tensor_free(&plain);
            CU_ASSERT_EQUAL_FATAL(sp_npy_read(sp_test_source_path(rel), 1 << 20, &plain, &err), SP_OK);
            t = &plain;
        } else {
            if (strcmp(cur_file, file) != 0) {
                sp_npz_free(&z);
                enum sp_status st = sp_npz_read(sp_test_source_path(rel), 1 << 20, &z, &err);
                if (st)
                    fprintf(stderr, "\n  %s: %s\n", file, err.msg);
                CU_ASSERT_EQUAL_FATAL(st, SP_OK);
                snprintf(cur_file, sizeof cur_file, "%s", file);
            }
            int k = find_key(&z, key);
            if (k < 0)
                fprintf(stderr, "\n  %s: key %s not found\n", file, key);
            CU_ASSERT_FATAL(k >= 0);
            t = &z.arrays[k];
        }
        CU_ASSERT_EQUAL(t->dtype, dtype_by_name(dt));
        int64_t dims[SP_MAX_DIMS];
        int nd = 0;
        if (strcmp(shape, "-") != 0)
            for (char *s2, *d = strtok_r(shape, ",", &s2); d; d = strtok_r(NULL, ",", &s2))
                dims[nd++] = strtoll(d, NULL, 10);
        CU_ASSERT_EQUAL_FATAL(t->ndim, nd);
        for (int i = 0; i < nd; i++)
            CU_ASSERT_EQUAL(t->dims[i], dims[i]);
        size_t n = (size_t)sp_tensor_numel(t), i = 0;
        for (char *v = strtok_r(NULL, " \n", &save); v; v = strtok_r(NULL, " \n", &save), i++) {
            CU_ASSERT_FATAL(i < n);
            if (is_float(t->dtype)) {
                double want = strtod(v, NULL), got = elem_double(t, i);
                bool same = (isnan(want) && isnan(got)) || (want == got && signbit(want) == signbit(got));
                if (!same)
                    fprintf(stderr, "\n  %s %s[%zu]: got %.17g want %s\n", file, key, i, got, v);
                CU_ASSERT(same);
            } else if (t->dtype == SP_DTYPE_UINT64 || t->dtype == SP_DTYPE_UINT32 || t->dtype == SP_DTYPE_UINT16 ||
                       t->dtype == SP_DTYPE_UINT8 || t->dtype == SP_DTYPE_BOOL) {
                CU_ASSERT_EQUAL(elem_u64(t, i), strtoull(v, NULL, 10));
            } else {
                CU_ASSERT_EQUAL((int64_t)elem_u64(t, i), strtoll(v, NULL, 10));
            }
            values++;
        }
        CU_ASSERT_EQUAL(i, n);
        checked++;
    }
    fclose(f);
    sp_npz_free(&z);
    sp_tensor_free(&plain);
    /* 12 dtypes x 2 writers x 2 keys, plus the misc files. */
    CU_ASSERT(checked >= 48 + 20);
    CU_ASSERT(values > 600);
}

/* A few values spelled out, in case expected.txt and the reader were wrong the
 * same way. */
static void test_spot_values(void)
{
    struct sp_npz z;
    struct sp_error err = {0};
    CU_ASSERT_EQUAL_FATAL(sp_npz_read(FIX("dtypes/float16_savez_compressed.npz"), 1 << 20, &z, &err), SP_OK);
    int a = find_key(&z, "a");
    CU_ASSERT_FATAL(a >= 0);
    CU_ASSERT_EQUAL(z.arrays[a].dtype, SP_DTYPE_FLOAT16);
    CU_ASSERT_EQUAL(((uint16_t *)z.arrays[a].data)[0], 0xC500); /* -5.0 */
    CU_ASSERT_EQUAL(((uint16_t *)z.arrays[a].data)[23], 0x4680); /* 6.5 */
    sp_npz_free(&z);

    CU_ASSERT_EQUAL_FATAL(sp_npz_read(FIX("dtypes/int8_savez.npz"), 1 << 20, &z, &err), SP_OK);
    int e = find_key(&z, "ext");
    CU_ASSERT_FATAL(e >= 0);
    const int8_t *i8 = z.arrays[e].data;
    CU_ASSERT(i8[0] == -128 && i8[1] == 127 && i8[2] == 0 && i8[3] == 1);
    sp_npz_free(&z);

    CU_ASSERT_EQUAL_FATAL(sp_npz_read(FIX("dtypes/uint64_savez.npz"), 1 << 20, &z, &err), SP_OK);
    e = find_key(&z, "ext");
    CU_ASSERT_EQUAL(((uint64_t *)z.arrays[e].data)[1], UINT64_MAX);
    sp_npz_free(&z);

    CU_ASSERT_EQUAL_FATAL(sp_npz_read(FIX("dtypes/float32_savez.npz"), 1 << 20, &z, &err), SP_OK);
    a = find_key(&z, "a");
    CU_ASSERT_EQUAL(z.arrays[a].ndim, 3);
    CU_ASSERT(z.arrays[a].dims[0] == 2 && z.arrays[a].dims[1] == 3 && z.arrays[a].dims[2] == 4);
    CU_ASSERT_EQUAL(((float *)z.arrays[a].data)[0], -5.0f);
    CU_ASSERT_EQUAL(((float *)z.arrays[a].data)[13], 1.5f); /* element [1][0][1] */
    sp_npz_free(&z);

    CU_ASSERT_EQUAL_FATAL(sp_npz_read(FIX("dtypes/bool_savez.npz"), 1 << 20, &z, &err), SP_OK);
    a = find_key(&z, "a");
    const uint8_t *b = z.arrays[a].data;
    CU_ASSERT(b[0] == 1 && b[1] == 0 && b[2] == 0 && b[3] == 1 && b[22] == 0 && b[21] == 1);
    sp_npz_free(&z);
}

static void test_scalars_empty_nan(void)
{
    struct sp_npz z;
    struct sp_error err = {0};
    CU_ASSERT_EQUAL_FATAL(sp_npz_read(FIX("valid/scalars.npz"), 1 << 20, &z, &err), SP_OK);
    CU_ASSERT_EQUAL(z.count, 4);
    int f = find_key(&z, "f"), i = find_key(&z, "i");
    CU_ASSERT_EQUAL(z.arrays[f].ndim, 0);
    CU_ASSERT_EQUAL(sp_tensor_numel(&z.arrays[f]), 1);
    CU_ASSERT_EQUAL(*(float *)z.arrays[f].data, 2.5f);
    CU_ASSERT_EQUAL(*(int64_t *)z.arrays[i].data, -7);
    sp_npz_free(&z);

    CU_ASSERT_EQUAL_FATAL(sp_npz_read(FIX("valid/empty.npz"), 1 << 20, &z, &err), SP_OK);
    int e2 = find_key(&z, "e2");
    CU_ASSERT_EQUAL(z.arrays[e2].ndim, 3);
    CU_ASSERT_EQUAL(z.arrays[e2].dims[1], 0);
    CU_ASSERT_EQUAL(sp_tensor_numel(&z.arrays[e2]), 0);
    sp_npz_free(&z);

    /* NaN and Inf are values, not format errors: later stages judge them. */
    CU_ASSERT_EQUAL_FATAL(sp_npz_read(FIX("valid/nan_inf.npz"), 1 << 20, &z, &err), SP_OK);
    const float *v = z.arrays[find_key(&z, "v")].data;
    CU_ASSERT(isnan(v[0]) && isinf(v[1]) && v[1] > 0 && isinf(v[2]) && v[2] < 0 && v[3] == 1.0f && signbit(v[4]));
    sp_npz_free(&z);
}

/* ---- hostile and unsupported files ------------------------------------- */

struct err_case {
    const char *file;
    size_t max_bytes;
    enum sp_status status;
    const char *needles[4];
};

static void test_error_files(void)
{
    const size_t M = 1 << 20;
    static const struct err_case cases[] = {
        {"errors/big_endian.npz", 1 << 20, SP_ERR_UNSUPPORTED, {"key 'a'", "big-endian", "'>f4'"}},
        {"errors/fortran.npz", 1 << 20, SP_ERR_UNSUPPORTED, {"key 'a'", "Fortran"}},
        {"errors/object.npz", 1 << 20, SP_ERR_UNSUPPORTED, {"key 'a'", "object arrays", "'|O'"}},
        {"errors/unicode.npz", 1 << 20, SP_ERR_UNSUPPORTED, {"key 'a'", "dtype '<U2'"}},
        {"errors/complex.npz", 1 << 20, SP_ERR_UNSUPPORTED, {"key 'a'", "dtype '<c8'"}},
        {"errors/structured.npz", 1 << 20, SP_ERR_UNSUPPORTED, {"key 'a'", "structured"}},
        {"errors/not_a_zip.npz", 1 << 20, SP_ERR_FORMAT, {"not a valid .npz (zip) file"}},
        {"errors/truncated.npz", 1 << 20, SP_ERR_FORMAT, {"not a valid .npz (zip) file"}},
        {"errors/bad_crc.npz", 1 << 20, SP_ERR_FORMAT, {"key 'a'", "CRC"}},
        {"errors/shape_too_big.npz", 1 << 20, SP_ERR_FORMAT, {"key 'a'", "[100]", "needs 400 data bytes", "holds 24"}},
        {"errors/shape_too_small.npz", 1 << 20, SP_ERR_FORMAT, {"key 'a'", "needs 8 data bytes", "holds 24"}},
        {"errors/shape_overflow.npz", 1 << 20, SP_ERR_NOMEM, {"key 'a'", "too large"}},
        {"errors/shape_negative.npz", 1 << 20, SP_ERR_FORMAT, {"key 'a'", "'shape'"}},
        {"errors/rank9.npz", 1 << 20, SP_ERR_UNSUPPORTED, {"key 'a'", "more than 8 dimensions"}},
        {"errors/bad_magic.npz", 1 << 20, SP_ERR_FORMAT, {"key 'a'", "bad magic"}},
        {"errors/bad_version.npz", 1 << 20, SP_ERR_UNSUPPORTED, {"key 'a'", "version 9.0"}},
        {"errors/header_len_huge.npz", 1 << 20, SP_ERR_FORMAT, {"key 'a'", "header length"}},
        {"errors/header_truncated.npz", 1 << 20, SP_ERR_FORMAT, {"key 'a'", "truncated"}},
        {"errors/header_garbage.npz", 1 << 20, SP_ERR_FORMAT, {"key 'a'", "key 'x'"}},
        {"errors/header_no_shape.npz", 1 << 20, SP_ERR_FORMAT, {"key 'a'", "lacks 'shape'"}},
        {"errors/not_npy_member.npz", 1 << 20, SP_ERR_FORMAT, {"'readme.txt'", "not an .npy array"}},
        {"errors/duplicate_key.npz", 1 << 20, SP_ERR_FORMAT, {"a key appears twice"}},
        {"errors/bomb_honest.npz", 1 << 20, SP_ERR_NOMEM, {"key 'a'", "zip bomb"}},
        {"errors/bomb_claims_4g.npz", SP_NPZ_DEFAULT_MAX_BYTES, SP_ERR_NOMEM, {"key 'a'", "4294967280"}},
        {"errors/bomb_lies_small.npz", 1 << 20, SP_ERR_FORMAT, {"key 'a'"}},
        {"errors/does_not_exist.npz", 1 << 20, SP_ERR_IO, {"no such file"}},
    };
    (void)M;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char rel[256];
        snprintf(rel, sizeof rel, "tests/fixtures/npz/%s", cases[c].file);
        const char *p = sp_test_source_path(rel);
        struct sp_npz z;
        struct sp_error err = {0};
        enum sp_status st = sp_npz_read(p, cases[c].max_bytes, &z, &err);
        const char *needles[6] = {p};
        for (int i = 0; i < 4 && cases[c].needles[i]; i++)
            needles[i + 1] = cases[c].needles[i];
        expect_error(st, cases[c].status, &err, cases[c].file, needles);
        /* On failure the output is empty, and freeing it is harmless. */
        CU_ASSERT_EQUAL(z.count, 0);
        CU_ASSERT_PTR_NULL(z.arrays);
        sp_npz_free(&z);
    }
}

/* The bomb that inflates past its declared size is read only up to that size
 * (plus one byte): its message says it lies, whatever libzip reports. */
static void test_bomb_lies_message(void)
{
    struct sp_npz z;
    struct sp_error err = {0};
    enum sp_status st = sp_npz_read(FIX("errors/bomb_lies_small.npz"), 1 << 20, &z, &err);
    CU_ASSERT_EQUAL(st, SP_ERR_FORMAT);
    CU_ASSERT(strstr(err.msg, "more data than its declared 1000 bytes") || strstr(err.msg, "corrupt zip member"));
}

/* Every prefix of a valid .npy image, and every single-byte corruption of its
 * header, is refused or parsed without reading out of bounds (run under ASan
 * to make this bite) and never yields a tensor whose size disagrees. */
static void test_npy_hostile_bytes(void)
{
    int64_t dims[2] = {3, 5};
    struct sp_tensor t;
    struct sp_error err = {0};
    CU_ASSERT_EQUAL_FATAL(sp_tensor_alloc(&t, SP_DTYPE_INT32, 2, dims, &err), SP_OK);
    void *buf;
    size_t len;
    CU_ASSERT_EQUAL_FATAL(sp_npy_serialize(&t, &buf, &len, &err), SP_OK);
    for (size_t cut = 0; cut < len; cut++) {
        unsigned char *copy = malloc(cut ? cut : 1);
        memcpy(copy, buf, cut);
        struct sp_tensor out;
        struct sp_error e2 = {0};
        CU_ASSERT_NOT_EQUAL(sp_npy_parse(copy, cut, "cut", 1 << 20, &out, &e2), SP_OK);
        CU_ASSERT(strncmp(e2.msg, "cut: ", 5) == 0);
        free(copy);
    }
    unsigned char *copy = malloc(len);
    int accepted = 0;
    for (size_t pos = 0; pos < 128; pos++)
        for (int v = 0; v < 256; v += 17) {
            memcpy(copy, buf, len);
            copy[pos] = (unsigned char)v;
            struct sp_tensor out;
            struct sp_error e2 = {0};
            if (sp_npy_parse(copy, len, "mut", 1 << 20, &out, &e2) == SP_OK) {
                CU_ASSERT_EQUAL(sp_tensor_nbytes(&out) + 128, len);
                accepted++;
                sp_tensor_free(&out);
            }
        }
    CU_ASSERT(accepted > 0); /* e.g. padding spaces may change harmlessly */
    free(copy);
    free(buf);
    sp_tensor_free(&t);
}

static void test_npy_file(void)
{
    struct sp_tensor t;
    struct sp_error err = {0};
    CU_ASSERT_EQUAL_FATAL(sp_npy_read(FIX("valid/plain.npy"), 1 << 20, &t, &err), SP_OK);
    CU_ASSERT_EQUAL(t.dtype, SP_DTYPE_INT16);
    CU_ASSERT(t.ndim == 1 && t.dims[0] == 5 && ((int16_t *)t.data)[0] == -2 && ((int16_t *)t.data)[4] == 2);
    sp_tensor_free(&t);
    /* The file-size bound applies before reading. */
    sp_error_clear(&err);
    CU_ASSERT_EQUAL(sp_npy_read(FIX("valid/plain.npy"), 1, &t, &err), SP_ERR_NOMEM);
    sp_error_clear(&err);
    CU_ASSERT_EQUAL(sp_npy_read(FIX("valid/none.npy"), 1 << 20, &t, &err), SP_ERR_IO);
    CU_ASSERT(strstr(err.msg, "valid/none.npy") != NULL);
}

/* ---- writer ------------------------------------------------------------ */

/* The arrays of written_by_sparsify.npz, which make_npz_fixtures.py checks
 * with np.load. */
static void make_reference_npz(struct sp_npz *z)
{
    struct sp_error err = {0};
    z->count = 4;
    z->names = calloc(4, sizeof *z->names);
    z->arrays = calloc(4, sizeof *z->arrays);
    /* Deliberately not sorted: the writer keeps the caller's order. */
    z->names[0] = xstrdup("x");
    z->names[1] = xstrdup("ids");
    z->names[2] = xstrdup("flags");
    z->names[3] = xstrdup("scalar");
    int64_t d3[3] = {2, 3, 4}, d1[1] = {4}, d1b[1] = {3};
    sp_tensor_alloc(&z->arrays[0], SP_DTYPE_FLOAT, 3, d3, &err);
    for (int i = 0; i < 24; i++)
        ((float *)z->arrays[0].data)[i] = (float)(i - 12) / 4;
    sp_tensor_alloc(&z->arrays[1], SP_DTYPE_INT64, 1, d1, &err);
    int64_t ids[4] = {INT64_MIN, INT64_MAX, 0, 42};
    memcpy(z->arrays[1].data, ids, sizeof ids);
    sp_tensor_alloc(&z->arrays[2], SP_DTYPE_BOOL, 1, d1b, &err);
    uint8_t fl[3] = {1, 0, 1};
    memcpy(z->arrays[2].data, fl, 3);
    sp_tensor_alloc(&z->arrays[3], SP_DTYPE_DOUBLE, 0, NULL, &err);
    *(double *)z->arrays[3].data = 0.125;
    CU_ASSERT_EQUAL(err.status, SP_OK);
}

static bool tensors_equal(const struct sp_tensor *a, const struct sp_tensor *b)
{
    if (a->dtype != b->dtype || a->ndim != b->ndim)
        return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i])
            return false;
    return memcmp(a->data, b->data, sp_tensor_nbytes(a)) == 0;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."));
    if (d)
        closedir(d);
    return n;
}


static void test_writer_round_trip(void)
{
    const char *dir = sp_test_tmpdir();
    char p[4200];
    snprintf(p, sizeof p, "%s/out.npz", dir);
    struct sp_npz z = {0}, back;
    make_reference_npz(&z);
    struct sp_error err = {0};
    CU_ASSERT_EQUAL_FATAL(sp_npz_write(p, &z, &err), SP_OK);
    CU_ASSERT_EQUAL(count_entries(dir), 1); /* no temporary left behind */
    /* Ordinary permissions (not mkstemp's 0600): outputs are meant to be shared. */
    struct stat sb;
    mode_t um = umask(0);
    umask(um);
    CU_ASSERT(stat(p, &sb) == 0 && (sb.st_mode & 0777) == (0666 & ~um));
    CU_ASSERT_EQUAL_FATAL(sp_npz_read(p, 1 << 20, &back, &err), SP_OK);
    CU_ASSERT_EQUAL_FATAL(back.count, 4);
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_STRING_EQUAL(back.names[i], z.names[i]);
        CU_ASSERT(tensors_equal(&back.arrays[i], &z.arrays[i]));
    }
    sp_npz_free(&back);

    /* Deterministic output (fixed timestamps): byte-identical to the committed
     * file that make_npz_fixtures.py verified with np.load. */
    size_t n1 = 0, n2 = 0;
    unsigned char *mine = sp_test_read_file(p, &n1);
    if (getenv("SPARSIFY_WRITE_REFERENCE")) {
        FILE *f = fopen(FIX("written_by_sparsify.npz"), "wb");
        fwrite(mine, 1, n1, f);
        fclose(f);
    }
    unsigned char *ref = sp_test_read_file(FIX("written_by_sparsify.npz"), &n2);
    CU_ASSERT_PTR_NOT_NULL(ref);
    CU_ASSERT(ref && n1 == n2 && memcmp(mine, ref, n1) == 0);
    free(mine);
    free(ref);

    /* Overwriting replaces the file atomically. */
    sp_tensor_free(&z.arrays[3]);
    sp_tensor_alloc(&z.arrays[3], SP_DTYPE_DOUBLE, 0, NULL, &err);
    *(double *)z.arrays[3].data = -3.0;
    CU_ASSERT_EQUAL(sp_npz_write(p, &z, &err), SP_OK);
    CU_ASSERT_EQUAL_FATAL(sp_npz_read(p, 1 << 20, &back, &err), SP_OK);
    CU_ASSERT_EQUAL(*(double *)back.arrays[3].data, -3.0);
    sp_npz_free(&back);
    CU_ASSERT_EQUAL(count_entries(dir), 1);

    /* Refusals leave nothing behind. */
    char bad[4300];
    snprintf(bad, sizeof bad, "%s/missing/sub.npz", dir);
    sp_error_clear(&err);
    CU_ASSERT_EQUAL(sp_npz_write(bad, &z, &err), SP_ERR_WRITE);
    free(z.names[1]);
    z.names[1] = xstrdup("x");
    snprintf(bad, sizeof bad, "%s/dup.npz", dir);
    sp_error_clear(&err);
    CU_ASSERT_EQUAL(sp_npz_write(bad, &z, &err), SP_ERR_USAGE);
    CU_ASSERT(strstr(err.msg, "key 'x' given twice") != NULL);
    CU_ASSERT_EQUAL(count_entries(dir), 1);
    sp_npz_free(&z);

    /* An empty archive is valid (np.savez() with no arrays). */
    struct sp_npz empty = {0};
    snprintf(p, sizeof p, "%s/empty.npz", dir);
    CU_ASSERT_EQUAL(sp_npz_write(p, &empty, &err), SP_OK);
    CU_ASSERT_EQUAL(sp_npz_read(p, 1 << 20, &back, &err), SP_OK);
    CU_ASSERT_EQUAL(back.count, 0);
    sp_npz_free(&back);
    unlink(p);
    snprintf(p, sizeof p, "%s/out.npz", dir);
    unlink(p);
    rmdir(dir);
}

/* Every dtype numpy wrote survives read -> write -> read unchanged. */
static void test_writer_all_dtypes(void)
{
    static const char *names[] = {"float32", "float64", "float16", "int64", "int32", "int16",
                                  "int8",    "uint8",   "uint16",  "uint32", "uint64", "bool"};
    const char *dir = sp_test_tmpdir();
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char rel[256], p[4200];
        snprintf(rel, sizeof rel, "tests/fixtures/npz/dtypes/%s_savez_compressed.npz", names[i]);
        snprintf(p, sizeof p, "%s/%s.npz", dir, names[i]);
        struct sp_npz a, b;
        struct sp_error err = {0};
        CU_ASSERT_EQUAL_FATAL(sp_npz_read(sp_test_source_path(rel), 1 << 20, &a, &err), SP_OK);
        CU_ASSERT_EQUAL_FATAL(sp_npz_write(p, &a, &err), SP_OK);
        CU_ASSERT_EQUAL_FATAL(sp_npz_read(p, 1 << 20, &b, &err), SP_OK);
        CU_ASSERT_EQUAL(a.count, b.count);
        for (int k = 0; k < a.count && k < b.count; k++)
            CU_ASSERT(tensors_equal(&a.arrays[k], &b.arrays[k]));
        sp_npz_free(&a);
        sp_npz_free(&b);
        unlink(p);
    }
    rmdir(dir);
}

static void test_npy_serialize_layout(void)
{
    int64_t dims[3] = {1, 2, 3};
    struct sp_tensor t;
    struct sp_error err = {0};
    sp_tensor_alloc(&t, SP_DTYPE_FLOAT16, 3, dims, &err);
    void *buf;
    size_t len;
    CU_ASSERT_EQUAL_FATAL(sp_npy_serialize(&t, &buf, &len, &err), SP_OK);
    const unsigned char *b = buf;
    size_t hlen = b[8] | (size_t)b[9] << 8;
    CU_ASSERT_EQUAL((10 + hlen) % 64, 0);
    CU_ASSERT_EQUAL(len, 10 + hlen + 12);
    CU_ASSERT_EQUAL(b[10 + hlen - 1], '\n');
    CU_ASSERT(memmem(b, len, "'descr': '<f2'", 14) != NULL);
    CU_ASSERT(memmem(b, len, "'shape': (1, 2, 3), }", 21) != NULL);
    free(buf);
    sp_tensor_free(&t);

    /* Strings cannot go to .npy. */
    struct sp_tensor s = {.dtype = SP_DTYPE_STRING};
    CU_ASSERT_EQUAL(sp_npy_serialize(&s, &buf, &len, &err), SP_ERR_UNSUPPORTED);
}

/* ---- casting ------------------------------------------------------------ */

static void test_cast_table_matches_numpy(void)
{
    FILE *f = fopen(FIX("casts.txt"), "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char a[32], b[32], line[128];
    int ok, n = 0, allowed = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || sscanf(line, "%31s %31s %d", a, b, &ok) != 3)
            continue;
        enum sp_dtype da = dtype_by_name(a), db = dtype_by_name(b);
        CU_ASSERT_FATAL(da != SP_DTYPE_UNDEFINED && db != SP_DTYPE_UNDEFINED);
        bool mine = sp_dtype_can_cast_lossless(da, db);
        if (mine != (ok != 0))
            fprintf(stderr, "\n  %s -> %s: sparsify says %d, table says %d\n", a, b, mine, ok);
        CU_ASSERT_EQUAL(mine, ok != 0);
        allowed += ok;
        n++;
    }
    fclose(f);
    CU_ASSERT_EQUAL(n, 144);
    CU_ASSERT(allowed > 12 && allowed < 144);
    /* The rules the issue names, spelled out. */
    CU_ASSERT(sp_dtype_can_cast_lossless(SP_DTYPE_INT32, SP_DTYPE_INT64));
    CU_ASSERT(sp_dtype_can_cast_lossless(SP_DTYPE_FLOAT16, SP_DTYPE_FLOAT));
    CU_ASSERT(sp_dtype_can_cast_lossless(SP_DTYPE_BOOL, SP_DTYPE_INT64));
    CU_ASSERT(!sp_dtype_can_cast_lossless(SP_DTYPE_DOUBLE, SP_DTYPE_FLOAT));
    CU_ASSERT(!sp_dtype_can_cast_lossless(SP_DTYPE_INT64, SP_DTYPE_INT32));
    CU_ASSERT(!sp_dtype_can_cast_lossless(SP_DTYPE_FLOAT, SP_DTYPE_INT64));
    CU_ASSERT(!sp_dtype_can_cast_lossless(SP_DTYPE_INT64, SP_DTYPE_DOUBLE));
    CU_ASSERT(!sp_dtype_can_cast_lossless(SP_DTYPE_STRING, SP_DTYPE_STRING) ||
              sp_dtype_can_cast_lossless(SP_DTYPE_STRING, SP_DTYPE_STRING)); /* identity: either is fine */
}

static void test_cast_values(void)
{
    struct sp_error err = {0};
    int64_t d[1] = {4};
    struct sp_tensor s, o;
    /* uint8 -> float16: 255 is 0x5BF8, 1 is 0x3C00, 128 is 0x5800. */
    sp_tensor_alloc(&s, SP_DTYPE_UINT8, 1, d, &err);
    uint8_t u[4] = {0, 1, 128, 255};
    memcpy(s.data, u, 4);
    CU_ASSERT_EQUAL_FATAL(sp_tensor_cast_lossless(&s, SP_DTYPE_FLOAT16, &o, &err), SP_OK);
    const uint16_t *h = o.data;
    CU_ASSERT(h[0] == 0 && h[1] == 0x3C00 && h[2] == 0x5800 && h[3] == 0x5BF8);
    sp_tensor_free(&o);
    sp_tensor_free(&s);
    /* int8 -> float16 with negatives. */
    sp_tensor_alloc(&s, SP_DTYPE_INT8, 1, d, &err);
    int8_t i8[4] = {-128, -1, 3, 127};
    memcpy(s.data, i8, 4);
    CU_ASSERT_EQUAL_FATAL(sp_tensor_cast_lossless(&s, SP_DTYPE_FLOAT16, &o, &err), SP_OK);
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(half_bits_to_double(((uint16_t *)o.data)[i]), (double)i8[i]);
    sp_tensor_free(&o);
    /* int8 -> int64 keeps the sign. */
    CU_ASSERT_EQUAL_FATAL(sp_tensor_cast_lossless(&s, SP_DTYPE_INT64, &o, &err), SP_OK);
    CU_ASSERT(((int64_t *)o.data)[0] == -128 && ((int64_t *)o.data)[3] == 127);
    sp_tensor_free(&o);
    sp_tensor_free(&s);
    /* float16 -> float32 including subnormal, infinity and NaN. */
    sp_tensor_alloc(&s, SP_DTYPE_FLOAT16, 1, d, &err);
    uint16_t hv[4] = {0x0001, 0xFC00, 0x7E00, 0xB800}; /* 2^-24, -inf, nan, -0.5 */
    memcpy(s.data, hv, sizeof hv);
    CU_ASSERT_EQUAL_FATAL(sp_tensor_cast_lossless(&s, SP_DTYPE_FLOAT, &o, &err), SP_OK);
    const float *fv = o.data;
    CU_ASSERT(fv[0] == ldexpf(1, -24) && isinf(fv[1]) && fv[1] < 0 && isnan(fv[2]) && fv[3] == -0.5f);
    sp_tensor_free(&o);
    sp_tensor_free(&s);
    /* int32 extremes -> float64 exactly. */
    sp_tensor_alloc(&s, SP_DTYPE_INT32, 1, d, &err);
    int32_t iv[4] = {INT32_MIN, INT32_MAX, -1, 0};
    memcpy(s.data, iv, sizeof iv);
    CU_ASSERT_EQUAL_FATAL(sp_tensor_cast_lossless(&s, SP_DTYPE_DOUBLE, &o, &err), SP_OK);
    CU_ASSERT(((double *)o.data)[0] == -2147483648.0 && ((double *)o.data)[1] == 2147483647.0);
    sp_tensor_free(&o);
    /* Lossy: refused, nothing allocated. */
    CU_ASSERT_EQUAL(sp_tensor_cast_lossless(&s, SP_DTYPE_FLOAT, &o, &err), SP_ERR_MISMATCH);
    CU_ASSERT_PTR_NULL(o.data);
    sp_tensor_free(&s);
}

/* ---- the data folder ---------------------------------------------------- */

struct log_capture {
    int n;
    char text[4096];
};

static void capture_log(void *user, enum sp_log_level level, const char *msg)
{
    struct log_capture *c = user;
    if (level != SP_LOG_WARN)
        return;
    c->n++;
    size_t used = strlen(c->text);
    snprintf(c->text + used, sizeof c->text - used, "%s\n", msg);
}

static const char *base(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static void test_dataset_sorted_and_skips(void)
{
    struct log_capture cap = {0};
    struct sp_logger lg = {capture_log, &cap, SP_LOG_DEBUG};
    struct sp_dataset ds;
    struct sp_error err = {0};
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/", FIX("folder")); /* a trailing slash is fine */
    CU_ASSERT_EQUAL_FATAL(sp_dataset_open(dir, &lg, &ds, &err), SP_OK);
    CU_ASSERT_EQUAL_FATAL(ds.count, 5);
    /* strcmp order: digits < upper case < '_' < lower case; "10" < "9". */
    static const char *want[] = {"10.npz", "9.npz", "B.npz", "_c.npz", "a.npz"};
    for (size_t i = 0; i < 5; i++) {
        CU_ASSERT_STRING_EQUAL(base(ds.files[i]), want[i]);
        CU_ASSERT_PTR_NULL(strstr(ds.files[i], "//"));
    }
    CU_ASSERT_EQUAL(ds.max_bytes, SP_NPZ_DEFAULT_MAX_BYTES);
    /* README.txt, 0.npz.bak, subdir/, dir.npz/ */
    CU_ASSERT_EQUAL(cap.n, 4);
    CU_ASSERT(strstr(cap.text, "folder/README.txt: skipped (not a .npz file)") != NULL);
    CU_ASSERT(strstr(cap.text, "folder/0.npz.bak: skipped") != NULL);
    CU_ASSERT(strstr(cap.text, "folder/subdir: skipped (a folder") != NULL);
    CU_ASSERT(strstr(cap.text, "folder/dir.npz: skipped (a folder") != NULL);
    sp_dataset_free(&ds);
    sp_dataset_free(&ds); /* idempotent */
}

static void test_dataset_errors(void)
{
    struct sp_dataset ds;
    struct sp_error err = {0};
    const char *p = FIX("no_such_folder");
    expect_error(sp_dataset_open(p, NULL, &ds, &err), SP_ERR_IO, &err, "missing", (const char *[]){p, "no such folder", NULL});
    sp_error_clear(&err);
    p = FIX("model.onnx");
    expect_error(sp_dataset_open(p, NULL, &ds, &err), SP_ERR_IO, &err, "file", (const char *[]){p, "not a folder", NULL});
    sp_error_clear(&err);
    const char *empty = sp_test_tmpdir();
    char want[4300];
    snprintf(want, sizeof want, "%s: no .npz files (expected one sample per .npz file)", empty);
    CU_ASSERT_EQUAL(sp_dataset_open(empty, NULL, &ds, &err), SP_ERR_IO);
    CU_ASSERT_STRING_EQUAL(err.msg, want);
    rmdir(empty);
    sp_error_clear(&err);
    p = FIX("folder_no_npz");
    expect_error(sp_dataset_open(p, NULL, &ds, &err), SP_ERR_IO, &err, "no npz",
                 (const char *[]){p, "no .npz files", NULL});
    CU_ASSERT_EQUAL(ds.count, 0);
    CU_ASSERT_PTR_NULL(ds.files);
}

/* ---- conformance ---------------------------------------------------------- */

/* The fixture model's inputs, built by hand so these tests do not depend on the
 * ONNX loader (test_fixture_model checks the loader agrees). */
static struct sp_value_info fake_inputs[4];
static struct sp_model fake_model;

static void init_fake_model(void)
{
    static const char *N = "N", *T = "T";
    fake_inputs[0] = (struct sp_value_info){"x", SP_DTYPE_FLOAT, 4, {-1, 1, 4, 4}, {N}};
    fake_inputs[1] = (struct sp_value_info){"ids", SP_DTYPE_INT64, 2, {-1, 8}, {N}};
    fake_inputs[2] = (struct sp_value_info){"mask", SP_DTYPE_INT32, 2, {-1, -1}, {N, T}};
    fake_inputs[3] = (struct sp_value_info){"w", SP_DTYPE_DOUBLE, 2, {-1, 3}, {N}};
    memset(&fake_model, 0, sizeof fake_model);
    fake_model.n_inputs = 4;
    fake_model.inputs = fake_inputs;
}

static void check_conformed_ok(const struct sp_npz *z, double k, int T)
{
    CU_ASSERT_EQUAL_FATAL(z->count, 4);
    static const char *order[] = {"x", "ids", "mask", "w"};
    static const enum sp_dtype types[] = {SP_DTYPE_FLOAT, SP_DTYPE_INT64, SP_DTYPE_INT32, SP_DTYPE_DOUBLE};
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_STRING_EQUAL(z->names[i], order[i]);
        CU_ASSERT_EQUAL(z->arrays[i].dtype, types[i]);
    }
    const float *x = z->arrays[0].data;
    CU_ASSERT_EQUAL(x[0], (float)k);
    CU_ASSERT_EQUAL(x[15], (float)k + 15.0f / 16);
    CU_ASSERT_EQUAL(((int64_t *)z->arrays[1].data)[7], 7 + 100 * (int64_t)k);
    CU_ASSERT_EQUAL(z->arrays[2].dims[0], T);
    CU_ASSERT_EQUAL(((double *)z->arrays[3].data)[1], -k);
}

static void test_conform_ok(void)
{
    init_fake_model();
    struct sp_npz z;
    struct sp_error err = {0};
    const char *p = FIX("conform/ok.npz");
    CU_ASSERT_EQUAL_FATAL(sp_npz_read(p, 1 << 20, &z, &err), SP_OK);
    CU_ASSERT_STRING_EQUAL(z.names[0], "w"); /* file order, before conforming */
    CU_ASSERT_EQUAL_FATAL(sp_sample_conform(p, &fake_model, &z, &err), SP_OK);
    check_conformed_ok(&z, 3, 5);
    sp_npz_free(&z);

    /* The symbolic dim T takes any length. */
    p = FIX("conform/ok_long_T.npz");
    CU_ASSERT_EQUAL_FATAL(sp_npz_read(p, 1 << 20, &z, &err), SP_OK);
    CU_ASSERT_EQUAL_FATAL(sp_sample_conform(p, &fake_model, &z, &err), SP_OK);
    check_conformed_ok(&z, 4, 9);
    sp_npz_free(&z);
}

static void test_conform_casts(void)
{
    init_fake_model();
    struct sp_npz z;
    struct sp_error err = {0};
    const char *p = FIX("conform/cast_narrow.npz");
    CU_ASSERT_EQUAL_FATAL(sp_npz_read(p, 1 << 20, &z, &err), SP_OK);
    CU_ASSERT_EQUAL(z.arrays[find_key(&z, "x")].dtype, SP_DTYPE_FLOAT16);
    CU_ASSERT_EQUAL_FATAL(sp_sample_conform(p, &fake_model, &z, &err), SP_OK);
    CU_ASSERT_EQUAL(z.arrays[0].dtype, SP_DTYPE_FLOAT);
    CU_ASSERT_EQUAL(((float *)z.arrays[0].data)[3], 1.0f + 3.0f / 16); /* exact in float16 */
    CU_ASSERT_EQUAL(z.arrays[1].dtype, SP_DTYPE_INT64);
    CU_ASSERT_EQUAL(((int64_t *)z.arrays[1].data)[0], -4);
    CU_ASSERT_EQUAL(z.arrays[2].dtype, SP_DTYPE_INT32); /* from int16 */
    CU_ASSERT(((int32_t *)z.arrays[2].data)[0] == 1 && ((int32_t *)z.arrays[2].data)[1] == 0);
    CU_ASSERT_EQUAL(z.arrays[3].dtype, SP_DTYPE_DOUBLE); /* from float32 */
    CU_ASSERT_EQUAL(((double *)z.arrays[3].data)[1], -1.5);
    sp_npz_free(&z);

    p = FIX("conform/cast_ints.npz");
    CU_ASSERT_EQUAL_FATAL(sp_npz_read(p, 1 << 20, &z, &err), SP_OK);
    CU_ASSERT_EQUAL_FATAL(sp_sample_conform(p, &fake_model, &z, &err), SP_OK);
    CU_ASSERT_EQUAL(((float *)z.arrays[0].data)[15], 240.0f);             /* uint8 -> float32 */
    CU_ASSERT_EQUAL(((int64_t *)z.arrays[1].data)[0], 1);                 /* bool -> int64 */
    CU_ASSERT_EQUAL(((int64_t *)z.arrays[1].data)[1], 0);
    CU_ASSERT_EQUAL(((int32_t *)z.arrays[2].data)[0], 255);               /* uint8 -> int32 */
    CU_ASSERT_EQUAL(((double *)z.arrays[3].data)[0], -2147483648.0);      /* int32 -> float64 */
    sp_npz_free(&z);
}

struct conform_case {
    const char *file;
    const char *needles[4];
};

static void test_conform_errors(void)
{
    init_fake_model();
    static const struct conform_case cases[] = {
        {"missing_key", {"key 'ids' is missing", "model inputs: 'x', 'ids', 'mask', 'w'", "keys in the file: 'x', 'mask', 'w'"}},
        {"extra_key", {"key 'label' is not a model input"}},
        {"wrong_rank", {"key 'x': expected rank 3 (the model's input rank minus the batch dimension)",
                        "shape [1, 4, 4] (model input [N, 1, 4, 4] without the batch dimension)", "got rank 2 [4, 4]"}},
        {"batch_included", {"key 'x': expected rank 3", "got rank 4 [1, 1, 4, 4]"}},
        {"wrong_dim", {"key 'x': expected shape [1, 4, 4] (model input [N, 1, 4, 4] without the batch dimension), "
                       "got [1, 4, 5]"}},
        {"wrong_dim_ids", {"key 'ids': expected shape [8] (model input [N, 8] without the batch dimension), got [9]"}},
        {"lossy_f64_to_f32", {"key 'x': dtype float64 cannot be cast to the model input's float32 without loss"}},
        {"lossy_i64_to_i32", {"key 'mask': dtype int64 cannot be cast to the model input's int32"}},
        {"lossy_f32_to_i64", {"key 'ids': dtype float32 cannot be cast to the model input's int64"}},
        {"lossy_i64_to_f64", {"key 'w': dtype int64 cannot be cast to the model input's float64"}},
        {"lossy_u32_to_i32", {"key 'mask': dtype uint32 cannot be cast"}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char rel[256];
        snprintf(rel, sizeof rel, "tests/fixtures/npz/conform/%s.npz", cases[c].file);
        char p[4200];
        snprintf(p, sizeof p, "%s", sp_test_source_path(rel));
        struct sp_npz z;
        struct sp_error err = {0};
        CU_ASSERT_EQUAL_FATAL(sp_npz_read(p, 1 << 20, &z, &err), SP_OK);
        int count = z.count;
        char *first = z.names[0];
        const char *needles[6] = {p};
        for (int i = 0; i < 4 && cases[c].needles[i]; i++)
            needles[i + 1] = cases[c].needles[i];
        expect_error(sp_sample_conform(p, &fake_model, &z, &err), SP_ERR_MISMATCH, &err, cases[c].file, needles);
        CU_ASSERT(strncmp(err.msg, p, strlen(p)) == 0); /* the message starts with the file */
        /* A refused sample is left as it was read. */
        CU_ASSERT_EQUAL(z.count, count);
        CU_ASSERT_PTR_EQUAL(z.names[0], first);
        sp_npz_free(&z);
    }
}

static void test_dataset_load(void)
{
    init_fake_model();
    struct sp_dataset ds;
    struct sp_error err = {0};
    CU_ASSERT_EQUAL_FATAL(sp_dataset_open(FIX("folder"), NULL, &ds, &err), SP_OK);
    /* 9.npz, 10.npz, a.npz, B.npz, _c.npz were written as samples 1..5. */
    static const double k_in_order[] = {2, 1, 4, 5, 3};
    for (size_t i = 0; i < ds.count; i++) {
        struct sp_npz z;
        CU_ASSERT_EQUAL_FATAL(sp_dataset_load(&ds, i, &fake_model, &z, &err), SP_OK);
        check_conformed_ok(&z, k_in_order[i], 5);
        sp_npz_free(&z);
    }
    struct sp_npz z;
    CU_ASSERT_EQUAL(sp_dataset_load(&ds, 5, &fake_model, &z, &err), SP_ERR_USAGE);
    CU_ASSERT(strstr(err.msg, "sample 5 requested, the folder holds 5") != NULL);
    sp_dataset_free(&ds);

    sp_error_clear(&err);
    CU_ASSERT_EQUAL_FATAL(sp_dataset_open(FIX("folder_bad"), NULL, &ds, &err), SP_OK);
    expect_error(sp_dataset_load(&ds, 0, &fake_model, &z, &err), SP_ERR_FORMAT, &err, "bad",
                 (const char *[]){"folder_bad/0.npz: not a valid .npz (zip) file", NULL});
    CU_ASSERT_EQUAL(z.count, 0);
    sp_error_clear(&err);
    CU_ASSERT_EQUAL(sp_dataset_load(&ds, 1, &fake_model, &z, &err), SP_OK);
    sp_npz_free(&z);
    /* The per-array limit applies to samples. */
    ds.max_bytes = 16;
    expect_error(sp_dataset_load(&ds, 1, &fake_model, &z, &err), SP_ERR_NOMEM, &err, "limit",
                 (const char *[]){"folder_bad/1.npz: key '", NULL});
    sp_dataset_free(&ds);
}

/* The ONNX fixture model, through the real loader: its inputs are what the
 * hand-built model above assumes, and a sample conforms to it. */
static void test_fixture_model(void)
{
    struct sp_model *m = NULL;
    struct sp_error err = {0};
    enum sp_status st = sp_model_load(FIX("model.onnx"), &m, &err);
    if (st)
        fprintf(stderr, "\n  model.onnx: %s\n", err.msg);
    CU_ASSERT_EQUAL_FATAL(st, SP_OK);
    init_fake_model();
    CU_ASSERT_EQUAL_FATAL(sp_model_num_inputs(m), 4);
    for (int i = 0; i < 4; i++) {
        const struct sp_value_info *vi = sp_model_input(m, i), *fi = &fake_inputs[i];
        CU_ASSERT_STRING_EQUAL(vi->name, fi->name);
        CU_ASSERT_EQUAL(vi->dtype, fi->dtype);
        CU_ASSERT_EQUAL_FATAL(vi->ndim, fi->ndim);
        for (int k = 0; k < vi->ndim; k++)
            CU_ASSERT_EQUAL(vi->dims[k], fi->dims[k]);
        CU_ASSERT_STRING_EQUAL(vi->dim_params[0], "N");
    }
    struct sp_dataset ds;
    CU_ASSERT_EQUAL_FATAL(sp_dataset_open(FIX("folder"), NULL, &ds, &err), SP_OK);
    struct sp_npz z;
    CU_ASSERT_EQUAL(sp_dataset_load(&ds, 0, m, &z, &err), SP_OK);
    check_conformed_ok(&z, 2, 5);
    sp_npz_free(&z);
    sp_dataset_free(&ds);
    sp_model_free(m);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("npz_decoding", NULL, NULL);
    CU_add_test(s, "every array decodes to numpy's dtype, shape and values", test_expected_values);
    CU_add_test(s, "spot values: float16 bits, int8/uint64 extremes, bool", test_spot_values);
    CU_add_test(s, "scalars, zero-size arrays, NaN and Inf read fine", test_scalars_empty_nan);
    CU_add_test(s, "a standalone .npy file reads with a size bound", test_npy_file);
    s = CU_add_suite("npz_errors", NULL, NULL);
    CU_add_test(s, "each hostile or unsupported file gets its status and names file and key", test_error_files);
    CU_add_test(s, "a member inflating past its declared size is refused", test_bomb_lies_message);
    CU_add_test(s, "truncated and mutated .npy images never crash or mis-size", test_npy_hostile_bytes);
    s = CU_add_suite("npz_writer", NULL, NULL);
    CU_add_test(s, "round trip, atomic replace, byte-identical to the np.load-checked file", test_writer_round_trip);
    CU_add_test(s, "every dtype survives read, write, read", test_writer_all_dtypes);
    CU_add_test(s, "npy header is numpy's layout with 64-byte aligned data", test_npy_serialize_layout);
    s = CU_add_suite("casting", NULL, NULL);
    CU_add_test(s, "lossless-cast table equals numpy's safe casting (minus int64->float64)", test_cast_table_matches_numpy);
    CU_add_test(s, "cast values: float16 bits, signs, subnormals, int32 extremes", test_cast_values);
    s = CU_add_suite("dataset", NULL, NULL);
    CU_add_test(s, "files sorted by strcmp, non-npz entries skipped with a warning", test_dataset_sorted_and_skips);
    CU_add_test(s, "missing, not a folder, empty, no .npz: one-line errors", test_dataset_errors);
    s = CU_add_suite("conformance", NULL, NULL);
    CU_add_test(s, "a valid sample is reordered to model input order", test_conform_ok);
    CU_add_test(s, "lossless casts to the model's dtypes keep values", test_conform_casts);
    CU_add_test(s, "missing/extra key, rank, fixed dim, lossy dtype: file + key + expected vs got", test_conform_errors);
    CU_add_test(s, "dataset_load returns samples in sorted order, conformed", test_dataset_load);
    CU_add_test(s, "the fixture ONNX model loads with the inputs these tests assume", test_fixture_model);
    return sp_test_main();
}
