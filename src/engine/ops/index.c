/*
 * Index-driven data movement: GatherND, ScatterND, ScatterElements (and its
 * deprecated opset 9-10 name Scatter), OneHot, Trilu, CumSum, TopK, EyeLike.
 *
 * These ops take positions from tensor data, so every index is checked at run
 * against the dimension it addresses and a bad one is an error naming the node,
 * never a stray read or write. Negative indices count from the end, as ONNX
 * allows. Copies move whole elements by size, so the ops are dtype-generic
 * except where they compute (scatter reductions, CumSum, TopK's comparisons).
 * Nothing here allocates in run: TopK sorts in node scratch.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/attr.h"
#include "engine/op.h"
#include "engine/ops/datamove.h"
#include "engine/ops/ew_types.h"

/* ---- shared helpers -------------------------------------------------------------- */

static void idx_free(struct sp_node *n)
{
    free(n->state);
    n->state = NULL;
}

/* Checks input/output counts and attribute names and allocates the state;
 * frees it again on failure (the engine calls free only after a good init). */
static enum sp_status idx_init_common(struct sp_node *n, const char *const *known, int min_in, int max_in,
                                      int min_out, size_t state_size, struct sp_error *err)
{
    enum sp_status st = sp_attr_check_known(n, known, err);
    if (st)
        return st;
    if (n->n_inputs < min_in || n->n_inputs > max_in)
        return sp_node_error(n, err, SP_ERR_FORMAT, "expects %d to %d inputs, got %d", min_in, max_in, n->n_inputs);
    for (int i = 0; i < min_in; i++)
        if (!n->inputs[i])
            return sp_node_error(n, err, SP_ERR_FORMAT, "input %d is required but omitted", i);
    for (int i = 0; i < min_out; i++)
        if (i >= n->n_outputs || !n->outputs[i])
            return sp_node_error(n, err, SP_ERR_FORMAT, "output %d is required", i);
    n->state = calloc(1, state_size ? state_size : 1);
    if (!n->state)
        return sp_node_error(n, err, SP_ERR_NOMEM, "out of memory");
    return SP_OK;
}

#define GUARD(f)                                                                                              \
    static enum sp_status f(struct sp_node *n, struct sp_error *err)                                          \
    {                                                                                                         \
        enum sp_status st = f##_body(n, err);                                                                 \
        if (st)                                                                                               \
            idx_free(n);                                                                                      \
        return st;                                                                                            \
    }

static bool is_index_dtype(enum sp_dtype dt) { return dt == SP_DTYPE_INT64 || dt == SP_DTYPE_INT32; }

/* Element-copy dtypes: anything with a fixed size (not strings). */
static enum sp_status need_plain(const struct sp_node *n, const struct sp_tensor *t, const char *what,
                                 struct sp_error *err)
{
    if (t->dtype == SP_DTYPE_STRING || t->dtype == SP_DTYPE_UNDEFINED || sp_dtype_size(t->dtype) == 0)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "%s has dtype %s, not supported", what,
                             sp_dtype_name(t->dtype));
    return SP_OK;
}

/* Normalizes index v into [0, dim) or reports it. */
static enum sp_status fix_index(const struct sp_node *n, int64_t *v, int64_t dim, const char *what,
                                struct sp_error *err)
{
    int64_t x = *v < 0 ? *v + dim : *v;
    if (x < 0 || x >= dim)
        return sp_node_error(n, err, SP_ERR_MISMATCH, "%s index %lld is out of range for a dimension of %lld", what,
                             (long long)*v, (long long)dim);
    *v = x;
    return SP_OK;
}

/* ---- scatter reductions ----------------------------------------------------------- */

enum red_mode { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN };

static enum sp_status read_reduction(struct sp_node *n, enum red_mode *mode, struct sp_error *err)
{
    char buf[16];
    *mode = RED_NONE;
    if (n->opset < 16)
        return SP_OK;
    enum sp_status st = sp_attr_string(n, "reduction", "none", buf, sizeof buf, err);
    if (st)
        return st;
    if (strcmp(buf, "none") == 0)
        *mode = RED_NONE;
    else if (strcmp(buf, "add") == 0)
        *mode = RED_ADD;
    else if (strcmp(buf, "mul") == 0)
        *mode = RED_MUL;
    else if (strcmp(buf, "max") == 0 && n->opset >= 18)
        *mode = RED_MAX;
    else if (strcmp(buf, "min") == 0 && n->opset >= 18)
        *mode = RED_MIN;
    else
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "attribute 'reduction' \"%s\" is not supported at opset %lld",
                             buf, (long long)n->opset);
    return SP_OK;
}

/* dst[di] = dst[di] (op) src[si] for `count` elements of dtype dt. */
static void combine(enum red_mode mode, enum sp_dtype dt, void *dst, int64_t di, const void *src, int64_t si,
                    int64_t count)
{
    size_t es = sp_dtype_size(dt);
    if (mode == RED_NONE) {
        memcpy((char *)dst + di * (int64_t)es, (const char *)src + si * (int64_t)es, (size_t)count * es);
        return;
    }
    bool flt = sp_dtype_is_float(dt);
    for (int64_t k = 0; k < count; k++) {
        if (flt) {
            double a = sp_load_f64(dt, dst, di + k), b = sp_load_f64(dt, src, si + k), r;
            switch (mode) {
            case RED_ADD: r = a + b; break;
            case RED_MUL: r = a * b; break;
            case RED_MAX: r = a > b ? a : b; break;
            default: r = a < b ? a : b; break;
            }
            sp_store_f64(dt, dst, di + k, r);
        } else {
            int64_t a = sp_load_i64(dt, dst, di + k), b = sp_load_i64(dt, src, si + k), r;
            switch (mode) {
            case RED_ADD: r = (int64_t)((uint64_t)a + (uint64_t)b); break;
            case RED_MUL: r = (int64_t)((uint64_t)a * (uint64_t)b); break;
            case RED_MAX: r = a > b ? a : b; break;
            default: r = a < b ? a : b; break;
            }
            sp_store_i64(dt, dst, di + k, r);
        }
    }
}

static enum sp_status check_reduce_dtype(const struct sp_node *n, enum red_mode mode, enum sp_dtype dt,
                                         struct sp_error *err)
{
    if (mode == RED_NONE)
        return SP_OK;
    if (sp_dtype_is_float(dt) || (sp_dtype_is_int(dt) && dt != SP_DTYPE_UINT64))
        return SP_OK;
    return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "reduction on dtype %s is not supported", sp_dtype_name(dt));
}

/* ---- GatherND / ScatterND ------------------------------------------------------------ */

struct nd_state {
    bool scatter;
    int64_t batch_dims;
    enum red_mode mode;
    /* set by prepare */
    int64_t batches, tuples_per_batch, last, slice, data_batch_elems;
    int64_t dims[SP_MAX_DIMS]; /* data dims addressed by the tuple */
    int64_t strides[SP_MAX_DIMS];
};

static enum sp_status gnd_init_body(struct sp_node *n, struct sp_error *err)
{
    static const char *const known[] = {"batch_dims", NULL};
    enum sp_status st = idx_init_common(n, known, 2, 2, 1, sizeof(struct nd_state), err);
    if (st)
        return st;
    struct nd_state *s = n->state;
    if ((st = sp_attr_int(n, "batch_dims", 0, &s->batch_dims, err)))
        return st;
    if (s->batch_dims < 0)
        return sp_node_error(n, err, SP_ERR_FORMAT, "attribute 'batch_dims' must be >= 0");
    return SP_OK;
}
GUARD(gnd_init)

static enum sp_status snd_init_body(struct sp_node *n, struct sp_error *err)
{
    static const char *const known_old[] = {NULL};
    static const char *const known[] = {"reduction", NULL};
    enum sp_status st = idx_init_common(n, n->opset >= 16 ? known : known_old, 3, 3, 1, sizeof(struct nd_state), err);
    if (st)
        return st;
    struct nd_state *s = n->state;
    s->scatter = true;
    return read_reduction(n, &s->mode, err);
}
GUARD(snd_init)

static enum sp_status nd_prepare(struct sp_node *n, struct sp_error *err)
{
    struct nd_state *s = n->state;
    const struct sp_tensor *data = sp_node_in(n, 0), *ind = sp_node_in(n, 1);
    enum sp_status st = need_plain(n, data, "data", err);
    if (st)
        return st;
    if (ind->dtype != SP_DTYPE_INT64)
        return sp_node_error(n, err, SP_ERR_FORMAT, "indices must be int64, got %s", sp_dtype_name(ind->dtype));
    int r = data->ndim, q = ind->ndim, b = (int)s->batch_dims;
    char sa[96], sb[96];
    if (q < 1 || r < 1)
        return sp_node_error(n, err, SP_ERR_FORMAT, "data and indices must have rank >= 1");
    if (s->batch_dims >= q || s->batch_dims >= r)
        return sp_node_error(n, err, SP_ERR_FORMAT, "batch_dims %d must be below the ranks of data and indices", b);
    for (int d = 0; d < b; d++)
        if (data->dims[d] != ind->dims[d])
            return sp_node_error(n, err, SP_ERR_MISMATCH, "batch dimension %d differs: data %s, indices %s", d,
                                 sp_shape_str(r, data->dims, sa, sizeof sa), sp_shape_str(q, ind->dims, sb, sizeof sb));
    int64_t last = ind->dims[q - 1];
    if (last < 1 || last > r - b)
        return sp_node_error(n, err, SP_ERR_FORMAT, "indices' last dimension %lld must be in [1, %d]", (long long)last,
                             r - b);
    s->last = last;
    s->batches = sp_dm_prod(data->dims, 0, b);
    s->tuples_per_batch = sp_dm_prod(ind->dims, b, q - 1);
    s->slice = sp_dm_prod(data->dims, b + (int)last, r);
    s->data_batch_elems = sp_dm_prod(data->dims, b, r);
    for (int k = 0; k < last; k++) {
        s->dims[k] = data->dims[b + k];
        s->strides[k] = sp_dm_prod(data->dims, b + k + 1, r);
    }
    n->scratch_bytes = 0;
    if (s->scatter) {
        const struct sp_tensor *upd = sp_node_in(n, 2);
        if (upd->dtype != data->dtype)
            return sp_node_error(n, err, SP_ERR_FORMAT, "updates are %s but data is %s", sp_dtype_name(upd->dtype),
                                 sp_dtype_name(data->dtype));
        if ((st = check_reduce_dtype(n, s->mode, data->dtype, err)))
            return st;
        /* updates shape = indices.shape[:-1] + data.shape[last:] */
        bool ok = upd->ndim == q - 1 + r - (int)last;
        for (int d = 0; ok && d < q - 1; d++)
            ok = upd->dims[d] == ind->dims[d];
        for (int d = 0; ok && d < r - (int)last; d++)
            ok = upd->dims[q - 1 + d] == data->dims[last + d];
        if (!ok || b != 0)
            return sp_node_error(n, err, SP_ERR_MISMATCH, "updates shape %s does not fit indices %s and data %s",
                                 sp_shape_str(upd->ndim, upd->dims, sa, sizeof sa),
                                 sp_shape_str(q, ind->dims, sb, sizeof sb),
                                 sp_shape_str(r, data->dims, (char[96]){0}, 96));
        sp_node_set_out(n, 0, data->dtype, r, data->dims);
        return SP_OK;
    }
    int64_t od[SP_MAX_DIMS];
    int on = 0;
    for (int d = 0; d < q - 1; d++)
        od[on++] = ind->dims[d];
    for (int d = b + (int)last; d < r; d++) {
        if (on >= SP_MAX_DIMS)
            return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "output rank exceeds %d", SP_MAX_DIMS);
        od[on++] = data->dims[d];
    }
    sp_node_set_out(n, 0, data->dtype, on, od);
    return SP_OK;
}

static enum sp_status nd_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    (void)scratch;
    const struct nd_state *s = n->state;
    const struct sp_tensor *data = sp_node_in(n, 0), *ind = sp_node_in(n, 1);
    struct sp_tensor *out = sp_node_out(n, 0);
    const int64_t *ix = ind->data;
    size_t es = sp_dtype_size(data->dtype);
    if (s->scatter)
        memcpy(out->data, data->data, sp_tensor_nbytes(data));
    const void *upd = s->scatter ? sp_node_in(n, 2)->data : NULL;
    for (int64_t bt = 0; bt < s->batches; bt++)
        for (int64_t t = 0; t < s->tuples_per_batch; t++) {
            int64_t tuple = bt * s->tuples_per_batch + t, off = bt * s->data_batch_elems;
            for (int64_t k = 0; k < s->last; k++) {
                int64_t v = ix[tuple * s->last + k];
                enum sp_status st = fix_index(n, &v, s->dims[k], "indices", err);
                if (st)
                    return st;
                off += v * s->strides[k];
            }
            if (s->scatter)
                combine(s->mode, data->dtype, out->data, off, upd, tuple * s->slice, s->slice);
            else
                memcpy((char *)out->data + tuple * s->slice * (int64_t)es, (const char *)data->data + off * (int64_t)es,
                       (size_t)s->slice * es);
        }
    return SP_OK;
}

const struct sp_op sp_op_GatherND = {"GatherND", "", 11, 18, gnd_init, nd_prepare, nd_run, idx_free};
const struct sp_op sp_op_ScatterND = {"ScatterND", "", 11, 18, snd_init, nd_prepare, nd_run, idx_free};

/* ---- ScatterElements / Scatter ------------------------------------------------------- */

struct se_state {
    int64_t axis_attr;
    enum red_mode mode;
    int axis;
};

static enum sp_status se_init_body(struct sp_node *n, struct sp_error *err)
{
    static const char *const known_old[] = {"axis", NULL};
    static const char *const known[] = {"axis", "reduction", NULL};
    enum sp_status st = idx_init_common(n, n->opset >= 16 ? known : known_old, 3, 3, 1, sizeof(struct se_state), err);
    if (st)
        return st;
    struct se_state *s = n->state;
    if ((st = sp_attr_int(n, "axis", 0, &s->axis_attr, err)))
        return st;
    return read_reduction(n, &s->mode, err);
}
GUARD(se_init)

static enum sp_status se_prepare(struct sp_node *n, struct sp_error *err)
{
    struct se_state *s = n->state;
    const struct sp_tensor *data = sp_node_in(n, 0), *ind = sp_node_in(n, 1), *upd = sp_node_in(n, 2);
    enum sp_status st = need_plain(n, data, "data", err);
    if (st)
        return st;
    if (!is_index_dtype(ind->dtype))
        return sp_node_error(n, err, SP_ERR_FORMAT, "indices must be int32 or int64, got %s", sp_dtype_name(ind->dtype));
    if (upd->dtype != data->dtype)
        return sp_node_error(n, err, SP_ERR_FORMAT, "updates are %s but data is %s", sp_dtype_name(upd->dtype),
                             sp_dtype_name(data->dtype));
    if ((st = check_reduce_dtype(n, s->mode, data->dtype, err)))
        return st;
    char sa[96], sb[96];
    bool ok = ind->ndim == data->ndim && upd->ndim == data->ndim;
    for (int d = 0; ok && d < data->ndim; d++)
        ok = ind->dims[d] == upd->dims[d];
    if (!ok)
        return sp_node_error(n, err, SP_ERR_MISMATCH, "indices %s and updates %s must have data's rank and one shape",
                             sp_shape_str(ind->ndim, ind->dims, sa, sizeof sa),
                             sp_shape_str(upd->ndim, upd->dims, sb, sizeof sb));
    if ((st = sp_axis_normalize(n, s->axis_attr, data->ndim, &s->axis, err)))
        return st;
    n->scratch_bytes = 0;
    sp_node_set_out(n, 0, data->dtype, data->ndim, data->dims);
    return SP_OK;
}

static enum sp_status se_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    (void)scratch;
    const struct se_state *s = n->state;
    const struct sp_tensor *data = sp_node_in(n, 0), *ind = sp_node_in(n, 1), *upd = sp_node_in(n, 2);
    struct sp_tensor *out = sp_node_out(n, 0);
    memcpy(out->data, data->data, sp_tensor_nbytes(data));
    int r = data->ndim;
    int64_t dstride[SP_MAX_DIMS], acc = 1;
    for (int d = r - 1; d >= 0; d--) {
        dstride[d] = acc;
        acc *= data->dims[d];
    }
    int64_t numel = sp_tensor_numel(ind), idx[SP_MAX_DIMS] = {0};
    for (int64_t i = 0; i < numel; i++) {
        int64_t v = sp_load_i64(ind->dtype, ind->data, i);
        enum sp_status st = fix_index(n, &v, data->dims[s->axis], "indices", err);
        if (st)
            return st;
        int64_t off = 0;
        for (int d = 0; d < r; d++)
            off += (d == s->axis ? v : idx[d]) * dstride[d];
        combine(s->mode, data->dtype, out->data, off, upd->data, i, 1);
        for (int d = r - 1; d >= 0; d--) {
            if (++idx[d] < ind->dims[d])
                break;
            idx[d] = 0;
        }
    }
    return SP_OK;
}

const struct sp_op sp_op_ScatterElements = {"ScatterElements", "", 11, 18, se_init, se_prepare, se_run, idx_free};
/* Scatter (opsets 9-10) is ScatterElements under its old name. */
const struct sp_op sp_op_Scatter = {"Scatter", "", 9, 10, se_init, se_prepare, se_run, idx_free};

/* ---- OneHot --------------------------------------------------------------------------- */

struct oh_state {
    int64_t axis_attr;
    int axis;
    int64_t depth, outer, inner;
};

static enum sp_status oh_init_body(struct sp_node *n, struct sp_error *err)
{
    static const char *const known[] = {"axis", NULL};
    enum sp_status st = idx_init_common(n, known, 3, 3, 1, sizeof(struct oh_state), err);
    if (st)
        return st;
    return sp_attr_int(n, "axis", -1, &((struct oh_state *)n->state)->axis_attr, err);
}
GUARD(oh_init)

static enum sp_status oh_prepare(struct sp_node *n, struct sp_error *err)
{
    struct oh_state *s = n->state;
    const struct sp_tensor *ind = sp_node_in(n, 0), *depth = sp_node_in(n, 1), *vals = sp_node_in(n, 2);
    if (!sp_dtype_is_int(ind->dtype) && !sp_dtype_is_float(ind->dtype))
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "indices have dtype %s", sp_dtype_name(ind->dtype));
    if (!sp_node_in_is_const(n, 1) || !depth->data)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "depth must be a constant (it sets the output shape)");
    if (sp_tensor_numel(depth) != 1 || (!sp_dtype_is_int(depth->dtype) && !sp_dtype_is_float(depth->dtype)))
        return sp_node_error(n, err, SP_ERR_FORMAT, "depth must be one number");
    double dv = sp_load_f64(depth->dtype, depth->data, 0);
    if (!(dv >= 1 && dv < 1e12))
        return sp_node_error(n, err, SP_ERR_FORMAT, "depth must be >= 1, got %g", dv);
    s->depth = (int64_t)dv;
    if (sp_tensor_numel(vals) != 2)
        return sp_node_error(n, err, SP_ERR_FORMAT, "values must hold [off_value, on_value], got %lld values",
                             (long long)sp_tensor_numel(vals));
    enum sp_status st = need_plain(n, vals, "values", err);
    if (st)
        return st;
    if (ind->ndim + 1 > SP_MAX_DIMS)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "output rank exceeds %d", SP_MAX_DIMS);
    if ((st = sp_axis_normalize(n, s->axis_attr, ind->ndim + 1, &s->axis, err)))
        return st;
    int64_t od[SP_MAX_DIMS];
    for (int d = 0, k = 0; d <= ind->ndim; d++)
        od[d] = d == s->axis ? s->depth : ind->dims[k++];
    s->outer = sp_dm_prod(ind->dims, 0, s->axis);
    s->inner = sp_dm_prod(ind->dims, s->axis, ind->ndim);
    n->scratch_bytes = 0;
    sp_node_set_out(n, 0, vals->dtype, ind->ndim + 1, od);
    return SP_OK;
}

static enum sp_status oh_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    (void)scratch, (void)err;
    const struct oh_state *s = n->state;
    const struct sp_tensor *ind = sp_node_in(n, 0), *vals = sp_node_in(n, 2);
    struct sp_tensor *out = sp_node_out(n, 0);
    size_t es = sp_dtype_size(vals->dtype);
    const char *off = vals->data, *on = (const char *)vals->data + es;
    char *o = out->data;
    int64_t numel = sp_tensor_numel(out);
    for (int64_t i = 0; i < numel; i++)
        memcpy(o + i * (int64_t)es, off, es);
    /* Indices outside [-depth, depth) leave their row all off_value (ONNX). */
    for (int64_t a = 0; a < s->outer; a++)
        for (int64_t b = 0; b < s->inner; b++) {
            double v = sp_load_f64(ind->dtype, ind->data, a * s->inner + b);
            if (!(v >= (double)-s->depth && v < (double)s->depth))
                continue;
            int64_t k = (int64_t)v;
            if (k < 0)
                k += s->depth;
            memcpy(o + ((a * s->depth + k) * s->inner + b) * (int64_t)es, on, es);
        }
    return SP_OK;
}

const struct sp_op sp_op_OneHot = {"OneHot", "", 9, 18, oh_init, oh_prepare, oh_run, idx_free};

/* ---- Trilu ------------------------------------------------------------------------------ */

struct trilu_state {
    int64_t upper;
};

static enum sp_status trilu_init_body(struct sp_node *n, struct sp_error *err)
{
    static const char *const known[] = {"upper", NULL};
    enum sp_status st = idx_init_common(n, known, 1, 2, 1, sizeof(struct trilu_state), err);
    if (st)
        return st;
    return sp_attr_int(n, "upper", 1, &((struct trilu_state *)n->state)->upper, err);
}
GUARD(trilu_init)

static enum sp_status trilu_prepare(struct sp_node *n, struct sp_error *err)
{
    const struct sp_tensor *x = sp_node_in(n, 0), *k = sp_node_in(n, 1);
    enum sp_status st = need_plain(n, x, "input", err);
    if (st)
        return st;
    if (x->ndim < 2)
        return sp_node_error(n, err, SP_ERR_FORMAT, "input must have rank >= 2, got %d", x->ndim);
    if (k && (k->dtype != SP_DTYPE_INT64 || sp_tensor_numel(k) != 1))
        return sp_node_error(n, err, SP_ERR_FORMAT, "k must be one int64 value");
    n->scratch_bytes = 0;
    sp_node_set_out(n, 0, x->dtype, x->ndim, x->dims);
    return SP_OK;
}

static enum sp_status trilu_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    (void)scratch, (void)err;
    const struct trilu_state *s = n->state;
    const struct sp_tensor *x = sp_node_in(n, 0), *kt = sp_node_in(n, 1);
    struct sp_tensor *out = sp_node_out(n, 0);
    int64_t k = kt ? ((const int64_t *)kt->data)[0] : 0;
    /* Beyond these bounds every k keeps all or nothing: clamping keeps i + k from overflowing. */
    int64_t kmin = -x->dims[x->ndim - 2] - 1, kmax = x->dims[x->ndim - 1] + 1;
    k = k < kmin ? kmin : k > kmax ? kmax : k;
    int64_t rows = x->dims[x->ndim - 2], cols = x->dims[x->ndim - 1], mats = sp_dm_prod(x->dims, 0, x->ndim - 2);
    size_t es = sp_dtype_size(x->dtype);
    memset(out->data, 0, sp_tensor_nbytes(out));
    for (int64_t m = 0; m < mats; m++)
        for (int64_t i = 0; i < rows; i++) {
            /* Kept columns: j >= i + k (upper) or j <= i + k (lower); clamp in int64 before narrowing. */
            int64_t lo = s->upper ? i + k : 0, hi = s->upper ? cols : i + k + 1;
            lo = lo < 0 ? 0 : lo > cols ? cols : lo;
            hi = hi < 0 ? 0 : hi > cols ? cols : hi;
            if (hi > lo) {
                int64_t off = (m * rows + i) * cols + lo;
                memcpy((char *)out->data + off * (int64_t)es, (const char *)x->data + off * (int64_t)es,
                       (size_t)(hi - lo) * es);
            }
        }
    return SP_OK;
}

const struct sp_op sp_op_Trilu = {"Trilu", "", 14, 18, trilu_init, trilu_prepare, trilu_run, idx_free};

/* ---- CumSum ---------------------------------------------------------------------------- */

struct cs_state {
    int64_t exclusive, reverse;
};

static enum sp_status cs_init_body(struct sp_node *n, struct sp_error *err)
{
    static const char *const known[] = {"exclusive", "reverse", NULL};
    enum sp_status st = idx_init_common(n, known, 2, 2, 1, sizeof(struct cs_state), err);
    if (st)
        return st;
    struct cs_state *s = n->state;
    if ((st = sp_attr_int(n, "exclusive", 0, &s->exclusive, err)) || (st = sp_attr_int(n, "reverse", 0, &s->reverse, err)))
        return st;
    return SP_OK;
}
GUARD(cs_init)

static bool cs_dtype_ok(enum sp_dtype dt)
{
    return dt == SP_DTYPE_FLOAT || dt == SP_DTYPE_DOUBLE || dt == SP_DTYPE_INT32 || dt == SP_DTYPE_INT64 ||
           dt == SP_DTYPE_UINT32 || dt == SP_DTYPE_UINT64;
}

static enum sp_status cs_prepare(struct sp_node *n, struct sp_error *err)
{
    const struct sp_tensor *x = sp_node_in(n, 0), *ax = sp_node_in(n, 1);
    if (!cs_dtype_ok(x->dtype))
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "x has dtype %s, not supported", sp_dtype_name(x->dtype));
    if (!is_index_dtype(ax->dtype) || sp_tensor_numel(ax) != 1)
        return sp_node_error(n, err, SP_ERR_FORMAT, "axis must be one int32 or int64 value");
    if (x->ndim < 1)
        return sp_node_error(n, err, SP_ERR_FORMAT, "x must have rank >= 1");
    if (sp_node_in_is_const(n, 1) && ax->data) {
        int a;
        enum sp_status st = sp_axis_normalize(n, sp_load_i64(ax->dtype, ax->data, 0), x->ndim, &a, err);
        if (st)
            return st;
    }
    n->scratch_bytes = 0;
    sp_node_set_out(n, 0, x->dtype, x->ndim, x->dims);
    return SP_OK;
}

#define CS_KERNEL(T, S)                                                                                       \
    static void cs_##S(T *y, const T *x, int64_t outer, int64_t len, int64_t inner, bool excl, bool rev)      \
    {                                                                                                         \
        for (int64_t o = 0; o < outer; o++)                                                                   \
            for (int64_t j = 0; j < inner; j++) {                                                             \
                const T *xr = x + o * len * inner + j;                                                        \
                T *yr = y + o * len * inner + j;                                                              \
                T acc = 0;                                                                                    \
                for (int64_t t = 0; t < len; t++) {                                                           \
                    int64_t i = (rev ? len - 1 - t : t) * inner;                                              \
                    if (excl) {                                                                               \
                        yr[i] = acc;                                                                          \
                        acc = (T)(acc + xr[i]);                                                               \
                    } else {                                                                                  \
                        acc = (T)(acc + xr[i]);                                                               \
                        yr[i] = acc;                                                                          \
                    }                                                                                         \
                }                                                                                             \
            }                                                                                                 \
    }
CS_KERNEL(float, f32)
CS_KERNEL(double, f64)
CS_KERNEL(uint32_t, u32)
CS_KERNEL(uint64_t, u64)

static enum sp_status cs_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    (void)scratch;
    const struct cs_state *s = n->state;
    const struct sp_tensor *x = sp_node_in(n, 0), *ax = sp_node_in(n, 1);
    struct sp_tensor *y = sp_node_out(n, 0);
    int a;
    enum sp_status st = sp_axis_normalize(n, sp_load_i64(ax->dtype, ax->data, 0), x->ndim, &a, err);
    if (st)
        return st;
    int64_t outer = sp_dm_prod(x->dims, 0, a), len = x->dims[a], inner = sp_dm_prod(x->dims, a + 1, x->ndim);
    bool e = s->exclusive != 0, r = s->reverse != 0;
    switch (x->dtype) {
    case SP_DTYPE_FLOAT: cs_f32(y->data, x->data, outer, len, inner, e, r); break;
    case SP_DTYPE_DOUBLE: cs_f64(y->data, x->data, outer, len, inner, e, r); break;
    /* Signed sums wrap like two's complement: add as unsigned. */
    case SP_DTYPE_INT32: case SP_DTYPE_UINT32: cs_u32(y->data, x->data, outer, len, inner, e, r); break;
    default: cs_u64(y->data, x->data, outer, len, inner, e, r); break;
    }
    return SP_OK;
}

const struct sp_op sp_op_CumSum = {"CumSum", "", 11, 18, cs_init, cs_prepare, cs_run, idx_free};

/* ---- TopK ------------------------------------------------------------------------------ */

struct topk_state {
    int64_t axis_attr, largest, sorted, k_attr;
    int axis;
    int64_t k, outer, len, inner;
};

static enum sp_status topk_init_body(struct sp_node *n, struct sp_error *err)
{
    static const char *const known1[] = {"axis", "k", NULL};
    static const char *const known10[] = {"axis", NULL};
    static const char *const known11[] = {"axis", "largest", "sorted", NULL};
    const char *const *known = n->opset < 10 ? known1 : n->opset < 11 ? known10 : known11;
    enum sp_status st = idx_init_common(n, known, n->opset < 10 ? 1 : 2, n->opset < 10 ? 1 : 2, 2,
                                        sizeof(struct topk_state), err);
    if (st)
        return st;
    struct topk_state *s = n->state;
    if ((st = sp_attr_int(n, "axis", -1, &s->axis_attr, err)) || (st = sp_attr_int(n, "largest", 1, &s->largest, err)) ||
        (st = sp_attr_int(n, "sorted", 1, &s->sorted, err)))
        return st;
    if (n->opset < 10) {
        if (!sp_attr_find(n, "k"))
            return sp_node_error(n, err, SP_ERR_FORMAT, "attribute 'k' is required before opset 10");
        if ((st = sp_attr_int(n, "k", 0, &s->k_attr, err)))
            return st;
    }
    return SP_OK;
}
GUARD(topk_init)

static bool topk_dtype_ok(enum sp_dtype dt) { return sp_dtype_is_float(dt) || sp_dtype_is_int(dt); }

static enum sp_status topk_prepare(struct sp_node *n, struct sp_error *err)
{
    struct topk_state *s = n->state;
    const struct sp_tensor *x = sp_node_in(n, 0);
    if (!topk_dtype_ok(x->dtype))
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "X has dtype %s, not supported", sp_dtype_name(x->dtype));
    if (x->ndim < 1)
        return sp_node_error(n, err, SP_ERR_FORMAT, "X must have rank >= 1");
    enum sp_status st = sp_axis_normalize(n, s->axis_attr, x->ndim, &s->axis, err);
    if (st)
        return st;
    int64_t k = s->k_attr;
    if (n->opset >= 10) {
        const struct sp_tensor *kt = sp_node_in(n, 1);
        if (!sp_node_in_is_const(n, 1) || !kt->data)
            return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "K must be a constant (it sets the output shape)");
        if (kt->dtype != SP_DTYPE_INT64 || sp_tensor_numel(kt) != 1)
            return sp_node_error(n, err, SP_ERR_FORMAT, "K must be one int64 value");
        k = ((const int64_t *)kt->data)[0];
    }
    s->len = x->dims[s->axis];
    if (k < 0 || k > s->len)
        return sp_node_error(n, err, SP_ERR_FORMAT, "K = %lld is outside [0, %lld] (axis %d)", (long long)k,
                             (long long)s->len, s->axis);
    s->k = k;
    s->outer = sp_dm_prod(x->dims, 0, s->axis);
    s->inner = sp_dm_prod(x->dims, s->axis + 1, x->ndim);
    int64_t od[SP_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++)
        od[d] = d == s->axis ? k : x->dims[d];
    sp_node_set_out(n, 0, x->dtype, x->ndim, od);
    sp_node_set_out(n, 1, SP_DTYPE_INT64, x->ndim, od);
    /* Merge sort of indices: the permutation and a buffer of the same size. */
    n->scratch_bytes = 2 * (size_t)s->len * sizeof(int64_t);
    return SP_OK;
}

/* True if element a must come before element b: the better value first (NaN
 * counts as the largest, like numpy's sort puts it last), then lower index. */
static inline bool topk_before(enum sp_dtype dt, const void *x, int64_t stride, int64_t base, int64_t a, int64_t b,
                               bool largest)
{
    if (sp_dtype_is_float(dt)) {
        double va = sp_load_f64(dt, x, base + a * stride), vb = sp_load_f64(dt, x, base + b * stride);
        bool na = va != va, nb = vb != vb;
        if (na || nb) {
            if (na && nb)
                return a < b;
            return largest ? na : nb;
        }
        if (va != vb)
            return largest ? va > vb : va < vb;
        return a < b;
    }
    if (dt == SP_DTYPE_UINT64) {
        uint64_t va = ((const uint64_t *)x)[base + a * stride], vb = ((const uint64_t *)x)[base + b * stride];
        if (va != vb)
            return largest ? va > vb : va < vb;
        return a < b;
    }
    int64_t va = sp_load_i64(dt, x, base + a * stride), vb = sp_load_i64(dt, x, base + b * stride);
    if (va != vb)
        return largest ? va > vb : va < vb;
    return a < b;
}

static enum sp_status topk_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    (void)err;
    const struct topk_state *s = n->state;
    const struct sp_tensor *x = sp_node_in(n, 0);
    struct sp_tensor *vo = sp_node_out(n, 0), *io = sp_node_out(n, 1);
    int64_t *perm = scratch, *tmp = perm + s->len;
    size_t es = sp_dtype_size(x->dtype);
    bool largest = s->largest != 0;
    if (s->k == 0)
        return SP_OK;
    for (int64_t o = 0; o < s->outer; o++)
        for (int64_t j = 0; j < s->inner; j++) {
            int64_t base = o * s->len * s->inner + j;
            for (int64_t i = 0; i < s->len; i++)
                perm[i] = i;
            /* Bottom-up merge sort: O(len log len), ties already in index order. */
            int64_t *src = perm, *dst = tmp;
            for (int64_t w = 1; w < s->len; w *= 2) {
                for (int64_t lo = 0; lo < s->len; lo += 2 * w) {
                    int64_t mid = lo + w < s->len ? lo + w : s->len, hi = lo + 2 * w < s->len ? lo + 2 * w : s->len;
                    int64_t a = lo, b = mid, t = lo;
                    while (a < mid && b < hi)
                        dst[t++] = topk_before(x->dtype, x->data, s->inner, base, src[b], src[a], largest) ? src[b++]
                                                                                                          : src[a++];
                    while (a < mid)
                        dst[t++] = src[a++];
                    while (b < hi)
                        dst[t++] = src[b++];
                }
                int64_t *sw = src;
                src = dst;
                dst = sw;
            }
            int64_t obase = o * s->k * s->inner + j;
            for (int64_t t = 0; t < s->k; t++) {
                int64_t oi = obase + t * s->inner;
                memcpy((char *)vo->data + oi * (int64_t)es, (const char *)x->data + (base + src[t] * s->inner) * (int64_t)es,
                       es);
                if (io)
                    ((int64_t *)io->data)[oi] = src[t];
            }
        }
    return SP_OK;
}

const struct sp_op sp_op_TopK = {"TopK", "", 1, 18, topk_init, topk_prepare, topk_run, idx_free};

/* ---- EyeLike ---------------------------------------------------------------------------- */

struct eye_state {
    int64_t k, dtype;
    bool has_dtype;
};

static enum sp_status eye_init_body(struct sp_node *n, struct sp_error *err)
{
    static const char *const known[] = {"dtype", "k", NULL};
    enum sp_status st = idx_init_common(n, known, 1, 1, 1, sizeof(struct eye_state), err);
    if (st)
        return st;
    struct eye_state *s = n->state;
    s->has_dtype = sp_attr_find(n, "dtype") != NULL;
    if ((st = sp_attr_int(n, "k", 0, &s->k, err)) || (st = sp_attr_int(n, "dtype", 0, &s->dtype, err)))
        return st;
    return SP_OK;
}
GUARD(eye_init)

static enum sp_status eye_prepare(struct sp_node *n, struct sp_error *err)
{
    const struct eye_state *s = n->state;
    const struct sp_tensor *x = sp_node_in(n, 0);
    if (x->ndim != 2)
        return sp_node_error(n, err, SP_ERR_FORMAT, "input must be 2-D, got rank %d", x->ndim);
    enum sp_dtype dt = s->has_dtype ? (enum sp_dtype)s->dtype : x->dtype;
    if (s->has_dtype && (s->dtype <= 0 || s->dtype >= SP_DT_TABLE_SIZE))
        return sp_node_error(n, err, SP_ERR_FORMAT, "attribute 'dtype' %lld is not a tensor type", (long long)s->dtype);
    if (!sp_dtype_is_float(dt) && !sp_dtype_is_int(dt) && dt != SP_DTYPE_BOOL)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "output dtype %s is not supported", sp_dtype_name(dt));
    n->scratch_bytes = 0;
    sp_node_set_out(n, 0, dt, 2, x->dims);
    return SP_OK;
}

static enum sp_status eye_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    (void)scratch, (void)err;
    const struct eye_state *s = n->state;
    struct sp_tensor *y = sp_node_out(n, 0);
    int64_t rows = y->dims[0], cols = y->dims[1];
    memset(y->data, 0, sp_tensor_nbytes(y));
    for (int64_t i = 0; i < rows; i++) {
        if (s->k > cols || s->k < -rows)
            break;
        int64_t j = i + s->k;
        if (j >= 0 && j < cols)
            sp_store_i64(y->dtype, y->data, i * cols + j, 1);
    }
    return SP_OK;
}

const struct sp_op sp_op_EyeLike = {"EyeLike", "", 9, 18, eye_init, eye_prepare, eye_run, idx_free};
