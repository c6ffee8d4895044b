/*
 * libFuzzer harness for the ONNX loader and the engine: any byte string is a
 * model file. Loading must fail cleanly or give a model whose engine either
 * builds or fails cleanly; a model that builds is then planned and run once on
 * small deterministic inputs (symbolic dims set to 2), so shape inference,
 * constant folding and every kernel the fuzzer reaches see hostile attributes
 * and shapes too. The sanitizers catch the rest.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparsify/engine.h"
#include "sparsify/model.h"

/* Inputs beyond these sizes are not built: the run is for kernels' edge
 * cases, not for throughput (libFuzzer's -rss_limit_mb and -timeout apply). */
#define MAX_INPUT_ELEMS (1 << 16)
#define MAX_ARENA_BYTES ((size_t)32 << 20)

/* SPARSIFY_FUZZ_VERBOSE=1 prints how far each input got, for triage and for
 * checking that seeds reach the kernels: FUZZER -runs=1 FILE. */
static void note(const char *stage, enum sp_status st, const struct sp_error *err)
{
    static int verbose = -1;
    if (verbose < 0)
        verbose = getenv("SPARSIFY_FUZZ_VERBOSE") != NULL;
    if (verbose)
        fprintf(stderr, "fuzz_onnx: %s: %s\n", stage, st ? err->msg : "ok");
}

static void fill(struct sp_tensor *t, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        int v = (int)(i % 7) - 3; /* small, signed, includes 0: valid indices for most tables */
        switch (t->dtype) {
        case SP_DTYPE_FLOAT: ((float *)t->data)[i] = 0.5f * (float)v; break;
        case SP_DTYPE_DOUBLE: ((double *)t->data)[i] = 0.5 * v; break;
        case SP_DTYPE_INT64: ((int64_t *)t->data)[i] = i % 3; break;
        case SP_DTYPE_INT32: ((int32_t *)t->data)[i] = (int32_t)(i % 3); break;
        case SP_DTYPE_BOOL: ((uint8_t *)t->data)[i] = (uint8_t)(i & 1); break;
        default: break; /* the buffer is zeroed */
        }
    }
}

static void run_once(struct sp_engine *e, const struct sp_model *m)
{
    int n = sp_model_num_inputs(m);
    if (n <= 0 || n > 16)
        return;
    struct sp_tensor in[16];
    memset(in, 0, sizeof in);
    int built = 0;
    for (; built < n; built++) {
        const struct sp_value_info *vi = sp_model_input(m, built);
        struct sp_tensor *t = &in[built];
        size_t es = sp_dtype_size(vi->dtype);
        if (es == 0 || vi->ndim < 0 || vi->ndim > SP_MAX_DIMS)
            break;
        t->dtype = vi->dtype;
        t->ndim = vi->ndim;
        int64_t numel = 1;
        for (int d = 0; d < vi->ndim; d++) {
            t->dims[d] = vi->dims[d] < 0 ? 2 : vi->dims[d];
            if (t->dims[d] > MAX_INPUT_ELEMS || (numel *= t->dims[d]) > MAX_INPUT_ELEMS)
                numel = -1;
            if (numel < 0)
                break;
        }
        if (numel < 0 || !(t->data = calloc((size_t)(numel ? numel : 1), es)))
            break;
        t->owns_data = true;
        fill(t, numel);
    }
    struct sp_error err = {0};
    enum sp_status st = built == n ? sp_engine_prepare(e, in, &err) : SP_ERR_USAGE;
    note("prepare", st, &err);
    if (!st && getenv("SPARSIFY_FUZZ_VERBOSE"))
        fprintf(stderr, "fuzz_onnx: arena %zu bytes\n", sp_engine_arena_bytes(e));
    if (!st && sp_engine_arena_bytes(e) <= MAX_ARENA_BYTES) {
        int n_out = sp_model_num_outputs(m);
        struct sp_tensor *out = calloc(n_out > 0 ? (size_t)n_out : 1, sizeof *out);
        if (out && !(st = sp_engine_run(e, in, out, &err))) {
            for (int i = 0; i < n_out; i++)
                sp_tensor_free(&out[i]);
        }
        note("run", st, &err);
        free(out);
    }
    for (int i = 0; i < built; i++)
        sp_tensor_free(&in[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sp_error err = {0};
    struct sp_model *m = NULL;
    /* base_dir NULL: external data is an error, the fuzzer must not read files. */
    enum sp_status st = sp_model_load_buffer(data, size, "fuzz.onnx", NULL, &m, &err);
    note("load", st, &err);
    if (st == SP_OK) {
        struct sp_engine *e = NULL;
        st = sp_engine_create(m, NULL, &e, &err);
        note("create", st, &err);
        if (st == SP_OK) {
            run_once(e, m);
            sp_engine_free(e);
        }
        sp_model_free(m);
    }
    return 0;
}
