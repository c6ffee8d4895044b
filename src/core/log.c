/* Formats log messages and hands them to the caller's callback. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sparsify/log.h"

void sp_log(const struct sp_logger *lg, enum sp_log_level level, const char *fmt, ...)
{
    if (!lg || !lg->fn || level > lg->level)
        return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    lg->fn(lg->user, level, buf);
}

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int sp_log_level_parse(const char *s)
{
    if (!s)
        return -1;
    for (int i = 0; i < 4; i++)
        if (strcasecmp(s, level_names[i]) == 0)
            return i;
    if (strcasecmp(s, "warning") == 0)
        return SP_LOG_WARN;
    return -1;
}

const char *sp_log_level_str(enum sp_log_level level)
{
    return (unsigned)level < 4 ? level_names[level] : "?";
}
