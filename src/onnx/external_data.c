/*
 * Reading ONNX external data: tensors whose bytes live in a file beside the
 * model (data_location = EXTERNAL, external_data = {location, offset, length,
 * checksum}). Models over protobuf's 2 GB limit must be stored this way.
 *
 * The location comes from an untrusted file, so it is confined to the model's
 * folder twice: textually (no absolute path, no ".." component) and after
 * resolving symlinks (realpath must stay under the folder's realpath). Offsets
 * and lengths are checked against the file size and the tensor's dims before
 * anything is allocated.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx/model_internal.h"

/* Parses a non-negative decimal with no sign, spaces or trailing junk. */
static bool parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* Textual confinement: relative, non-empty, no ".." component. */
static bool location_is_confined(const char *loc)
{
    if (!loc[0] || loc[0] == '/')
        return false;
    const char *p = loc;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return false;
        if (!slash)
            break;
        p = slash + 1;
    }
    return true;
}

static bool path_is_under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (strncmp(path, dir, n) != 0)
        return false;
    if (n > 0 && dir[n - 1] == '/')
        return true; /* dir is "/" */
    return path[n] == '/';
}

static enum sp_status read_exact_at(int fd, void *buf, size_t len, uint64_t off, const char *file, const char *nm,
                                    const char *loc, struct sp_error *err)
{
    char *p = buf;
    while (len > 0) {
        size_t chunk = len > ((size_t)1 << 30) ? ((size_t)1 << 30) : len;
        ssize_t r = pread(fd, p, chunk, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return sp_error_set(err, SP_ERR_IO, "%s: tensor '%s': cannot read external file '%s': %s", file, nm, loc,
                                strerror(errno));
        if (r == 0)
            return sp_error_set(err, SP_ERR_FORMAT, "%s: tensor '%s': external file '%s' ended early (shrunk while read?)",
                                file, nm, loc);
        p += r;
        off += (uint64_t)r;
        len -= (size_t)r;
    }
    return SP_OK;
}

static void clear_external_fields(Onnx__TensorProto *tp)
{
    for (size_t i = 0; i < tp->n_external_data; i++)
        onnx__string_string_entry_proto__free_unpacked(tp->external_data[i], NULL);
    free(tp->external_data);
    tp->external_data = NULL;
    tp->n_external_data = 0;
    tp->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__DEFAULT;
    tp->has_data_location = 0;
}

enum sp_status sp_external_data_inline(Onnx__TensorProto *tp, const char *base_dir, const char *file,
                                       const char *what, struct sp_error *err)
{
    const char *nm = what ? what : (tp->name ? tp->name : "");
    const char *loc = NULL, *off_s = NULL, *len_s = NULL;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const Onnx__StringStringEntryProto *e = tp->external_data[i];
        if (!e->key)
            continue;
        /* checksum (a SHA-1 per the convention) is optional and not verified. */
        if (!strcmp(e->key, "location"))
            loc = e->value;
        else if (!strcmp(e->key, "offset"))
            off_s = e->value;
        else if (!strcmp(e->key, "length"))
            len_s = e->value;
    }
    if (!loc || !loc[0])
        return sp_error_set(err, SP_ERR_FORMAT, "%s: tensor '%s' has external data without a location", file, nm);
    if (!base_dir)
        return sp_error_set(err, SP_ERR_USAGE,
                            "%s: tensor '%s' has external data ('%s') but the model was not loaded from a folder", file,
                            nm, loc);
    if (!location_is_confined(loc))
        return sp_error_set(err, SP_ERR_FORMAT,
                            "%s: tensor '%s': external data location '%s' is absolute or escapes the model's folder",
                            file, nm, loc);
    uint64_t off = 0, len = 0;
    if (off_s && !parse_u64(off_s, &off))
        return sp_error_set(err, SP_ERR_FORMAT, "%s: tensor '%s': external data offset '%s' is not a number", file,
                            nm, off_s);
    if (len_s && !parse_u64(len_s, &len))
        return sp_error_set(err, SP_ERR_FORMAT, "%s: tensor '%s': external data length '%s' is not a number", file,
                            nm, len_s);

    /* The tensor's own size first: it bounds everything read below. */
    enum sp_status st = sp_tensor_proto_check(tp, file, nm, err);
    if (st)
        return st;
    if (tp->data_type == SP_DTYPE_STRING)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: tensor '%s': string tensors cannot use external data", file, nm);
    size_t want = sp_tensor_proto_nbytes(tp);
    if (len_s && len != want)
        return sp_error_set(err, SP_ERR_FORMAT,
                            "%s: tensor '%s': external data length %llu disagrees with its dims (%zu bytes)", file, nm,
                            (unsigned long long)len, want);

    char joined[PATH_MAX], base_real[PATH_MAX], real[PATH_MAX];
    if ((size_t)snprintf(joined, sizeof joined, "%s/%s", base_dir, loc) >= sizeof joined)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: tensor '%s': external data location is too long", file, nm);
    if (!realpath(base_dir, base_real))
        return sp_error_set(err, SP_ERR_IO, "%s: cannot resolve the model's folder '%s': %s", file, base_dir,
                            strerror(errno));
    if (!realpath(joined, real)) {
        if (errno == ENOENT || errno == ENOTDIR)
            return sp_error_set(err, SP_ERR_IO, "%s: tensor '%s': external file '%s' is missing", file, nm, loc);
        return sp_error_set(err, SP_ERR_IO, "%s: tensor '%s': cannot resolve external file '%s': %s", file, nm, loc,
                            strerror(errno));
    }
    if (!path_is_under(real, base_real))
        return sp_error_set(err, SP_ERR_FORMAT,
                            "%s: tensor '%s': external file '%s' resolves to '%s', outside the model's folder", file,
                            nm, loc, real);

    int fd = open(real, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sp_error_set(err, SP_ERR_IO, "%s: tensor '%s': cannot open external file '%s': %s",
                            file, nm, loc, strerror(errno));
    void *buf = NULL;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = sp_error_set(err, SP_ERR_IO, "%s: tensor '%s': external file '%s' is not a regular file", file, nm, loc);
        goto out;
    }
    uint64_t fsize = (uint64_t)sb.st_size;
    if (!len_s)
        len = off <= fsize ? fsize - off : 0; /* no length: the data runs to the end of the file */
    if (off > fsize || len > fsize - off) {
        st = sp_error_set(err, SP_ERR_FORMAT,
                          "%s: tensor '%s': external file '%s' is too short (%llu bytes) for offset %llu + length %llu",
                          file, nm, loc, (unsigned long long)fsize, (unsigned long long)off, (unsigned long long)len);
        goto out;
    }
    if (len != want) {
        st = sp_error_set(err, SP_ERR_FORMAT,
                          "%s: tensor '%s': external data in '%s' holds %llu bytes, its dims need %zu", file, nm, loc,
                          (unsigned long long)len, want);
        goto out;
    }
    buf = malloc(want ? want : 1);
    if (!buf) {
        st = sp_error_set(err, SP_ERR_NOMEM, "%s: tensor '%s': cannot allocate %zu bytes for external data", file, nm,
                          want);
        goto out;
    }
    st = read_exact_at(fd, buf, want, off, file, nm, loc, err);
    if (st)
        goto out;
    free(tp->raw_data.data);
    tp->raw_data.data = buf;
    tp->raw_data.len = want;
    tp->has_raw_data = 1;
    buf = NULL;
    clear_external_fields(tp);
out:
    free(buf);
    close(fd);
    return st;
}
