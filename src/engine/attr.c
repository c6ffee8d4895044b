/* Typed attribute access for operator implementations. */
#include <stdio.h>
#include <string.h>

#include "engine/attr.h"

const Onnx__AttributeProto *sp_attr_find(const struct sp_node *n, const char *name)
{
    for (size_t i = 0; i < n->proto->n_attribute; i++) {
        const Onnx__AttributeProto *a = n->proto->attribute[i];
        if (a->name && strcmp(a->name, name) == 0)
            return a;
    }
    return NULL;
}

/* Older exporters leave `type` unset; infer it from the populated field. */
static Onnx__AttributeProto__AttributeType attr_type(const Onnx__AttributeProto *a)
{
    if (a->has_type && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED)
        return a->type;
    if (a->n_ints) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    if (a->n_floats) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
    if (a->t) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    if (a->has_s) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
    if (a->has_f) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    if (a->has_i) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED;
}

static enum sp_status wrong_type(const struct sp_node *n, const char *name, const char *want, struct sp_error *err)
{
    return sp_node_error(n, err, SP_ERR_FORMAT, "attribute '%s' must be %s", name, want);
}

enum sp_status sp_attr_int(const struct sp_node *n, const char *name, int64_t dflt, int64_t *out, struct sp_error *err)
{
    const Onnx__AttributeProto *a = sp_attr_find(n, name);
    *out = dflt;
    if (!a)
        return SP_OK;
    if (attr_type(a) != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT)
        return wrong_type(n, name, "an int", err);
    *out = a->i;
    return SP_OK;
}

enum sp_status sp_attr_float(const struct sp_node *n, const char *name, float dflt, float *out, struct sp_error *err)
{
    const Onnx__AttributeProto *a = sp_attr_find(n, name);
    *out = dflt;
    if (!a)
        return SP_OK;
    Onnx__AttributeProto__AttributeType t = attr_type(a);
    if (t == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT)
        *out = a->f;
    else if (t == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT)
        *out = (float)a->i;
    else
        return wrong_type(n, name, "a float", err);
    return SP_OK;
}

enum sp_status sp_attr_string(const struct sp_node *n, const char *name, const char *dflt, char *buf, size_t buflen,
                              struct sp_error *err)
{
    const Onnx__AttributeProto *a = sp_attr_find(n, name);
    if (buflen)
        buf[0] = '\0'; /* a string even on the error paths */
    if (!a) {
        snprintf(buf, buflen, "%s", dflt ? dflt : "");
        return SP_OK;
    }
    if (attr_type(a) != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING)
        return wrong_type(n, name, "a string", err);
    /* An empty string arrives as data == NULL, which memchr/memcpy must not see. */
    if (a->s.len >= buflen || (a->s.len && memchr(a->s.data, '\0', a->s.len)))
        return sp_node_error(n, err, SP_ERR_FORMAT, "attribute '%s' is not a valid short string", name);
    if (a->s.len)
        memcpy(buf, a->s.data, a->s.len);
    buf[a->s.len] = '\0';
    return SP_OK;
}

enum sp_status sp_attr_ints(const struct sp_node *n, const char *name, int64_t *out, int cap, int *count,
                            bool *present, struct sp_error *err)
{
    const Onnx__AttributeProto *a = sp_attr_find(n, name);
    *count = 0;
    if (present)
        *present = a != NULL;
    if (!a)
        return SP_OK;
    Onnx__AttributeProto__AttributeType t = attr_type(a);
    if (t != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS && t != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED)
        return wrong_type(n, name, "a list of ints", err);
    if (a->n_ints > (size_t)cap)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "attribute '%s' has %zu values, at most %d supported",
                             name, a->n_ints, cap);
    for (size_t i = 0; i < a->n_ints; i++)
        out[i] = a->ints[i];
    *count = (int)a->n_ints;
    return SP_OK;
}

enum sp_status sp_attr_floats(const struct sp_node *n, const char *name, float *out, int cap, int *count,
                              bool *present, struct sp_error *err)
{
    const Onnx__AttributeProto *a = sp_attr_find(n, name);
    *count = 0;
    if (present)
        *present = a != NULL;
    if (!a)
        return SP_OK;
    Onnx__AttributeProto__AttributeType t = attr_type(a);
    if (t != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS && t != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED)
        return wrong_type(n, name, "a list of floats", err);
    if (a->n_floats > (size_t)cap)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "attribute '%s' has %zu values, at most %d supported",
                             name, a->n_floats, cap);
    for (size_t i = 0; i < a->n_floats; i++)
        out[i] = a->floats[i];
    *count = (int)a->n_floats;
    return SP_OK;
}

const Onnx__TensorProto *sp_attr_tensor(const struct sp_node *n, const char *name)
{
    const Onnx__AttributeProto *a = sp_attr_find(n, name);
    return a ? a->t : NULL;
}

enum sp_status sp_attr_check_known(const struct sp_node *n, const char *const *known, struct sp_error *err)
{
    for (size_t i = 0; i < n->proto->n_attribute; i++) {
        const char *name = n->proto->attribute[i]->name;
        bool ok = false;
        for (const char *const *k = known; *k && !ok; k++)
            ok = name && strcmp(name, *k) == 0;
        if (!ok)
            return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "attribute '%s' is not supported",
                                 name ? name : "<unnamed>");
    }
    return SP_OK;
}

enum sp_status sp_tensor_read_ints(const struct sp_node *n, const struct sp_tensor *t, const char *what, int64_t *out,
                                   int cap, int *count, struct sp_error *err)
{
    if (!t || !t->data)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "input '%s' must be a constant", what);
    int64_t numel = sp_tensor_numel(t);
    if (numel > cap)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "input '%s' has %lld values, at most %d supported", what,
                             (long long)numel, cap);
    if (t->dtype == SP_DTYPE_INT64) {
        memcpy(out, t->data, (size_t)numel * sizeof(int64_t));
    } else if (t->dtype == SP_DTYPE_INT32) {
        const int32_t *p = t->data;
        for (int64_t i = 0; i < numel; i++)
            out[i] = p[i];
    } else {
        return sp_node_error(n, err, SP_ERR_FORMAT, "input '%s' must be int64 or int32, got %s", what,
                             sp_dtype_name(t->dtype));
    }
    *count = (int)numel;
    return SP_OK;
}

enum sp_status sp_axis_normalize(const struct sp_node *n, int64_t axis, int rank, int *out, struct sp_error *err)
{
    int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= (rank > 0 ? rank : 1))
        return sp_node_error(n, err, SP_ERR_FORMAT, "axis %lld is out of range for rank %d", (long long)axis, rank);
    *out = (int)a;
    return SP_OK;
}
