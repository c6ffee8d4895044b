/*
 * `sparsify bench`: how fast the engine runs a model on this machine.
 *
 * bench/engine_bench.sh sets this beside ONNX Runtime's bench.js on the same
 * model, so both sides make inputs the same way: the first symbolic dimension
 * is the batch, other symbolic dimensions come from --dim (default 128), float
 * inputs are uniform in [-1, 1), and integer inputs stay in a valid range:
 * token ids below the size of the embedding table they index (the engine can
 * tell, see sp_engine_input_index_bound), other integers below --max-int.
 * With --data, the batch is made of the folder's first samples instead.
 * Timings are wall-clock per sp_engine_run after --warmup untimed runs; the
 * median is the headline because other processes share the cores.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "sparsify/data.h"
#include "sparsify/engine.h"
#include "sparsify/model.h"

/* Default for a symbolic dimension other than the batch (a sequence length). */
#define BENCH_DEFAULT_DIM 128

/* What one bench run measured. */
struct bench_result {
    double median_ms, p90_ms, min_ms, mean_ms;
    double throughput; /* samples per second at the median latency */
    size_t arena_bytes;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* splitmix64: a seeded generator, so every run times the same inputs. */
static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rand_unit(uint64_t *s)
{
    return (double)(next_rand(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* The shape bench feeds for model input `vi`, from --batch and --dim. */
static enum sp_status input_shape(const struct sp_cli_options *opt, const struct sp_value_info *vi,
                                  struct sp_tensor *t, struct sp_error *err)
{
    if (vi->dtype == SP_DTYPE_UNDEFINED || vi->ndim < 0)
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "bench: input '%s' declares no %s: random inputs need it (give --data instead)", vi->name,
                            vi->dtype == SP_DTYPE_UNDEFINED ? "dtype" : "shape");
    *t = (struct sp_tensor){.dtype = vi->dtype, .ndim = vi->ndim};
    for (int d = 0; d < vi->ndim; d++) {
        int64_t v = vi->dims[d];
        if (v < 0) {
            v = d == 0 ? opt->batch : BENCH_DEFAULT_DIM;
            for (int k = 0; vi->dim_params[d] && k < opt->n_dims; k++)
                if (strcmp(opt->dims[k].name, vi->dim_params[d]) == 0)
                    v = opt->dims[k].value;
        }
        t->dims[d] = v;
    }
    return SP_OK;
}

/* Fills `t` with random values valid for the model: integers in [0, bound). */
static enum sp_status fill_random(struct sp_tensor *t, const char *name, int64_t bound, uint64_t *seed,
                                  struct sp_error *err)
{
    int64_t n = sp_tensor_numel(t);
    switch (t->dtype) {
    case SP_DTYPE_FLOAT:
        for (int64_t i = 0; i < n; i++)
            ((float *)t->data)[i] = (float)(rand_unit(seed) * 2.0 - 1.0);
        return SP_OK;
    case SP_DTYPE_DOUBLE:
        for (int64_t i = 0; i < n; i++)
            ((double *)t->data)[i] = rand_unit(seed) * 2.0 - 1.0;
        return SP_OK;
    case SP_DTYPE_INT64:
        for (int64_t i = 0; i < n; i++)
            ((int64_t *)t->data)[i] = (int64_t)(next_rand(seed) % (uint64_t)bound);
        return SP_OK;
    case SP_DTYPE_INT32:
        for (int64_t i = 0; i < n; i++)
            ((int32_t *)t->data)[i] = (int32_t)(next_rand(seed) % (uint64_t)(bound > INT32_MAX ? INT32_MAX : bound));
        return SP_OK;
    case SP_DTYPE_UINT8:
        for (int64_t i = 0; i < n; i++)
            ((uint8_t *)t->data)[i] = (uint8_t)(next_rand(seed) % (uint64_t)(bound > 256 ? 256 : bound));
        return SP_OK;
    case SP_DTYPE_INT8:
        for (int64_t i = 0; i < n; i++)
            ((int8_t *)t->data)[i] = (int8_t)(next_rand(seed) % (uint64_t)(bound > 128 ? 128 : bound));
        return SP_OK;
    case SP_DTYPE_BOOL:
        for (int64_t i = 0; i < n; i++)
            ((uint8_t *)t->data)[i] = (uint8_t)(next_rand(seed) & 1);
        return SP_OK;
    default:
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "bench: input '%s': no random generator for dtype %s", name,
                            sp_dtype_name(t->dtype));
    }
}

/* Inputs from --data: sample b of the batch is the folder's sample b modulo
 * its count, with the batch dimension prepended. */
static enum sp_status load_batch(const struct sp_cli_options *opt, const char *dir, const struct sp_model *model,
                                 const struct sp_logger *log, struct sp_tensor *inputs, struct sp_error *err)
{
    struct sp_dataset ds = {0};
    enum sp_status st = sp_dataset_open(dir, log, &ds, err);
    if (st)
        return st;
    int n_in = sp_model_num_inputs(model);
    if (ds.count == 0) {
        st = sp_error_set(err, SP_ERR_IO, "--data %s: no .npz samples in the folder", dir);
        goto out;
    }
    for (int b = 0; b < opt->batch && !st; b++) {
        struct sp_npz s = {0};
        size_t idx = (size_t)b % ds.count;
        if ((st = sp_dataset_load(&ds, idx, model, &s, err)))
            break;
        for (int k = 0; k < n_in && !st; k++) {
            const struct sp_tensor *a = &s.arrays[k];
            if (b == 0) {
                if (a->ndim + 1 > SP_MAX_DIMS) {
                    st = sp_error_set(err, SP_ERR_UNSUPPORTED, "%s: input '%s' has too many dimensions",
                                      ds.files[idx], s.names[k]);
                    break;
                }
                int64_t dims[SP_MAX_DIMS] = {opt->batch};
                memcpy(dims + 1, a->dims, (size_t)a->ndim * sizeof dims[0]);
                if ((st = sp_tensor_alloc(&inputs[k], a->dtype, a->ndim + 1, dims, err)))
                    break;
            } else if (a->dtype != inputs[k].dtype || sp_tensor_nbytes(a) * (size_t)opt->batch !=
                                                              sp_tensor_nbytes(&inputs[k])) {
                /* Samples of one folder may differ in shape (sequence length); a
                 * batch cannot. */
                st = sp_error_set(err, SP_ERR_MISMATCH,
                                  "%s: input '%s' differs in dtype or shape from the first sample, so they cannot "
                                  "form one batch",
                                  ds.files[idx], s.names[k]);
                break;
            }
            size_t nb = sp_tensor_nbytes(a);
            memcpy((char *)inputs[k].data + (size_t)b * nb, a->data, nb);
        }
        sp_npz_free(&s);
    }
out:
    sp_dataset_free(&ds);
    return st;
}

/* --profile: time between consecutive observer calls is charged to the node
 * that just ran (the observer runs right after each node). */
#define PROFILE_MAX_TYPES 64

struct profile_type {
    const char *op_type; /* borrowed from the model */
    double ms;
    long calls;
};

struct profile {
    double last;
    size_t activation_bytes; /* every node output of all runs, for the memory-plan figure */
    int n_types;
    struct profile_type types[PROFILE_MAX_TYPES];
};

static enum sp_status profile_observe(void *user, const struct sp_node_view *node, struct sp_error *err)
{
    (void)err;
    struct profile *p = user;
    double t = now_ms();
    int k = 0;
    while (k < p->n_types && strcmp(p->types[k].op_type, node->op_type) != 0)
        k++;
    if (k == p->n_types && k < PROFILE_MAX_TYPES)
        p->types[p->n_types++].op_type = node->op_type;
    for (int i = 0; i < node->n_outputs; i++)
        if (node->outputs[i])
            p->activation_bytes += sp_tensor_nbytes(node->outputs[i]);
    if (k < PROFILE_MAX_TYPES) {
        p->types[k].ms += t - p->last;
        p->types[k].calls++;
    }
    p->last = now_ms();
    return SP_OK;
}

static int cmp_profile_ms(const void *a, const void *b)
{
    double x = ((const struct profile_type *)a)->ms, y = ((const struct profile_type *)b)->ms;
    return (x < y) - (x > y);
}

/* Runs the iterations again under the profiling observer and prints the op
 * types by time per run (to stderr with --json, so stdout stays one object). */
static enum sp_status profile_run(const struct sp_cli_options *opt, struct sp_engine *eng,
                                  const struct sp_tensor *inputs, struct sp_error *err)
{
    struct profile *p = calloc(1, sizeof *p);
    if (!p)
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    sp_engine_set_observer(eng, profile_observe, p);
    enum sp_status st = SP_OK;
    double total = 0;
    for (int i = 0; i < opt->iters && !st; i++) {
        double t0 = now_ms();
        p->last = t0;
        st = sp_engine_run(eng, inputs, NULL, err);
        total += now_ms() - t0;
    }
    sp_engine_set_observer(eng, NULL, NULL);
    if (!st) {
        FILE *out = opt->json ? stderr : stdout;
        qsort(p->types, (size_t)p->n_types, sizeof p->types[0], cmp_profile_ms);
        size_t act = p->activation_bytes / (size_t)opt->iters;
        fprintf(out, "  activations: %.1f MiB in all (%zu bytes), the arena holds them in %.1f%% of that\n",
                (double)act / (1024.0 * 1024.0), act, act ? 100.0 * (double)sp_engine_arena_bytes(eng) / (double)act : 0.0);
        fprintf(out, "  profile (ms per run, share of %.3f ms):\n", total / opt->iters);
        for (int k = 0; k < p->n_types; k++)
            fprintf(out, "    %-22s %10.3f ms %6.1f%%  %5ld nodes\n", p->types[k].op_type, p->types[k].ms / opt->iters,
                    total > 0 ? 100.0 * p->types[k].ms / total : 0.0, p->types[k].calls / opt->iters);
    }
    free(p);
    return st;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void summarize(double *ms, int n, int batch, struct bench_result *r)
{
    qsort(ms, (size_t)n, sizeof *ms, cmp_double);
    r->median_ms = n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
    int p90 = (int)(0.9 * n);
    r->p90_ms = ms[p90 < n ? p90 : n - 1];
    r->min_ms = ms[0];
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += ms[i];
    r->mean_ms = sum / n;
    r->throughput = r->median_ms > 0 ? batch * 1000.0 / r->median_ms : 0;
}

static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static void print_result(const struct sp_cli_options *opt, const char *path, const struct sp_model *model,
                         const struct sp_tensor *inputs, int threads, const struct bench_result *r)
{
    int n_in = sp_model_num_inputs(model);
    if (opt->json) {
        printf("{\"runtime\":\"sparsify\",\"model\":");
        json_string(stdout, path);
        printf(",\"batch\":%d,\"threads\":%d,\"iters\":%d,\"warmup\":%d,\"inputs\":{", opt->batch, threads,
               opt->iters, opt->warmup);
        for (int k = 0; k < n_in; k++) {
            printf("%s", k ? "," : "");
            json_string(stdout, sp_model_input(model, k)->name);
            printf(":[");
            for (int d = 0; d < inputs[k].ndim; d++)
                printf("%s%lld", d ? "," : "", (long long)inputs[k].dims[d]);
            printf("]");
        }
        printf("},\"latency_ms\":{\"median\":%.4f,\"p90\":%.4f,\"min\":%.4f,\"mean\":%.4f},\"throughput\":%.4f,"
               "\"arena_bytes\":%zu}\n",
               r->median_ms, r->p90_ms, r->min_ms, r->mean_ms, r->throughput, r->arena_bytes);
        return;
    }
    printf("sparsify bench: %s: batch %d, %d thread(s), %d iters after %d warm-up\n", path, opt->batch, threads,
           opt->iters, opt->warmup);
    for (int k = 0; k < n_in; k++) {
        printf("  input %s: %s [", sp_model_input(model, k)->name, sp_dtype_name(inputs[k].dtype));
        for (int d = 0; d < inputs[k].ndim; d++)
            printf("%s%lld", d ? ", " : "", (long long)inputs[k].dims[d]);
        printf("]\n");
    }
    printf("  latency:    median %.3f ms, p90 %.3f ms (min %.3f, mean %.3f)\n", r->median_ms, r->p90_ms, r->min_ms,
           r->mean_ms);
    printf("  throughput: %.2f samples/s\n", r->throughput);
    printf("  peak arena: %.1f MiB (%zu bytes)\n", (double)r->arena_bytes / (1024.0 * 1024.0), r->arena_bytes);
}

/* The local part: everything rank 0 does. */
static enum sp_status bench_local(const struct sp_cli_options *opt, const char *path, const char *data_dir,
                                  const struct sp_logger *log, struct sp_error *err)
{
    struct sp_model *model = NULL;
    struct sp_engine *eng = NULL;
    struct sp_tensor *inputs = NULL;
    double *ms = NULL;
    int n_in = 0;
    enum sp_status st;

    if ((st = sp_model_load(path, &model, err)))
        goto out;
    struct sp_engine_options eo = {.threads = opt->threads, .log = log};
    if ((st = sp_engine_create(model, &eo, &eng, err)))
        goto out;
    n_in = sp_model_num_inputs(model);
    inputs = calloc((size_t)n_in + 1, sizeof *inputs);
    ms = calloc((size_t)opt->iters, sizeof *ms);
    if (!inputs || !ms) {
        st = sp_error_set(err, SP_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (data_dir) {
        if ((st = load_batch(opt, data_dir, model, log, inputs, err)))
            goto out;
    } else {
        for (int k = 0; k < n_in && !st; k++) {
            struct sp_tensor shape;
            if (!(st = input_shape(opt, sp_model_input(model, k), &shape, err)))
                st = sp_tensor_alloc(&inputs[k], shape.dtype, shape.ndim, shape.dims, err);
        }
        if (st)
            goto out;
        /* Plan once on zeros (always valid indices) to learn the Gather table
         * sizes, then draw the real values. */
        for (int k = 0; k < n_in; k++)
            memset(inputs[k].data, 0, sp_tensor_nbytes(&inputs[k]));
        if ((st = sp_engine_prepare(eng, inputs, err)))
            goto out;
        uint64_t seed = 12345;
        for (int k = 0; k < n_in && !st; k++) {
            int64_t bound = sp_engine_input_index_bound(eng, k);
            if (bound <= 0)
                bound = opt->max_int;
            st = fill_random(&inputs[k], sp_model_input(model, k)->name, bound, &seed, err);
        }
        if (st)
            goto out;
    }

    for (int i = 0; i < opt->warmup + opt->iters; i++) {
        double t0 = now_ms();
        if ((st = sp_engine_run(eng, inputs, NULL, err)))
            goto out;
        if (i >= opt->warmup)
            ms[i - opt->warmup] = now_ms() - t0;
    }
    struct bench_result r = {0};
    summarize(ms, opt->iters, opt->batch, &r);
    r.arena_bytes = sp_engine_arena_bytes(eng);
    int threads = opt->threads;
    if (threads == 0) {
        const char *env = getenv("OPENBLAS_NUM_THREADS");
        threads = env && atoi(env) > 0 ? atoi(env) : 0;
    }
    print_result(opt, path, model, inputs, threads, &r);
    if (opt->profile)
        st = profile_run(opt, eng, inputs, err);
out:
    for (int k = 0; inputs && k < n_in; k++)
        sp_tensor_free(&inputs[k]);
    free(inputs);
    free(ms);
    sp_engine_free(eng);
    sp_model_free(model);
    return st;
}

enum sp_status sp_cli_bench(const struct sp_cli_options *opt, struct sp_comm *comm, const struct sp_logger *log,
                            struct sp_error *err)
{
    char *model = NULL, *data = NULL;
    const char *mname, *dname;
    enum sp_status st = SP_OK;
    /* Timing is local: on several ranks they would only compete for the cores. */
    if (sp_comm_rank(comm) == 0) {
        st = sp_cli_resolve_model(opt->model, opt->zoo, &model, &mname, err);
        if (!st && opt->data)
            st = sp_cli_resolve_data(opt->data, opt->zoo, &data, &dname, err);
        if (!st)
            st = bench_local(opt, model, data, log, err);
    }
    st = sp_comm_agree(comm, st, err);
    free(model);
    free(data);
    return st;
}
