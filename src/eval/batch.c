/*
 * Batching samples for evaluation. Samples are stored one per file without a
 * batch axis; running them one by one would spend most of the time in
 * per-run overhead for small models (the demo CNN evaluates ~10x faster at
 * batch 32 than at batch 1), so consecutive samples are stacked along a new
 * leading axis.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eval/eval_internal.h"

double sp_eval_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void sp_eval_batch_free(struct sp_eval_batch *b)
{
    if (!b)
        return;
    for (int i = 0; i < b->n_inputs && b->inputs; i++)
        sp_tensor_free(&b->inputs[i]);
    free(b->inputs);
    memset(b, 0, sizeof *b);
}

static bool same_shape(const struct sp_tensor *a, const struct sp_tensor *stacked)
{
    if (a->dtype != stacked->dtype || a->ndim + 1 != stacked->ndim)
        return false;
    return memcmp(a->dims, stacked->dims + 1, (size_t)a->ndim * sizeof a->dims[0]) == 0;
}

enum sp_status sp_eval_batch_load(struct sp_eval_batch *b, const struct sp_model *model,
                                  const struct sp_dataset *ds, const size_t *order, size_t pos, size_t end,
                                  size_t max, struct sp_error *err)
{
    sp_eval_batch_free(b);
    if (pos >= end || max == 0)
        return SP_OK;
    size_t want = end - pos < max ? end - pos : max;
    int n_in = sp_model_num_inputs(model);
    b->inputs = calloc((size_t)n_in + 1, sizeof *b->inputs);
    if (!b->inputs)
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    b->n_inputs = n_in;

    enum sp_status st = SP_OK;
    for (size_t k = 0; k < want; k++) {
        size_t idx = order ? order[pos + k] : pos + k;
        struct sp_npz npz = {0};
        if ((st = sp_dataset_load(ds, idx, model, &npz, err)))
            break;
        bool fits = true;
        if (k == 0) {
            /* The first sample fixes the shapes; the buffers are sized for
             * `want` samples and dims[0] counts those actually stacked. */
            for (int i = 0; i < n_in && !st; i++) {
                const struct sp_tensor *a = &npz.arrays[i];
                if (a->ndim + 1 > SP_MAX_DIMS) {
                    st = sp_error_set(err, SP_ERR_UNSUPPORTED, "%s: input '%s' has too many dimensions",
                                      ds->files[idx], npz.names[i]);
                    break;
                }
                int64_t dims[SP_MAX_DIMS];
                dims[0] = (int64_t)want;
                memcpy(dims + 1, a->dims, (size_t)a->ndim * sizeof dims[0]);
                st = sp_tensor_alloc(&b->inputs[i], a->dtype, a->ndim + 1, dims, err);
            }
        } else {
            for (int i = 0; i < n_in; i++)
                fits = fits && same_shape(&npz.arrays[i], &b->inputs[i]);
        }
        if (!st && fits) {
            for (int i = 0; i < n_in; i++) {
                size_t nb = sp_tensor_nbytes(&npz.arrays[i]);
                memcpy((char *)b->inputs[i].data + k * nb, npz.arrays[i].data, nb);
            }
            b->samples = k + 1;
        }
        sp_npz_free(&npz);
        if (st || !fits)
            break;
    }
    if (st) {
        sp_eval_batch_free(b);
        return st;
    }
    for (int i = 0; i < n_in; i++)
        b->inputs[i].dims[0] = (int64_t)b->samples;
    return SP_OK;
}

int64_t sp_eval_argmax(const struct sp_tensor *t, int64_t offset, int64_t n)
{
    int64_t best = -1;
    double bv = 0.0;
    for (int64_t j = 0; j < n; j++) {
        double v = sp_eval_value(t, offset + j);
        if (v != v)
            continue;
        if (best < 0 || v > bv) {
            best = j;
            bv = v;
        }
    }
    return best;
}
