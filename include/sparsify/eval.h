/*
 * Measuring what compression cost: fidelity (how far the compressed model's
 * outputs moved from the dense model's on the same samples) and top-1
 * accuracy of a classifier against labels.
 *
 * Fidelity is what the one-shot pipeline reports on the held-out samples
 * (report.json "fidelity"); accuracy is what `sparsify eval` prints, so that a
 * user can put the dense and the compressed model side by side on their own
 * labelled data. Both run sparsify's engine on the calling process only; they
 * are deterministic for a given batch size (results do not depend on ranks).
 * The file formats (data folder, labels .npy) are in docs/eval.md.
 */
#ifndef SPARSIFY_EVAL_H
#define SPARSIFY_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sparsify/data.h"
#include "sparsify/log.h"
#include "sparsify/model.h"
#include "sparsify/status.h"
#include "sparsify/usecase.h"

#ifdef __cplusplus
extern "C" {
#endif

struct json_t; /* jansson's json_t */

/* Samples stacked into one engine run unless told otherwise. */
#define SP_EVAL_DEFAULT_BATCH 32

struct sp_eval_options {
    int batch_size;              /* samples stacked per engine run, >= 1 */
    int threads;                 /* BLAS threads; 0 leaves the default */
    /* Compute top-1 agreement on every output whose last axis has >= 2
     * entries (the use case is a classifier), instead of only on [N, C]
     * outputs. */
    bool classifier;
};

/* Defaults: batch SP_EVAL_DEFAULT_BATCH, default threads, classifier false. */
void sp_eval_options_init(struct sp_eval_options *o);

/* True for the use cases whose outputs are class scores: cv-classification,
 * nlp-text_classification and nlp-sentiment_analysis. */
bool sp_eval_is_classifier(const struct sp_use_case *uc);

/* ---- fidelity ------------------------------------------------------------- */

/* Dense vs compressed on one model output, over all compared samples. */
struct sp_fidelity_output {
    char *name;                  /* owned: the output's name */
    int64_t samples;             /* samples compared (rows of the batch axis) */
    int64_t values;              /* values per sample, last one seen */
    double cos_mean, cos_min;    /* cosine similarity per sample; 1 when both
                                    vectors are zero, 0 when only one is */
    double rel_l2;               /* ||c - d|| / ||d|| over all samples at once
                                    (0 when both are zero, inf when only d is) */
    double rel_l2_max;           /* the same, worst single sample */
    double max_abs;              /* max |c - d| over every value */
    int64_t nonfinite;           /* NaN/Inf values in the compressed output
                                    where the dense one was finite */
    bool top1;                   /* top-1 agreement computed for this output */
    int64_t top1_rows;           /* argmax rows compared */
    int64_t top1_agree;          /* rows whose argmax is the same */
    double top1_agreement;       /* top1_agree / top1_rows (0 when no rows) */
};

struct sp_fidelity {
    int n_outputs;
    struct sp_fidelity_output *outputs; /* owned, in sp_model_output order */
    int64_t samples;             /* samples run through both models */
    double seconds;              /* wall time of both models' runs */
};

/*
 * Runs `dense` and `compressed` on the samples `indices[0..n)` of `ds` (global
 * sorted indices; indices == NULL means every sample, n ignored) and compares
 * their outputs. The two models must have the same inputs and outputs (names,
 * order, dtypes), else SP_ERR_MISMATCH naming the first difference. Only float
 * outputs (float32/float64/float16 as float) are compared; others are skipped
 * with a debug message. Zero samples is allowed: every count is 0 and cos_*
 * are 1. On success *out is filled (free with sp_fidelity_free, also after a
 * failure). Local.
 */
enum sp_status sp_fidelity_run(const struct sp_model *dense, const struct sp_model *compressed,
                               const struct sp_dataset *ds, const size_t *indices, size_t n,
                               const struct sp_eval_options *opt, const struct sp_logger *log,
                               struct sp_fidelity *out, struct sp_error *err);

/* Frees the outputs and resets *f. NULL-safe, idempotent. */
void sp_fidelity_free(struct sp_fidelity *f);

/*
 * Adds the fidelity to the JSON object `obj`: "samples", "seconds" and
 * "outputs" (an array of objects with the fields above; non-finite numbers as
 * null). Local.
 */
enum sp_status sp_fidelity_to_json(const struct sp_fidelity *f, struct json_t *obj, struct sp_error *err);

/*
 * A short human summary, one line per output, e.g.
 *   "fidelity on 3 held-out samples: logits: top-1 agreement 100.0% (3/3),
 *    cosine mean 0.99981 min 0.99970, relative L2 0.0194, max abs 0.0812"
 * written into buf (always NUL-terminated, truncated to len). Returns buf.
 */
const char *sp_fidelity_summary(const struct sp_fidelity *f, char *buf, size_t len);

/* ---- accuracy -------------------------------------------------------------- */

/* Labels: one integer class per sample, in sorted file order. */
struct sp_eval_labels {
    int64_t count;
    int64_t *values;             /* owned */
};

/*
 * Reads a labels .npy: 1-D (or [N, 1]) of an integer dtype (int8/16/32/64,
 * uint8), no negative value, exactly `expected` entries (-1: any count).
 * Errors name the file: SP_ERR_IO when missing, SP_ERR_FORMAT when not a .npy,
 * SP_ERR_MISMATCH for a float/bool dtype, a wrong rank, a negative label or a
 * count that differs from the data folder's ("LABELS: 63 labels for 64 samples
 * in DIR"). Local.
 */
enum sp_status sp_eval_labels_read(const char *path, int64_t expected, struct sp_eval_labels *out,
                                   struct sp_error *err);
void sp_eval_labels_free(struct sp_eval_labels *l);

struct sp_accuracy {
    int64_t count;               /* samples scored */
    int64_t correct;             /* argmax == label */
    int64_t classes;             /* size of the class axis */
    double seconds;              /* wall time */
};

/*
 * Top-1 accuracy of `model` on samples [lo, hi) of `ds` against `labels`
 * (indexed by the global sample index; labels->count must equal ds->count).
 * The scored output is the model's first output; it must be float with shape
 * [N, C] (or [N, 1, .., 1, C]), C >= 2, else SP_ERR_UNSUPPORTED naming it. A
 * label outside [0, C) is SP_ERR_MISMATCH naming the sample's file. Ties go to
 * the lowest class index (numpy's argmax). Local: callers split [0, count)
 * over ranks and sum the counts.
 */
enum sp_status sp_eval_accuracy(const struct sp_model *model, const struct sp_dataset *ds,
                                const struct sp_eval_labels *labels, size_t lo, size_t hi,
                                const struct sp_eval_options *opt, const struct sp_logger *log,
                                struct sp_accuracy *out, struct sp_error *err);

#ifdef __cplusplus
}
#endif
#endif
