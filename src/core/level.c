/*
 * --optim-level parsing and its mapping to a compression plan. Every stage
 * reads the plan, never the raw level, so the mapping lives in one function.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sparsify/level.h"

enum sp_status sp_level_parse(const char *text, double *out, struct sp_error *err)
{
    *out = 0;
    if (!text || !*text)
        return sp_error_set(err, SP_ERR_USAGE, "--optim-level: expected a number in [0, 1], got an empty string");
    int digits = 0, dots = 0;
    for (const char *p = text; *p; p++) {
        if (*p >= '0' && *p <= '9')
            digits++;
        else if (*p == '.')
            dots++;
        else
            digits = -1000; /* any other character: sign, exponent, letter, space */
    }
    if (digits <= 0 || dots > 1 || strlen(text) > 32)
        return sp_error_set(err, SP_ERR_USAGE, "--optim-level: expected a number in [0, 1] such as 0.5, got '%.40s'",
                            text);
    char *end = NULL;
    double v = strtod(text, &end);
    if (!end || *end || !(v >= 0.0 && v <= 1.0))
        return sp_error_set(err, SP_ERR_USAGE, "--optim-level: expected a number in [0, 1], got '%s'", text);
    *out = v;
    return SP_OK;
}

enum sp_status sp_level_plan(double level, struct sp_level_plan *out, struct sp_error *err)
{
    memset(out, 0, sizeof *out);
    if (!(level >= 0.0 && level <= 1.0))
        return sp_error_set(err, SP_ERR_USAGE, "--optim-level: expected a number in [0, 1], got %g", level);
    out->level = level == 0.0 ? 0.0 : level; /* folds -0.0 into 0 for reports */
    if (level == 0.0)
        return SP_OK;
    out->quantize = true;
    if (level >= SP_LEVEL_PRUNE_START) {
        out->prune = true;
        out->sparsity = SP_LEVEL_SPARSITY_MIN + (level - SP_LEVEL_PRUNE_START) / (1.0 - SP_LEVEL_PRUNE_START) *
                                                    (SP_LEVEL_SPARSITY_MAX - SP_LEVEL_SPARSITY_MIN);
        if (out->sparsity > SP_LEVEL_SPARSITY_MAX)
            out->sparsity = SP_LEVEL_SPARSITY_MAX;
    }
    return SP_OK;
}
