/*
 * report.json: the machine-readable record of a run (inputs, resolved
 * settings, timings, what was done). Stages add their fields by dotted path
 * ("plan.target_sparsity"), so the report grows with the pipeline without every
 * stage knowing the JSON library; the file is written atomically.
 */
#ifndef SPARSIFY_REPORT_H
#define SPARSIFY_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "sparsify/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sp_report;

/* An empty report (a JSON object). Returns NULL when out of memory. Local. */
struct sp_report *sp_report_create(void);
void sp_report_free(struct sp_report *r);

/*
 * Sets the value at a dotted path ("inputs.model"), creating intermediate
 * objects and replacing any previous value. Path components are non-empty and
 * contain no '.'. SP_ERR_USAGE for a bad path or when an intermediate value is
 * not an object; SP_ERR_NOMEM. A NULL string stores JSON null. Local.
 */
enum sp_status sp_report_set_string(struct sp_report *r, const char *path, const char *value, struct sp_error *err);
enum sp_status sp_report_set_int(struct sp_report *r, const char *path, int64_t value, struct sp_error *err);
/* Non-finite values are stored as null (JSON has no NaN). */
enum sp_status sp_report_set_double(struct sp_report *r, const char *path, double value, struct sp_error *err);
enum sp_status sp_report_set_bool(struct sp_report *r, const char *path, bool value, struct sp_error *err);

/* Appends to the array at `path` (created empty if missing). Local. */
enum sp_status sp_report_append_string(struct sp_report *r, const char *path, const char *value,
                                       struct sp_error *err);

/* The report's root JSON object (jansson's json_t), borrowed, for stages that
 * add whole sub-objects (compression layers, fidelity). Local. */
struct json_t;
struct json_t *sp_report_root(struct sp_report *r);

/* Pretty-printed, keys in insertion order, newline-terminated; malloc'ed (caller
 * frees). NULL when out of memory. Local. */
char *sp_report_dump(const struct sp_report *r);

/* Writes the report to `path` atomically: temporary file in the same folder,
 * fsync, rename, fsync of the folder. Local (only rank 0 calls it). */
enum sp_status sp_report_write(const struct sp_report *r, const char *path, struct sp_error *err);

#ifdef __cplusplus
}
#endif
#endif
