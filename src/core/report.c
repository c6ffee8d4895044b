/*
 * report.json through jansson. Stages address values by dotted path so the
 * JSON library stays private to this file; the file is written the durable way
 * (temporary name, fsync, rename, fsync of the folder) so that a crash never
 * leaves half a report next to a finished model.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "sparsify/report.h"

struct sp_report {
    json_t *root;
};

struct json_t *sp_report_root(struct sp_report *r)
{
    return r ? r->root : NULL;
}

struct sp_report *sp_report_create(void)
{
    struct sp_report *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->root = json_object();
    if (!r->root) {
        free(r);
        return NULL;
    }
    return r;
}

void sp_report_free(struct sp_report *r)
{
    if (!r)
        return;
    json_decref(r->root);
    free(r);
}

/* Walks `path` to the object holding its last component, creating objects on
 * the way; *leaf receives the last component (a pointer into `buf`). */
static enum sp_status walk(struct sp_report *r, const char *path, char *buf, size_t buflen, json_t **parent,
                           const char **leaf, struct sp_error *err)
{
    if (!path || !*path || strlen(path) >= buflen)
        return sp_error_set(err, SP_ERR_USAGE, "report: bad key path '%s'", path ? path : "(null)");
    strcpy(buf, path);
    json_t *obj = r->root;
    char *part = buf;
    for (;;) {
        char *dot = strchr(part, '.');
        if (!*part || (dot && dot == part))
            return sp_error_set(err, SP_ERR_USAGE, "report: empty component in key path '%s'", path);
        if (!dot)
            break;
        *dot = '\0';
        json_t *next = json_object_get(obj, part);
        if (!next) {
            next = json_object();
            if (!next || json_object_set_new(obj, part, next))
                return sp_error_set(err, SP_ERR_NOMEM, "report: out of memory");
        } else if (!json_is_object(next)) {
            return sp_error_set(err, SP_ERR_USAGE, "report: '%s' in key path '%s' is not an object", part, path);
        }
        obj = next;
        part = dot + 1;
    }
    *parent = obj;
    *leaf = part;
    return SP_OK;
}

/* Stores `value` (a new reference, consumed even on failure) at `path`. */
static enum sp_status set_new(struct sp_report *r, const char *path, json_t *value, struct sp_error *err)
{
    char buf[512];
    json_t *parent;
    const char *leaf;
    if (!value)
        return sp_error_set(err, SP_ERR_NOMEM, "report: out of memory setting '%s'", path);
    enum sp_status st = walk(r, path, buf, sizeof buf, &parent, &leaf, err);
    if (st) {
        json_decref(value);
        return st;
    }
    if (json_object_set_new(parent, leaf, value))
        return sp_error_set(err, SP_ERR_NOMEM, "report: out of memory setting '%s'", path);
    return SP_OK;
}

enum sp_status sp_report_set_string(struct sp_report *r, const char *path, const char *value, struct sp_error *err)
{
    /* json_string refuses invalid UTF-8 (a path from a user may hold any bytes):
     * keep the bytes visible rather than fail the report. */
    json_t *v = value ? json_string(value) : json_null();
    if (value && !v) {
        size_t n = strlen(value);
        char *clean = malloc(n + 1);
        if (clean) {
            for (size_t i = 0; i <= n; i++)
                clean[i] = (unsigned char)value[i] < 0x80 ? value[i] : '?';
            v = json_string(clean);
            free(clean);
        }
    }
    return set_new(r, path, v, err);
}

enum sp_status sp_report_set_int(struct sp_report *r, const char *path, int64_t value, struct sp_error *err)
{
    return set_new(r, path, json_integer((json_int_t)value), err);
}

enum sp_status sp_report_set_double(struct sp_report *r, const char *path, double value, struct sp_error *err)
{
    return set_new(r, path, isfinite(value) ? json_real(value) : json_null(), err);
}

enum sp_status sp_report_set_bool(struct sp_report *r, const char *path, bool value, struct sp_error *err)
{
    return set_new(r, path, json_boolean(value), err);
}

enum sp_status sp_report_append_string(struct sp_report *r, const char *path, const char *value,
                                       struct sp_error *err)
{
    char buf[512];
    json_t *parent;
    const char *leaf;
    enum sp_status st = walk(r, path, buf, sizeof buf, &parent, &leaf, err);
    if (st)
        return st;
    json_t *arr = json_object_get(parent, leaf);
    if (!arr) {
        arr = json_array();
        if (!arr || json_object_set_new(parent, leaf, arr))
            return sp_error_set(err, SP_ERR_NOMEM, "report: out of memory");
    } else if (!json_is_array(arr)) {
        return sp_error_set(err, SP_ERR_USAGE, "report: '%s' is not an array", path);
    }
    json_t *v = json_string(value ? value : "");
    if (!v)
        v = json_string("(not UTF-8)");
    if (!v || json_array_append_new(arr, v))
        return sp_error_set(err, SP_ERR_NOMEM, "report: out of memory");
    return SP_OK;
}

char *sp_report_dump(const struct sp_report *r)
{
    char *s = json_dumps(r->root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *out = realloc(s, n + 2);
    if (!out) {
        free(s);
        return NULL;
    }
    out[n] = '\n';
    out[n + 1] = '\0';
    return out;
}

enum sp_status sp_report_write(const struct sp_report *r, const char *path, struct sp_error *err)
{
    char *text = sp_report_dump(r);
    if (!text)
        return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory formatting the report", path);
    size_t len = strlen(text);

    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp) {
        free(text);
        return sp_error_set(err, SP_ERR_USAGE, "%s: path too long", path);
    }
    enum sp_status st = SP_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        free(text);
        return sp_error_set(err, SP_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    }
    for (size_t off = 0; off < len && !st;) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            st = sp_error_set(err, SP_ERR_IO, "%s: write failed: %s", tmp, w < 0 ? strerror(errno) : "no progress");
        else
            off += (size_t)w;
    }
    if (!st && fsync(fd) != 0)
        st = sp_error_set(err, SP_ERR_IO, "%s: fsync failed: %s", tmp, strerror(errno));
    if (close(fd) != 0 && !st)
        st = sp_error_set(err, SP_ERR_IO, "%s: close failed: %s", tmp, strerror(errno));
    if (!st && rename(tmp, path) != 0)
        st = sp_error_set(err, SP_ERR_IO, "%s: cannot rename into place: %s", path, strerror(errno));
    if (st) {
        unlink(tmp);
    } else {
        /* Make the rename itself durable. */
        char dirbuf[4096];
        snprintf(dirbuf, sizeof dirbuf, "%s", path);
        int dfd = open(dirname(dirbuf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    free(text);
    return st;
}
