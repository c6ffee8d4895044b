/*
 * Status codes and the error record every libsparsify call fills on failure.
 *
 * A failing call returns a non-zero enum sp_status and writes a one-line,
 * human-readable message into the caller's struct sp_error. The first message
 * wins: later failures while unwinding do not overwrite the root cause.
 */
#ifndef SPARSIFY_STATUS_H
#define SPARSIFY_STATUS_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Values are stable: new codes go at the end (tools map them to exit codes). */
enum sp_status {
    SP_OK = 0,
    SP_ERR_USAGE,           /* bad command-line value or API argument */
    SP_ERR_IO,              /* an input file or folder is missing or cannot be read */
    SP_ERR_FORMAT,          /* a file's content is malformed (ONNX, npz, HDF5) */
    SP_ERR_MISMATCH,        /* data disagrees with the model (key, shape, dtype) */
    SP_ERR_UNSUPPORTED,     /* valid input sparsify does not handle (op, opset, dtype) */
    SP_ERR_NOT_IMPLEMENTED, /* a feature not built yet: never a silent pass-through */
    SP_ERR_NOMEM,           /* allocation failed or a declared size is absurd */
    SP_ERR_MPI,             /* an MPI call failed or another rank failed */
    SP_ERR_NUMERIC,         /* NaN/Inf or a factorization that cannot be rescued */
    SP_ERR_CHECKPOINT,      /* checkpoint corrupt or from another run */
    SP_ERR_INTERRUPTED,     /* stopped by a signal after saving state */
    SP_ERR_INTERNAL,        /* a bug in sparsify */
    SP_ERR_WRITE,           /* an output file or folder cannot be created or written */
    SP_STATUS_COUNT
};

#define SP_ERROR_MSG_MAX 1024

struct sp_error {
    enum sp_status status;
    char msg[SP_ERROR_MSG_MAX];
};

/* Short stable name of a status ("format error", ...). Never NULL. */
const char *sp_status_str(enum sp_status s);

/* Clears an error record to SP_OK with an empty message. */
void sp_error_clear(struct sp_error *err);

/*
 * Records a failure and returns `s`, so that `return sp_error_set(err, ...)` reads
 * naturally. Keeps the first message if `err` already holds one. `err` may be NULL.
 */
enum sp_status sp_error_set(struct sp_error *err, enum sp_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
enum sp_status sp_error_vset(struct sp_error *err, enum sp_status s, const char *fmt, va_list ap);

#ifdef __cplusplus
}
#endif
#endif
