/*
 * HDF5 checkpoints of calibration (include/sparsify/ckpt.h). Rank 0 alone
 * reads and writes them with serial HDF5 calls, so the parallel HDF5 build
 * needs no MPI file driver here. Every read checks the dataset's type class,
 * rank and extent against what the attributes announce before allocating,
 * because a checkpoint is a file a user can hand us in any state.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#include "sparsify/ckpt.h"

/* Largest counts a checkpoint may announce: far above any model, far below
 * what would overflow size arithmetic. */
#define MAX_ITEMS ((int64_t)1 << 24)
#define MAX_BINS (1 << 20)
#define MAX_COLS ((int64_t)1 << 20)

static void quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* ---- writing ------------------------------------------------------------- */

struct wctx {
    const char *path;
    struct sp_error *err;
    enum sp_status st;
};

static void wfail(struct wctx *w, const char *what)
{
    if (!w->st)
        w->st = sp_error_set(w->err, SP_ERR_WRITE, "%s: cannot write checkpoint (%s)", w->path, what);
}

static void put_attr(struct wctx *w, hid_t obj, const char *name, hid_t type, const void *v)
{
    if (w->st)
        return;
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = sp < 0 ? -1 : H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0 || H5Awrite(a, type, v) < 0)
        wfail(w, name);
    if (a >= 0)
        H5Aclose(a);
    if (sp >= 0)
        H5Sclose(sp);
}

static void put_attr_str(struct wctx *w, hid_t obj, const char *name, const char *v)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(v) + 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    put_attr(w, obj, name, t, v);
    H5Tclose(t);
}

/* Raw data has no checksum in HDF5's format, only metadata does: every
 * non-empty dataset is stored in chunks of at most this size through the
 * Fletcher-32 filter, so a flipped bit in the statistics fails the read
 * instead of resuming into a different model. */
#define CKPT_CHUNK_BYTES ((hsize_t)64 << 20)

static hid_t checked_layout(hid_t ftype, int rank, const hsize_t *dims)
{
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (dcpl < 0)
        return -1;
    hsize_t row = H5Tget_size(ftype), chunk[2];
    for (int i = 1; i < rank; i++)
        row *= dims[i];
    hsize_t rows = row ? CKPT_CHUNK_BYTES / row : 1;
    chunk[0] = rows < 1 ? 1 : rows > dims[0] ? dims[0] : rows;
    if (rank == 2)
        chunk[1] = dims[1];
    if (H5Pset_chunk(dcpl, rank, chunk) < 0 || H5Pset_fletcher32(dcpl) < 0) {
        H5Pclose(dcpl);
        return -1;
    }
    return dcpl;
}

/* A dataset of `rank` dims (1 or 2) holding `data` of memory type `type`. */
static void put_data(struct wctx *w, hid_t grp, const char *name, hid_t ftype, hid_t mtype, int rank,
                     const hsize_t *dims, const void *data)
{
    if (w->st)
        return;
    hsize_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    /* HDF5 cannot chunk an empty extent; there is nothing to check in one. */
    hid_t dcpl = n ? checked_layout(ftype, rank, dims) : H5P_DEFAULT;
    hid_t sp = dcpl < 0 ? -1 : H5Screate_simple(rank, dims, NULL);
    hid_t d = sp < 0 ? -1 : H5Dcreate2(grp, name, ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (d < 0 || (n && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0))
        wfail(w, name);
    if (d >= 0)
        H5Dclose(d);
    if (sp >= 0)
        H5Sclose(sp);
    if (dcpl > 0 && dcpl != H5P_DEFAULT)
        H5Pclose(dcpl);
}

/* Writes strings as one fixed-length string dataset (h5dump shows them). */
static void put_strings(struct wctx *w, hid_t grp, const char *name, int n, char *const *s, size_t stride)
{
    if (w->st)
        return;
    size_t len = 1;
    for (int i = 0; i < n; i++) {
        const char *v = *(char *const *)((const char *)s + (size_t)i * stride);
        if (strlen(v) + 1 > len)
            len = strlen(v) + 1;
    }
    char *buf = calloc(n > 0 ? (size_t)n : 1, len);
    if (!buf) {
        w->st = sp_error_set(w->err, SP_ERR_NOMEM, "out of memory writing checkpoint %s", w->path);
        return;
    }
    for (int i = 0; i < n; i++)
        strcpy(buf + (size_t)i * len, *(char *const *)((const char *)s + (size_t)i * stride));
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, len);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    hsize_t dims[1] = {(hsize_t)n};
    put_data(w, grp, name, t, t, 1, dims, buf);
    H5Tclose(t);
    free(buf);
}

static enum sp_status sync_path(const char *path, int flags, struct sp_error *err)
{
    int fd = open(path, flags);
    if (fd < 0)
        return sp_error_set(err, SP_ERR_WRITE, "%s: cannot open for sync: %s", path, strerror(errno));
    int rc = fsync(fd);
    close(fd);
    if (rc != 0 && (flags & O_DIRECTORY) == 0)
        return sp_error_set(err, SP_ERR_WRITE, "%s: fsync failed: %s", path, strerror(errno));
    return SP_OK;
}

static void write_body(struct wctx *w, hid_t f, const struct sp_ckpt *c)
{
    int ver = SP_CKPT_FORMAT_VERSION;
    put_attr(w, f, "format_version", H5T_NATIVE_INT, &ver);
    put_attr_str(w, f, "model_sha256", c->model_sha256);
    put_attr_str(w, f, "data_sha256", c->data_sha256);
    put_attr(w, f, "hessians", H5T_NATIVE_INT, &c->hessians);
    put_attr(w, f, "batch_size", H5T_NATIVE_INT, &c->batch_size);
    put_attr(w, f, "holdout", H5T_NATIVE_DOUBLE, &c->holdout);
    put_attr(w, f, "bins", H5T_NATIVE_INT, &c->bins);
    put_attr(w, f, "pass", H5T_NATIVE_INT, &c->pass);
    put_attr(w, f, "groups_done", H5T_NATIVE_INT64, &c->groups_done);
    put_attr(w, f, "groups", H5T_NATIVE_INT64, &c->groups);
    if (w->st)
        return;

    int T = c->n_tensors;
    hid_t g = H5Gcreate2(f, "tensors", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return wfail(w, "group tensors");
    double *dv = malloc((T ? (size_t)T : 1) * sizeof *dv);
    int64_t *iv = malloc((T ? (size_t)T : 1) * sizeof *iv);
    if (!dv || !iv) {
        w->st = sp_error_set(w->err, SP_ERR_NOMEM, "out of memory writing checkpoint %s", w->path);
    } else {
        hsize_t dims[2] = {(hsize_t)T, (hsize_t)c->bins};
        put_strings(w, g, "name", T, &c->tensors[0].name, sizeof c->tensors[0]);
#define COL(field, arr, ftype, mtype, nm)                                                                            \
    for (int i = 0; i < T; i++)                                                                                      \
        arr[i] = c->tensors[i].field;                                                                                \
    put_data(w, g, nm, ftype, mtype, 1, dims, arr)
        COL(min, dv, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, "min");
        COL(max, dv, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, "max");
        COL(count, iv, H5T_STD_I64LE, H5T_NATIVE_INT64, "count");
        COL(nan_count, iv, H5T_STD_I64LE, H5T_NATIVE_INT64, "nan_count");
        COL(inf_count, iv, H5T_STD_I64LE, H5T_NATIVE_INT64, "inf_count");
#undef COL
        if (c->hist)
            put_data(w, g, "hist", H5T_STD_I64LE, H5T_NATIVE_INT64, 2, dims, c->hist);
    }
    free(dv);
    free(iv);
    H5Gclose(g);

    int H = c->n_hessians;
    if (w->st || (g = H5Gcreate2(f, "hessians", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        return wfail(w, "group hessians");
    iv = malloc((H ? (size_t)H : 1) * sizeof *iv);
    if (!iv) {
        w->st = sp_error_set(w->err, SP_ERR_NOMEM, "out of memory writing checkpoint %s", w->path);
    } else {
        hsize_t dims[1] = {(hsize_t)H};
        /* No Hessians: hess may be NULL, and &hess[0] would be UB; nothing is read. */
        static char *const no_keys[1] = {NULL};
        put_strings(w, g, "key", H, H ? &c->hess[0].key : no_keys, sizeof c->hess[0]);
#define COL(field, nm)                                                                                               \
    for (int i = 0; i < H; i++)                                                                                      \
        iv[i] = c->hess[i].field;                                                                                    \
    put_data(w, g, nm, H5T_STD_I64LE, H5T_NATIVE_INT64, 1, dims, iv)
        COL(groups, "groups");
        COL(cols, "cols");
        COL(frac_bits, "frac_bits");
        COL(rows_pass1, "rows_pass1");
        COL(rows, "rows");
#undef COL
        for (int i = 0; i < H && !w->st; i++) {
            if (!c->hess[i].acc)
                continue;
            int64_t n = c->hess[i].groups * sp_ckpt_tri(c->hess[i].cols);
            int64_t *pairs = malloc((size_t)(n ? n : 1) * 2 * sizeof *pairs);
            if (!pairs) {
                w->st = sp_error_set(w->err, SP_ERR_NOMEM, "out of memory writing checkpoint %s", w->path);
                break;
            }
            for (int64_t k = 0; k < n; k++) {
                unsigned __int128 u = (unsigned __int128)c->hess[i].acc[k];
                pairs[2 * k] = (int64_t)(c->hess[i].acc[k] >> 64);
                pairs[2 * k + 1] = (int64_t)(uint64_t)u;
            }
            char nm[32];
            snprintf(nm, sizeof nm, "acc_%d", i);
            hsize_t d2[2] = {(hsize_t)n, 2};
            put_data(w, g, nm, H5T_STD_I64LE, H5T_NATIVE_INT64, 2, d2, pairs);
            free(pairs);
        }
    }
    free(iv);
    H5Gclose(g);
}

/* Writes all n bytes of buf to fd; on failure errno says why (ENOSPC, EIO...). */
static int write_all(int fd, const unsigned char *buf, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, buf, n > (1u << 30) ? (1u << 30) : n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        buf += k;
        n -= (size_t)k;
    }
    return 0;
}

/* The file is built in memory (HDF5's core driver, no backing store) and
 * written out by sparsify itself. HDF5 1.10 leaves a file whose close failed
 * half-open and crashes in its exit handler (seen on a full disk); this way
 * HDF5 never meets a disk error, and the message carries errno's reason.
 * The image is taken from the driver's buffer after H5Fclose, through the
 * file-image callbacks: H5Fget_file_image on an open 1.10-format file clears
 * the superblock's write-access flag without updating its checksum (1.10.8),
 * so that image would not open. Peak memory: one copy of the checkpoint. */
struct image_sink {
    unsigned char *buf;
    size_t size;
    int closed; /* the driver handed the buffer over at H5Fclose */
};

/* H5Fcreate opens and closes the file once before the real open: a buffer
 * handed over at an earlier close is dropped when a new one starts. */
static void sink_restart(struct image_sink *s)
{
    if (s->closed) {
        free(s->buf);
        s->buf = NULL;
        s->size = 0;
        s->closed = 0;
    }
}

static void *sink_malloc(size_t size, H5FD_file_image_op_t op, void *udata)
{
    struct image_sink *s = udata;
    (void)op;
    sink_restart(s);
    unsigned char *p = malloc(size);
    if (p) {
        s->buf = p;
        s->size = size;
    }
    return p;
}

static void *sink_memcpy(void *dest, const void *src, size_t size, H5FD_file_image_op_t op, void *udata)
{
    (void)op;
    (void)udata;
    return memcpy(dest, src, size);
}

static void *sink_realloc(void *ptr, size_t size, H5FD_file_image_op_t op, void *udata)
{
    struct image_sink *s = udata;
    (void)op;
    if (!ptr)
        sink_restart(s);
    unsigned char *p = realloc(ptr, size);
    if (p) {
        s->buf = p;
        s->size = size;
    }
    return p;
}

static herr_t sink_free(void *ptr, H5FD_file_image_op_t op, void *udata)
{
    struct image_sink *s = udata;
    if (ptr && ptr == s->buf) {
        if (op == H5FD_FILE_IMAGE_OP_FILE_CLOSE) {
            s->closed = 1; /* ownership moves to the sink */
            return 0;
        }
        s->buf = NULL;
        s->size = 0;
    }
    free(ptr);
    return 0;
}

/* Every copy of the access list shares the one sink of this write. */
static void *sink_udata_copy(void *udata) { return udata; }
static herr_t sink_udata_free(void *udata)
{
    (void)udata;
    return 0;
}

/* The end-of-file address in a version 2 or 3 superblock: the file's length
 * (the driver's buffer is larger, rounded up to its growth increment). */
static int image_length(const struct image_sink *s, size_t *len)
{
    if (s->size < 48 || (s->buf[8] != 2 && s->buf[8] != 3) || s->buf[9] != 8)
        return -1;
    uint64_t eoa = 0;
    for (int i = 7; i >= 0; i--)
        eoa = eoa << 8 | s->buf[28 + i];
    if (eoa < 48 || eoa > s->size)
        return -1;
    *len = (size_t)eoa;
    return 0;
}

static enum sp_status build_image(const char *path, const char *label, const struct sp_ckpt *c,
                                  struct image_sink *sink, size_t *len, struct sp_error *err)
{
    /* The 1.10 file format checksums the superblock and every object header,
     * so a damaged checkpoint is refused by a checksum rather than parsed:
     * HDF5's parsers of the unchecksummed 1.8 structures over-read on crafted
     * files (tests/fuzz/crashers). */
    H5FD_file_image_callbacks_t callbacks = {sink_malloc,  sink_memcpy,     sink_realloc,    sink_free,
                                             sink_udata_copy, sink_udata_free, sink};
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110) < 0 ||
        H5Pset_fapl_core(fapl, (size_t)1 << 20, 0) < 0 || H5Pset_file_image_callbacks(fapl, &callbacks) < 0) {
        if (fapl >= 0)
            H5Pclose(fapl);
        return sp_error_set(err, SP_ERR_WRITE, "%s: HDF5 cannot set up the checkpoint file format", path);
    }
    hid_t f = H5Fcreate(label, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f < 0)
        return sp_error_set(err, SP_ERR_NOMEM, "%s: HDF5 cannot create the checkpoint in memory", path);
    struct wctx w = {path, err, SP_OK};
    write_body(&w, f, c);
    if (H5Fclose(f) < 0)
        wfail(&w, "close");
    if (!w.st && (!sink->closed || image_length(sink, len) != 0))
        wfail(&w, "file image");
    return w.st;
}

enum sp_status sp_ckpt_write(const char *path, const struct sp_ckpt *c, struct sp_error *err)
{
    quiet();
    char tmp[4096], dir[4096];
    const char *slash = strrchr(path, '/');
    if (slash) {
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
        if (!dir[0])
            strcpy(dir, "/");
    } else {
        strcpy(dir, ".");
    }
    if (snprintf(tmp, sizeof tmp, "%s/.%s.tmp-%ld", dir, slash ? slash + 1 : path, (long)getpid()) >= (int)sizeof tmp)
        return sp_error_set(err, SP_ERR_USAGE, "%s: checkpoint path too long", path);
    struct image_sink sink = {NULL, 0, 0};
    size_t size = 0;
    enum sp_status st = build_image(path, tmp, c, &sink, &size, err);
    unsigned char *image = sink.buf;
    if (st) {
        free(image);
        return st;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        st = sp_error_set(err, SP_ERR_WRITE, "%s: cannot create checkpoint file %s: %s", path, tmp, strerror(errno));
        free(image);
        return st;
    }
    if (write_all(fd, image, size) != 0 || fsync(fd) != 0)
        st = sp_error_set(err, SP_ERR_WRITE, "%s: cannot write checkpoint (%zu bytes): %s", path, size, strerror(errno));
    if (close(fd) != 0 && !st)
        st = sp_error_set(err, SP_ERR_WRITE, "%s: cannot write checkpoint: %s", path, strerror(errno));
    free(image);
    if (!st && rename(tmp, path) != 0)
        st = sp_error_set(err, SP_ERR_WRITE, "%s: cannot rename %s into place: %s", path, tmp, strerror(errno));
    if (st) {
        unlink(tmp);
        return st;
    }
    return sync_path(dir, O_RDONLY | O_DIRECTORY, err);
}

/* ---- reading ------------------------------------------------------------- */

struct rctx {
    const char *path;
    struct sp_error *err;
    enum sp_status st;
};

static enum sp_status rfail(struct rctx *r, const char *fmt, const char *what)
{
    if (!r->st) {
        char m[512];
        snprintf(m, sizeof m, fmt, what);
        r->st = sp_error_set(r->err, SP_ERR_CHECKPOINT, "%s: corrupt checkpoint: %s", r->path, m);
    }
    return r->st;
}

static void get_attr(struct rctx *r, hid_t obj, const char *name, hid_t mtype, H5T_class_t cls, void *v)
{
    if (r->st)
        return;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) {
        rfail(r, "attribute '%s' missing", name);
        return;
    }
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    if (t < 0 || H5Tget_class(t) != cls || sp < 0 || H5Sget_simple_extent_npoints(sp) != 1 ||
        H5Aread(a, mtype, v) < 0)
        rfail(r, "attribute '%s' has the wrong type or size", name);
    if (t >= 0)
        H5Tclose(t);
    if (sp >= 0)
        H5Sclose(sp);
    H5Aclose(a);
}

static void get_attr_sha(struct rctx *r, hid_t obj, const char *name, char out[65])
{
    if (r->st)
        return;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) {
        rfail(r, "attribute '%s' missing", name);
        return;
    }
    hid_t t = H5Aget_type(a);
    if (t < 0 || H5Tget_class(t) != H5T_STRING || H5Tis_variable_str(t) > 0 || H5Tget_size(t) != 65) {
        rfail(r, "attribute '%s' is not a 64-digit string", name);
    } else {
        hid_t m = H5Tcopy(H5T_C_S1);
        H5Tset_size(m, 65);
        H5Tset_strpad(m, H5T_STR_NULLTERM);
        if (H5Aread(a, m, out) < 0)
            rfail(r, "attribute '%s' unreadable", name);
        out[64] = '\0';
        H5Tclose(m);
    }
    if (t >= 0)
        H5Tclose(t);
    H5Aclose(a);
}

/* Whether the dataset's data passes through Fletcher-32, which HDF5 then
 * verifies on every read (a mismatch fails H5Dread). */
static bool has_checksum(hid_t d)
{
    hid_t dcpl = H5Dget_create_plist(d);
    if (dcpl < 0)
        return false;
    bool found = false;
    int nf = H5Pget_nfilters(dcpl);
    for (int i = 0; i < nf && !found; i++) {
        unsigned flags = 0;
        size_t nelem = 0;
        unsigned cd[1];
        char fname[1];
        found = H5Pget_filter2(dcpl, (unsigned)i, &flags, &nelem, cd, sizeof fname, fname, NULL) ==
                H5Z_FILTER_FLETCHER32;
    }
    H5Pclose(dcpl);
    return found;
}

/* Opens dataset `name`, checks its class and that its extent is exactly `dims`
 * and, when it holds data, that the data is checksummed. */
static hid_t open_data(struct rctx *r, hid_t grp, const char *name, H5T_class_t cls, int rank, const hsize_t *dims)
{
    if (r->st)
        return -1;
    hid_t d = H5Dopen2(grp, name, H5P_DEFAULT);
    if (d < 0) {
        rfail(r, "dataset '%s' missing", name);
        return -1;
    }
    hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
    hsize_t got[2] = {0, 0};
    int ok = t >= 0 && H5Tget_class(t) == cls && sp >= 0 && H5Sget_simple_extent_ndims(sp) == rank &&
             H5Sget_simple_extent_dims(sp, got, NULL) == rank;
    hsize_t n = 1;
    for (int i = 0; ok && i < rank; i++) {
        ok = got[i] == dims[i];
        n *= dims[i];
    }
    if (ok && n && !has_checksum(d)) {
        H5Tclose(t);
        H5Sclose(sp);
        H5Dclose(d);
        rfail(r, "dataset '%s' carries no checksum (not written by this sparsify)", name);
        return -1;
    }
    if (t >= 0)
        H5Tclose(t);
    if (sp >= 0)
        H5Sclose(sp);
    if (!ok) {
        H5Dclose(d);
        rfail(r, "dataset '%s' has the wrong type or shape", name);
        return -1;
    }
    return d;
}

static void get_data(struct rctx *r, hid_t grp, const char *name, H5T_class_t cls, hid_t mtype, int rank,
                     const hsize_t *dims, void *buf)
{
    hid_t d = open_data(r, grp, name, cls, rank, dims);
    if (d < 0)
        return;
    hsize_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    if (n && H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        rfail(r, "dataset '%s' unreadable: checksum mismatch or truncated file", name);
    H5Dclose(d);
}

/* Reads n fixed-length strings into malloc'ed copies stored at out[i*stride]. */
static void get_strings(struct rctx *r, hid_t grp, const char *name, int n, char **out, size_t stride)
{
    hsize_t dims[1] = {(hsize_t)n};
    hid_t d = open_data(r, grp, name, H5T_STRING, 1, dims);
    if (d < 0)
        return;
    hid_t t = H5Dget_type(d);
    size_t len = t >= 0 ? H5Tget_size(t) : 0;
    if (t < 0 || H5Tis_variable_str(t) > 0 || len < 1 || len > SP_CKPT_NAME_MAX) {
        rfail(r, "dataset '%s' is not a fixed-length string list", name);
    } else {
        char *buf = calloc(n ? (size_t)n : 1, len + 1);
        hid_t m = H5Tcopy(H5T_C_S1);
        H5Tset_size(m, len);
        H5Tset_strpad(m, H5T_STR_NULLTERM);
        if (!buf) {
            r->st = sp_error_set(r->err, SP_ERR_NOMEM, "out of memory reading %s", r->path);
        } else if (n && H5Dread(d, m, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
            rfail(r, "dataset '%s' unreadable: checksum mismatch or truncated file", name);
        } else {
            for (int i = 0; i < n && !r->st; i++) {
                char *s = strndup(buf + (size_t)i * len, len);
                if (!s)
                    r->st = sp_error_set(r->err, SP_ERR_NOMEM, "out of memory reading %s", r->path);
                *(char **)((char *)out + (size_t)i * stride) = s;
            }
        }
        H5Tclose(m);
        free(buf);
    }
    if (t >= 0)
        H5Tclose(t);
    H5Dclose(d);
}

void sp_ckpt_free(struct sp_ckpt *c)
{
    if (!c)
        return;
    for (int i = 0; c->tensors && i < c->n_tensors; i++)
        free(c->tensors[i].name);
    for (int i = 0; c->hess && i < c->n_hessians; i++) {
        free(c->hess[i].key);
        free(c->hess[i].acc);
    }
    free(c->tensors);
    free(c->hess);
    free(c->hist);
    free(c);
}

static void read_body(struct rctx *r, hid_t f, struct sp_ckpt *c)
{
    get_attr(r, f, "format_version", H5T_NATIVE_INT, H5T_INTEGER, &c->version);
    if (!r->st && c->version != SP_CKPT_FORMAT_VERSION) {
        r->st = sp_error_set(r->err, SP_ERR_CHECKPOINT, "%s: checkpoint format version %d, expected %d", r->path,
                             c->version, SP_CKPT_FORMAT_VERSION);
        return;
    }
    get_attr_sha(r, f, "model_sha256", c->model_sha256);
    get_attr_sha(r, f, "data_sha256", c->data_sha256);
    get_attr(r, f, "hessians", H5T_NATIVE_INT, H5T_INTEGER, &c->hessians);
    get_attr(r, f, "batch_size", H5T_NATIVE_INT, H5T_INTEGER, &c->batch_size);
    get_attr(r, f, "holdout", H5T_NATIVE_DOUBLE, H5T_FLOAT, &c->holdout);
    get_attr(r, f, "bins", H5T_NATIVE_INT, H5T_INTEGER, &c->bins);
    get_attr(r, f, "pass", H5T_NATIVE_INT, H5T_INTEGER, &c->pass);
    get_attr(r, f, "groups_done", H5T_NATIVE_INT64, H5T_INTEGER, &c->groups_done);
    get_attr(r, f, "groups", H5T_NATIVE_INT64, H5T_INTEGER, &c->groups);
    if (r->st)
        return;
    if (c->bins < 1 || c->bins > MAX_BINS)
        return (void)rfail(r, "%s", "bins out of range");
    if (c->pass < 1 || c->pass > 3)
        return (void)rfail(r, "%s", "pass must be 1, 2 or 3");
    if (c->groups < 0 || c->groups > MAX_ITEMS * 64 || c->groups_done < 0 || c->groups_done > c->groups)
        return (void)rfail(r, "%s", "groups_done outside [0, groups]");

    hid_t g = H5Gopen2(f, "tensors", H5P_DEFAULT);
    if (g < 0)
        return (void)rfail(r, "%s", "group 'tensors' missing");
    hid_t d = H5Dopen2(g, "min", H5P_DEFAULT);
    hid_t sp = d < 0 ? -1 : H5Dget_space(d);
    hsize_t T = 0;
    if (sp < 0 || H5Sget_simple_extent_ndims(sp) != 1 || H5Sget_simple_extent_dims(sp, &T, NULL) != 1 ||
        T > (hsize_t)MAX_ITEMS)
        rfail(r, "%s", "tensors/min missing or malformed");
    if (sp >= 0)
        H5Sclose(sp);
    if (d >= 0)
        H5Dclose(d);
    c->n_tensors = (int)T;
    double *dv = NULL;
    int64_t *iv = NULL;
    if (!r->st && (!(c->tensors = calloc(T ? T : 1, sizeof *c->tensors)) || !(dv = malloc((T ? T : 1) * 8)) ||
                   !(iv = malloc((T ? T : 1) * 8))))
        r->st = sp_error_set(r->err, SP_ERR_NOMEM, "out of memory reading %s", r->path);
    hsize_t dims[2] = {T, (hsize_t)c->bins};
    if (!r->st)
        get_strings(r, g, "name", (int)T, &c->tensors[0].name, sizeof c->tensors[0]);
#define COL(field, arr, cls, mtype, nm)                                                                              \
    get_data(r, g, nm, cls, mtype, 1, dims, arr);                                                                    \
    for (hsize_t i = 0; !r->st && i < T; i++)                                                                        \
    c->tensors[i].field = arr[i]
    COL(min, dv, H5T_FLOAT, H5T_NATIVE_DOUBLE, "min");
    COL(max, dv, H5T_FLOAT, H5T_NATIVE_DOUBLE, "max");
    COL(count, iv, H5T_INTEGER, H5T_NATIVE_INT64, "count");
    COL(nan_count, iv, H5T_INTEGER, H5T_NATIVE_INT64, "nan_count");
    COL(inf_count, iv, H5T_INTEGER, H5T_NATIVE_INT64, "inf_count");
#undef COL
    free(dv);
    free(iv);
    iv = NULL;
    if (!r->st && H5Lexists(g, "hist", H5P_DEFAULT) > 0) {
        if ((size_t)T * (size_t)c->bins > ((size_t)1 << 34) / 8)
            rfail(r, "%s", "histograms too large");
        else if (!(c->hist = malloc((T ? T : 1) * (size_t)c->bins * 8)))
            r->st = sp_error_set(r->err, SP_ERR_NOMEM, "out of memory reading %s", r->path);
        get_data(r, g, "hist", H5T_INTEGER, H5T_NATIVE_INT64, 2, dims, c->hist);
    }
    H5Gclose(g);
    if (r->st)
        return;

    if ((g = H5Gopen2(f, "hessians", H5P_DEFAULT)) < 0)
        return (void)rfail(r, "%s", "group 'hessians' missing");
    d = H5Dopen2(g, "cols", H5P_DEFAULT);
    sp = d < 0 ? -1 : H5Dget_space(d);
    hsize_t H = 0;
    if (sp < 0 || H5Sget_simple_extent_ndims(sp) != 1 || H5Sget_simple_extent_dims(sp, &H, NULL) != 1 ||
        H > (hsize_t)MAX_ITEMS)
        rfail(r, "%s", "hessians/cols missing or malformed");
    if (sp >= 0)
        H5Sclose(sp);
    if (d >= 0)
        H5Dclose(d);
    c->n_hessians = (int)H;
    if (!r->st && (!(c->hess = calloc(H ? H : 1, sizeof *c->hess)) || !(iv = malloc((H ? H : 1) * 8))))
        r->st = sp_error_set(r->err, SP_ERR_NOMEM, "out of memory reading %s", r->path);
    hsize_t hd[1] = {H};
    if (!r->st)
        get_strings(r, g, "key", (int)H, &c->hess[0].key, sizeof c->hess[0]);
#define COL(field, nm)                                                                                               \
    get_data(r, g, nm, H5T_INTEGER, H5T_NATIVE_INT64, 1, hd, iv);                                                    \
    for (hsize_t i = 0; !r->st && i < H; i++)                                                                        \
    c->hess[i].field = iv[i]
    COL(groups, "groups");
    COL(cols, "cols");
    COL(frac_bits, "frac_bits");
    COL(rows_pass1, "rows_pass1");
    COL(rows, "rows");
#undef COL
    free(iv);
    for (hsize_t i = 0; !r->st && i < H; i++) {
        struct sp_ckpt_hessian *h = &c->hess[i];
        if (h->groups < 1 || h->groups > MAX_COLS || h->cols < 1 || h->cols > MAX_COLS ||
            h->groups * sp_ckpt_tri(h->cols) > ((int64_t)1 << 36) || h->frac_bits < 0 || h->frac_bits > 200 ||
            h->rows < 0 || h->rows_pass1 < 0) {
            rfail(r, "%s", "a Hessian's groups, cols, frac_bits or rows are out of range");
            break;
        }
        char nm[32];
        snprintf(nm, sizeof nm, "acc_%d", (int)i);
        if (H5Lexists(g, nm, H5P_DEFAULT) <= 0)
            continue;
        int64_t n = h->groups * sp_ckpt_tri(h->cols);
        int64_t *pairs = malloc((size_t)n * 16);
        if (!pairs || !(h->acc = malloc((size_t)n * sizeof *h->acc))) {
            free(pairs);
            r->st = sp_error_set(r->err, SP_ERR_NOMEM, "out of memory reading %s", r->path);
            break;
        }
        hsize_t d2[2] = {(hsize_t)n, 2};
        get_data(r, g, nm, H5T_INTEGER, H5T_NATIVE_INT64, 2, d2, pairs);
        for (int64_t k = 0; !r->st && k < n; k++)
            h->acc[k] = (sp_exact_t)(((unsigned __int128)(uint64_t)pairs[2 * k] << 64) |
                                     (unsigned __int128)(uint64_t)pairs[2 * k + 1]);
        free(pairs);
    }
    H5Gclose(g);
}

/* sparsify writes checkpoints at offset 0 with superblock version 3 (the 1.10
 * format). Anything older has unchecksummed metadata, so it is refused here,
 * before HDF5 parses a single header of it. */
static enum sp_status check_superblock(const char *path, struct sp_error *err)
{
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    unsigned char head[9];
    FILE *fp = fopen(path, "rb");
    size_t got = fp ? fread(head, 1, sizeof head, fp) : 0;
    if (fp)
        fclose(fp);
    if (got != sizeof head || memcmp(head, sig, sizeof sig) != 0)
        return sp_error_set(err, SP_ERR_CHECKPOINT, "%s: corrupt checkpoint: no HDF5 superblock at offset 0", path);
    if (head[8] < 2)
        return sp_error_set(err, SP_ERR_CHECKPOINT,
                            "%s: checkpoint uses HDF5 superblock version %u, expected 2 or later "
                            "(written by another program or an older sparsify?)",
                            path, head[8]);
    return SP_OK;
}

enum sp_status sp_ckpt_read(const char *path, struct sp_ckpt **out, struct sp_error *err)
{
    quiet();
    *out = NULL;
    if (access(path, R_OK) != 0)
        return sp_error_set(err, SP_ERR_CHECKPOINT, "%s: cannot read checkpoint: %s", path, strerror(errno));
    if (H5Fis_hdf5(path) <= 0)
        return sp_error_set(err, SP_ERR_CHECKPOINT, "%s: corrupt checkpoint: not an HDF5 file (truncated?)", path);
    enum sp_status st = check_superblock(path, err);
    if (st)
        return st;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return sp_error_set(err, SP_ERR_CHECKPOINT, "%s: corrupt checkpoint: HDF5 cannot open it", path);
    struct sp_ckpt *c = calloc(1, sizeof *c);
    struct rctx r = {path, err, SP_OK};
    if (!c)
        r.st = sp_error_set(err, SP_ERR_NOMEM, "out of memory reading %s", path);
    else
        read_body(&r, f, c);
    H5Fclose(f);
    if (r.st) {
        sp_ckpt_free(c);
        return r.st;
    }
    *out = c;
    return SP_OK;
}
