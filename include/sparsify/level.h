/*
 * --optim-level: the one knob of the seed guide, and the single place where it
 * turns into what every later stage does (quantize? prune? how much?).
 */
#ifndef SPARSIFY_LEVEL_H
#define SPARSIFY_LEVEL_H

#include <stdbool.h>

#include "sparsify/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Levels below this quantize only; from it on, pruning is added. */
#define SP_LEVEL_PRUNE_START 0.3
/* Unstructured sparsity at SP_LEVEL_PRUNE_START and at level 1. */
#define SP_LEVEL_SPARSITY_MIN 0.40
#define SP_LEVEL_SPARSITY_MAX 0.80

struct sp_level_plan {
    double level;    /* the validated level, in [0, 1] */
    bool quantize;   /* INT8 weights and activations */
    bool prune;      /* unstructured pruning to `sparsity` */
    double sparsity; /* target fraction of zero weights in prunable layers; 0 if !prune */
};

/*
 * Parses a level strictly: decimal digits with at most one '.', at least one
 * digit, nothing else ("0", "1", "0.5", ".5", "1.0"), value in [0, 1]. No sign
 * ("-0" and "+0.5" are refused: a sign there is more likely a slip than
 * intent), no exponent, no spaces, no "nan"/"inf". Errors are SP_ERR_USAGE
 * naming --optim-level and the text.
 */
enum sp_status sp_level_parse(const char *text, double *out, struct sp_error *err);

/*
 * Maps a level to a plan: 0 -> nothing (the model is returned unchanged);
 * (0, 0.3) -> INT8 quantization only; [0.3, 1] -> INT8 plus unstructured
 * sparsity 0.40 + (level - 0.3) / 0.7 * 0.40 (0.80 at 1). Levels outside [0, 1]
 * or NaN are SP_ERR_USAGE.
 */
enum sp_status sp_level_plan(double level, struct sp_level_plan *out, struct sp_error *err);

#ifdef __cplusplus
}
#endif
#endif
