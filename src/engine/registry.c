/*
 * The operator table, built from ops.def. The references are strong: with weak
 * ones a static link (libsparsify.a, the fuzz harnesses) pulls in no operator
 * file at all and every op reads as unsupported. An op listed in ops.def
 * without its file is therefore a link error, which is the right time to learn.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine/op.h"
#include "sparsify/engine.h"

#define SP_OP(name, family) extern const struct sp_op sp_op_##name;
#include "engine/ops/ops.def"
#undef SP_OP

static const struct sp_op *sp_op_table(size_t i)
{
    static const struct sp_op *const table[] = {
#define SP_OP(name, family) &sp_op_##name,
#include "engine/ops/ops.def"
#undef SP_OP
    };
    return i < sizeof table / sizeof table[0] ? table[i] : NULL;
}

static size_t sp_op_count(void)
{
    size_t n = 0;
#define SP_OP(name, family) n++;
#include "engine/ops/ops.def"
#undef SP_OP
    return n;
}

size_t sp_op_registry_size(void)
{
    return sp_op_count();
}

const struct sp_op *sp_op_registry_at(size_t i)
{
    return sp_op_table(i);
}

const char *sp_op_registry_type(size_t i)
{
    static const char *const types[] = {
#define SP_OP(name, family) #name,
#include "engine/ops/ops.def"
#undef SP_OP
    };
    return i < sizeof types / sizeof types[0] ? types[i] : NULL;
}

const char *sp_op_registry_family(size_t i)
{
    static const char *const families[] = {
#define SP_OP(name, family) #family,
#include "engine/ops/ops.def"
#undef SP_OP
    };
    return i < sizeof families / sizeof families[0] ? families[i] : NULL;
}

const struct sp_op *sp_op_find(const char *type, const char *domain)
{
    if (!type)
        return NULL;
    if (!domain || strcmp(domain, "ai.onnx") == 0)
        domain = "";
    size_t n = sp_op_count();
    for (size_t i = 0; i < n; i++) {
        const struct sp_op *op = sp_op_table(i);
        if (strcmp(op->type, type) == 0 && strcmp(op->domain ? op->domain : "", domain) == 0)
            return op;
    }
    return NULL;
}

const char *const *sp_engine_supported_ops(void)
{
    static const char *names[512];
    static int filled;
    if (!filled) {
        size_t n = sp_op_count(), k = 0;
        for (size_t i = 0; i < n && k + 1 < sizeof names / sizeof names[0]; i++)
            names[k++] = sp_op_table(i)->type;
        names[k] = NULL;
        filled = 1;
    }
    return names;
}

const char *sp_node_label(const struct sp_node *n)
{
    if (n->proto && n->proto->name && n->proto->name[0])
        return n->proto->name;
    if (n->proto && n->proto->n_output > 0 && n->proto->output[0][0])
        return n->proto->output[0];
    return "<unnamed>";
}

enum sp_status sp_node_error(const struct sp_node *n, struct sp_error *err, enum sp_status s, const char *fmt, ...)
{
    char detail[SP_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return sp_error_set(err, s, "node '%s' (%s, opset %lld): %s", sp_node_label(n),
                        n->proto ? n->proto->op_type : "?", (long long)n->opset, detail);
}
