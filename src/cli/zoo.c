/*
 * MODEL and DATA arguments: paths, or names of entries of a local model zoo,
 * so that `--model fashion-cnn --data fashion-cnn` works like the seed guide's
 * stub names. A zoo is a folder of entries <zoo>/<name>/model.onnx and
 * <zoo>/<name>/data/.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

/* snprintf's result fit in the buffer. */
static bool fmt_ok(int n, size_t size)
{
    return n >= 0 && (size_t)n < size;
}

static bool is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool is_file(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

const char *sp_cli_zoo_dir(const char *zoo)
{
    static char buf[PATH_MAX];
    if (zoo)
        return zoo;
    const char *env = getenv("SPARSIFY_ZOO");
    if (env && *env)
        return env;
    /* Installed next to the binary: <prefix>/bin/sparsify -> <prefix>/share/sparsify/zoo,
     * which keeps a relocated install working. */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            if (fmt_ok(snprintf(buf, sizeof buf, "%s/../share/sparsify/zoo", exe), sizeof buf) && is_dir(buf))
                return buf;
        }
    }
#ifdef SPARSIFY_ZOO_INSTALL_DIR
    if (is_dir(SPARSIFY_ZOO_INSTALL_DIR))
        return SPARSIFY_ZOO_INSTALL_DIR;
#endif
#ifdef SPARSIFY_ZOO_SOURCE_DIR
    if (is_dir(SPARSIFY_ZOO_SOURCE_DIR))
        return SPARSIFY_ZOO_SOURCE_DIR;
#endif
    return NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "a, b, c" of the zoo's entries (folders holding a model.onnx), sorted. */
static void known_names(const char *zoo, char *out, size_t outlen)
{
    out[0] = '\0';
    DIR *d = zoo ? opendir(zoo) : NULL;
    if (!d) {
        snprintf(out, outlen, "none");
        return;
    }
    char *names[64];
    int n = 0;
    bool more = false;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[PATH_MAX];
        if (!fmt_ok(snprintf(p, sizeof p, "%s/%s/model.onnx", zoo, e->d_name), sizeof p) || !is_file(p))
            continue;
        if (n == 64) {
            more = true;
            continue;
        }
        if ((names[n] = strdup(e->d_name)))
            n++;
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmp_str);
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        if (len < outlen)
            len += (size_t)snprintf(out + len, outlen - len, "%s%s", i ? ", " : "", names[i]);
        free(names[i]);
    }
    if (more && len < outlen)
        snprintf(out + len, outlen - len, ", ...");
    if (n == 0)
        snprintf(out, outlen, "none");
}

/* A bare name (no '/', not a file name with an extension we know) may be a zoo entry. */
static bool looks_like_name(const char *spec)
{
    if (strchr(spec, '/') || spec[0] == '.')
        return false;
    size_t n = strlen(spec);
    return !(n > 5 && strcmp(spec + n - 5, ".onnx") == 0);
}

static enum sp_status resolve(const char *flag, const char *spec, const char *zoo, bool want_dir, char **path,
                              const char **zoo_name, struct sp_error *err)
{
    *path = NULL;
    *zoo_name = NULL;
    struct stat sb;
    if (stat(spec, &sb) == 0) {
        if (want_dir && !S_ISDIR(sb.st_mode))
            return sp_error_set(err, SP_ERR_IO, "--%s %s: expected a folder of .npz files, got a file", flag, spec);
        if (!want_dir && S_ISDIR(sb.st_mode)) {
            /* A zoo entry's folder given as a path: take its model.onnx. */
            char p[PATH_MAX];
            if (!fmt_ok(snprintf(p, sizeof p, "%s/model.onnx", spec), sizeof p) || !is_file(p))
                return sp_error_set(err, SP_ERR_IO, "--%s %s: expected an ONNX file, got a folder without model.onnx",
                                    flag, spec);
            *path = strdup(p);
            return *path ? SP_OK : sp_error_set(err, SP_ERR_NOMEM, "out of memory");
        }
        *path = strdup(spec);
        return *path ? SP_OK : sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    }
    if (!looks_like_name(spec))
        return sp_error_set(err, SP_ERR_IO, "--%s %s: %s", flag, spec, strerror(errno));

    const char *dir = sp_cli_zoo_dir(zoo);
    char p[PATH_MAX];
    if (dir) {
        int n = want_dir ? snprintf(p, sizeof p, "%s/%s/data", dir, spec)
                         : snprintf(p, sizeof p, "%s/%s/model.onnx", dir, spec);
        if (fmt_ok(n, sizeof p) && (want_dir ? is_dir(p) : is_file(p))) {
            *path = strdup(p);
            *zoo_name = spec;
            return *path ? SP_OK : sp_error_set(err, SP_ERR_NOMEM, "out of memory");
        }
    }
    char names[1024];
    known_names(dir, names, sizeof names);
    if (!dir)
        return sp_error_set(err, SP_ERR_IO,
                            "--%s %s: no such file or folder, and no model zoo to look it up in (use --zoo DIR or "
                            "SPARSIFY_ZOO)",
                            flag, spec);
    return sp_error_set(err, SP_ERR_IO, "--%s %s: no such file or folder, and no zoo entry '%s' in %s (known: %s)",
                        flag, spec, spec, dir, names);
}

enum sp_status sp_cli_resolve_model(const char *spec, const char *zoo, char **path, const char **zoo_name,
                                    struct sp_error *err)
{
    return resolve("model", spec, zoo, false, path, zoo_name, err);
}

enum sp_status sp_cli_resolve_data(const char *spec, const char *zoo, char **path, const char **zoo_name,
                                   struct sp_error *err)
{
    return resolve("data", spec, zoo, true, path, zoo_name, err);
}
