/*
 * Shared by fidelity and accuracy: stacking single samples (stored without a
 * batch axis) into one batched engine input, and reading float outputs of
 * either width. Private to src/eval.
 */
#ifndef SPARSIFY_EVAL_INTERNAL_H
#define SPARSIFY_EVAL_INTERNAL_H

#include <stddef.h>

#include "sparsify/data.h"
#include "sparsify/model.h"
#include "sparsify/tensor.h"

/* One batch of stacked inputs, one owning tensor per model input. */
struct sp_eval_batch {
    int n_inputs;
    struct sp_tensor *inputs;    /* owned; dims[0] = samples in the batch */
    size_t samples;
};

/*
 * Loads samples order[pos], order[pos+1], ... (order == NULL: pos, pos+1, ...)
 * up to `max` of them and below `end`, checked against `model`, and stacks
 * them. A sample whose shapes differ from the first one's (dynamic axes) ends
 * the batch early; it starts the next one. Any previous content of `b` is
 * freed first. Errors are sp_dataset_load's, naming the file.
 */
enum sp_status sp_eval_batch_load(struct sp_eval_batch *b, const struct sp_model *model,
                                  const struct sp_dataset *ds, const size_t *order, size_t pos, size_t end,
                                  size_t max, struct sp_error *err);
void sp_eval_batch_free(struct sp_eval_batch *b);

/* Element i of a float32 or float64 tensor as double (callers check dtype). */
static inline double sp_eval_value(const struct sp_tensor *t, int64_t i)
{
    return t->dtype == SP_DTYPE_DOUBLE ? ((const double *)t->data)[i] : (double)((const float *)t->data)[i];
}

static inline int sp_eval_is_float(enum sp_dtype dt) { return dt == SP_DTYPE_FLOAT || dt == SP_DTYPE_DOUBLE; }

/* Index of the largest of n values spaced by 1, first one on ties; NaN never
 * wins (an all-NaN row gives -1). */
int64_t sp_eval_argmax(const struct sp_tensor *t, int64_t offset, int64_t n);

/* Seconds on a monotonic clock. */
double sp_eval_now(void);

#endif
