/*
 * ONNX backend conformance: runs the engine on every case of Debian's
 * libonnx-testdata (data/{node,pytorch-converted,pytorch-operator,simple}) and
 * compares with the reference outputs.
 *
 * Each case is classified:
 *   pass         every test_data_set matches within the tolerance of its ops
 *   fail         wrong numbers, wrong shape or wrong dtype: ALWAYS a test
 *                failure, listed or not. An op must refuse (at init or prepare)
 *                what it cannot compute; wrong numbers are never acceptable
 *   crash        the case killed its process (signal, timeout): a failure too
 *   unsupported  load, prepare or an input tensor refused with SP_ERR_UNSUPPORTED
 *   error        any other refusal (format, not implemented, ...)
 * A regression guard reads expected_pass.txt: a listed case that does not pass
 * fails the test. Newly passing cases are printed; --update rewrites the list.
 *
 * Unlike runners that exit 0 whatever happens, or compare every op with one
 * tolerance, this one sets its exit code from the results and takes the
 * tolerance from the ops in the case's model. Each case runs in a child process,
 * so a crashing op is reported as such and does not hide the other results.
 *
 *   run_conformance [--data DIR] [--expected FILE] [--update] [--verbose]
 *                   [--timeout SECONDS] [SUBSTRING...]
 *   run_conformance --write-ops-doc FILE | --check-ops-doc FILE | --self-test
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "onnx/model_internal.h"
#include "ops_doc.h"
#include "sparsify/engine.h"

/* Paths and messages are cut at their buffer size on purpose: a truncated
 * message still names the case. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#define DEFAULT_DATA "/usr/share/libonnx-testdata/data"
static const char *const SUITES[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};

enum verdict { V_PASS, V_FAIL, V_CRASH, V_UNSUPPORTED, V_ERROR, V_COUNT };
static const char *const VERDICT_NAMES[] = {"pass", "fail", "crash", "unsupported", "error"};

/* ---- tolerances ---------------------------------------------------------------- */

struct tol {
    double rtol, atol;
};

/* Ops whose results legitimately differ from the float64 numpy references by
 * more than rounding: transcendental functions (different polynomial
 * approximations) and long accumulations (summation order, BLAS blocking). A
 * case takes the loosest tolerance among the ops of its model. Integer and
 * bool outputs are always compared exactly. */
static const struct {
    const char *op;
    struct tol t;
} TOLERANCES[] = {
    {"Exp", {1e-3, 1e-5}},       {"Log", {1e-3, 1e-5}},        {"Pow", {1e-3, 1e-5}},
    {"Sigmoid", {1e-3, 1e-5}},   {"Tanh", {1e-3, 1e-5}},       {"Erf", {1e-3, 1e-5}},
    {"Gelu", {1e-3, 1e-5}},      {"Softplus", {1e-3, 1e-5}},   {"Elu", {1e-3, 1e-5}},
    {"Selu", {1e-3, 1e-5}},      {"Mish", {1e-3, 1e-5}},       {"Sin", {1e-3, 1e-5}},
    {"Cos", {1e-3, 1e-5}},       {"Softmax", {1e-3, 1e-5}},    {"LogSoftmax", {1e-3, 1e-5}},
    {"ReduceLogSumExp", {1e-3, 1e-5}},
    {"Conv", {1e-3, 1e-4}},      {"ConvTranspose", {1e-3, 1e-4}}, {"Gemm", {1e-3, 1e-4}},
    {"MatMul", {1e-3, 1e-4}},    {"ReduceMean", {1e-3, 1e-4}}, {"ReduceSum", {1e-3, 1e-4}},
    {"ReduceL1", {1e-3, 1e-4}},  {"ReduceL2", {1e-3, 1e-4}},   {"ReduceSumSquare", {1e-3, 1e-4}},
    {"ReduceProd", {1e-3, 1e-4}}, {"AveragePool", {1e-3, 1e-4}}, {"GlobalAveragePool", {1e-3, 1e-4}},
    {"BatchNormalization", {1e-3, 1e-4}}, {"LayerNormalization", {1e-3, 1e-4}},
    {"InstanceNormalization", {1e-3, 1e-4}}, {"Resize", {1e-3, 1e-4}}, {"Upsample", {1e-3, 1e-4}},
    {"Mean", {1e-3, 1e-4}},      {"Sum", {1e-3, 1e-4}},
};
static const struct tol DEFAULT_TOL = {1e-4, 1e-5};

static struct tol model_tolerance(const struct sp_model *m)
{
    struct tol t = DEFAULT_TOL;
    const Onnx__GraphProto *g = m->proto->graph;
    for (size_t i = 0; i < g->n_node; i++)
        for (size_t k = 0; k < sizeof TOLERANCES / sizeof TOLERANCES[0]; k++)
            if (g->node[i]->op_type && strcmp(g->node[i]->op_type, TOLERANCES[k].op) == 0) {
                if (TOLERANCES[k].t.rtol > t.rtol)
                    t.rtol = TOLERANCES[k].t.rtol;
                if (TOLERANCES[k].t.atol > t.atol)
                    t.atol = TOLERANCES[k].t.atol;
            }
    return t;
}

/* ---- one case (runs in a child process) ----------------------------------------- */

struct result {
    enum verdict v;
    char msg[900];
};

static enum verdict from_status(enum sp_status st)
{
    return st == SP_ERR_UNSUPPORTED ? V_UNSUPPORTED : V_ERROR;
}

static Onnx__TensorProto *read_tensor_pb(const char *path, struct result *r)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || sb.st_size < 0 || sb.st_size > (1 << 30)) {
        fclose(f);
        r->v = V_ERROR;
        snprintf(r->msg, sizeof r->msg, "%s: unreadable or larger than 1 GiB", path);
        return NULL;
    }
    size_t len = (size_t)sb.st_size;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf || fread(buf, 1, len, f) != len) {
        free(buf);
        fclose(f);
        r->v = V_ERROR;
        snprintf(r->msg, sizeof r->msg, "%s: cannot read", path);
        return NULL;
    }
    fclose(f);
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, buf);
    free(buf);
    if (!tp) {
        r->v = V_UNSUPPORTED; /* a SequenceProto or OptionalProto: not a tensor */
        snprintf(r->msg, sizeof r->msg, "%s: not a TensorProto", path);
    }
    return tp;
}

static bool file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static float half_to_float(uint16_t h)
{
    int sign = h >> 15, exp = (h >> 10) & 31, man = h & 1023;
    float v;
    if (exp == 0)
        v = ldexpf((float)man, -24);
    else if (exp == 31)
        v = man ? NAN : INFINITY;
    else
        v = ldexpf((float)(man | 1024), exp - 25);
    return sign ? -v : v;
}

static float bfloat16_to_float(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

static bool is_float_type(enum sp_dtype dt)
{
    return dt == SP_DTYPE_FLOAT || dt == SP_DTYPE_DOUBLE || dt == SP_DTYPE_FLOAT16 || dt == SP_DTYPE_BFLOAT16;
}

static double float_at(const struct sp_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case SP_DTYPE_FLOAT: return ((const float *)t->data)[i];
    case SP_DTYPE_DOUBLE: return ((const double *)t->data)[i];
    case SP_DTYPE_FLOAT16: return half_to_float(((const uint16_t *)t->data)[i]);
    case SP_DTYPE_BFLOAT16: return bfloat16_to_float(((const uint16_t *)t->data)[i]);
    default: return NAN;
    }
}

/* Compares one output; fills r and returns false on a mismatch. */
static bool compare(const char *name, const struct sp_tensor *got, const struct sp_tensor *want, struct tol tol,
                    struct result *r)
{
    char gs[128], ws[128];
    sp_shape_str(got->ndim, got->dims, gs, sizeof gs);
    sp_shape_str(want->ndim, want->dims, ws, sizeof ws);
    if (got->dtype != want->dtype) {
        snprintf(r->msg, sizeof r->msg, "output '%s': dtype %s, expected %s", name, sp_dtype_name(got->dtype),
                 sp_dtype_name(want->dtype));
        return false;
    }
    bool same = got->ndim == want->ndim;
    for (int d = 0; same && d < got->ndim; d++)
        same = got->dims[d] == want->dims[d];
    if (!same) {
        snprintf(r->msg, sizeof r->msg, "output '%s': shape %s, expected %s", name, gs, ws);
        return false;
    }
    int64_t n = sp_tensor_numel(want);
    if (!is_float_type(want->dtype)) {
        size_t es = sp_dtype_size(want->dtype);
        for (int64_t i = 0; i < n; i++)
            if (memcmp((const char *)got->data + i * es, (const char *)want->data + i * es, es) != 0) {
                long long g = 0, w = 0;
                if (es <= sizeof g) {
                    memcpy(&g, (const char *)got->data + i * es, es);
                    memcpy(&w, (const char *)want->data + i * es, es);
                }
                snprintf(r->msg, sizeof r->msg, "output '%s' %s (%s, exact) element %lld: got %lld, expected %lld",
                         name, ws, sp_dtype_name(want->dtype), (long long)i, g, w);
                return false;
            }
        return true;
    }
    if (want->dtype == SP_DTYPE_BFLOAT16 && tol.rtol < 1.0 / 128) {
        /* 8 significant bits: the references truncate where a cast may round
         * to nearest, so allow one unit in the last place. */
        tol.rtol = 1.0 / 128;
    }
    int64_t bad = 0, first = -1;
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double g = float_at(got, i), w = float_at(want, i);
        bool ok;
        if (isnan(w))
            ok = isnan(g);
        else if (isinf(w))
            ok = g == w;
        else
            ok = fabs(g - w) <= tol.atol + tol.rtol * fabs(w);
        if (!ok) {
            if (first < 0)
                first = i;
            bad++;
            double excess = fabs(g - w) / (tol.atol + tol.rtol * fabs(w));
            if (!(excess <= worst))
                worst = excess;
        }
    }
    if (bad) {
        snprintf(r->msg, sizeof r->msg,
                 "output '%s' %s: %lld of %lld values off (rtol %g, atol %g); first at %lld: got %.9g, expected "
                 "%.9g; worst %.3gx the tolerance",
                 name, ws, (long long)bad, (long long)n, tol.rtol, tol.atol, (long long)first,
                 float_at(got, first), float_at(want, first), worst);
        return false;
    }
    return true;
}

/* Finds the model input/output a pb file feeds: by name when it has one that
 * matches, else by position. */
static int slot_for(const Onnx__TensorProto *tp, int k, int n, const struct sp_value_info *(*get)(const struct sp_model *, int),
                    const struct sp_model *m)
{
    if (tp->name && tp->name[0])
        for (int i = 0; i < n; i++)
            if (strcmp(get(m, i)->name, tp->name) == 0)
                return i;
    return k < n ? k : -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the entries of `dir` starting with `prefix` (NULL: all but
 * dot files). Caller frees each and the array. */
static char **list_dir(const char *dir, const char *prefix, int *count)
{
    *count = 0;
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    char **v = NULL;
    int cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || (prefix && strncmp(de->d_name, prefix, strlen(prefix)) != 0))
            continue;
        if (*count == cap) {
            cap = cap ? cap * 2 : 64;
            char **nv = realloc(v, (size_t)cap * sizeof *v);
            if (!nv)
                abort();
            v = nv;
        }
        v[(*count)++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(v, (size_t)*count, sizeof *v, cmp_str);
    return v;
}

static void free_list(char **v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Runs one data set; returns false with r filled on anything but a pass. */
static bool run_data_set(struct sp_engine *e, const struct sp_model *m, const char *dir, struct tol tol,
                         struct result *r)
{
    int ni = sp_model_num_inputs(m), no = sp_model_num_outputs(m);
    struct sp_tensor *in = calloc((size_t)ni + 1, sizeof *in), *out = calloc((size_t)no + 1, sizeof *out),
                     *want = calloc((size_t)no + 1, sizeof *want);
    bool *fed = calloc((size_t)ni + 1, 1), *have = calloc((size_t)no + 1, 1);
    char path[4096];
    bool ok = false;
    struct sp_error err;
    sp_error_clear(&err);
    if (!in || !out || !want || !fed || !have)
        abort();
    for (int k = 0;; k++) {
        snprintf(path, sizeof path, "%s/input_%d.pb", dir, k);
        if (!file_exists(path))
            break;
        Onnx__TensorProto *tp = read_tensor_pb(path, r);
        if (!tp)
            goto out;
        int slot = slot_for(tp, k, ni, sp_model_input, m);
        if (slot < 0 || fed[slot]) {
            r->v = V_ERROR;
            snprintf(r->msg, sizeof r->msg, "%s feeds no model input (the model has %d)", path, ni);
            onnx__tensor_proto__free_unpacked(tp, NULL);
            goto out;
        }
        enum sp_status st = sp_tensor_from_proto(tp, &in[slot], path, &err);
        onnx__tensor_proto__free_unpacked(tp, NULL);
        if (st) {
            r->v = from_status(st);
            snprintf(r->msg, sizeof r->msg, "%s", err.msg);
            goto out;
        }
        enum sp_dtype declared = sp_model_input(m, slot)->dtype; /* see the outputs below */
        if (in[slot].dtype == SP_DTYPE_UINT16 && (declared == SP_DTYPE_BFLOAT16 || declared == SP_DTYPE_FLOAT16))
            in[slot].dtype = declared;
        fed[slot] = true;
    }
    for (int i = 0; i < ni; i++)
        if (!fed[i]) {
            r->v = V_ERROR;
            snprintf(r->msg, sizeof r->msg, "%s: no data for model input '%s'", dir, sp_model_input(m, i)->name);
            goto out;
        }
    for (int k = 0;; k++) {
        snprintf(path, sizeof path, "%s/output_%d.pb", dir, k);
        if (!file_exists(path))
            break;
        Onnx__TensorProto *tp = read_tensor_pb(path, r);
        if (!tp)
            goto out;
        int slot = slot_for(tp, k, no, sp_model_output, m);
        enum sp_status st = slot < 0 || have[slot] ? SP_ERR_FORMAT : sp_tensor_from_proto(tp, &want[slot], path, &err);
        onnx__tensor_proto__free_unpacked(tp, NULL);
        if (st) {
            r->v = from_status(st);
            snprintf(r->msg, sizeof r->msg, "%s", err.msg[0] ? err.msg : "an output file matches no model output");
            goto out;
        }
        /* ONNX 1.12's generator stored bfloat16 and float16 references as
         * uint16 bit patterns; the model's declared output type says what they are. */
        enum sp_dtype declared = sp_model_output(m, slot)->dtype;
        if (want[slot].dtype == SP_DTYPE_UINT16 && (declared == SP_DTYPE_BFLOAT16 || declared == SP_DTYPE_FLOAT16))
            want[slot].dtype = declared;
        have[slot] = true;
    }
    enum sp_status st = sp_engine_run(e, in, out, &err);
    if (st) {
        r->v = from_status(st);
        snprintf(r->msg, sizeof r->msg, "run: %s", err.msg);
        goto out;
    }
    r->v = V_FAIL;
    for (int i = 0; i < no; i++)
        if (have[i] && !compare(sp_model_output(m, i)->name, &out[i], &want[i], tol, r))
            goto out;
    r->v = V_PASS;
    ok = true;
out:
    for (int i = 0; i < ni; i++)
        sp_tensor_free(&in[i]);
    for (int i = 0; i < no; i++) {
        sp_tensor_free(&out[i]);
        sp_tensor_free(&want[i]);
    }
    free(in);
    free(out);
    free(want);
    free(fed);
    free(have);
    return ok;
}

static void run_case(const char *dir, struct result *r)
{
    char path[4096];
    struct sp_error err;
    sp_error_clear(&err);
    struct sp_model *m = NULL;
    struct sp_engine *e = NULL;
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    enum sp_status st = sp_model_load(path, &m, &err);
    if (!st)
        st = sp_engine_create(m, NULL, &e, &err);
    if (st) {
        r->v = from_status(st);
        snprintf(r->msg, sizeof r->msg, "load: %s", err.msg);
        goto out;
    }
    struct tol tol = model_tolerance(m);
    int n_sets;
    char **sets = list_dir(dir, "test_data_set_", &n_sets);
    r->v = V_PASS;
    for (int s = 0; s < n_sets && r->v == V_PASS; s++) {
        snprintf(path, sizeof path, "%s/%s", dir, sets[s]);
        if (!run_data_set(e, m, path, tol, r)) {
            size_t len = strlen(r->msg);
            snprintf(r->msg + len, sizeof r->msg - len, " [%s]", sets[s]);
        }
    }
    if (n_sets == 0) {
        r->v = V_ERROR;
        snprintf(r->msg, sizeof r->msg, "no test_data_set_* folder");
    }
    free_list(sets, n_sets);
out:
    sp_engine_free(e);
    sp_model_free(m);
}

/* Runs run_case in a child so a crash or hang is a result, not the end of the run. */
static void run_case_isolated(const char *dir, unsigned timeout, struct result *r)
{
    int fd[2];
    memset(r, 0, sizeof *r);
    if (pipe(fd) != 0) {
        r->v = V_ERROR;
        snprintf(r->msg, sizeof r->msg, "pipe: %s", strerror(errno));
        return;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        r->v = V_ERROR;
        snprintf(r->msg, sizeof r->msg, "fork: %s", strerror(errno));
        close(fd[0]);
        close(fd[1]);
        return;
    }
    if (pid == 0) {
        close(fd[0]);
        alarm(timeout);
        struct result cr = {0};
        run_case(dir, &cr);
        ssize_t w = write(fd[1], &cr, sizeof cr);
        _exit(w == (ssize_t)sizeof cr ? 0 : 3);
    }
    close(fd[1]);
    size_t got = 0;
    while (got < sizeof *r) {
        ssize_t n = read(fd[0], (char *)r + got, sizeof *r - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (got != sizeof *r || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        r->v = V_CRASH;
        if (WIFSIGNALED(status))
            snprintf(r->msg, sizeof r->msg, "killed by signal %d (%s)%s", WTERMSIG(status),
                     strsignal(WTERMSIG(status)), WTERMSIG(status) == SIGALRM ? ": timed out" : "");
        else
            snprintf(r->msg, sizeof r->msg, "exited with status %d without a result", WEXITSTATUS(status));
    }
}

/* ---- the expected-pass list ------------------------------------------------------ */

struct names {
    char **v;
    int n, cap;
};

static void names_add(struct names *s, const char *name)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        char **nv = realloc(s->v, (size_t)s->cap * sizeof *nv);
        if (!nv)
            abort();
        s->v = nv;
    }
    s->v[s->n++] = strdup(name);
}

static bool names_has(const struct names *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->v[i], name) == 0)
            return true;
    return false;
}

static void read_expected(const char *path, struct names *s)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p && *p != '#')
            names_add(s, p);
    }
    fclose(f);
}

static bool matches_filter(const char *id, char **filters, int n_filters)
{
    if (n_filters == 0)
        return true;
    for (int i = 0; i < n_filters; i++)
        if (strstr(id, filters[i]))
            return true;
    return false;
}

/* Rewrites the list: entries outside the filter kept, entries inside replaced
 * by the cases that passed. Temporary file, fsync, rename. */
static int write_expected(const char *path, const struct names *old, const struct names *passed, char **filters,
                          int n_filters)
{
    struct names all = {0};
    for (int i = 0; i < old->n; i++)
        if (!matches_filter(old->v[i], filters, n_filters))
            names_add(&all, old->v[i]);
    for (int i = 0; i < passed->n; i++)
        if (!names_has(&all, passed->v[i]))
            names_add(&all, passed->v[i]);
    qsort(all.v, (size_t)all.n, sizeof *all.v, cmp_str);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "run_conformance: cannot write %s: %s\n", tmp, strerror(errno));
        return 1;
    }
    fprintf(f, "# ONNX backend test cases (libonnx-testdata) known to pass: the conformance\n"
               "# test fails if one of them stops passing. Extend with\n"
               "#   run_conformance --update [SUBSTRING...]\n");
    for (int i = 0; i < all.n; i++)
        fprintf(f, "%s\n", all.v[i]);
    bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "run_conformance: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
        return 1;
    }
    printf("wrote %s (%d cases)\n", path, all.n);
    free_list(all.v, all.n);
    return 0;
}

/* ---- docs/operators.md ------------------------------------------------------------ */

static int ops_doc(const char *path, bool write)
{
    char *doc = sp_ops_doc_markdown();
    if (write) {
        FILE *f = fopen(path, "w");
        if (!f || fputs(doc, f) < 0 || fclose(f) != 0) {
            fprintf(stderr, "run_conformance: cannot write %s\n", path);
            free(doc);
            return 1;
        }
        free(doc);
        return 0;
    }
    FILE *f = fopen(path, "rb");
    char *have = NULL;
    size_t len = 0;
    if (f) {
        fseek(f, 0, SEEK_END);
        long sz = ftell(f);
        fseek(f, 0, SEEK_SET);
        have = calloc(1, sz > 0 ? (size_t)sz + 1 : 1);
        len = have && sz > 0 ? fread(have, 1, (size_t)sz, f) : 0;
        fclose(f);
    }
    bool same = have && len == strlen(doc) && memcmp(have, doc, len) == 0;
    if (!same) {
        /* Show the first line that differs, then what the file should hold. */
        const char *a = have ? have : "", *b = doc;
        int line = 1;
        while (*a && *a == *b) {
            line += *a == '\n';
            a++, b++;
        }
        while (a > (have ? have : "") && a[-1] != '\n')
            a--, b--;
        fprintf(stderr,
                "%s does not match the operator registry (ops.def and each op's opset range).\n"
                "first difference at line %d:\n  file:     %.*s\n  registry: %.*s\n"
                "Regenerate it: run_conformance --write-ops-doc %s\n",
                path, line, (int)strcspn(a, "\n"), a, (int)strcspn(b, "\n"), b, path);
    }
    else
        printf("%s matches the operator registry\n", path);
    free(have);
    free(doc);
    return same ? 0 : 1;
}

/* ---- self-test of the comparison: the guard must be able to fail ------------ */

static int self_test(void)
{
    float a[4] = {1.0f, -2.0f, NAN, INFINITY}, b[4];
    int64_t ia[3] = {1, 2, 3}, ib[3] = {1, 2, 4};
    struct sp_tensor ta = {.dtype = SP_DTYPE_FLOAT, .ndim = 1, .dims = {4}, .data = a};
    struct sp_tensor tb = ta;
    tb.data = b;
    struct result r;
    int bad = 0;
#define EXPECT(cond, what)                                                                                             \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            printf("self-test FAILED: %s\n", what);                                                                    \
            bad++;                                                                                                     \
        }                                                                                                              \
    } while (0)
    memcpy(b, a, sizeof a);
    EXPECT(compare("t", &ta, &tb, DEFAULT_TOL, &r), "identical tensors (with NaN and Inf) pass");
    b[0] = 1.0f + 5e-5f;
    EXPECT(compare("t", &ta, &tb, DEFAULT_TOL, &r), "a difference within rtol 1e-4 passes");
    b[0] = 1.0f + 1e-3f;
    EXPECT(!compare("t", &ta, &tb, DEFAULT_TOL, &r), "a 1e-3 relative error fails at rtol 1e-4");
    EXPECT(compare("t", &ta, &tb, (struct tol){2e-3, 1e-5}, &r), "the same error passes at rtol 2e-3");
    b[0] = 1.0f;
    b[2] = 0.0f;
    EXPECT(!compare("t", &tb, &ta, DEFAULT_TOL, &r), "a number where NaN is expected fails");
    b[2] = NAN;
    b[3] = -INFINITY;
    EXPECT(!compare("t", &tb, &ta, DEFAULT_TOL, &r), "-Inf where +Inf is expected fails");
    b[3] = INFINITY;
    tb.dims[0] = 2;
    tb.ndim = 2;
    tb.dims[1] = 2;
    EXPECT(!compare("t", &tb, &ta, DEFAULT_TOL, &r), "a different shape fails");
    struct sp_tensor ti = {.dtype = SP_DTYPE_INT64, .ndim = 1, .dims = {3}, .data = ia};
    struct sp_tensor tj = ti;
    tj.data = ib;
    EXPECT(!compare("t", &ti, &tj, (struct tol){1, 1}, &r), "integers compare exactly whatever the tolerance");
    EXPECT(!compare("t", &ti, &ta, DEFAULT_TOL, &r), "a different dtype fails");
    printf("comparison self-test: %s\n", bad ? "FAILED" : "ok");
    return bad ? 1 : 0;
#undef EXPECT
}

/* ---- main -------------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: run_conformance [--data DIR] [--expected FILE] [--update] [--verbose] "
                    "[--timeout SECONDS] [SUBSTRING...]\n"
                    "       run_conformance --write-ops-doc FILE | --check-ops-doc FILE | --self-test\n");
}

int main(int argc, char **argv)
{
    const char *data = DEFAULT_DATA, *expected_path = NULL;
    bool update = false, verbose = false;
    unsigned timeout = 120;
    char **filters = calloc((size_t)argc + 1, sizeof *filters);
    int n_filters = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if (!strcmp(a, "--data") && has_val)
            data = argv[++i];
        else if (!strcmp(a, "--expected") && has_val)
            expected_path = argv[++i];
        else if (!strcmp(a, "--timeout") && has_val)
            timeout = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(a, "--update"))
            update = true;
        else if (!strcmp(a, "--verbose") || !strcmp(a, "-v"))
            verbose = true;
        else if (!strcmp(a, "--write-ops-doc") && has_val)
            return ops_doc(argv[i + 1], true);
        else if (!strcmp(a, "--self-test"))
            return self_test();
        else if (!strcmp(a, "--check-ops-doc") && has_val)
            return ops_doc(argv[i + 1], false);
        else if (a[0] == '-') {
            usage();
            return 2;
        } else
            filters[n_filters++] = argv[i];
    }
    if (!expected_path) {
        static char def[4096];
        const char *src = getenv("SPARSIFY_SOURCE_DIR");
        snprintf(def, sizeof def, "%s/tests/conformance/expected_pass.txt", src ? src : ".");
        expected_path = def;
    }
    struct names expected = {0}, passed = {0}, ran = {0};
    read_expected(expected_path, &expected);
    if (expected.n == 0)
        fprintf(stderr, "run_conformance: warning: %s lists no case\n", expected_path);

    int counts[V_COUNT] = {0}, regressions = 0, new_passes = 0;
    for (size_t s = 0; s < sizeof SUITES / sizeof SUITES[0]; s++) {
        char suite_dir[4096];
        snprintf(suite_dir, sizeof suite_dir, "%s/%s", data, SUITES[s]);
        int n_cases;
        char **cases = list_dir(suite_dir, NULL, &n_cases);
        if (!cases) {
            fprintf(stderr, "run_conformance: cannot read %s (install libonnx-testdata)\n", suite_dir);
            return 2;
        }
        for (int c = 0; c < n_cases; c++) {
            char id[1024], dir[4096];
            snprintf(id, sizeof id, "%s/%s", SUITES[s], cases[c]);
            snprintf(dir, sizeof dir, "%s/%s", suite_dir, cases[c]);
            if (!matches_filter(id, filters, n_filters))
                continue;
            struct stat sb;
            if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
                continue;
            struct result r;
            run_case_isolated(dir, timeout, &r);
            names_add(&ran, id);
            counts[r.v]++;
            bool listed = names_has(&expected, id);
            if (r.v == V_PASS) {
                names_add(&passed, id);
                if (!listed) {
                    printf("NEW PASS     %s\n", id);
                    new_passes++;
                } else if (verbose)
                    printf("pass         %s\n", id);
            } else if (r.v == V_FAIL || r.v == V_CRASH) {
                printf("%-12s %s: %s\n", r.v == V_FAIL ? "FAIL" : "CRASH", id, r.msg);
            } else if (listed) {
                printf("REGRESSION   %s (%s): %s\n", id, VERDICT_NAMES[r.v], r.msg);
            } else if (verbose) {
                printf("%-12s %s: %s\n", VERDICT_NAMES[r.v], id, r.msg);
            }
            if (listed && r.v != V_PASS)
                regressions++;
        }
        free_list(cases, n_cases);
    }
    for (int i = 0; i < expected.n; i++)
        if (matches_filter(expected.v[i], filters, n_filters) && !names_has(&ran, expected.v[i])) {
            printf("REGRESSION   %s: listed in %s but not found under %s\n", expected.v[i], expected_path, data);
            regressions++;
        }

    int total = 0;
    for (int v = 0; v < V_COUNT; v++)
        total += counts[v];
    printf("\nconformance: %d cases: %d pass, %d fail, %d crash, %d unsupported, %d error\n", total, counts[V_PASS],
           counts[V_FAIL], counts[V_CRASH], counts[V_UNSUPPORTED], counts[V_ERROR]);
    printf("expected passes: %d listed, %d regressed; %d newly passing%s\n", expected.n, regressions, new_passes,
           new_passes && !update ? " (add them with --update)" : "");
    int rc = counts[V_FAIL] || counts[V_CRASH] || regressions ? 1 : 0;
    if (counts[V_FAIL] || counts[V_CRASH])
        printf("FAILED: wrong numbers or crashes are never acceptable: the op must refuse at init/prepare\n");
    if (regressions)
        printf("FAILED: %d case(s) of the expected-pass list no longer pass\n", regressions);
    if (update && write_expected(expected_path, &expected, &passed, filters, n_filters))
        rc = 1;
    free_list(expected.v, expected.n);
    free_list(passed.v, passed.n);
    free_list(ran.v, ran.n);
    free(filters);
    return rc;
}
