/*
 * Operators that create, convert, join, cut and index tensors: Constant,
 * Identity, Dropout, Cast, CastLike, Concat, Split, Slice, Gather,
 * GatherElements, Pad, DepthToSpace, SpaceToDepth.
 *
 * All of them but Cast move elements without looking at them, so they work for
 * every fixed-size dtype. Index inputs whose values decide output shapes (Slice
 * starts/ends, Split sizes, Pad pads) must be known at plan time; Gather indices
 * may be data, and are bounds-checked at run time because a bad index in data
 * must be an error, never a read outside the buffer.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/attr.h"
#include "engine/op.h"
#include "engine/ops/datamove.h"
#include "engine/ops/ew_types.h"
#include "onnx/model_internal.h"

/* ---- shared helpers ------------------------------------------------------ */

static const char *const no_attrs[] = {NULL};

static enum sp_status need_io(struct sp_node *n, int lo, int hi, struct sp_error *err)
{
    if (n->n_inputs < lo || n->n_inputs > hi || (lo > 0 && !sp_node_in(n, 0)))
        return sp_node_error(n, err, SP_ERR_FORMAT, "expects %d to %d inputs, got %d", lo, hi, n->n_inputs);
    if (n->n_outputs < 1 || !sp_node_out(n, 0))
        return sp_node_error(n, err, SP_ERR_FORMAT, "expects an output");
    return SP_OK;
}

static enum sp_status need_const(struct sp_node *n, int i, const char *what, struct sp_error *err)
{
    if (!sp_node_in_is_const(n, i) || !sp_node_in(n, i)->data)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED,
                             "input '%s' must be known at plan time (a constant or computed from shapes only); "
                             "data-dependent shapes are not supported",
                             what);
    return SP_OK;
}

static enum sp_status need_sized(struct sp_node *n, const struct sp_tensor *t, struct sp_error *err)
{
    if (sp_dtype_size(t->dtype) == 0)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "dtype %s is not supported", sp_dtype_name(t->dtype));
    return SP_OK;
}

static enum sp_status set_out(struct sp_node *n, int i, enum sp_dtype dt, int ndim, const int64_t *dims,
                              struct sp_error *err)
{
    char buf[160];
    if (ndim > SP_MAX_DIMS)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "output rank %d exceeds %d", ndim, SP_MAX_DIMS);
    size_t es = sp_dtype_size(dt);
    if (!sp_shape_checked_numel(ndim, dims, es ? es : 1, SP_DM_MAX_BYTES, NULL))
        return sp_node_error(n, err, SP_ERR_FORMAT, "output shape %s is invalid or too large",
                             sp_shape_str(ndim, dims, buf, sizeof buf));
    sp_node_set_out(n, i, dt, ndim, dims);
    return SP_OK;
}

static void *alloc_state(struct sp_node *n, size_t size, struct sp_error *err)
{
    n->state = calloc(1, size);
    if (!n->state)
        sp_node_error(n, err, SP_ERR_NOMEM, "cannot allocate op state");
    return n->state;
}

static void free_state(struct sp_node *n)
{
    free(n->state);
    n->state = NULL;
}

/* ---- element conversion (Cast, Pad's value) --------------------------------- */

static bool castable(enum sp_dtype t)
{
    switch (t) {
    case SP_DTYPE_FLOAT: case SP_DTYPE_DOUBLE: case SP_DTYPE_FLOAT16: case SP_DTYPE_BFLOAT16:
    case SP_DTYPE_INT8: case SP_DTYPE_INT16: case SP_DTYPE_INT32: case SP_DTYPE_INT64:
    case SP_DTYPE_UINT8: case SP_DTYPE_UINT16: case SP_DTYPE_UINT32: case SP_DTYPE_UINT64:
    case SP_DTYPE_BOOL:
        return true;
    default:
        return false;
    }
}

/* One element, read either as a double (float types) or an integer. */
struct num {
    bool is_f;
    double f;
    int64_t i;
    uint64_t u; /* only for uint64 values above INT64_MAX */
    bool big;
};

static struct num load_num(const char *p, enum sp_dtype t)
{
    struct num v = {0};
    switch (t) {
    case SP_DTYPE_FLOAT: { float x; memcpy(&x, p, 4); v.is_f = true; v.f = x; break; }
    case SP_DTYPE_DOUBLE: memcpy(&v.f, p, 8); v.is_f = true; break;
    case SP_DTYPE_FLOAT16: { uint16_t h; memcpy(&h, p, 2); v.is_f = true; v.f = sp_dm_half_to_float(h); break; }
    case SP_DTYPE_BFLOAT16: { uint16_t h; memcpy(&h, p, 2); v.is_f = true; v.f = sp_dm_bf16_to_float(h); break; }
    case SP_DTYPE_INT8: v.i = *(const int8_t *)p; break;
    case SP_DTYPE_UINT8: case SP_DTYPE_BOOL: v.i = *(const uint8_t *)p; break;
    case SP_DTYPE_INT16: { int16_t x; memcpy(&x, p, 2); v.i = x; break; }
    case SP_DTYPE_UINT16: { uint16_t x; memcpy(&x, p, 2); v.i = x; break; }
    case SP_DTYPE_INT32: { int32_t x; memcpy(&x, p, 4); v.i = x; break; }
    case SP_DTYPE_UINT32: { uint32_t x; memcpy(&x, p, 4); v.i = x; break; }
    case SP_DTYPE_INT64: memcpy(&v.i, p, 8); break;
    case SP_DTYPE_UINT64: memcpy(&v.u, p, 8); v.i = (int64_t)v.u; v.big = v.u > (uint64_t)INT64_MAX; break;
    default: break;
    }
    return v;
}

/*
 * Float to integer truncates toward zero (the spec's rule); values outside the
 * integer range are undefined in ONNX, here they saturate, and NaN gives 0, so
 * no input triggers C's undefined conversion (sp_f64_to_i64).
 */
static void store_num(char *p, enum sp_dtype t, struct num v)
{
    double f = v.is_f ? v.f : v.big ? (double)v.u : (double)v.i;
    int64_t i = v.is_f ? sp_f64_to_i64(v.f) : v.i;
    switch (t) {
    case SP_DTYPE_FLOAT: { float x = (float)f; memcpy(p, &x, 4); break; }
    case SP_DTYPE_DOUBLE: memcpy(p, &f, 8); break;
    case SP_DTYPE_FLOAT16: { uint16_t h = sp_dm_float_to_half((float)f); memcpy(p, &h, 2); break; }
    case SP_DTYPE_BFLOAT16: { uint16_t h = sp_dm_float_to_bf16((float)f); memcpy(p, &h, 2); break; }
    case SP_DTYPE_BOOL: *(uint8_t *)p = v.is_f ? (v.f != 0) : (v.i != 0); break;
    case SP_DTYPE_INT8: *(int8_t *)p = (int8_t)i; break;
    case SP_DTYPE_UINT8: *(uint8_t *)p = (uint8_t)i; break;
    case SP_DTYPE_INT16: { int16_t x = (int16_t)i; memcpy(p, &x, 2); break; }
    case SP_DTYPE_UINT16: { uint16_t x = (uint16_t)i; memcpy(p, &x, 2); break; }
    case SP_DTYPE_INT32: { int32_t x = (int32_t)i; memcpy(p, &x, 4); break; }
    case SP_DTYPE_UINT32: { uint32_t x = (uint32_t)i; memcpy(p, &x, 4); break; }
    case SP_DTYPE_INT64: memcpy(p, &i, 8); break;
    case SP_DTYPE_UINT64: {
        uint64_t x = v.is_f ? (f >= 18446744073709551615.0 ? UINT64_MAX : f > 0 ? (uint64_t)f : (uint64_t)i)
                            : (uint64_t)v.i;
        memcpy(p, &x, 8);
        break;
    }
    default: break;
    }
}

/* Converts cnt elements; common pairs get tight loops, the rest the generic path. */
static void convert(void *dst, enum sp_dtype dt, const void *src, enum sp_dtype st, int64_t cnt)
{
    if (dt == st) {
        memcpy(dst, src, (size_t)cnt * sp_dtype_size(st));
        return;
    }
    if (st == SP_DTYPE_FLOAT && dt == SP_DTYPE_FLOAT16) {
        const float *s = src;
        uint16_t *d = dst;
        for (int64_t k = 0; k < cnt; k++)
            d[k] = sp_dm_float_to_half(s[k]);
        return;
    }
    if (st == SP_DTYPE_FLOAT16 && dt == SP_DTYPE_FLOAT) {
        const uint16_t *s = src;
        float *d = dst;
        for (int64_t k = 0; k < cnt; k++)
            d[k] = sp_dm_half_to_float(s[k]);
        return;
    }
    if (st == SP_DTYPE_INT64 && dt == SP_DTYPE_FLOAT) {
        const int64_t *s = src;
        float *d = dst;
        for (int64_t k = 0; k < cnt; k++)
            d[k] = (float)s[k];
        return;
    }
    if ((st == SP_DTYPE_BOOL || st == SP_DTYPE_UINT8) && dt == SP_DTYPE_FLOAT) {
        const uint8_t *s = src;
        float *d = dst;
        for (int64_t k = 0; k < cnt; k++)
            d[k] = (float)s[k];
        return;
    }
    if (st == SP_DTYPE_INT32 && dt == SP_DTYPE_INT64) {
        const int32_t *s = src;
        int64_t *d = dst;
        for (int64_t k = 0; k < cnt; k++)
            d[k] = s[k];
        return;
    }
    size_t ss = sp_dtype_size(st), ds = sp_dtype_size(dt);
    const char *s = src;
    char *d = dst;
    for (int64_t k = 0; k < cnt; k++)
        store_num(d + (size_t)k * ds, dt, load_num(s + (size_t)k * ss, st));
}

/* ---- Constant ---------------------------------------------------------------- */

struct const_state {
    struct sp_tensor t; /* owned */
};

enum sp_status sp_ops_scalar_attr(struct sp_node *n, const char *name, enum sp_dtype *dt, void *value,
                                  struct sp_error *err)
{
    const Onnx__TensorProto *tp = sp_attr_tensor(n, name);
    if (!tp)
        return sp_node_error(n, err, SP_ERR_FORMAT, "attribute '%s' must be a tensor", name);
    struct sp_tensor t = {0};
    enum sp_status st = sp_tensor_from_proto(tp, &t, name, err);
    if (st)
        return st;
    size_t es = sp_dtype_size(t.dtype);
    if (sp_tensor_numel(&t) != 1 || es == 0 || es > 16) {
        sp_tensor_free(&t);
        return sp_node_error(n, err, SP_ERR_FORMAT, "attribute '%s' must hold exactly one numeric value", name);
    }
    *dt = t.dtype;
    memcpy(value, t.data, es);
    sp_tensor_free(&t);
    return SP_OK;
}

static enum sp_status constant_init(struct sp_node *n, struct sp_error *err)
{
    static const char *const known[] = {"value", "value_float", "value_floats", "value_int", "value_ints",
                                        "sparse_value", "value_string", "value_strings", NULL};
    enum sp_status st = sp_attr_check_known(n, known, err);
    if (st)
        return st;
    if (n->proto->n_attribute != 1)
        return sp_node_error(n, err, SP_ERR_FORMAT, "needs exactly one value attribute, got %zu",
                             n->proto->n_attribute);
    if (n->n_inputs != 0 || n->n_outputs != 1)
        return sp_node_error(n, err, SP_ERR_FORMAT, "takes no input and has one output");
    struct const_state *s = alloc_state(n, sizeof *s, err);
    if (!s)
        return SP_ERR_NOMEM;
    const Onnx__AttributeProto *a = n->proto->attribute[0];
    const char *name = a->name;
    if (strcmp(name, "sparse_value") == 0 || strcmp(name, "value_string") == 0 ||
        strcmp(name, "value_strings") == 0)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "attribute '%s' (sparse or string constants) is not supported",
                             name);
    if (strcmp(name, "value") == 0) {
        if (!a->t)
            return sp_node_error(n, err, SP_ERR_FORMAT, "attribute 'value' must be a tensor");
        if (a->t->data_type == SP_DTYPE_STRING)
            return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "string constants are not supported");
        if ((st = sp_tensor_from_proto(a->t, &s->t, sp_node_label(n), err)))
            return st;
        if (sp_dtype_size(s->t.dtype) == 0)
            return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "constant dtype %s is not supported",
                                 sp_dtype_name(s->t.dtype));
        return SP_OK;
    }
    bool is_float = strncmp(name, "value_float", 11) == 0, is_list = name[strlen(name) - 1] == 's';
    int64_t cnt = is_list ? (int64_t)(is_float ? a->n_floats : a->n_ints) : 1;
    if (!is_list && !(is_float ? a->has_f : a->has_i))
        return sp_node_error(n, err, SP_ERR_FORMAT, "attribute '%s' has no value", name);
    if ((st = sp_tensor_alloc(&s->t, is_float ? SP_DTYPE_FLOAT : SP_DTYPE_INT64, is_list ? 1 : 0, &cnt, err)))
        return st;
    for (int64_t k = 0; k < cnt; k++) {
        if (is_float)
            ((float *)s->t.data)[k] = is_list ? a->floats[k] : a->f;
        else
            ((int64_t *)s->t.data)[k] = is_list ? a->ints[k] : a->i;
    }
    return SP_OK;
}

static enum sp_status constant_prepare(struct sp_node *n, struct sp_error *err)
{
    struct const_state *s = n->state;
    return set_out(n, 0, s->t.dtype, s->t.ndim, s->t.dims, err);
}

static enum sp_status constant_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    struct const_state *s = n->state;
    size_t bytes = sp_tensor_nbytes(&s->t);
    if (bytes)
        memcpy(sp_node_out(n, 0)->data, s->t.data, bytes);
    return SP_OK;
}

static void constant_free(struct sp_node *n)
{
    struct const_state *s = n->state;
    if (s)
        sp_tensor_free(&s->t);
    free_state(n);
}

SP_DM_GUARDED_INIT(constant_init, constant_free)
const struct sp_op sp_op_Constant = {"Constant", "", 1, 18,
    constant_init_guarded, constant_prepare, constant_run, constant_free};

/* ---- Identity / Dropout ---------------------------------------------------------- */

static enum sp_status identity_init(struct sp_node *n, struct sp_error *err)
{
    return sp_attr_check_known(n, no_attrs, err);
}

static enum sp_status identity_prepare(struct sp_node *n, struct sp_error *err)
{
    enum sp_status st = need_io(n, 1, 1, err);
    if (st || (st = need_sized(n, sp_node_in(n, 0), err)))
        return st;
    const struct sp_tensor *x = sp_node_in(n, 0);
    return set_out(n, 0, x->dtype, x->ndim, x->dims, err);
}

const struct sp_op sp_op_Identity = {"Identity", "", 1, 18, identity_init, identity_prepare, sp_dm_run_copy, NULL};

struct dropout_state {
    bool check_training_at_run; /* training_mode is data: refuse true at run */
};

static enum sp_status dropout_init(struct sp_node *n, struct sp_error *err)
{
    static const char *const known7[] = {"ratio", NULL};
    static const char *const known12[] = {"seed", NULL};
    enum sp_status st = sp_attr_check_known(n, n->opset >= 12 ? known12 : known7, err);
    if (st)
        return st;
    return alloc_state(n, sizeof(struct dropout_state), err) ? SP_OK : SP_ERR_NOMEM;
}

static enum sp_status dropout_prepare(struct sp_node *n, struct sp_error *err)
{
    struct dropout_state *s = n->state;
    enum sp_status st = need_io(n, 1, n->opset >= 12 ? 3 : 1, err);
    if (st || (st = need_sized(n, sp_node_in(n, 0), err)))
        return st;
    const struct sp_tensor *x = sp_node_in(n, 0), *tm = sp_node_in(n, 2);
    s->check_training_at_run = false;
    if (tm) {
        if (tm->dtype != SP_DTYPE_BOOL || sp_tensor_numel(tm) != 1)
            return sp_node_error(n, err, SP_ERR_FORMAT, "training_mode must be a bool scalar");
        if (sp_node_in_is_const(n, 2) && tm->data) {
            if (*(const uint8_t *)tm->data)
                return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "training_mode = true is not supported (inference only)");
        } else {
            s->check_training_at_run = true;
        }
    }
    if ((st = set_out(n, 0, x->dtype, x->ndim, x->dims, err)))
        return st;
    if (sp_node_out(n, 1)) {
        enum sp_dtype mt = n->opset >= 10 ? SP_DTYPE_BOOL : x->dtype;
        if (!castable(mt))
            return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "mask of dtype %s is not supported", sp_dtype_name(mt));
        if ((st = set_out(n, 1, mt, x->ndim, x->dims, err)))
            return st;
    }
    return SP_OK;
}

static enum sp_status dropout_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    struct dropout_state *s = n->state;
    if (s->check_training_at_run && *(const uint8_t *)sp_node_in(n, 2)->data)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "training_mode = true is not supported (inference only)");
    sp_dm_run_copy(n, scratch, err);
    struct sp_tensor *m = sp_node_out(n, 1);
    if (m) {
        /* Inference keeps every element: the mask is all ones / true. */
        size_t es = sp_dtype_size(m->dtype);
        char one[16];
        struct num v = {.is_f = false, .i = 1};
        store_num(one, m->dtype, v);
        int64_t cnt = sp_tensor_numel(m);
        for (int64_t k = 0; k < cnt; k++)
            memcpy((char *)m->data + (size_t)k * es, one, es);
    }
    return SP_OK;
}

SP_DM_GUARDED_INIT(dropout_init, free_state)
const struct sp_op sp_op_Dropout = {"Dropout", "", 7, 18,
    dropout_init_guarded, dropout_prepare, dropout_run, free_state};

/* ---- Cast / CastLike --------------------------------------------------------------- */

struct cast_state {
    enum sp_dtype to;
};

static enum sp_status cast_init(struct sp_node *n, struct sp_error *err)
{
    static const char *const known[] = {"to", NULL};
    enum sp_status st = sp_attr_check_known(n, known, err);
    if (st)
        return st;
    struct cast_state *s = alloc_state(n, sizeof *s, err);
    if (!s)
        return SP_ERR_NOMEM;
    const Onnx__AttributeProto *a = sp_attr_find(n, "to");
    if (!a)
        return sp_node_error(n, err, SP_ERR_FORMAT, "attribute 'to' is required");
    int64_t to;
    if (a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING) {
        /* Opset 1-5 named the type as a string. */
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "attribute 'to' as a string (opset < 6) is not supported");
    }
    if ((st = sp_attr_int(n, "to", 0, &to, err)))
        return st;
    if (to == SP_DTYPE_STRING)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "casting to string is not supported");
    if (!castable((enum sp_dtype)to))
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "cast to dtype %lld (%s) is not supported", (long long)to,
                             sp_dtype_name((enum sp_dtype)to));
    s->to = (enum sp_dtype)to;
    return SP_OK;
}

static enum sp_status cast_prepare(struct sp_node *n, struct sp_error *err)
{
    struct cast_state *s = n->state;
    enum sp_status st = need_io(n, 1, 1, err);
    if (st)
        return st;
    const struct sp_tensor *x = sp_node_in(n, 0);
    if (!castable(x->dtype))
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "cast from %s is not supported", sp_dtype_name(x->dtype));
    return set_out(n, 0, s->to, x->ndim, x->dims, err);
}

static enum sp_status cast_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    const struct sp_tensor *x = sp_node_in(n, 0);
    struct sp_tensor *y = sp_node_out(n, 0);
    convert(y->data, y->dtype, x->data, x->dtype, sp_tensor_numel(x));
    return SP_OK;
}

SP_DM_GUARDED_INIT(cast_init, free_state)
const struct sp_op sp_op_Cast = {"Cast", "", 6, 18, cast_init_guarded, cast_prepare, cast_run, free_state};

static enum sp_status castlike_init(struct sp_node *n, struct sp_error *err)
{
    return sp_attr_check_known(n, no_attrs, err);
}

static enum sp_status castlike_prepare(struct sp_node *n, struct sp_error *err)
{
    enum sp_status st = need_io(n, 2, 2, err);
    if (st)
        return st;
    const struct sp_tensor *x = sp_node_in(n, 0), *like = sp_node_in(n, 1);
    if (!like)
        return sp_node_error(n, err, SP_ERR_FORMAT, "input 'target_type' is missing");
    if (!castable(x->dtype) || !castable(like->dtype))
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "cast from %s to %s is not supported",
                             sp_dtype_name(x->dtype), sp_dtype_name(like->dtype));
    return set_out(n, 0, like->dtype, x->ndim, x->dims, err);
}

const struct sp_op sp_op_CastLike = {"CastLike", "", 15, 18, castlike_init, castlike_prepare, cast_run, NULL};

/* ---- Concat ------------------------------------------------------------------------ */

struct axis_state {
    int64_t axis;
    int norm; /* resolved at prepare */
};

static enum sp_status concat_init(struct sp_node *n, struct sp_error *err)
{
    static const char *const known[] = {"axis", NULL};
    enum sp_status st = sp_attr_check_known(n, known, err);
    if (st)
        return st;
    struct axis_state *s = alloc_state(n, sizeof *s, err);
    if (!s)
        return SP_ERR_NOMEM;
    if (!sp_attr_find(n, "axis"))
        return sp_node_error(n, err, SP_ERR_FORMAT, "attribute 'axis' is required");
    return sp_attr_int(n, "axis", 0, &s->axis, err);
}

static enum sp_status concat_prepare(struct sp_node *n, struct sp_error *err)
{
    struct axis_state *s = n->state;
    enum sp_status st = need_io(n, 1, 1 << 20, err);
    if (st)
        return st;
    const struct sp_tensor *x0 = sp_node_in(n, 0);
    if ((st = need_sized(n, x0, err)) || (st = sp_axis_normalize(n, s->axis, x0->ndim, &s->norm, err)))
        return st;
    int64_t d[SP_MAX_DIMS];
    memcpy(d, x0->dims, sizeof d);
    d[s->norm] = 0;
    char b1[160], b2[160];
    for (int i = 0; i < n->n_inputs; i++) {
        const struct sp_tensor *x = sp_node_in(n, i);
        if (!x)
            return sp_node_error(n, err, SP_ERR_FORMAT, "input %d is missing", i);
        bool ok = x->dtype == x0->dtype && x->ndim == x0->ndim;
        for (int k = 0; ok && k < x->ndim; k++)
            ok = k == s->norm || x->dims[k] == x0->dims[k];
        if (!ok)
            return sp_node_error(n, err, SP_ERR_MISMATCH, "input %d (%s %s) does not match input 0 (%s %s) off axis %d",
                                 i, sp_dtype_name(x->dtype), sp_shape_str(x->ndim, x->dims, b1, sizeof b1),
                                 sp_dtype_name(x0->dtype), sp_shape_str(x0->ndim, x0->dims, b2, sizeof b2), s->norm);
        d[s->norm] += x->dims[s->norm];
    }
    return set_out(n, 0, x0->dtype, x0->ndim, d, err);
}

static enum sp_status concat_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    struct axis_state *s = n->state;
    struct sp_tensor *y = sp_node_out(n, 0);
    size_t es = sp_dtype_size(y->dtype);
    int64_t outer = sp_dm_prod(y->dims, 0, s->norm), inner = sp_dm_prod(y->dims, s->norm + 1, y->ndim);
    size_t out_row = (size_t)(y->dims[s->norm] * inner) * es;
    size_t pos = 0;
    for (int i = 0; i < n->n_inputs; i++) {
        const struct sp_tensor *x = sp_node_in(n, i);
        size_t chunk = (size_t)(x->dims[s->norm] * inner) * es;
        if (chunk == 0)
            continue;
        char *dst = (char *)y->data + pos;
        const char *src = x->data;
        for (int64_t o = 0; o < outer; o++)
            memcpy(dst + (size_t)o * out_row, src + (size_t)o * chunk, chunk);
        pos += chunk;
    }
    return SP_OK;
}

SP_DM_GUARDED_INIT(concat_init, free_state)
const struct sp_op sp_op_Concat = {"Concat", "", 4, 18, concat_init_guarded, concat_prepare, concat_run, free_state};

/* ---- Split ------------------------------------------------------------------------- */

#define SPLIT_MAX 1024

struct split_state {
    int64_t axis;
    int norm;
    int64_t split[SPLIT_MAX];
    int n_split;
    bool have_split; /* attribute (opset < 13) */
    int64_t num_outputs;
    int64_t sizes[SPLIT_MAX]; /* resolved at prepare */
};

static enum sp_status split_init(struct sp_node *n, struct sp_error *err)
{
    static const char *const known2[] = {"axis", "split", NULL};
    static const char *const known13[] = {"axis", NULL};
    static const char *const known18[] = {"axis", "num_outputs", NULL};
    enum sp_status st = sp_attr_check_known(n, n->opset >= 18 ? known18 : n->opset >= 13 ? known13 : known2, err);
    if (st)
        return st;
    struct split_state *s = alloc_state(n, sizeof *s, err);
    if (!s)
        return SP_ERR_NOMEM;
    if (n->n_outputs < 1 || n->n_outputs > SPLIT_MAX)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "%d outputs (1..%d supported)", n->n_outputs, SPLIT_MAX);
    if ((st = sp_attr_int(n, "axis", 0, &s->axis, err)) ||
        (st = sp_attr_int(n, "num_outputs", 0, &s->num_outputs, err)))
        return st;
    if (n->opset < 13 && (st = sp_attr_ints(n, "split", s->split, SPLIT_MAX, &s->n_split, &s->have_split, err)))
        return st;
    if (sp_attr_find(n, "num_outputs") && s->num_outputs != n->n_outputs)
        return sp_node_error(n, err, SP_ERR_FORMAT, "num_outputs = %lld but the node has %d outputs",
                             (long long)s->num_outputs, n->n_outputs);
    return SP_OK;
}

static enum sp_status split_prepare(struct sp_node *n, struct sp_error *err)
{
    struct split_state *s = n->state;
    enum sp_status st = need_io(n, 1, n->opset >= 13 ? 2 : 1, err);
    if (st)
        return st;
    const struct sp_tensor *x = sp_node_in(n, 0);
    if ((st = need_sized(n, x, err)) || (st = sp_axis_normalize(n, s->axis, x->ndim, &s->norm, err)))
        return st;
    int64_t dim = x->dims[s->norm], k = n->n_outputs;
    bool explicit = false;
    if (n->opset < 13 && s->have_split) {
        memcpy(s->sizes, s->split, sizeof(int64_t) * (size_t)s->n_split);
        explicit = true;
        k = s->n_split;
    } else if (n->opset >= 13 && sp_node_in(n, 1)) {
        int cnt;
        if ((st = need_const(n, 1, "split", err)) ||
            (st = sp_tensor_read_ints(n, sp_node_in(n, 1), "split", s->sizes, SPLIT_MAX, &cnt, err)))
            return st;
        explicit = true;
        k = cnt;
    }
    if (explicit) {
        if (k != n->n_outputs)
            return sp_node_error(n, err, SP_ERR_FORMAT, "split has %lld values for %d outputs", (long long)k,
                                 n->n_outputs);
        int64_t sum = 0;
        for (int i = 0; i < k; i++) {
            if (s->sizes[i] < 0)
                return sp_node_error(n, err, SP_ERR_FORMAT, "split[%d] is negative", i);
            sum += s->sizes[i];
        }
        if (sum != dim)
            return sp_node_error(n, err, SP_ERR_MISMATCH, "split sizes sum to %lld, axis %d has %lld", (long long)sum,
                                 s->norm, (long long)dim);
    } else if (n->opset >= 18) {
        /* num_outputs: ceil-sized parts, the last one smaller. */
        int64_t part = (dim + k - 1) / k, left = dim;
        for (int i = 0; i < k; i++) {
            s->sizes[i] = left < part ? left : part;
            left -= s->sizes[i];
        }
    } else {
        if (dim % k)
            return sp_node_error(n, err, SP_ERR_MISMATCH, "axis %d of size %lld does not split evenly into %lld parts",
                                 s->norm, (long long)dim, (long long)k);
        for (int i = 0; i < k; i++)
            s->sizes[i] = dim / k;
    }
    for (int i = 0; i < n->n_outputs; i++) {
        int64_t d[SP_MAX_DIMS];
        memcpy(d, x->dims, sizeof d);
        d[s->norm] = s->sizes[i];
        if ((st = set_out(n, i, x->dtype, x->ndim, d, err)))
            return st;
    }
    return SP_OK;
}

static enum sp_status split_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    struct split_state *s = n->state;
    const struct sp_tensor *x = sp_node_in(n, 0);
    size_t es = sp_dtype_size(x->dtype);
    int64_t outer = sp_dm_prod(x->dims, 0, s->norm), inner = sp_dm_prod(x->dims, s->norm + 1, x->ndim);
    size_t in_row = (size_t)(x->dims[s->norm] * inner) * es, pos = 0;
    for (int i = 0; i < n->n_outputs; i++) {
        size_t chunk = (size_t)(s->sizes[i] * inner) * es;
        struct sp_tensor *y = sp_node_out(n, i);
        if (y && chunk)
            for (int64_t o = 0; o < outer; o++)
                memcpy((char *)y->data + (size_t)o * chunk, (const char *)x->data + (size_t)o * in_row + pos, chunk);
        pos += chunk;
    }
    return SP_OK;
}

SP_DM_GUARDED_INIT(split_init, free_state)
const struct sp_op sp_op_Split = {"Split", "", 2, 18, split_init_guarded, split_prepare, split_run, free_state};

/* ---- Slice ------------------------------------------------------------------------- */

struct slice_state {
    int64_t starts[SP_MAX_DIMS], ends[SP_MAX_DIMS], axes[SP_MAX_DIMS]; /* opset < 10 attributes */
    int n_starts, n_ends, n_axes;
    bool have_axes;
    int64_t offset;                  /* element offset of the first output element, set at prepare */
    int64_t src_stride[SP_MAX_DIMS]; /* per output axis */
};

static enum sp_status slice_init(struct sp_node *n, struct sp_error *err)
{
    static const char *const known1[] = {"starts", "ends", "axes", NULL};
    enum sp_status st = sp_attr_check_known(n, n->opset < 10 ? known1 : no_attrs, err);
    if (st)
        return st;
    struct slice_state *s = alloc_state(n, sizeof *s, err);
    if (!s)
        return SP_ERR_NOMEM;
    if (n->opset < 10) {
        bool hs, he;
        if ((st = sp_attr_ints(n, "starts", s->starts, SP_MAX_DIMS, &s->n_starts, &hs, err)) ||
            (st = sp_attr_ints(n, "ends", s->ends, SP_MAX_DIMS, &s->n_ends, &he, err)) ||
            (st = sp_attr_ints(n, "axes", s->axes, SP_MAX_DIMS, &s->n_axes, &s->have_axes, err)))
            return st;
        if (!hs || !he)
            return sp_node_error(n, err, SP_ERR_FORMAT, "attributes 'starts' and 'ends' are required");
    }
    return SP_OK;
}

static enum sp_status slice_prepare(struct sp_node *n, struct sp_error *err)
{
    struct slice_state *s = n->state;
    enum sp_status st = need_io(n, n->opset < 10 ? 1 : 3, n->opset < 10 ? 1 : 5, err);
    if (st)
        return st;
    const struct sp_tensor *x = sp_node_in(n, 0);
    if ((st = need_sized(n, x, err)))
        return st;
    int64_t starts[SP_MAX_DIMS], ends[SP_MAX_DIMS], axes[SP_MAX_DIMS], steps[SP_MAX_DIMS];
    int ns, ne, na, nst;
    bool have_axes;
    if (n->opset < 10) {
        memcpy(starts, s->starts, sizeof starts);
        memcpy(ends, s->ends, sizeof ends);
        memcpy(axes, s->axes, sizeof axes);
        ns = s->n_starts, ne = s->n_ends, na = s->n_axes, have_axes = s->have_axes;
        nst = 0;
    } else {
        static const char *const names[] = {"starts", "ends", "axes", "steps"};
        int64_t *bufs[] = {starts, ends, axes, steps};
        int *cnts[] = {&ns, &ne, &na, &nst};
        for (int i = 0; i < 4; i++) {
            *cnts[i] = 0;
            if (!sp_node_in(n, i + 1))
                continue;
            if ((st = need_const(n, i + 1, names[i], err)) ||
                (st = sp_tensor_read_ints(n, sp_node_in(n, i + 1), names[i], bufs[i], SP_MAX_DIMS, cnts[i], err)))
                return st;
        }
        have_axes = sp_node_in(n, 3) != NULL;
    }
    if (ns != ne || (have_axes && na != ns) || (nst && nst != ns))
        return sp_node_error(n, err, SP_ERR_FORMAT, "starts, ends, axes and steps must have the same length");
    int64_t b[SP_MAX_DIMS], step[SP_MAX_DIMS], d[SP_MAX_DIMS];
    bool seen[SP_MAX_DIMS] = {false};
    for (int i = 0; i < x->ndim; i++) {
        b[i] = 0;
        step[i] = 1;
        d[i] = x->dims[i];
    }
    for (int i = 0; i < ns; i++) {
        int a = i;
        if (have_axes && (st = sp_axis_normalize(n, axes[i], x->ndim, &a, err)))
            return st;
        if (!have_axes && i >= x->ndim)
            return sp_node_error(n, err, SP_ERR_FORMAT, "more starts than input dimensions");
        if (seen[a])
            return sp_node_error(n, err, SP_ERR_FORMAT, "axis %d is sliced twice", a);
        seen[a] = true;
        int64_t dim = x->dims[a], stp = nst ? steps[i] : 1, lo = starts[i], hi = ends[i];
        if (stp == 0)
            return sp_node_error(n, err, SP_ERR_FORMAT, "steps[%d] is 0", i);
        if (lo < 0)
            lo += dim;
        if (hi < 0)
            hi += dim;
        int64_t cnt;
        if (stp > 0) {
            lo = lo < 0 ? 0 : lo > dim ? dim : lo;
            hi = hi < 0 ? 0 : hi > dim ? dim : hi;
            cnt = hi > lo ? (hi - lo + stp - 1) / stp : 0;
        } else {
            lo = lo < 0 ? 0 : lo > dim - 1 ? dim - 1 : lo;
            hi = hi < -1 ? -1 : hi > dim - 1 ? dim - 1 : hi;
            cnt = lo > hi ? (lo - hi + (-stp) - 1) / (-stp) : 0;
        }
        b[a] = cnt > 0 ? lo : 0;
        step[a] = stp;
        d[a] = cnt;
    }
    int64_t in_stride[SP_MAX_DIMS];
    sp_dm_strides(x->ndim, x->dims, in_stride);
    s->offset = 0;
    for (int i = 0; i < x->ndim; i++) {
        s->offset += b[i] * in_stride[i];
        s->src_stride[i] = step[i] * in_stride[i];
    }
    return set_out(n, 0, x->dtype, x->ndim, d, err);
}

static enum sp_status slice_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    struct slice_state *s = n->state;
    const struct sp_tensor *x = sp_node_in(n, 0);
    struct sp_tensor *y = sp_node_out(n, 0);
    size_t es = sp_dtype_size(x->dtype);
    if (sp_tensor_numel(y) == 0)
        return SP_OK;
    sp_dm_strided_copy(y->data, (const char *)x->data + (size_t)s->offset * es, es, y->ndim, y->dims, s->src_stride);
    return SP_OK;
}

SP_DM_GUARDED_INIT(slice_init, free_state)
const struct sp_op sp_op_Slice = {"Slice", "", 1, 18, slice_init_guarded, slice_prepare, slice_run, free_state};

/* ---- Gather / GatherElements ----------------------------------------------------------- */

static enum sp_status gather_init(struct sp_node *n, struct sp_error *err)
{
    static const char *const known[] = {"axis", NULL};
    enum sp_status st = sp_attr_check_known(n, known, err);
    if (st)
        return st;
    struct axis_state *s = alloc_state(n, sizeof *s, err);
    if (!s)
        return SP_ERR_NOMEM;
    return sp_attr_int(n, "axis", 0, &s->axis, err);
}

static enum sp_status need_indices(struct sp_node *n, const struct sp_tensor *idx, struct sp_error *err)
{
    if (!idx)
        return sp_node_error(n, err, SP_ERR_FORMAT, "input 'indices' is missing");
    if (idx->dtype != SP_DTYPE_INT64 && idx->dtype != SP_DTYPE_INT32)
        return sp_node_error(n, err, SP_ERR_FORMAT, "indices must be int32 or int64, got %s", sp_dtype_name(idx->dtype));
    return SP_OK;
}

static enum sp_status gather_prepare(struct sp_node *n, struct sp_error *err)
{
    struct axis_state *s = n->state;
    enum sp_status st = need_io(n, 2, 2, err);
    if (st)
        return st;
    const struct sp_tensor *x = sp_node_in(n, 0), *idx = sp_node_in(n, 1);
    if ((st = need_sized(n, x, err)) || (st = need_indices(n, idx, err)))
        return st;
    if (x->ndim == 0)
        return sp_node_error(n, err, SP_ERR_FORMAT, "data must have rank >= 1");
    if ((st = sp_axis_normalize(n, s->axis, x->ndim, &s->norm, err)))
        return st;
    int r = x->ndim - 1 + idx->ndim;
    if (r > SP_MAX_DIMS)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "output rank %d exceeds %d", r, SP_MAX_DIMS);
    int64_t d[SP_MAX_DIMS];
    int k = 0;
    for (int i = 0; i < s->norm; i++)
        d[k++] = x->dims[i];
    for (int i = 0; i < idx->ndim; i++)
        d[k++] = idx->dims[i];
    for (int i = s->norm + 1; i < x->ndim; i++)
        d[k++] = x->dims[i];
    return set_out(n, 0, x->dtype, r, d, err);
}

static inline int64_t index_at(const struct sp_tensor *idx, int64_t k)
{
    return idx->dtype == SP_DTYPE_INT64 ? ((const int64_t *)idx->data)[k] : ((const int32_t *)idx->data)[k];
}

static enum sp_status gather_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    struct axis_state *s = n->state;
    const struct sp_tensor *x = sp_node_in(n, 0), *idx = sp_node_in(n, 1);
    struct sp_tensor *y = sp_node_out(n, 0);
    size_t es = sp_dtype_size(x->dtype);
    int64_t outer = sp_dm_prod(x->dims, 0, s->norm), inner = sp_dm_prod(x->dims, s->norm + 1, x->ndim);
    int64_t dim = x->dims[s->norm], ni = sp_tensor_numel(idx);
    size_t chunk = (size_t)inner * es;
    /* Check every index before writing so a failure leaves no half-done output. */
    for (int64_t j = 0; j < ni; j++) {
        int64_t v = index_at(idx, j);
        if (v < -dim || v >= dim)
            return sp_node_error(n, err, SP_ERR_MISMATCH, "index %lld at position %lld is out of range [-%lld, %lld)",
                                 (long long)v, (long long)j, (long long)dim, (long long)dim);
    }
    char *out = y->data;
    const char *in = x->data;
    for (int64_t o = 0; o < outer; o++) {
        const char *base = in + (size_t)(o * dim) * chunk;
        for (int64_t j = 0; j < ni; j++, out += chunk) {
            int64_t v = index_at(idx, j);
            if (v < 0)
                v += dim;
            memcpy(out, base + (size_t)v * chunk, chunk);
        }
    }
    return SP_OK;
}

SP_DM_GUARDED_INIT(gather_init, free_state)
const struct sp_op sp_op_Gather = {"Gather", "", 1, 18, gather_init_guarded, gather_prepare, gather_run, free_state};

static enum sp_status gather_elements_prepare(struct sp_node *n, struct sp_error *err)
{
    struct axis_state *s = n->state;
    enum sp_status st = need_io(n, 2, 2, err);
    if (st)
        return st;
    const struct sp_tensor *x = sp_node_in(n, 0), *idx = sp_node_in(n, 1);
    if ((st = need_sized(n, x, err)) || (st = need_indices(n, idx, err)))
        return st;
    if (x->ndim == 0 || idx->ndim != x->ndim)
        return sp_node_error(n, err, SP_ERR_MISMATCH, "indices must have the rank of data (%d), got %d", x->ndim,
                             idx->ndim);
    if ((st = sp_axis_normalize(n, s->axis, x->ndim, &s->norm, err)))
        return st;
    for (int i = 0; i < x->ndim; i++)
        if (i != s->norm && idx->dims[i] > x->dims[i])
            return sp_node_error(n, err, SP_ERR_MISMATCH, "indices dim %d (%lld) exceeds data's (%lld)", i,
                                 (long long)idx->dims[i], (long long)x->dims[i]);
    return set_out(n, 0, x->dtype, idx->ndim, idx->dims, err);
}

static enum sp_status gather_elements_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    struct axis_state *s = n->state;
    const struct sp_tensor *x = sp_node_in(n, 0), *idx = sp_node_in(n, 1);
    struct sp_tensor *y = sp_node_out(n, 0);
    size_t es = sp_dtype_size(x->dtype);
    int r = x->ndim, ax = s->norm;
    int64_t xs[SP_MAX_DIMS], k[SP_MAX_DIMS] = {0}, cnt = sp_tensor_numel(idx), dim = x->dims[ax];
    sp_dm_strides(r, x->dims, xs);
    int64_t base = 0; /* offset in x of multi-index k with k[ax] = 0 */
    for (int64_t j = 0; j < cnt; j++) {
        int64_t v = index_at(idx, j);
        if (v < -dim || v >= dim)
            return sp_node_error(n, err, SP_ERR_MISMATCH, "index %lld at position %lld is out of range [-%lld, %lld)",
                                 (long long)v, (long long)j, (long long)dim, (long long)dim);
        if (v < 0)
            v += dim;
        sp_dm_copy_elem((char *)y->data + (size_t)j * es, (const char *)x->data + (size_t)(base + v * xs[ax]) * es, es);
        for (int i = r - 1; i >= 0; i--) {
            if (++k[i] < idx->dims[i]) {
                if (i != ax)
                    base += xs[i];
                break;
            }
            if (i != ax)
                base -= xs[i] * (k[i] - 1);
            k[i] = 0;
        }
    }
    return SP_OK;
}

const struct sp_op sp_op_GatherElements = {"GatherElements", "", 11, 18,
    gather_init_guarded, gather_elements_prepare, gather_elements_run, free_state};

/* ---- Pad --------------------------------------------------------------------------- */

enum pad_mode { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE };

struct pad_state {
    enum pad_mode mode;
    int64_t attr_pads[2 * SP_MAX_DIMS];
    int n_attr_pads;
    float attr_value;
    int64_t begin[SP_MAX_DIMS]; /* resolved at prepare; negative = crop */
    char value[16];             /* the constant in the data's dtype (attribute form) */
};

static enum sp_status pad_init(struct sp_node *n, struct sp_error *err)
{
    static const char *const known2[] = {"mode", "pads", "value", NULL};
    static const char *const known11[] = {"mode", NULL};
    enum sp_status st = sp_attr_check_known(n, n->opset < 11 ? known2 : known11, err);
    if (st)
        return st;
    struct pad_state *s = alloc_state(n, sizeof *s, err);
    if (!s)
        return SP_ERR_NOMEM;
    char mode[32];
    if ((st = sp_attr_string(n, "mode", "constant", mode, sizeof mode, err)))
        return st;
    if (strcmp(mode, "constant") == 0)
        s->mode = PAD_CONSTANT;
    else if (strcmp(mode, "reflect") == 0)
        s->mode = PAD_REFLECT;
    else if (strcmp(mode, "edge") == 0)
        s->mode = PAD_EDGE;
    else
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "mode '%s' is not supported (constant, reflect, edge)", mode);
    if (n->opset < 11) {
        bool have;
        if ((st = sp_attr_ints(n, "pads", s->attr_pads, 2 * SP_MAX_DIMS, &s->n_attr_pads, &have, err)) ||
            (st = sp_attr_float(n, "value", 0.0f, &s->attr_value, err)))
            return st;
        if (!have)
            return sp_node_error(n, err, SP_ERR_FORMAT, "attribute 'pads' is required");
    }
    return SP_OK;
}

/* Source index along one axis for output index o, or -1 for the constant. */
static inline int64_t pad_map(int64_t o, int64_t begin, int64_t dim, enum pad_mode mode)
{
    int64_t i = o - begin;
    if (i >= 0 && i < dim)
        return i;
    if (mode == PAD_CONSTANT)
        return -1;
    if (mode == PAD_EDGE || dim == 1)
        return i < 0 ? 0 : dim - 1;
    int64_t period = 2 * (dim - 1);
    i %= period;
    if (i < 0)
        i += period;
    return i < dim ? i : period - i;
}

static enum sp_status pad_prepare(struct sp_node *n, struct sp_error *err)
{
    struct pad_state *s = n->state;
    enum sp_status st = need_io(n, n->opset < 11 ? 1 : 2, n->opset < 11 ? 1 : n->opset < 18 ? 3 : 4, err);
    if (st)
        return st;
    const struct sp_tensor *x = sp_node_in(n, 0);
    if ((st = need_sized(n, x, err)))
        return st;
    int r = x->ndim;
    int64_t pads[2 * SP_MAX_DIMS], axes[SP_MAX_DIMS];
    int np = 0, na = 0;
    if (n->opset < 11) {
        memcpy(pads, s->attr_pads, sizeof pads);
        np = s->n_attr_pads;
    } else if ((st = need_const(n, 1, "pads", err)) ||
               (st = sp_tensor_read_ints(n, sp_node_in(n, 1), "pads", pads, 2 * SP_MAX_DIMS, &np, err))) {
        return st;
    }
    bool have_axes = n->opset >= 18 && sp_node_in(n, 3);
    if (have_axes && ((st = need_const(n, 3, "axes", err)) ||
                      (st = sp_tensor_read_ints(n, sp_node_in(n, 3), "axes", axes, SP_MAX_DIMS, &na, err))))
        return st;
    if (!have_axes) {
        na = r;
        for (int i = 0; i < r; i++)
            axes[i] = i;
    }
    if (np != 2 * na)
        return sp_node_error(n, err, SP_ERR_FORMAT, "pads has %d values, expected %d", np, 2 * na);
    int64_t begin[SP_MAX_DIMS] = {0}, end[SP_MAX_DIMS] = {0}, d[SP_MAX_DIMS];
    for (int i = 0; i < na; i++) {
        int a;
        if ((st = sp_axis_normalize(n, axes[i], r, &a, err)))
            return st;
        begin[a] = pads[i];
        end[a] = pads[i + na];
    }
    for (int i = 0; i < r; i++) {
        d[i] = x->dims[i] + begin[i] + end[i];
        if (d[i] < 0)
            return sp_node_error(n, err, SP_ERR_FORMAT, "pads crop axis %d below zero", i);
        if (s->mode != PAD_CONSTANT && x->dims[i] == 0 && d[i] > 0)
            return sp_node_error(n, err, SP_ERR_FORMAT, "cannot %s-pad the empty axis %d",
                                 s->mode == PAD_EDGE ? "edge" : "reflect", i);
        s->begin[i] = begin[i];
    }
    memset(s->value, 0, sizeof s->value);
    if (n->opset < 11) {
        if (!castable(x->dtype))
            return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "dtype %s is not supported", sp_dtype_name(x->dtype));
        struct num v = {.is_f = true, .f = s->attr_value};
        store_num(s->value, x->dtype, v);
    } else if (sp_node_in(n, 2)) {
        const struct sp_tensor *cv = sp_node_in(n, 2);
        if (cv->dtype != x->dtype || sp_tensor_numel(cv) != 1)
            return sp_node_error(n, err, SP_ERR_FORMAT, "constant_value must be one %s value", sp_dtype_name(x->dtype));
    }
    return set_out(n, 0, x->dtype, r, d, err);
}

static enum sp_status pad_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    struct pad_state *s = n->state;
    const struct sp_tensor *x = sp_node_in(n, 0);
    struct sp_tensor *y = sp_node_out(n, 0);
    size_t es = sp_dtype_size(x->dtype);
    int64_t total = sp_tensor_numel(y);
    if (total == 0)
        return SP_OK;
    const char *value = s->value;
    if (n->opset >= 11 && sp_node_in(n, 2))
        value = sp_node_in(n, 2)->data;
    char *out = y->data;
    const char *in = x->data;
    int r = x->ndim;
    if (r == 0) {
        memcpy(out, in, es);
        return SP_OK;
    }
    int64_t xs[SP_MAX_DIMS], k[SP_MAX_DIMS] = {0};
    sp_dm_strides(r, x->dims, xs);
    int64_t W = y->dims[r - 1], w = x->dims[r - 1], bw = s->begin[r - 1];
    /* Output columns [c0, c1) read input columns [c0 - bw, c1 - bw) directly. */
    int64_t c0 = bw > 0 ? bw : 0, c1 = bw + w < W ? bw + w : W;
    if (c1 < c0)
        c1 = c0;
    int64_t rows = total / W;
    for (int64_t row = 0; row < rows; row++, out += (size_t)W * es) {
        int64_t off = 0;
        bool constant = false;
        for (int i = 0; i < r - 1; i++) {
            int64_t si = pad_map(k[i], s->begin[i], x->dims[i], s->mode);
            if (si < 0) {
                constant = true;
                break;
            }
            off += si * xs[i];
        }
        if (constant || w == 0) {
            for (int64_t c = 0; c < W; c++)
                memcpy(out + (size_t)c * es, value, es);
        } else {
            const char *src = in + (size_t)off * es;
            if (c1 > c0)
                memcpy(out + (size_t)c0 * es, src + (size_t)(c0 - bw) * es, (size_t)(c1 - c0) * es);
            for (int64_t c = 0; c < W; c++) {
                if (c == c0 && c1 > c0)
                    c = c1;
                if (c >= W)
                    break;
                int64_t si = pad_map(c, bw, w, s->mode);
                memcpy(out + (size_t)c * es, si < 0 ? value : src + (size_t)si * es, es);
            }
        }
        for (int i = r - 2; i >= 0; i--) {
            if (++k[i] < y->dims[i])
                break;
            k[i] = 0;
        }
    }
    return SP_OK;
}

SP_DM_GUARDED_INIT(pad_init, free_state)
const struct sp_op sp_op_Pad = {"Pad", "", 2, 18, pad_init_guarded, pad_prepare, pad_run, free_state};

/* ---- DepthToSpace / SpaceToDepth ------------------------------------------------------------ */

/* Both are a reshape to 6-D, a transpose and a reshape back: one strided copy. */
struct d2s_state {
    int64_t blocksize;
    bool crd;
    int64_t dims6[6], stride6[6]; /* output viewed as 6-D, with source strides */
};

static enum sp_status d2s_init(struct sp_node *n, struct sp_error *err)
{
    static const char *const known1[] = {"blocksize", NULL};
    static const char *const known11[] = {"blocksize", "mode", NULL};
    bool d2s = strcmp(n->proto->op_type, "DepthToSpace") == 0;
    enum sp_status st = sp_attr_check_known(n, d2s && n->opset >= 11 ? known11 : known1, err);
    if (st)
        return st;
    struct d2s_state *s = alloc_state(n, sizeof *s, err);
    if (!s)
        return SP_ERR_NOMEM;
    if (!sp_attr_find(n, "blocksize"))
        return sp_node_error(n, err, SP_ERR_FORMAT, "attribute 'blocksize' is required");
    if ((st = sp_attr_int(n, "blocksize", 0, &s->blocksize, err)))
        return st;
    if (s->blocksize < 1 || s->blocksize > (1 << 16))
        return sp_node_error(n, err, SP_ERR_FORMAT, "blocksize %lld is invalid", (long long)s->blocksize);
    char mode[16];
    if ((st = sp_attr_string(n, "mode", "DCR", mode, sizeof mode, err)))
        return st;
    if (strcmp(mode, "DCR") != 0 && strcmp(mode, "CRD") != 0)
        return sp_node_error(n, err, SP_ERR_FORMAT, "mode '%s' must be DCR or CRD", mode);
    s->crd = strcmp(mode, "CRD") == 0;
    return SP_OK;
}

static enum sp_status d2s_prepare(struct sp_node *n, struct sp_error *err)
{
    struct d2s_state *s = n->state;
    enum sp_status st = need_io(n, 1, 1, err);
    if (st)
        return st;
    const struct sp_tensor *x = sp_node_in(n, 0);
    if ((st = need_sized(n, x, err)))
        return st;
    if (x->ndim != 4)
        return sp_node_error(n, err, SP_ERR_FORMAT, "input must be 4-D (N, C, H, W), got rank %d", x->ndim);
    int64_t b = s->blocksize, N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    if (C % (b * b))
        return sp_node_error(n, err, SP_ERR_MISMATCH, "channels %lld are not divisible by blocksize^2 = %lld",
                             (long long)C, (long long)(b * b));
    int64_t Cp = C / (b * b), sn = C * H * W, sc, sb1, sb2;
    if (s->crd) {
        sc = b * b * H * W, sb1 = b * H * W, sb2 = H * W;
    } else {
        sb1 = b * Cp * H * W, sb2 = Cp * H * W, sc = H * W;
    }
    int64_t d6[6] = {N, Cp, H, b, W, b}, s6[6] = {sn, sc, W, sb1, 1, sb2};
    memcpy(s->dims6, d6, sizeof d6);
    memcpy(s->stride6, s6, sizeof s6);
    int64_t d[4] = {N, Cp, H * b, W * b};
    return set_out(n, 0, x->dtype, 4, d, err);
}

static enum sp_status s2d_prepare(struct sp_node *n, struct sp_error *err)
{
    struct d2s_state *s = n->state;
    enum sp_status st = need_io(n, 1, 1, err);
    if (st)
        return st;
    const struct sp_tensor *x = sp_node_in(n, 0);
    if ((st = need_sized(n, x, err)))
        return st;
    if (x->ndim != 4)
        return sp_node_error(n, err, SP_ERR_FORMAT, "input must be 4-D (N, C, H, W), got rank %d", x->ndim);
    int64_t b = s->blocksize, N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    if (H % b || W % b)
        return sp_node_error(n, err, SP_ERR_MISMATCH, "height %lld and width %lld must be divisible by blocksize %lld",
                             (long long)H, (long long)W, (long long)b);
    /* Input viewed as [N, C, H/b, b, W/b, b]; output [N, b, b, C, H/b, W/b]. */
    int64_t d6[6] = {N, b, b, C, H / b, W / b}, s6[6] = {C * H * W, W, 1, H * W, b * W, b};
    memcpy(s->dims6, d6, sizeof d6);
    memcpy(s->stride6, s6, sizeof s6);
    int64_t d[4] = {N, C * b * b, H / b, W / b};
    return set_out(n, 0, x->dtype, 4, d, err);
}

static enum sp_status d2s_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    struct d2s_state *s = n->state;
    const struct sp_tensor *x = sp_node_in(n, 0);
    sp_dm_strided_copy(sp_node_out(n, 0)->data, x->data, sp_dtype_size(x->dtype), 6, s->dims6, s->stride6);
    return SP_OK;
}

SP_DM_GUARDED_INIT(d2s_init, free_state)
const struct sp_op sp_op_DepthToSpace = {"DepthToSpace", "", 1, 18, d2s_init_guarded, d2s_prepare, d2s_run, free_state};
const struct sp_op sp_op_SpaceToDepth = {"SpaceToDepth", "", 1, 18, d2s_init_guarded, s2d_prepare, d2s_run, free_state};
