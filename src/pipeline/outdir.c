/*
 * Output-folder transactions (see outdir.h): only rank 0 writes, and a run that
 * fails at any point leaves the folder as it found it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline/outdir.h"

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", a, b);
    return s;
}

enum sp_status sp_outdir_check(const char *root, struct sp_error *err)
{
    if (!root || !*root)
        return sp_error_set(err, SP_ERR_USAGE, "--output: expected a folder path, got an empty string");
    char path[PATH_MAX];
    if (strlen(root) >= sizeof path)
        return sp_error_set(err, SP_ERR_USAGE, "--output: path too long");
    strcpy(path, root);
    struct stat sb;
    if (stat(path, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode))
            return sp_error_set(err, SP_ERR_WRITE, "--output %s: exists and is not a folder", root);
        if (access(path, W_OK | X_OK) != 0)
            return sp_error_set(err, SP_ERR_WRITE, "--output %s: folder is not writable: %s", root, strerror(errno));
        return SP_OK;
    }
    if (errno != ENOENT)
        return sp_error_set(err, SP_ERR_WRITE, "--output %s: %s", root, strerror(errno));
    /* Walk up to the nearest existing ancestor. */
    for (;;) {
        size_t n = strlen(path);
        while (n > 1 && path[n - 1] == '/')
            path[--n] = '\0';
        char *slash = strrchr(path, '/');
        if (!slash) {
            strcpy(path, ".");
        } else if (slash == path) {
            path[1] = '\0';
        } else {
            *slash = '\0';
        }
        if (stat(path, &sb) == 0) {
            if (!S_ISDIR(sb.st_mode))
                return sp_error_set(err, SP_ERR_WRITE, "--output %s: %s is not a folder", root, path);
            if (access(path, W_OK | X_OK) != 0)
                return sp_error_set(err, SP_ERR_WRITE, "--output %s: cannot create it in %s: %s", root, path,
                                    strerror(errno));
            return SP_OK;
        }
        if (errno != ENOENT)
            return sp_error_set(err, SP_ERR_WRITE, "--output %s: %s: %s", root, path, strerror(errno));
        if (strcmp(path, ".") == 0 || strcmp(path, "/") == 0)
            return sp_error_set(err, SP_ERR_WRITE, "--output %s: no existing parent folder", root);
    }
}

static enum sp_status push_dir(struct sp_outdir *od, const char *path, struct sp_error *err)
{
    char **d = realloc(od->dirs, (od->n_dirs + 1) * sizeof *d);
    if (!d)
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    od->dirs = d;
    if (!(d[od->n_dirs] = dup_str(path)))
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    od->n_dirs++;
    return SP_OK;
}

/* mkdir -p, recording each folder it creates. */
static enum sp_status make_dirs(struct sp_outdir *od, const char *path, struct sp_error *err)
{
    char buf[PATH_MAX];
    if (strlen(path) >= sizeof buf)
        return sp_error_set(err, SP_ERR_USAGE, "%s: path too long", path);
    strcpy(buf, path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        struct stat sb;
        if (stat(buf, &sb) != 0) {
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return sp_error_set(err, SP_ERR_WRITE, "%s: cannot create folder: %s", buf, strerror(errno));
            enum sp_status st = push_dir(od, buf, err);
            if (st)
                return st;
        } else if (!S_ISDIR(sb.st_mode)) {
            return sp_error_set(err, SP_ERR_WRITE, "%s: exists and is not a folder", buf);
        }
        *p = saved;
        if (!saved)
            break;
    }
    return SP_OK;
}

enum sp_status sp_outdir_begin(struct sp_outdir *od, const char *root, struct sp_error *err)
{
    memset(od, 0, sizeof *od);
    if (!(od->root = dup_str(root)))
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    /* A path like A/new/../file/out creates A/new before failing on A/file:
     * what this call created goes again, as the caller has nothing to abort. */
    enum sp_status st = make_dirs(od, root, err);
    if (st)
        sp_outdir_abort(od);
    return st;
}

static bool rel_ok(const char *rel)
{
    if (!*rel || rel[0] == '/')
        return false;
    for (const char *p = rel; *p;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0 || (n == 2 && p[0] == '.' && p[1] == '.') || (n == 1 && p[0] == '.'))
            return false;
        p += n + (e ? 1 : 0);
        if (e && !*p)
            return false;
    }
    return true;
}

enum sp_status sp_outdir_stage_path(struct sp_outdir *od, const char *rel, const char **tmp_out,
                                    struct sp_error *err)
{
    if (!rel_ok(rel))
        return sp_error_set(err, SP_ERR_FORMAT, "output file '%s': expected a relative path inside the folder", rel);
    for (size_t i = 0; i < od->n_files; i++) {
        const char *f = od->final[i] + strlen(od->root) + 1;
        if (strcmp(f, rel) == 0)
            return sp_error_set(err, SP_ERR_FORMAT, "output file '%s' would be written twice", rel);
    }
    char *final = join(od->root, rel);
    if (!final)
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    /* Sub-folders of a relative path (external data "weights/a.bin"). */
    char *slash = strrchr(final, '/');
    if (slash > final + strlen(od->root)) {
        *slash = '\0';
        enum sp_status st = make_dirs(od, final, err);
        *slash = '/';
        if (st) {
            free(final);
            return st;
        }
    }
    size_t n = strlen(final) + 32;
    char *tmp = malloc(n);
    char **t = realloc(od->tmp, (od->n_files + 1) * sizeof *t);
    if (t)
        od->tmp = t;
    char **f = realloc(od->final, (od->n_files + 1) * sizeof *f);
    if (f)
        od->final = f;
    if (!tmp || !t || !f) {
        free(tmp);
        free(final);
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    }
    /* Dot-prefixed in the same folder, so the rename is atomic and a crash
     * leaves only an obviously temporary file. */
    char *base = strrchr(final, '/') + 1;
    snprintf(tmp, n, "%.*s.%s.tmp.%ld", (int)(base - final), final, base, (long)getpid());
    od->tmp[od->n_files] = tmp;
    od->final[od->n_files] = final;
    od->n_files++;
    *tmp_out = tmp;
    return SP_OK;
}

static enum sp_status write_all(int fd, const char *path, const void *buf, size_t len, struct sp_error *err)
{
    const char *p = buf;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return sp_error_set(err, SP_ERR_WRITE, "%s: write failed: %s", path, w < 0 ? strerror(errno) : "no progress");
        p += w;
        len -= (size_t)w;
    }
    return SP_OK;
}

enum sp_status sp_outdir_write(struct sp_outdir *od, const char *rel, const void *buf, size_t len,
                               struct sp_error *err)
{
    const char *tmp;
    enum sp_status st = sp_outdir_stage_path(od, rel, &tmp, err);
    if (st)
        return st;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return sp_error_set(err, SP_ERR_WRITE, "%s: cannot create: %s", tmp, strerror(errno));
    st = write_all(fd, tmp, buf, len, err);
    if (!st && fsync(fd) != 0)
        st = sp_error_set(err, SP_ERR_WRITE, "%s: fsync failed: %s", tmp, strerror(errno));
    if (close(fd) != 0 && !st)
        st = sp_error_set(err, SP_ERR_WRITE, "%s: close failed: %s", tmp, strerror(errno));
    return st;
}

enum sp_status sp_outdir_copy(struct sp_outdir *od, const char *src, const char *rel, struct sp_error *err)
{
    const char *tmp;
    enum sp_status st = sp_outdir_stage_path(od, rel, &tmp, err);
    if (st)
        return st;
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return sp_error_set(err, SP_ERR_WRITE, "%s: cannot open: %s", src, strerror(errno));
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        close(in);
        return sp_error_set(err, SP_ERR_WRITE, "%s: cannot create: %s", tmp, strerror(errno));
    }
    enum { CHUNK = 1 << 20 };
    char *buf = malloc(CHUNK);
    if (!buf)
        st = sp_error_set(err, SP_ERR_NOMEM, "out of memory copying %s", src);
    while (!st) {
        ssize_t r = read(in, buf, CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            st = sp_error_set(err, SP_ERR_WRITE, "%s: read failed: %s", src, strerror(errno));
        if (r <= 0)
            break;
        st = write_all(out, tmp, buf, (size_t)r, err);
    }
    free(buf);
    close(in);
    if (!st && fsync(out) != 0)
        st = sp_error_set(err, SP_ERR_WRITE, "%s: fsync failed: %s", tmp, strerror(errno));
    if (close(out) != 0 && !st)
        st = sp_error_set(err, SP_ERR_WRITE, "%s: close failed: %s", tmp, strerror(errno));
    return st;
}

static void sync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

enum sp_status sp_outdir_commit(struct sp_outdir *od, struct sp_error *err)
{
    for (size_t i = od->n_committed; i < od->n_files; i++) {
        if (rename(od->tmp[i], od->final[i]) != 0) {
            sp_error_set(err, SP_ERR_WRITE, "%s: cannot rename into place: %s", od->final[i], strerror(errno));
            sp_outdir_abort(od);
            return SP_ERR_WRITE;
        }
        od->n_committed = i + 1;
    }
    for (size_t i = 0; i < od->n_files; i++) {
        char *slash = strrchr(od->final[i], '/');
        *slash = '\0';
        sync_dir(od->final[i]);
        *slash = '/';
    }
    /* The folders we created must be durable in their parents too. */
    for (size_t i = 0; i < od->n_dirs; i++) {
        char buf[PATH_MAX];
        snprintf(buf, sizeof buf, "%s/..", od->dirs[i]);
        sync_dir(buf);
    }
    return SP_OK;
}

void sp_outdir_free(struct sp_outdir *od)
{
    for (size_t i = 0; i < od->n_files; i++) {
        free(od->tmp[i]);
        free(od->final[i]);
    }
    for (size_t i = 0; i < od->n_dirs; i++)
        free(od->dirs[i]);
    free(od->tmp);
    free(od->final);
    free(od->dirs);
    free(od->root);
    memset(od, 0, sizeof *od);
}

void sp_outdir_abort(struct sp_outdir *od)
{
    for (size_t i = 0; i < od->n_files; i++)
        unlink(i < od->n_committed ? od->final[i] : od->tmp[i]);
    for (size_t i = od->n_dirs; i-- > 0;)
        rmdir(od->dirs[i]);
    sp_outdir_free(od);
}
