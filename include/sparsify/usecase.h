/*
 * Use cases: what the user says the model is for. Later stages pick defaults
 * from it (which layers stay dense, which fidelity metric the report shows),
 * so the free-form text of --use-case is resolved once, here, into a canonical
 * name and a task family.
 */
#ifndef SPARSIFY_USECASE_H
#define SPARSIFY_USECASE_H

#include <stdbool.h>

#include "sparsify/status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum sp_task_family { SP_TASK_CUSTOM = 0, SP_TASK_CV, SP_TASK_NLP };

enum sp_use_case_id {
    SP_USE_CASE_CUSTOM = 0,
    SP_USE_CASE_CV_CLASSIFICATION,
    SP_USE_CASE_CV_DETECTION,
    SP_USE_CASE_CV_SEGMENTATION,
    SP_USE_CASE_NLP_QUESTION_ANSWERING,
    SP_USE_CASE_NLP_TEXT_CLASSIFICATION,
    SP_USE_CASE_NLP_SENTIMENT_ANALYSIS,
    SP_USE_CASE_NLP_TOKEN_CLASSIFICATION,
    SP_USE_CASE_NLP_NAMED_ENTITY_RECOGNITION,
    SP_USE_CASE_COUNT
};

/* Longest use-case text accepted (custom names included), in bytes. */
#define SP_USE_CASE_NAME_MAX 128

struct sp_use_case {
    enum sp_use_case_id id;
    enum sp_task_family family;
    bool custom;                          /* not a known use case */
    char name[SP_USE_CASE_NAME_MAX + 1];  /* canonical name, or the custom text as given */
};

/*
 * Resolves --use-case text. Known names and aliases match ignoring case and the
 * characters '-', '_' and ' ' ("Image Classification", "image_classification",
 * "IC" all give cv-classification); a "cv"/"nlp" prefix may precede an alias
 * of that family ("nlp-ner"). Any other printable-ASCII text is a custom use
 * case: SP_OK with out->custom set (the caller warns). Errors (SP_ERR_USAGE):
 * NULL or empty text, text made only of separators, non-ASCII or control
 * characters, text longer than SP_USE_CASE_NAME_MAX.
 */
enum sp_status sp_use_case_resolve(const char *text, struct sp_use_case *out, struct sp_error *err);

/* Canonical name of a known use case ("cv-classification"); "custom" for
 * SP_USE_CASE_CUSTOM or out-of-range values. */
const char *sp_use_case_canonical(enum sp_use_case_id id);

/* "cv", "nlp" or "custom". */
const char *sp_task_family_name(enum sp_task_family family);

/* NULL-terminated list of the accepted aliases of `id` (normalized form:
 * lower case, no separators), for help texts and tests. */
const char *const *sp_use_case_aliases(enum sp_use_case_id id);

#ifdef __cplusplus
}
#endif
#endif
