/*
 * .npz archives: a zip file holding one .npy member per array (np.savez,
 * np.savez_compressed).
 *
 * The zip container is libzip's job (numpy writes zip64 extra fields, and a
 * hand-rolled reader would get those and the corner cases wrong). What stays
 * here is distrust: a member's declared uncompressed size is checked against
 * the caller's limit before anything is allocated, so a small archive that
 * claims or inflates to gigabytes (a zip bomb) is refused, and the bytes
 * actually read must match the declared size exactly.
 *
 * Writing produces an uncompressed archive that np.load reads, via a temporary
 * name in the destination folder, fsync and rename, so a crash never leaves a
 * half-written file under the final name.
 */
#define _POSIX_C_SOURCE 200809L /* strndup, O_DIRECTORY, fsync */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zip.h>

#include "data/data_internal.h"
#include "sparsify/data.h"

/* More members than any model has inputs; bounds the per-file bookkeeping. */
#define NPZ_MAX_MEMBERS 65536

void sp_npz_free(struct sp_npz *npz)
{
    if (!npz)
        return;
    for (int i = 0; i < npz->count; i++) {
        if (npz->names)
            free(npz->names[i]);
        if (npz->arrays)
            sp_tensor_free(&npz->arrays[i]);
    }
    free(npz->names);
    free(npz->arrays);
    memset(npz, 0, sizeof *npz);
}

static const char *zip_open_error(int code, char *buf, size_t buflen)
{
    zip_error_t ze;
    zip_error_init_with_code(&ze, code);
    snprintf(buf, buflen, "%s", zip_error_strerror(&ze));
    zip_error_fini(&ze);
    return buf;
}

/* Reads member `idx` into a malloc'ed buffer of exactly its declared size. */
static enum sp_status read_member(zip_t *za, zip_uint64_t idx, const char *what, size_t max_bytes, void **out,
                                  size_t *out_len, struct sp_error *err)
{
    *out = NULL;
    *out_len = 0;
    zip_stat_t zs;
    zip_stat_init(&zs);
    if (zip_stat_index(za, idx, 0, &zs) != 0 || !(zs.valid & ZIP_STAT_SIZE))
        return sp_error_set(err, SP_ERR_FORMAT, "%s: cannot read the zip directory entry: %s", what,
                            zip_strerror(za));
    /* The member is an .npy image: the array plus a bounded header. */
    if (zs.size > sp_npy_max_image_bytes(max_bytes))
        return sp_error_set(err, SP_ERR_NOMEM,
                            "%s: member declares %llu uncompressed bytes, above the %zu-byte limit per array "
                            "(corrupt file or zip bomb?)", what, (unsigned long long)zs.size, max_bytes);
    size_t size = (size_t)zs.size;
    zip_file_t *zf = zip_fopen_index(za, idx, 0);
    if (!zf)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: cannot open the zip member: %s", what, zip_strerror(za));
    enum sp_status st = SP_OK;
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf) {
        st = sp_error_set(err, SP_ERR_NOMEM, "%s: cannot allocate %zu bytes", what, size);
        goto out;
    }
    size_t got = 0;
    while (got < size) {
        zip_int64_t r = zip_fread(zf, buf + got, size - got);
        if (r < 0) {
            st = sp_error_set(err, SP_ERR_FORMAT, "%s: corrupt zip member: %s", what, zip_file_strerror(zf));
            goto out;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    if (got != size) {
        st = sp_error_set(err, SP_ERR_FORMAT, "%s: zip member is shorter than declared (%zu of %zu bytes)", what,
                          got, size);
        goto out;
    }
    /* One more read must hit the end: it also makes libzip verify the CRC, and a
     * deflate stream that inflates past the declared size is caught here. */
    unsigned char extra;
    zip_int64_t r = zip_fread(zf, &extra, 1);
    if (r < 0) {
        st = sp_error_set(err, SP_ERR_FORMAT, "%s: corrupt zip member: %s", what, zip_file_strerror(zf));
        goto out;
    }
    if (r > 0) {
        st = sp_error_set(err, SP_ERR_FORMAT, "%s: zip member holds more data than its declared %zu bytes", what,
                          size);
        goto out;
    }
out:
    zip_fclose(zf);
    if (st) {
        free(buf);
        return st;
    }
    *out = buf;
    *out_len = size;
    return SP_OK;
}

enum sp_status sp_npz_read(const char *path, size_t max_bytes, struct sp_npz *out, struct sp_error *err)
{
    memset(out, 0, sizeof *out);
    int zerr = 0;
    char ebuf[256];
    zip_t *za = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
    if (!za) {
        if (zerr == ZIP_ER_NOENT)
            return sp_error_set(err, SP_ERR_IO, "%s: no such file", path);
        if (zerr == ZIP_ER_OPEN || zerr == ZIP_ER_READ)
            return sp_error_set(err, SP_ERR_IO, "%s: cannot read: %s", path, zip_open_error(zerr, ebuf, sizeof ebuf));
        if (zerr == ZIP_ER_EXISTS) /* libzip's verdict on two members with one name */
            return sp_error_set(err, SP_ERR_FORMAT, "%s: not a valid .npz: two members have the same name "
                                "(a key appears twice)", path);
        return sp_error_set(err, SP_ERR_FORMAT, "%s: not a valid .npz (zip) file: %s", path,
                            zip_open_error(zerr, ebuf, sizeof ebuf));
    }
    enum sp_status st = SP_OK;
    zip_int64_t n = zip_get_num_entries(za, 0);
    if (n < 0 || n > NPZ_MAX_MEMBERS) {
        st = sp_error_set(err, SP_ERR_FORMAT, "%s: zip directory lists %lld members (limit %d)", path, (long long)n,
                          NPZ_MAX_MEMBERS);
        goto out;
    }
    out->names = calloc(n ? (size_t)n : 1, sizeof *out->names);
    out->arrays = calloc(n ? (size_t)n : 1, sizeof *out->arrays);
    if (!out->names || !out->arrays) {
        st = sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    for (zip_int64_t i = 0; i < n; i++) {
        const char *member = zip_get_name(za, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
        if (!member) {
            st = sp_error_set(err, SP_ERR_FORMAT, "%s: member %lld has no name: %s", path, (long long)i,
                              zip_strerror(za));
            goto out;
        }
        size_t ml = strlen(member);
        if (ml <= 4 || strcmp(member + ml - 4, ".npy") != 0) {
            st = sp_error_set(err, SP_ERR_FORMAT, "%s: member '%s' is not an .npy array (an .npz holds only KEY.npy members)",
                              path, member);
            goto out;
        }
        char *key = strndup(member, ml - 4);
        if (!key) {
            st = sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", path);
            goto out;
        }
        for (int j = 0; j < out->count; j++)
            if (strcmp(out->names[j], key) == 0) {
                st = sp_error_set(err, SP_ERR_FORMAT, "%s: key '%s' appears twice", path, key);
                free(key);
                goto out;
            }
        char what[1200];
        snprintf(what, sizeof what, "%s: key '%s'", path, key);
        void *buf;
        size_t len;
        st = read_member(za, (zip_uint64_t)i, what, max_bytes, &buf, &len, err);
        if (!st)
            st = sp_npy_parse(buf, len, what, max_bytes, &out->arrays[out->count], err);
        free(buf);
        if (st) {
            free(key);
            goto out;
        }
        out->names[out->count++] = key;
    }
out:
    zip_discard(za);
    if (st)
        sp_npz_free(out);
    return st;
}

/* Flushes a written file (or folder) to disk. */
static int fsync_path(const char *path, int flags)
{
    int fd = open(path, flags);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return r;
}

enum sp_status sp_npz_write(const char *path, const struct sp_npz *npz, struct sp_error *err)
{
    if (!npz || npz->count < 0 || (npz->count > 0 && (!npz->names || !npz->arrays)))
        return sp_error_set(err, SP_ERR_USAGE, "%s: invalid npz to write", path);
    for (int i = 0; i < npz->count; i++) {
        if (!npz->names[i] || !npz->names[i][0])
            return sp_error_set(err, SP_ERR_USAGE, "%s: array %d has an empty name", path, i);
        for (int j = 0; j < i; j++)
            if (strcmp(npz->names[i], npz->names[j]) == 0)
                return sp_error_set(err, SP_ERR_USAGE, "%s: key '%s' given twice", path, npz->names[i]);
        if (!sp_npy_dtype_descr(npz->arrays[i].dtype))
            return sp_error_set(err, SP_ERR_UNSUPPORTED, "%s: key '%s': dtype %s cannot be stored in .npy", path,
                                npz->names[i], sp_dtype_name(npz->arrays[i].dtype));
    }

    /* The temporary lives beside the target so that rename() is atomic; its
     * dot-prefix and suffix keep it out of a data folder's listing. */
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) : 0;
    const char *base = slash ? slash + 1 : path;
    char tmp[4200], dir[4200];
    if (strlen(path) > 4000)
        return sp_error_set(err, SP_ERR_USAGE, "%s: path too long", path);
    snprintf(dir, sizeof dir, "%.*s", (int)(slash ? (dirlen ? dirlen : 1) : 1), slash ? path : ".");
    snprintf(tmp, sizeof tmp, "%.*s%s.%s.tmp-%ld", (int)dirlen, path, slash ? "/" : "", base, (long)getpid());

    int zerr = 0;
    char ebuf[256];
    unlink(tmp); /* a stale one from a crashed run with the same pid */
    zip_t *za = zip_open(tmp, ZIP_CREATE | ZIP_EXCL, &zerr);
    if (!za)
        return sp_error_set(err, SP_ERR_WRITE, "%s: cannot create: %s", tmp, zip_open_error(zerr, ebuf, sizeof ebuf));
    enum sp_status st = SP_OK;
    for (int i = 0; i < npz->count; i++) {
        void *buf;
        size_t len;
        st = sp_npy_serialize(&npz->arrays[i], &buf, &len, err);
        if (st)
            goto fail;
        zip_source_t *src = zip_source_buffer(za, buf, len, 1);
        if (!src) {
            free(buf);
            st = sp_error_set(err, SP_ERR_NOMEM, "%s: key '%s': %s", path, npz->names[i], zip_strerror(za));
            goto fail;
        }
        char member[1100];
        snprintf(member, sizeof member, "%s.npy", npz->names[i]);
        zip_int64_t idx = zip_file_add(za, member, src, ZIP_FL_ENC_UTF_8);
        if (idx < 0) {
            zip_source_free(src);
            st = sp_error_set(err, SP_ERR_WRITE, "%s: key '%s': %s", path, npz->names[i], zip_strerror(za));
            goto fail;
        }
        /* Stored, like np.savez; a fixed timestamp makes outputs reproducible. */
        if (zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0) != 0 ||
            zip_file_set_mtime(za, (zip_uint64_t)idx, 946684800, 0) != 0) {
            st = sp_error_set(err, SP_ERR_WRITE, "%s: key '%s': %s", path, npz->names[i], zip_strerror(za));
            goto fail;
        }
    }
    if (npz->count == 0) {
        /* libzip writes nothing for an empty archive; np.savez() with no arrays
         * still yields a valid empty zip, so write the 22-byte end record. */
        zip_discard(za);
        za = NULL;
        static const unsigned char eocd[22] = {'P', 'K', 5, 6};
        FILE *f = fopen(tmp, "wbx");
        if (!f || fwrite(eocd, 1, sizeof eocd, f) != sizeof eocd) {
            st = sp_error_set(err, SP_ERR_WRITE, "%s: cannot write: %s", tmp, strerror(errno));
            if (f)
                fclose(f);
            goto fail;
        }
        if (fclose(f) != 0) {
            st = sp_error_set(err, SP_ERR_WRITE, "%s: cannot write: %s", tmp, strerror(errno));
            goto fail;
        }
    } else if (zip_close(za) != 0) {
        st = sp_error_set(err, SP_ERR_WRITE, "%s: cannot write: %s", tmp, zip_strerror(za));
        goto fail;
    }
    za = NULL;
    if (fsync_path(tmp, O_RDONLY) != 0) {
        st = sp_error_set(err, SP_ERR_WRITE, "%s: fsync failed: %s", tmp, strerror(errno));
        goto fail;
    }
    if (rename(tmp, path) != 0) {
        st = sp_error_set(err, SP_ERR_WRITE, "%s: cannot rename the temporary file into place: %s", path,
                          strerror(errno));
        goto fail;
    }
    /* Make the rename itself durable; failure here does not undo a complete file. */
    fsync_path(dir, O_RDONLY | O_DIRECTORY);
    return SP_OK;
fail:
    if (za)
        zip_discard(za);
    unlink(tmp);
    return st;
}
