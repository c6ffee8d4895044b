/* Status names and the first-error-wins error record. */
#include <stdio.h>
#include <string.h>

#include "sparsify/status.h"

static const char *const status_names[SP_STATUS_COUNT] = {
    [SP_OK] = "ok",
    [SP_ERR_USAGE] = "usage error",
    [SP_ERR_IO] = "I/O error",
    [SP_ERR_FORMAT] = "format error",
    [SP_ERR_MISMATCH] = "data does not match the model",
    [SP_ERR_UNSUPPORTED] = "unsupported",
    [SP_ERR_NOT_IMPLEMENTED] = "not implemented",
    [SP_ERR_NOMEM] = "out of memory",
    [SP_ERR_MPI] = "MPI error",
    [SP_ERR_NUMERIC] = "numerical error",
    [SP_ERR_CHECKPOINT] = "checkpoint error",
    [SP_ERR_INTERRUPTED] = "interrupted",
    [SP_ERR_INTERNAL] = "internal error",
    [SP_ERR_WRITE] = "cannot write",
};
/* A status added to the enum without a name fails to compile here. */
_Static_assert(sizeof status_names / sizeof status_names[0] == SP_STATUS_COUNT, "status_names out of sync");

const char *sp_status_str(enum sp_status s)
{
    if ((unsigned)s >= SP_STATUS_COUNT || !status_names[s])
        return "unknown status";
    return status_names[s];
}

void sp_error_clear(struct sp_error *err)
{
    if (!err)
        return;
    err->status = SP_OK;
    err->msg[0] = '\0';
}

enum sp_status sp_error_vset(struct sp_error *err, enum sp_status s, const char *fmt, va_list ap)
{
    if (!err || s == SP_OK)
        return s;
    if (err->status != SP_OK && err->msg[0])
        return s; /* keep the root cause */
    err->status = s;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    /* Messages are one line: fold any newline a caller's data smuggled in. */
    for (char *p = err->msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    return s;
}

enum sp_status sp_error_set(struct sp_error *err, enum sp_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sp_error_vset(err, s, fmt, ap);
    va_end(ap);
    return s;
}
