/*
 * ONNX model I/O: loading, validation of hostile files, external data, atomic
 * save, and TensorProto conversion.
 *
 * The round trip runs over every model of Debian's libonnx-testdata; the bad
 * files are built here in a temporary folder from real models, so each case
 * differs from a valid model in exactly the way its name says.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "onnx/model_internal.h"
#include "testutil.h"

#define TESTDATA "/usr/share/libonnx-testdata/data"

/* ---- helpers ---------------------------------------------------------------------- */

/* Temporary folders made by the tests, removed when the suite ends. */
static char made_dirs[64][4096];
static int n_made_dirs;

static const char *tmpdir(void)
{
    const char *d = sp_test_tmpdir();
    if (n_made_dirs < 64)
        snprintf(made_dirs[n_made_dirs++], sizeof made_dirs[0], "%s", d);
    return d;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    chmod(path, 0700);
    remove(path);
    return 0;
}

static int remove_tmpdirs(void)
{
    for (int i = 0; i < n_made_dirs; i++)
        nftw(made_dirs[i], rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}


static const char *join(const char *dir, const char *name)
{
    static char buf[8][8192];
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, sizeof buf[0], "%s/%s", dir, name);
    return b;
}

static struct sp_model *load_ok(const char *path)
{
    struct sp_model *m = NULL;
    struct sp_error err = {0};
    enum sp_status st = sp_model_load(path, &m, &err);
    if (st)
        fprintf(stderr, "unexpected load failure: %s\n", err.msg);
    CU_ASSERT_FATAL(st == SP_OK);
    return m;
}

static void save_serialized(const struct sp_model *m, const char *path)
{
    void *buf;
    size_t len;
    struct sp_error err = {0};
    CU_ASSERT_FATAL(sp_model_serialize(m, &buf, &len, &err) == SP_OK);
    sp_test_write_file(path, buf, len);
    free(buf);
}

/* Loads `path`, expecting failure with `want`; the message must name the file
 * and contain `needle`. */
static void expect_load_error(const char *path, enum sp_status want, const char *needle)
{
    struct sp_model *m = (struct sp_model *)1;
    struct sp_error err = {0};
    enum sp_status st = sp_model_load(path, &m, &err);
    printf("\n    %-22s -> [%s] %s", needle, sp_status_str(st), err.msg);
    CU_ASSERT_EQUAL(st, want);
    CU_ASSERT_PTR_NULL(m);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, path));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, needle));
    CU_ASSERT_PTR_NULL(strchr(err.msg, '\n'));
    if (st == SP_OK)
        sp_model_free(m);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static bool file_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

static Onnx__TensorProto *find_init(struct sp_model *m, const char *name)
{
    for (size_t i = 0; i < m->proto->graph->n_initializer; i++)
        if (!strcmp(m->proto->graph->initializer[i]->name, name))
            return m->proto->graph->initializer[i];
    return NULL;
}

/* Turns an in-memory initializer back into an external reference, with pieces
 * from malloc so the model frees them. NULL offset/length: key left out. */
static void make_external(Onnx__TensorProto *tp, const char *loc, const char *off, const char *len)
{
    free(tp->raw_data.data);
    tp->raw_data.data = NULL;
    tp->raw_data.len = 0;
    tp->has_raw_data = 0;
    tp->has_data_location = 1;
    tp->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    const char *keys[3] = {"location", "offset", "length"};
    const char *vals[3] = {loc, off, len};
    tp->external_data = calloc(3, sizeof *tp->external_data);
    for (int i = 0; i < 3; i++) {
        if (!vals[i])
            continue;
        Onnx__StringStringEntryProto *e = malloc(sizeof *e);
        onnx__string_string_entry_proto__init(e);
        e->key = strdup(keys[i]);
        e->value = strdup(vals[i]);
        tp->external_data[tp->n_external_data++] = e;
    }
}

static const char *fixture_ext(void) { return sp_test_source_path("tests/fixtures/onnx/ext_one_file/model.onnx"); }

/* The fixture's closed-form values (tools/make_onnx_fixtures.py). */
static void check_fixture_values(struct sp_model *m)
{
    struct sp_tensor t;
    struct sp_error err = {0};
    CU_ASSERT_FATAL(sp_tensor_from_proto(find_init(m, "W"), &t, "W", &err) == SP_OK);
    CU_ASSERT_EQUAL(t.dtype, SP_DTYPE_FLOAT);
    CU_ASSERT_EQUAL(t.ndim, 2);
    CU_ASSERT_EQUAL(t.dims[0], 4);
    CU_ASSERT_EQUAL(t.dims[1], 3);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++)
            CU_ASSERT_EQUAL(((float *)t.data)[i * 3 + j], i * 0.5f - j * 0.25f);
    sp_tensor_free(&t);
    CU_ASSERT_FATAL(sp_tensor_from_proto(find_init(m, "B"), &t, "B", &err) == SP_OK);
    CU_ASSERT_EQUAL(t.dtype, SP_DTYPE_INT64);
    CU_ASSERT_EQUAL(t.dims[0], 3);
    for (int j = 0; j < 3; j++)
        CU_ASSERT_EQUAL(((int64_t *)t.data)[j], 100 + j);
    sp_tensor_free(&t);
    /* Loaded models are self-contained: no external reference survives. */
    for (size_t i = 0; i < m->proto->graph->n_initializer; i++) {
        CU_ASSERT_EQUAL(m->proto->graph->initializer[i]->n_external_data, 0);
        CU_ASSERT_FALSE(m->proto->graph->initializer[i]->has_data_location);
    }
}

/* ---- (1) round trip over libonnx-testdata --------------------------------------------- */

static void test_roundtrip_every_testdata_model(void)
{
    static const char *const sets[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};
    int checked = 0, failed = 0;
    for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s/%s", TESTDATA, sets[s]);
        DIR *d = opendir(dir);
        CU_ASSERT_PTR_NOT_NULL_FATAL(d);
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char path[1024];
            snprintf(path, sizeof path, "%s/%s/model.onnx", dir, e->d_name);
            size_t len;
            void *orig = sp_test_read_file(path, &len);
            if (!orig)
                continue;
            struct sp_model *m = NULL, *c = NULL;
            struct sp_error err = {0};
            void *buf = NULL, *cbuf = NULL;
            size_t blen = 0, clen = 0;
            bool ok = sp_model_load(path, &m, &err) == SP_OK && sp_model_serialize(m, &buf, &blen, &err) == SP_OK &&
                      blen == len && !memcmp(buf, orig, len);
            /* A clone must be just as faithful. */
            ok = ok && sp_model_clone(m, &c, &err) == SP_OK && sp_model_serialize(c, &cbuf, &clen, &err) == SP_OK &&
                 clen == len && !memcmp(cbuf, orig, len);
            if (!ok && failed++ < 10)
                fprintf(stderr, "round trip failed: %s (%s)\n", path, err.msg);
            checked++;
            free(buf);
            free(cbuf);
            free(orig);
            sp_model_free(m);
            sp_model_free(c);
        }
        closedir(d);
    }
    printf("\n    checked %d libonnx-testdata models, %d failed ", checked, failed);
    CU_ASSERT(checked >= 900);
    CU_ASSERT_EQUAL(failed, 0);
}

static void test_save_gives_identical_file(void)
{
    const char *dir = tmpdir();
    const char *src = TESTDATA "/pytorch-operator/test_operator_conv/model.onnx";
    struct sp_model *m = load_ok(src);
    struct sp_error err = {0};
    const char *dst = join(dir, "out.onnx");
    CU_ASSERT_EQUAL_FATAL(sp_model_save(m, dst, &err), SP_OK);
    size_t a, b;
    void *x = sp_test_read_file(src, &a), *y = sp_test_read_file(dst, &b);
    CU_ASSERT_FATAL(x && y);
    CU_ASSERT_EQUAL(a, b);
    CU_ASSERT(a == b && !memcmp(x, y, a));
    struct stat sb;
    CU_ASSERT_EQUAL(stat(dst, &sb), 0);
    CU_ASSERT(sb.st_mode & S_IRUSR);
    /* Only the model: no temp file, no data file for a small model. */
    CU_ASSERT_EQUAL(count_entries(dir), 1);
    free(x);
    free(y);
    sp_model_free(m);
}

/* ---- inputs / outputs ------------------------------------------------------------------ */

static void test_inputs_exclude_initializers(void)
{
    /* IR 3: the initializers "1" and "2" are also listed as graph inputs. */
    struct sp_model *m = load_ok(TESTDATA "/pytorch-converted/test_Conv2d/model.onnx");
    CU_ASSERT_EQUAL(sp_model_ir_version(m), 3);
    CU_ASSERT_EQUAL(sp_model_opset(m), 6);
    CU_ASSERT_EQUAL_FATAL(sp_model_num_inputs(m), 1);
    const struct sp_value_info *in = sp_model_input(m, 0);
    CU_ASSERT_STRING_EQUAL(in->name, "0");
    CU_ASSERT_EQUAL(in->dtype, SP_DTYPE_FLOAT);
    CU_ASSERT_EQUAL_FATAL(in->ndim, 4);
    int64_t want[4] = {2, 3, 7, 5};
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(in->dims[i], want[i]);
    CU_ASSERT_EQUAL_FATAL(sp_model_num_outputs(m), 1);
    CU_ASSERT_EQUAL(sp_model_output(m, 0)->dims[1], 4);
    CU_ASSERT_PTR_NULL(sp_model_input(m, 1));
    CU_ASSERT_EQUAL(sp_model_num_nodes(m), 1);
    sp_model_free(m);
}

static void test_symbolic_and_missing_dims(void)
{
    struct sp_model *m = load_ok(fixture_ext());
    CU_ASSERT_EQUAL_FATAL(sp_model_num_inputs(m), 1);
    const struct sp_value_info *in = sp_model_input(m, 0);
    CU_ASSERT_STRING_EQUAL(in->name, "X");
    CU_ASSERT_EQUAL(in->ndim, 2);
    CU_ASSERT_EQUAL(in->dims[0], -1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(in->dim_params[0]);
    CU_ASSERT_STRING_EQUAL(in->dim_params[0], "batch");
    CU_ASSERT_EQUAL(in->dims[1], 4);
    CU_ASSERT_PTR_NULL(in->dim_params[1]);

    /* Edit the graph: drop the batch dim's value entirely and refresh. */
    Onnx__TensorShapeProto__Dimension *d0 = m->proto->graph->input[0]->type->tensor_type->shape->dim[0];
    free(d0->dim_param);
    d0->dim_param = NULL;
    d0->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE__NOT_SET;
    struct sp_error err = {0};
    CU_ASSERT_EQUAL_FATAL(sp_model_refresh(m, &err), SP_OK);
    in = sp_model_input(m, 0);
    CU_ASSERT_EQUAL(in->dims[0], -1);
    CU_ASSERT_PTR_NULL(in->dim_params[0]);
    sp_model_free(m);
}

/* ---- (2) bad files ---------------------------------------------------------------------- */

static const char *BASE_MODEL = TESTDATA "/pytorch-operator/test_operator_conv/model.onnx";

static void test_unreadable_and_empty(void)
{
    const char *dir = tmpdir();
    expect_load_error(join(dir, "nope.onnx"), SP_ERR_IO, "cannot open");
    expect_load_error(dir, SP_ERR_IO, "folder");
    sp_test_write_file(join(dir, "empty.onnx"), "", 0);
    expect_load_error(join(dir, "empty.onnx"), SP_ERR_FORMAT, "empty");
}

static void test_not_protobuf(void)
{
    const char *dir = tmpdir();
    unsigned char junk[4096];
    unsigned x = 12345;
    for (size_t i = 0; i < sizeof junk; i++) {
        x = x * 1103515245u + 12345u;
        junk[i] = (unsigned char)(x >> 16);
    }
    sp_test_write_file(join(dir, "random.onnx"), junk, sizeof junk);
    expect_load_error(join(dir, "random.onnx"), SP_ERR_FORMAT, "not");
    const char *text = "ir_version: 8\ngraph { }\n"; /* text format is not the binary format */
    sp_test_write_file(join(dir, "text.onnx"), text, strlen(text));
    expect_load_error(join(dir, "text.onnx"), SP_ERR_FORMAT, "not an ONNX model");
    /* Valid protobuf, wrong message: a TensorProto from the test data. */
    expect_load_error(TESTDATA "/node/test_abs/test_data_set_0/input_0.pb", SP_ERR_FORMAT, "not a");
}

static void test_truncated(void)
{
    const char *dir = tmpdir();
    size_t len;
    void *buf = sp_test_read_file(BASE_MODEL, &len);
    CU_ASSERT_FATAL(buf && len > 1000);
    sp_test_write_file(join(dir, "half.onnx"), buf, len / 2);
    expect_load_error(join(dir, "half.onnx"), SP_ERR_FORMAT, "truncated");
    sp_test_write_file(join(dir, "minus1.onnx"), buf, len - 1);
    expect_load_error(join(dir, "minus1.onnx"), SP_ERR_FORMAT, "truncated");
    free(buf);
}

static void test_header_checks(void)
{
    const char *dir = tmpdir();
    struct sp_model *m = load_ok(BASE_MODEL);

    int64_t ir = m->proto->ir_version;
    m->proto->ir_version = 99;
    save_serialized(m, join(dir, "ir99.onnx"));
    expect_load_error(join(dir, "ir99.onnx"), SP_ERR_UNSUPPORTED, "IR version 99");
    m->proto->has_ir_version = 0;
    save_serialized(m, join(dir, "ir_missing.onnx"));
    expect_load_error(join(dir, "ir_missing.onnx"), SP_ERR_UNSUPPORTED, "IR version 0");
    m->proto->has_ir_version = 1;
    m->proto->ir_version = ir;

    Onnx__OperatorSetIdProto *op = m->proto->opset_import[0];
    int64_t v = op->version;
    op->version = 9999;
    save_serialized(m, join(dir, "opset9999.onnx"));
    expect_load_error(join(dir, "opset9999.onnx"), SP_ERR_UNSUPPORTED, "opset 9999");
    op->version = 0;
    save_serialized(m, join(dir, "opset0.onnx"));
    expect_load_error(join(dir, "opset0.onnx"), SP_ERR_UNSUPPORTED, "opset 0");
    op->version = v;

    /* Other domains only, but a node in the default domain. */
    char *dom = op->domain;
    op->domain = "com.example";
    save_serialized(m, join(dir, "no_default_opset.onnx"));
    op->domain = dom;
    expect_load_error(join(dir, "no_default_opset.onnx"), SP_ERR_FORMAT, "imports no opset");

    Onnx__GraphProto *g = m->proto->graph;
    m->proto->graph = NULL;
    save_serialized(m, join(dir, "nograph.onnx"));
    m->proto->graph = g;
    expect_load_error(join(dir, "nograph.onnx"), SP_ERR_FORMAT, "no graph");

    /* Sanity: the unmodified model still loads from the same folder. */
    save_serialized(m, join(dir, "good.onnx"));
    sp_model_free(load_ok(join(dir, "good.onnx")));
    sp_model_free(m);
}

static void test_absurd_input_rank(void)
{
    const char *dir = tmpdir();
    struct sp_model *m = load_ok(fixture_ext());
    Onnx__TensorShapeProto *sh = m->proto->graph->input[0]->type->tensor_type->shape;
    size_t n = SP_MAX_DIMS + 1;
    sh->dim = realloc(sh->dim, n * sizeof *sh->dim);
    for (size_t i = sh->n_dim; i < n; i++) {
        sh->dim[i] = malloc(sizeof **sh->dim);
        onnx__tensor_shape_proto__dimension__init(sh->dim[i]);
        sh->dim[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        sh->dim[i]->dim_value = 1;
    }
    sh->n_dim = n;
    save_serialized(m, join(dir, "rank9.onnx"));
    expect_load_error(join(dir, "rank9.onnx"), SP_ERR_UNSUPPORTED, "rank 9");
    /* Same for an output. */
    sp_model_free(m);
}

static void test_bad_initializers(void)
{
    const char *dir = tmpdir();
    struct sp_model *m = load_ok(fixture_ext());
    Onnx__TensorProto *w = find_init(m, "W");
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);

    /* raw_data one float short of the 4x3 dims */
    w->raw_data.len -= 4;
    save_serialized(m, join(dir, "short_raw.onnx"));
    expect_load_error(join(dir, "short_raw.onnx"), SP_ERR_FORMAT, "'W'");
    w->raw_data.len += 4;

    /* dims claiming 2^40 x 2^40 elements: refused without allocating */
    int64_t d0 = w->dims[0], d1 = w->dims[1];
    w->dims[0] = (int64_t)1 << 40;
    w->dims[1] = (int64_t)1 << 40;
    save_serialized(m, join(dir, "huge_dims.onnx"));
    expect_load_error(join(dir, "huge_dims.onnx"), SP_ERR_FORMAT, "absurdly large");
    w->dims[1] = d1;
    w->dims[0] = -3;
    save_serialized(m, join(dir, "negative_dim.onnx"));
    expect_load_error(join(dir, "negative_dim.onnx"), SP_ERR_FORMAT, "invalid");
    w->dims[0] = d0;
    w->dims[1] = d1;

    /* a typed field with the wrong count: B is int64 [3] */
    Onnx__TensorProto *b = find_init(m, "B");
    void *raw = b->raw_data.data;
    size_t raw_len = b->raw_data.len;
    int64_t vals[2] = {1, 2};
    b->raw_data.data = NULL;
    b->raw_data.len = 0;
    b->has_raw_data = 0;
    b->int64_data = vals;
    b->n_int64_data = 2;
    save_serialized(m, join(dir, "typed_count.onnx"));
    expect_load_error(join(dir, "typed_count.onnx"), SP_ERR_FORMAT, "typed values");
    b->int64_data = NULL;
    b->n_int64_data = 0;
    b->raw_data.data = raw;
    b->raw_data.len = raw_len;
    b->has_raw_data = 1;

    /* unknown data type */
    w->data_type = 42;
    save_serialized(m, join(dir, "dtype42.onnx"));
    expect_load_error(join(dir, "dtype42.onnx"), SP_ERR_UNSUPPORTED, "data type 42");
    w->data_type = SP_DTYPE_FLOAT;

    /* two initializers named W */
    char *bname = b->name;
    b->name = "W";
    save_serialized(m, join(dir, "dup.onnx"));
    b->name = bname;
    expect_load_error(join(dir, "dup.onnx"), SP_ERR_FORMAT, "used more than once");
    sp_model_free(m);
}

/* ---- external data: errors ----------------------------------------------------------- */

/* Writes the fixture model to dir/name with W referring to (loc, off, len). */
static void write_ext_model(const char *dir, const char *name, const char *loc, const char *off, const char *len)
{
    struct sp_model *m = load_ok(fixture_ext());
    make_external(find_init(m, "W"), loc, off, len);
    save_serialized(m, join(dir, name));
    sp_model_free(m);
}

static void test_external_errors(void)
{
    char dir[4096], outside[4096];
    snprintf(dir, sizeof dir, "%s", tmpdir());
    snprintf(outside, sizeof outside, "%s", tmpdir());
    unsigned char bytes[64] = {0};
    sp_test_write_file(join(dir, "w.bin"), bytes, 48);
    sp_test_write_file(join(dir, "short.bin"), bytes, 40);
    sp_test_write_file(join(outside, "secret.bin"), bytes, 48);

    /* A correct reference first, so every failure below is the one named. */
    write_ext_model(dir, "ok.onnx", "w.bin", "0", "48");
    sp_model_free(load_ok(join(dir, "ok.onnx")));

    write_ext_model(dir, "missing.onnx", "nothere.bin", "0", "48");
    expect_load_error(join(dir, "missing.onnx"), SP_ERR_IO, "missing");
    write_ext_model(dir, "short.onnx", "short.bin", "0", "48");
    expect_load_error(join(dir, "short.onnx"), SP_ERR_FORMAT, "too short");
    write_ext_model(dir, "offset.onnx", "w.bin", "8", "48");
    expect_load_error(join(dir, "offset.onnx"), SP_ERR_FORMAT, "too short");
    write_ext_model(dir, "hugeoff.onnx", "w.bin", "18446744073709551615", "48");
    expect_load_error(join(dir, "hugeoff.onnx"), SP_ERR_FORMAT, "too short");
    write_ext_model(dir, "badnum.onnx", "w.bin", "-4", "48");
    expect_load_error(join(dir, "badnum.onnx"), SP_ERR_FORMAT, "not a number");
    write_ext_model(dir, "len.onnx", "w.bin", "0", "44");
    expect_load_error(join(dir, "len.onnx"), SP_ERR_FORMAT, "disagrees with its dims");
    /* No length key: the rest of the file, which must then match the dims. */
    write_ext_model(dir, "nolen.onnx", "short.bin", "0", NULL);
    expect_load_error(join(dir, "nolen.onnx"), SP_ERR_FORMAT, "its dims need 48");
    write_ext_model(dir, "noloc.onnx", "", "0", "48");
    expect_load_error(join(dir, "noloc.onnx"), SP_ERR_FORMAT, "without a location");

    char rel[4096];
    snprintf(rel, sizeof rel, "../%s/secret.bin", strrchr(outside, '/') + 1);
    write_ext_model(dir, "dotdot.onnx", rel, "0", "48");
    expect_load_error(join(dir, "dotdot.onnx"), SP_ERR_FORMAT, "escapes");
    write_ext_model(dir, "dotdot2.onnx", "sub/../../x", "0", "48");
    expect_load_error(join(dir, "dotdot2.onnx"), SP_ERR_FORMAT, "escapes");
    write_ext_model(dir, "absolute.onnx", join(outside, "secret.bin"), "0", "48");
    expect_load_error(join(dir, "absolute.onnx"), SP_ERR_FORMAT, "absolute");

    /* A symlink inside the folder that leads out of it. */
    CU_ASSERT_EQUAL_FATAL(symlink(join(outside, "secret.bin"), join(dir, "link.bin")), 0);
    write_ext_model(dir, "symlink.onnx", "link.bin", "0", "48");
    expect_load_error(join(dir, "symlink.onnx"), SP_ERR_FORMAT, "outside the model's folder");
    /* ...and one whose folder component is the link. */
    CU_ASSERT_EQUAL_FATAL(symlink(outside, join(dir, "linkdir")), 0);
    write_ext_model(dir, "symlinkdir.onnx", "linkdir/secret.bin", "0", "48");
    expect_load_error(join(dir, "symlinkdir.onnx"), SP_ERR_FORMAT, "outside the model's folder");
    /* A symlink staying inside is fine. */
    CU_ASSERT_EQUAL_FATAL(symlink("w.bin", join(dir, "inner.bin")), 0);
    write_ext_model(dir, "symlink_in.onnx", "inner.bin", "0", "48");
    sp_model_free(load_ok(join(dir, "symlink_in.onnx")));

    /* From memory without a folder, external data cannot be resolved. */
    size_t len;
    void *buf = sp_test_read_file(join(dir, "ok.onnx"), &len);
    struct sp_model *m = NULL;
    struct sp_error err = {0};
    CU_ASSERT_EQUAL(sp_model_load_buffer(buf, len, "buffer.onnx", NULL, &m, &err), SP_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "buffer.onnx"));
    CU_ASSERT_PTR_NULL(m);
    free(buf);
}

/* ---- (3) external data that works ------------------------------------------------------ */

static void test_python_external_fixtures(void)
{
    struct sp_model *m = load_ok(fixture_ext());
    check_fixture_values(m);
    sp_model_free(m);
    m = load_ok(sp_test_source_path("tests/fixtures/onnx/ext_per_tensor/model.onnx"));
    check_fixture_values(m);
    sp_model_free(m);
}

/* Saves `src` with every initializer forced external, checks the files on
 * disk, reloads and compares every initializer's values with the original. */
static void check_forced_external(const char *src)
{
    const char *dir = tmpdir();
    struct sp_model *m = load_ok(src);
    struct sp_model_save_opts opts = {.max_inline_bytes = 0, .external_min_bytes = 0};
    struct sp_error err = {0};
    const char *dst = join(dir, "model.onnx");
    CU_ASSERT_EQUAL_FATAL(sp_model_save_ex(m, dst, &opts, &err), SP_OK);
    CU_ASSERT(file_exists(join(dir, "model.onnx.data")));
    CU_ASSERT_EQUAL(count_entries(dir), 2);

    /* The file on disk follows the convention: relative location, aligned offsets. */
    size_t len;
    void *buf = sp_test_read_file(dst, &len);
    Onnx__ModelProto *raw = onnx__model_proto__unpack(NULL, len, buf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
    int n_ext = 0;
    for (size_t i = 0; i < raw->graph->n_initializer; i++) {
        Onnx__TensorProto *t = raw->graph->initializer[i];
        if (t->data_location != ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
            continue;
        n_ext++;
        CU_ASSERT_EQUAL(t->raw_data.len, 0);
        for (size_t k = 0; k < t->n_external_data; k++) {
            if (!strcmp(t->external_data[k]->key, "location"))
                CU_ASSERT_STRING_EQUAL(t->external_data[k]->value, "model.onnx.data");
            if (!strcmp(t->external_data[k]->key, "offset"))
                CU_ASSERT_EQUAL(strtoull(t->external_data[k]->value, NULL, 10) % 4096, 0);
        }
    }
    CU_ASSERT(n_ext >= 1);
    onnx__model_proto__free_unpacked(raw, NULL);
    free(buf);

    struct sp_model *back = load_ok(dst);
    CU_ASSERT_EQUAL_FATAL(back->proto->graph->n_initializer, m->proto->graph->n_initializer);
    for (size_t i = 0; i < m->proto->graph->n_initializer; i++) {
        struct sp_tensor a, b;
        CU_ASSERT_FATAL(sp_tensor_from_proto(m->proto->graph->initializer[i], &a, NULL, &err) == SP_OK);
        CU_ASSERT_FATAL(sp_tensor_from_proto(back->proto->graph->initializer[i], &b, NULL, &err) == SP_OK);
        CU_ASSERT_EQUAL(a.dtype, b.dtype);
        CU_ASSERT_EQUAL(a.ndim, b.ndim);
        CU_ASSERT_EQUAL(sp_tensor_nbytes(&a), sp_tensor_nbytes(&b));
        CU_ASSERT(!memcmp(a.data, b.data, sp_tensor_nbytes(&a)));
        sp_tensor_free(&a);
        sp_tensor_free(&b);
    }
    CU_ASSERT_EQUAL(sp_model_num_nodes(back), sp_model_num_nodes(m));
    sp_model_free(back);
    sp_model_free(m);
}

static void test_forced_external_save_roundtrip(void)
{
    check_forced_external(BASE_MODEL);                                 /* raw_data initializers */
    check_forced_external(TESTDATA "/simple/test_sequence_model3/model.onnx"); /* int64_data ones */
    check_forced_external(fixture_ext());

    /* A model that was raw_data-only saves back byte-identical after the trip. */
    const char *dir = tmpdir();
    struct sp_model *m = load_ok(BASE_MODEL);
    struct sp_model_save_opts opts = {.max_inline_bytes = 0, .external_min_bytes = 0};
    struct sp_error err = {0};
    CU_ASSERT_EQUAL_FATAL(sp_model_save_ex(m, join(dir, "m.onnx"), &opts, &err), SP_OK);
    struct sp_model *back = load_ok(join(dir, "m.onnx"));
    void *a, *b;
    size_t la, lb;
    CU_ASSERT_FATAL(sp_model_serialize(m, &a, &la, &err) == SP_OK && sp_model_serialize(back, &b, &lb, &err) == SP_OK);
    CU_ASSERT(la == lb && !memcmp(a, b, la));
    free(a);
    free(b);
    sp_model_free(back);

    /* The size threshold keeps small tensors inline. */
    opts.external_min_bytes = 1 << 30;
    CU_ASSERT_EQUAL_FATAL(sp_model_save_ex(m, join(dir, "n.onnx"), &opts, &err), SP_OK);
    CU_ASSERT_FALSE(file_exists(join(dir, "n.onnx.data")));
    sp_model_free(m);
}

/* ---- (4) atomic save --------------------------------------------------------------------- */

static void test_save_failures_leave_nothing(void)
{
    const char *dir = tmpdir();
    struct sp_model *m = load_ok(BASE_MODEL);
    struct sp_error err = {0};

    const char *p = join(dir, "no/such/folder/model.onnx");
    CU_ASSERT_EQUAL(sp_model_save(m, p, &err), SP_ERR_WRITE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, p));
    CU_ASSERT_EQUAL(count_entries(dir), 0);

    /* Target is a folder: the rename fails after the temp was written. */
    CU_ASSERT_EQUAL_FATAL(mkdir(join(dir, "taken"), 0755), 0);
    sp_test_write_file(join(dir, "taken/keep"), "x", 1);
    sp_error_clear(&err);
    CU_ASSERT_EQUAL(sp_model_save(m, join(dir, "taken"), &err), SP_ERR_WRITE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, join(dir, "taken")));
    CU_ASSERT_EQUAL(count_entries(dir), 1);
    sp_error_clear(&err);
    struct sp_model_save_opts opts = {.max_inline_bytes = 0, .external_min_bytes = 0};
    CU_ASSERT_EQUAL(sp_model_save_ex(m, join(dir, "taken"), &opts, &err), SP_ERR_WRITE);
    CU_ASSERT_EQUAL(count_entries(dir), 1); /* no data file, no temps */

    /* A write that fails half way (file size limit): the old file survives. */
    const char *dst = join(dir, "model.onnx");
    sp_test_write_file(dst, "old", 3);
    struct rlimit old_lim, lim;
    getrlimit(RLIMIT_FSIZE, &old_lim);
    signal(SIGXFSZ, SIG_IGN);
    lim = old_lim;
    lim.rlim_cur = 1000;
    CU_ASSERT_EQUAL_FATAL(setrlimit(RLIMIT_FSIZE, &lim), 0);
    sp_error_clear(&err);
    enum sp_status st1 = sp_model_save(m, dst, &err);
    printf("\n    full disk -> %s", err.msg);
    sp_error_clear(&err);
    enum sp_status st2 = sp_model_save_ex(m, dst, &opts, &err);
    setrlimit(RLIMIT_FSIZE, &old_lim);
    signal(SIGXFSZ, SIG_DFL);
    CU_ASSERT_EQUAL(st1, SP_ERR_WRITE);
    CU_ASSERT_EQUAL(st2, SP_ERR_WRITE);
    CU_ASSERT_EQUAL(count_entries(dir), 2); /* taken/ and model.onnx */
    size_t len;
    char *old = sp_test_read_file(dst, &len);
    CU_ASSERT(len == 3 && !memcmp(old, "old", 3));
    free(old);

    /* Read-only folder: only meaningful when not root (root writes anyway). */
    if (geteuid() != 0) {
        CU_ASSERT_EQUAL_FATAL(mkdir(join(dir, "ro"), 0555), 0);
        sp_error_clear(&err);
        CU_ASSERT_EQUAL(sp_model_save(m, join(dir, "ro/model.onnx"), &err), SP_ERR_IO);
        CU_ASSERT_EQUAL(count_entries(join(dir, "ro")), 0);
    }

    /* And success replaces the old file. */
    sp_error_clear(&err);
    CU_ASSERT_EQUAL(sp_model_save(m, dst, &err), SP_OK);
    sp_model_free(load_ok(dst));
    sp_model_free(m);
}

/* ---- TensorProto conversion ------------------------------------------------------------- */

static void test_tensor_proto_typed_fields(void)
{
    struct sp_error err = {0};
    struct sp_tensor t;
    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    int64_t dims[1] = {3};
    tp.n_dims = 1;
    tp.dims = dims;
    tp.has_data_type = 1;

    int32_t i32[3] = {-1, 127, -128};
    tp.data_type = SP_DTYPE_INT8;
    tp.int32_data = i32;
    tp.n_int32_data = 3;
    CU_ASSERT_FATAL(sp_tensor_from_proto(&tp, &t, "i8", &err) == SP_OK);
    CU_ASSERT_EQUAL(((int8_t *)t.data)[0], -1);
    CU_ASSERT_EQUAL(((int8_t *)t.data)[2], -128);
    sp_tensor_free(&t);

    int32_t h[3] = {0x3c00, 0xc000, 0x7bff}; /* 1.0, -2.0, 65504 as half bits */
    tp.data_type = SP_DTYPE_FLOAT16;
    tp.int32_data = h;
    CU_ASSERT_FATAL(sp_tensor_from_proto(&tp, &t, "f16", &err) == SP_OK);
    CU_ASSERT_EQUAL(((uint16_t *)t.data)[1], 0xc000);
    CU_ASSERT_EQUAL(sp_tensor_nbytes(&t), 6);
    sp_tensor_free(&t);

    int32_t bl[3] = {0, 1, 5};
    tp.data_type = SP_DTYPE_BOOL;
    tp.int32_data = bl;
    CU_ASSERT_FATAL(sp_tensor_from_proto(&tp, &t, "b", &err) == SP_OK);
    CU_ASSERT(((uint8_t *)t.data)[0] == 0 && ((uint8_t *)t.data)[1] == 1 && ((uint8_t *)t.data)[2] == 1);
    sp_tensor_free(&t);
    tp.n_int32_data = 0;
    tp.int32_data = NULL;

    uint64_t u[3] = {1, 4000000000u, 7};
    tp.data_type = SP_DTYPE_UINT32;
    tp.uint64_data = u;
    tp.n_uint64_data = 3;
    CU_ASSERT_FATAL(sp_tensor_from_proto(&tp, &t, "u32", &err) == SP_OK);
    CU_ASSERT_EQUAL(((uint32_t *)t.data)[1], 4000000000u);
    sp_tensor_free(&t);
    tp.n_uint64_data = 0;

    double dd[3] = {0.5, -1e300, 3};
    tp.data_type = SP_DTYPE_DOUBLE;
    tp.double_data = dd;
    tp.n_double_data = 3;
    CU_ASSERT_FATAL(sp_tensor_from_proto(&tp, &t, "f64", &err) == SP_OK);
    CU_ASSERT_EQUAL(((double *)t.data)[1], -1e300);
    sp_tensor_free(&t);
    tp.n_double_data = 2; /* one short */
    CU_ASSERT_EQUAL(sp_tensor_from_proto(&tp, &t, "short", &err), SP_ERR_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "short"));
    CU_ASSERT_PTR_NULL(t.data);

    sp_error_clear(&err);
    tp.data_type = SP_DTYPE_STRING;
    CU_ASSERT_EQUAL(sp_tensor_from_proto(&tp, &t, "s", &err), SP_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "string"));
    sp_error_clear(&err);
    tp.data_type = 77;
    CU_ASSERT_EQUAL(sp_tensor_from_proto(&tp, &t, "weird", &err), SP_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "77"));
}

static void test_tensor_proto_raw_roundtrip(void)
{
    static const enum sp_dtype dts[] = {SP_DTYPE_FLOAT, SP_DTYPE_UINT8, SP_DTYPE_INT8, SP_DTYPE_UINT16,
                                        SP_DTYPE_INT16, SP_DTYPE_INT32, SP_DTYPE_INT64, SP_DTYPE_BOOL,
                                        SP_DTYPE_FLOAT16, SP_DTYPE_DOUBLE, SP_DTYPE_UINT32, SP_DTYPE_UINT64};
    struct sp_error err = {0};
    for (size_t k = 0; k < sizeof dts / sizeof dts[0]; k++) {
        struct sp_tensor a, b;
        int64_t dims[3] = {2, 3, 5};
        CU_ASSERT_FATAL(sp_tensor_alloc(&a, dts[k], 3, dims, &err) == SP_OK);
        for (size_t i = 0; i < sp_tensor_nbytes(&a); i++)
            ((uint8_t *)a.data)[i] = (uint8_t)(i * 7 + k);
        if (dts[k] == SP_DTYPE_BOOL)
            for (size_t i = 0; i < 30; i++)
                ((uint8_t *)a.data)[i] &= 1;
        Onnx__TensorProto *tp = sp_tensor_to_proto(&a, "t", &err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(tp);
        CU_ASSERT_STRING_EQUAL(tp->name, "t");
        CU_ASSERT_EQUAL(tp->raw_data.len, sp_tensor_nbytes(&a));
        /* Through the wire and back, as a saved model would take it. */
        size_t n = onnx__tensor_proto__get_packed_size(tp);
        uint8_t *buf = malloc(n);
        onnx__tensor_proto__pack(tp, buf);
        Onnx__TensorProto *tp2 = onnx__tensor_proto__unpack(NULL, n, buf);
        CU_ASSERT_PTR_NOT_NULL_FATAL(tp2);
        CU_ASSERT_FATAL(sp_tensor_from_proto(tp2, &b, NULL, &err) == SP_OK);
        CU_ASSERT_EQUAL(b.dtype, dts[k]);
        CU_ASSERT_EQUAL(b.ndim, 3);
        CU_ASSERT(!memcmp(a.data, b.data, sp_tensor_nbytes(&a)));
        sp_tensor_free(&a);
        sp_tensor_free(&b);
        sp_tensor_proto_free(tp);
        sp_tensor_proto_free(tp2);
        free(buf);
    }
    /* Scalars have no dims and one element. */
    struct sp_tensor s;
    CU_ASSERT_FATAL(sp_tensor_alloc(&s, SP_DTYPE_FLOAT, 0, NULL, &err) == SP_OK);
    *(float *)s.data = 2.5f;
    Onnx__TensorProto *tp = sp_tensor_to_proto(&s, "s", &err);
    CU_ASSERT_EQUAL(tp->n_dims, 0);
    CU_ASSERT_EQUAL(tp->raw_data.len, 4);
    sp_tensor_free(&s);
    CU_ASSERT_FATAL(sp_tensor_from_proto(tp, &s, NULL, &err) == SP_OK);
    CU_ASSERT_EQUAL(*(float *)s.data, 2.5f);
    sp_tensor_free(&s);
    sp_tensor_proto_free(tp);

    struct sp_tensor str = {.dtype = SP_DTYPE_STRING, .ndim = 0};
    CU_ASSERT_PTR_NULL(sp_tensor_to_proto(&str, "str", &err));
    CU_ASSERT_EQUAL(err.status, SP_ERR_UNSUPPORTED);
}

/* ---- wrap / clone / attached nodes -------------------------------------------------------- */

static void test_wrap_and_attached_tensors(void)
{
    struct sp_model *m = load_ok(fixture_ext());
    struct sp_error err = {0};
    /* A later stage attaches a malloc'ed initializer; freeing the model frees it
     * (run under ASan/valgrind to see a leak otherwise). */
    struct sp_tensor t;
    int64_t dims[1] = {8};
    CU_ASSERT_FATAL(sp_tensor_alloc(&t, SP_DTYPE_FLOAT, 1, dims, &err) == SP_OK);
    Onnx__TensorProto *tp = sp_tensor_to_proto(&t, "extra", &err);
    sp_tensor_free(&t);
    Onnx__GraphProto *g = m->proto->graph;
    g->initializer = realloc(g->initializer, (g->n_initializer + 1) * sizeof *g->initializer);
    g->initializer[g->n_initializer++] = tp;

    struct sp_model *c = NULL;
    CU_ASSERT_EQUAL_FATAL(sp_model_clone(m, &c, &err), SP_OK);
    CU_ASSERT_EQUAL(c->proto->graph->n_initializer, 3);
    CU_ASSERT_PTR_NOT_NULL(find_init(c, "extra"));
    CU_ASSERT_STRING_EQUAL(sp_model_path(c), sp_model_path(m));
    CU_ASSERT(c->proto != m->proto && find_init(c, "W") != find_init(m, "W"));

    /* Wrap takes ownership of a bare proto. */
    Onnx__ModelProto *p = c->proto;
    c->proto = NULL;
    sp_model_free(c);
    struct sp_model *w = NULL;
    CU_ASSERT_EQUAL_FATAL(sp_model_wrap(p, "rewritten.onnx", &w, &err), SP_OK);
    CU_ASSERT_STRING_EQUAL(sp_model_path(w), "rewritten.onnx");
    CU_ASSERT_EQUAL(sp_model_num_inputs(w), 1);
    CU_ASSERT_EQUAL(sp_model_opset(w), 13);
    sp_model_free(w);
    sp_model_free(m);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("onnx_io", NULL, remove_tmpdirs);
    CU_add_test(s, "every libonnx-testdata model round-trips byte-identically", test_roundtrip_every_testdata_model);
    CU_add_test(s, "save writes the same bytes and nothing else", test_save_gives_identical_file);
    CU_add_test(s, "inputs exclude initializers (IR 3)", test_inputs_exclude_initializers);
    CU_add_test(s, "symbolic and missing dims read as -1", test_symbolic_and_missing_dims);
    CU_add_test(s, "unreadable, folder and empty files", test_unreadable_and_empty);
    CU_add_test(s, "random bytes and text are not protobuf", test_not_protobuf);
    CU_add_test(s, "truncated models", test_truncated);
    CU_add_test(s, "IR version, opset, graph checks", test_header_checks);
    CU_add_test(s, "input rank above SP_MAX_DIMS", test_absurd_input_rank);
    CU_add_test(s, "initializers: size, huge dims, dtype, duplicates", test_bad_initializers);
    CU_add_test(s, "external data errors", test_external_errors);
    CU_add_test(s, "python-onnx external data fixtures load", test_python_external_fixtures);
    CU_add_test(s, "forced external save reloads identically", test_forced_external_save_roundtrip);
    CU_add_test(s, "failed saves leave no file behind", test_save_failures_leave_nothing);
    CU_add_test(s, "TensorProto typed fields", test_tensor_proto_typed_fields);
    CU_add_test(s, "TensorProto raw round trip for every dtype", test_tensor_proto_raw_roundtrip);
    CU_add_test(s, "wrap, clone and attached tensors", test_wrap_and_attached_tensors);
    return sp_test_main();
}
