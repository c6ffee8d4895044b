/*
 * Logging through a caller-supplied callback: the library never prints.
 * The CLI installs a callback that writes to stderr with the rank prefix.
 */
#ifndef SPARSIFY_LOG_H
#define SPARSIFY_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

enum sp_log_level { SP_LOG_ERROR = 0, SP_LOG_WARN, SP_LOG_INFO, SP_LOG_DEBUG };

typedef void (*sp_log_fn)(void *user, enum sp_log_level level, const char *msg);

struct sp_logger {
    sp_log_fn fn;            /* NULL: messages are dropped */
    void *user;              /* passed back to fn, borrowed */
    enum sp_log_level level; /* messages above this level are dropped */
};

/* Formats and forwards one message. `lg` may be NULL (message dropped). */
void sp_log(const struct sp_logger *lg, enum sp_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parses "error", "warn", "info", "debug"; returns -1 if unknown. */
int sp_log_level_parse(const char *s);
const char *sp_log_level_str(enum sp_log_level level);

#ifdef __cplusplus
}
#endif
#endif
