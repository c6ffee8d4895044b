/*
 * Saving models: atomically, and with external data when protobuf's 2 GB
 * limit requires it.
 *
 * A crash or a full disk must never leave a half-written model where a good
 * one (or none) was: every file goes to "<path>.tmp.XXXXXX" in the target
 * folder, is fsync'ed, then renamed over the target, and the folder is
 * fsync'ed so the rename itself survives a power cut. On any failure the
 * temporary files are removed.
 *
 * The model is streamed to the file through a protobuf-c buffer rather than
 * packed into one allocation, so saving does not double peak memory. When the
 * model goes external, the large initializers are written to
 * "<basename>.data" at 4096-aligned offsets and the saved model refers to
 * them; the in-memory model is never modified (shallow copies of the graph
 * and of the moved tensors are packed instead).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx/model_internal.h"

/* ---- atomic files ------------------------------------------------------------------- */

struct atomic_file {
    const char *path; /* final name, borrowed */
    char *tmp;        /* owned; NULL once renamed or removed */
    int fd;           /* -1 when closed */
};

/* The mode a plain open(O_CREAT, 0666) would give: mkstemp uses 0600, which
 * would make saved models unreadable to the user's group. Read from /proc
 * because umask() can only be queried by changing it, which races threads. */
static mode_t creation_mode(void)
{
    mode_t mask = 022;
    FILE *f = fopen("/proc/self/status", "re");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            unsigned v;
            if (sscanf(line, "Umask: %o", &v) == 1) {
                mask = (mode_t)v;
                break;
            }
        }
        fclose(f);
    }
    return 0666 & ~mask;
}

static enum sp_status atomic_open(struct atomic_file *af, const char *path, struct sp_error *err)
{
    af->path = path;
    af->fd = -1;
    size_t n = strlen(path) + sizeof ".tmp.XXXXXX";
    af->tmp = malloc(n);
    if (!af->tmp)
        return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", path);
    snprintf(af->tmp, n, "%s.tmp.XXXXXX", path);
    af->fd = mkostemp(af->tmp, O_CLOEXEC);
    if (af->fd < 0) {
        int e = errno;
        free(af->tmp);
        af->tmp = NULL;
        return sp_error_set(err, SP_ERR_WRITE, "%s: cannot create a temporary file beside it: %s", path, strerror(e));
    }
    if (fchmod(af->fd, creation_mode()) != 0) {
        /* Not fatal: the file is still correct, only more private. */
    }
    return SP_OK;
}

static enum sp_status atomic_write(struct atomic_file *af, const void *data, size_t len, struct sp_error *err)
{
    const char *p = data;
    while (len > 0) {
        size_t chunk = len > ((size_t)1 << 30) ? ((size_t)1 << 30) : len;
        ssize_t w = write(af->fd, p, chunk);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return sp_error_set(err, SP_ERR_WRITE, "%s: cannot write: %s", af->path,
                                w < 0 ? strerror(errno) : "no progress");
        p += w;
        len -= (size_t)w;
    }
    return SP_OK;
}

/* fsync and close; the data is durable under the temporary name. */
static enum sp_status atomic_finish(struct atomic_file *af, struct sp_error *err)
{
    enum sp_status st = SP_OK;
    if (fsync(af->fd) != 0)
        st = sp_error_set(err, SP_ERR_WRITE, "%s: cannot sync to disk: %s", af->path, strerror(errno));
    if (close(af->fd) != 0 && !st)
        st = sp_error_set(err, SP_ERR_WRITE, "%s: cannot close: %s", af->path, strerror(errno));
    af->fd = -1;
    return st;
}

static enum sp_status atomic_rename(struct atomic_file *af, struct sp_error *err)
{
    if (rename(af->tmp, af->path) != 0)
        return sp_error_set(err, SP_ERR_WRITE, "%s: cannot rename the temporary file into place: %s", af->path,
                            strerror(errno));
    free(af->tmp);
    af->tmp = NULL;
    return SP_OK;
}

/* Removes whatever is left of a failed write. Safe to call after success. */
static void atomic_abort(struct atomic_file *af)
{
    if (af->fd >= 0)
        close(af->fd);
    af->fd = -1;
    if (af->tmp) {
        unlink(af->tmp);
        free(af->tmp);
        af->tmp = NULL;
    }
}

static enum sp_status sync_parent_dir(const char *path, struct sp_error *err)
{
    char *dir = strdup(path);
    if (!dir)
        return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", path);
    char *slash = strrchr(dir, '/');
    const char *d = ".";
    if (slash == dir)
        d = "/";
    else if (slash) {
        *slash = '\0';
        d = dir;
    }
    enum sp_status st = SP_OK;
    int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0)
        st = sp_error_set(err, SP_ERR_WRITE, "%s: cannot sync folder '%s': %s", path, d, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(dir);
    return st;
}

/* ---- streaming a message into a file -------------------------------------------------- */

#define STAGE_BYTES ((size_t)1 << 20)

/* protobuf-c emits many small pieces; stage them, pass large ones through. */
struct file_sink {
    ProtobufCBuffer base;
    struct atomic_file *af;
    uint8_t *stage;
    size_t used;
    enum sp_status st; /* first failure; later appends are ignored */
    struct sp_error *err;
};

static void sink_flush(struct file_sink *s)
{
    if (!s->st && s->used)
        s->st = atomic_write(s->af, s->stage, s->used, s->err);
    s->used = 0;
}

static void sink_append(ProtobufCBuffer *b, size_t len, const uint8_t *data)
{
    struct file_sink *s = (struct file_sink *)b;
    if (s->st)
        return;
    if (len > STAGE_BYTES - s->used) {
        sink_flush(s);
        if (len >= STAGE_BYTES) {
            if (!s->st)
                s->st = atomic_write(s->af, data, len, s->err);
            return;
        }
    }
    memcpy(s->stage + s->used, data, len);
    s->used += len;
}

static enum sp_status write_message(struct atomic_file *af, const ProtobufCMessage *msg, struct sp_error *err)
{
    struct file_sink s = {.base = {.append = sink_append}, .af = af, .err = err};
    s.stage = malloc(STAGE_BYTES);
    if (!s.stage)
        return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", af->path);
    protobuf_c_message_pack_to_buffer(msg, &s.base);
    sink_flush(&s);
    free(s.stage);
    return s.st;
}

/* ---- external data --------------------------------------------------------------------- */

/* A moved initializer as the saved model sees it: a shallow copy of the
 * original whose data fields are replaced by external_data entries. */
struct moved_tensor {
    Onnx__TensorProto tp;
    Onnx__StringStringEntryProto entry[3];
    Onnx__StringStringEntryProto *entry_ptr[3];
    char offset[24], length[24];
};

static void make_external(struct moved_tensor *mt, const Onnx__TensorProto *orig, char *location, uint64_t off,
                          size_t len)
{
    mt->tp = *orig;
    mt->tp.has_raw_data = 0;
    mt->tp.raw_data.len = 0;
    mt->tp.raw_data.data = NULL;
    mt->tp.n_float_data = mt->tp.n_int32_data = mt->tp.n_int64_data = 0;
    mt->tp.n_double_data = mt->tp.n_uint64_data = mt->tp.n_string_data = 0;
    mt->tp.has_data_location = 1;
    mt->tp.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    snprintf(mt->offset, sizeof mt->offset, "%llu", (unsigned long long)off);
    snprintf(mt->length, sizeof mt->length, "%zu", len);
    static char k_location[] = "location", k_offset[] = "offset", k_length[] = "length";
    char *keys[3] = {k_location, k_offset, k_length};
    char *vals[3] = {location, mt->offset, mt->length};
    for (int i = 0; i < 3; i++) {
        onnx__string_string_entry_proto__init(&mt->entry[i]);
        mt->entry[i].key = keys[i];
        mt->entry[i].value = vals[i];
        mt->entry_ptr[i] = &mt->entry[i];
    }
    mt->tp.n_external_data = 3;
    mt->tp.external_data = mt->entry_ptr;
}

static const char *path_basename(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* Writes every initializer that should move into `data`, filling `moved` and
 * the pointer array the saved graph will use. */
static enum sp_status write_external(const struct sp_model *m, const struct sp_model_save_opts *opts,
                                     struct atomic_file *data, char *location, struct moved_tensor *moved,
                                     Onnx__TensorProto **inits, size_t *n_moved, struct sp_error *err)
{
    static const uint8_t zeros[SP_MODEL_EXTERNAL_ALIGN];
    const Onnx__GraphProto *g = m->proto->graph;
    uint64_t pos = 0;
    *n_moved = 0;
    for (size_t i = 0; i < g->n_initializer; i++) {
        Onnx__TensorProto *tp = g->initializer[i];
        inits[i] = tp;
        if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
            return sp_error_set(err, SP_ERR_INTERNAL, "%s: initializer '%s' still refers to external data", m->path,
                                tp->name ? tp->name : "");
        if (tp->data_type == SP_DTYPE_STRING || sp_tensor_proto_check(tp, m->path, NULL, NULL) != SP_OK)
            continue; /* stays inline as it is */
        size_t nbytes = sp_tensor_proto_nbytes(tp);
        if (nbytes == 0 || nbytes < opts->external_min_bytes)
            continue;
        /* External data is always the raw little-endian bytes, so typed
         * fields are converted first. */
        struct sp_tensor t = {0};
        const void *bytes = tp->raw_data.data;
        if (tp->raw_data.len != nbytes) {
            enum sp_status st = sp_tensor_from_proto(tp, &t, tp->name, err);
            if (st)
                return st;
            bytes = t.data;
        }
        size_t pad = (size_t)((SP_MODEL_EXTERNAL_ALIGN - pos % SP_MODEL_EXTERNAL_ALIGN) % SP_MODEL_EXTERNAL_ALIGN);
        enum sp_status st = atomic_write(data, zeros, pad, err);
        if (!st)
            st = atomic_write(data, bytes, nbytes, err);
        sp_tensor_free(&t);
        if (st)
            return st;
        pos += pad;
        make_external(&moved[*n_moved], tp, location, pos, nbytes);
        inits[i] = &moved[*n_moved].tp;
        (*n_moved)++;
        pos += nbytes;
    }
    return SP_OK;
}

/* ---- saving ---------------------------------------------------------------------------------- */

enum sp_status sp_model_save_ex(const struct sp_model *m, const char *path, const struct sp_model_save_opts *opts,
                                struct sp_error *err)
{
    if (!path || !path[0] || path[strlen(path) - 1] == '/')
        return sp_error_set(err, SP_ERR_USAGE, "'%s': not a file path to save a model to", path ? path : "");
    struct sp_model_save_opts def = {SP_MODEL_PROTOBUF_LIMIT, SP_MODEL_EXTERNAL_MIN_BYTES};
    if (!opts)
        opts = &def;

    struct atomic_file model = {.fd = -1}, data = {.fd = -1};
    char *data_path = NULL, *location = NULL;
    struct moved_tensor *moved = NULL;
    Onnx__TensorProto **inits = NULL;
    Onnx__ModelProto shell = *m->proto;
    Onnx__GraphProto graph = *m->proto->graph;
    const ProtobufCMessage *to_write = &m->proto->base;
    bool data_renamed = false;
    enum sp_status st = SP_OK;

    size_t packed = onnx__model_proto__get_packed_size(m->proto);
    if (packed > opts->max_inline_bytes) {
        size_t n = graph.n_initializer;
        if (asprintf(&data_path, "%s.data", path) < 0) {
            data_path = NULL;
            st = sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", path);
            goto out;
        }
        location = strdup(path_basename(data_path));
        moved = calloc(n ? n : 1, sizeof *moved);
        inits = calloc(n ? n : 1, sizeof *inits);
        if (!location || !moved || !inits) {
            st = sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", path);
            goto out;
        }
        st = atomic_open(&data, data_path, err);
        if (st)
            goto out;
        size_t n_moved;
        st = write_external(m, opts, &data, location, moved, inits, &n_moved, err);
        if (!st)
            st = atomic_finish(&data, err);
        if (st)
            goto out;
        graph.initializer = inits;
        shell.graph = &graph;
        to_write = &shell.base;
        packed = onnx__model_proto__get_packed_size(&shell);
        if (n_moved == 0) {
            atomic_abort(&data); /* nothing worth moving: no data file */
            free(data_path);
            data_path = NULL;
        }
    }
    if (packed > SP_MODEL_PROTOBUF_LIMIT) {
        st = sp_error_set(err, SP_ERR_UNSUPPORTED,
                          "%s: model is %zu bytes even with its large initializers in external data, above protobuf's 2 GB limit",
                          path, packed);
        goto out;
    }
    st = atomic_open(&model, path, err);
    if (!st)
        st = write_message(&model, to_write, err);
    if (!st)
        st = atomic_finish(&model, err);
    if (st)
        goto out;
    /* Data before model: a model file never refers to a data file that is
     * not there yet. */
    if (data_path) {
        st = atomic_rename(&data, err);
        if (st)
            goto out;
        data_renamed = true;
    }
    st = atomic_rename(&model, err);
    if (!st)
        st = sync_parent_dir(path, err);
out:
    if (st && data_renamed && model.tmp)
        unlink(data_path); /* the model that needed it was not installed */
    atomic_abort(&model);
    atomic_abort(&data);
    free(data_path);
    free(location);
    free(moved);
    free(inits);
    return st;
}

enum sp_status sp_model_save(const struct sp_model *m, const char *path, struct sp_error *err)
{
    return sp_model_save_ex(m, path, NULL, err);
}
